"""One run of scenarios/p2p-fleet.yaml (2,600 hosts), shared by the scenario test and the Kraken
validation: the run is deterministic and takes seconds, so it is made once per test session."""

from __future__ import annotations

import functools

from dsim.api import load_scenario, simulate
from dsim.result import SimResult
from tests.helpers import ROOT


@functools.cache
def fleet_result() -> SimResult:
    return simulate(load_scenario(ROOT / "scenarios" / "p2p-fleet.yaml"))


def download_times(result: SimResult) -> dict[str, tuple[float, float]]:
    """Per host: (first download start, last download end)."""
    spans: dict[str, tuple[float, float]] = {}
    for span in result.spans_of("download"):
        start, end = spans.get(span.host, (span.start, span.end))
        spans[span.host] = (min(start, span.start), max(end, span.end))
    return spans
