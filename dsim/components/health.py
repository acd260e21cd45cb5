"""Readiness and health checks as work, by moby's rules (daemon/health.go,
https://github.com/moby/moby/blob/master/daemon/health.go; docs/containers.md: Health checks as work).

**Readiness** comes from the process's startup work: ``startup_cpu`` CPU-seconds on the host's
processor-sharing scheduler at the container's cores, so a busy host makes the service ready later, then
``startup_io`` bytes written to the host's disk at its shared write rate. A
declared ``time_to_healthy`` is a wall-clock wait from the start that no CPU contention stretches; with both,
the check can pass once both are over (the later of the two).

**Each probe is an exec** in the container: dockerd's exec path (the runtime's ``probe_exec``: dockerd,
containerd, the shim, ``runc exec``; part CPU on the host's scheduler, part waiting) starts the check command,
then the command does its own CPU work (``probe_cpu``, one core) and waits (``probe_wait``). Its ``timeout``
starts once the exec has started (health.go: the exec's start "should not count towards the health check's
timeout"); a command still running then is killed and the probe fails with exit code -1 and "Health check
exceeded timeout". A command that ends succeeds (exit 0) when the process is ready by then, else fails (1).

**The schedule** (health.go ``monitor``): the first probe one interval after the start; after each probe's
result, the next one interval later (probes never overlap), the interval being ``start_interval`` while the
status is ``starting`` and the start period has not passed, else ``interval``. **The status**
(``handleProbeResult``): a success makes it ``healthy`` and clears the failing streak; a failure whose probe
began inside the start period while ``starting`` does not count; any other adds to the streak, and ``retries``
in a row make it ``unhealthy``. Probes go on while the container runs; once the world has no more jobs (no
``until``), each monitor stops at its next tick once more probes could not change its decision; so it does, in a
run without ``until``, when nothing but such monitors' probes is left to happen (a job left that can never end,
environment.py ``only_background_left``). A restarted run's monitor is part of its restart loop (background).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

import simpy

from dsim.components import execs
from dsim.components.container import Container
from dsim.components.disk import Disk
from dsim.components.host import CpuTask, Kernel
from dsim.domain.containers import HealthCheck
from dsim.domain.health import MAX_LOG_ENTRIES, PROBE_THREADS
from dsim.domain.hosts import RuntimeSpec
from dsim.environment import PROBE, idle_timeout, mark_background, only_background_left, unmark_background
from dsim.records import Recorder, SpanKind

STARTING, HEALTHY, UNHEALTHY = "starting", "healthy", "unhealthy"
#: health.go: a probe killed at its timeout (or that could not run) reports exit code -1
EXIT_TIMED_OUT = -1


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """One probe as ``docker inspect``'s ``State.Health.Log`` shows it: when it began and ended, its exit code,
    and what the daemon wrote for it ("" unless the probe was killed)."""

    start: float
    end: float
    exit_code: int
    output: str = ""


@dataclass(eq=False, slots=True)
class HealthState:
    """One run's health: its status, the failing streak, the last probes, and whether the process is ready."""

    status: str = STARTING
    failing_streak: int = 0
    log: list[ProbeResult] = field(default_factory=list)
    ready: bool = False
    #: when the process became ready (None: not yet)
    ready_at: float | None = None
    probes: int = 0


def interval_after(check: HealthCheck, status: str, since_start: float) -> float:
    """health.go ``getInterval``: ``start_interval`` while starting inside the start period, else ``interval``."""
    if since_start < check.start_period and status == STARTING:
        return check.start_interval
    return check.interval


def judge(check: HealthCheck, state: HealthState, result: ProbeResult, started: float) -> None:
    """health.go ``handleProbeResult``: the status and failing streak after ``result``."""
    state.log = [*state.log[-(MAX_LOG_ENTRIES - 1):], result]
    if result.exit_code == 0:
        state.failing_streak = 0
        state.status = HEALTHY
        return
    if state.status == STARTING and result.start - started < check.start_period:
        return  # a failure inside the start period while starting does not count
    state.failing_streak += 1
    if state.failing_streak >= check.retries:
        state.status = UNHEALTHY


