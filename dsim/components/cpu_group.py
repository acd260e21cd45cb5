"""A cgroup's CPU controller as the host's scheduler sees it (components/cpu.py ``CpuScheduler.run_in``): the
processes of one container, or the threads of one daemon's service, share its quota and its weight.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from dsim.components.cpu import CpuScheduler, CpuTask


class CpuGroup:
    """A cgroup's CPU controller, shared by the processes in it (a container's: its run, its execs, its health
    probes' commands, the requests it serves; a daemon's service: its threads' work, ``ServiceCpu``): its quota
    (cpu.max, ``--cpus``) caps their sum, and its weight (``--cpu-shares``) is the
    group's, however many of them run (CFS group scheduling: a group is one entity of its parent's runqueue;
    kernel Documentation/admin-guide/cgroup-v2.rst "cpu.max" and "cpu.weight"). Inside it CFS is fair between
    the group's threads, so its processes share what it gets in proportion to the cores each keeps busy alone
    (its ``demand``: its runnable threads, or less when it idles part of the time). The scheduler keeps
    ``members``, the group's running tasks in the order they started (:meth:`CpuScheduler.run_in`)."""

    __slots__ = ("quota", "weight", "members")

    def __init__(self, quota: float = math.inf, weight: float = 1.0) -> None:
        self.quota = quota
        self.weight = weight
        self.members: list[CpuTask] = []

    def shares(self) -> list[tuple[CpuTask, float, float]]:
        """(task, cap, weight) of each member: alone, its demand under the quota at the group's weight; with
        others, the quota (when their demands exceed it) and the weight split in proportion to the demands, so
        that every member's cap binds at the same level of the host's water-filling and the group as a whole
        gets min(its demands, quota, weight x level)."""
        members = self.members
        if len(members) == 1:
            task = members[0]
            return [(task, min(task.demand, self.quota), self.weight)]
        total = sum(task.demand for task in members)
        scale = 1.0 if total <= self.quota else self.quota / total
        return [(task, task.demand * scale, self.weight * task.demand / total) for task in members]


class Cpu(Protocol):
    """What a daemon's components ask of the host's CPU: start work at up to ``cap`` cores, stop it."""

    def run(self, work: float, cap: float) -> CpuTask: ...

    def cancel(self, task: CpuTask) -> float: ...


class ServiceCpu:
    """The host's scheduler as a daemon's service sees it: every task it starts runs in the service's cgroup
    (``docker.service``, ``containerd.service``: systemd's units under ``system.slice``, beside the containers'
    scopes), one entity however many of its threads work. Neither unit file sets a CPU weight, so each has
    systemd's default, 100 on cgroup v2 (1024 shares on v1): 1.0 in the scheduler's unit, a default container's."""

    __slots__ = ("cpu", "group")

    def __init__(self, cpu: CpuScheduler) -> None:
        self.cpu = cpu
        self.group = CpuGroup()

    def run(self, work: float, cap: float) -> CpuTask:
        return self.cpu.run_in(self.group, work, cap)

    def cancel(self, task: CpuTask) -> float:
        return self.cpu.cancel(task)

