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
    # -- round trips and connections (issue 13)
    #: the most one connection to or from the registry carries, bytes/s (inf: the links decide)
    stream_rate: float = float("inf")
    #: round trip between hosts and the registry on the default one-switch topology
    rtt: float = 0.0
    #: round trips to open a connection before its first request (TCP 1 + TLS 1.3 1)
    handshake_rtts: int = 2
    #: https: the client decrypts what it downloads and encrypts what it uploads (hosts' ``tls_rate``)
    tls: bool = True
    #: blob GETs are answered 307 to a CDN host: a connection of its own
    blob_redirect: bool = False
    #: tags resolve to a multi-platform index: GET the index, then the platform's manifest
    multi_platform: bool = False
    #: round trip to the blob CDN (None: the registry's own)
    cdn_rtt: float | None = None
    #: where the token comes from: "own" (a host of its own) or "registry" (the registry's host)
    token_host: str = "own"
