"""The simulation's SimPy environment: SimPy's own, counting the events it processes through its public
methods (summary.json's ``events``), so nothing reads SimPy's private event ids or queue."""

from __future__ import annotations

from typing import Any

import simpy
from simpy.core import BoundClass, EmptySchedule

_step = simpy.Environment.step


class CountingEnvironment(simpy.Environment):
    """SimPy's environment, counting the events it processes (``events`` of summary.json): one per step that
    takes an event off the queue, however the environment is driven (``run``, or ``dsim serve``'s own
    ``step`` calls). SimPy keeps no such count in its public API (only its private event ids and queue)."""

    def __init__(self) -> None:
        super().__init__()
        self.processed = 0
        # SimPy binds its event classes (env.timeout, env.process, ...) to the instance, sparing a method
        # object per call, but only those of the instance's own class (BoundClass.bind_early): bind the
        # base class's too, or every ``env.timeout(...)`` of a subclass costs an extra allocation.
        for name, attribute in vars(simpy.Environment).items():
            if isinstance(attribute, BoundClass):
                setattr(self, name, getattr(self, name))

    def count(self, events: int) -> None:
        """Count ``events`` the model stands for without scheduling them (dsim.components.workers: a free
        daemon worker is taken without SimPy's request and release events), so ``events`` is the model's
        count, the same with or without such shortcuts."""
        self.processed += events

    def step(self) -> None:
        """SimPy's step, counted. The extra call costs about 70 ns per event (1% of a dsim run's 6 us per
        event, benchmarks/bench_events.py), so ``run`` without ``until`` counts in its own loop instead."""
        self.processed += 1
        try:
            _step(self)
        except EmptySchedule:  # nothing was taken off the queue
            self.processed -= 1
            raise

    def run(self, until: simpy.core.SimTime | simpy.Event | None = None) -> Any:
        """SimPy's run. Without ``until`` (every scenario that sets none) the loop is SimPy's own, written here
        with the count in a local variable (about 20 ns per event); with ``until`` SimPy's loop calls ``step``
        above (setting up its stop event needs SimPy's private event fields)."""
        if until is not None:
            return super().run(until)
        processed = 0
        try:
            while True:
                processed += 1  # before the step: a step that raises a process's error did take its event
                _step(self)
        except EmptySchedule:
            processed -= 1
            return None
        finally:
            self.processed += processed
