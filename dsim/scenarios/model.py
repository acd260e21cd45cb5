"""The scenario format v1 as strict pydantic models (``extra="forbid"``, frozen).

Every default that stands for real Docker behaviour is a named field whose description says where the
number comes from (``../shared/docker-facts.md``); ``dsim schema`` prints these models as JSON Schema.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, Tag, WithJsonSchema, model_validator

from dsim.distributions import constant
from dsim.domain.images import DEFAULT_UNCOMPRESSED_RATIO
from dsim.scenarios.fields import Duration, DurationDist, Rate, Size, SizeDist

Count = Annotated[int, Field(ge=0)]
PositiveInt = Annotated[int, Field(ge=1)]


class Strict(BaseModel):
    """Unknown keys are errors; values are validated when a model is built, defaults too."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, populate_by_name=True)


# ---------------------------------------------------------------- registries

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
    latency: Duration = Field(0.03, description="time added to each request by the registry itself (default 30ms)")
    auth: Literal["none", "token"] = Field(
        "none", description="token: one token round trip per pull, as Docker Hub's Bearer realm (docker-facts: Pull 1)"
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
        "not merge them (the second streams from upstream and is not cached, docker-facts: Registries)",
    )
    p2p: bool = Field(
        False, description="what-if (Kraken / Dragonfly): hosts fetch this registry's blobs from peers holding them"
    )
    p2p_sources: PositiveInt = Field(
        5, description="peers one blob is fetched from at once, one stripe each (Kraken allows 10 connections per "
        "torrent, max_open_conn; dsim splits them into 5 downloads and 5 uploads)",
    )
    p2p_uploads: PositiveInt = Field(5, description="stripes a peer serves at once per blob (see p2p_sources)")

    @model_validator(mode="after")
    def _cache_fields(self) -> Registry:
        if self.upstream is None and (self.storage is not None or self.merge_misses):
            raise ValueError("storage and merge_misses apply to a pull-through cache (give it an upstream)")
        return self


# ---------------------------------------------------------------- images

class Layer(Strict):
    """One layer blob: compressed size on the wire, uncompressed size on disk."""

    size: Size
    uncompressed: Size | None = Field(None, description=f"default: size x {DEFAULT_UNCOMPRESSED_RATIO} (gzip/zstd)")


def _layer(value: object) -> object:
    return value if isinstance(value, dict | Layer) else {"size": value}


LayerSpec = Annotated[
    Layer,
    BeforeValidator(_layer),
    WithJsonSchema({"anyOf": [
        {"type": "string", "description": "compressed size, e.g. 211MB"}, {"type": "number", "minimum": 0},
        {"type": "object", "required": ["size"], "additionalProperties": False,
         "properties": {"size": {"type": ["string", "number"]}, "uncompressed": {"type": ["string", "number"]}}},
    ]}),
]


class Image(Strict):
    """An image: its registry and layers bottom first; ``from`` shares a base image's layers by digest."""

    registry: str | None = Field(None, description="default: the scenario's Docker Hub registry")
    from_: str | None = Field(None, alias="from", description="base image: its layers come first, same digests")
    layers: list[LayerSpec] = Field(default_factory=list, description="compressed sizes, bottom first")
    compression: Literal["gzip", "zstd", "none"] = "gzip"
    lazy: bool = Field(
        False, description="what-if: lazily pullable (eStargz / SOCI / Nydus style): a container starts once the "
        "manifest and the prefetch share are local; the rest is fetched in the background while it runs",
    )
    prefetch: float = Field(
        0.064, ge=0, le=1, description="share of each layer fetched before a lazily pulled container starts "
        "(Harter et al., Slacker, FAST'16: containers read 6.4% of the image data they pull)",
    )


# ---------------------------------------------------------------- hosts