class HealthMonitor:
    """One run of a container's healthcheck: its startup work and its probes, on ``kernel``'s scheduler."""

    def __init__(self, env: simpy.Environment, kernel: Kernel, runtime: RuntimeSpec, rng: random.Random,
                 recorder: Recorder, host: str, container: Container, job: int,
                 keep_going: Callable[[], bool], disk: Disk | None = None, background: int = 0) -> None:
        """``keep_going``: False once the world has no more jobs (the monitor then stops at its next tick);
        ``disk``: the host's disk, for the startup work's writes; ``background``: the kind of background activity
        the run belongs to (a restart loop's), 0 for none."""
        check = container.spec.healthcheck
        assert check is not None and container.exited is not None and container.health is not None
        self.env, self.kernel, self.runtime, self.rng = env, kernel, runtime, rng
        self.recorder, self.host, self.job = recorder, host, job
        self.container, self.check = container, check
        self.exited: simpy.Event = container.exited
        self.keep_going = keep_going
        self.disk = disk
        self.background = background
        #: the kinds of background the monitor is now: the run's, and PROBE once settled
        self.kind = background
        self.started = env.now
        self.state = container.health_state = HealthState()
        #: False once the process can never become ready (time_to_healthy inf, or it exited during its startup)
        self._may_be_ready = True

    # ------------------------------------------------------------------ the monitor

    def run(self) -> Generator[Any, Any, None]:
        """Startup work alongside the probes; every status change shown on the container; the ``health`` span
        from the start to the first ``healthy`` (or to the exit). Once settled, the monitor is background
        (``only_background_left``), as a restarted run's is from the start."""
        env, state, container = self.env, self.state, self.container
        self._spawn(self._startup())
        me = mark_background(env, self.kind) if self.kind else None
        unhealthy_at: float | None = None
        status = ""
        try:
            while True:
                wait = interval_after(self.check, state.status, env.now - self.started)
                settled = self._settled()
                if settled != bool(self.kind & PROBE):
                    self.kind = self.background | (PROBE if settled else 0)
                    me = mark_background(env, self.kind)
                timer = idle_timeout(env, wait) if settled else env.timeout(wait)
                yield env.any_of([timer, self.exited])
                if self.exited.triggered or (self._settled() and (not self.keep_going()
                                                                  or only_background_left(env, PROBE))):
                    break
                result = yield from self._probe()
                if result is None:  # the process exited during the probe: health.go drops its result
                    break
                judge(self.check, state, result, self.started)
                container.health_status = state.status
                if state.status != STARTING and container.health is not None and not container.health.triggered:
                    container.health.succeed(state.status)
                if state.status == UNHEALTHY and unhealthy_at is None:
                    unhealthy_at = env.now
                if state.status == HEALTHY and not status:
                    status = HEALTHY
                    self._span(status, unhealthy_at)
        finally:
            unmark_background(env, me)
        if not status:
            exited = self.exited.triggered
            self._span("exited" if exited else state.status, unhealthy_at,
                       end=unhealthy_at if unhealthy_at is not None and not exited else None)

    def _spawn(self, work: Generator[Any, Any, None]) -> simpy.Process:
        """``work`` as a process of its own, background as the monitor is now (a probe's command, a restarted
        run's startup)."""
        return self.env.process(self._marked(work, self.kind) if self.kind else work)

    def _marked(self, work: Generator[Any, Any, None], kind: int) -> Generator[Any, Any, None]:
        me = mark_background(self.env, kind)
        try:
            yield from work
        finally:
            unmark_background(self.env, me)

    def _settled(self) -> bool:
        """Whether more probes could not change the decision: once the world has no more jobs, the monitor goes
        on only until then (healthy; or unhealthy, or starting forever, with readiness no longer pending)."""
        state = self.state
        if state.status == HEALTHY:
            return True
        if state.ready_at is None:
            if self._may_be_ready:
                return False  # its startup is still going: a probe will pass
        elif not state.log or state.log[-1].start < state.ready_at:
            return False  # ready since the last probe: the next one decides
        return state.status == UNHEALTHY or math.isinf(self.check.start_period)

    def _span(self, status: str, unhealthy_at: float | None, end: float | None = None) -> None:
        """The ``health`` span: to the first ``healthy``; without one, to the exit, or to ``unhealthy``."""
        self.recorder.span(SpanKind.HEALTH, self.container.name, self.started, self.env.now if end is None else end,
                           host=self.host, job=self.job, status=status, unhealthy_at=unhealthy_at)

    # ------------------------------------------------------------------ readiness

    def _startup(self) -> Generator[Any, Any, None]:
        """The process's startup work, then what is left of ``time_to_healthy``: the process is ready."""
        env, check = self.env, self.check
        work = check.startup_cpu.sample(self.rng)
        began = env.now
        if work > 0:
            done = yield from self._work(work)
            if not done:
                self._may_be_ready = False
                return
        if check.startup_io > 0 and self.disk is not None:
            yield env.any_of([self.disk.write(check.startup_io), self.exited])
            if self.exited.triggered:
                self._may_be_ready = False
                return
        if work > 0 or check.startup_io > 0:
            self.recorder.span(SpanKind.STARTUP, self.container.name, began, env.now, host=self.host, job=self.job,
                               cpu_seconds=work, io_bytes=check.startup_io)
        declared = check.time_to_healthy.sample(self.rng)
        if math.isinf(declared):
            self._may_be_ready = False
            return
        left = self.started + declared - env.now
        if left > 0 and not (yield from self._wait(left)):
            self._may_be_ready = False
            return
        self.state.ready = True
        self.state.ready_at = env.now

    # ------------------------------------------------------------------ one probe

    def _probe(self) -> Generator[Any, Any, ProbeResult | None]:
        """The exec's start, then the check command under its timeout; None when the process exits meanwhile."""
        env, check, state = self.env, self.check, self.state
        began = env.now
        state.probes += 1
        if not (yield from execs.exec_path(env, self.kernel, self.runtime, self.rng, self.exited)):
            return None
        exec_end = env.now
        command = self._spawn(self._command())
        waits = [command, self.exited]
        if check.probe_wait > check.timeout or not (check.probe_cpu.is_constant and check.probe_cpu.mean == 0):
            waits.append(env.timeout(check.timeout))  # (a command that cannot run over sets no timer)
        yield env.any_of(waits)
        if self.exited.triggered and not command.triggered:
            command.interrupt()
            return None
        if command.triggered:
            code = 0 if state.ready else 1
            result = ProbeResult(began, env.now, code)
        else:  # killed at the timeout (health.go: "Health check exceeded timeout")
            command.interrupt()
            result = ProbeResult(began, env.now, EXIT_TIMED_OUT, f"Health check exceeded timeout ({check.timeout:g}s)")
        self.recorder.span(SpanKind.HEALTH_PROBE, self.container.name, began, env.now, host=self.host, job=self.job,
                           exit_code=result.exit_code, exec_end=exec_end)
        return result

    def _command(self) -> Generator[Any, Any, None]:
        """The check command: its CPU (one core), then its waiting; an interrupt is the kill at the timeout."""
        task: CpuTask | None = None
        try:
            work = self.check.probe_cpu.sample(self.rng)
            if work > 0:  # in the container's cgroup, sharing its quota and weight
                task = self.kernel.cpu.run_in(self.container.cpu_group(), work, PROBE_THREADS)
                yield task.done
            wait = self.check.probe_wait
            if wait > 0:  # a command that never ends waits on an event that never fires (killed at the timeout)
                yield self.env.timeout(wait) if not math.isinf(wait) else self.env.event()
        except simpy.Interrupt:
            if task is not None:
                self.kernel.cpu.cancel(task)

    def _work(self, cpu_seconds: float) -> Generator[Any, Any, bool]:
        """The process's ``cpu_seconds`` in its cgroup, on its runnable threads; False if it exits first."""
        task = self.kernel.cpu.run_in(self.container.cpu_group(), cpu_seconds, self.container.spec.runnable_threads)
        yield self.env.any_of([task.done, self.exited])
        if not task.done.triggered:
            self.kernel.cpu.cancel(task)
            return False
        return True

    def _wait(self, seconds: float) -> Generator[Any, Any, bool]:
        if seconds > 0:
            yield self.env.any_of([self.env.timeout(seconds), self.exited])
        return not self.exited.triggered


def monitor(env: simpy.Environment, kernel: Kernel, runtime: RuntimeSpec, rng: random.Random, recorder: Recorder,
            host: str, container: Container, job: int, keep_going: Callable[[], bool],
            disk: Disk | None = None, *, background: int = 0) -> Generator[Any, Any, None]:
    """The health monitor of ``container``'s current run (runtime.py starts it with the process)."""
    yield from HealthMonitor(env, kernel, runtime, rng, recorder, host, container, job, keep_going, disk,
                             background).run()
