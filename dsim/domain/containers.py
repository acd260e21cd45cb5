"""What ``docker create`` / ``docker run`` ask for, as the runtime reads it."""

from __future__ import annotations

import math
from dataclasses import dataclass

from dsim.distributions import Distribution, constant
from dsim.domain.cpu_limits import CpuWeights, cfs_weight
from dsim.domain.health import DEFAULT_TIMEOUT
from dsim.domain.layer_files import LayerFile
from dsim.domain.networking import MountSpec
from dsim.domain.service_calls import CallSpec


@dataclass(frozen=True, slots=True)
class HealthCheck:
    """``HEALTHCHECK`` / ``--health-*`` (moby daemon/health.go); times in seconds."""

    interval: float
    start_period: float
    start_interval: float
    retries: int
    #: after the process starts, when the check command first succeeds (inf: never); with startup work, the
    #: later of the two (components/health.py)
    time_to_healthy: Distribution
    #: a probe's command killed after this long, the probe failed (moby: 30 s); the exec's start not counted
    timeout: float = DEFAULT_TIMEOUT
    #: CPU-seconds of the process's startup work before its check can pass (components/health.py)
    startup_cpu: Distribution = constant(0.0)
    #: bytes the startup work writes to the host's disk after its CPU work (time at the disk's shared rate)
    startup_io: float = 0.0
    #: CPU-seconds the check command itself uses in each probe, on the host's scheduler (one core)
    probe_cpu: Distribution = constant(0.0)
    #: wall seconds the check command waits besides its CPU in each probe (dsim serve: ``sleep`` in a test)
    probe_wait: float = 0.0


@dataclass(frozen=True)
class ContainerSpec:
    """What ``docker create`` / ``run`` asks for; distributions are sampled once per run of the process.
    ``image`` is a normalised reference."""

    image: str
    name: str | None
    cpus: float | None
    memory: float | None
    ports: tuple[str, ...]
    duration: Distribution
    stop_time: Distribution
    cpu_time: Distribution | None = None
    threads: int | None = None
    #: --cpu-shares: the cgroup's CPU weight (cgroup v1 cpu.shares; Docker's default 1024)
    cpu_shares: int = 1024
    memory_usage: Distribution | None = None
    expose: tuple[str, ...] = ()
    publish_all: bool = False
    exit_code: int = 0
    #: the exit code when SIGTERM ends the process within the stop timeout: 0 for one that shuts down cleanly,
    #: 143 (128 + 15) for one the signal's default action kills (``docker run --init``: tini passes it on)
    stop_exit_code: int = 0
    fail_probability: float = 0.0
    restart: str = "no"
    healthcheck: HealthCheck | None = None
    writes: float = 0.0
    copy_up: float = 0.0
    isolation: str = "container"
    until_stopped: bool = False
    #: bridge | host | none | container:NAME | a user-defined network's name
    network: str = "bridge"
    mounts: tuple[MountSpec, ...] = ()
    #: service calls its process makes to other containers (components/service_calls.py)
    calls: tuple[CallSpec, ...] = ()
    #: --network-alias: more names the embedded DNS answers for it on its user-defined networks
    aliases: tuple[str, ...] = ()
    #: the files ``writes`` and ``copy_up`` declare (domain/layer_files.py); empty: bytes only
    layer_files: tuple[LayerFile, ...] = ()
    #: configuration the model does not act on (a compose service's environment, command, labels, ...: name ->
    #: its value as canonical JSON): it tells two configurations apart (compose recreates on a change)
    settings: tuple[tuple[str, str], ...] = ()
    #: --rm (HostConfig.AutoRemove): the daemon removes the container once its process has exited
    auto_remove: bool = False

    @property
    def cpu_cap(self) -> float:
        """Cores the process can keep busy: its --cpus quota, and no more than its runnable threads."""
        return min(self.cpu_quota, self.runnable_threads)

    @property
    def runnable_threads(self) -> float:
        """The threads its process keeps runnable: ``threads``, else as many as its --cpus quota can use (1
        without one)."""
        return float(self.threads if self.threads is not None else (math.ceil(self.cpus) if self.cpus else 1))

    @property
    def cpu_quota(self) -> float:
        """Its cgroup's CFS quota in cores (--cpus), shared by every process in it; infinite without one."""
        return self.cpus if self.cpus is not None else math.inf

    def cpu_weight(self, conversion: CpuWeights) -> float:
        """Its cgroup's CPU weight relative to a default cgroup's (the scheduler's unit, components/cpu.py), by the
        host's cgroup version and OCI runtime (``RuntimeSpec.cpu_weights``; domain/cpu_limits.py ``cfs_weight``)."""
        return cfs_weight(self.cpu_shares, conversion)

    @property
    def quota_threads(self) -> float | None:
        """The runnable threads when its --cpus quota is below them (None otherwise): CFS runs them all at once
        until the period's quota is spent, so they occupy that many hardware threads while they run (what an
        SMT host's scheduler charges as siblings, components/cpu.py SmtCpuScheduler)."""
        if self.cpus is None or self.threads is None or self.threads <= self.cpus:
            return None
        return float(self.threads)
