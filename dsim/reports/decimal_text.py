"""Decimal texts of many numbers at once, made with NumPy: the writers print every span's two times
(spans.csv's ``start_s`` and ``end_s`` with ``.6f``, trace.json's ``"ts"`` and ``"dur"``), and a Python format
call per number (``f"{x:.6f}"`` about 0.6 us) was the largest part of writing a row.

A number is given as a non-negative integer count of its last decimal place (``units``: 1234567 with 3
places is ``1234.567``). Its digits are found for all numbers at once by integer division, written right
to left into a matrix of bytes (``decimal_field``: one row per number, NUL where no digit is printed: before
the integer part, after a trimmed fraction). ``joined_texts`` puts such fields and constant texts side by
side, a line break after each row, drops every NUL in one pass and splits the bytes into Python strings: a
number costs no Python step, and a row of several (trace.json's ``"ts":...,"dur":...``) is one string.
Callers decide which numbers' integer counts give the text Python would print (``spans_csv.fixed6_texts``,
``trace_text.timing_texts``) and print the others themselves.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_POINT, _ZERO, _LINE = 46, 48, 10

#: Below this many millionths every double's ``rint(x * 1e6)`` is an exact integer, and doubles are less than
#: a millionth apart (below 2**32).
_EXACT_MILLIONTHS = 2.0**52


def decimal_texts(units: np.ndarray, places: int, *, trim: bool) -> list[str]:
    """``units / 10**places`` of each (a non-negative int64) as decimal text: the integer part without
    leading zeros (``0`` when it is zero), a point and ``places`` digits; with ``trim`` the fraction's
    trailing zeros dropped but its first digit (``repr``'s ``1.5`` and ``2.0``), without it every place kept
    (``f"{x:.6f}"``'s ``2.500000``)."""
    units = np.asarray(units, dtype=np.int64)
    return joined_texts([decimal_field(units, places, trim=trim)], len(units))


def decimal_field(units: np.ndarray, places: int, *, trim: bool) -> np.ndarray:
    """``decimal_texts`` as a matrix of ASCII bytes, one row per number, NUL where nothing is printed."""
    units = np.asarray(units, dtype=np.int64)
    if not len(units):
        return np.zeros((0, 0), dtype=np.uint8)
    width = len(str(int(units.max()) // 10**places)) + 1 + places
    codes = np.empty((len(units), width), dtype=np.uint8)
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
        codes[:, column] = np.where(blank, 0, digit + _ZERO)
    return codes


def joined_texts(parts: Sequence[np.ndarray | str], rows: int) -> list[str]:
    """Row ``i`` of each part, one after the other, as a string per row: a part is a field (a matrix of
    ASCII bytes with ``rows`` rows, NUL where nothing is printed) or a text on every row (ASCII, without
    line breaks or NUL)."""
    if not rows:
        return []
    fields = [np.broadcast_to(np.frombuffer(part.encode("ascii"), dtype=np.uint8), (rows, len(part)))
              if isinstance(part, str) else part for part in parts]
    flat = np.concatenate([*fields, np.full((rows, 1), _LINE, dtype=np.uint8)], axis=1).ravel()
    data: bytes = flat[flat != 0].tobytes()
    return data.decode("ascii").split("\n")[:-1]


def millionths(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each value's count of millionths as ``f"{x:.6f}"`` (and ``round(x, 6)``) rounds it (the exact binary
    value, half to even) and whether that count is right. Where ``x * 1e6`` (rounded once, so within
    ``|x * 1e6| * 2**-53`` of the exact product) is farther than that from a half, ``rint`` of it is the
    correctly rounded count; the others (near a tie, negative or -0.0, too big, not finite) are for Python to
    print (count 0 here)."""
    scaled = values * 1e6
    whole = np.rint(scaled)
    with np.errstate(invalid="ignore"):
        exact = ((scaled < _EXACT_MILLIONTHS) & (values >= 0.0) & ~np.signbit(values)
                 & (np.abs(np.abs(scaled - whole) - 0.5) > scaled * 2.0**-50 + 1e-300))
    return np.where(exact, whole, 0.0).astype(np.int64), exact


def repr_texts(values: np.ndarray) -> list[str]:
    """``repr`` of each double (what ``json.dumps`` writes for a finite one): ``_millionth_texts`` for those
    that are the double nearest their count of millionths (``round(x, 6)`` gives them back: a recorded time)."""
    return _millionth_texts(values, rounded=False)


def round6_texts(values: np.ndarray) -> list[str]:
    """``repr(round(x, 6))`` of each double (a time as the records round it, as JSON): ``_millionth_texts``."""
    return _millionth_texts(values, rounded=True)


def _millionth_texts(values: np.ndarray, *, rounded: bool) -> list[str]:
    """Printed from the count k of millionths where that is ``repr``'s text: the double nearest k millionths
    (``round(x, 6)``; with ``rounded`` False only a double that is it) is written as k's digits, trimmed, since
    below 2**32 doubles are less than a millionth apart, so no shorter decimal names it; Python prints the
    others, and those below 1e-4 (``repr`` writes ``5e-05``)."""
    values = np.asarray(values, dtype=np.float64)
    units, exact = millionths(values)
    with np.errstate(invalid="ignore"):
        fast = exact & ((units >= 100) | (units == 0))
        if not rounded:
            fast &= units / 1e6 == values
    texts = joined_texts([decimal_field(np.where(fast, units, 0), 6, trim=True)], len(values))
    for i in np.flatnonzero(~fast).tolist():
        value = float(values[i])
        texts[i] = repr(round(value, 6) if rounded else value)
    return texts
