"""CPU weights (``docker run --cpu-shares``, cgroup cpu.weight) on the host's scheduler, against closed forms.

Rule (dsim/components/cpu.py CpuScheduler, docs/containers.md "CPU weights"): weighted max-min water-filling.
With C cores and tasks of cap c_i and weight w_i, each gets min(c_i, w_i L) where L solves
sum_i min(c_i, w_i L) = C, or its cap when all caps fit: under contention CPU goes in proportion to the weights,
a quota still caps, what a capped or finished task leaves goes to the others, and without contention weights
change nothing. Weights are shares / 1024 (Docker's default weight is 1.0).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from dsim.components.cpu import CpuScheduler, SmtCpuScheduler
from dsim.domain.cpu_limits import cfs_weight
from dsim.errors import ScenarioError
from tests.components.cpu_schedules import Replay, Task
from tests.components.cpu_schedules import play as replay
from tests.helpers import run_text


def play(cores: float, tasks: list[Task], *, smt: bool = False) -> Replay:
    """Each task on a fresh scheduler (``smt``: a 2-threads-per-core SmtCpuScheduler, gain 0.3)."""

    def make(env: simpy.Environment, cores: float, on_change: Callable[..., None]) -> CpuScheduler:
        if smt:
            return SmtCpuScheduler(env, cores, on_change, threads_per_core=2, smt_gain=0.3)
        return CpuScheduler(env, cores, on_change)

    return replay(make, cores, tasks)


def ends(cores: float, tasks: list[Task], **kw: Any) -> list[float]:
    return [end for end, _ in play(cores, tasks, **kw)[0]]


def test_shares_1024_and_512_split_one_core_two_to_one() -> None:
    """3 CPU-s each on one core: 2/3 and 1/3 of it; the heavier ends at 4.5 s (3 / (2/3)), having left the lighter
    1.5 CPU-s done, whose other 1.5 then run alone: 6.0 s (the total work over one core, as without weights)."""
    assert ends(1.0, [(0, 3.0, 1.0, 1.0, None), (0, 3.0, 1.0, 0.5, None)]) == pytest.approx([4.5, 6.0])


def test_unweighted_would_end_both_together() -> None:
    """The same two without weights end together at 6 s: the weights are what moved the first to 4.5 s."""
    assert ends(1.0, [(0, 3.0, 1.0, 1.0, None), (0, 3.0, 1.0, 1.0, None)]) == pytest.approx([6.0, 6.0])


def test_a_capped_heavy_container_leaves_its_excess_to_the_others() -> None:
    """2 cores: A of weight 4 capped at 0.5 core, B and C of weight 1 (one thread each). 0.5 + 2L = 2 gives
    L = 0.75 (4L = 3 > 0.5: A is capped), so B and C get 0.75 each, not the 2/6 of the cores their weights
    alone would give. A's 1 CPU-s ends at 2 s; B and C have 1.5 of their 3 done, then run at 1 core: 3.5 s."""
    tasks: list[Task] = [(0, 1.0, 0.5, 4.0, None), (0, 3.0, 1.0, 1.0, None), (0, 3.0, 1.0, 1.0, None)]
    assert ends(2.0, tasks) == pytest.approx([2.0, 3.5, 3.5])


def test_three_containers_on_two_cores() -> None:
    """Weights 1024, 512, 512, each of two threads (cap 2) on 2 cores: 2L + L + L = 2 gives L = 0.5: A runs at
    1 core, B and C at 0.5 (unweighted: 2/3 each). A's 2 CPU-s end at 2 s, B and C have 1 of 2 done and then
    take a core each: 3 s."""
    tasks: list[Task] = [(0, 2.0, 2.0, 1.0, None), (0, 2.0, 2.0, 0.5, None), (0, 2.0, 2.0, 0.5, None)]
    assert ends(2.0, tasks) == pytest.approx([2.0, 3.0, 3.0])


def test_weights_change_nothing_without_contention() -> None:
    """Two one-thread tasks on 2 cores, weights 1 and 2/1024: each has a core, whatever its weight; and a lone
    task (the scheduler's fast path) with weight 100 runs at its cap as any other."""
    assert ends(2.0, [(0, 3.0, 1.0, 1.0, None), (0, 2.0, 1.0, 2 / 1024, None)]) == pytest.approx([3.0, 2.0])
    assert ends(4.0, [(0, 3.0, 2.0, 100.0, None)]) == pytest.approx([1.5])


def test_a_late_heavy_task_takes_its_share_from_then_on() -> None:
    """One core: B (weight 1) alone from 0 to 1 s (1 CPU-s done of 3), then A (weight 3, 1.5 CPU-s) arrives: A gets
    3/4, B 1/4. A ends at 1 + 1.5 / 0.75 = 3 s, B has 1 + 0.5 = 1.5 done, its last 1.5 alone: 4.5 s."""
    assert ends(1.0, [(0, 3.0, 1.0, 1.0, None), (1.0, 1.5, 1.0, 3.0, None)]) == pytest.approx([4.5, 3.0])


