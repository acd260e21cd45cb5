"""The scenario format v1 as strict pydantic models (``extra="forbid"``, frozen).

Every default that stands for real Docker behaviour is a named field whose description says where the
number comes from (``../shared/docker-facts.md``); ``dsim schema`` prints these models as JSON Schema.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, model_validator

from dsim.distributions import DurationDist, constant
from dsim.units import Duration, Rate, Size

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


class Registry(Strict):
    """A registry: request latency, egress bandwidth, authentication."""

    bandwidth: Rate = Field(1.25e9, description="egress shared by every transfer from this registry (default 10Gbps)")
    latency: Duration = Field(0.03, description="time added to each request by the registry itself (default 30ms)")
    auth: Literal["none", "token"] = Field(
        "none", description="token: one token round trip per pull, as Docker Hub's Bearer realm (docker-facts: Pull 1)"
    )
    rate_limit: RateLimit | None = Field(None, description="per client host; omit for none")


# ---------------------------------------------------------------- images

#: Uncompressed / compressed size when a layer does not say: the median of the 16 real images in
#: ../shared/catalog (2.2-2.9x, median 2.7).
DEFAULT_UNCOMPRESSED_RATIO = 2.7


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

    @model_validator(mode="after")
    def _both_compressions(self) -> Storage:
        if set(self.decompress_rate) != set(DEFAULT_DECOMPRESS):
            object.__setattr__(self, "decompress_rate", {**DEFAULT_DECOMPRESS, **self.decompress_rate})
        return self


class Runtime(Strict):
    """Container runtime costs (distributions), calibrated so a warm ``docker run`` totals about 0.57s on SSD
    (Khan, arXiv:2602.15214: 568ms; namespace setup 8-10ms)."""

    create: DurationDist = Field(constant(0.06), description="create: the writable layer and config (60ms)")
    start: DurationDist = Field(constant(0.49), description="runc create + start: cgroups, namespaces, process (490ms)")
    netns: DurationDist = Field(constant(0.01), description="network sandbox under the host's kernel lock (10ms)")


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


ArrivalRate = Annotated[float, BeforeValidator(_arrival_rate), WithJsonSchema({"type": "string"})]


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


class RunStep(Strict):
    """``docker run``: create (pull on 'No such image', create again), start, run for ``duration``."""

    image: str
    duration: DurationDist = Field(constant(0.0), description="wall time the process runs; inf: until stopped")
    detach: bool = Field(False, description="-d: the step ends once the container has started")
    name: str | None = None
    cpus: float | None = Field(None, gt=0, description="--cpus (CFS quota)")
    memory: Size | None = Field(None, description="--memory; Docker refuses limits below 6MB")
    ports: list[Annotated[str, BeforeValidator(_port)]] = Field(
        default_factory=list, description="-p HOST:CONTAINER, e.g. 8080:80"
    )
    stop_time: DurationDist = Field(
        constant(0.0), description="how long the process takes to exit after SIGTERM (over the timeout: SIGKILL)"
    )

    @model_validator(mode="after")
    def _check(self) -> RunStep:
        if self.memory is not None and self.memory < 6 * 2**20:
            raise ValueError("Minimum memory limit allowed is 6MB")
        for port in self.ports:
            if not re.fullmatch(r"(\d+:)?\d+(/tcp|/udp)?", port):
                raise ValueError(f"invalid port mapping {port!r} (expected HOST:CONTAINER, e.g. 8080:80)")
        return self


class ContainerRef(Strict):
    """Names a container of this job; default the job's most recent one."""

    container: str | None = None


class StopStep(ContainerRef):
    timeout: Duration = Field(10.0, description="SIGKILL after this (docker stop default 10s)")


class CreateStep(Strict):
    image: str
    name: str | None = None
    cpus: float | None = Field(None, gt=0)
    memory: Size | None = None
    ports: list[Annotated[str, BeforeValidator(_port)]] = Field(default_factory=list)
    duration: DurationDist = Field(constant(float("inf")), description="how long the process runs once started")


class Step(Strict):
    """One client command; exactly one key."""

    pull: str | None = None
    run: RunStep | None = None
    create: CreateStep | None = None
    start: ContainerRef | None = None
    stop: StopStep | None = None
    rm: ContainerRef | None = None
    ps: dict[str, str] | None = Field(None, description="docker ps: one cheap API call")
    sleep: DurationDist | None = Field(None, description="client think time (no API call)")

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
    workloads: dict[str, Workload] = Field(min_length=1)


def layer_uncompressed(layer: Layer, compression: str) -> float:
    """Bytes a layer takes once unpacked."""
    if layer.uncompressed is not None:
        return layer.uncompressed
    return layer.size if compression == "none" else layer.size * DEFAULT_UNCOMPRESSED_RATIO

