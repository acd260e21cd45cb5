"""The simulation's SimPy environment: SimPy's own, counting the events it processes (summary.json's
``events``). Its run loop and its timeouts are SimPy's code written inline (one Python call less per event
and per timeout), on SimPy 4.1's queue entries and event ids, and tests/test_environment.py checks them
against SimPy's, event for event.

Its queue is two heaps of SimPy's entries: events due within ``FAR`` seconds of when they were scheduled,
and the later ones (a container's run, a long download). The next event is the smaller of the two heads, so
the order is SimPy's exactly; but most events are near ones, and a pop from a heap of the few dozen near
events compares fewer entries than one from a heap holding every running container's exit too (a tuple
comparison of SimPy's entries is about 300 instructions; the heaps' comparisons were a tenth of a container
job's instructions: docs/performance.md, "Session 31")."""

from __future__ import annotations

from heapq import heappop, heappush
from typing import TYPE_CHECKING, Any, cast

import simpy
from simpy.core import BoundClass, EmptySchedule, StopSimulation
from simpy.events import NORMAL, PENDING, Condition, EventPriority

#: events scheduled at least this many seconds ahead wait in the far heap (any value keeps SimPy's order;
#: this one leaves the start path's steps, API calls and round trips near, a run of a minute far)
FAR = 1.0


class Timeout(simpy.Timeout):
    """SimPy's ``Timeout`` with ``Environment.schedule`` inline: the same queue entry (time, priority, next
    event id, event), one Python call less for the commonest event of a run. Named as SimPy's, so an event
    prints as SimPy's does (``<Timeout(5) object at ...>``)."""

    def __init__(self, env: simpy.Environment, delay: simpy.core.SimTime, value: Any | None = None) -> None:
        if delay < 0.0:  # 0.0: a float against a float is a specialised comparison, against 0 a generic one
            raise ValueError(f"Negative delay {delay}")
        self.env = env
        self.callbacks = []
        self._value = value
        self._delay = delay
        self._ok = True
        heappush(env._queue if delay < FAR else env._far,  # type: ignore[attr-defined]
                 (env._now + delay, NORMAL, next(env._eid), self))