def test_smt_scheduler_with_weights() -> None:
    """2 cores x 2 threads (4 logical CPUs, P = 2, gain 0.3): A of weight 3 and B of weight 1, four threads each.
    Logical shares min(4, 3L) + min(4, L) = 4: L = 1, A 3 and B 1 logical CPUs; 4 busy do T(4) = 2 + 0.3 x 2 = 2.6
    units, so each progresses at 0.65 of its share: A 1.95/s, B 0.65/s. A's 3.9 CPU-s end at 2 s with B's 1.3 of
    3.9 done; B alone then has all 4 threads, 2.6/s: its last 2.6 take 1 s, to 3 s."""
    tasks: list[Task] = [(0, 3.9, 4.0, 3.0, None), (0, 3.9, 4.0, 1.0, None)]
    assert ends(4.0, tasks, smt=True) == pytest.approx([2.0, 3.0])


def test_a_cancelled_heavy_task_hands_its_share_back() -> None:
    """One core: A (weight 3) cancelled after 2 s has had 1.5 CPU-s; B (weight 1) had 0.5, then runs alone: its
    4 CPU-s end at 2 + 3.5 = 5.5 s."""
    outcome, _, _ = play(1.0, [(0, 10.0, 1.0, 3.0, 2.0), (0, 4.0, 1.0, 1.0, None)])
    assert outcome[0] == pytest.approx((2.0, 1.5))
    assert outcome[1] == pytest.approx((5.5, 4.0))


_TASKS = st.lists(
    st.tuples(
        st.sampled_from([0.0, 0.0, 0.5, 1.0, 2.5]),
        st.sampled_from([0.3, 1.0, 2.0, 4.5]),
        st.sampled_from([0.25, 0.5, 1.0, 2.0, 8.0]),
        st.sampled_from([None, None, None, 0.7, 3.0]),
    ),
    min_size=1, max_size=8,
)


@settings(max_examples=60, deadline=None)
@given(cores=st.sampled_from([1.0, 2.0, 3.0, 16.0]), tasks=_TASKS,
       weight=st.sampled_from([2 / 1024, 0.5, 1.5, 3.7, 256.0]), smt=st.booleans())
def test_equal_weights_give_exactly_the_unweighted_schedule(cores: float, tasks: list[Any], weight: float,
                                                            smt: bool) -> None:
    """Whatever weight all tasks share, every end, every CPU-second, every busy interval and the utilisation
    are those of the unweighted scheduler, to the last bit (the weighted water-filling takes weights relative
    to the least one)."""
    plain = play(cores, [(at, work, cap, 1.0, cancel) for at, work, cap, cancel in tasks], smt=smt)
    weighted = play(cores, [(at, work, cap, weight, cancel) for at, work, cap, cancel in tasks], smt=smt)
    assert weighted == plain


@settings(max_examples=60, deadline=None)
@given(cores=st.sampled_from([1.0, 2.0, 3.0]), tasks=_TASKS,
       weights=st.lists(st.sampled_from([2 / 1024, 0.25, 1.0, 2.0, 5.0]), min_size=8, max_size=8))
def test_work_is_conserved(cores: float, tasks: list[Any], weights: list[float]) -> None:
    """Weights move CPU between tasks, never lose or make any: the CPU-seconds every task received add up to the
    busy cores integrated over time, and with every task uncapped and started at 0 the last ends at the total
    work over the cores (the CPU is never idle while work is left)."""
    outcome, _, utilisation = play(cores, [(at, work, cap, w, cancel)
                                           for (at, work, cap, cancel), w in zip(tasks, weights, strict=False)])
    received = sum(got for _, got in outcome)
    if max(end for end, _ in outcome) <= 10.0:
        assert utilisation * cores * 10.0 == pytest.approx(received, rel=1e-9, abs=1e-9)
    uncapped: list[Task] = [(0.0, work, cores, w, None) for (_, work, _, _), w in zip(tasks, weights, strict=False)]
    total = sum(work for _, work, _, _, _ in uncapped)
    assert max(ends(cores, uncapped)) == pytest.approx(total / cores, rel=1e-9)


@pytest.mark.parametrize(("weights", "light"), [
    ("shares", 512 / 1024),  # cgroup v1: cpu.shares as given
    ("quadratic", 59 / 100),  # runc 1.3.2+: 1024 -> cpu.weight 100, 512 -> ceil(10^((81 + 1125)/612 - 7/34)) = 59
    ("linear", 20 / 39),  # older runc: 1 + (shares - 2) x 9999 / 262142 in integers: 1024 -> 39, 512 -> 20
])
def test_scenario_cpu_shares(weights: str, light: float) -> None:
    """A run step's ``cpu_shares``, on a 1-core host whose start path costs nothing: two containers of 3 CPU-s,
    1024 and 512 shares, share the core by their cgroups' weights (1 against ``light``), so the heavier has its
    3 CPU-s at 3 (1 + light) and the lighter ends at 6 s (the core never idle); without shares both at 6 s."""
    text = scenario("""  a: {arrival: {burst: 1}, steps: [{run: {image: nginx, cpu_time: 3s, cpu_shares: 1024}}]}
  b: {arrival: {burst: 1}, steps: [{run: {image: nginx, cpu_time: 3s, cpu_shares: 512}}]}""")
    text = text.replace("preloaded: [nginx], runtime: {", f"preloaded: [nginx], runtime: {{cpu_weights: {weights}, ")
    result = run_text(text)
    assert {job.workload: job.end_s for job in result.jobs} == pytest.approx({"a": 3 * (1 + light), "b": 6.0})
    plain = run_text(text.replace(", cpu_shares: 1024", "").replace(", cpu_shares: 512", ""))
    assert sorted(job.end_s for job in plain.jobs) == pytest.approx([6.0, 6.0])


