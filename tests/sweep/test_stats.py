"""Student-t intervals: quantiles against printed tables, a worked example, and coverage by simulation."""

from __future__ import annotations

import math
import random

import pytest

from dsim.sweep.stats import estimate, t_cdf, t_quantile

# t(0.975, dof) from any printed table (e.g. NIST/SEMATECH e-Handbook 1.3.6.7.2), 4 decimals.
TABLE_975 = {1: 12.7062, 2: 4.3027, 4: 2.7764, 5: 2.5706, 9: 2.2622, 10: 2.2281, 29: 2.0452, 30: 2.0423,
             100: 1.9840}


@pytest.mark.parametrize("dof", sorted(TABLE_975))
def test_t_quantile_matches_the_table(dof: int) -> None:
    assert t_quantile(0.975, dof) == pytest.approx(TABLE_975[dof], abs=6e-5)


def test_other_quantiles_and_limits() -> None:
    assert t_quantile(0.95, 9) == pytest.approx(1.8331, abs=6e-5)   # one-sided 95%, 9 dof (table)
    assert t_quantile(0.995, 4) == pytest.approx(4.6041, abs=6e-5)  # 99% two-sided, 4 dof (table)
    assert t_quantile(0.975, 100_000) == pytest.approx(1.95996, abs=1e-4)  # the normal's 1.959964
    # dof = 1 is the Cauchy distribution: F(t) = 1/2 + atan(t)/pi
    assert t_cdf(2.0, 1) == pytest.approx(0.5 + math.atan(2.0) / math.pi, abs=1e-12)
    assert t_cdf(-2.0, 1) == pytest.approx(0.5 - math.atan(2.0) / math.pi, abs=1e-12)


def test_worked_example() -> None:
    # 1..5: mean 3, sample sd sqrt(10/4) = 1.58114, half-width t(0.975,4) sd / sqrt 5 = 2.7764 x 0.70711 = 1.9632
    est = estimate([1.0, 2.0, 3.0, 4.0, 5.0])
    assert est.mean == 3.0
    assert est.sd == pytest.approx(math.sqrt(2.5))
    assert est.half_width == pytest.approx(1.96324, abs=1e-4)
    assert (est.low, est.high) == pytest.approx((3.0 - 1.96324, 3.0 + 1.96324), abs=1e-4)


def test_one_replication_has_no_interval_and_equal_values_a_zero_one() -> None:
    assert estimate([4.0]).half_width is None and estimate([4.0]).low is None
    assert estimate([2.0, 2.0, 2.0]).half_width == 0.0


def test_coverage_is_95_percent() -> None:
    """Intervals from 5 normal samples cover the true mean 95% of the time: over 4,000 trials the observed
    rate is within 4 standard errors, 4 x sqrt(0.95 x 0.05 / 4000) = 0.014, of 0.95."""
    rng = random.Random(20240607)
    trials, covered = 4000, 0
    for _ in range(trials):
        est = estimate([rng.gauss(10.0, 3.0) for _ in range(5)])
        assert est.low is not None and est.high is not None
        covered += est.low <= 10.0 <= est.high
    assert abs(covered / trials - 0.95) < 0.014