class CountingEnvironment(simpy.Environment):
    """SimPy's environment, counting the events it processes (``events`` of summary.json): one per step that
    takes an event off the queue, however the environment is driven (``run``, or ``dsim serve``'s own
    ``step`` calls). SimPy keeps no such count in its public API (only its private event ids and queue)."""

    #: the clock as a plain attribute, shadowing SimPy's ``now`` property (a Python call per read, and a
    #: container job reads the clock 67 times); ``_run_all`` and ``step`` set it with SimPy's ``_now``
    now: float = 0.0

    def __init__(self) -> None:
        # the clock starts at 0.0, not SimPy's int 0 (kept through every event due at time 0): a time, or a wait
        # worked out from two, read at the first instant is a float and prints as one, as every later one does
        super().__init__(initial_time=0.0)
        self.now = self._now
        #: the events due ``FAR`` or more seconds after they were scheduled (``_queue``: the others)
        self._far: list[tuple[float, EventPriority, int, simpy.Event]] = []
        self.processed = 0
        #: events processed at once by ``settle`` or ``process_now`` (never scheduled), included in ``processed``
        self.settled = 0
        #: background timers still queued, by kind (``idle_timeout``, ``poll_timeout``, ``backoff_timeout``), and
        #: whether the run goes on until nothing is left to happen (``run`` without ``until``): then a queue of
        #: background alone means the run is over (``only_background_left``)
        self.idle = 0
        self.polls = 0
        self.backoffs = 0
        #: the processes of background loops, each with its kinds (``mark_background``)
        self.background: dict[simpy.Process, int] = {}
        self.to_the_end = False
        # SimPy binds its event classes (env.timeout, env.process, ...) to the instance, sparing a method
        # object per call, but only those of the instance's own class (BoundClass.bind_early): bind the
        # base class's too, or every ``env.timeout(...)`` of a subclass costs an extra allocation.
        for name, attribute in vars(simpy.Environment).items():
            if isinstance(attribute, BoundClass):
                setattr(self, name, getattr(self, name))

    if TYPE_CHECKING:  # as SimPy declares its own bound classes: what the call makes, for the type checker
        def timeout(self, delay: simpy.core.SimTime = 0, value: Any | None = None) -> simpy.Timeout: ...
    else:
        timeout = BoundClass(Timeout)

    def schedule(self, event: simpy.Event, priority: EventPriority = NORMAL, delay: simpy.core.SimTime = 0) -> None:
        """SimPy's ``schedule``, into the near or the far heap."""
        heappush(self._queue if delay < FAR else self._far, (self._now + delay, priority, next(self._eid), event))

    def peek(self) -> simpy.core.SimTime:
        """SimPy's ``peek``: the time of the next event (infinity when none)."""
        queue = self._next_queue()
        return queue[0][0] if queue else simpy.core.Infinity

    def _next_queue(self) -> list[tuple[float, EventPriority, int, simpy.Event]]:
        """The heap whose head is the next event: the near one unless the far one's head comes first (the
        times compared first: the whole entries only on a tie)."""
        near, far = self._queue, self._far
        if far and (not near or far[0][0] < near[0][0] or (far[0][0] == near[0][0] and far[0] < near[0])):
            return far
        return near

    def step(self) -> None:
        """SimPy's step (SimPy 4.1, line for line), counted, with the clock's ``now`` set to the time of the
        event it takes before its callbacks run (``dsim serve`` and ``run(until=...)`` step this way). The
        extra call costs about 70 ns per event, so ``run`` without ``until`` counts in its own loop."""
        queue = self._next_queue()
        if not queue:
            raise EmptySchedule()
        self._now, _, _, event = heappop(queue)
        self.now = self._now
        self.processed += 1
        callbacks, event.callbacks = event.callbacks, None  # type: ignore[assignment]  # as SimPy's step
        try:
            for callback in callbacks:
                callback(event)
        except StopSimulation:  # the rest of the callbacks run when the simulation resumes
            event.callbacks = callbacks[callbacks.index(callback) + 1:]
            self.schedule(event, EventPriority(-1))
            raise
        if not event._ok and not hasattr(event, "_defused"):
            raise _crash(event)

    def run(self, until: simpy.core.SimTime | simpy.Event | None = None) -> Any:
        """SimPy's run. Without ``until`` (every scenario that sets none) the loop is SimPy's own with its
        ``step`` written inline (one Python call less per event, about 6% of a container job's CPU,
        docs/performance.md "Simulation speed (session 26)") and the count in a local variable; with
        ``until`` SimPy's loop calls ``step`` above (setting up its stop event needs SimPy's private fields)."""
        if until is not None:
            return super().run(until)
        self.to_the_end = True
        return self._run_all()

    def _run_all(self) -> Any:
        """Every event until the queue is empty: ``simpy.Environment.step`` (SimPy 4.1) line for line,
        including its re-scheduling of an event whose callback stops the simulation."""
        near, far = self._queue, self._far
        processed = 0
        try:
            while True:
                # the next event: the near heap's head unless the far one's comes first (``_next_queue``)
                if far and (not near or far[0][0] < near[0][0] or (far[0][0] == near[0][0] and far[0] < near[0])):
                    now, _, _, event = heappop(far)
                elif near:
                    now, _, _, event = heappop(near)
                else:
                    return None
                self._now = self.now = now
                processed += 1  # a step that raises a process's error did take its event
                callbacks, event.callbacks = event.callbacks, None  # type: ignore[assignment]  # as SimPy's step
                try:
                    for callback in callbacks:
                        callback(event)
                except StopSimulation as stop:
                    event.callbacks = callbacks[callbacks.index(callback) + 1:]
                    self.schedule(event, EventPriority(-1))
                    return stop.args[0]
                if not event._ok and not hasattr(event, "_defused"):
                    raise _crash(event)
        finally:
            self.processed += processed


def _crash(event: simpy.Event) -> BaseException:
    """What a failed event nobody defused raises out of the run, as SimPy's step: a copy of its error, caused
    by the original."""
    exc: BaseException = type(event._value)(*event._value.args)
    exc.__cause__ = event._value
    return exc


def settle(env: simpy.Environment, event: simpy.Event, value: Any = None) -> None:
    """``event.succeed(value)``, except that an event nobody waits for yet is processed at once instead of
    scheduled (and counted, as ``events`` counts what SimPy would process): its processing would call no one,
    and a process that yields it later resumes at once, as it would at any later instant. A container's
    health and exit events are often such (nobody asked: ``docker run -d``, no health check)."""
    if event.callbacks or not isinstance(env, CountingEnvironment):
        event.succeed(value)
        return
    _processed(env, event, value)


