"""Container steps: ``docker run`` / ``create`` options and workload, healthchecks, stop, ps."""

from __future__ import annotations

import math
import re
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from dsim.distributions import constant
from dsim.domain.health import check_probes
from dsim.scenarios.fields import (
    Duration,
    DurationDist,
    FiniteDuration,
    FiniteDurationDist,
    FiniteSize,
    Size,
    SizeDist,
)
from dsim.scenarios.layer_paths import check_layer_files
from dsim.scenarios.model.base import PositiveInt, Strict
from dsim.scenarios.model.objects import NAME, Mount


def _port(value: object) -> object:
    return str(value) if isinstance(value, int) else value


RESTART_POLICY = re.compile(r"^(no|always|unless-stopped|on-failure(:\d+)?)$")


class HealthCheck(Strict):
    """``HEALTHCHECK`` / ``--health-*``: probes while the container runs, each an exec costing time and CPU on
    the host, the next one interval after a probe ends; a success makes it healthy, ``retries`` failures in a
    row after the start period make it unhealthy (moby daemon/health.go). A probe passes once the process is
    ready: its startup work done (startup_cpu, startup_io) and time_to_healthy passed (components/health.py)."""

    interval: FiniteDuration = Field(
        30.0, gt=0, description="between probes once out of the start period (Docker: 30s)")
    start_period: Duration = Field(0.0, description="failures in this window do not count (Docker: 0s)")
    start_interval: FiniteDuration = Field(
        5.0, gt=0, description="between probes during the start period while starting (Docker Engine 25+: 5s)"
    )
    retries: PositiveInt = Field(3, description="consecutive failures that make it unhealthy (Docker: 3)")
    time_to_healthy: DurationDist = Field(
        constant(0.0), description="after the process starts, the earliest a check can succeed (inf: never), as a "
        "wall-clock wait; with startup_cpu the check passes once both are over (the later of the two)"
    )
    timeout: FiniteDuration = Field(
        30.0, gt=0, description="a probe's command is killed after this long and the probe fails (Docker: 30s; "
        "the exec's start does not count, moby daemon/health.go)")
    startup_cpu: FiniteDurationDist = Field(
        constant(0.0), description="CPU-seconds of startup work the process does before its check can pass, on the "
        "host's processor-sharing scheduler at the container's cores (a busy host is ready later; "
        "docs/containers.md: Health checks as work)",
    )
    startup_io: FiniteSize = Field(
        0.0, description="bytes the startup work writes to the host's disk after its CPU work (initdb's data "
        "files), taking time at the disk's write rate shared with every other write (its space is not counted: "
        "give writes or mounts for that)",
    )
    probe_cpu: FiniteDurationDist = Field(
        constant(0.0), description="CPU-seconds the check command itself uses per probe (one core), on top of the "
        "exec that starts it (hosts.<group>.runtime.probe_exec); over `timeout` the probe fails",
    )

    @model_validator(mode="after")
    def _bounded_probes(self) -> HealthCheck:
        check_probes(self.time_to_healthy.mean, self.interval, self.start_interval, self.start_period)
        return self


#: a service call's target: a container name or network alias, or HOST:PORT (a published port)
CALL_TARGET = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*(:\d{1,5})?$")


class ServiceCall(Strict):
    """Requests to another container (components/service_calls.py): each a round trip through the network
    model (one host: its bridge; two hosts: the bridges and the topology's links), the server's CPU work on
    its host, and the server's own calls. Connections are kept alive (no handshake per request)."""

    to: str = Field(
        description="a container name or --network-alias, answered by the embedded DNS of a user-defined network "
        "both are on (on the default bridge a name does not resolve, as in Docker); or HOST:PORT, a port a running "
        "container publishes on that host (docs/networks-storage.md: Traffic between containers)",
    )
    requests: PositiveInt = Field(
        1, description="requests made (for a server's own calls: per request it serves)")
    concurrency: PositiveInt = Field(
        1, description="requests in flight at most: the client's keep-alive connections, each one request at a time "
        "(1: one after another, as a plain client loop)",
    )
    request: FiniteSize = Field(0.0, description="bytes each request sends (headers and body)")
    response: FiniteSize = Field(0.0, description="bytes each response returns")
    server_cpu: FiniteDurationDist = Field(
        constant(0.0), description="CPU-seconds the server works on each request (a distribution: sampled per "
        "request), one core at most, in the server container's cgroup on its host's scheduler (its --cpus quota and "
        "CPU weight shared with its process and its other requests; the cores shared with everything else there)",
    )
    calls: list[ServiceCall] = Field(
        default_factory=list, description="calls the server makes for each request it serves, in order, before "
        "it answers (a tier behind it: proxy -> app -> db)",
    )

    @field_validator("to")
    @classmethod
    def _check_to(cls, to: str) -> str:
        if not CALL_TARGET.match(to):
            raise ValueError(f"invalid call target {to!r} (a container name, an alias or HOST:PORT)")
        _, colon, port = to.partition(":")
        if colon and not 1 <= int(port) <= 65535:
            raise ValueError(f"invalid call target {to!r}: ports are 1-65535")
        return to