class Daemon(Strict):
    """dockerd's knobs."""

    workers: PositiveInt = Field(
        8,
        description="API calls processed at once. dockerd has no fixed pool (one goroutine per request); this "
        "models its effective parallelism (CPU, locks): a model knob, not a Docker setting",
    )
    api_service_time: DurationDist = Field(
        constant(0.002), description="time each API call holds a worker (a distribution; default 2ms)"
    )
    max_concurrent_downloads: PositiveInt = Field(
        3, description="daemon-wide download slots (moby daemon/config/config.go default 3)"
    )
    max_concurrent_uploads: PositiveInt = Field(5, description="daemon-wide upload slots (moby default 5)")
    max_download_attempts: PositiveInt = Field(
        5, description="tries per layer; waits attempt x 5s between tries (moby xfer/download.go)"
    )
    registry_mirrors: list[str] = Field(
        default_factory=list, description="pull-through caches tried in order before Docker Hub for its images; "
        "dockerd applies registry-mirrors to docker.io only and never pushes to them (docker-facts: Registries)",
    )
    build_cache_limit: Size | None = Field(
        None, description="BuildKit build-cache size above which GC prunes least recently used records after a "
        "build; default 10% of the host's disk (dockerd's default GC policy keeps about 10% of disk, "
        "docker-facts.md: Build)",
    )


#: gzip: Go's stdlib inflates at 170-250 MiB/s of output (containerd#13560); zstd 940 MB/s vs gzip's 360 MB/s
#: on lzbench (facebook/zstd README), so about 2.5x faster.
DEFAULT_DECOMPRESS: dict[Literal["gzip", "zstd"], float] = {"gzip": 200 * 2**20, "zstd": 900 * 2**20}


class Storage(Strict):
    """How fast a host unpacks layers: decompression output rate per compression and file write rate."""

    decompress_rate: dict[Literal["gzip", "zstd"], Rate] = Field(
        default_factory=lambda: dict(DEFAULT_DECOMPRESS),
        description="uncompressed bytes per second: gzip 200MiB/s (Go stdlib 170-250MiB/s, containerd#13560), "
        "zstd 900MiB/s (lzbench 940MB/s vs gzip 360MB/s, facebook/zstd README)",
    )
    write_rate: Rate = Field(400 * 2**20, description="file writes into the snapshot; inf disables the cost")
    compress_rate: Rate = Field(
        32 * 2**20, description="gzip of a locally built layer during push, uncompressed bytes per second on one "
        "core (moby#28732: about 32MiB/s); inf disables the cost",
    )

    @model_validator(mode="after")
    def _both_compressions(self) -> Storage:
        if set(self.decompress_rate) != set(DEFAULT_DECOMPRESS):
            object.__setattr__(self, "decompress_rate", {**DEFAULT_DECOMPRESS, **self.decompress_rate})
        return self


class Runtime(Strict):
    """Container runtime costs (distributions), calibrated so a warm ``docker run`` (two API calls of 2ms plus
    create, mount, netns, start, exec) totals 568ms, Khan's SSD figure (arXiv:2602.15214: SSD 568ms, HDD
    1157ms, namespace setup 8-10ms); the split between the steps is dsim's (see README "Containers")."""

    create: DurationDist = Field(
        constant(0.06), description="POST create: the writable layer's snapshot and the config on disk (60ms)"
    )
    mount: DurationDist = Field(constant(0.02), description="start: mount the writable (overlay) layer (20ms)")
    netns: DurationDist = Field(
        constant(0.01), description="network sandbox (netns + veth) under the host's kernel lock (10ms; Khan: 8-10ms)"
    )
    start: DurationDist = Field(
        constant(0.454), description="runc create: containerd shim, cgroups, namespaces, rootfs (454ms)"
    )
    exec: DurationDist = Field(constant(0.02), description="runc start: the container's process begins (20ms)")
    page_cache_fraction: float = Field(
        0.064, ge=0, le=1,
        description="share of an image's files a container reads, kept once in the host's page cache and shared "
        "by every container of the image (Harter et al., Slacker, FAST'16: 6.4% of pulled data is read)",
    )


