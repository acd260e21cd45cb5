"""The part of the Compose Specification dsim models, as strict pydantic models (docs/compose.md).

A compose file is first checked against the specification's own JSON schema (compose_file.py); what
passes there but is not a field here is a key the specification allows and dsim does not model, and is
reported as such (never ignored). ``x-`` extension keys are the specification's way to carry data its
implementations do not read; dsim reads one, ``x-dsim`` on a service, for what a file cannot say: the
startup work before it is ready and what its healthcheck's command costs, how long it runs, its exit code,
and the requests it makes to other services.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, ConfigDict, Field, model_validator

from dsim.distributions import Distribution, constant
from dsim.domain.health import check_probes
from dsim.scenarios.fields import DurationDist, FiniteDuration, FiniteDurationDist, FiniteSize, FiniteSizeDist
from dsim.scenarios.model.base import Strict
from dsim.scenarios.model.builds import RunTime
from dsim.scenarios.model.containers import ServiceCall


def _number(value: object) -> object:
    """The schema allows numbers written as strings (``retries: "3"``, ``replicas: "2"``)."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return value


Number = Annotated[int, BeforeValidator(_number), Field(ge=0)]
#: a value of an ``environment`` or ``labels`` mapping (the schema's string, number, boolean or null)
Scalar = str | int | float | bool | None


class Compose(Strict):
    """A compose model: unknown keys are errors (dsim does not model them), names as the file writes them."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, populate_by_name=True)


class XDsim(Compose):
    """``x-dsim`` on a service: what a Compose file does not say but the model needs."""

    time_to_healthy: DurationDist = Field(
        constant(0.0), description="after the process starts, the earliest its healthcheck's test can succeed, as "
        "a wall-clock wait (inf: never); with startup_cpu, the later of the two")
    startup_cpu: FiniteDurationDist = Field(
        constant(0.0), description="CPU-seconds of startup work (initdb, recovery, loading modules) before the "
        "healthcheck's test can succeed, on the host's processor-sharing scheduler: a busy host is ready later "
        "(needs a healthcheck; docs/compose.md)")
    startup_io: FiniteSize = Field(
        0.0, description="bytes the startup work writes to the host's disk after its CPU work, at the disk's "
        "shared write rate (needs a healthcheck)")
    probe_cpu: FiniteDurationDist = Field(
        constant(0.0), description="CPU-seconds the healthcheck's test command uses per probe (e.g. pg_isready), "
        "after the exec that starts it; over the healthcheck's timeout the probe fails (needs a healthcheck)")
    calls: list[ServiceCall] = Field(
        default_factory=list, description="requests the service's process makes to other services, by service "
        "name on a network both are on (compose's DNS aliases), in the shape of a run step's calls "
        "(docs/networks-storage.md: Traffic between containers)")
    duration: DurationDist = Field(
        constant(float("inf")), description="how long the process runs; inf (default): a server, until stopped "
        "(with cpu_time: until its CPU work is done)")
    cpu_time: FiniteDurationDist | None = Field(
        None, description="CPU-seconds the process needs, as a run step's: it ends when they are done, at most at "
        "its cpus cap, stretched by contention")
    memory_usage: FiniteSizeDist | None = Field(
        None, description="memory the process uses, allocated when it starts, as a run step's (over mem_limit: "
        "the cgroup's OOM kill)")
    exit_code: int = Field(0, ge=0, le=255, description="the process's exit code when its run ends")
    stop_time: DurationDist = Field(constant(0.0), description="how long it takes to exit after SIGTERM")


class Healthcheck(Compose):
    """``healthcheck``: moby's defaults (https://docs.docker.com/reference/dockerfile/#healthcheck):
    interval 30s, timeout 30s, retries 3, start period 0s; start interval 5s (Docker Engine 25+)."""

    test: str | list[str] | None = None
    interval: FiniteDuration = Field(30.0, gt=0)
    timeout: FiniteDuration = Field(30.0, gt=0)
    retries: Number = 3
    start_period: FiniteDuration = 0.0
    start_interval: FiniteDuration = Field(5.0, gt=0)
    disable: bool | str = False


class DependsOn(Compose):
    """The long form of one ``depends_on`` entry."""

    condition: Literal["service_started", "service_healthy", "service_completed_successfully"]
    required: bool = True
    restart: bool = False


class PortLong(Compose):
    """The long form of a ``ports`` entry (``target``, ``published``, ``protocol``)."""

    target: int | str
    published: int | str | None = None
    protocol: Literal["tcp", "udp"] = "tcp"


class VolumeLong(Compose):
    """The long form of a service's ``volumes`` entry."""

    type: Literal["volume", "bind", "tmpfs"]
    source: str | None = None
    target: str
    read_only: bool | str = False


class ServiceNetwork(Compose):
    """A service's entry under ``networks`` in the mapping form: dsim models none of its keys."""


#: a number the schema allows as a number or a string, read by compose_resources.py as compose-go reads it
Raw = int | float | str | None


class Limits(Compose):
    """``deploy.resources.limits``: ``cpus``, ``memory`` and ``pids`` (compose_resources.py)."""

    cpus: Raw = None
    memory: Raw = None
    pids: Raw = None


