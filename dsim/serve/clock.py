"""The real-time clock of ``dsim serve``: one thread owns the SimPy environment and steps it so that
simulated time runs ``speed`` times faster than the wall clock; HTTP threads hand it work and wait.

This is SimPy's ``RealtimeEnvironment(factor=1/speed, strict=False)`` turned inside out: that class sleeps
inside ``step()`` and cannot be woken when a request arrives from another thread, so here the loop waits
on a condition variable instead, until the next event is due or a task is submitted. Nothing else ever
touches the environment or a component: every read and every operation runs as a task in this thread,
so the model needs no locks. A task that starts an operation schedules it at the simulated time the
request arrived (``now()`` when submitted), never earlier; with ``strict=False`` semantics a loop that
falls behind (a slow step) simply catches up.
"""

from __future__ import annotations

import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Generator
from concurrent.futures import Future
from typing import Any, TypeVar

import simpy

T = TypeVar("T")

#: Longest the loop sleeps without looking at the clock again (seconds of wall time).
_MAX_SLEEP = 0.25
#: Events stepped before the loop looks for new tasks again, so requests stay responsive under load.
_BATCH = 2000


class SimLoop:
    """Runs ``env`` in real time scaled by ``speed``; thread-safe ``submit``/``call``/``start``."""

    def __init__(self, env: simpy.Environment, speed: float) -> None:
        if not speed > 0:
            raise ValueError("speed must be > 0")
        self.env = env
        self.speed = speed
        self._cv = threading.Condition()
        self._tasks: deque[tuple[Callable[[], Any], Future[Any]]] = deque()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._wall0 = time.monotonic()
        self._sim0 = env.now
        #: unhandled errors of model processes, as text (shown on stderr; the server keeps going)
        self.errors: list[str] = []

    # ------------------------------------------------------------------ the clock

    def now(self) -> float:
        """Simulated time that corresponds to this wall-clock instant."""
        return self._sim0 + (time.monotonic() - self._wall0) * self.speed

    def wall_delay(self, sim_seconds: float) -> float:
        """Wall seconds that ``sim_seconds`` of simulated time take."""
        return sim_seconds / self.speed

    # ------------------------------------------------------------------ life cycle

    def start(self) -> None:
        self._wall0 = time.monotonic()
        self._sim0 = self.env.now
        self._thread = threading.Thread(target=self._run, name="dsim-sim", daemon=True)
        self._thread.start()

    def stop(self) -> float:
        """Stop stepping; returns the simulated time at the stop (events due before it are processed and the
        environment's clock is advanced to it, so the horizon of the outputs is the moment of the stop)."""
        end = self.now()
        with self._cv:
            self._stopping = True
            self._cv.notify_all()
        if self._thread is not None:
            self._thread.join()
        self._advance_to(end)
        with self._cv:
            pending, self._tasks = list(self._tasks), deque()
        for _, future in pending:
            future.set_exception(RuntimeError("the server is shutting down"))
        return self.env.now

    def _advance_to(self, until: float) -> None:
        env = self.env
        while env.peek() <= until:
            self._step()
        if until > env.now:
            env.run(until=until)

    # ------------------------------------------------------------------ handing work to the sim thread

    def submit(self, task: Callable[[], T]) -> Future[T]:
        """Run ``task()`` in the simulation thread; its result (or exception) lands in the future."""
        future: Future[T] = Future()
        with self._cv:
            if self._stopping:
                future.set_exception(RuntimeError("the server is shutting down"))
                return future
            self._tasks.append((task, future))
            self._cv.notify_all()
        return future

    def call(self, task: Callable[[], T], timeout: float | None = 30.0) -> T:
        """``submit`` and wait for the result (for reads and for starting operations)."""
        return self.submit(task).result(timeout)

    def start_process(self, operation: Callable[[], Generator[Any, Any, T]]) -> Future[T]:
        """Start ``operation()`` as a SimPy process at the simulated time of this call; the future gets the
        process's return value or exception when it ends (simulated time later)."""
        at = self.now()
        done: Future[T] = Future()

        def runner() -> Generator[Any, Any, None]:
            if at > self.env.now:
                yield self.env.timeout(at - self.env.now)
            try:
                value = yield from operation()
            except BaseException as err:  # handed to the waiting HTTP thread; the model goes on
                done.set_exception(err)
                return
            done.set_result(value)

        def begin() -> None:
            self.env.process(runner())

        started = self.submit(begin)
        started.add_done_callback(lambda f: done.set_exception(f.exception()) if f.exception() else None)
        return done

    # ------------------------------------------------------------------ the loop

    def _step(self) -> None:
        try:
            self.env.step()
        except simpy.core.EmptySchedule:
            pass
        except Exception:  # a model process failed: report it and keep serving
            text = traceback.format_exc()
            self.errors.append(text)
            print(f"dsim serve: a simulated process failed:\n{text}", file=sys.stderr)

    def _run(self) -> None:
        env = self.env
        while True:
            with self._cv:
                while not self._tasks and not self._stopping:
                    due = env.peek()
                    now = self.now()
                    if due <= now:
                        break
                    wait = _MAX_SLEEP if due == float("inf") else min(_MAX_SLEEP, (due - now) / self.speed)
                    self._cv.wait(wait)
                if self._stopping:
                    return
                tasks, self._tasks = list(self._tasks), deque()
            for task, future in tasks:
                if not future.set_running_or_notify_cancel():
                    continue
                try:
                    future.set_result(task())
                except BaseException as err:
                    future.set_exception(err)
            now = self.now()
            for _ in range(_BATCH):
                if env.peek() > now:
                    break
                self._step()