class VmFlavour(Strict):
    """A virtual machine per instance (``isolation: vm | microvm`` on a run step): a guest kernel boots, the
    guest's memory plus the VMM's overhead is reserved on the host, and the guest's page cache is its own."""

    boot: DurationDist = Field(description="guest kernel boot until user space runs the workload")
    overhead: Size = Field(description="host memory of the VMM process itself, per instance")
    memory: Size = Field(description="guest memory when the run step gives no `memory`")


#: A general-purpose VM (QEMU/KVM with a distribution kernel): boots in "seconds to a minute"
#: (docker-facts.md: Containers); QEMU's own memory overhead about 131 MB per VM (Agache et al., NSDI'20).
DEFAULT_VM = VmFlavour(boot="uniform(5s, 60s)", overhead=131 * 2**20, memory=2**30)
#: A Firecracker microVM: <= 125 ms from InstanceStart to the guest's /sbin/init, VMM overhead <= 5 MiB for a
#: 1 vCPU / 128 MiB guest (firecracker SPECIFICATION.md).
DEFAULT_MICROVM = VmFlavour(boot="125ms", overhead=5 * 2**20, memory=128 * 2**20)


def _port_range(value: object) -> object:
    if isinstance(value, str) and "-" in value:
        low, _, high = value.partition("-")
        return (low.strip(), high.strip())
    return value


def _percent(value: object) -> object:
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            return float(value.strip()[:-1]) / 100
        except ValueError:
            raise ValueError(f"invalid percentage {value!r} (expected e.g. 85%)") from None
    return value


Fraction = Annotated[float, BeforeValidator(_percent), Field(ge=0, le=1), WithJsonSchema(
    {"anyOf": [{"type": "number"}, {"type": "string"}], "description": "a fraction: 0.85 or 85%"})]


class ImageGc(Strict):
    """Before a pull that would take disk use above ``high``, remove least recently used images that no
    container uses until use is at most ``low`` (kubelet's imageGCHighThresholdPercent 85 and
    imageGCLowThresholdPercent 80)."""

    high: Fraction = Field(0.85, description="share of disk that triggers collection (kubelet: 85%)")
    low: Fraction = Field(0.80, description="share of disk collection frees down to (kubelet: 80%)")

    @model_validator(mode="after")
    def _ordered(self) -> ImageGc:
        if self.low > self.high:
            raise ValueError(f"gc: low ({self.low:.0%}) must not exceed high ({self.high:.0%})")
        return self


class HostGroup(Strict):
    """A host, or ``count`` identical hosts named ``<group>-1 ... <group>-N``."""

    count: PositiveInt = 1
    cpus: float = Field(4, gt=0)
    memory: Size = Field(16 * 2**30, description="bytes (default 16GiB)")
    disk: Size = Field(200 * 2**30, description="bytes (default 200GiB)")
    nic: Rate = Field(1.25e8, description="the host's own link (default 1Gbps)")
    daemon: Daemon = Field(default_factory=Daemon)
    storage: Storage = Field(default_factory=Storage)
    runtime: Runtime = Field(default_factory=Runtime)
    preloaded: list[str] = Field(default_factory=list, description="images present at time 0")
    address: str | None = Field(
        None, description="the public address registries see: hosts behind one NAT gateway give the same one and "
        "share a per-address pull limit such as Docker Hub's (default: each host its own)",
    )
    snapshotter: Literal["overlayfs", "stargz"] = Field(
        "overlayfs", description="overlayfs: containerd's default, pulls whole images; stargz: what-if, every image "
        "is pulled lazily as if eStargz (see images.<ref>.lazy)",
    )
    gc: ImageGc | None = Field(
        None, description="image garbage collection as kubelet does it (e.g. {high: 85%, low: 80%}); dockerd alone "
        "never removes images, so by default a pull that does not fit fails with 'no space left on device'",
    )
    ephemeral_ports: Annotated[tuple[int, int], BeforeValidator(_port_range)] = Field(
        (49153, 65535),
        description="host ports for -p CONTAINER and publish_all, first free after the last one given, wrapping "
        "(libnetwork portallocator's fallback range 49153-65535; Linux's ip_local_port_range is often 32768-60999)",
    )
    vm: VmFlavour = Field(DEFAULT_VM, description="isolation: vm (QEMU-like full VM)")
    microvm: VmFlavour = Field(DEFAULT_MICROVM, description="isolation: microvm (Firecracker-like)")

    @model_validator(mode="after")
    def _ports_in_range(self) -> HostGroup:
        low, high = self.ephemeral_ports
        if not 1 <= low <= high <= 65535:
            raise ValueError(f"ephemeral_ports {low}-{high}: need 1 <= low <= high <= 65535")
        return self


