"""dsim's environment (dsim/environment.py): SimPy's run loop and timeouts written inline must process the
same events in the same order as SimPy's own, and count them."""

from __future__ import annotations

import random
from collections.abc import Generator
from typing import Any

import pytest
import simpy

from dsim.environment import FAR, CountingEnvironment, process_now, settle
from dsim.records import SpanKind
from tests.helpers import run_text


def _world(env: simpy.Environment, log: list[tuple[float, str]]) -> None:
    """Ties on purpose: three processes waking at the same instants, a zero timeout, an event succeeded by
    another process, a timeout's value, and an interrupt (priority URGENT, ahead of NORMAL events)."""
    signal = env.event()

    def ticker(name: str, delays: list[float]) -> Generator[Any, Any, None]:
        for delay in delays:
            value = yield env.timeout(delay, value=f"{name}{delay}")
            log.append((env.now, value))

    def waiter() -> Generator[Any, Any, None]:
        value = yield signal
        log.append((env.now, f"signal {value}"))
        try:
            yield env.timeout(10)
        except simpy.Interrupt as interrupt:
            log.append((env.now, f"interrupted {interrupt.cause}"))

    def trigger(target: simpy.Process) -> Generator[Any, Any, None]:
        yield env.timeout(1)
        signal.succeed("go")
        yield env.timeout(0)
        log.append((env.now, "after zero"))
        yield env.timeout(1)
        target.interrupt("stop")

    env.process(ticker("a", [1, 0, 1, 0.5]))
    env.process(ticker("b", [1, 1, 0, 0.5]))
    target = env.process(waiter())
    env.process(trigger(target))


def test_same_events_in_the_same_order_as_simpy() -> None:
    # SimPy's own Environment is the reference: the same processes must log the same (time, what) lines in
    # the same order, and the count must be the events SimPy processed (its event ids handed out, minus
    # what is left in its queue: none after run()). The run ends at 11: the waiter's timeout of 10, made at
    # time 1, stays queued after the interrupt at 2 and is processed, doing nothing, at 11.
    expected: list[tuple[float, str]] = []
    reference = simpy.Environment()
    _world(reference, expected)
    reference.run()
    got: list[tuple[float, str]] = []
    env = CountingEnvironment()
    _world(env, got)
    env.run()
    assert got == expected
    assert env.processed == next(reference._eid)
    assert env.now == reference.now == 11


@pytest.mark.parametrize("drive", ["step", "until"])
def test_stepped_or_run_until_the_clock_is_each_events_time_as_in_simpy(drive: str) -> None:
    # ``now`` is a plain attribute on dsim's environment (SimPy's is a property over ``_now``): stepping
    # (``dsim serve``) and ``run(until=...)`` must set it before the callbacks run, or a process would read
    # the previous event's time. The same (time, what) log as SimPy's, driven the same way.
    def drive_to_end(env: simpy.Environment) -> None:
        if drive == "step":
            while env.peek() != float("inf"):
                env.step()
        else:
            for until in (0.5, 1, 1.5, 2.25, 20):
                env.run(until=until)

    expected: list[tuple[float, str]] = []
    reference = simpy.Environment()
    _world(reference, expected)
    drive_to_end(reference)
    got: list[tuple[float, str]] = []
    env = CountingEnvironment()
    _world(env, got)
    drive_to_end(env)
    assert got == expected and len(got) > 5
    assert env.now == reference.now


def _straddling(env: simpy.Environment, log: list[tuple[float, str]], seed: int) -> None:
    """Events due both sides of the far heap's threshold (dsim.environment.FAR), landing on the same instants
    from either heap: timeouts, events succeeded by other processes (scheduled through ``schedule``) and
    interrupts (URGENT)."""
    rng = random.Random(seed)
    delays = [0.0, 0.25, FAR / 2, FAR, 1.5 * FAR, 2 * FAR, 3 * FAR]

    def walker(name: str) -> Generator[Any, Any, None]:
        for _ in range(12):
            try:
                yield env.timeout(rng.choice(delays), value=name)
                log.append((env.now, f"{name} woke"))
            except simpy.Interrupt:
                log.append((env.now, f"{name} interrupted"))

    walkers = [env.process(walker(f"w{i}")) for i in range(6)]

    def poker() -> Generator[Any, Any, None]:
        for _ in range(8):
            yield env.timeout(rng.choice(delays))
            target = rng.choice(walkers)
            if target.is_alive:
                target.interrupt()
            signal = env.event()
            signal.succeed()
            yield signal
            log.append((env.now, "poked"))

    env.process(poker())


def _drive(env: simpy.Environment, drive: str) -> None:
    if drive == "run":
        env.run()
    elif drive == "step":
        while env.peek() != float("inf"):
            env.step()
    else:
        for until in (FAR / 2, FAR, 2.5 * FAR, 100.0):
            env.run(until=until)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("drive", ["run", "step", "until"])
def test_events_on_either_side_of_the_far_threshold_come_in_simpys_order(seed: int, drive: str) -> None:
    # the near and far heaps give the event of the smaller (time, priority, id) next, so every event comes
    # in SimPy's order, ties between the heaps included, run, stepped (with peek) or run until an instant;
    # and what is left queued is what SimPy leaves (after ``until``: its stop event, put back)
    expected: list[tuple[float, str]] = []
    reference = simpy.Environment()
    _straddling(reference, expected, seed)
    _drive(reference, drive)
    got: list[tuple[float, str]] = []
    env = CountingEnvironment()
    _straddling(env, got, seed)
    _drive(env, drive)
    assert got == expected and len(got) > 60
    assert len(env._queue) + len(env._far) == len(reference._queue)
    assert env.processed == next(reference._eid) - len(reference._queue)


