"""The charts' PNG files (``style.save``): the pixels matplotlib's ``savefig`` draws at ``DPI``, written as RGB
when every pixel is opaque (RGBA otherwise), with the resolution recorded and no text chunks (no timestamp or
version: the same run gives the same bytes)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import PIL.Image

from dsim.reports.style import DPI, PNG_METADATA, figure, save


def _draw(ax: object) -> None:
    ax.plot([0, 1, 2], [0, 1, 0], label="a line")  # type: ignore[attr-defined]
    ax.set_title("a title")  # type: ignore[attr-defined]
    ax.legend()  # type: ignore[attr-defined]


def _pixels(path: Path) -> np.ndarray:
    with PIL.Image.open(path) as image:
        return np.asarray(image.convert("RGBA"))


def test_an_opaque_chart_is_rgb_with_savefigs_pixels(tmp_path: Path) -> None:
    with figure(4, 3) as (fig, ax):
        _draw(ax)
        save(fig, tmp_path / "ours.png")
        fig.savefig(tmp_path / "savefig.png", dpi=DPI, metadata=PNG_METADATA)  # laid out already by save
        assert fig.dpi == 100  # rc's figure.dpi, given back after drawing at DPI
    with PIL.Image.open(tmp_path / "ours.png") as image:
        assert image.mode == "RGB"
        assert image.size == (4 * DPI, 3 * DPI)
        assert np.allclose(image.info["dpi"], (DPI, DPI), atol=1e-3)  # PNG keeps pixels per metre
        assert not getattr(image, "text", {})  # no Software, no date
    assert np.array_equal(_pixels(tmp_path / "ours.png"), _pixels(tmp_path / "savefig.png"))


def test_a_see_through_figure_keeps_its_alpha(tmp_path: Path) -> None:
    with figure(2, 2) as (fig, ax):
        fig.patch.set_alpha(0.0)
        ax.patch.set_alpha(0.0)
        _draw(ax)
        save(fig, tmp_path / "clear.png")
        fig.savefig(tmp_path / "savefig.png", dpi=DPI, metadata=PNG_METADATA)
    with PIL.Image.open(tmp_path / "clear.png") as image:
        assert image.mode == "RGBA"
    assert np.array_equal(_pixels(tmp_path / "clear.png"), _pixels(tmp_path / "savefig.png"))


def test_the_same_chart_gives_the_same_bytes(tmp_path: Path) -> None:
    for name in ("one.png", "two.png"):
        with figure(3, 2) as (fig, ax):
            _draw(ax)
            save(fig, tmp_path / name)
    assert (tmp_path / "one.png").read_bytes() == (tmp_path / "two.png").read_bytes()
