"""Signals to the API's containers: ``docker stop``, ``restart`` and ``kill``, and the events dockerd logs for them.

Mixed into ``serve.engine.Engine`` (simulation thread only). The daemon's verbs (``dsim/components/daemon_api.py``)
do the work; here what the API adds: the signal each sends, how the process reacts to it (commands.Program),
and the ``kill``/``stop``/``restart`` events in moby's order (https://github.com/moby/moby/blob/v28.5.2/daemon/stop.go,
daemon/kill.go, daemon/restart.go).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from typing import Any

import simpy

from dsim.components.container import RESTARTING, RUNNING
from dsim.components.daemon import Daemon
from dsim.components.errors import ApiError
from dsim.serve import health
from dsim.serve.commands import signal_name
from dsim.serve.views import Served

#: signal numbers dockerd's kill event shows (Linux, x86-64)
_SIGNALS = {"HUP": 1, "INT": 2, "QUIT": 3, "KILL": 9, "USR1": 10, "USR2": 12, "TERM": 15, "WINCH": 28}
#: the signals whose default action ends a process (signal(7): Term or Core); WINCH's is to ignore it
_TERMINATING = frozenset({"HUP", "INT", "QUIT", "USR1", "USR2", "TERM"})
#: the exit code of a process SIGTERM's default action ends (128 + 15, as a shell reports it)
TERM_EXIT = 128 + _SIGNALS["TERM"]


class Signals:
    """stop, restart and kill (mixed into Engine, which holds these attributes)."""

    env: simpy.Environment
    daemon: Daemon
    container_event: Callable[..., None]
    network_event: Callable[..., None]
    docker_message: Callable[[str], str]
    track_runs: Callable[[Served], Any]
    signal_reaction: Callable[[Served, str, str], str]
    _arm_waiters: Callable[[Served], None]
    _auto_remove: Callable[[Served], Generator[Any, Any, None]]
    _exit_after: Callable[[Served, float, int], Generator[Any, Any, None]]

    def stop(self, served: Served, timeout: float, job: int) -> Generator[Any, Any, bool]:
        """``POST /containers/{id}/stop``: the stop signal, SIGKILL at the timeout; False if not running (304).
        Events as moby's containerStop logs them (daemon/stop.go): ``kill`` with the stop signal as it is sent,
        ``kill`` 9 if the timeout passes first (``_signalled``), the exit's ``die``, then ``stop``."""
        self._signalled_at_stop(served, timeout)
        stopped: bool = yield from self.daemon.stop(served.container, timeout, job=job)
        if stopped:
            self.container_event(served, "stop")
        return stopped

    def restart(self, served: Served, timeout: float, job: int) -> Generator[Any, Any, None]:
        """``POST /containers/{id}/restart``: stop, then start (its waiters follow the new run). moby's
        containerRestart (daemon/restart.go): a running container's containerStop first (its events as
        ``stop``'s), then containerStart's ``start``, then ``restart``."""
        running = served.container.state in (RUNNING, RESTARTING)  # IsRunning: Restarting keeps Running set
        self._signalled_at_stop(served, timeout)
        try:
            yield from self.daemon.restart(served.container, timeout, job=job,
                                           stopped=lambda: self.container_event(served, "stop") if running else None)
        except ApiError as err:
            raise ApiError(err.status, self.docker_message(str(err))) from None
        self.network_event(served, "connect")
        self.container_event(served, "start")
        self.container_event(served, "restart")
        self.track_runs(served)
        health.watch(self, served)  # type: ignore[arg-type]  # mixed into Engine
        self._arm_waiters(served)
        if served.host_config.get("AutoRemove"):
            self.env.process(self._auto_remove(served))

    def _signalled_at_stop(self, served: Served, timeout: float) -> None:
        """The ``kill`` event of a stop's signal, when the runtime sends it (its ``stop_requested``), and when
        the timeout will pass (``Served.kill_at``: the die of a process still running then follows the
        daemon's ``kill`` 9, processes.py)."""
        container = served.container
        requested = container.stop_requested
        if container.state not in (RUNNING, RESTARTING) or requested is None:
            return
        if requested.triggered:  # a stop under way: dockerd sends the signal again
            self._signalled(served, timeout)
        else:
            requested.callbacks.append(lambda _: self._signalled(served, timeout))

    def _signalled(self, served: Served, timeout: float) -> None:
        """moby killWithSignal: no signal, and no event, for a container between two runs of its restart policy
        (``Restarting``); else the event names the container's stop signal (its Config's, the image's, else
        SIGTERM: container.go ``StopSignal``)."""
        if served.container.state != RUNNING:
            return
        name = signal_name(served.config.get("StopSignal") or "TERM")
        self.container_event(served, "kill", signal=str(_SIGNALS.get(name, name)))
        if served.kill_at is None and not math.isinf(timeout):
            served.kill_at = self.env.now + timeout

    def kill(self, served: Served, signal: str, job: int, named: str = "") -> Generator[Any, Any, None]:
        """``POST /containers/{id}/kill``: returns without waiting for the exit, as Docker does. A signal the
        process handles without exiting (nginx's HUP: reload) or, as PID 1, has no handler for, changes
        nothing but takes the API call; under ``--init`` a signal without a handler takes its default action."""
        reaction = self.signal_reaction(served, signal, named)
        name = signal_name(signal)
        self.container_event(served, "kill", signal=str(_SIGNALS.get(name, name)))
        if reaction == "ignore" and served.host_config.get("Init") and name in _TERMINATING:
            # --init: tini is PID 1 and passes the signal on to the process, which has no handler for it: the
            # signal's default action ends it, and tini exits with 128 + the signal's number
            yield from self.daemon.api("kill", job=job)
            self.env.process(self._exit_after(served, 0.0, 128 + _SIGNALS[name]))
            return
        if reaction != "exit":
            yield from self.daemon.api("kill", job=job)
            return
        program = served.program
        if program is not None and not program.handles_term and name != "KILL":
            # a handler of its own for this signal, none for SIGTERM (busybox ping's SIGINT: statistics, exit with
            # its status): the process ends itself now, which its stop time (for SIGTERM: never) does not say
            yield from self.daemon.api("kill", job=job)
            self.env.process(self._exit_after(served, 0.0, program.exit_code))
            return
        try:
            yield from self.daemon.kill(served.container, signal, job=job)
        except ApiError as err:
            raise ApiError(err.status, self.docker_message(str(err))) from None
