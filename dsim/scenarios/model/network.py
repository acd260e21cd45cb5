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


class Network(Strict):
    links: list[Link] = Field(default_factory=list)
