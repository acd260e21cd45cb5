"""Registries as the world builds them: latency, egress, auth, failures, pull-through caching, P2P.

Field names and meanings are the scenario format's (dsim/scenarios/model/registries.py ``Registry``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RateLimitSpec:
    """Manifest GETs over ``pulls`` within ``per`` seconds get HTTP 429 (per client address)."""

    pulls: int
    per: float


@dataclass(frozen=True, slots=True)
class OutageSpec:
    """New connections are refused from ``at`` for ``length`` seconds."""

    at: float
    length: float


@dataclass(frozen=True, slots=True)
class RegistrySpec:
    bandwidth: float
    latency: float
    auth: str  # none | token
    rate_limit: RateLimitSpec | None
    error_rate: float
    outages: tuple[OutageSpec, ...]
    max_connections: int | None
    #: makes this registry a pull-through cache of that registry
    upstream: str | None
    #: pull-through cache capacity in bytes (None: unlimited)
    storage: float | None
    merge_misses: bool
    p2p: bool
    p2p_sources: int
    p2p_uploads: int
