"""CPU shared by processor sharing with CFS-quota caps, against closed forms worked out by hand.

Rule (docs/containers.md "Sharing the kernel"): with C cores and running tasks capped at c_i, each task gets
min(c_i, L) where sum_i min(c_i, L) = C, or its cap when all caps fit. Every start and end re-divides the cores.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from dsim.components.host import CpuScheduler
from dsim.environment import CountingEnvironment
from tests.components.cpu_schedules import TASKS, play, unweighted
from tests.helpers import run_text

#: every start-path cost zero (Docker 28's endpoint rule left out)
ZERO = "{create: 0s, mount: 0s, netns: 0s, start: 0s, exec: 0s}"
NO_RULE = "{endpoint_rules: 0}"


def scenario(cores: float, workloads: str) -> str:
    return f"""
name: t
hosts:
  h: {{cpus: {cores}, daemon: {{api_service_time: 0s, workers: 1000}}, preloaded: [nginx], runtime: {ZERO},
      networking: {NO_RULE}}}
workloads:
{workloads}
"""


def ends(result) -> list[float]:  # type: ignore[no-untyped-def]
    return sorted(job.end_s for job in result.jobs)


def test_four_jobs_of_ten_cpu_seconds_on_two_cores_end_at_twenty() -> None:
    """4 x 10 CPU-s, single-threaded, on 2 cores: each gets 2/4 = 0.5 core, so all end at 10 / 0.5 = 20 s."""
    text = scenario(2, "  w: {arrival: {burst: 4}, steps: [{run: {image: nginx, cpu_time: 10s}}]}")
    result = run_text(text)
    assert ends(result) == pytest.approx([20.0] * 4)
    # the host was fully busy for the 20 s: utilisation 1
    assert result.summary()["hosts"]["h"]["cpu_util"] == pytest.approx(1.0)


def test_caps_bind_before_the_cores_do() -> None:
    """2 jobs with --cpus 1 on 4 cores: each is held to 1 core by its quota, so 10 CPU-s take 10 s; a
    --cpus 0.5 job of 5 CPU-s takes 10 s alone. Utilisation over 10 s: (1 + 1 + 0.5) / 4."""
    text = scenario(4, """  a: {arrival: {burst: 2}, steps: [{run: {image: nginx, cpu_time: 10s, cpus: 1}}]}
  b: {arrival: {burst: 1}, steps: [{run: {image: nginx, cpu_time: 5s, cpus: 0.5}}]}""")
    result = run_text(text)
    assert ends(result) == pytest.approx([10.0] * 3)
    assert result.summary()["hosts"]["h"]["cpu_util"] == pytest.approx(2.5 / 4)


def test_threads_default_to_the_quota_and_use_several_cores() -> None:
    """--cpus 2 means two runnable threads by default: 10 CPU-s take 5 s alone on 4 cores; with
    threads: 1 it is single-threaded and takes 10 s."""
    two = run_text(scenario(4, "  w: {arrival: {burst: 1}, steps: [{run: {image: nginx, cpu_time: 10s, cpus: 2}}]}"))
    one = run_text(scenario(4, "  w: {arrival: {burst: 1}, steps: [{run: {image: nginx, cpu_time: 10s, cpus: 2, "
                               "threads: 1}}]}"))
    assert ends(two) == pytest.approx([5.0])
    assert ends(one) == pytest.approx([10.0])


def test_water_filling_with_mixed_caps() -> None:
    """3 cores; A capped at 0.5 core with 1 CPU-s, B and C capped at 2 cores with 5 CPU-s each.
    Level L: 0.5 + 2L = 3 -> L = 1.25, so A ends at 1 / 0.5 = 2 s with B and C at 2.5 CPU-s each; then
    B and C get min(2, 3/2) = 1.5 each: 2.5 / 1.5 s more, ending at 2 + 5/3 s."""
    text = scenario(3, """  a: {arrival: {burst: 1}, steps: [{run: {image: nginx, cpu_time: 1s, cpus: 0.5}}]}
  b: {arrival: {burst: 2}, steps: [{run: {image: nginx, cpu_time: 5s, cpus: 2}}]}""")
    assert ends(run_text(text)) == pytest.approx([2.0, 2 + 5 / 3, 2 + 5 / 3])


def test_late_arrival_shares_then_leaves() -> None:
    """1 core. Job 1 (10 CPU-s) alone from 0 to 4 s (4 done); job 2 (2 CPU-s) arrives at 4 s: each gets 0.5,
    job 2 ends at 4 + 2 / 0.5 = 8 s, job 1 has 6 done then and its last 4 take until 12 s."""
    text = scenario(1, """  w: {arrival: {times: [0s, 4s]}, steps: [{run: {image: nginx, cpu_time: 10s}}]}""")
    text = text.replace("cpu_time: 10s}}]}", "cpu_time: 10s}}]}\n  v: {arrival: {times: [4s]}, steps: [{run: "
                        "{image: nginx, cpu_time: 2s}}]}").replace("times: [0s, 4s]", "times: [0s]")
    assert ends(run_text(text)) == pytest.approx([8.0, 12.0])


def test_duration_paces_cpu_work_and_contention_stretches_it() -> None:
    """cpu_time 2 s over duration 4 s runs at 0.5 core: alone on 1 core it ends at exactly 4 s. Next to a
    greedy 1-core job (3 CPU-s) on 1 core: level L with 0.5 <= L, 0.5 + L = 1 -> both get 0.5; the paced job
    ends at 4 s, the greedy one has 2 done at 4 s and runs alone to 5 s."""
    paced = "  p: {arrival: {burst: 1}, steps: [{run: {image: nginx, cpu_time: 2s, duration: 4s}}]}"
    assert ends(run_text(scenario(1, paced))) == pytest.approx([4.0])
    greedy = "\n  g: {arrival: {burst: 1}, steps: [{run: {image: nginx, cpu_time: 3s}}]}"
    assert ends(run_text(scenario(1, paced + greedy))) == pytest.approx([4.0, 5.0])


def test_duration_alone_uses_no_cpu() -> None:
    """A wall-time workload (duration, no cpu_time) is not CPU-bound: it ends on time and costs no CPU."""
    text = scenario(1, "  w: {arrival: {burst: 5}, steps: [{run: {image: nginx, duration: 3s}}]}")
    result = run_text(text)
    assert ends(result) == pytest.approx([3.0] * 5)
    assert result.summary()["hosts"]["h"]["cpu_util"] == 0.0


def test_stopping_a_task_gives_its_share_back() -> None:
    """2 tasks of 10 CPU-s on 1 core; the first is stopped at 4 s (2 CPU-s done, instant exit): the second
    has 2 done and takes its last 8 alone, ending at 12 s."""
    text = scenario(1, """  a: {arrival: {burst: 1}, steps: [{run: {image: nginx, cpu_time: 10s, detach: true}},
       {sleep: 4s}, {stop: {}}]}
  b: {arrival: {burst: 1}, steps: [{run: {image: nginx, cpu_time: 10s}}]}""")
    result = run_text(text)
    cpu = sorted((s.end, s.attrs["cpu_seconds"]) for s in result.spans_of("process"))
    assert cpu == [(pytest.approx(4.0), pytest.approx(2.0)), (pytest.approx(12.0), pytest.approx(10.0))]


def test_scheduler_is_event_driven_one_wakeup_per_change() -> None:
    """1,000 equal tasks started at once on 8 cores end together at 1000 x 1 / 8 s, after one wake-up."""
    env = simpy.Environment()
    cpu = CpuScheduler(env, 8)
    tasks = [cpu.run(1.0, 1.0) for _ in range(1000)]
    env.run()
    assert env.now == pytest.approx(125.0)
    assert all(task.done.value == pytest.approx(125.0) for task in tasks)
    assert len(cpu.classes) == 0



def test_tasks_ending_together_are_all_done_before_any_waiter_resumes() -> None:
    """Two tasks of 1 CPU-second on 2 cores end together at 1 s, finished in one wake-up whose waiters resume in
    it (dsim.environment.process_now). The first waiter cancels the second task: it is already done, so the
    cancel returns its whole work and changes nothing (no task counted off twice); then a new task of 2 CPU-s
    runs alone on the idle host and ends at 3 s."""
    env = CountingEnvironment()
    cpu = CpuScheduler(env, 2)
    first, second = cpu.run(1.0, 1.0), cpu.run(1.0, 1.0)
    seen: list[tuple[float, bool, float]] = []

    def waiter() -> Generator[Any, Any, None]:
        yield first.done
        seen.append((env.now, second.done.triggered, cpu.cancel(second)))
        later = cpu.run(2.0, 1.0)
        yield later.done
        seen.append((env.now, True, later.work))

    env.process(waiter())
    env.run()
    assert seen == [(pytest.approx(1.0), True, 1.0), (pytest.approx(3.0), True, 2.0)]
    assert cpu.runnable == 0 and len(cpu.classes) == 0

@settings(max_examples=40, deadline=None)
@given(
    cores=st.sampled_from([1, 2, 3, 8]),
    jobs=st.lists(
        st.tuples(
            st.floats(0, 5),  # arrival
            st.floats(0.1, 6),  # cpu_time
            st.sampled_from(["", "cpus: 0.5, ", "cpus: 1, ", "cpus: 3, ", "threads: 2, "]),
            st.sampled_from([0.0, 2.0, 8.0]),  # duration (0: none)
        ),
        min_size=1, max_size=10,
    ),
)
def test_a_host_never_runs_more_cpu_than_it_has(cores: int, jobs: list[tuple[float, float, str, float]]) -> None:
    """Whatever the mix: the busy cores of every interval stay within the host's cores, each job's work is
    delivered in full (the busy integral equals the sum of cpu_time), and no job beats its own cap."""
    lines = []
    for i, (at, work, cap, duration) in enumerate(jobs):
        paced = f", duration: {duration}s" if duration else ""
        lines.append(f"  w{i}: {{arrival: {{times: [{at}s]}}, steps: [{{run: {{image: nginx, {cap}cpu_time: "
                     f"{work}s{paced}}}}}]}}")
    result = run_text(scenario(cores, "\n".join(lines)))
    intervals = result.spans_of("cpu")
    assert all(span.attrs["busy"] <= cores * (1 + 1e-9) for span in intervals)
    delivered = sum(span.attrs["busy"] * span.duration for span in intervals)
    assert delivered == pytest.approx(sum(work for _, work, _, _ in jobs), rel=1e-6)
    by_workload = {job.workload: job for job in result.jobs}
    for i, (at, work, cap, duration) in enumerate(jobs):
        job = by_workload[f"w{i}"]
        limit = {"": 1.0, "cpus: 0.5, ": 0.5, "cpus: 1, ": 1.0, "cpus: 3, ": 3.0, "threads: 2, ": 2.0}[cap]
        limit = min(limit, cores, work / duration if duration else limit)
        assert job.end_s - at >= work / limit * (1 - 1e-9)


def test_utilisation_counts_only_work_up_to_the_makespan() -> None:
    """A detached 10 CPU-s job keeps 1 core busy from 0 to 10 s, but the last job (a 4 s sleep) ends at 4 s:
    over the makespan [0, 4] the core was busy all the time, utilisation 1 (not 10 / 4)."""
    text = scenario(1, """  a: {arrival: {burst: 1}, steps: [{run: {image: nginx, cpu_time: 10s, detach: true}}]}
  b: {arrival: {burst: 1}, steps: [{sleep: 4s}]}""")
    summary = run_text(text).summary()
    assert summary["makespan_s"] == pytest.approx(4.0)
    assert summary["hosts"]["h"]["cpu_util"] == pytest.approx(1.0)


class _GeneralOnly(CpuScheduler):
    """The scheduler without its fast paths for a lone task (``_run_alone``, ``_end_alone``): every start and
    end through the general water-filling path."""

    def _run_alone(self, task: Any) -> None:
        self._run_shared(task)

    def _end_alone(self, now: float) -> bool:
        return False


@settings(max_examples=60, deadline=None)
@given(cores=st.sampled_from([1.0, 2.0, 3.0, 16.0]), tasks=TASKS)
def test_a_lone_task_takes_the_fast_path_to_the_same_floats(
        cores: float, tasks: list[tuple[float, float, float, float | None]]) -> None:
    """The fast paths for a task alone on the host (its start on an idle scheduler, its end leaving it idle)
    do what the general path does, float for float: the same ends, CPU-seconds received, busy intervals and
    utilisation, whatever else starts, ends or is cancelled around them."""
    assert play(CpuScheduler, cores, unweighted(tasks)) == play(_GeneralOnly, cores, unweighted(tasks))


def test_ended_and_cancelled_tasks_leave_no_reference_cycle() -> None:
    """A task holds its cap class and the class's heap holds the task: when the task ends alone (the fast
    path) or is cancelled last, that pair is dropped. Left in each other's hands it would be a cycle that
    only the garbage collector frees, which a run calls rarely (dsim/gc_tuning.py): every container start
    left one (a task, its class, its done event, a heap and an entry)."""
    import gc

    from dsim.components.cpu import CpuTask, _CapClass

    env = CountingEnvironment()
    cpu = CpuScheduler(env, 2)

    def ends_alone() -> Generator[Any, Any, None]:
        yield cpu.run(1.0, 1).done

    def cancelled_last() -> Generator[Any, Any, None]:
        yield env.timeout(5.0)
        task = cpu.run(10.0, 1)  # alone again (the first ended at 1 s): the fast path's class
        yield env.timeout(1.0)
        cpu.cancel(task)

    was_enabled = gc.isenabled()
    gc.disable()
    gc.collect()
    try:
        env.process(ends_alone())
        env.process(cancelled_last())
        env.run()
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        left = [obj for obj in gc.garbage if isinstance(obj, CpuTask | _CapClass)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if was_enabled:
            gc.enable()
    assert left == []
