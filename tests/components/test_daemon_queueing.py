"""The daemon's API worker pool against queueing theory (as Ciw tests itself).

Poisson arrivals of `ps` calls (rate lambda) on c workers with exponential service of mean 1/mu form an
M/M/c queue; the mean wait in queue is Erlang C: Wq = C(c, a) / (c mu - lambda), a = lambda / mu.
"""

from __future__ import annotations

import math

import pytest

from tests.helpers import run_text


def erlang_c_wait(lam: float, mu: float, c: int) -> float:
    a = lam / mu
    top = a**c / math.factorial(c) * c / (c - a)
    probability_wait = top / (sum(a**k / math.factorial(k) for k in range(c)) + top)
    return probability_wait / (c * mu - lam)


def test_erlang_c_formula_by_hand() -> None:
    # c = 2, a = 1.5: C = 4.5 / 7; Wq = C / (200 - 150)
    assert erlang_c_wait(150, 100, 2) == pytest.approx(4.5 / 7 / 50)


@pytest.mark.parametrize(("lam", "c"), [(120.0, 2), (240.0, 4)])
def test_mean_queue_wait_matches_erlang_c(lam: float, c: int) -> None:
    """rho = 0.6. Mean over 10 seeds of 20,000 calls each; tolerance 7.5%: one run's mean wait has a
    relative sd of about 6% (c=2) and 8% (c=4), measured over 16 seeds, so the 10-seed mean's standard
    error is 2-2.5% and the tolerance is 3 standard errors."""
    mu = 100.0
    text = f"""
    name: mmc
    hosts: {{h: {{daemon: {{workers: {c}, api_service_time: "exponential(mean=10ms)"}}}}}}
    workloads: {{w: {{arrival: {{rate: {lam}/s, count: 20000}}, steps: [{{ps: {{}}}}]}}}}
    """
    waits = []
    for seed in range(10):
        samples = run_text(text, seed=seed).phase_samples("queue")
        waits.append(sum(samples) / len(samples))
    mean_wait = sum(waits) / len(waits)
    assert mean_wait == pytest.approx(erlang_c_wait(lam, mu, c), rel=0.075)
