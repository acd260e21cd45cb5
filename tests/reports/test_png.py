"""dsim.reports.png: charts encoded without PIL decode to exactly the pixels matplotlib's own PNG has."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pytest
from PIL import Image

from dsim.reports.png import SIGNATURE, png_bytes
from dsim.reports.style import DPI, figure, save


def _decoded(data: bytes) -> tuple[str, np.ndarray, dict[Any, Any]]:
    image = Image.open(io.BytesIO(data))
    image.load()  # PIL checks every chunk's CRC and the zlib stream
    return image.mode, np.asarray(image), image.info


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:8] == SIGNATURE
    chunks, at = [], 8
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        body = data[at + 8:at + 8 + length]
        assert struct.unpack(">I", data[at + 8 + length:at + 12 + length])[0] == zlib.crc32(kind + body)
        chunks.append((kind, body))
        at += 12 + length
    return chunks


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (9, 1), (3, 5), (64, 129)])
def test_random_pixels_round_trip(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(sum(shape))
    rgba = rng.integers(0, 256, size=(*shape, 4), dtype=np.uint8)  # every byte value, alpha included
    mode, pixels, info = _decoded(png_bytes(rgba, 100))
    assert mode == "RGBA" and pixels.shape == rgba.shape and np.array_equal(pixels, rgba)
    assert info["dpi"] == pytest.approx((100, 100), abs=0.01)


def test_chunks_are_those_pil_wrote() -> None:
    """IHDR, pHYs, IDAT, IEND, and no text chunk (no timestamp or version in the files)."""
    rgba = np.zeros((2, 3, 4), dtype=np.uint8)
    chunks = _chunks(png_bytes(rgba, DPI))
    assert [kind for kind, _ in chunks] == [b"IHDR", b"pHYs", b"IDAT", b"IEND"]
    assert chunks[0][1] == struct.pack(">IIBBBBB", 3, 2, 8, 6, 0, 0, 0)
    assert chunks[1][1] == struct.pack(">IIB", 3937, 3937, 1)  # PIL's int(100 / 0.0254 + 0.5)


def test_a_view_of_other_memory_is_encoded_as_its_pixels() -> None:
    rgba = np.arange(6 * 8 * 4, dtype=np.uint8).reshape(6, 8, 4)[::2, 1::2]  # not contiguous
    assert np.array_equal(_decoded(png_bytes(rgba, 72))[1], rgba)


@pytest.mark.parametrize("bad", [np.zeros((2, 2, 3), np.uint8), np.zeros((2, 2), np.uint8),
                                 np.zeros((2, 2, 4), np.float32)])
def test_anything_but_rgba_bytes_is_refused(bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match="RGBA"):
        png_bytes(bad, 100)


def _draw(left: Any, right: Any) -> None:
    """What charts draw: text, lines, translucent fills, markers, hatched bars, a legend."""
    x = np.linspace(0, 10, 200)
    left.plot(x, np.sin(x), label="sin")
    left.fill_between(x, 0, np.cos(x), alpha=0.3, label="cos")
    left.scatter(x[::20], np.sin(x[::20]), marker="x")
    left.legend()
    left.set_title("a title, bold")
    right.bar(["a", "b", "c"], [3, 1, 2], hatch="//")
    right.set_xlabel("simulated time (s)")


@pytest.mark.parametrize("figure_dpi", [None, 72.0])
def test_save_writes_the_pixels_matplotlib_writes(tmp_path: Path, figure_dpi: float | None) -> None:
    """``style.save`` against matplotlib's own PNG of the same figure (PIL's encoding), also when the
    figure's own dpi is not the files' (a user's matplotlibrc)."""
    reference = io.BytesIO()
    with matplotlib.rc_context({"figure.dpi": figure_dpi} if figure_dpi else {}), \
            figure(6.5, 3.2, 1, 2) as (fig, (left, right)):
        _draw(left, right)
        ours = save(fig, tmp_path / "chart.png").read_bytes()
        fig.savefig(reference, format="png", dpi=DPI, metadata={"Software": None})
    mode, pixels, info = _decoded(ours)
    reference_mode, reference_pixels, reference_info = _decoded(reference.getvalue())
    assert (mode, info.get("dpi")) == (reference_mode, reference_info.get("dpi"))
    assert pixels.shape == (320, 650, 4) and np.array_equal(pixels, reference_pixels)
    assert ours != reference.getvalue()  # encoded here, not by PIL