#: kinds of background activity, bits of a mask: the activities a loop may be left alone with (docs/containers.md,
#: "Restarts and health"). PROBE: a settled health monitor's probes; POLL: compose's dependency polls;
#: RESTART: a restart loop (its backoffs, and the runs it restarts)
PROBE, POLL, RESTART = 1, 2, 4
#: every kind: what a callback that does nothing any more serves
ANY_BACKGROUND = PROBE | POLL | RESTART


def succeed_after(env: simpy.Environment, event: simpy.Event, delay: float) -> None:
    """Trigger ``event`` (made earlier, so others could wait on it) to be processed ``delay`` from now, with no
    value: one queue entry, as a timeout's, instead of a timeout whose callback succeeds it (two events)."""
    event._ok, event._value = True, None
    env.schedule(event, delay=delay)


def idle_timeout(env: simpy.Environment, delay: float) -> simpy.Event:
    """A timer of an activity that can change nothing any more (a settled health monitor's next probe): counted
    while it is queued, so that ``only_background_left`` can tell when nothing else is left to happen."""
    timer = env.timeout(delay)
    if isinstance(env, CountingEnvironment):
        env.idle += 1
        timer.callbacks.append(_idle_done)
    return timer


def poll_timeout(env: simpy.Environment, delay: float) -> simpy.Event:
    """compose's next dependency poll (compose.py), counted while queued as ``idle_timeout``'s timers are."""
    timer = env.timeout(delay)
    if isinstance(env, CountingEnvironment):
        env.polls += 1
        timer.callbacks.append(_poll_done)
    return timer


def backoff_timeout(env: simpy.Environment, delay: float) -> simpy.Event:
    """A restart loop's timer (runtime.py): its backoff, or the end of a run it restarted; counted while queued
    as ``idle_timeout``'s timers are."""
    timer = env.timeout(delay)
    if isinstance(env, CountingEnvironment):
        env.backoffs += 1
        timer.callbacks.append(_backoff_done)
    return timer


def _idle_done(timer: simpy.Event) -> None:
    cast(CountingEnvironment, timer.env).idle -= 1


def _poll_done(timer: simpy.Event) -> None:
    cast(CountingEnvironment, timer.env).polls -= 1


def _backoff_done(timer: simpy.Event) -> None:
    cast(CountingEnvironment, timer.env).backoffs -= 1


def mark_background(env: simpy.Environment, kind: int,
                    process: simpy.Process | None = None) -> simpy.Process | None:
    """Count ``process`` (default: the one running) as background of ``kind`` (0: no longer) until
    ``unmark_background``: the events it waits for are then background too (a poll's inspect, a restarted run's
    start path), so that two loops busy in turn do not each keep the other going. Returns the process (None
    outside a counting environment)."""
    if not isinstance(env, CountingEnvironment):
        return None
    if process is None:
        process = env.active_process
    if process is not None:
        if kind:
            env.background[process] = kind
        else:
            env.background.pop(process, None)
    return process


def unmark_background(env: simpy.Environment, process: simpy.Process | None) -> None:
    """``process`` is no longer background (its loop ended, or a compose wait is over)."""
    if process is not None:
        cast(CountingEnvironment, env).background.pop(process, None)


def only_background_left(env: simpy.Environment, kinds: int) -> bool:
    """Whether a run to its end (no ``until``) has nothing left to happen but background activity of ``kinds``:
    every queued event either wakes nobody (a timer whose ``any_of`` another event won), or is a background
    timer of one of ``kinds``, or wakes only processes marked background of one of them (``mark_background``).
    A job that can never end (an attached run of an endless process, compose waiting for a service that never
    exits) would otherwise keep settled health monitors probing, compose polling, or crash loops restarting,
    forever, each loop's events keeping the others going. Never in a run to a horizon (``until``, ``dsim
    serve``), which goes on to its horizon whatever happens. O(1) when only counted timers are queued, else a
    look at the queue (only at a loop's turn, never per event)."""
    if not (isinstance(env, CountingEnvironment) and env.to_the_end):
        return False
    counted = ((env.idle if kinds & PROBE else 0) + (env.polls if kinds & POLL else 0)
               + (env.backoffs if kinds & RESTART else 0))
    near, far = env._queue, env._far
    if len(near) + len(far) == counted:
        return True
    marks = env.background
    return all(_background(entry[3], kinds, marks) for heap in (near, far) for entry in heap)


