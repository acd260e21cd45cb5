"""Simultaneous multithreading (hyper-threading): a host's CPUs as hardware threads, against closed forms.

Rule (dsim/components/cpu.py SmtCpuScheduler, docs/containers.md "Sharing the kernel"): with P physical cores of
``threads_per_core`` threads each and B logical CPUs busy, the host does T(B) = B for B <= P and
P + smt_gain x (B - P) / (threads_per_core - 1) beyond; the water-filling shares out logical CPUs and every task
progresses at its logical share times T(B*) / B*, B* the threads occupied (B, plus the threads beyond their quota of
quota-throttled tasks while threads are idle).

Here one host of 2 cores x 2 threads (4 logical CPUs, P = 2) and gain g: T(B) = B up to 2, then 2 + g (B - 2).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from dsim.components.host import CpuScheduler, SmtCpuScheduler
from dsim.environment import CountingEnvironment
from tests.components.cpu_schedules import TASKS, play, unweighted
from tests.helpers import run_text

G = 0.3
W = 10.0


def smt(env: simpy.Environment, cores: float = 4.0, threads_per_core: int = 2, gain: float = G,
        on_change: Any = None) -> SmtCpuScheduler:
    return SmtCpuScheduler(env, cores, on_change, threads_per_core=threads_per_core, smt_gain=gain)


def ends(tasks: list[tuple[float, float, float | None]], **host: Any) -> list[float]:
    """The end times of (start, CPU-seconds, threads) tasks each capped at 1 CPU, on a 2 x 2 host (or ``host``)."""
    env = CountingEnvironment()
    cpu = smt(env, **host)
    done: list[float] = []

    def one(at: float, work: float, cap: float, threads: float | None) -> Generator[Any, Any, None]:
        yield env.timeout(at)
        yield cpu.run(work, cap, threads).done
        done.append(env.now)

    for at, work, threads in tasks:
        env.process(one(at, work, 1.0, threads))
    env.run()
    return sorted(done)


@pytest.mark.parametrize(("n", "end"), [
    (1, W),  # one thread busy: a core of its own
    (2, W),  # two: one each on the two cores
    (3, 3 * W / (2 + G)),  # T(3) = 2 + g shared by 3: each (2 + g) / 3
    (4, 2 * W / (1 + G)),  # T(4) = 2 + 2g shared by 4: each (1 + g) / 2
])
def test_equal_single_threaded_tasks_end_by_hand(n: int, end: float) -> None:
    assert ends([(0.0, W, None)] * n) == pytest.approx([end] * n, rel=1e-12)


def test_the_last_two_run_at_full_speed_once_the_siblings_are_free() -> None:
    """1, 1, 2, 2 CPU-s at once: 4 threads busy, each at (1 + g) / 2 = 0.65 until the first two end at 1 / 0.65 s;
    the others, 1 CPU-s left each, then have a core each and end 1 s later."""
    first = 1 / ((1 + G) / 2)
    assert ends([(0.0, 1.0, None), (0.0, 1.0, None), (0.0, 2.0, None), (0.0, 2.0, None)]) == pytest.approx(
        [first, first, first + 1.0, first + 1.0], rel=1e-12)


def test_no_gain_makes_the_second_threads_worthless() -> None:
    """g = 0: 4 tasks on 2 cores x 2 threads take as long as on 2 whole cores: 2 W."""
    assert ends([(0.0, W, None)] * 4, gain=0.0) == pytest.approx([2 * W] * 4, rel=1e-12)


def test_full_gain_is_whole_cores() -> None:
    """g = threads_per_core - 1: every thread is a whole core, T(B) = B (the scheduler without SMT)."""
    assert ends([(0.0, W, None)] * 4, gain=1.0) == pytest.approx([W] * 4, rel=1e-12)


def quota_end(threads: float | None, cap: float = 2.0, gain: float = G) -> float:
    env = CountingEnvironment()
    cpu = smt(env, gain=gain)
    task = cpu.run(W, cap, threads)
    env.run()
    assert task.done.triggered
    return env.now


@pytest.mark.parametrize(("threads", "rate"), [
    (None, 2.0),  # threads = quota: 2 threads on 2 cores, full speed
    (2, 2.0),
    (3, 2 * (2 + G) / 3),  # its bursts occupy 3 threads: T(3) / 3 per logical CPU of quota
    (4, 1 + G),  # 4 threads on 2 cores: the 2 CPUs of quota buy 2 x T(4) / 4 = 1 + g cores' work
])
def test_a_quota_below_the_threads_is_spent_on_siblings(threads: float | None, rate: float) -> None:
    """docker/for-linux#423's mechanism: --cpus 2 with 4 runnable threads on 2 cores x 2 threads. CFS charges the
    quota per hardware thread and runs all 4 threads at once until it is spent, so the quota buys sibling time:
    W CPU-s end at W / rate."""
    assert quota_end(threads) == pytest.approx(W / rate, rel=1e-12)


def test_a_quota_alone_on_a_host_without_smt_loses_nothing() -> None:
    env = CountingEnvironment()
    cpu = smt(env, threads_per_core=1, gain=0.0)
    cpu.run(W, 2.0, 4)
    env.run()
    assert env.now == pytest.approx(W / 2)


def test_utilisation_stays_logical() -> None:
    """4 tasks busy 4 logical CPUs: the host shows 100% busy (top's view) while it does 2 + 2g cores' work."""
    env = CountingEnvironment()
    cpu = smt(env)
    for _ in range(4):
        cpu.run(W, 1.0)
    env.run()
    assert cpu.utilisation(env.now) == pytest.approx(1.0)


def test_received_counts_work_done() -> None:
    """docker stats' CPU-seconds of a task read mid-run: its progress, (1 + g) / 2 per second with 4 busy."""
    env = CountingEnvironment()
    cpu = smt(env)
    tasks = [cpu.run(W, 1.0) for _ in range(4)]
    env.run(until=2.0)
    assert cpu.received(tasks[0]) == pytest.approx(2.0 * (1 + G) / 2)
    assert cpu.cancel(tasks[0]) == pytest.approx(2.0 * (1 + G) / 2)


def test_a_cancelled_quota_task_gives_its_threads_back() -> None:
    """A throttled 4-thread task and a lone 1-thread task: cancelling the first leaves the second at full speed."""
    env = CountingEnvironment()
    cpu = smt(env)
    wide = cpu.run(100.0, 1.0, 4)
    lone = cpu.run(W, 1.0)
    env.run(until=1.0)
    cpu.cancel(wide)
    env.run()
    # first second: B = 2 logical, occupancy min(4, 2 + 3) = 4: each at T(4) / 4 = (1 + g) / 2
    assert lone.done.value == pytest.approx(1.0 + (W - (1 + G) / 2))


@settings(max_examples=60, deadline=None)
@given(cores=st.sampled_from([1.0, 2.0, 3.0, 16.0]), tasks=TASKS)
def test_one_thread_per_core_is_the_scheduler_without_smt(
        cores: float, tasks: list[tuple[float, float, float, float | None]]) -> None:
    """threads_per_core 1: the same ends, CPU-seconds, busy intervals and utilisation, float for float."""

    def one_thread(env: simpy.Environment, cores: float, on_change: Any) -> SmtCpuScheduler:
        return SmtCpuScheduler(env, cores, on_change, threads_per_core=1, smt_gain=0.0)

    assert play(one_thread, cores, unweighted(tasks)) == play(CpuScheduler, cores, unweighted(tasks))


@settings(max_examples=60, deadline=None)
@given(
    threads_per_core=st.sampled_from([2, 4]),
    gain=st.floats(0, 1),
    tasks=st.lists(
        st.tuples(
            st.floats(0, 6),  # start
            st.floats(0.01, 4),  # CPU-seconds of work
            st.sampled_from([0.5, 1.0, 2.0, 3.0, 32.0]),  # cap (no extra threads)
        ),
        min_size=1, max_size=8,
    ),
)
def test_the_work_delivered_is_the_throughput_integrated(
        threads_per_core: int, gain: float, tasks: list[tuple[float, float, float]]) -> None:
    """Work conservation: the CPU-seconds the tasks receive equal T(B) integrated over the busy intervals."""
    env = CountingEnvironment()
    intervals: list[tuple[float, float, float, int]] = []
    cpu = SmtCpuScheduler(env, 8.0, lambda *interval: intervals.append(interval),
                          threads_per_core=threads_per_core, smt_gain=gain * (threads_per_core - 1))

    def one(at: float, work: float, cap: float) -> Generator[Any, Any, None]:
        yield env.timeout(at)
        yield cpu.run(work, cap).done

    for task in tasks:
        env.process(one(*task))
    env.run()
    cpu.close()
    delivered = sum(cpu.throughput(busy) * (end - start) for start, end, busy, _ in intervals)
    assert delivered == pytest.approx(sum(work for _, work, _ in tasks), rel=1e-9)
    assert cpu.runnable == 0 and not cpu.classes


def test_the_gain_must_fit_the_threads() -> None:
    with pytest.raises(ValueError, match="smt_gain"):
        SmtCpuScheduler(simpy.Environment(), 4.0, threads_per_core=2, smt_gain=1.5)


HOST = "{create: 0s, mount: 0s, netns: 0s, start: 0s, exec: 0s}"


def scenario(host: str, workloads: str) -> str:
    return f"""
name: t
hosts:
  h: {{{host}, daemon: {{api_service_time: 0s, workers: 1000}}, preloaded: [nginx], runtime: {HOST},
      networking: {{endpoint_rules: 0}}}}
workloads:
{workloads}
"""


def test_a_scenario_host_of_hardware_threads() -> None:
    """cpus: 4, threads_per_core: 2, smt_gain: 0.3: four 10 CPU-s containers end at 2 W / (1 + g)."""
    text = scenario("cpus: 4, threads_per_core: 2, smt_gain: 0.3",
                    "  w: {arrival: {burst: 4}, steps: [{run: {image: nginx, cpu_time: 10s}}]}")
    result = run_text(text)
    assert [job.end_s for job in result.jobs] == pytest.approx([2 * W / (1 + G)] * 4, rel=1e-9)
    assert result.summary()["hosts"]["h"]["cpu_util"] == pytest.approx(1.0)


def test_a_scenario_quota_with_more_threads_than_cpus() -> None:
    """One container, --cpus 2 and 4 threads, on 2 cores x 2 threads: W / (1 + g) (the quota spent on siblings)."""
    text = scenario("cpus: 4, threads_per_core: 2, smt_gain: 0.3",
                    "  w: {arrival: {burst: 1}, steps: [{run: {image: nginx, cpu_time: 10s, cpus: 2, threads: 4}}]}")
    [job] = run_text(text).jobs
    assert job.end_s == pytest.approx(W / (1 + G), rel=1e-9)


def test_the_default_host_has_one_thread_per_core() -> None:
    """No threads_per_core: four containers on 4 cpus end at W, as before SMT was modelled."""
    text = scenario("cpus: 4", "  w: {arrival: {burst: 4}, steps: [{run: {image: nginx, cpu_time: 10s}}]}")
    assert [job.end_s for job in run_text(text).jobs] == pytest.approx([W] * 4, rel=1e-12)


def test_a_gain_above_the_extra_threads_is_refused() -> None:
    from dsim.api import load_scenario_text

    with pytest.raises(Exception, match="smt_gain"):
        load_scenario_text(scenario("cpus: 4, threads_per_core: 2, smt_gain: 1.5", "  w: {steps: [{sleep: 1s}]}"))
