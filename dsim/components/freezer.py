"""The cgroup freezer: ``docker pause`` and ``docker unpause``, and ``docker commit`` of a running container
(moby daemon/pause.go and daemon/unpause.go: containerd's task Pause and Resume, which freeze and thaw the
container's cgroup; daemon/commit.go pauses a running container for the commit unless ``--pause=false``).

A frozen container's processes get no CPU. Its run's CPU work (``Container.cpu_task``) leaves the host's
processor-sharing scheduler at the freeze, keeping what it has received, so the other work shares the cores; at
the thaw what is left goes back on the scheduler as a task of its own (``FreezerState.resumed``), whose end ends
the run's work. A run that only waits (``duration`` without ``cpu_time``) is a deadline that passes while frozen
(a sleeping process's timer runs on the wall clock): its process exits at the thaw if its time ran out meanwhile
(runtime.py waits on ``Container.frozen``). A process that ends frozen (stopped or killed) is thawed with it
(``release``).
"""

from __future__ import annotations

from dataclasses import dataclass

import simpy

from dsim.components.container import Container
from dsim.components.host import CpuScheduler, CpuTask


@dataclass
class FreezerState:
    """A run's CPU work across its freezes."""

    #: the run's work (``Container.cpu_task``) this is of
    origin: CpuTask
    #: CPU-seconds it received before its last freeze
    received: float = 0.0
    #: CPU-seconds left at its last freeze
    left: float = 0.0
    #: the work left, back on the scheduler since the last thaw (None: frozen, or never thawed)
    resumed: CpuTask | None = None


def freeze(env: simpy.Environment, cpu: CpuScheduler, container: Container) -> None:
    """The cgroup freezer takes the running ``container``: its run's CPU work stops where it is."""
    container.paused = True
    container.frozen = env.event()
    origin = container.cpu_task
    if origin is None:
        return
    state = container.freezer
    if state is None or state.origin is not origin:  # the first freeze of this run
        state = container.freezer = FreezerState(origin)
    task = state.resumed if state.resumed is not None else origin
    if not task.done.triggered and not task.cancelled:
        got = cpu.cancel(task)
        state.received += got
        state.left = task.work - got
        state.resumed = None


def thaw(env: simpy.Environment, cpu: CpuScheduler, container: Container) -> None:
    """The freezer lets ``container`` go: a process whose time ran out while frozen exits now, and the CPU work
    left goes back on the scheduler (its end is the end of the run's work)."""
    release(container)
    state = container.freezer
    origin = container.cpu_task
    if state is None or origin is None or state.origin is not origin or origin.done.triggered:
        return
    task = state.resumed = cpu.run(max(state.left, 0.0), origin.cap, weight=origin.weight)

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


def live_task(container: Container) -> CpuTask | None:
    """The task that carries the run's CPU work now: its remainder after a thaw, else the run's own."""
    state = container.freezer
    origin = container.cpu_task
    if state is not None and origin is not None and state.origin is origin and state.resumed is not None:
        return state.resumed
    return origin


def end_work(cpu: CpuScheduler, container: Container, task: CpuTask) -> float:
    """The run's CPU work ``task`` ends with its process: taken off the scheduler where it still is (the
    task, or its remainder since the last thaw); returns the CPU-seconds it received."""
    state = container.freezer
    if state is None or state.origin is not task:  # never frozen
        return cpu.cancel(task) if not task.done.triggered else task.work
    got = received(cpu, container, cpu.env.now)
    if state.resumed is not None and not state.resumed.done.triggered:
        cpu.cancel(state.resumed)
    return got


def received(cpu: CpuScheduler, container: Container, now: float) -> float:
    """CPU-seconds the current run's work has received by ``now``: before its freezes, and since its last
    thaw."""
    origin = container.cpu_task
    if origin is None:
        return 0.0
    state = container.freezer
    if state is None or state.origin is not origin:
        return cpu.received(origin, now)
    resumed = state.resumed
    return state.received + (cpu.received(resumed, now) if resumed is not None else 0.0)
