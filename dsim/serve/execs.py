"""``docker exec``, ``top``, ``stats``, ``pause``/``unpause`` and ``rename`` on the API's containers.

Mixed into ``serve.engine.Engine`` (simulation thread). An exec is a second process in a running container:
the daemon takes the call (``api``), dockerd's exec path starts the process (ContainerRuntime.exec_path: the
host's ``probe_exec``, as a workload's exec step and a health probe), and the command does what ``commands.py``
says (its output, its time, its exit code); it dies with the container. ``top`` lists the container's
processes; ``stats`` reads the kernel model: the CPU-seconds the process's work received on the host's
processor-sharing scheduler and the memory its workload holds (the container's modelled usage, against its
cgroup limit or the host's memory). ``pause`` and ``unpause`` are the daemon's (components/freezer.py).
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, cast

import simpy

from dsim.components import freezer
from dsim.components.container import RESTARTING, RUNNING, Container
from dsim.components.errors import ApiError
from dsim.serve import top
from dsim.serve.bodies import ExecCreate
from dsim.serve.commands import Context, Write, interpret
from dsim.serve.logs import RunLog, through_terminal
from dsim.serve.shell_session import ShellSession
from dsim.serve.views import Served

if TYPE_CHECKING:
    from dsim.components.daemon import Daemon
    from dsim.serve.commands import Context
    from dsim.serve.events import EventLog


@dataclass
class Exec:
    """One ``docker exec`` process."""

    id: str
    served: Served
    argv: list[str]
    config: ExecCreate
    pid: int
    running: bool = False
    exit_code: int | None = None
    log: RunLog | None = None
    session: ShellSession | None = None
    done: simpy.Event | None = None
    pending_input: list[bytes | None] = field(default_factory=list)
    #: when it started (simulated seconds)
    started_at: float = 0.0


class ExecsAndStats:
    """exec, top, stats, pause, rename (mixed into Engine)."""

    env: simpy.Environment
    daemon: Daemon
    events: EventLog
    containers: dict[str, Served]
    clock: Callable[[], float]
    execs: dict[str, Exec]
    exec_numbers: Iterator[int]
    host: str

    def container_event(self, served: Served, action: str, at: float | None = None, **extra: str) -> None:
        raise NotImplementedError

    def context(self, served: Served) -> Context:
        raise NotImplementedError

    def docker_message(self, message: str) -> str:
        raise NotImplementedError

    def pid(self, served: Served) -> int:
        raise NotImplementedError

    def keep_files(self, served: Served, files: tuple[tuple[str, bytes], ...]) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------------ exec

    def _running(self, served: Served) -> None:
        if served.container.state != RUNNING:
            raise ApiError(409, f"container {served.id} is not running")
        if served.paused:
            raise ApiError(409, f"Container {served.id} is paused, unpause the container before exec")

    def exec_create(self, served: Served, config: ExecCreate) -> Exec:
        """``POST /containers/{id}/exec``: 409 unless the container runs (and is not paused)."""
        self._running(served)
        if not config.Cmd:
            raise ApiError(400, "No exec command specified")
        number = next(self.exec_numbers)  # not the table's size: the execs of exited containers leave it
        ident = hashlib.sha256(f"dsim-serve exec {self.host} {served.id} {number}".encode()).hexdigest()
        made = Exec(ident, served, list(config.Cmd), config, pid=self.pid(served) + 100 * number)
        self.execs[ident] = made
        served.exec_ids.append(ident)
        served.execs_made.append(ident)
        self.container_event(served, f"exec_create: {' '.join(made.argv)}", execID=ident)
        return made

    def forget_execs(self, served: Served) -> None:
        """The container's process has exited: its execs are gone (moby's Cleanup unregisters each, so
        ``docker exec inspect`` of one answers 404 from then on)."""
        for ident in served.execs_made:
            self.execs.pop(ident, None)
        served.execs_made.clear()

    def find_exec(self, ident: str) -> Exec:
        found = self.execs.get(ident)
        if found is None:
            raise ApiError(404, f"No such exec instance: {ident}")
        return found

    def exec_run(self, made: Exec, job: int) -> Generator[Any, Any, None]:
        """``POST /exec/{id}/start``: the API call, runc's process start, then the command's life (ended
        early by the container's exit); ``exec_die`` with its exit code."""
        if made.running or made.exit_code is not None:
            raise ApiError(409, f"Error: Exec command {made.id} is already running" if made.running else
                                f"Error: Exec command {made.id} has already run")
        served = made.served
        yield from self.daemon.api("exec start", job=job)
        self._running(served)
        made.running = True
        made.started_at = self.env.now
        yield from self.daemon.runtime.exec_path()  # as a workload's exec step
        context = exec_context(self.context(served), made.config)
        program = interpret(made.argv, context, stdin_open=made.config.AttachStdin)
        self.keep_files(served, program.files)
        finished = made.done = self.env.event()
        writes: list[Write] = list(program.output)
        if made.config.Tty and not program.reads_stdin:
            writes, _ = through_terminal(writes, None)
        if program.reads_stdin:
            made.session = ShellSession(made.argv, context, tty=made.config.Tty)
            writes = made.session.begin()
        else:
            self.env.process(self._finish_after(made, program.duration, program.exit_code))
        made.log = RunLog(self.env.now, writes)
        self.container_event(served, f"exec_start: {' '.join(made.argv)}", execID=made.id)
        for data in made.pending_input:
            self.exec_feed(made, data)
        exited = served.container.exited
        waits = [finished] + ([exited] if exited is not None and not exited.triggered else [])
        yield self.env.any_of(waits)
        code = int(cast(int, finished.value)) if finished.triggered else 137  # killed with its container
        made.running = False
        made.exit_code = int(code)
        made.log.end = self.env.now
        served.exec_ids.remove(made.id)
        self.container_event(served, "exec_die", execID=made.id, exitCode=str(made.exit_code))

    def _finish_after(self, made: Exec, duration: float, code: int) -> Generator[Any, Any, None]:
        if not math.isinf(duration):
            yield self.env.timeout(duration)
            if made.done is not None and not made.done.triggered:
                made.done.succeed(code)

    def exec_feed(self, made: Exec, data: bytes | None) -> None:
        """The client's input to an interactive exec (None: end of input)."""
        if made.session is None or made.log is None:
            made.pending_input.append(data)
            return
        if made.session.ended:
            return
        writes = made.session.feed(data) if data is not None else made.session.close()
        self.keep_files(made.served, made.session.take_files())
        offset = self.env.now - made.log.start
        made.log.writes += [Write(offset + w.at, w.stream, w.data) for w in writes]
        if made.session.ended:
            delay = max([w.at for w in writes] + [made.session.exit_at])
            self.env.process(self._finish_after(made, delay, made.session.status))

    def exec_output(self, made: Exec) -> tuple[list[Any], bool]:
        """The exec's lines by now, and whether it is over."""
        if made.log is None:
            return [], made.exit_code is not None
        return made.log.lines(self.clock()), not made.running and made.exit_code is not None

    def exec_inspect(self, made: Exec) -> dict[str, Any]:
        config = made.config
        return {
            "CanRemove": False, "DetachKeys": config.DetachKeys, "ID": made.id, "Running": made.running,
            "ExitCode": made.exit_code if made.exit_code is not None else None,
            "ProcessConfig": {"privileged": config.Privileged, "user": config.User, "tty": config.Tty,
                              "entrypoint": made.argv[0], "arguments": made.argv[1:]},
            "OpenStdin": config.AttachStdin, "OpenStderr": config.AttachStderr, "OpenStdout": config.AttachStdout,
            "ContainerID": made.served.id, "Pid": made.pid if made.running else 0,
        }

    # ------------------------------------------------------------------ top

    def top(self, served: Served, command: Callable[[Served], list[str]], ps_args: str) -> dict[str, Any]:
        """``GET /containers/{id}/top?ps_args=``: ``ps`` (``-ef`` by default) of the container's process and
        its running execs, as dockerd runs and reads it (top.py); then the ``top`` event."""
        ps_args = ps_args or "-ef"
        top.check_ps_args(ps_args)
        container = served.container
        if container.state != RUNNING:
            raise ApiError(409, f"container {served.id} is not running")  # GetRunningTask (moby v29.1)
        now = self.epoch(max(self.env.now, self.clock()))
        tty = "pts/0" if served.config.get("Tty") else "?"
        shim = self.pid(served) - 1  # the containerd shim, parent of the process and of each exec
        procs = [top.Proc(self.pid(served), shim, command(served), self.epoch(container.started_at or 0.0),
                          self.cpu_seconds(served), int(container.usage), tty)]
        for ident in served.exec_ids:
            made = self.execs[ident]
            procs.append(top.Proc(made.pid, shim, made.argv, self.epoch(made.started_at), 0.0, 0,
                                  "pts/0" if made.config.Tty else "?"))
        output = top.ps_output(ps_args, procs, now, int(self.daemon.kernel.memory))
        listed = top.parse_ps_output(output, {proc.pid for proc in procs})
        self.container_event(served, "top")
        return listed

    def epoch(self, sim_time: float) -> float:
        raise NotImplementedError

    # ------------------------------------------------------------------ stats

    def cpu_seconds(self, served: Served, at: float | None = None) -> float:
        """CPU-seconds the current run's work has received on the host's scheduler (0 without cpu_time):
        before a pause, and since the unpause (components/freezer.py)."""
        now = max(self.env.now, self.clock()) if at is None else at
        return freezer.received(self.daemon.kernel.cpu, served.container, now)

    def stats(self, served: Served, previous: dict[str, Any] | None) -> dict[str, Any]:
        """One ContainerStatsResponse: the kernel model's figures now (``previous``: the sample before)."""
        container = served.container
        running = container.state in (RUNNING, RESTARTING)
        cores = self.daemon.kernel.cpu.cores
        now = max(self.env.now, self.clock())
        usage = container.usage if container.state == RUNNING else 0.0
        limit = container.spec.memory or self.daemon.kernel.memory
        used = int(round(self.cpu_seconds(served, now) * 1e9))
        online = max(1, math.ceil(cores))
        cpu = {"cpu_usage": {"total_usage": used, "usage_in_kernelmode": 0, "usage_in_usermode": used},
               "system_cpu_usage": int(round(now * online * 1e9)), "online_cpus": online,
               "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}}
        empty_cpu = {"cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
                     "system_cpu_usage": 0, "online_cpus": 0,
                     "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}}
        written = int(container.spec.writes) if container.layer_written else 0
        return {
            "name": f"/{served.name}", "id": served.id,
            "read": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(self.epoch(now))) + "Z" if running
            else "0001-01-01T00:00:00Z",
            "preread": previous["read"] if previous else "0001-01-01T00:00:00Z",
            "pids_stats": {"current": (1 + len(served.exec_ids)) if running else 0, "limit": 0},
            "blkio_stats": {"io_service_bytes_recursive": [{"major": 8, "minor": 0, "op": "write",
                                                            "value": written}],
                            "io_serviced_recursive": None, "io_queue_recursive": None,
                            "io_service_time_recursive": None, "io_wait_time_recursive": None,
                            "io_merged_recursive": None, "io_time_recursive": None, "sectors_recursive": None},
            "num_procs": 0,
            "cpu_stats": cpu if running else empty_cpu,
            "precpu_stats": previous["cpu_stats"] if previous else empty_cpu,
            "memory_stats": {"usage": int(usage), "limit": int(limit),
                             "stats": {"anon": int(usage), "file": 0, "inactive_file": 0, "active_file": 0}}
            if running else {},
            "networks": {"eth0": {"rx_bytes": 0, "rx_packets": 0, "rx_errors": 0, "rx_dropped": 0, "tx_bytes": 0,
                                  "tx_packets": 0, "tx_errors": 0, "tx_dropped": 0}} if running else {},
        }

    # ------------------------------------------------------------------ pause

    def pause(self, served: Served, job: int) -> Generator[Any, Any, None]:
        """``docker pause``: the daemon's freezer (components/freezer.py); its ``pause`` event comes through
        ``freezer_event``."""
        try:
            yield from self.daemon.pause(served.container, job=job)
        except ApiError as err:
            raise ApiError(err.status, self.docker_message(str(err))) from None

    def unpause(self, served: Served, job: int) -> Generator[Any, Any, None]:
        """``docker unpause``: the work left goes back on the scheduler (components/freezer.py)."""
        try:
            yield from self.daemon.unpause(served.container, job=job)
        except ApiError as err:
            raise ApiError(err.status, self.docker_message(str(err))) from None

    def freezer_event(self, container: Container, action: str) -> None:
        """The daemon froze or thawed ``container`` (``docker pause``, ``unpause``, or a commit meanwhile): the
        API's ``pause`` or ``unpause`` event (moby's containerPause and containerUnpause log them)."""
        for served in self.containers.values():
            if served.container is container:
                self.container_event(served, action)
                return

    # ------------------------------------------------------------------ rename

    def rename(self, served: Served, name: str, job: int) -> Generator[Any, Any, None]:
        """``docker rename``: Docker's name rules and conflicts."""
        yield from self.daemon.api("rename", job=job)
        new = name.lstrip("/")
        if not new:
            raise ApiError(400, "Neither old nor new names may be empty")
        if not re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+", new):
            raise ApiError(400, f"Invalid container name ({new}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
        old = served.name
        if new == old:
            raise ApiError(400, "Renaming a container with the same name as its current name")
        try:
            self.daemon.runtime.rename(served.container, new)
        except ApiError as err:  # the container it names by the runtime's ID: Docker's ID instead
            raise ApiError(err.status, self.docker_message(str(err))) from None
        self.container_event(served, "rename", oldName=f"/{old}")


def exec_context(container: Context, config: ExecCreate) -> Context:
    """What an exec'd process sees (moby daemon/exec.go): the container's environment with the exec's ``Env``
    replacing or appended, its ``-u`` and ``-w`` over the container's, ``TERM=xterm`` with its own ``-t``."""
    return replace(container, env=container.env + tuple(config.Env or ()), user=config.User or container.user,
                   workdir=config.WorkingDir or container.workdir, tty=config.Tty)
