"""The latency CDF is drawn from at most CDF_POINTS points (dsim/reports/derive.py ``cdf_steps``)."""

from __future__ import annotations

from dsim.reports.derive import cdf_steps


def test_few_samples_are_drawn_every_one() -> None:
    # 4 samples, room for 10: each sample i (1-based) at fraction i/4
    xs, ys = cdf_steps([1.0, 2.0, 2.0, 5.0], most=10)
    assert list(xs) == [1.0, 2.0, 2.0, 5.0]
    assert ys == [0.25, 0.5, 0.75, 1.0]


def test_many_samples_are_drawn_at_evenly_spaced_fractions() -> None:
    # 10 samples 1..10, 5 levels: ranks ceil(j * 10 / 5) = 2, 4, 6, 8, 10 and the first sample (rank 1);
    # the value of rank r is r, its fraction r / 10
    xs, ys = cdf_steps([float(v) for v in range(1, 11)], most=5)
    assert xs == [1.0, 2.0, 4.0, 6.0, 8.0, 10.0]
    assert ys == [0.1, 0.2, 0.4, 0.6, 0.8, 1.0]


def test_a_million_samples_stay_within_one_level_of_the_exact_curve() -> None:
    # 1,000,000 samples 0..999,999 (value v has fraction (v + 1) / n), 2,000 levels: at most 2,001 points,
    # each on the exact curve, consecutive fractions at most 1 / 2,000 apart, the last at 1
    n = 1_000_000
    xs, ys = cdf_steps([float(v) for v in range(n)], most=2000)
    assert len(xs) == len(ys) <= 2001
    assert all(y == (x + 1) / n for x, y in zip(xs, ys, strict=True))
    assert max(b - a for a, b in zip(ys, ys[1:], strict=False)) <= 1 / 2000 + 1e-12
    assert xs[0] == 0.0 and ys[-1] == 1.0
