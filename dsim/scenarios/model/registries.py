"""Registries: latency, bandwidth, auth, pull limits, failures, pull-through caching, peer-to-peer."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from dsim.scenarios.fields import Duration, FiniteDuration, Rate, Size
from dsim.scenarios.model.base import Count, PositiveInt, Strict


class RateLimit(Strict):
    """A pull limit per client host: manifest GETs over ``pulls`` within ``per`` get HTTP 429."""

    pulls: PositiveInt = Field(description="manifest GETs allowed per window (Docker Hub anonymous: 100)")
    per: Duration = Field(description="window length (Docker Hub: 6h)")


class Outage(Strict):
    """A registry refuses new connections from ``at`` for ``for``."""

    at: Duration
    for_: Duration = Field(alias="for", description="how long the outage lasts")


class Registry(Strict):
    """A registry: request latency, egress bandwidth, authentication."""

    bandwidth: Rate = Field(1.25e9, description="egress shared by every transfer from this registry (default 10Gbps)")
    latency: FiniteDuration = Field(
        0.03, description="time added to each request by the registry itself (default 30ms)")
    auth: Literal["none", "token"] = Field(
        "none",
        description="token: one token round trip per pull, as Docker Hub's Bearer realm (docs/real-docker.md: Pull 1)",
    )
    rate_limit: RateLimit | None = Field(None, description="per client host; omit for none")
    # -- distribution (issue 3): failures, connections, pull-through caching, peer-to-peer
    error_rate: float = Field(
        0.0, ge=0, le=1, description="probability that a request is answered '503 Service Unavailable'"
    )
    outages: list[Outage] = Field(
        default_factory=list, description="windows in which new connections are refused (in-flight streams finish)"
    )
    max_connections: PositiveInt | None = Field(
        None, description="blob streams served at once; further blob requests queue FIFO (default unlimited)"
    )
    upstream: str | None = Field(
        None, description="makes this registry a pull-through cache of that registry (distribution's proxy mode)"
    )
    storage: Size | None = Field(
        None, description="pull-through cache capacity; least recently used blobs are evicted (default unlimited)"
    )
    merge_misses: bool = Field(
        False, description="what-if: a miss on a blob already being fetched waits for that fetch; distribution does "
        "not merge them (the second streams from upstream and is not cached, docs/real-docker.md: Registries)",
    )
    p2p: bool = Field(
        False, description="what-if (Kraken / Dragonfly / DADI): hosts fetch this registry's blobs, and the ranges "
        "lazy pulls read, from peers holding or fetching them",
    )
    p2p_sources: PositiveInt = Field(
        5, description="peers one blob is fetched from at once, one stripe each (Kraken allows 10 connections per "
        "torrent, max_open_conn; dsim splits them into 5 downloads and 5 uploads)",
    )
    p2p_uploads: PositiveInt = Field(5, description="stripes a peer serves at once per blob (see p2p_sources)")
    # -- round trips and per-connection throughput (issue 13)
    stream_rate: Rate = Field(
        float("inf"), description="the most one connection to or from this registry carries (a blob GET or upload is "
        "one TCP stream: the path's window over round trip and the server's per-connection pacing bound it, far below "
        "a cloud NIC for a CDN). Default unlimited: a registry on the scenario's own network fills the link with one "
        "stream. dsim's default `hub`: 193 MB/s, one Docker Hub blob stream to an EC2 VM (2.7 GiB in about 15 s, "
        "containerd#13559); docs/distribution.md",
    )
    rtt: FiniteDuration = Field(
        0.0, description="round trip between the hosts and this registry on the default one-switch topology (its link "
        "gets half of it as one-way latency; with `network.links` the links' latencies set the round trip). Every "
        "request pays one round trip, every new connection `handshake_rtts` more. Default 0: the same LAN",
    )
    tls: bool = Field(
        True, description="https, as Docker requires of every registry not listed in insecure-registries: a new "
        "connection's TLS handshake (handshake_rtts) and the client's CPU to decrypt what it downloads and encrypt "
        "what it uploads (hosts' storage.tls_rate). false: plain http (a registry the daemons list as insecure)",
    )
    handshake_rtts: Count | None = Field(
        None, le=10, description="round trips to open a connection before its first request. Default: TCP 1 + TLS "
        "1.3 1 (RFC 8446: a full handshake takes one round trip), 1 with tls: false; 3 for TLS 1.2 (RFC 5246)",
    )
    blob_redirect: bool = Field(
        False, description="blob GETs are answered 307 to a CDN host, fetched over a connection of its own (Docker "
        "Hub redirects to its CDN, docs/real-docker.md: Registries); dsim's default `hub`: true",
    )
    multi_platform: bool = Field(
        False, description="tags resolve to a multi-platform index: GET the index, then the platform's manifest "
        "(docs/real-docker.md: Pull 2; Docker Hub's official images are indexes); dsim's default `hub`: true",
    )
    cdn_rtt: FiniteDuration | None = Field(
        None, description="round trip to the blob CDN of `blob_redirect`, for its requests and handshakes: a CDN "
        "answers from an edge near the hosts while the registry's API may be an ocean away (ghcr.io's API in the "
        "US, its blobs from pkg-containers.githubusercontent.com's edge). Default: the registry's round trip",
    )
    token_host: Literal["own", "registry"] = Field(
        "own", description="where `auth: token` gets its token: `own`, a host of its own with connections of its "
        "own (Docker Hub's realm auth.docker.io); `registry`, the registry's own host, over the resolver's "
        "connection (ghcr.io's realm https://ghcr.io/token, Harbor's /service/token)",
    )

    @model_validator(mode="after")
    def _fields_that_apply(self) -> Registry:
        """Fields that would be ignored are errors: cache fields without an upstream, the CDN's round trip
        without a CDN, the token's host without token auth."""
        if self.upstream is None and (self.storage is not None or self.merge_misses):
            raise ValueError("storage and merge_misses apply to a pull-through cache (give it an upstream)")
        if self.cdn_rtt is not None and not self.blob_redirect:
            raise ValueError("cdn_rtt applies to a registry that redirects blobs to its CDN (set blob_redirect)")
        if self.token_host != "own" and self.auth != "token":
            raise ValueError("token_host applies to a registry with auth: token")
        return self