# ---------------------------------------------------------------- network

class Link(Strict):
    """A link between two nodes; a host group name means one link per host of the group."""

    a: str
    b: str
    bandwidth: Rate = Field(float("inf"), description="each direction (full duplex)")
    latency: Duration = Field(0.0, description="one way; a request pays the path's round trip")


class Network(Strict):
    links: list[Link] = Field(default_factory=list)


# ---------------------------------------------------------------- workloads

_RATE = re.compile(r"^\s*([0-9.]+)\s*/\s*(s|m|h|ms)\s*$")


def _arrival_rate(value: object) -> float:
    """Jobs per second from ``2/s``, ``30/m``, ``100/h``."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    match = _RATE.match(str(value))
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"invalid arrival rate {value!r} (expected e.g. 2/s, 30/m, 100/h)")
    per = {"ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}[match.group(2)]
    return float(match.group(1)) / per


ArrivalRate = Annotated[float, BeforeValidator(_arrival_rate), WithJsonSchema(
    {"anyOf": [{"type": "number"}, {"type": "string"}], "description": "an arrival rate: 2/s, 30/m, 100/h"})]


class Burst(Strict):
    burst: Count = Field(description="jobs arriving together")
    at: Duration = 0.0


class Poisson(Strict):
    rate: ArrivalRate = Field(description="mean arrivals per unit time, e.g. 2/s")
    count: Count
    at: Duration = Field(0.0, description="first possible arrival")


class Every(Strict):
    every: Duration
    count: Count
    at: Duration = 0.0


class Times(Strict):
    times: list[Duration]


Arrival = Burst | Poisson | Every | Times


def _port(value: object) -> object:
    return str(value) if isinstance(value, int) else value


RESTART_POLICY = re.compile(r"^(no|always|unless-stopped|on-failure(:\d+)?)$")


class HealthCheck(Strict):
    """``HEALTHCHECK`` / ``--health-*``: probes while the container runs; the first success makes it healthy,
    ``retries`` failures in a row after the start period make it unhealthy (moby daemon/health.go)."""

    interval: Duration = Field(30.0, gt=0, description="between probes once out of the start period (Docker: 30s)")
    start_period: Duration = Field(0.0, description="failures in this window do not count (Docker: 0s)")
    start_interval: Duration = Field(
        5.0, gt=0, description="between probes during the start period while starting (Docker Engine 25+: 5s)"
    )
    retries: PositiveInt = Field(3, description="consecutive failures that make it unhealthy (Docker: 3)")
    time_to_healthy: DurationDist = Field(
        constant(0.0), description="after the process starts, when the check command first succeeds (inf: never)"
    )


class ContainerOptions(Strict):
    """What ``docker create`` / ``docker run`` ask for, and the workload the container's process runs."""

    image: str
    name: str | None = None
    duration: DurationDist = Field(
        constant(0.0),
        description="wall time the process runs (not CPU-bound); inf: until stopped. With cpu_time: paces the "
        "CPU work (at most cpu_time/duration cores, so alone it takes exactly duration)",
    )
    cpu_time: DurationDist | None = Field(
        None, description="CPU-seconds the process needs; it ends when they are done, stretched by contention"
    )
    cpus: float | None = Field(None, gt=0, description="--cpus: CFS quota over a 100ms period, caps its CPU share")
    threads: PositiveInt | None = Field(
        None, description="runnable threads of the workload (cores it can use); default ceil(cpus), else 1"
    )
    memory: Size | None = Field(None, description="--memory: the cgroup limit; Docker refuses limits below 6MB")
    memory_usage: SizeDist | None = Field(
        None, description="memory the workload uses, allocated when its process starts (over `memory`: OOM kill)"
    )
    ports: list[Annotated[str, BeforeValidator(_port)]] = Field(
        default_factory=list, description="-p [HOST:]CONTAINER[/PROTO]; without HOST an ephemeral host port"
    )
    expose: list[Annotated[str, BeforeValidator(_port)]] = Field(
        default_factory=list, description="container ports the image EXPOSEs (or --expose); publish_all maps them"
    )
    publish_all: bool = Field(False, description="-P: publish every exposed port on an ephemeral host port")
    exit_code: int = Field(0, ge=0, le=255, description="the process's exit code when its run ends")
    fail_probability: float = Field(
        0.0, ge=0, le=1, description="chance a run fails instead (exit_code, or 1 when exit_code is 0)"
    )
    restart: str = Field(
        "no", description="restart policy: no | always | unless-stopped | on-failure[:N] (moby restartmanager)"
    )
    healthcheck: HealthCheck | None = None
    stop_time: DurationDist = Field(
        constant(0.0), description="how long the process takes to exit after SIGTERM (over the timeout: SIGKILL)"
    )
    writes: Size = Field(0.0, description="bytes the process writes to new files in its writable layer")
    copy_up: Size = Field(
        0.0, description="bytes of image files it modifies: the first write copies each whole file up"
    )
    isolation: Literal["container", "vm", "microvm"] = Field(
        "container", description="container: the host's kernel; vm / microvm: a guest kernel per instance"
    )

    @model_validator(mode="after")
    def _check(self) -> ContainerOptions:
        if self.memory is not None and self.memory < 6 * 2**20:
            raise ValueError("Minimum memory limit allowed is 6MB")
        for port in (*self.ports, *self.expose):
            if not re.fullmatch(r"(\d+:)?\d+(/tcp|/udp)?", port):
                raise ValueError(f"invalid port mapping {port!r} (expected [HOST:]CONTAINER, e.g. 8080:80)")
        for port in self.expose:
            if ":" in port:
                raise ValueError(f"expose takes container ports only, not {port!r}")
        if not RESTART_POLICY.match(self.restart):
            raise ValueError(f"invalid restart policy {self.restart!r} (no, always, unless-stopped, on-failure[:N])")
        if self.fail_probability > 0 and self.cpu_time is None and math.isinf(self.duration.mean):
            raise ValueError("fail_probability needs a run that ends: a finite duration or a cpu_time")
        return self