@pytest.mark.parametrize(("shares", "weight"), [
    (2, 1), (1024, 100), (2000, 170), (22000, 1204), (262144, 10000),
])
def test_runc_quadratic_weights(shares: int, weight: int) -> None:
    """cgroup v2 weights runc 1.3.2+ writes, as published: 2000 shares -> 170 (opencontainers/runc#4896, where
    runc 1.3.1 wrote 77), 22000 -> 1204 (youki-dev/youki#3274, porting runc 1.3.2's conversion); the bounds and
    the default by the formula's design (1..10000, 1024 -> 100: kubernetes/kubernetes#131216)."""
    assert cfs_weight(shares, "quadratic") == pytest.approx(weight / 100)


@pytest.mark.parametrize(("shares", "weight"), [(2, 1), (512, 20), (1024, 39), (2000, 77), (262144, 10000)])
def test_runc_linear_weights(shares: int, weight: int) -> None:
    """Older runc's cgroup v2 weights: 1024 -> 39 (opencontainers/runc#4772, read from a container's
    cpu.weight), 2000 -> 77 (runc#4896, runc 1.3.1), the bounds 2 -> 1 and 262144 -> 10000."""
    assert cfs_weight(shares, "linear") == pytest.approx(weight / 100)


def test_linear_weights_put_a_default_container_under_dockerd() -> None:
    """With older runc on cgroup v2 a default container (1024 shares, cpu.weight 39) weighs less than dockerd's
    own cgroup (docker.service, cpu.weight 100); on cgroup v1 and with runc 1.3.2+ they weigh the same."""
    assert cfs_weight(1024, "linear") == pytest.approx(0.39)
    assert cfs_weight(1024, "quadratic") == 1.0
    assert cfs_weight(1024, "shares") == 1.0


@pytest.mark.parametrize("shares", [0, 1, 262145, 1.5])
def test_scenario_cpu_shares_out_of_range_are_refused(shares: float) -> None:
    """2..262144, the kernel's bounds Docker clamps to (moby daemon_unix.go linuxMinCPUShares and
    linuxMaxCPUShares); a scenario states a weight the engine would use, so one outside is an error."""
    step = f"{{run: {{image: nginx, cpu_time: 1s, cpu_shares: {shares}}}}}"
    with pytest.raises(ScenarioError, match="cpu_shares"):
        run_text(scenario(f"  a: {{arrival: {{burst: 1}}, steps: [{step}]}}"))


def scenario(workloads: str) -> str:
    """One 1-core host whose start path costs nothing (Docker 28's endpoint rule left out), so job ends are the CPU
    model's closed forms."""
    zero = "{create: 0s, mount: 0s, netns: 0s, start: 0s, exec: 0s}"
    return f"""
name: t
hosts:
  h: {{cpus: 1, daemon: {{api_service_time: 0s, workers: 1000}}, preloaded: [nginx], runtime: {zero},
      networking: {{endpoint_rules: 0}}}}
workloads:
{workloads}
"""


@pytest.mark.parametrize(("weights", "container"), [("linear", 0.39), ("quadratic", 1.0), ("shares", 1.0)])
def test_the_start_path_shares_a_busy_core_by_the_cgroups_weights(weights: str, container: float) -> None:
    """One core, kept busy by a CPU-bound container of default shares; a second `docker run` at 10 s whose only
    cost is runc create, 1 CPU-s (no setkey hook), in dockerd's and containerd's cgroup (weight 1, docker.service's
    default). The
    create gets 1 / (1 + w) of the core, w the busy container's weight: it takes 1 + w s, so the second job
    ends at 10 + 1 + w (w = 0.39 with older runc's linear conversion, 1 otherwise)."""
    zero = "{create: 0s, mount: 0s, netns: 0s, start: 1s, exec: 0s, cpu: {start: 1.0}"
    text = f"""
name: t
hosts:
  h: {{cpus: 1, daemon: {{api_service_time: 0s, workers: 1000}}, preloaded: [nginx],
      networking: {{setkey_hook: 0s, endpoint_rules: 0}}, runtime: {zero}, cpu_weights: {weights}}}}}
workloads:
  busy: {{arrival: {{burst: 1}}, steps: [{{run: {{image: nginx, network: host, cpu_time: 100s}}}}]}}
  late: {{arrival: {{burst: 1, at: 10s}}, steps: [{{run: {{image: nginx, network: host, duration: 0s}}}}]}}
"""
    ends = {job.workload: job.end_s for job in run_text(text).jobs}
    assert ends["late"] == pytest.approx(10 + 1 + container)
