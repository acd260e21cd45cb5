"""Hosts as the world builds them: dockerd's knobs, storage speeds, runtime costs, VM flavours, image GC.

Field names and meanings are the scenario format's (dsim/scenarios/model/hosts.py, where every default says
where its number comes from); these are the checked values, with every default filled in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dsim.distributions import Distribution
from dsim.domain.networking import DEFAULT_NETWORKING, NetworkDecl, NetworkingSpec


@dataclass(frozen=True, slots=True)
class DaemonSpec:
    workers: int
    api_service_time: Distribution
    max_concurrent_downloads: int
    max_concurrent_uploads: int
    max_download_attempts: int
    registry_mirrors: tuple[str, ...]
    #: bytes; None: a share of the host's disk (components/builder.py DEFAULT_BUILD_CACHE_SHARE)
    build_cache_limit: float | None


@dataclass(frozen=True, slots=True)
class StorageSpec:
    """Bytes per second: decompression output by compression (``gzip``, ``zstd``), file writes, push gzip."""

    decompress_rate: Mapping[str, float]
    write_rate: float
    compress_rate: float


@dataclass(frozen=True, slots=True)
class RuntimeSpec:
    """Container runtime costs, sampled per container."""

    create: Distribution
    mount: Distribution
    netns: Distribution
    start: Distribution
    exec: Distribution
    page_cache_fraction: float


@dataclass(frozen=True, slots=True)
class VmFlavour:
    """A virtual machine per instance: guest boot time, the VMM's own memory, default guest memory."""

    boot: Distribution
    overhead: float
    memory: float


@dataclass(frozen=True, slots=True)
class ImageGcSpec:
    """kubelet-style image GC: above ``high`` (a share of disk) remove LRU images down to ``low``."""

    high: float
    low: float


@dataclass(frozen=True, slots=True)
class HostSpec:
    """One host group's hardware and software; ``count`` hosts share it."""

    count: int
    cpus: float
    memory: float
    disk: float
    nic: float
    daemon: DaemonSpec
    storage: StorageSpec
    runtime: RuntimeSpec
    #: normalised references of the images present at time 0
    preloaded: tuple[str, ...]
    address: str | None
    snapshotter: str  # overlayfs | stargz
    gc: ImageGcSpec | None
    ephemeral_ports: tuple[int, int]
    vm: VmFlavour
    microvm: VmFlavour
    #: user-defined networks and named volumes that exist at time 0; network modes' costs
    networks: tuple[NetworkDecl, ...] = ()
    volumes: tuple[str, ...] = ()
    networking: NetworkingSpec = DEFAULT_NETWORKING


@dataclass(frozen=True, slots=True)
class HostInfo:
    name: str
    group: str
    spec: HostSpec