class LayerFileSpec(Strict):
    """A file a run puts in its writable layer (``docker diff`` lists it): ``path`` in the container and
    the bytes it takes there (docs/networks-storage.md: The writable layer)."""

    path: str = Field(description="an absolute path in the container, e.g. /var/log/app.log")
    size: FiniteSize = Field(description="bytes of the file in the writable layer")


class ContainerOptions(Strict):
    """What ``docker create`` / ``docker run`` ask for, and the workload the container's process runs."""

    image: str
    name: str | None = None
    duration: DurationDist = Field(
        constant(0.0),
        description="wall time the process runs (not CPU-bound); inf: until stopped. With cpu_time: paces the "
        "CPU work (at most cpu_time/duration cores, so alone it takes exactly duration)",
    )
    cpu_time: FiniteDurationDist | None = Field(
        None, description="CPU-seconds the process needs; it ends when they are done, stretched by contention"
    )
    cpus: float | None = Field(
        None, gt=0, allow_inf_nan=False, description="--cpus: CFS quota over a 100ms period, caps its CPU share"
    )
    threads: PositiveInt | None = Field(
        None, description="runnable threads of the workload (cores it can use); default ceil(cpus), else 1"
    )
    cpu_shares: int = Field(
        1024, ge=2, le=262144, strict=True,
        description="--cpu-shares: the container's CPU weight (Docker's default 1024; the kernel's bounds 2 to "
        "262144). Under contention runnable containers get CPU in proportion to it, capped by cpus; without "
        "contention it changes nothing",
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
    rm: bool = Field(
        False, description="--rm (AutoRemove): once its process exits, the daemon removes the container and its "
        "anonymous volumes, after the exit's teardown; an attached run step ends after the removal, as the CLI waits "
        "for it (one CLI command, where a run step and an rm step are two). Not with a restart policy",
    )
    healthcheck: HealthCheck | None = None
    stop_time: DurationDist = Field(
        constant(0.0), description="how long the process takes to exit after SIGTERM (over the timeout: SIGKILL)"
    )
    stop_exit_code: int = Field(
        0, ge=0, le=255, description="its exit code when SIGTERM ends it within the timeout: 0 for a clean "
        "shutdown, 143 (128 + 15) when the signal's default action kills it")
    writes: FiniteSize | list[LayerFileSpec] = Field(
        0.0, description="bytes the process writes to new files in its writable layer; or the files, as a list "
        "of {path, size} (docker diff lists them as added)")
    copy_up: FiniteSize | list[LayerFileSpec] = Field(
        0.0, description="bytes of image files it modifies: the first write copies each whole file up; or the "
        "image's files it modifies, as a list of {path, size} (each file's whole size; docker diff: changed)"
    )
    isolation: Literal[
        "container", "vm", "microvm", "runc", "crun", "runsc", "kata-qemu", "kata-clh", "kata-fc"] = Field(
        "container", description="container: the host's kernel; vm / microvm: a guest kernel per instance; "
        "runc, crun, runsc (gVisor), kata-qemu, kata-clh, kata-fc: docker run --runtime NAME, costs from the "
        "host's runtimes (container is runc)",
    )
    network: str = Field(
        "bridge", description="--network: bridge | host | none | container:NAME | a network of the host's group "
        "(hosts.<group>.networks); bridge pays the namespace, veth and iptables, host nothing",
    )
    mounts: list[Mount] = Field(default_factory=list, description="--mount: volumes, bind mounts, tmpfs")
    calls: list[ServiceCall] = Field(
        default_factory=list, description="service calls its process makes to other containers, in order; the "
        "process ends when they are done (and its duration or cpu_time is); a call that fails ends it with the "
        "client's error (docs/networks-storage.md: Traffic between containers)",
    )
    aliases: list[str] = Field(
        default_factory=list, description="--network-alias: more names the embedded DNS answers for it on its "
        "user-defined network",
    )

    @model_validator(mode="after")
    def _check(self) -> ContainerOptions:
        if self.rm and self.restart != "no":  # the docker CLI's words (cli/command/container/opts.go)
            raise ValueError("Conflicting options: --restart and --rm")
        if self.memory is not None and self.memory < 6 * 2**20:
            raise ValueError("Minimum memory limit allowed is 6MB")
        for port in (*self.ports, *self.expose):
            if not re.fullmatch(r"(\d+:)?\d+(/tcp|/udp)?", port):
                raise ValueError(f"invalid port mapping {port!r} (expected [HOST:]CONTAINER, e.g. 8080:80)")
            if not all(1 <= int(number) <= 65535 for number in re.findall(r"\d+", port)):
                raise ValueError(f"invalid port mapping {port!r}: ports are 1-65535")
        for port in self.expose:
            if ":" in port:
                raise ValueError(f"expose takes container ports only, not {port!r}")
        if not RESTART_POLICY.match(self.restart):
            raise ValueError(f"invalid restart policy {self.restart!r} (no, always, unless-stopped, on-failure[:N])")
        check_layer_files(self.writes, self.copy_up)
        if self.cpu_time is None and math.isinf(self.duration.mean):  # it only ends by a stop or a kill
            for field, value in (("exit_code", self.exit_code), ("fail_probability", self.fail_probability)):
                if value:
                    raise ValueError(f"{field} needs a run that ends: a finite duration or a cpu_time")
        for alias in self.aliases:
            if not NAME.match(alias):
                raise ValueError(f"invalid network alias {alias!r}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
        if self.aliases and self.network in ("bridge", "host", "none"):
            raise ValueError("network-scoped alias is supported only for containers in user defined networks")
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
        if self.runs_until_stopped:  # a server's only exits are a stop (stop_exit_code) and a kill
            for field, value in (("exit_code", self.exit_code), ("fail_probability", self.fail_probability)):
                if value:
                    raise ValueError(f"{field} needs a run that ends: a duration (0s: it exits at once) or a cpu_time")
        return self

    @property
    def runs_until_stopped(self) -> bool:
        """``docker run -d`` of a server: no duration written and no cpu_time means it runs until stopped. A
        written ``duration: 0s`` is a process that exits at once (``docker run -d --restart always alpine false``,
        a crash loop), not a server: its exit code and restart policy are the user's."""
        return self.detach and self.cpu_time is None and "duration" not in self.model_fields_set and not self.calls


class ContainerRef(Strict):
    """Names a container of this job; default the job's most recent one."""

    container: str | None = None


class StopStep(ContainerRef):
    timeout: FiniteDuration = Field(10.0, description="SIGKILL after this (docker stop default 10s)")


class RestartStep(ContainerRef):
    """``docker restart``: one API call, the stop (SIGTERM, SIGKILL after ``timeout``), then the start."""

    timeout: FiniteDuration = Field(10.0, description="SIGKILL after this (docker restart default 10s)")


class KillStep(ContainerRef):
    """``docker kill``: the signal sent; the step ends without waiting for the exit, as the CLI does."""

    signal: Literal["KILL", "TERM", "INT", "HUP", "QUIT", "USR1", "USR2"] = Field(
        "KILL", description="KILL (the default) ends the process at once (exit code 137); another signal asks it to "
        "exit, which takes its stop_time and ends with its stop_exit_code",
    )


class CommitStep(ContainerRef):
    """``docker commit``: the container's changes (what its runs wrote and copied up) become a layer on its
    image, as ``POST /commit`` in dsim serve (docs/serve.md); an empty diff adds no layer. A running container
    is paused meanwhile, as dockerd does by default."""

    ref: str | None = Field(None, description="the new image's reference, e.g. local/snap:1 (a later push step "
                                               "sends it to the registry its first component names); none: a "
                                               "dangling image")
    pause: bool = Field(True, description="freeze a running container for the commit (dockerd's default: its "
                                          "processes get no CPU until the image is recorded); false: "
                                          "docker commit --pause=false")


class ExecStep(ContainerRef):
    """``docker exec``: a command started in the running container (docs/containers.md: docker exec). Three API
    calls, as the CLI makes them (the exec's create, its start, the inspect that reads its exit code; two with
    detach), dockerd's exec path (the host's runtime.probe_exec: dockerd, containerd, the shim, runc exec), then
    the command's work; it dies with the container's process (137)."""

    duration: DurationDist = Field(
        constant(0.0), description="wall time the command runs (not CPU-bound); inf: until the container stops "
        "(detach only). With cpu_time: paces the CPU work (at most cpu_time/duration cores)",
    )
    cpu_time: FiniteDurationDist | None = Field(
        None, description="CPU-seconds the command needs, on the host's cores in the container's cgroup: its "
                          "--cpus quota and CPU weight shared with the container's process",
    )
    threads: PositiveInt = Field(1, description="runnable threads of the command (cores it can use)")
    exit_code: int = Field(0, ge=0, le=255, description="the command's exit code: not 0 fails the job, as the "
                                                         "CLI exits with it")
    detach: bool = Field(False, description="-d: the step ends once the command has started")

    @model_validator(mode="after")
    def _ends(self) -> ExecStep:
        if not self.detach and self.cpu_time is None and math.isinf(self.duration.mean):
            raise ValueError("an exec that is not detached needs a command that ends: a finite duration or a "
                             "cpu_time")
        return self


class CreateStep(ContainerOptions):
    """``docker create``: the container exists (Created) until a ``start`` step."""

    duration: DurationDist = Field(constant(float("inf")), description="how long the process runs once started")


class PsStep(Strict):
    """``docker ps``: one API call; lists running (and restarting) containers, every container with ``all``."""

    all: bool = Field(False, description="-a")
