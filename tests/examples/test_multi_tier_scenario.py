"""scenarios/multi-tier.yaml tells its story: the figures of its comment block.

Server CPU times are exponential, so figures are means with a tolerance of 4 standard deviations: a
request's CPU (0.5 + 4 + 3 x 1 ms, exponential) has variance 0.5^2 + 4^2 + 3 x 1^2 = 19.25 ms^2.
"""

from __future__ import annotations

import math
from functools import cache
from typing import Any

import pytest

from dsim.api import load_scenario, simulate
from tests.helpers import ROOT


@cache
def summary() -> dict[str, Any]:
    return simulate(load_scenario(ROOT / "scenarios" / "multi-tier.yaml")).summary()


def proxy_calls(workload: str) -> dict[str, Any]:
    calls: dict[str, Any] = summary()["workloads"][workload]["calls"]["proxy"]
    return calls


def test_alone_a_request_costs_its_cpu_and_its_round_trips() -> None:
    """One host: 7.5 ms of CPU + 5 round trips of 2 x (7.9 + 1.14) us (0.090 ms) + 183,808 B at 4,024 MB/s
    (0.046 ms) = 7.636 ms. Split: each of 3 queries takes a round trip of 2 x (0.5 ms + 2 x 1.14 us) = 1.0046 ms
    over both bridges and the link and 16,896 B at 125 MB/s (0.1352 ms) instead of 0.0181 + 0.0042 ms: 1.1175
    ms more, 3.352 ms a request: 10.988 ms. 1,000 requests: the mean's sd is sqrt(19.25 / 1000) = 0.139 ms;
    4 sd 0.56 ms."""
    one, split = proxy_calls("one-alone"), proxy_calls("split-alone")
    assert (one["count"], one["failed"], split["count"], split["failed"]) == (1000, 0, 1000, 0)
    assert one["mean_s"] == pytest.approx(0.007636, abs=0.00056)
    assert split["mean_s"] == pytest.approx(0.007636 + 3 * 0.0011175, abs=0.00056)


def test_the_databases_queries_cross_hosts_at_the_published_port() -> None:
    """The app reaches the db by name on one host, at back:5432 when split: 3 queries a request, 3,000 each."""
    assert summary()["workloads"]["one-tiers"]["calls"]["db"]["count"] == 3 * 3000
    assert summary()["workloads"]["split-tiers"]["calls"]["back:5432"]["count"] == 3 * 3000


def test_under_load_cpu_saturates_and_the_split_serves_faster() -> None:
    """16 connections keep the CPU busy: one host needs 2,000 x 7.5 ms / 4 cores = 3.75 s, split the front
    host 2,000 x 4.5 ms / 4 = 2.25 s. The sums' sds: sqrt(2000 x 19.25) / 4 = 49 ms and
    sqrt(2000 x 16.25) / 4 = 45 ms; 4 sd, plus a little for the moments the cores are not all busy."""
    one = summary()["workloads"]["one-load"]["phases"]["run"]["mean_s"]
    split = summary()["workloads"]["split-load"]["phases"]["run"]["mean_s"]
    assert one == pytest.approx(3.75, abs=4 * math.sqrt(2000 * 19.25e-6) / 4 + 0.05)
    assert split == pytest.approx(2.25, abs=4 * math.sqrt(2000 * 16.25e-6) / 4 + 0.05)
    # Little's law: 16 in flight at 2,000 / run requests per second
    assert proxy_calls("one-load")["mean_s"] == pytest.approx(16 * one / 2000, rel=0.05)
