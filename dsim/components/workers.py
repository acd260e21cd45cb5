"""The daemon's API workers: a counted pool with a fast path, in place of a SimPy ``Resource``.

Every Engine API call holds a worker for its service time (``Daemon.api``). With SimPy's Resource each call
made three events (the request granted, the service, the release) even when a worker was free, which on a
large run is a quarter of all events. Here a call that finds a worker free and nobody waiting takes it at
once: its request is an event already processed, which SimPy's ``Process._resume`` passes straight back to
the generator (no event scheduled; the call goes on at this instant, before whatever else is due now), and
the worker is freed with no event. A call that must wait gets an event granted in the order SimPy's Resource
grants (first come, first served, when a release is processed), so the model is the same queue.

A caller on a hot path may skip yielding a grant that is already processed (``if grant.callbacks is not
None: yield grant``): SimPy would hand it straight back, so not yielding it is the same and spares the round
trip through every generator the process delegates to (``Daemon.api``, the netns lock, download slots).

``summary.json``'s ``events`` stays the count of the model's events: each grant and release the fast path
does not schedule is counted as SimPy would have processed it (``CountingEnvironment.processed``), so the
figure does not depend on this shortcut.
"""

from __future__ import annotations

from collections import deque

import simpy

from dsim.environment import CountingEnvironment, processed_event

#: the capacity of a pool with no limit (moby's 0 for max-concurrent-downloads and -uploads): nobody ever waits
UNLIMITED = 2**62

#: the queue of a pool nobody has waited at yet: empty, never appended to (``request`` makes a deque of its own)
_NO_WAITERS: deque[simpy.Event] = deque(maxlen=0)


class WorkerPool:
    """``capacity`` workers; ``free`` of them idle; calls waiting for one in ``waiting`` (first come, first served)."""

    def __init__(self, env: simpy.Environment, capacity: int) -> None:
        self.env = env
        self.capacity = capacity
        self.free = capacity
        #: made on the first wait (most pools never have one: an empty deque is 600 bytes per host)
        self.waiting: deque[simpy.Event] = _NO_WAITERS
        #: counts events the fast path stands in for (None: an environment that counts nothing)
        self.counter: CountingEnvironment | None = env if isinstance(env, CountingEnvironment) else None
        #: releases with nobody waiting, counted as SimPy's release event but not scheduled
        self.releases_counted = 0
        #: requests granted at once, counted as SimPy's granted request but not scheduled
        self.grants_counted = 0
        #: what a request taken at once returns: an event already processed, so yielding it resumes at once
        self._taken = processed_event(env)

    @property
    def busy(self) -> int:
        return self.capacity - self.free

    def request(self) -> simpy.Event:
        """An event that triggers when a worker is this call's. A free worker with nobody waiting before is
        taken at once and the event is one already processed (counted as the grant SimPy would process): the
        process that yields it goes on without an event. Else the call queues behind those already waiting."""
        if self.free and not self.waiting:
            self.free -= 1
            counter = self.counter
            if counter is not None:
                counter.processed += 1  # the grant SimPy would have processed
                self.grants_counted += 1
            return self._taken
        grant = self.env.event()
        if self.waiting is _NO_WAITERS:
            self.waiting = deque()
        self.waiting.append(grant)
        self._grant()  # as SimPy's Resource does on each new request: the first waiter takes a free worker
        return grant

    def cancel(self, grant: simpy.Event) -> None:
        """A waiting call gave up (its process was interrupted): its place goes, or its worker if granted."""
        if grant.triggered:
            self.release()
        else:
            self.waiting.remove(grant)

    def release(self) -> None:
        """The call's worker is free. As SimPy's release, a waiting call gets it when the release event is
        processed (later at this same time); with nobody waiting that event has nothing to do and is not made."""
        self.free += 1
        if self.waiting:
            released = self.env.event()
            released.callbacks.append(self._on_release)
            released.succeed()
        elif self.counter is not None:
            self.counter.processed += 1  # the release event SimPy would have processed
            self.releases_counted += 1

    def _on_release(self, _: simpy.Event) -> None:
        self._grant()

    def _grant(self) -> None:
        """Grant the first waiting call a free worker: one per request made and per release processed, as
        SimPy's Resource does (its ``_trigger_put`` stops after the first request it looks at)."""
        if self.free and self.waiting:
            self.free -= 1
            self.waiting.popleft().succeed()


class Lock(WorkerPool):
    """A ``WorkerPool`` used as SimPy's ``Resource`` is in a ``with`` block (``with lock.request() as turn:
    yield turn``), for locks held on every start (the kernel's netns lock): the same queue, without the
    request's bookkeeping, and no event at all to take the lock while it is free or to release it with nobody
    waiting (a free lock's holder goes on at once, before what else is due at that instant)."""

    def request(self) -> _Turn:  # type: ignore[override]
        """A turn at the lock, asked for now (as SimPy's ``Request`` is when made)."""
        return _Turn(self, WorkerPool.request(self))


class _Turn:
    """One holder's turn at a ``Lock``, as SimPy's ``Request`` in a ``with`` block: on leaving it the lock is
    released if this turn had it, else the turn leaves the queue; on a generator's close (``GeneratorExit``)
    SimPy releases nothing, nor does this."""

    __slots__ = ("lock", "grant")

    def __init__(self, lock: Lock, grant: simpy.Event) -> None:
        self.lock = lock
        self.grant = grant

    def __enter__(self) -> simpy.Event:
        return self.grant

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        lock, grant = self.lock, self.grant
        if not grant.triggered:
            lock.waiting.remove(grant)  # SimPy's Put.cancel
            if exc_type is GeneratorExit:
                return
            # SimPy still makes a release event for a request that never got the lock: it frees nothing
            # but lets the first waiter try again when processed
            released = lock.env.event()
            released.callbacks.append(lock._on_release)
            released.succeed()
            return
        if exc_type is not GeneratorExit:
            lock.release()
