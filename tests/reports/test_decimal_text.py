"""Times printed by NumPy (dsim/reports/decimal_text.py) are the texts Python's own formatting writes."""

from __future__ import annotations

import gc
import random

import numpy as np

from dsim.gc_tuning import fewer_gc_passes, freeze_survivors
from dsim.reports.decimal_text import decimal_field, decimal_texts, joined_texts
from dsim.reports.spans_csv import fixed6_rows, fixed6_texts
from dsim.reports.trace_text import timing_texts


def test_decimal_texts_by_hand() -> None:
    # 1500 thousandths = 1.5 (trailing zeros trimmed as repr trims them, one kept: 0.0, 7.0); 123456789
    # thousandths = 123456.789; untrimmed, 2500000 millionths = 2.500000 and 7 millionths = 0.000007
    assert decimal_texts(np.array([0, 1, 1500, 7000, 123456789]), 3, trim=True) == [
        "0.0", "0.001", "1.5", "7.0", "123456.789"]
    assert decimal_texts(np.array([0, 2500000, 7, 10**12]), 6, trim=False) == [
        "0.000000", "2.500000", "0.000007", "1000000.000000"]
    assert decimal_texts(np.array([], dtype=np.int64), 3, trim=True) == []


def test_decimal_texts_match_pythons_integer_printing() -> None:
    rng = random.Random(19)
    units = [rng.randrange(10 ** rng.randint(1, 15)) for _ in range(5000)]
    expected = [f"{k // 1000}." + (f"{k % 1000:03d}".rstrip("0") or "0") for k in units]
    assert decimal_texts(np.array(units), 3, trim=True) == expected
    assert decimal_texts(np.array(units), 6, trim=False) == [f"{k // 10**6}.{k % 10**6:06d}" for k in units]


def test_fixed6_is_pythons_format_on_awkward_values() -> None:
    # ties of the exact binary value (k / 128: 0.0078125 is 7812.5 millionths, printed half to even as
    # 0.007812), their neighbours, -0.0 and tiny negatives ("-0.000000"), huge and non-finite values:
    # those near a tie or outside the integer range go to Python, the rest must agree with it
    rng = random.Random(7)
    values = [0.0, -0.0, -1e-9, 1.0, 0.5, 1e-7, 5e-7, 0.9999995, 123.0000005, 1e12, 1e20, float("inf"),
              float("-inf"), float("nan"), 2.0**52 / 1e6, -1.5]
    values += [k / 128 for k in range(600)] + [float(np.nextafter(k / 128, 2.0)) for k in range(600)]
    values += [float(np.nextafter(k / 128, -1.0)) for k in range(1, 600)]
    values += [rng.random() * 10 ** rng.randint(-8, 12) for _ in range(20000)]
    values += [round(rng.uniform(0, 1000), 6) for _ in range(5000)]
    assert fixed6_texts(np.array(values)) == [f"{x:.6f}" for x in values]
    assert fixed6_texts(np.array([0.0078125]))[0] == "0.007812"


def test_joined_texts_put_fields_and_texts_side_by_side() -> None:
    # fields of different widths (NUL where nothing is printed, before or after the digits), texts between
    # them and at the ends, an empty text; no rows, no texts
    ts = decimal_field(np.array([0, 1500, 123456789]), 3, trim=True)
    dur = decimal_field(np.array([7000000, 0, 5]), 6, trim=False)
    assert joined_texts(['"ts":', ts, "", ',"dur":', dur, "}"], 3) == [
        '"ts":0.0,"dur":7.000000}', '"ts":1.5,"dur":0.000000}', '"ts":123456.789,"dur":0.000005}']
    assert joined_texts([ts[:0], "x"], 0) == []
    assert joined_texts(["a", "b"], 2) == ["ab", "ab"]


def test_fixed6_rows_are_pythons_format_of_each_value_joined() -> None:
    # a row with one value Python must print (a tie, -0.0, a negative, huge, NaN, infinities) is printed by
    # Python whole; the others by NumPy; ``end`` after each row
    rng = random.Random(3)
    awkward = [-0.0, -1e-9, 0.0078125, 1e20, float("nan"), float("inf"), float("-inf"), 2.0**52 / 1e6, 5e-7]
    firsts = [rng.random() * 10 ** rng.randint(-8, 12) for _ in range(3000)] + awkward + [1.0] * len(awkward)
    seconds = [rng.uniform(0, 1e5) for _ in range(3000)] + [2.5] * len(awkward) + awkward
    expected = [f"{a:.6f},{b:.6f}" for a, b in zip(firsts, seconds, strict=True)]
    assert fixed6_rows([np.array(firsts), np.array(seconds)]) == expected
    assert fixed6_rows([np.array(firsts), np.array(seconds)], end=",") == [text + "," for text in expected]
    assert fixed6_rows([np.array(firsts)]) == [f"{a:.6f}" for a in firsts]


def test_trace_timings_are_json_numbers_of_rounded_microseconds() -> None:
    # start 1.5 s = 1500000.0 us; end 1.5000025 s: round(1500002.5 - ..., 3) = 2.5 us (as Python computes)
    starts = [1.5, 0.0, 2.0, 1e-9]
    ends = [1.5000025, 0.0, 1.0, 3.0]
    texts = timing_texts(np.array(starts), np.array(ends))
    for text, start, end in zip(texts, starts, ends, strict=True):
        ts = round(start * 1e6, 3)
        assert text == f'"ts":{ts},"dur":{max(0.0, round(round(end * 1e6, 3) - ts, 3))}'


def test_freeze_survivors_only_inside_a_run() -> None:
    assert freeze_survivors() is False  # outside a run: nothing would unfreeze, so nothing is frozen
    before = gc.get_freeze_count()
    with fewer_gc_passes():
        kept = [[i] for i in range(1000)]  # tracked containers made during the run
        assert freeze_survivors() is True
        assert gc.get_freeze_count() >= before + len(kept)
    assert gc.get_freeze_count() == 0  # the last exit unfreezes everything


def test_repr_texts_are_pythons_repr() -> None:
    # printed from the millionths only where the double is the one nearest its count of millionths (a time
    # round(x, 6) gave back) and repr writes no exponent (1e-4 and above; 0.0): unrounded values, values
    # below 1e-4 (repr's 5e-05), ties, -0.0, negatives and values past 2**32 (doubles a millionth or more
    # apart) go to repr, and every text must be repr's
    from dsim.reports.decimal_text import repr_texts, round6_texts

    rng = random.Random(11)
    values = [0.0, -0.0, 1e-6, 5e-05, 9.9e-05, 0.0001, 0.000101, 1.5, 2.0, 7.25, 0.1 + 0.2, 1 / 3, -2.5,
              2.0**32, 2.0**33 + 0.5, 4.5e9, 1e16, 123.0000005, 0.0078125]
    values += [round(rng.uniform(0, 1000), 6) for _ in range(5000)]
    values += [round(rng.uniform(0, 1e-3), 6) for _ in range(2000)]
    values += [round(rng.random() * 10 ** rng.randint(-7, 10), 6) for _ in range(5000)]
    values += [rng.random() * 10 ** rng.randint(-8, 12) for _ in range(5000)]
    assert repr_texts(np.array(values)) == [repr(x) for x in values]
    assert repr_texts(np.array([], dtype=np.float64)) == []
    # a time as the records round it: repr(round(x, 6)), ties of the exact binary value included
    values += [k / 128 for k in range(600)] + [rng.randint(0, 10**9) / 1e6 + 5e-7 for _ in range(5000)]
    assert round6_texts(np.array(values)) == [repr(round(x, 6)) for x in values]
