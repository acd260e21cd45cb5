"""Workloads: when jobs arrive, where they are placed, and the steps each job runs."""

from __future__ import annotations

from dataclasses import dataclass

from dsim.domain.steps import Step


@dataclass(frozen=True, slots=True)
class Burst:
    """``burst`` jobs arriving together at ``at``."""

    burst: int
    at: float


@dataclass(frozen=True, slots=True)
class Poisson:
    """``count`` jobs, exponential gaps at ``rate`` per second from ``at``."""

    rate: float
    count: int
    at: float


@dataclass(frozen=True, slots=True)
class Every:
    """``count`` jobs, one every ``every`` seconds from ``at``."""

    every: float
    count: int
    at: float


@dataclass(frozen=True, slots=True)
class Times:
    """One job at each of these times (seconds)."""

    times: tuple[float, ...]


Arrival = Burst | Poisson | Every | Times

#: placements other than a host group or host name
PLACEMENT_POLICIES = ("round-robin", "least-loaded", "random")


@dataclass(frozen=True, slots=True)
class Workload:
    arrival: Arrival
    placement: str  # round-robin | least-loaded | random | a host group name | a host name
    steps: tuple[Step, ...]


def job_count(arrival: Arrival) -> int:
    """How many jobs an arrival pattern brings."""
    if isinstance(arrival, Burst):
        return arrival.burst
    if isinstance(arrival, Poisson | Every):
        return arrival.count
    return len(arrival.times)
