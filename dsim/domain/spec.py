"""What one simulation is built from: the scenario checked and expanded (``dsim.scenarios`` makes it)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dsim.domain.builds import BuildContext, BuildSpec
from dsim.domain.hosts import HostInfo
from dsim.domain.images import ImageInfo
from dsim.domain.registries import RegistrySpec
from dsim.domain.workloads import Workload


@dataclass(frozen=True, slots=True)
class LinkSpec:
    """A link between two nodes (a host group name stands for each of its hosts); bandwidth each way in
    bytes per second, latency one way in seconds."""

    a: str
    b: str
    bandwidth: float
    latency: float
    #: the most one connection carries across it (a WAN path's window over round trip), bytes/s
    stream_rate: float = float("inf")


@dataclass(frozen=True, kw_only=True)
class SimSpec:
    """Hosts expanded, image references normalised, layers given digests, builds planned, every
    cross-reference checked. Read-only once made: images named at run time (``dsim serve``'s catalog) come
    from each daemon's image catalog (dsim/components/image_catalog.py), never from here."""

    name: str
    seed: int
    until: float | None
    registries: dict[str, RegistrySpec]
    images: Mapping[str, ImageInfo]
    hosts: tuple[HostInfo, ...]
    groups: dict[str, tuple[str, ...]]
    job_counts: dict[str, int]
    workloads: dict[str, Workload]
    #: (workload, step index) -> the planned build of that step (also on each BuildStep)
    builds: dict[tuple[str, int], BuildSpec]
    contexts: Mapping[str, BuildContext]
    #: None: every node on one switch
    links: tuple[LinkSpec, ...] | None