class RunStep(ContainerOptions):
    """``docker run``: create (pull on 'No such image', create again), start, wait for the process to exit."""

    detach: bool = Field(False, description="-d: the step ends once the container has started")
    wait: bool = Field(
        False, description="with detach and a healthcheck: end the step when the container is healthy (compose --wait)"
    )

    @model_validator(mode="after")
    def _check_wait(self) -> RunStep:
        if self.wait and (self.healthcheck is None or not self.detach):
            raise ValueError("wait needs detach: true and a healthcheck")
        if self.detach and self.runs_until_stopped and self.fail_probability > 0:
            raise ValueError("fail_probability needs a run that ends: a finite duration or a cpu_time")
        return self

    @property
    def runs_until_stopped(self) -> bool:
        """``docker run -d`` of a server: no duration and no cpu_time means it runs until stopped."""
        return self.detach and self.cpu_time is None and self.duration.is_constant and self.duration.mean == 0


class ContainerRef(Strict):
    """Names a container of this job; default the job's most recent one."""

    container: str | None = None


class StopStep(ContainerRef):
    timeout: Duration = Field(10.0, description="SIGKILL after this (docker stop default 10s)")


class CreateStep(ContainerOptions):
    """``docker create``: the container exists (Created) until a ``start`` step."""

    duration: DurationDist = Field(constant(float("inf")), description="how long the process runs once started")


class PsStep(Strict):
    """``docker ps``: one API call; lists running (and restarting) containers, every container with ``all``."""

    all: bool = Field(False, description="-a")


