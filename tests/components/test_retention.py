"""Nothing of work that has ended stays reachable from the model: a long run's memory grows with its records,
not with every container that ever ran (issue 19). Each test fails when the structure keeps what it should drop."""

from __future__ import annotations

import gc
import weakref

import simpy

from dsim.components.host import Kernel
from dsim.environment import CountingEnvironment, first_of
from dsim.records import Recorder


class _Owner:
    """Stands for a container: what the kernel charges memory to."""


def test_an_owner_gone_after_an_oom_kill_is_not_kept_by_the_killers_heap() -> None:
    # One kill makes the OOM killer's heap; owners charged and uncharged after it must not stay in it.
    kernel = Kernel(simpy.Environment(), "h", 4.0, 10.0, Recorder())
    kernel.charge("big", 8.0)
    assert kernel.charge("other", 4.0) == ["big"]
    gone = []
    for _ in range(200):
        owner = _Owner()
        gone.append(weakref.ref(owner))
        kernel.charge(owner, 1.0)
        kernel.uncharge(owner)
        del owner
    gc.collect()
    assert sum(ref() is not None for ref in gone) <= 2 * len(kernel.resident) + 17  # at most one heap's slack


def test_a_wait_on_an_event_that_outlives_it_leaves_no_callback_on_it() -> None:
    # A container's stop request lasts its life; each run of a restarting container waits on it (first_of).
    env = CountingEnvironment()
    stop = env.event()
    fired = []

    def runs() -> simpy.events.ProcessGenerator:
        for _ in range(100):
            done = env.timeout(1.0)
            yield first_of(env, [done, stop])
            fired.append(done.processed)

    env.process(runs())
    env.run()
    assert fired == [True] * 100
    assert stop.callbacks == []
    already = env.event()
    already.succeed()
    env.run()
    pending = env.event()
    first_of(env, [already, pending])  # fires at once: nothing is left on the pending event
    assert pending.callbacks == []