def test_timeout_is_simpys() -> None:
    # A timeout is still a simpy.Timeout (code that checks the type works) and prints as SimPy's does
    # ("<Timeout(delay, value=...) object at ...>"), refuses a negative delay as SimPy does, and carries its
    # value.
    env = CountingEnvironment()
    timeout = env.timeout(2, value="v")
    assert isinstance(timeout, simpy.Timeout)
    assert repr(timeout).startswith("<Timeout(2, value=v) object at ")
    with pytest.raises(ValueError, match="Negative delay"):
        env.timeout(-1)
    env.run()
    assert timeout.value == "v" and env.now == 2 and env.processed == 1


def test_a_failed_process_crashes_the_run_as_in_simpy() -> None:
    # A process raising an error nobody waits for: SimPy's run raises a copy of it whose cause is the
    # original; the event that carried it was taken off the queue, so it counts.
    def failing(env: simpy.Environment) -> Generator[Any, Any, None]:
        yield env.timeout(1)
        raise KeyError("boom")

    env = CountingEnvironment()
    env.process(failing(env))
    with pytest.raises(KeyError) as raised:
        env.run()
    assert isinstance(raised.value.__cause__, KeyError)
    assert env.now == 1
    assert env.processed == 3  # the process's start, its timeout, the process's failure


def test_run_until_still_stops_where_simpy_does() -> None:
    # With ``until`` SimPy's loop runs (through the counting step): stopping at time 5 leaves the timeout
    # at 7 in the queue; run() afterwards processes it. SimPy puts the stop event back on the queue (ahead of
    # everything, with its remaining callbacks) when its callback stops the run, so the second run takes it
    # off again: 2 + the stop event again + the timeout at 7 = 4.
    env = CountingEnvironment()
    env.timeout(3)
    env.timeout(7)
    env.run(until=5)
    assert env.now == 5 and env.processed == 2  # the timeout at 3 and the stop event at 5
    env.run()
    assert env.now == 7 and env.processed == 4


def test_settle_processes_an_event_nobody_waits_for_at_once() -> None:
    # nobody waits: nothing is scheduled, the event counts as processed, and a process yielding it afterwards
    # gets its value at once (at the same time, with no event of its own)
    env = CountingEnvironment()
    event = env.event()
    settle(env, event, 7)
    assert event.processed and event.value == 7
    assert env._queue == [] and env.processed == 1 and env.settled == 1
    got: list[tuple[float, int]] = []

    def late() -> Generator[Any, Any, None]:
        yield env.timeout(2)
        got.append((env.now, (yield event)))

    env.process(late())
    env.run()
    assert got == [(2, 7)]


def test_settle_schedules_an_event_someone_waits_for_as_succeed_does() -> None:
    env = CountingEnvironment()
    event = env.event()
    got: list[int] = []

    def waiter() -> Generator[Any, Any, None]:
        got.append((yield event))

    env.process(waiter())
    env.step()  # the process starts and waits
    settle(env, event, 3)
    assert not event.processed and len(env._queue) == 1 and env.settled == 0
    env.run()
    assert got == [3]
    with pytest.raises(RuntimeError):
        settle(env, env.event().succeed(), 1)


def test_process_now_resumes_the_waiter_before_what_is_due_at_the_same_instant() -> None:
    # a waiter on ``event`` and a timeout due at 1 s; at 1 s a callback processes ``event`` at once: the waiter
    # runs inside it, before the other timeout due then (succeed would have queued it behind), and the event is
    # counted as processed without being scheduled
    env = CountingEnvironment()
    event = env.event()
    order: list[str] = []

    def waiter() -> Generator[Any, Any, None]:
        value = yield event
        order.append(f"waiter {value}")

    def other() -> Generator[Any, Any, None]:
        yield env.timeout(1)
        order.append("other")

    env.process(waiter())
    trigger = env.timeout(1)
    trigger.callbacks.append(lambda _: process_now(env, [event], 5))
    env.process(other())
    env.run()
    assert order == ["waiter 5", "other"]
    assert event.processed and env.settled == 1
    assert env.processed == next(env._eid) + 1  # every event scheduled was processed, and this one more


def test_the_clock_is_a_float_from_the_start() -> None:
    """SimPy's clock starts at the int 0, and keeps it through every event due at time 0 (a process's start is
    scheduled at ``now + 0``): a time read there, or a wait worked out from two, was an int. dsim's clock starts at
    0.0, so the first instant's times are floats like every later one's."""
    env = CountingEnvironment()
    seen: list[float] = []

    def reader() -> Generator[Any, Any, None]:
        seen.append(env.now)
        yield env.timeout(0)
        seen.append(env.now)

    env.process(reader())
    env.run()
    assert [type(time) for time in seen] == [float, float]


def test_a_burst_at_time_0_records_its_waits_as_floats() -> None:
    """Two jobs at time 0 each make an API call at once: its wait for a worker is 0.0, printed as every later
    wait is (it was the int 0 before the clock started as a float)."""
    result = run_text("""
        name: burst-at-0
        registries:
          reg: {bandwidth: 1Gbps}
        images:
          app:1: {registry: reg, layers: [10MB]}
        hosts:
          box: {count: 1, nic: 1Gbps}
        workloads:
          w:
            arrival: {burst: 2}
            steps:
              - pull: app:1
        """)
    queues = [span.attrs["queue"] for span in result.spans_of(SpanKind.API) if span.start == 0.0]
    assert queues == [0.0, 0.0]  # two jobs, the daemon's workers free (8 by default): no wait
    assert all(type(queue) is float for queue in queues), queues
