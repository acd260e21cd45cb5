"""A Compose project as ``docker compose`` v2 runs it (docs/compose.md): its services in a dependency order,
its networks and volumes with their project names, and the compose workload step."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from dsim.domain.builds import BuildContext, BuildSpec
from dsim.domain.containers import ContainerSpec
from dsim.domain.networking import NetworkDecl

#: depends_on conditions (Compose Specification, services.depends_on)
STARTED, HEALTHY, COMPLETED = "service_started", "service_healthy", "service_completed_successfully"
CONDITIONS = (STARTED, HEALTHY, COMPLETED)
#: ``up --wait``'s condition for a service nothing waits on to complete: healthy when it has a healthcheck,
#: else running (docker/compose pkg/compose start.go, ServiceConditionRunningOrHealthy)
RUNNING_OR_HEALTHY = "running_or_healthy"

#: docker compose v2 polls a dependency's containers (ContainerInspect) every 500 ms while it waits for
#: service_healthy or service_completed_successfully (docker/compose pkg/compose/convergence.go,
#: waitDependencies: ``time.NewTicker(500 * time.Millisecond)``)
DEPENDENCY_POLL = 0.5

#: ``docker compose down``'s stop timeout when a service gives no stop_grace_period (Compose Specification:
#: "Default value is 10 seconds")
DEFAULT_STOP_GRACE = 10.0


@dataclass(frozen=True, slots=True)
class Dependency:
    """One ``depends_on`` entry: wait for ``service`` to meet ``condition`` before starting."""

    service: str
    condition: str = STARTED
    #: ``required: false``: a dependency that fails is a warning, not an error
    required: bool = True
    #: ``restart: true``: when the dependency is recreated, this service's containers are stopped first (and
    #: started again after it)
    restart: bool = False


@dataclass(frozen=True, slots=True)
class ServiceBuild:
    """A service's ``build:`` planned before time 0 (scenarios/compose_build.py): the build as a build step
    runs it (tagged with the service's image) and the context directory's files on the client."""

    spec: BuildSpec
    context: BuildContext
    #: the context's name in the job's working copies (its directory as shown)
    context_name: str


@dataclass(frozen=True, slots=True)
class ComposeService:
    """One service: the container every replica is created from (its ``name`` is set per replica),
    its replicas and dependencies, the project networks it joins (the first at create, the others
    connected before start, as compose does for API versions below 1.44)."""

    name: str
    container: ContainerSpec
    replicas: int
    depends_on: tuple[Dependency, ...]
    networks: tuple[str, ...]
    container_name: str | None = None
    stop_grace: float = DEFAULT_STOP_GRACE
    #: ``build:``: the image (``container.image``) is built from this before its containers are created
    build: ServiceBuild | None = None

    def container_names(self, project: str) -> tuple[str, ...]:
        """``<project>-<service>-<n>`` from 1 (compose v2 getDefaultContainerName), or container_name."""
        if self.container_name is not None:
            return (self.container_name,)
        return tuple(f"{project}-{self.name}-{n}" for n in range(1, self.replicas + 1))


@dataclass(frozen=True, slots=True)
class ComposeVolume:
    """A top-level volume: its engine name (``<project>_<key>`` or ``name:``); ``external``: must exist."""

    name: str
    external: bool = False


@dataclass(frozen=True, slots=True)
class ComposeNetwork:
    """A project network as the engine names it (``<project>_<key>``, or ``name:``); ``external``: must
    exist already, compose neither creates nor removes it."""

    decl: NetworkDecl
    external: bool = False


@dataclass(frozen=True, slots=True)
class ComposeProject:
    """A compose file read and checked before time 0. ``services`` are in a dependency order (each after
    the services it depends on; ties in the file's order)."""

    name: str
    file: str
    services: tuple[ComposeService, ...]
    networks: tuple[ComposeNetwork, ...]
    volumes: tuple[ComposeVolume, ...]

    def service(self, name: str) -> ComposeService:
        return next(s for s in self.services if s.name == name)


@dataclass(frozen=True, slots=True)
class ComposeStep:
    """``docker compose -f FILE up -d`` or ``down`` (``volumes``: ``down -v``)."""

    kind: ClassVar[str] = "compose"
    project: ComposeProject
    action: str = "up"
    volumes: bool = False
    #: ``up --build``: build every service with ``build:`` even when its image is present
    build: bool = False
    #: ``up --wait``: return once every service runs or is healthy; ``wait_timeout`` (``--wait-timeout``) bounds it
    wait: bool = False
    wait_timeout: float | None = None
    #: ``up --force-recreate`` ("always") / ``--no-recreate`` ("never"); "diverged": compose's default
    recreate: str = "diverged"