class Reservations(Compose):
    """``deploy.resources.reservations``: ``cpus`` changes nothing for a container, ``memory`` is a soft limit
    checked and changing nothing (compose_resources.py); ``devices`` and ``generic_resources`` are not modelled."""

    cpus: Raw = None
    memory: Raw = None


class DeployResources(Compose):
    """``deploy.resources``."""

    limits: Limits | None = None
    reservations: Reservations | None = None


class Deploy(Compose):
    """``deploy``: dsim models ``replicas`` and ``resources`` (compose_resources.py)."""

    replicas: Number | None = None
    resources: DeployResources | None = None


class XDsimBuild(Compose):
    """``x-dsim`` in a service's ``build``: what a build step says and a compose file cannot (docs/build.md:
    the RUN steps' durations and cores, the layers' sizes) and context files not on disk."""

    files: dict[str, FiniteSize] = Field(
        default_factory=dict, description="context files (path -> bytes) besides, or instead of, those on disk")
    run_times: dict[str, RunTime] = Field(
        default_factory=dict, description="regex searched in a RUN's text -> its duration (as a build step's)")
    default_run_time: RunTime = Field(constant(1.0), description="a RUN no run_times pattern matches (1s)")
    run_cpus: float = Field(1.0, gt=0, allow_inf_nan=False, description="cores a RUN keeps busy")
    layer_sizes: dict[str, FiniteSizeDist] = Field(
        default_factory=dict, description="regex searched in an instruction's text -> its layer's bytes")
    default_layer_size: FiniteSizeDist = Field(constant(0.0), description="a RUN no layer_sizes pattern matches")


class Build(Compose):
    """A service's ``build`` (Compose Build Specification): the context directory (relative to the compose
    file), its Dockerfile, build args and target; other build keys are not modelled."""

    context: str = "."
    dockerfile: str = "Dockerfile"
    args: dict[str, str | int | float | bool | None] | list[str] = Field(default_factory=dict)
    target: str | None = None
    x_dsim: XDsimBuild = Field(default_factory=XDsimBuild, alias="x-dsim")


class Service(Compose):
    """One service."""

    image: str | None = None
    build: str | Build | None = None
    container_name: str | None = None
    ports: list[int | str | PortLong] = Field(default_factory=list)
    expose: list[int | str] = Field(default_factory=list)
    depends_on: list[str] | dict[str, DependsOn] = Field(default_factory=list)
    healthcheck: Healthcheck | None = None
    networks: list[str] | dict[str, ServiceNetwork | None] = Field(default_factory=list)
    network_mode: str | None = None
    volumes: list[str | VolumeLong] = Field(default_factory=list)
    deploy: Deploy | None = None
    restart: str = "no"
    # the container's CPU and memory limits (compose_resources.py)
    cpus: Raw = None
    cpu_shares: Raw = None
    cpu_quota: Raw = None
    cpu_period: Raw = None
    cpuset: str | None = None
    cpu_count: Raw = None
    cpu_percent: Raw = None
    mem_limit: Raw = None
    mem_reservation: Raw = None
    memswap_limit: Raw = None
    pids_limit: Raw = None
    stop_grace_period: FiniteDuration | None = None
    # the container's configuration that the model does not act on (no program runs): kept, so that a change
    # recreates the container at the next up, as compose's config hash does (compose_project.py)
    environment: dict[str, Scalar] | list[str] = Field(default_factory=dict)
    command: str | list[str] | None = None
    entrypoint: str | list[str] | None = None
    labels: dict[str, Scalar] | list[str] = Field(default_factory=dict)
    working_dir: str | None = None
    user: str | None = None
    hostname: str | None = None
    #: the profiles that enable the service (none: always enabled; compose_project.with_profiles)
    profiles: list[str] = Field(default_factory=list)
    x_dsim: XDsim = Field(default_factory=XDsim, alias="x-dsim")

    @model_validator(mode="after")
    def _bounded_probes(self) -> Service:
        check = self.healthcheck
        if check is not None:
            check_probes(self.x_dsim.time_to_healthy.mean, check.interval, check.start_interval, check.start_period)
        return self


class Ipam(Compose):
    config: list[IpamPool] = Field(default_factory=list)


class IpamPool(Compose):
    subnet: str | None = None


class Network(Compose):
    """A top-level network: a bridge network of the project."""

    name: str | None = None
    driver: Literal["bridge"] = "bridge"
    internal: bool = False
    external: bool = False
    ipam: Ipam | None = None


class Volume(Compose):
    """A top-level named volume of the ``local`` driver."""

    name: str | None = None
    driver: Literal["local"] = "local"
    external: bool = False


class Project(Compose):
    """A whole compose file (``version`` is obsolete and accepted, as docker compose v2 does with a warning)."""

    version: str | None = None
    name: str | None = None
    services: dict[str, Service] = Field(default_factory=dict)
    networks: dict[str, Network | None] = Field(default_factory=dict)
    volumes: dict[str, Volume | None] = Field(default_factory=dict)


Ipam.model_rebuild()

__all__ = ["Deploy", "DeployResources", "DependsOn", "Limits", "Reservations",
           "Distribution", "Healthcheck", "Network", "PortLong", "Project", "Service",
           "Volume", "VolumeLong", "XDsim"]
