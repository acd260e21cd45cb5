"""A container: what it was asked for, its state machine and its restart manager (health: health.py).

States follow moby's: ``created`` -> ``running`` -> ``exited``, with ``restarting`` between runs while
the restart manager waits its backoff, ``removed`` after ``docker rm``, and ``dead`` when removal failed
(dsim never fails a removal, so ``dead`` is listed for completeness of ``ps`` only).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import simpy

from dsim.components.host import CpuGroup, CpuTask
from dsim.domain.containers import ContainerSpec
from dsim.domain.cpu_limits import CpuWeights
from dsim.domain.images import ImageInfo

if TYPE_CHECKING:
    from dsim.components.freezer import FreezerState
    from dsim.components.health import HealthState

CREATED, RUNNING, RESTARTING, EXITED, REMOVED, DEAD = "created", "running", "restarting", "exited", "removed", "dead"

#: Exit code of a process killed by SIGKILL (128 + 9): docker stop past its timeout, and OOM kills.
SIGKILL_EXIT = 137

#: moby daemon/restartmanager: the first restart waits 100 ms, each further one doubles, capped at 1 min;
#: a run of at least 10 s resets the wait to 100 ms.
RESTART_FIRST_DELAY = 0.1
RESTART_MAX_DELAY = 60.0
RESTART_RESET_AFTER = 10.0


class RestartManager:
    """moby's restart manager: whether and after which delay an exited container starts again."""

    def __init__(self, policy: str) -> None:
        self.set_policy(policy)
        self.reset()

    def set_policy(self, policy: str) -> None:
        """``no``, ``always``, ``unless-stopped`` or ``on-failure[:N]``."""
        name, _, count = policy.partition(":")
        self.policy = name
        self.max_retries = int(count) if count else 0  # on-failure without N: no limit (moby: 0 = unlimited)

    def reset(self) -> None:
        """As new (moby makes a new restart manager on every API start)."""
        self.restart_count = 0
        self.delay = 0.0
        self.cancelled = False

    def should_restart(self, exit_code: int, manually_stopped: bool, ran_for: float) -> tuple[bool, float]:
        """(restart?, wait before it), as ``ShouldRestart``: the backoff advances on every exit."""
        if self.policy == "no" or self.cancelled or manually_stopped:
            return False, 0.0
        if ran_for >= RESTART_RESET_AFTER:
            self.delay = 0.0
        if self.delay == 0.0:
            self.delay = RESTART_FIRST_DELAY
        elif self.delay < RESTART_MAX_DELAY:
            self.delay *= 2
        self.delay = min(self.delay, RESTART_MAX_DELAY)
        if self.policy in ("always", "unless-stopped"):
            restart = True
        else:  # on-failure[:N]
            restart = exit_code != 0 and (self.max_retries == 0 or self.restart_count < self.max_retries)
        if restart:
            self.restart_count += 1
        return restart, self.delay


@dataclass(eq=False, slots=True)  # identity: the kernel keys memory by container
class Container:
    id: str
    name: str
    image: ImageInfo
    spec: ContainerSpec
    job: int
    restart_manager: RestartManager
    state: str = CREATED
    exit_code: int | None = None
    oom_killed: bool = False
    error: str = ""
    started_at: float | None = None
    finished_at: float | None = None
    process: simpy.Process | None = None
    #: fires at the next exit of the process (``docker wait``, condition next-exit), value the exit code
    exited: simpy.Event | None = None
    #: fires when ``docker stop`` asks; its value is the stop timeout
    stop_requested: simpy.Event | None = None
    #: fires when the kernel's OOM killer picks this container (value "host"), or when the process ends
    #: itself at once (value: its exit code; dsim serve's interactive shells)
    kill: simpy.Event | None = None
    #: fires when the health status is first decided in this run: value "healthy" or "unhealthy"
    health: simpy.Event | None = None
    #: with --rm, fires once the daemon has removed it after its exit (None: no auto-removal under way)
    removed: simpy.Event | None = None
    health_status: str = ""
    manually_stopped: bool = False
    runs: int = 0
    published: list[str] = field(default_factory=list)
    #: memory the current run's workload uses (sampled at its start)
    usage: float = 0.0
    #: the current run's CPU work on the host's scheduler (None: a run without cpu_time)
    cpu_task: CpuTask | None = None
    #: the cores that work would use if nothing capped it: cpu_time / duration when both are given (a paced
    #: process, idle part of the time), else inf; a ``docker update`` of its cap caps this
    cpu_demand: float = math.inf
    #: frozen by the cgroup freezer (``docker pause``, or a commit meanwhile: freezer.py)
    paused: bool = False
    #: while frozen: fires at the thaw (None: not frozen)
    frozen: simpy.Event | None = None
    #: the CPU work of its processes across their freezes, by the task each process waits on (freezer.py)
    freezer: dict[CpuTask, FreezerState] = field(default_factory=dict)
    #: the CPU work of its running execs (execs.py), which the freezer stops too
    exec_tasks: list[CpuTask] = field(default_factory=list)
    #: the current run's cgroup on the host's CPU, made by ``cpu_group`` at the run's first CPU work (None until
    #: then): the quota and weight its run, execs, probe commands and served requests share
    cgroup: CpuGroup | None = None
    #: how the host turns --cpu-shares into a CPU weight (RuntimeSpec.cpu_weights)
    cpu_weights: CpuWeights = "quadratic"
    layer_written: bool = False
    #: when the last exit's teardown (components/teardown.py) ends: a time, or an event; None: nothing pending
    cleanup: float | simpy.Event | None = None
    #: the current run's health (components/health.py): status, failing streak, last probes, readiness
    health_state: HealthState | None = None
    #: compose waits polling for it to run or be healthy (components/compose.py), which a restart could make
    #: it: its restart loop goes on while they poll (environment.py ``only_background_left``)
    awaited: int = 0

    def cpu_group(self) -> CpuGroup:
        """The current run's cgroup on the CPU, made at its first CPU work with the spec's quota and weight then (a
        run that never works on the CPU makes none)."""
        group = self.cgroup
        if group is None:
            group = self.cgroup = CpuGroup(self.spec.cpu_quota, self.spec.cpu_weight(self.cpu_weights))
        return group

    @property
    def status(self) -> str:
        """``docker ps`` STATUS column, roughly: Up / Restarting (code) / Exited (code) / Created."""
        if self.state == RUNNING:
            return "Up" + (f" ({self.health_status})" if self.health_status else "")
        if self.state in (RESTARTING, EXITED):
            return f"{self.state.capitalize()} ({self.exit_code})"
        return self.state.capitalize()
