"""PNG files of drawn figures, encoded here rather than by PIL through matplotlib: the same pixels, in about a
third of the CPU time.

PIL picks a filter for every row by trying all five of PNG's (libpng's heuristic) and deflates at zlib's level
6: about 0.2-0.3 s of a big run's dozen charts. A chart is mostly runs of one colour and repeated rows, which
deflate finds without a filter, so here every row is stored unfiltered (filter type 0) and deflated at
``LEVEL``: the files decode to the same RGBA array, and are smaller than PIL's.
"""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: zlib's compression level for the image data. On the example scenarios' 270 charts (docs/performance.md,
#: session 28): level 4, the first with lazy matching, makes files 12% smaller than PIL's in about a third of
#: PIL's time; levels 1-3 take about half the time of 4 and make files 10-15% larger than PIL's; level 6 takes
#: 6-28% longer than 4 for files 2% smaller.
LEVEL = 4
_INCH_M = 0.0254
_COLOUR_RGBA, _BIT_DEPTH, _PER_METRE = 6, 8, 1


def png_bytes(rgba: np.ndarray, dpi: float) -> bytes:
    """An RGBA image (height x width x 4, uint8) as a PNG file: IHDR, pHYs (``dpi`` as PIL writes it, so the
    file says the same physical size as before), one IDAT of unfiltered rows, IEND."""
    if rgba.ndim != 3 or rgba.shape[2] != 4 or rgba.dtype != np.uint8:
        raise ValueError(f"expected height x width x 4 bytes of RGBA, got {rgba.dtype} {rgba.shape}")
    height, width = rgba.shape[:2]
    rows = np.zeros((height, 1 + width * 4), dtype=np.uint8)  # each row: its filter type (0, none), then pixels
    rows[:, 1:] = rgba.reshape(height, width * 4)
    per_metre = int(dpi / _INCH_M + 0.5)
    return b"".join([SIGNATURE,
                     _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, _BIT_DEPTH, _COLOUR_RGBA, 0, 0, 0)),
                     _chunk(b"pHYs", struct.pack(">IIB", per_metre, per_metre, _PER_METRE)),
                     _chunk(b"IDAT", zlib.compress(rows.data, LEVEL)),
                     _chunk(b"IEND", b"")])


def _chunk(kind: bytes, data: bytes) -> bytes:
    """A PNG chunk: length, type, data, CRC-32 of type and data."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


class RawPixels(io.BytesIO):
    """A file for ``savefig(..., format="raw")``: keeps the canvas's RGBA buffer that matplotlib writes to it
    (a height x width x 4 memoryview) as an array, shape included, without a copy."""

    rgba: np.ndarray | None = None

    def write(self, data: Any) -> int:
        self.rgba = np.asarray(data)
        return int(self.rgba.nbytes)