# ---------------------------------------------------------------- builds (issue 4)

def _regex_keys(value: Mapping[str, object], field: str) -> None:
    for pattern in value:
        try:
            re.compile(pattern)
        except re.error as err:
            raise ValueError(f"{field}: invalid regular expression {pattern!r}: {err}") from None


class BuildContextSpec(Strict):
    """A build context on the client: files (path -> bytes) and the ``.dockerignore`` the CLI applies."""

    files: dict[str, Size] = Field(default_factory=dict, description="path relative to the context root -> bytes")
    dockerignore: list[str] = Field(
        default_factory=list, description=".dockerignore lines (moby/patternmatcher: *, ?, **, ! re-includes)"
    )


class CacheTo(Strict):
    """``--cache-to type=registry,ref=REF,mode=MODE``: export the build's cache records to a registry."""

    ref: str = Field(description="the cache manifest's reference, e.g. local/app:buildcache")
    mode: Literal["min", "max"] = Field(
        "min", description="min (BuildKit's default): only the final image's layers; max: every step's layer"
    )


class CacheMountRunTime(Strict):
    """A RUN's duration by the state of its cache mounts (``RUN --mount=type=cache``): ``cold`` when a cache
    directory it mounts is empty (its id never used on this daemon, or a fresh ``sharing=private`` copy),
    ``warm`` when every one holds what an earlier RUN left there. A RUN without cache mounts is always cold."""

    cold: DurationDist = Field(description="on an idle host with an empty cache (a first build: everything fetched)")
    warm: DurationDist = Field(
        description="on an idle host when every cache mount is warm (an earlier RUN with that id finished on this "
        "daemon)",
    )


def _run_time_kind(value: object) -> str:
    """The union member's tag: its class name (so error paths name the field the user wrote)."""
    return "CacheMountRunTime" if isinstance(value, (dict, CacheMountRunTime)) else "Distribution"


#: a RUN's duration: a duration or distribution, or ``{cold: ..., warm: ...}`` by its cache mounts' state
RunTime = Annotated[
    Annotated[DurationDist, Tag("Distribution")] | Annotated[CacheMountRunTime, Tag("CacheMountRunTime")],
    Discriminator(_run_time_kind),
]


class BuildStep(Strict):
    """``docker build``: a Dockerfile (a path relative to the scenario file, or inline) over a context."""

    dockerfile: str | None = Field(None, description="path relative to the scenario file")
    dockerfile_text: str | None = Field(None, description="the Dockerfile inline")
    context: str | None = Field(None, description="a name under contexts:; omit for an empty context")
    context_from: str | None = Field(
        None, description="host where the context lives (the CLI talks to this job's daemon remotely); default the "
        "job's own host: a local transfer that costs no network time",
    )
    tag: str | None = Field(None, description="-t: the image reference; a first component naming a registry "
                                              "(local/app:1) places it in that registry for push")
    builder: Literal["buildkit", "classic"] = Field(
        "buildkit", description="buildkit (Docker's default since Engine 23.0) or the legacy builder"
    )
    target: str | None = Field(None, description="--target: the stage to build; default the last one")
    build_args: dict[str, Annotated[str, BeforeValidator(str)]] = Field(
        default_factory=dict, description="--build-arg NAME=VALUE"
    )
    run_times: dict[str, RunTime] = Field(
        default_factory=dict, description="regex searched in a RUN instruction's text -> its duration on an idle "
        "host (first match wins); or {cold: D, warm: D}: cold the first time, warm once its cache mounts "
        "(RUN --mount=type=cache) hold an earlier run's files",
    )
    default_run_time: RunTime = Field(
        constant(1.0), description="a RUN no run_times pattern matches (1s: a model default, not a Docker figure); "
        "also takes {cold: D, warm: D}"
    )
    run_cpus: float = Field(
        1.0, gt=0, description="cores a RUN keeps busy (1: pip, apt-get, npm are mostly one process; raise it for "
        "parallel compiles); RUN steps share the host's CPUs with everything else running there",
    )
    layer_sizes: dict[str, SizeDist] = Field(
        default_factory=dict, description="regex searched in an instruction's text -> the layer's (uncompressed) "
        "bytes; COPY/ADD from the context always write the bytes they copy",
    )
    default_layer_size: SizeDist = Field(
        constant(0.0), description="a RUN (or COPY --from an image) no layer_sizes pattern matches (0B)"
    )
    no_cache: bool = Field(False, description="--no-cache: every step runs")
    no_cache_filter: list[str] = Field(default_factory=list, description="--no-cache-filter: these stages run")
    cache_from: list[str] = Field(
        default_factory=list, description="--cache-from type=registry,ref=REF: import cache records from a registry"
    )
    cache_to: CacheTo | None = Field(None, description="--cache-to type=registry: export cache records")
    max_parallelism: PositiveInt | None = Field(
        None, description="steps this build executes at once (BuildKit's max-parallelism; dockerd sets none)"
    )

    @model_validator(mode="after")
    def _check(self) -> BuildStep:
        if (self.dockerfile is None) == (self.dockerfile_text is None):
            raise ValueError("a build has exactly one of dockerfile, dockerfile_text")
        _regex_keys(self.run_times, "run_times")
        _regex_keys(self.layer_sizes, "layer_sizes")
        if self.builder == "classic":
            unsupported = [name for name in ("no_cache_filter", "cache_from", "cache_to", "max_parallelism")
                           if getattr(self, name)]
            if unsupported:
                raise ValueError(f"{', '.join(unsupported)}: not supported by the classic builder (BuildKit only)")
        return self


