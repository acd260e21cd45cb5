"""The daemon's worker pool (components/workers.py): SimPy Resource's queue, with no request or release
events while a worker is free."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from dsim.components.workers import Lock, WorkerPool
from dsim.environment import CountingEnvironment


def _calls(env: simpy.Environment, hold: list[float], use: Any) -> list[tuple[int, float, float]]:
    """Calls arriving at time 0 in order, each holding a worker ``hold[i]`` seconds: (call, granted, ended)."""
    log: list[tuple[int, float, float]] = []

    def call(i: int) -> Generator[Any, Any, None]:
        granted = yield from use(i)
        log.append((i, granted, env.now))

    for i in range(len(hold)):
        env.process(call(i))
    env.run()
    return log


def _with_pool(env: CountingEnvironment, capacity: int, hold: list[float]) -> list[tuple[int, float, float]]:
    pool = WorkerPool(env, capacity)

    def use(i: int) -> Generator[Any, Any, float]:
        yield pool.request()
        granted = env.now
        yield env.timeout(hold[i])
        pool.release()
        return granted

    return _calls(env, hold, use)


def _with_resource(env: CountingEnvironment, capacity: int, hold: list[float]) -> list[tuple[int, float, float]]:
    return _with_lock(env, capacity, hold, simpy.Resource(env, capacity))


def test_two_workers_three_calls_of_one_second_the_third_waits_one_second() -> None:
    # calls 0 and 1 take the two free workers at 0 and end at 1; call 2 gets the first freed worker at 1
    # and ends at 2 (first come, first served)
    log = _with_pool(CountingEnvironment(), 2, [1.0, 1.0, 1.0])
    assert sorted(log) == [(0, 0.0, 1.0), (1, 0.0, 1.0), (2, 1.0, 2.0)]


def test_the_queue_order_times_and_event_count_are_simpy_resources() -> None:
    # the same calls through SimPy's Resource: the same grants and ends in the same order, and the same count
    # of events (the pool counts each release it does not schedule as SimPy would have processed it)
    hold = [0.5, 0.25, 1.0, 0.25, 0.5, 0.125, 0.25, 0.5]
    for capacity in (1, 2, 3, 8):
        pool_env, resource_env = CountingEnvironment(), CountingEnvironment()
        assert _with_pool(pool_env, capacity, hold) == _with_resource(resource_env, capacity, hold)
        assert pool_env.processed == resource_env.processed


def test_a_free_worker_makes_no_event_of_its_own() -> None:
    # one call on an idle pool: the process's start, the hold, and the process's end are scheduled (3); the
    # granted request and the release are not, but are counted (5, as with SimPy's Resource)
    env = CountingEnvironment()
    pool = WorkerPool(env, 1)

    def call() -> Generator[Any, Any, None]:
        yield pool.request()
        yield env.timeout(1.0)
        pool.release()

    env.process(call())
    scheduled = 0
    while env.peek() != float("inf"):
        env.step()
        scheduled += 1
    assert scheduled == 3
    assert env.processed == 5
    assert pool.free == 1


def test_an_interrupted_waiting_call_leaves_the_queue() -> None:
    # capacity 1: call A holds it 2 s; B waits and is interrupted at 1 s; C, queued behind B, gets it at 2
    env = CountingEnvironment()
    pool = WorkerPool(env, 1)
    granted: dict[str, float] = {}

    def call(name: str, hold: float) -> Generator[Any, Any, None]:
        grant = pool.request()
        try:
            yield grant
        except simpy.Interrupt:
            pool.cancel(grant)
            return
        granted[name] = env.now
        yield env.timeout(hold)
        pool.release()

    env.process(call("A", 2.0))
    b = env.process(call("B", 1.0))
    env.process(call("C", 1.0))

    def interrupt() -> Generator[Any, Any, None]:
        yield env.timeout(1.0)
        b.interrupt()

    env.process(interrupt())
    env.run()
    assert granted == {"A": 0.0, "C": 2.0}
    assert pool.free == 1


def _with_lock(env: CountingEnvironment, capacity: int, hold: list[float], lock: Any) -> list[tuple[int, float, float]]:
    """Each call takes ``lock`` (a ``Lock`` or SimPy's ``Resource``) in a ``with`` block for its hold."""

    def use(i: int) -> Generator[Any, Any, float]:
        with lock.request() as turn:
            yield turn
            granted = env.now
            yield env.timeout(hold[i])
        return granted

    return _calls(env, hold, use)


def test_a_lock_in_a_with_block_queues_and_counts_as_simpys_resource() -> None:
    # the kernel's netns lock: the same calls, in a with block, give the same grants, ends and event count
    hold = [0.5, 0.25, 1.0, 0.25, 0.5, 0.125]
    for capacity in (1, 2):
        lock_env, resource_env = CountingEnvironment(), CountingEnvironment()
        assert _with_lock(lock_env, capacity, hold, Lock(lock_env, capacity)) == \
            _with_lock(resource_env, capacity, hold, simpy.Resource(resource_env, capacity))
        assert lock_env.processed == resource_env.processed


def test_a_turn_given_up_while_waiting_leaves_the_queue_as_simpys_does() -> None:
    # capacity 1: A holds it 2 s; B waits and is interrupted at 1 s inside its with block (SimPy's Request
    # leaves the queue and still makes a release event that frees nothing); C, behind B, gets it at 2.
    # The same grants and the same event count as with SimPy's Resource.
    def story(env: CountingEnvironment, lock: Any) -> dict[str, float]:
        granted: dict[str, float] = {}

        def call(name: str, hold: float) -> Generator[Any, Any, None]:
            try:
                with lock.request() as turn:
                    yield turn
                    granted[name] = env.now
                    yield env.timeout(hold)
            except simpy.Interrupt:
                return

        env.process(call("A", 2.0))
        b = env.process(call("B", 1.0))
        env.process(call("C", 1.0))

        def interrupt() -> Generator[Any, Any, None]:
            yield env.timeout(1.0)
            b.interrupt()

        env.process(interrupt())
        env.run()
        return granted

    lock_env, resource_env = CountingEnvironment(), CountingEnvironment()
    assert story(lock_env, Lock(lock_env, 1)) == story(resource_env, simpy.Resource(resource_env, 1)) == \
        {"A": 0.0, "C": 2.0}
    assert lock_env.processed == resource_env.processed
