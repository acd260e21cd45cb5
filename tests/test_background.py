"""Background loops (dsim/environment.py ``only_background_left``): a run without ``until`` ends once nothing
but background is left, however the loops' turns interleave; anything else keeps it going. Plain SimPy
processes stand for compose's pollers (components/compose.py) and restart loops (components/runtime.py)."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from dsim.environment import (
    POLL,
    PROBE,
    RESTART,
    CountingEnvironment,
    backoff_timeout,
    mark_background,
    only_background_left,
    poll_timeout,
    unmark_background,
)
from tests.helpers import within


def poller(env: simpy.Environment, log: list[tuple[str, float]], name: str, start: float, tick: float,
           busy: float) -> Generator[Any, Any, None]:
    """From ``start``, a poll every ``tick`` seconds that takes ``busy`` seconds (an inspect); after each, it
    waits for good once nothing but polls and settled probes is left (as compose's ``_wait``)."""
    yield env.timeout(start)
    me = mark_background(env, POLL)
    try:
        while True:
            yield poll_timeout(env, tick)
            if busy:
                yield env.timeout(busy)
            if only_background_left(env, PROBE | POLL):
                log.append((name, env.now))
                yield env.event()
    finally:
        unmark_background(env, me)


def run_all(*loops: Any) -> tuple[CountingEnvironment, list[tuple[str, float]]]:
    env = CountingEnvironment()
    log: list[tuple[str, float]] = []
    for loop in loops:
        env.process(loop(env, log))
    with within(10):
        env.run()
    return env, log


def test_two_pollers_each_busy_at_the_others_turn_both_stop() -> None:
    """a polls at 0.5, 1.0, ... for 0.3 s each; b at 0.75, 1.25, ... So a's turn (0.8) falls in b's inspect
    (0.75-1.05) and b's (1.05) in a's next one (1.0-1.3): neither ever sees a queue of counted timers alone.
    b's inspect is a marked poller's: a stops at 0.8; b at 1.05, with a's wait the only thing left."""
    env, log = run_all(lambda env, log: poller(env, log, "a", 0.0, 0.5, 0.3),
                       lambda env, log: poller(env, log, "b", 0.25, 0.5, 0.3))
    assert log == [("a", 0.8), ("b", 1.05)]
    assert env.now == 1.05


def test_a_foreground_timer_keeps_a_poller_going_until_it_fires() -> None:
    """A process waiting 10 s (foreground) keeps the poller (every 0.5 s, instant) polling; at 10 s its timer
    comes first (queued first), so the tick at 10 s finds nothing else left."""
    def foreground(env: simpy.Environment, log: list[tuple[str, float]]) -> Generator[Any, Any, None]:
        yield env.timeout(10)

    env, log = run_all(foreground, lambda env, log: poller(env, log, "p", 0.0, 0.5, 0.0))
    assert log == [("p", 10.0)]


def test_a_timer_nobody_waits_for_counts_for_nothing() -> None:
    """A wait of 100 s that an event at 0.2 s won (``any_of``) leaves its timer queued, waking nobody: the
    poller stops at its first tick; the run goes on only until that dead timer has fired."""
    def raced(env: simpy.Environment, log: list[tuple[str, float]]) -> Generator[Any, Any, None]:
        yield env.any_of([env.timeout(100), env.timeout(0.2)])

    env, log = run_all(raced, lambda env, log: poller(env, log, "p", 0.0, 0.5, 0.0))
    assert log == [("p", 0.5)]
    assert env.now == 100


def restart_loop(env: simpy.Environment, log: list[tuple[str, float]], run: float,
                 kinds: int) -> Generator[Any, Any, None]:
    """A crash loop: a first run of ``run`` seconds (foreground), then backoffs of 0.1 s and restarted runs
    (counted timers), until nothing but background of ``kinds`` is left."""
    yield env.timeout(run)
    me = mark_background(env, RESTART)
    try:
        while True:
            yield backoff_timeout(env, 0.1)
            if only_background_left(env, kinds):
                log.append(("loop", env.now))
                return
            yield backoff_timeout(env, run)
    finally:
        unmark_background(env, me)


def test_a_poller_outlives_a_restart_loop_that_stops_beside_it() -> None:
    """A restart loop that may be left with polls (an endless one) stops at its first backoff (1.1 s: the
    poll's tick is all else); the poller, which a restart loop's timers keep going, stops at its next tick."""
    _, log = run_all(lambda env, log: restart_loop(env, log, 1.0, PROBE | POLL | RESTART),
                     lambda env, log: poller(env, log, "p", 0.0, 0.5, 0.0))
    assert log == [("loop", 1.1), ("p", 1.5)]


def test_a_loop_not_left_with_polls_runs_until_the_poller_has_stopped() -> None:
    """A restart loop that may not stop beside polls (one that can end by itself): polls keep it going, and
    its backoffs and runs keep the poller polling, until a horizon (no end of its own here)."""
    env = CountingEnvironment()
    log: list[tuple[str, float]] = []
    env.process(restart_loop(env, log, 1.0, PROBE | RESTART))
    env.process(poller(env, log, "p", 0.0, 0.5, 0.0))
    env.to_the_end = True  # as run() without until sets it; driven here to a horizon, as no side may stop
    while env.peek() < 30:
        env.step()
    assert log == []


def test_a_run_to_a_horizon_never_stops_a_loop() -> None:
    env = CountingEnvironment()
    log: list[tuple[str, float]] = []
    env.process(poller(env, log, "p", 0.0, 0.5, 0.0))
    env.run(until=5)
    assert log == []