def _background(event: simpy.Event, kinds: int, marks: dict[simpy.Process, int]) -> bool:
    """Whether queued ``event`` can only wake background activity of ``kinds`` (or nobody): its callbacks, followed
    through the conditions (``any_of``, ``all_of``) still waiting on it, or answered by the owner of a timer
    shared by several activities (``background_kind(event)``: the kinds it serves). Anything else it calls is
    foreground."""
    for callback in event.callbacks:
        kind = (PROBE if callback is _idle_done else POLL if callback is _poll_done
                else RESTART if callback is _backoff_done else 0)
        if kind:
            if kind & kinds:
                return True  # a loop's own timer: nothing but that loop waits for it
            continue  # another kind's: what else it wakes decides
        owner = getattr(callback, "__self__", None)
        if isinstance(owner, simpy.Process):  # its _resume
            if marks.get(owner, 0) & kinds:
                continue
            return False
        if isinstance(owner, Condition):
            if getattr(callback, "__func__", None) is Condition._build_value or owner._value is not PENDING:
                continue  # the condition's own callback; or it has fired, and its check does nothing
            if _background(owner, kinds, marks):
                continue
            return False
        kind_of = getattr(owner, "background_kind", None)  # a shared timer's owner (a CPU scheduler's wake-up)
        if kind_of is not None and kind_of(event) & kinds:
            continue
        return False
    return True


def process_now(env: simpy.Environment, events: list[simpy.Event], value: Any = None) -> None:
    """Succeed each of ``events`` and process them at once: their callbacks are called now, in order, rather
    than at a later turn of this instant (each counted in ``processed``, as SimPy's step would count it). All
    are marked processed before any callback runs, so a process resumed here sees every one of them done.
    Only for a caller that runs as another event's callback (from the run loop, not inside a process): a
    waiting process resumes here."""
    if not isinstance(env, CountingEnvironment):
        for event in events:
            event.succeed(value)
        return
    if len(events) == 1:  # the commonest: one task ended, one first-of fired
        event = events[0]
        callbacks = event.callbacks
        _processed(env, event, value)
        for callback in callbacks:
            callback(event)
        return
    waiting = [event.callbacks for event in events]
    for event in events:
        _processed(env, event, value)
    for event, callbacks in zip(events, waiting, strict=True):
        for callback in callbacks:
            callback(event)


def first_of(env: simpy.Environment, events: list[simpy.Event]) -> simpy.Event:
    """An event that fires once the first of ``events`` has; callers then ask each event whether it was
    ``processed``, as they would look into an ``AnyOf``'s value. Every run of a container waits on one,
    and ``AnyOf``'s bookkeeping (a value built from every event, callbacks removed afterwards) cost a few
    percent of a large run; here a fired event only checks a flag. It is processed as soon as the first
    event is (``process_now``: its waiter resumes then, with no event scheduled), not at a later turn of
    the same instant."""
    first = env.event()

    def fire(_: simpy.Event) -> None:
        if first.triggered:
            return
        for event in events:  # off the events still pending: one (a container's stop) outlives many waits
            callbacks = event.callbacks
            if callbacks is not None and fire in callbacks:  # not in it when the loop below stopped before
                callbacks.remove(fire)
        process_now(env, [first])

    for event in events:
        if event.callbacks is None:  # already processed
            fire(event)
            break
        event.callbacks.append(fire)
    return first


def processed_event(env: simpy.Environment) -> simpy.Event:
    """An event that has succeeded (value None) and been processed: a process yielding it is resumed at once
    by SimPy (``Process._resume`` loops on an event whose callbacks are gone), so one can stand for every
    request granted at once (components/workers.py)."""
    event = simpy.Event(env)
    _mark_processed(event, None)
    return event


def _processed(env: CountingEnvironment, event: simpy.Event, value: Any) -> None:
    """Mark ``event`` succeeded with ``value`` and processed, counted as SimPy's step would count it."""
    if event._value is not PENDING:  # Event.triggered, inline
        raise RuntimeError(f"{event} has already been triggered")
    event._ok = True  # _mark_processed, inline: a call per event spared
    event._value = value
    event.callbacks = None  # type: ignore[assignment]
    env.processed += 1
    env.settled += 1


def _mark_processed(event: simpy.Event, value: Any) -> None:
    """As SimPy's step leaves an event that succeeded: its value set, its callbacks gone."""
    event._ok = True
    event._value = value
    event.callbacks = None  # type: ignore[assignment]
