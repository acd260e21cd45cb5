"""``docker compose up -d`` and ``down`` as docker compose v2 drives the Engine API (docs/compose.md).

``up``: list the project's containers (one ``ps -a``), project networks then named volumes (inspect,
create when missing), every missing image pulled at once (the daemon's pull path, in parallel), then the
containers created service by service in dependency order (a service after its dependencies' containers
exist; its replicas together; a container made from another configuration of its service recreated: the new
one created, the old one stopped and removed, the new one renamed) and started in dependency order: a service
first waits for its dependencies' conditions by polling their containers (``GET /containers/{id}/json``) on
compose's 500 ms ticker (``service_healthy``: the health status the daemon's healthcheck decided;
``service_completed_successfully``: exited with code 0), then starts its containers one after another.

``down``: services in reverse dependency order, each service's containers stopped (its stop_grace_period)
and removed together, then the project networks; named volumes only with ``-v``.

Sources: docker/compose pkg/compose (create.go, convergence.go: waitDependencies, startService,
recreateContainer; down.go),
https://docs.docker.com/compose/how-tos/startup-order/.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Generator, Iterable
from typing import Any

import simpy

from dsim.components.compose_build import compose_builds
from dsim.components.container import EXITED, RESTARTING, RUNNING, Container
from dsim.components.daemon import Daemon
from dsim.components.errors import ApiError
from dsim.components.working_copy import WorkingCopy
from dsim.domain.compose import (
    COMPLETED,
    DEPENDENCY_POLL,
    HEALTHY,
    RUNNING_OR_HEALTHY,
    ComposeProject,
    ComposeService,
    Dependency,
)
from dsim.environment import POLL, PROBE, mark_background, only_background_left, poll_timeout, unmark_background
from dsim.records import Recorder, SpanKind


class ComposeFailed(Exception):
    """``docker compose`` stopped with this message (its own, not the daemon's)."""


#: what a service's create or start left for its dependents: None when done, else the failure
Outcome = Exception | None


class ComposeRun:
    """One ``docker compose`` command of one job on one daemon."""

    def __init__(self, env: simpy.Environment, daemon: Daemon, recorder: Recorder, job: int, *,
                 copies: dict[str, WorkingCopy] | None = None) -> None:
        """``copies``: the job's working copies of build contexts (the client's), so a later build of the
        same context in this job sends only what changed (BuildKit's diff copy)."""
        self.env = env
        self.daemon = daemon
        self.recorder = recorder
        self.job = job
        self.copies: dict[str, WorkingCopy] = copies if copies is not None else {}
        #: the project's containers by name (found by the first listing, then made)
        self.containers: dict[str, Container] = {}
        #: up's recreate policy: "diverged" (compose's default), "always" (--force-recreate), "never"
        self.recreate = "diverged"
        #: container name -> when it stopped serving (a recreate's or its dependents' stop), until a start
        self.down_since: dict[str, float] = {}
        #: service -> its containers numbered above its replicas (found by the listing), highest first
        self.extra: dict[str, list[Container]] = {}

    def _span(self, kind: SpanKind, subject: str, began: float, **attrs: Any) -> None:
        self.recorder.span(kind, subject, began, self.env.now, host=self.daemon.host, job=self.job, **attrs)

    def _list(self, project: ComposeProject) -> Generator[Any, Any, None]:
        """``GET /containers/json?all=1`` filtered by project (compose's label filter; here by the names); a
        service's containers numbered above its replicas are kept apart, highest first (``up --scale`` down:
        ``_create_service`` removes them)."""
        names = {name for service in project.services for name in service.container_names(project.name)}
        listed = yield from self.daemon.containers(all=True, job=self.job)
        self.containers = {c.name: c for c in listed if c.name in names}
        self.extra = {}
        for service in project.services:
            numbered = sorted(((_number(c.name, project.name, service.name), c) for c in listed),
                              key=lambda pair: -pair[0])
            self.extra[service.name] = [c for n, c in numbered if n > service.replicas]

    def _gather(self, generators: list[Generator[Any, Any, Any]]) -> Generator[Any, Any, list[Outcome]]:
        """Run ``generators`` at once; each one's failure is kept, not raised, so none goes unhandled."""
        def guarded(gen: Generator[Any, Any, Any]) -> Generator[Any, Any, Outcome]:
            try:
                yield from gen
            except (ApiError, ComposeFailed) as err:
                return err
            return None

        processes = [self.env.process(guarded(gen)) for gen in generators]
        if processes:
            yield self.env.all_of(processes)
        return [p.value for p in processes]

    # ------------------------------------------------------------------ up

    def up(self, project: ComposeProject, *, build: bool = False, recreate: str = "diverged", wait: bool = False,
           wait_timeout: float | None = None) -> Generator[Any, Any, None]:
        """``build``: ``up --build``, every service with ``build:`` built even when its image is present;
        ``recreate``: which existing containers are recreated (``_stale``); ``wait``: ``up --wait``, at most
        ``wait_timeout`` (``--wait-timeout``)."""
        self.recreate = recreate
        began = self.env.now
        status = "failed"
        built: list[str] = []
        try:
            yield from self._list(project)
            yield from self._networks(project)
            yield from self._volumes(project)
            yield from self._pull(project)
            built = yield from compose_builds(self, project, force=build)
            created = yield from self._in_order(project, self._create_service)
            _raise_first(created)
            started = yield from self._in_order(project, self._start_service)
            _raise_first(started)
            if wait:
                yield from self._wait_all(project, wait_timeout)
            status = "completed"
        finally:
            self._span(SpanKind.COMPOSE, project.name, began, action="up", services=len(project.services),
                       containers=sum(s.replicas for s in project.services), status=status,
                       **({"built": built} if any(s.build is not None for s in project.services) else {}))

    def _networks(self, project: ComposeProject) -> Generator[Any, Any, None]:
        """Each project network: inspected, created when missing (an external one must exist)."""
        daemon, job = self.daemon, self.job
        for network in project.networks:
            began, decl = self.env.now, network.decl
            try:
                yield from daemon.network_inspect(decl.name, job=job)
                action = "exists"
            except ApiError as err:
                if err.status != 404:
                    raise
                if network.external:
                    raise ComposeFailed(f"network {decl.name} declared as external, but could not be found") from None
                yield from daemon.network_create(decl.name, subnet=decl.subnet, internal=decl.internal, job=job)
                action = "create"
            self._span(SpanKind.COMPOSE_OBJECT, decl.name, began, object="network", action=action)

    def _volumes(self, project: ComposeProject) -> Generator[Any, Any, None]:
        """Each named volume: inspected, created when missing (an external one must exist)."""
        daemon, job = self.daemon, self.job
        for volume in project.volumes:
            began = self.env.now
            try:
                yield from daemon.volume_inspect(volume.name, job=job)
                action = "exists"
            except ApiError as err:
                if err.status != 404:
                    raise
                if volume.external:
                    raise ComposeFailed(f'external volume "{volume.name}" not found') from None
                yield from daemon.volume_create(volume.name, job=job)
                action = "create"
            self._span(SpanKind.COMPOSE_OBJECT, volume.name, began, object="volume", action=action)

    def _pull(self, project: ComposeProject) -> Generator[Any, Any, None]:
        """Images not on the host (``GET /images/{name}/json`` answers 404) are pulled all at once."""
        missing: list[str] = []
        for ref in dict.fromkeys(s.container.image for s in project.services
                                 if s.build is None and not self._current(project, s)):
            try:
                yield from self.daemon.inspect_image(ref, job=self.job)
            except ApiError as err:
                if err.status != 404:
                    raise
                missing.append(ref)
        outcomes = yield from self._gather([self.daemon.pull(ref, job=self.job, phase=ref) for ref in missing])
        _raise_first(outcomes)

    def gather(self, generators: list[Generator[Any, Any, Any]]) -> Generator[Any, Any, list[Outcome]]:
        """``generators`` at once, each one's failure kept (compose_build.py builds through this)."""
        return self._gather(generators)

    def _current(self, project: ComposeProject, service: ComposeService) -> bool:
        """Every container of the service exists with the service's configuration (nothing to create)."""
        return all(name in self.containers and not self._stale(self.containers[name], service, name)
                   for name in service.container_names(project.name))

    def _stale(self, container: Container, service: ComposeService, name: str) -> bool:
        """The container was made from another configuration of the service (compose's config hash differs:
        another image reference, ports, environment, ...) or from another image than its reference names now
        (compose's image digest label: the tag was rebuilt or pulled anew): ``up`` recreates it. compose's
        mustRecreate: ``--force-recreate`` recreates every one, ``--no-recreate`` none."""
        if self.recreate != "diverged":
            return self.recreate == "always"
        if dataclasses.replace(container.spec, name=name) != dataclasses.replace(service.container, name=name):
            return True
        current = self.daemon.find_image(service.container.image)
        return current is not None and current != container.image

    def _in_order(self, project: ComposeProject, work: Any, *,
                  restart_only: bool = False) -> Generator[Any, Any, list[Outcome]]:
        """compose's InDependencyOrder: each service's ``work`` once its dependencies' work is done; a
        dependency that failed fails its dependents without running them. ``restart_only``: only the
        dependencies with ``restart: true`` order the work (compose restart)."""
        done: dict[str, simpy.Event] = {s.name: self.env.event() for s in project.services}

        def one(service: ComposeService) -> Generator[Any, Any, None]:
            deps = [done[d.service] for d in service.depends_on if d.restart or not restart_only]
            if deps:
                yield self.env.all_of(deps)
            failed = next((e.value for e in deps if e.value is not None), None)
            outcome: Outcome = failed
            if failed is None:
                try:
                    yield from work(project, service)
                except (ApiError, ComposeFailed) as err:
                    outcome = err
            done[service.name].succeed(outcome)

        yield from self._gather([one(s) for s in project.services])
        return [done[s.name].value for s in project.services]

    def _create_service(self, project: ComposeProject, service: ComposeService) -> Generator[Any, Any, None]:
        """Its replicas created together (``POST /containers/create``), each then connected to the service's
        further networks (before start, as compose does below API 1.44)."""
        def create(name: str) -> Generator[Any, Any, None]:
            existing = self.containers.get(name)
            if existing is not None and not self._stale(existing, service, name):
                return
            if existing is not None:
                yield from self._recreate(project, existing, service, name)
                return
            self.containers[name] = yield from self._make(service, name)

        # compose's ensureService: the containers numbered above the replicas stopped and removed (scale down) while
        # the others are created or recreated
        extra = [self._stop_rm(container, service) for container in self.extra.get(service.name, [])]
        _raise_first((yield from self._gather([*extra, *(create(n) for n in service.container_names(project.name))])))

    def _make(self, service: ComposeService, name: str) -> Generator[Any, Any, Container]:
        spec = dataclasses.replace(service.container, name=name)
        container = yield from self.daemon.create(spec, job=self.job, phase="")
        self.daemon.store.touch(spec.image)
        for network in service.networks[1:]:
            yield from self.daemon.network_connect(network, container, job=self.job)
        return container

    def _recreate(self, project: ComposeProject, replaced: Container, service: ComposeService,
                  name: str) -> Generator[Any, Any, None]:
        """compose's recreateContainer: the running containers of the services that depend on this one with
        ``restart: true`` stopped first (stopDependentContainers; they start again after it), then the new
        container created under a temporary name (the old one's short ID, then its name), the old one stopped
        (its stop_grace_period) and removed, the new one renamed; it starts with the service's other containers.
        Downtime: from the stop to the new one's start."""
        began = self.env.now
        for dependent in project.services:
            if any(dep.service == service.name and dep.restart for dep in dependent.depends_on):
                for other in dependent.container_names(project.name):
                    container = self.containers.get(other)
                    if container is not None and container.state in (RUNNING, RESTARTING):
                        self.down_since[other] = self.env.now
                        yield from self.daemon.stop(container, dependent.stop_grace, job=self.job, phase=other)
        created = yield from self._make(service, f"{replaced.id[:12]}_{name}")
        if replaced.state in (RUNNING, RESTARTING):
            self.down_since[name] = self.env.now
        yield from self._stop_rm(replaced, service)
        yield from self.daemon.rename(created, name, job=self.job)
        self.containers[name] = created
        self._span(SpanKind.COMPOSE_OBJECT, name, began, object="container", action="recreate")

    def _start_service(self, project: ComposeProject, service: ComposeService) -> Generator[Any, Any, None]:
        """compose's startService: wait for the dependencies' conditions, then start each container in turn."""
        names = service.container_names(project.name)
        yield from self._wait_conditions(project, service, service.depends_on)
        for name in names:
            container = self.containers[name]
            if container.state in (RUNNING, RESTARTING):
                continue
            yield from self.daemon.start(container, job=self.job, phase=name)
            if name in self.down_since:
                self._span(SpanKind.DOWNTIME, name, self.down_since.pop(name))

    def _wait_all(self, project: ComposeProject, timeout: float | None) -> Generator[Any, Any, None]:
        """``up --wait``: every service as a dependency (start.go): completed successfully when some service
        waits for that, else running or healthy; past ``timeout``, compose's error."""
        completed = {d.service for s in project.services for d in s.depends_on if d.condition == COMPLETED}
        deps = [Dependency(s.name, COMPLETED if s.name in completed else RUNNING_OR_HEALTHY)
                for s in project.services]
        began = self.env.now

        def polling() -> Generator[Any, Any, int | None]:
            try:
                return (yield from self._wait(project, deps))
            except simpy.Interrupt:  # the timeout came first: stop polling
                return None

        waiting = self.env.process(polling())
        yield waiting if timeout is None else waiting | self.env.timeout(timeout)
        if not waiting.triggered:
            waiting.interrupt()
            raise ComposeFailed(f"application not healthy after {go_duration(timeout or 0.0)}")
        self._span(SpanKind.COMPOSE_WAIT, project.name, began, containers=sorted(self.containers),
                   polls=waiting.value, conditions=[f"{d.service}:{d.condition}" for d in deps])

    def _wait_conditions(self, project: ComposeProject, service: ComposeService,
                         deps: tuple[Dependency, ...]) -> Generator[Any, Any, None]:
        """Wait for ``deps``' health and completion conditions (``_wait``), recorded as a compose_wait span."""
        waits = [d for d in deps if d.condition in (HEALTHY, COMPLETED)]
        if waits:
            began = self.env.now
            polls = yield from self._wait(project, waits)
            self._span(SpanKind.COMPOSE_WAIT, service.name, began, containers=list(service.container_names(
                project.name)), polls=polls, conditions=[f"{d.service}:{d.condition}" for d in waits])

    def _wait(self, project: ComposeProject, deps: list[Dependency]) -> Generator[Any, Any, int]:
        """waitDependencies: on every tick of a 500 ms ticker inspect each waited-for container until every
        condition holds. Go's ticker channel holds one tick: a tick that came while the polls were busy is
        taken at once, the others are dropped. The wait is background (environment.py ``only_background_left``):
        its ticks and its inspects alone keep nothing going."""
        began, ticks, polls = self.env.now, 0, 0
        pending = list(deps)
        me = mark_background(self.env, POLL)
        # a container awaited to run or be healthy: a restart can bring it there (a completion it cannot)
        awaited = {dep: [c for name in project.service(dep.service).container_names(project.name)
                         if (c := self.containers.get(name)) is not None] for dep in deps if dep.condition != COMPLETED}
        for containers in awaited.values():
            for container in containers:
                container.awaited += 1
        try:
            while pending:
                ticks += 1
                at = began + ticks * DEPENDENCY_POLL
                if at <= self.env.now:  # the buffered tick: no wait; the next ones after now
                    ticks = int((self.env.now - began) // DEPENDENCY_POLL)
                else:
                    yield poll_timeout(self.env, at - self.env.now)
                polls += 1
                still: list[Dependency] = []
                for dep in pending:
                    met = yield from self._condition(project, dep)
                    if not met:
                        still.append(dep)
                for dep in pending:
                    if dep not in still:
                        _release(awaited.pop(dep, ()))
                pending = still
                # nothing but polls and settled probes left: no poll would see a change (a restart loop still
                # going stops first, and a poll then sees its end): compose waits for good, and a run without
                # `until` ends, the job unfinished
                if pending and only_background_left(self.env, PROBE | POLL):
                    yield self.env.event()
        finally:
            unmark_background(self.env, me)
            for containers in awaited.values():
                _release(containers)
        return polls

    def _condition(self, project: ComposeProject, dep: Dependency) -> Generator[Any, Any, bool]:
        """One poll of one dependency's containers: True when its condition holds; its failure is compose's
        error (an optional dependency's failure counts as met: compose only warns)."""
        for name in project.service(dep.service).container_names(project.name):
            container = yield from self.daemon.inspect_container(name, job=self.job)
            try:
                if not _holds(container, dep):
                    return False
            except ComposeFailed:
                if dep.required:
                    raise
        return True

    # ------------------------------------------------------------------ stop, start, restart

    def lifecycle(self, project: ComposeProject, action: str) -> Generator[Any, Any, None]:
        """``docker compose stop`` (services in reverse dependency order, each one's containers stopped
        together: its stop_grace_period), ``start`` (in dependency order, each waiting for its dependencies'
        conditions, as up's start) or ``restart`` (in the order of the ``restart: true`` dependencies only, each
        waiting for their conditions, then its containers restarted together: one restart call each); the
        project's containers must exist (compose's ``no containers to start``)."""
        began = self.env.now
        status = "failed"
        try:
            yield from self._list(project)
            if not self.containers:
                raise ComposeFailed(f"no containers to {action}")
            if action == "stop":
                yield from self._in_reverse_order(project, self._stop_only)
            else:
                work = self._start_service if action == "start" else self._restart_service
                _raise_first((yield from self._in_order(project, work, restart_only=action == "restart")))
            status = "completed"
        finally:
            self._span(SpanKind.COMPOSE, project.name, began, action=action, services=len(project.services),
                       containers=len(self.containers), status=status)

    def _restart_service(self, project: ComposeProject, service: ComposeService) -> Generator[Any, Any, None]:
        yield from self._wait_conditions(project, service, tuple(d for d in service.depends_on if d.restart))
        names = [name for name in service.container_names(project.name) if name in self.containers]
        _raise_first((yield from self._gather([self._restart(name, service) for name in names])))

    def _restart(self, name: str, service: ComposeService) -> Generator[Any, Any, None]:
        began, container = self.env.now, self.containers[name]
        running = container.state in (RUNNING, RESTARTING)
        yield from self.daemon.restart(container, service.stop_grace, job=self.job, phase=name)
        if running:
            self._span(SpanKind.DOWNTIME, name, began)

    def _stop_only(self, container: Container, service: ComposeService) -> Generator[Any, Any, None]:
        yield from self.daemon.stop(container, service.stop_grace, job=self.job, phase=container.name)

    # ------------------------------------------------------------------ down

    def down(self, project: ComposeProject, *, volumes: bool = False) -> Generator[Any, Any, None]:
        began = self.env.now
        status = "failed"
        try:
            yield from self._list(project)
            yield from self._in_reverse_order(project, self._stop_rm)
            for network in project.networks:
                if not network.external:
                    yield from self._remove(network.decl.name, "network")
            if volumes:
                for volume in project.volumes:
                    if not volume.external:
                        yield from self._remove(volume.name, "volume")
            status = "completed"
        finally:
            self._span(SpanKind.COMPOSE, project.name, began, action="down", services=len(project.services),
                       containers=len(self.containers), status=status)

    def _in_reverse_order(self, project: ComposeProject, work: Any) -> Generator[Any, Any, None]:
        """InReverseDependencyOrder: ``work`` on a service's containers (together) once every service depending
        on it is done."""
        gone: dict[str, simpy.Event] = {s.name: self.env.event() for s in project.services}
        dependents = {s.name: [d.name for d in project.services if any(x.service == s.name for x in d.depends_on)]
                      for s in project.services}

        def one(service: ComposeService) -> Generator[Any, Any, None]:
            waits = [gone[name] for name in dependents[service.name]]
            if waits:
                yield self.env.all_of(waits)
            names = [n for n in service.container_names(project.name) if n in self.containers]
            outcomes = yield from self._gather([work(self.containers[n], service) for n in names])
            gone[service.name].succeed(next((o for o in outcomes if o is not None), None))

        yield from self._gather([one(s) for s in project.services])
        _raise_first([gone[s.name].value for s in project.services])

    def _stop_rm(self, container: Container, service: ComposeService) -> Generator[Any, Any, None]:
        yield from self.daemon.stop(container, service.stop_grace, job=self.job, phase=container.name)
        yield from self.daemon.rm(container, job=self.job, phase=container.name)

    def _remove(self, name: str, kind: str) -> Generator[Any, Any, None]:
        began = self.env.now
        try:
            if kind == "network":
                yield from self.daemon.network_remove(name, job=self.job)
            else:
                yield from self.daemon.volume_remove(name, job=self.job)
        except ApiError as err:
            if err.status != 404:
                raise
            return
        self._span(SpanKind.COMPOSE_OBJECT, name, began, object=kind, action="remove")


def _release(containers: Iterable[Container]) -> None:
    """A wait no longer polls for ``containers`` to run or be healthy."""
    for container in containers:
        container.awaited -= 1


def _holds(container: Container, dep: Dependency) -> bool:
    """isServiceHealthy / isServiceCompleted on one inspected container (compose's messages)."""
    if dep.condition == RUNNING_OR_HEALTHY and container.spec.healthcheck is None:  # fallbackRunning
        if container.state == EXITED:
            raise ComposeFailed(f"dependency failed to start: container {container.name} exited "
                                f"({container.exit_code})")
        return container.state == RUNNING
    if dep.condition in (HEALTHY, RUNNING_OR_HEALTHY):
        if container.state == EXITED:
            raise ComposeFailed(f"dependency failed to start: container {container.name} exited "
                                f"({container.exit_code})")
        if container.spec.healthcheck is None:
            raise ComposeFailed(f"dependency failed to start: container {container.name} has no healthcheck "
                                "configured")
        if container.health_status == "unhealthy":
            raise ComposeFailed(f"dependency failed to start: container {container.name} is unhealthy")
        return container.health_status == "healthy"
    if container.state != EXITED:
        return False
    if container.exit_code != 0:
        raise ComposeFailed(f'service "{dep.service}" didn\'t complete successfully: exit {container.exit_code}')
    return True


def _number(name: str, project: str, service: str) -> int:
    """The replica number of ``<project>-<service>-<n>`` (0 for another name)."""
    prefix = f"{project}-{service}-"
    return int(name[len(prefix):]) if name.startswith(prefix) and name[len(prefix):].isdigit() else 0


def go_duration(seconds: float) -> str:
    """A duration as Go's time.Duration prints it (``30s``, ``1m30s``, ``1.5s``, ``2h0m0s``, ``500ms``)."""
    if 0 < seconds < 1:
        scale, unit = next((s, u) for s, u in ((1e3, "ms"), (1e6, "µs"), (1e9, "ns")) if seconds * s >= 1 or u == "ns")
        return f"{seconds * scale:.9f}".rstrip("0").rstrip(".") + unit
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{secs:.9f}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{int(hours)}h{int(minutes)}m{text}"
    return f"{int(minutes)}m{text}" if minutes else text


def _raise_first(outcomes: list[Outcome]) -> None:
    for outcome in outcomes:
        if outcome is not None:
            raise outcome
