"""Containers on one host, in Docker's order: create (writable layer), start (mount it, network sandbox under
the kernel lock, publish ports, ``runc create``, process start), the process itself (CPU by processor
sharing, memory with OOM kills, writes into the writable layer), restarts with moby's backoff, health
checks, wait, stop (SIGTERM, SIGKILL at the timeout) and remove.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Generator, Mapping
from types import MappingProxyType
from typing import Any, cast

import simpy

from dsim.components import freezer, health, mounts, vm
from dsim.components.container import (
    DEAD,
    EXITED,
    REMOVED,
    RESTARTING,
    RUNNING,
    SIGKILL_EXIT,
    Container,
    RestartManager,
)
from dsim.components.daemon_locks import DaemonLocks, step
from dsim.components.disk import Disk, host_disk, unmount_sync
from dsim.components.errors import ApiError
from dsim.components.execs import ExecVerbs
from dsim.components.host import CpuTask, Kernel, PortInUse, PortsExhausted
from dsim.components.image_store import ImageStore
from dsim.components.networks import NetworkStack
from dsim.components.service_calls import ServiceCalls
from dsim.components.storage import ContainerStorage
from dsim.components.teardown import teardown, wait_done
from dsim.domain.containers import ContainerSpec
from dsim.domain.hosts import HostSpec
from dsim.environment import (
    POLL,
    PROBE,
    RESTART,
    backoff_timeout,
    first_of,
    mark_background,
    only_background_left,
    settle,
    unmark_background,
)
from dsim.records import Recorder, SpanKind

#: the span kinds recorded on every job's path, read once (records.py: a kind read from its class is slow)
_MOUNT, _RUNC, _EXEC, _PROCESS = SpanKind.MOUNT, SpanKind.RUNC, SpanKind.EXEC, SpanKind.PROCESS

__all__ = ["SIGKILL_EXIT", "ContainerRuntime"]

#: the exit code dockerd gives a container whose start failed before any run (moby daemon/errors.go ``exitUnknown``)
_EXIT_UNKNOWN = 128


def parse_port(mapping: str) -> tuple[int | None, int, str]:
    """``[HOST:]CONTAINER[/PROTO]`` -> (host port or None, container port, proto)."""
    ports, _, proto = mapping.partition("/")
    host, _, container = ports.rpartition(":")
    return (int(host) if host else None), int(container), (proto or "tcp")


def _killed(kill: simpy.Event, code: int, task: CpuTask | None) -> tuple[int, str, CpuTask | None]:
    """The run's end by its ``kill`` event: "host" is the OOM killer, "cgroup" its own limit's (lowered under
    its usage by ``docker update``: ContainerRuntime.update); an int is the process ending itself
    with that code now (dsim serve's interactive shell: ``exit 3`` typed at its prompt)."""
    if isinstance(kill.value, int):
        return kill.value, "", task
    return code, "cgroup" if kill.value == "cgroup" else "host", task


def _nothing() -> Generator[Any, Any, None]:
    yield from ()


class ContainerRuntime(ExecVerbs):
    """The daemon's container side on one host."""

    def __init__(self, env: simpy.Environment, host: str, spec: HostSpec, kernel: Kernel, store: ImageStore,
                 recorder: Recorder, rng: random.Random, services: ServiceCalls | None = None,
                 disk: Disk | None = None) -> None:
        """``services``: the world's service calls (service_calls.py), for containers that make calls; ``disk``:
        the host's Docker filesystem, shared with its pulls and builds (disk.py)."""
        self.env = env
        self.services = services
        self.host = host
        self.spec = spec
        self.kernel = kernel
        self.store = store
        self.recorder = recorder
        self.rng = rng
        self._containers: dict[str, Container] = {}
        self._ids = itertools.count(1)
        # -- networks and storage (networks.py, storage.py): network modes, volumes, the writable layer; the
        # networks on first use (most of a large idle world's build), born now as when made eagerly
        self._networks: NetworkStack | None = None
        self._born = env.now
        if spec.networks:  # declared networks are checked (and refused) while the world is built
            self._networks = NetworkStack(env, host, spec, kernel, recorder, rng, self._containers)
        self.storage = ContainerStorage(env, host, spec, store, recorder,
                                        disk or host_disk(env, spec, kernel.free_memory))
        #: set by the world when the last job has ended (and no `until` was given): nothing restarts after
        #: that, or a restart policy would keep the simulation going forever
        self.no_more_restarts = False
        #: the daemon's serialization points on the create and start path (daemon_locks.py)
        self.locks = DaemonLocks(env, spec.daemon.locks)

    @property
    def networks(self) -> NetworkStack:
        """This daemon's networks (networks.py), made when first asked for."""
        stack = self._networks
        if stack is None:
            stack = self._networks = NetworkStack(self.env, self.host, self.spec, self.kernel, self.recorder,
                                                  self.rng, self._containers, born=self._born)
        return stack

    @property
    def containers(self) -> Mapping[str, Container]:
        """Every container on this host by name, in creation order (a read-only view)."""
        return MappingProxyType(self._containers)

    def container(self, name: str) -> Container | None:
        return self._containers.get(name)

    # ------------------------------------------------------------------ API operations

    def create(self, spec: ContainerSpec, *, job: int) -> Generator[Any, Any, Container]:
        """``POST /containers/create``: 404 when the image is not local; else the writable layer and config."""
        image = self.store.image(spec.image)
        if image is None:
            raise ApiError(404, f"No such image: {spec.image}")
        number = next(self._ids)
        container_id = f"{self.host}-{number:06d}"
        name = spec.name or f"{self.host}-c{number}"
        if name in self._containers:
            other = self._containers[name]
            raise ApiError(409, f'Conflict. The container name "/{name}" is already in use by container '
                                f'"{other.id}". You have to remove (or rename) that container to be able to '
                                f'reuse that name.')
        yield from self._create_layer(name, job)
        if name in self._containers:  # another create took the name meanwhile
            other = self._containers[name]
            raise ApiError(409, f'Conflict. The container name "/{name}" is already in use by container '
                                f'"{other.id}". You have to remove (or rename) that container to be able to '
                                f'reuse that name.')
        self.networks.configure(spec, container_id, self._containers.get)  # networks.py: 404, unknown network
        container = Container(container_id, name, image, spec, job, RestartManager(spec.restart),
                              cpu_weights=self.spec.runtime.cpu_weights)
        self.storage.mount(spec, container_id)
        self._containers[name] = container
        if self.services is not None:  # its index of aliases and listeners follows the table (service_calls.py)
            self.services.created(self.host, container)
        return container

    def _create_layer(self, name: str, job: int) -> Generator[Any, Any, None]:
        """The work of a create: the writable layer's snapshot (its metadata commits under the metadata lock)
        and the config on disk; with a global layer-store lock (dockerd before 19.03) all of it under that.
        Then the create's two overlay unmounts, each a sync (``_syncfs``): the init layer's, and the rootfs
        dockerd mounts to make the working directory and volumes' mount points and unmounts at once (moby
        v28.5.2 daemon/create_unix.go, ``createContainerOSSpecificSettings``: ``daemon.Mount``, deferred
        ``daemon.Unmount``); the second finds dirty only what was written while the first waited."""
        runtime, locks = self.spec.runtime, self.locks
        work = step(self.env, self.kernel.dockerd, locks, self.rng, runtime.create.sample(self.rng), runtime.cpu.create,
                    locks.spec.create_commits)
        if locks.layer_store is None:
            yield from work
            yield from self._create_syncs(name, job)
            return
        with locks.layer_store.request() as turn:
            yield turn
            yield from work
            yield from self._create_syncs(name, job)

    def _create_syncs(self, name: str, job: int) -> Generator[Any, Any, None]:
        disk = self.storage.disk
        for _ in range(2):  # the init layer's unmount, then the rootfs'
            if disk.dirty <= 0:
                return
            yield from self._syncfs(name, job, "create")

    def _syncfs(self, name: str, job: int, at: str) -> Generator[Any, Any, None]:
        """An overlay unmount: the init layer dockerd mounts to write /etc/hosts and the like at create (moby
        daemon/containerd/image_snapshot.go, prepareInitLayer: mount.WithTempMount), or the rootfs the shim
        unmounts when dockerd deletes the exited task (daemon/monitor.go, handleContainerExit), syncs the
        filesystem under it (``ovl_sync_fs``): it waits for every dirty byte of Docker's filesystem (disk.py)."""
        yield from unmount_sync(self.storage.disk, self.recorder, name, host=self.host, job=job, at=at)

    def start(self, container: Container, *, job: int) -> Generator[Any, Any, None]:
        """``POST /containers/{id}/start``; a running container is left alone, as Docker does. Returns the
        start's generator for the caller to delegate to (one level less for each of its events)."""
        if container.state in (RUNNING, RESTARTING):
            return _nothing()
        if container.state in (REMOVED, DEAD):
            raise ApiError(404, f"No such container: {container.name}")
        container.manually_stopped = False
        container.restart_manager.reset()  # moby makes a new one on an API start
        container.stop_requested = self.env.event()
        return self._api_start(container, job)

    def _api_start(self, container: Container, job: int) -> Generator[Any, Any, None]:
        """An API start; a failure is kept in the container's state as dockerd keeps it (moby daemon/start.go,
        containerStart's deferred SetError: the error's words, and exit code 128 when none was set before,
        https://github.com/moby/moby/blob/master/daemon/start.go), the state itself left as it was."""
        try:
            yield from self._start_once(container, job, supervise=True)
        except ApiError as err:
            container.error = str(err)
            if not container.exit_code:
                container.exit_code = _EXIT_UNKNOWN
            raise

    def wait(self, container: Container) -> Generator[Any, Any, int]:
        """``POST /containers/{id}/wait`` (next-exit, as ``docker run`` uses): the exit code of the next exit."""
        if container.state != RUNNING or container.exited is None:
            return container.exit_code or 0
        code: int = yield container.exited
        return code

    def wait_health(self, container: Container) -> Generator[Any, Any, str]:
        """Until the health status of the current run is decided: healthy, unhealthy, or exited."""
        if container.state != RUNNING or container.health is None:
            return "exited"
        status: str = yield container.health
        return status

    def stop(self, container: Container, timeout: float, *, job: int) -> Generator[Any, Any, None]:
        """``docker stop``: SIGTERM, SIGKILL after ``timeout``; no restart policy brings it back."""
        _exists(container)
        container.manually_stopped = True
        container.restart_manager.cancelled = True
        if container.state not in (RUNNING, RESTARTING):
            return
        assert container.stop_requested is not None and container.process is not None
        if not container.stop_requested.triggered:
            container.stop_requested.succeed(timeout)
        if container.process.is_alive:
            yield container.process

    def kill(self, container: Container, *, job: int) -> Generator[Any, Any, None]:
        """SIGKILL (``docker kill``, ``docker rm -f``): the process ends at once with 137 (128 + 9), whatever its
        ``stop_time``, which only a catchable signal waits for; as after ``docker stop``, no restart policy brings
        it back (moby daemon/kill.go: ``ExitOnNext``)."""
        _exists(container)
        if container.state == RUNNING and container.kill is not None and not container.kill.triggered:
            container.kill.succeed(SIGKILL_EXIT)  # an int: the process's own end with that code (_killed)
        yield from self.stop(container, 0.0, job=job)

    def remove(self, container: Container, *, job: int, volumes: bool = False) -> None:
        """``docker rm``: refused while running or restarting, as Docker does without ``-f``; ``volumes``
        (``-v``) removes its anonymous volumes too."""
        _exists(container)
        if container.state in (RUNNING, RESTARTING):
            raise ApiError(409, f'cannot remove container "/{container.name}": container is {container.state}: '
                                "stop the container before removing or force remove")
        networks = self.networks
        networks.detach(container)
        networks.forget(container)
        self.storage.unmount(container, remove_anonymous=volumes)  # and the writable layer (storage.py)
        container.state = REMOVED
        del self._containers[container.name]
        if self.services is not None:
            self.services.removed(self.host, container)

    def rename(self, container: Container, name: str) -> None:
        """``docker rename``: the name is the container's key here and owns its published ports in the
        kernel's table; 409 when another container has it, as Docker says."""
        other = self._containers.get(name)
        if other is not None and other is not container:
            raise ApiError(409, f'Conflict. The container name "/{name}" is already in use by container '
                                f'"{other.id}". You have to remove (or rename) that container to be able to '
                                f'reuse that name.')
        old = container.name
        renamed = [((name if key == old else key), value) for key, value in self._containers.items()]
        self._containers.clear()  # in place: the views of the table (networks, service calls) see the new name
        self._containers.update(renamed)
        self.kernel.rename_owner(old, name)
        container.name = name

    def ps(self, *, all: bool = False) -> list[Container]:
        """``docker ps``: running and restarting containers; ``-a`` every one."""
        if all:
            return list(self._containers.values())
        return [c for c in self._containers.values() if c.state in (RUNNING, RESTARTING)]

    def finish(self) -> None:
        """At the end of the run: close the spans of processes still running."""
        for container in self._containers.values():
            if container.state == RUNNING and container.started_at is not None:
                self.recorder.span(_PROCESS, container.name, container.started_at, self.env.now, host=self.host,
                                   job=container.job, image=container.image.ref, run=container.runs - 1,
                                   isolation=container.spec.isolation, exit_code=None, oom="", status="running",
                                   memory=container.usage)
        self.kernel.cpu.close()

    # ------------------------------------------------------------------ start, in Docker's order

    def _start_once(self, container: Container, job: int, *, supervise: bool = False) -> Generator[Any, Any, None]:
        """Mount the writable layer, network sandbox under the kernel lock, publish ports, runc create (and a
        guest boot for a VM), process start; with ``supervise`` (an API start, not a restart) the process
        that runs it and its restarts begins. A failure leaves the container as it was (Created / Exited)."""
        runtime = self.spec.runtime
        env, rec, host = self.env, self.recorder, self.host
        container.kill = env.event()  # the OOM killer may pick a VM while it boots
        kernel, locks, rng, cpu = self.kernel, self.locks, self.rng, runtime.cpu
        began = env.now
        yield from step(env, kernel.dockerd, locks, rng, mounts.mount_seconds(runtime, container.image, rng), cpu.mount)
        rec.span(_MOUNT, container.name, began, env.now, host=host, job=job)
        # -- the network mode's costs, addresses and published ports (networks.py); the namespace's own work
        #    is the netns step (its CPU share on the scheduler, daemon_locks.step)
        networks = self.networks
        rules = yield from networks.attach(container, job, self._publish, work=self._netns_work)
        began = env.now
        start = runtime.start.sample(rng)
        if container.spec.isolation != "container":  # a named runtime may create faster than runc (crun)
            start = max(0.0, start - vm.flavour(self.spec, container.spec.isolation).start_saving)
        # runc create's own part and (a namespace of its own, Docker before 28) runc's setkey hook, all CPU by default:
        # runtime.start counts the hook, so a bridge run keeps its total and a host run is the hook shorter. One
        # step (one CPU task, then the wait) whose CPU is both parts' CPU. It and the process's start (runc start)
        # are containerd.service's: containerd starts the shim, which stays in containerd's cgroup (the unit's
        # Delegate=yes, KillMode=process), and runc and its hooks are the shim's children.
        hook = min(start, networks.costs.setkey_hook.sample(rng))
        start -= hook
        work = start * cpu.start
        # Docker 28's rule of a bridge endpoint, checked and appended by two iptables processes: Khan's 568 ms (a
        # Docker of 2026) count one endpoint's, so runc create runs them (at least their CPU; counted in
        # containerd's cgroup, where they are dockerd's: one CPU task a start, not two), and a start that makes
        # none (host, none, an internal network) has runc create that much shorter
        rule = networks.rule_work(networks.costs.endpoint_rules)
        if rule > 0.0:
            if rules:
                start = start if start > rule else rule
                work = work if work > rule else rule
            else:
                rule = min(rule, start)
                start -= rule
                work = work - rule if work > rule else 0.0
        if hook > 0 and networks.own_namespace(container):
            start += hook
            work += hook * cpu.setkey_hook
        yield from step(env, kernel.containerd, locks, rng, start, work / start if start > 0 else 0.0,
                        locks.spec.start_commits)
        rec.span(_RUNC, container.name, began, env.now, host=host, job=job)
        if container.spec.isolation != "container":
            try:
                yield from vm.boot(env, self.spec, self.kernel, container, self.rng, rec, job=job)
            except ApiError:
                networks.detach(container)
                raise
        began = env.now
        yield from step(env, kernel.containerd, locks, rng, runtime.exec.sample(rng), cpu.exec)
        rec.span(_EXEC, container.name, began, env.now, host=host, job=job)
        container.state = RUNNING
        # moby container/state.go setRunning: no error, exit code 0 and no OOM kill while it runs
        container.error, container.exit_code, container.oom_killed = "", 0, False
        container.started_at = env.now
        container.runs += 1
        container.health_status = "starting" if container.spec.healthcheck is not None else ""
        container.exited = env.event()
        container.health = env.event()
        if supervise:
            container.process = env.process(self._supervise(container, job))

    def _netns_work(self, duration: float) -> Generator[Any, Any, None]:
        """The network namespace's setup (held under the kernel's netns lock by networks.attach): its CPU share
        runs on the host's scheduler, the rest waits."""
        yield from step(self.env, self.kernel.dockerd, self.locks, self.rng, duration, self.spec.runtime.cpu.netns)

    def _teardown(self, container: Container) -> float | simpy.Event:
        """dockerd's Cleanup of the run that just exited (teardown.py): its endpoints and its namespace."""
        networks = self.networks
        return teardown(self.env, self.kernel, networks, container, networks.networks_of(container), self.rng)

    def cleaned(self, container: Container) -> Generator[Any, Any, None]:
        """Until the last exit's teardown has ended: ``docker rm`` needs the container's lock, which the exit
        handler holds through Cleanup (moby daemon/monitor.go)."""
        yield from wait_done(self.env, container.cleanup)

    def _publish(self, container: Container) -> None:
        """Bind each -p mapping (a fixed host port, or the next ephemeral one) and, with -P, each exposed port no
        -p maps (moby daemon/network.go: a random port only for a port without bindings)."""
        container.published = []
        if not container.spec.ports and not container.spec.publish_all:
            return
        wanted = [parse_port(mapping) for mapping in container.spec.ports]
        if container.spec.publish_all:
            mapped = {(port, proto) for _, port, proto in wanted}
            wanted += [(None, port, proto) for _, port, proto in map(parse_port, container.spec.expose)
                       if (port, proto) not in mapped]
        for host_port, port, proto in wanted:
            try:
                if host_port is None:
                    host_port = self.kernel.bind_ephemeral(proto, container.name)
                else:
                    self.kernel.bind(host_port, proto, container.name)
            except PortInUse:
                raise ApiError(500, "failed to set up container networking: driver failed programming external "
                                    f"connectivity on endpoint {container.name} ({container.id}): Bind for "
                                    f"0.0.0.0:{host_port} failed: port is already allocated") from None
            except PortsExhausted as err:
                raise ApiError(500, "failed to set up container networking: driver failed programming external "
                                    f"connectivity on endpoint {container.name} ({container.id}): {err}") from None
            container.published.append(f"0.0.0.0:{host_port}->{port}/{proto}")

    # ------------------------------------------------------------------ the process and its restarts

    def _supervise(self, container: Container, job: int) -> Generator[Any, Any, None]:
        """Run the process; on each exit ask the restart manager; wait its backoff (``restarting``); start again.
        From its first backoff on the loop is background (environment.py ``only_background_left``): its backoffs,
        the runs it restarts and their health checks."""
        env = self.env
        stop = container.stop_requested
        assert stop is not None
        looping: simpy.Process | None = None
        try:
            while True:
                started = env.now
                exit_code, oom = yield from self._process(container, job, looping is not None)
                finished = env.now
                exiting = self.spec.runtime.exit
                if not exiting.is_constant or exiting.mean > 0.0:  # the exit's own work before dockerd reports it
                    yield from step(env, self.kernel.containerd, self.locks, self.rng, exiting.sample(self.rng),
                                    self.spec.runtime.cpu.exit)
                    self.recorder.span(SpanKind.EXIT, container.name, finished, env.now, host=self.host, job=job)
                if self.storage.disk.dirty > 0:  # dockerd reports the exit after the task's deletion (its unmount)
                    yield from self._syncfs(container.name, job, "exit")
                container.exit_code = exit_code
                container.oom_killed = bool(oom)
                container.finished_at = finished
                self.networks.detach(container)  # the network sandbox goes with the process
                container.cleanup = self._teardown(container)  # teardown.py: rm waits for it
                container.state = EXITED
                assert container.exited is not None and container.health is not None
                if not container.health.triggered:
                    settle(env, container.health, "exited")
                settle(env, container.exited, exit_code)
                manager = container.restart_manager
                restart, delay = manager.should_restart(
                    exit_code, container.manually_stopped or stop.triggered, env.now - started)
                if not restart or self.no_more_restarts:
                    if container.spec.auto_remove:
                        yield from self._auto_remove(container, job)
                    return
                container.state = RESTARTING
                waited = env.now
                if looping is None:
                    looping = mark_background(env, RESTART)
                yield env.any_of([backoff_timeout(env, delay), stop])
                self.recorder.span(SpanKind.RESTARTING, container.name, waited, env.now, host=self.host, job=job,
                                   delay=delay, restart=manager.restart_count, cancelled=stop.triggered)
                # nothing but background left to happen: every job left waits for good (nothing waits for a
                # restarting container: wait and wait_health answer at once, compose polls on a ticker). A loop
                # that can end by itself (on-failure with a limit, or a process that may exit 0), or that compose
                # polls to run or be healthy, goes on beside polls: they may see its end, or a run
                if stop.triggered or self.no_more_restarts or only_background_left(env, PROBE | RESTART | (
                        POLL if not container.awaited and _endless(manager, container.spec) else 0)):
                    container.state = EXITED
                    return
                try:
                    yield from self._start_once(container, job)
                except ApiError as err:
                    container.state = EXITED
                    container.error = str(err)
                    return
        finally:
            if looping is not None:
                unmark_background(env, looping)

    def _auto_remove(self, container: Container, job: int) -> Generator[Any, Any, None]:
        """--rm: dockerd removes the container (and its anonymous volumes) once the exit's teardown is done (moby
        daemon/monitor.go: AutoRemove after the exit's handling), unless someone removed it meanwhile."""
        removed = container.removed = self.env.event()
        yield from self.cleaned(container)
        if container.state != REMOVED:
            self.remove(container, job=job, volumes=True)
        removed.succeed()

    def removal(self, container: Container) -> Generator[Any, Any, None]:
        """Until a --rm container's removal after its exit is done (at once when it is not under way)."""
        removed = container.removed
        if removed is not None and not removed.processed:
            yield removed

    def _process(self, container: Container, job: int, restarted: bool) -> Generator[Any, Any, tuple[int, str]]:
        """One run of the container's process: returns (exit code, "" | "cgroup" | "host" for an OOM kill);
        ``restarted``: a run its restart loop started (background)."""
        env, spec, rng, kernel = self.env, container.spec, self.rng, self.kernel
        assert container.kill is not None and container.stop_requested is not None
        began = env.now
        container.cgroup = None  # a new run's cgroup, made at its first CPU work (Container.cpu_group)
        duration = math.inf if spec.until_stopped else spec.duration.sample(rng)
        cpu_time = spec.cpu_time.sample(rng) if spec.cpu_time is not None else None
        usage = spec.memory_usage.sample(rng) if spec.memory_usage is not None else 0.0
        if spec.mounts:
            usage += self.storage.tmpfs_bytes(spec)  # tmpfs files are memory (storage.py)
        container.usage = usage
        fails = spec.fail_probability > 0 and rng.random() < spec.fail_probability
        code = (spec.exit_code or 1) if fails else spec.exit_code
        is_vm = vm.guest_kernel(self.spec, spec.isolation)
        oom, task, cached = "", None, False
        try:
            written = True
            if spec.mounts or (not container.layer_written and (spec.writes > 0 or spec.copy_up > 0)):
                written = yield from self.storage.write(container, job)  # storage.py
            if not written:
                code = 1
            else:
                limit = vm.guest_memory(self.spec, container) if is_vm else spec.memory
                if limit is not None and usage > limit:
                    oom = "cgroup"  # the cgroup's (or the guest's) OOM killer, as soon as it allocates
                elif usage > 0 and not is_vm:
                    for victim in kernel.charge(container, usage):
                        if victim is container:
                            oom = "host"
                        elif victim.kill is not None and not victim.kill.triggered:
                            victim.kill.succeed("host")
                if not oom:
                    if not is_vm:
                        size = container.image.uncompressed * self.spec.runtime.page_cache_fraction
                        kernel.cache_files(container.image.ref, size)
                        cached = True
                    code, oom, task = yield from self._run_workload(container, duration, cpu_time, code, job,
                                                                     restarted)
        finally:
            received = 0.0
            if task is not None:
                received = freezer.end_work(kernel.cpu, container, task)
                if restarted:
                    kernel.cpu.background.pop(task, None)
            freezer.release(container)  # a process that ends frozen (stopped, killed) is thawed with it
            kernel.uncharge(container)
            if cached:
                kernel.release_files(container.image.ref)
        if oom:
            code = SIGKILL_EXIT
        self.recorder.span(_PROCESS, container.name, began, env.now, host=self.host, job=job,
                           image=container.image.ref, run=container.runs - 1, isolation=spec.isolation,
                           exit_code=code, oom=oom, status="exited", cpu_seconds=received, memory=usage)
        return code, oom

    def _run_workload(self, container: Container, duration: float, cpu_time: float | None, code: int,
                      job: int, restarted: bool) -> Generator[Any, Any, tuple[int, str, CpuTask | None]]:
        """Wait for the natural end (wall time, or CPU work done), a stop, or an OOM kill."""
        env, spec = self.env, container.spec
        kill, stop = container.kill, container.stop_requested
        assert kill is not None and stop is not None
        task: CpuTask | None = None
        natural: simpy.Event | None = None
        if cpu_time is not None:
            container.cpu_demand = cpu_time / duration if 0 < duration < math.inf else math.inf
            demand, threads = _run_demand(container)
            task = container.cpu_task = self.kernel.cpu.run_in(container.cpu_group(), cpu_time, demand, threads)
            natural = task.done
            if restarted:  # its loop's work, on a scheduler other work shares (_process forgets it at the end)
                self.kernel.cpu.background[task] = RESTART
        elif not math.isinf(duration):
            natural = backoff_timeout(env, duration) if restarted else env.timeout(duration)
        calls = None
        if spec.calls and self.services is not None:  # its calls are part of its work (service_calls.py)
            natural = calls = self.services.start(container, self.host, job, natural,
                                                  endless=cpu_time is None and math.isinf(duration))
        if spec.healthcheck is not None:
            env.process(self._health(container, env.now, job, restarted))
        yield first_of(env, [kill, stop] if natural is None else [natural, kill, stop])
        if kill.processed:
            return _killed(kill, code, task)
        if natural is not None and natural.processed:
            if container.frozen is not None:  # docker pause: a frozen process exits once it is thawed
                yield container.frozen
            if calls is not None and calls.value is not None:
                code = calls.value  # a call failed: the client's exit code
            return code, "", task
        # docker stop: SIGTERM; the process takes stop_time to exit, or is killed at the timeout
        grace = spec.stop_time.sample(self.rng)
        timeout = cast(float, stop.value)
        yield first_of(env, [env.timeout(min(grace, timeout)), kill] + ([natural] if natural is not None else []))
        if kill.processed:
            return _killed(kill, code, task)
        if natural is not None and natural.processed:
            return code, "", task
        return (SIGKILL_EXIT if grace > timeout else spec.stop_exit_code), "", task

    def _health(self, container: Container, started: float, job: int, restarted: bool) -> Generator[Any, Any, None]:
        """The run's healthcheck: startup work and probes as work on this host (components/health.py); a
        restarted run's is part of its restart loop (background)."""
        yield from health.monitor(self.env, self.kernel, self.spec.runtime, self.rng, self.recorder, self.host,
                                  container, job, lambda: not self.no_more_restarts, self.storage.disk,
                                  background=RESTART if restarted else 0)

    def update(self, container: Container, spec: ContainerSpec, live: CpuTask | None = None) -> None:
        """``docker update`` of limits: ``spec`` from now on. A running process's CPU work (``live``, else its
        run's task) takes the new cap and weight at once, still paced by its demand (``cpu_demand``); a
        memory limit under what it holds is its cgroup's OOM kill, as cgroup v2's memory.max does when it is
        written below the usage and reclaim frees nothing (dsim reclaims nothing: no swap)."""
        container.spec = spec
        if container.state != RUNNING:
            return
        demand, threads = _run_demand(container)
        for task in (live if live is not None else freezer.live_task(container), container.cpu_task):
            if task is not None:  # the work now, and what a later freeze and thaw resume it with
                task.demand, task.threads = demand, threads
        if container.cgroup is not None:  # else the spec gives its group its quota and weight when it is made
            self.kernel.cpu.update_group(container.cgroup, spec.cpu_quota, spec.cpu_weight(container.cpu_weights))
        kill = container.kill
        if (spec.memory is not None and container.usage > spec.memory and kill is not None and not kill.triggered
                and not vm.guest_kernel(self.spec, spec.isolation)):
            kill.succeed("cgroup")

    def running(self) -> int:
        return sum(1 for c in self._containers.values() if c.state == RUNNING)


def _endless(manager: RestartManager, spec: ContainerSpec) -> bool:
    """Whether a restart loop can only be stopped, never end by itself: ``always`` and ``unless-stopped``, and
    ``on-failure`` without a limit on a process that can never exit 0."""
    if manager.policy in ("always", "unless-stopped"):
        return True
    return manager.max_retries == 0 and (spec.exit_code != 0 or spec.fail_probability >= 1)


def _exists(container: Container) -> None:
    """A container removed already (a job that removes it twice, or another job's ``rm``) is gone, as Docker
    answers for a name or ID it no longer knows."""
    if container.state == REMOVED:
        raise ApiError(404, f"No such container: {container.name}")


def _run_demand(container: Container) -> tuple[float, float | None]:
    """(cores, threads) of the run's CPU work in its cgroup: its runnable threads, throttled in bursts when its
    quota is below them (``threads``); or its pace (``cpu_demand``) when that is less than its quota lets it
    use: idle part of the time, not throttled in bursts."""
    spec = container.spec
    if container.cpu_demand < spec.cpu_cap:
        return container.cpu_demand, None
    return spec.runnable_threads, spec.quota_threads
