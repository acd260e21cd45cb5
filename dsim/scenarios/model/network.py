"""The network between nodes: links with bandwidth and latency."""

from __future__ import annotations

from pydantic import Field

from dsim.scenarios.fields import FiniteDuration, Rate
from dsim.scenarios.model.base import Strict


class Link(Strict):
    """A link between two nodes; a host group name means one link per host of the group."""

    a: str
    b: str
    bandwidth: Rate = Field(float("inf"), description="each direction (full duplex)")
    latency: FiniteDuration = Field(0.0, description="one way; a request pays the path's round trip")
    stream_rate: Rate = Field(
        float("inf"), description="the most one connection (one blob stream, upload, peer stripe or context "
        "transfer) carries across this link: a long path limits a TCP stream to its window over the round trip "
        "(docs/distribution.md). Default unlimited",
    )


class Network(Strict):
    links: list[Link] = Field(default_factory=list)
