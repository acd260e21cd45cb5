"""Decimal texts of many numbers at once, made with NumPy: the writers print every span's two times
(spans.csv's ``start_s`` and ``end_s`` with ``.6f``, trace.json's ``"ts"`` and ``"dur"``), and a Python format
call per number (``f"{x:.6f}"`` about 0.6 us) was the largest part of writing a row.

A number is given as a non-negative integer count of its last decimal place (``units``: 1234567 with 3
places is ``1234.567``). Its digits are found for all numbers at once by integer division, written right
to left into a matrix of UCS-4 code points (one row per number: spaces before the integer part, NUL after a
trimmed fraction), and read back as Python strings: NumPy's ``U`` strings end at the first trailing NUL, and
``str.lstrip`` drops the spaces. Callers decide which numbers' integer counts give the text Python would
print (``spans_csv.fixed6_texts``, ``trace_text.timing_texts``) and print the others themselves.
"""

from __future__ import annotations

import numpy as np

_SPACE, _POINT, _ZERO = 32, 46, 48


def decimal_texts(units: np.ndarray, places: int, *, trim: bool) -> list[str]:
    """``units / 10**places`` of each (a non-negative int64) as decimal text: the integer part without
    leading zeros (``0`` when it is zero), a point and ``places`` digits; with ``trim`` the fraction's
    trailing zeros dropped but its first digit (``repr``'s ``1.5`` and ``2.0``), without it every place kept
    (``f"{x:.6f}"``'s ``2.500000``)."""
    units = np.asarray(units, dtype=np.int64)
    if not len(units):
        return []
    width = len(str(int(units.max()) // 10**places)) + 1 + places
    codes = np.empty((len(units), width), dtype=np.uint32)
    rest = units
    point = width - 1 - places
    trailing = np.ones(len(units), dtype=bool)  # only zeros so far, from the right
    for column in range(width - 1, point, -1):
        rest, digit = np.divmod(rest, 10)
        if trim and column > point + 1:
            trailing &= digit == 0
            codes[:, column] = np.where(trailing, 0, digit + _ZERO)
        else:
            codes[:, column] = digit + _ZERO
    codes[:, point] = _POINT
    rest, digit = np.divmod(rest, 10)
    codes[:, point - 1] = digit + _ZERO  # the units digit, 0 included
    for column in range(point - 2, -1, -1):
        blank = rest == 0
        rest, digit = np.divmod(rest, 10)
        codes[:, column] = np.where(blank, _SPACE, digit + _ZERO)
    return list(map(str.lstrip, codes.view(f"U{width}").ravel().tolist()))
