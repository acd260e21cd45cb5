"""``docker exec`` in the container runtime: dockerd's exec path and the exec'd command's life (mixed into
``ContainerRuntime``; docs/containers.md, docker exec)."""

from __future__ import annotations

import math
import random
from collections.abc import Generator
from typing import Any

import simpy

from dsim.components import freezer
from dsim.components.container import RUNNING, SIGKILL_EXIT, Container
from dsim.components.errors import ApiError
from dsim.components.host import CpuTask, Kernel
from dsim.domain.health import PROBE_THREADS
from dsim.domain.hosts import HostSpec, RuntimeSpec
from dsim.domain.steps import ExecStep
from dsim.environment import first_of


class ExecVerbs:
    """exec, mixed into ``ContainerRuntime`` (which provides the host's kernel, spec and random stream)."""

    env: simpy.Environment
    spec: HostSpec
    kernel: Kernel
    rng: random.Random

    def exec(self, container: Container, command: ExecStep) -> Generator[Any, Any, simpy.Process]:
        """``runc exec`` of a command in ``container`` (docker exec): dockerd's exec path (``exec_path``), then
        the command as a process of its own, returned: its value is the exit code, 137 when the container's
        process exits first (its PID namespace goes with it). The command runs in the container's cgroup,
        sharing its ``--cpus`` quota and its CPU weight with the container's process (``Container.cpu_group``); a
        ``docker pause`` freezes it with the container (freezer.py)."""
        yield from self.exec_path()
        if container.state != RUNNING:  # its process exited meanwhile: nothing to join
            raise ApiError(409, f"container {container.id} is not running")
        return self.env.process(self._exec_command(container, command))

    def exec_path(self) -> Generator[Any, Any, bool]:
        """dockerd's exec path for an exec on this host (``exec_path`` below)."""
        return (yield from exec_path(self.env, self.kernel, self.spec.runtime, self.rng))

    def _exec_command(self, container: Container, command: ExecStep) -> Generator[Any, Any, int]:
        """The exec'd command's life: its CPU work or its wall time, or the container's exit first (137)."""
        env = self.env
        duration = command.duration.sample(self.rng)
        task: CpuTask | None = None
        if command.cpu_time is not None:
            cpu_time = command.cpu_time.sample(self.rng)
            demand = float(command.threads)
            if 0 < duration < math.inf:
                demand = min(demand, cpu_time / duration)  # paced: idle part of the time
            task = self.kernel.cpu.run_in(container.cpu_group(), cpu_time, demand)
            container.exec_tasks.append(task)  # frozen with the container (freezer.py)
            natural = task.done
        else:
            natural = env.event() if math.isinf(duration) else env.timeout(duration)
        exited = container.exited
        waits = [natural] if exited is None or exited.triggered else [natural, exited]
        try:
            yield first_of(env, waits)
            if natural.processed and container.frozen is not None and task is None:
                yield first_of(env, [container.frozen] + waits[1:])  # a deadline passed while frozen: at the thaw
            return command.exit_code if natural.processed and container.state == RUNNING else SIGKILL_EXIT
        finally:
            if task is not None:
                container.exec_tasks.remove(task)
                freezer.end_work(self.kernel.cpu, container, task)


def exec_path(env: simpy.Environment, kernel: Kernel, runtime: RuntimeSpec, rng: random.Random,
              exited: simpy.Event | None = None) -> Generator[Any, Any, bool]:
    """dockerd's exec path until an exec's command runs (dockerd, containerd, the shim, ``runc exec``), for a
    ``docker exec`` and a health probe alike: the host's ``runtime.probe_exec``, its CPU share on one core in
    containerd's cgroup (its CPU is a runtime's run, ``runtime.cpu.probe_exec``: runc exec, a child of the shim,
    which stays in containerd.service as for runc create; the container's cgroup is joined only by the command
    it starts), then waiting. With ``exited`` (a probe's: the container's exit), False when the container exits
    first: its work stops there."""
    cost = runtime.probe_exec.sample(rng)
    share = runtime.cpu.probe_exec
    work = cost * share
    if work > 0:
        task = kernel.containerd.run(work, PROBE_THREADS)
        yield task.done if exited is None else env.any_of([task.done, exited])
        if not task.done.triggered:
            kernel.containerd.cancel(task)
            return False
    elif exited is not None and exited.triggered:
        return False
    wait = cost * (1 - share)
    if wait > 0:
        timer = env.timeout(wait)
        yield timer if exited is None else env.any_of([timer, exited])
    return exited is None or not exited.triggered