class EditStep(Strict):
    """Change files of the job's copy of a build context: each gets new content (a new content digest)."""

    context: str
    files: list[str] = Field(min_length=1, description="paths in the context")


class Step(Strict):
    """One client command; exactly one key."""

    pull: str | None = None
    push: str | None = Field(
        None, description="docker push REF: to the registry its first component names (local/app:1), else its own"
    )
    run: RunStep | None = None
    create: CreateStep | None = None
    start: ContainerRef | None = None
    stop: StopStep | None = None
    rm: ContainerRef | None = None
    ps: PsStep | None = Field(None, description="docker ps: one cheap API call")
    sleep: DurationDist | None = Field(None, description="client think time (no API call)")
    build: BuildStep | None = Field(None, description="docker build")
    edit: EditStep | None = Field(None, description="change build-context files (no API call)")

    @model_validator(mode="after")
    def _exactly_one(self) -> Step:
        given = [name for name in type(self).model_fields if getattr(self, name) is not None]
        if len(given) != 1:
            kinds = ", ".join(type(self).model_fields)
            raise ValueError(f"a step has exactly one of {kinds}; got {', '.join(given) or 'none'}")
        return self

    @property
    def kind(self) -> str:
        return next(name for name in type(self).model_fields if getattr(self, name) is not None)


class Workload(Strict):
    arrival: Arrival
    placement: str = Field(
        "round-robin", description="round-robin | least-loaded | random | a host group name | a host name"
    )
    steps: list[Step] = Field(min_length=1)


# ---------------------------------------------------------------- scenario

class Scenario(Strict):
    """A whole scenario file."""

    name: str = Field(min_length=1)
    description: str = ""
    seed: int = 0
    until: Duration | None = Field(None, description="horizon; jobs not ended by then are 'unfinished'")
    registries: dict[str, Registry] = Field(default_factory=dict)
    images: dict[str, Image] = Field(default_factory=dict)
    hosts: dict[str, HostGroup] = Field(min_length=1)
    network: Network | None = None
    contexts: dict[str, BuildContextSpec] = Field(default_factory=dict, description="build contexts")
    workloads: dict[str, Workload] = Field(min_length=1)


def layer_uncompressed(layer: Layer, compression: str) -> float:
    """Bytes a layer takes once unpacked."""
    if layer.uncompressed is not None:
        return layer.uncompressed
    return layer.size if compression == "none" else layer.size * DEFAULT_UNCOMPRESSED_RATIO

