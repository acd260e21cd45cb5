"""The cgroup freezer: ``docker pause`` and ``docker unpause``, and ``docker commit`` of a running container
(moby daemon/pause.go and daemon/unpause.go: containerd's task Pause and Resume, which freeze and thaw the
container's cgroup; daemon/commit.go pauses a running container for the commit unless ``--pause=false``).

A frozen container's processes get no CPU. Its run's CPU work (``Container.cpu_task``) and its execs'
(``Container.exec_tasks``) leave the host's processor-sharing scheduler at the freeze, keeping what they have
received, so the other work shares the cores; at the thaw what is left goes back on the scheduler as a task of
its own (``FreezerState.resumed``), whose end ends the process's work. A process that only waits (``duration``
without ``cpu_time``) has a deadline that passes while frozen (a sleeping process's timer runs on the wall
clock): it exits at the thaw if its time ran out meanwhile (runtime.py waits on ``Container.frozen``). A process
that ends frozen (stopped or killed) is thawed with it (``release``).
"""

from __future__ import annotations

from dataclasses import dataclass

import simpy

from dsim.components.container import RUNNING, Container
from dsim.components.host import CpuScheduler, CpuTask


@dataclass
class FreezerState:
    """One process's CPU work across its freezes."""

    #: the work as its process waits on it (``Container.cpu_task``, or an exec's)
    origin: CpuTask
    #: CPU-seconds it received before its last freeze
    received: float = 0.0
    #: CPU-seconds left at its last freeze
    left: float = 0.0
    #: the work left, back on the scheduler since the last thaw (None: frozen, or never thawed)
    resumed: CpuTask | None = None


def freeze(env: simpy.Environment, cpu: CpuScheduler, container: Container) -> None:
    """The cgroup freezer takes the running ``container``: the CPU work of its run and of its execs stops where
    it is."""
    container.paused = True
    container.frozen = env.event()
    for origin in _working(container):
        state = container.freezer.get(origin)
        if state is None:  # its first freeze
            state = container.freezer[origin] = FreezerState(origin)
        task = state.resumed if state.resumed is not None else origin
        if not task.done.triggered and not task.cancelled:
            got = cpu.cancel(task)
            state.received += got
            state.left = task.work - got
            state.resumed = None


def thaw(env: simpy.Environment, cpu: CpuScheduler, container: Container) -> None:
    """The freezer lets ``container`` go: a process whose time ran out while frozen exits now, and the CPU work
    left goes back on the scheduler (its end is the end of the process's work)."""
    release(container)
    for origin in _working(container):
        state = container.freezer.get(origin)
        if state is not None and not origin.done.triggered:
            _resume(env, cpu, container, state)


def _working(container: Container) -> list[CpuTask]:
    """The CPU work of the container's processes: its run's (while it runs) and its running execs'."""
    run = container.cpu_task if container.state == RUNNING else None
    return ([run] if run is not None else []) + container.exec_tasks


def _resume(env: simpy.Environment, cpu: CpuScheduler, container: Container, state: FreezerState) -> None:
    """What ``state``'s work has left, back on the scheduler as a task of its own, whose end ends the work."""
    origin = state.origin
    left = max(state.left, 0.0)
    group = origin.group  # a container's process's work is always in its cgroup (Container.cpu_group)
    assert group is not None
    task = state.resumed = cpu.run_in(group, left, origin.demand, origin.threads)  # sharing its quota and weight again

    def done(_: simpy.Event) -> None:
        if not origin.done.triggered:
            origin.done.succeed(env.now)

    def stop(_: simpy.Event) -> None:  # the process ended another way: its work stops too
        if not task.done.triggered:
            cpu.cancel(task)

    task.done.callbacks.append(done)
    exited = container.exited
    if exited is not None and exited.callbacks is not None:
        exited.callbacks.append(stop)


def release(container: Container) -> None:
    """No longer frozen (thawed, or its process ended: moby unpauses a container it stops or kills)."""
    container.paused = False
    frozen, container.frozen = container.frozen, None
    if frozen is not None and not frozen.triggered:
        frozen.succeed()


def live_task(container: Container, origin: CpuTask | None = None) -> CpuTask | None:
    """The task that carries a process's CPU work now (``origin``, default the run's): its remainder after a
    thaw, else the work itself."""
    origin = container.cpu_task if origin is None else origin
    state = container.freezer.get(origin) if origin is not None else None
    if state is not None and state.resumed is not None:
        return state.resumed
    return origin


def end_work(cpu: CpuScheduler, container: Container, task: CpuTask) -> float:
    """A process's CPU work ``task`` ends with it: taken off the scheduler where it still is (the task, or its
    remainder since the last thaw), and forgotten; returns the CPU-seconds it received."""
    state = container.freezer.pop(task, None)
    if state is None:  # never frozen
        return cpu.cancel(task) if not task.done.triggered else task.work
    resumed = state.resumed
    got = state.received + (cpu.received(resumed) if resumed is not None else 0.0)
    if resumed is not None and not resumed.done.triggered:
        cpu.cancel(resumed)
    return got


def received(cpu: CpuScheduler, container: Container, now: float) -> float:
    """CPU-seconds the current run's work has received by ``now``: before its freezes, and since its last
    thaw."""
    origin = container.cpu_task
    if origin is None:
        return 0.0
    state = container.freezer.get(origin)
    if state is None:
        return cpu.received(origin, now)
    resumed = state.resumed
    return state.received + (cpu.received(resumed, now) if resumed is not None else 0.0)
