"""Task schedules replayed on a CPU scheduler, for the property tests that compare schedulers float for float
(tests/components/test_containers_cpu.py, test_cpu_smt.py, test_cpu_shares.py)."""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from functools import partial
from typing import Any

import simpy
from hypothesis import strategies as st

from dsim.components.cpu import CpuScheduler, CpuTask
from dsim.environment import CountingEnvironment

#: (start, CPU-seconds, cap, weight, cancelled after this long or None)
Task = tuple[float, float, float, float, float | None]
#: what a replay returns: every task's (end, CPU-seconds received), the busy intervals the scheduler reported,
#: and its utilisation up to 10 s
Replay = tuple[list[Any], list[Any], float]
#: a scheduler on ``env`` of ``cores`` reporting its busy intervals to ``on_change``
Make = Callable[[simpy.Environment, float, Callable[..., None]], CpuScheduler]

#: (start, CPU-seconds, cap, cancel after) lists with ties, zero work, caps above the cores and cancels
TASKS = st.lists(
    st.tuples(
        st.sampled_from([0.0, 0.5, 1.0, 2.5]) | st.floats(0, 6),  # start: ties on purpose
        st.floats(0, 4),  # CPU-seconds of work (0: done at once)
        st.sampled_from([0.5, 1.0, 2.0, 32.0]),  # cap
        st.none() | st.floats(0, 3),  # cancelled after this long, if not done by then
    ),
    min_size=1, max_size=8,
)


def unweighted(tasks: Sequence[tuple[float, float, float, float | None]]) -> list[Task]:
    """``TASKS``' 4-tuples at the default weight."""
    return [(at, work, cap, 1.0, cancel) for at, work, cap, cancel in tasks]


def timed(env: simpy.Environment, cpu: CpuScheduler, at: float, start: Callable[[], CpuTask], cancel: float | None,
          record: Callable[[tuple[float, float]], None]) -> Generator[Any, Any, None]:
    """At ``at``, a task started by ``start``, waited for or cancelled ``cancel`` seconds later; ``record`` gets its
    (end, CPU-seconds received)."""
    yield env.timeout(at)
    task = start()
    if cancel is None:
        yield task.done
        record((env.now, task.work))
        return
    yield env.any_of([task.done, env.timeout(cancel)])
    record((env.now, cpu.cancel(task)))


def play(make: Make, cores: float, tasks: Sequence[Task]) -> Replay:
    """Start each task on a fresh scheduler made by ``make``; what it did (``Replay``)."""
    env = CountingEnvironment()
    intervals: list[tuple[float, float, float, int]] = []
    cpu = make(env, cores, lambda *interval: intervals.append(interval))
    outcome: list[Any] = [None] * len(tasks)
    for i, (at, work, cap, weight, cancel) in enumerate(tasks):
        env.process(timed(env, cpu, at, partial(cpu.run, work, cap, weight=weight), cancel,
                          partial(outcome.__setitem__, i)))
    env.run()
    cpu.close()
    return outcome, intervals, cpu.utilisation(10.0)
