"""A container's processes in one cgroup (dsim/components/cpu.py CpuGroup, docs/containers.md "One cgroup, its
processes"), against closed forms worked out by hand from the rules:

- the group's quota (``--cpus``, cpu.max) caps the sum of its processes, and its weight (``--cpu-shares``) is the
  group's, however many of them run: CFS group scheduling, a group being one entity of its parent's runqueue;
- inside the group CFS is fair between threads, so its processes share what it gets in proportion to the cores
  each keeps busy alone (its demand);
- alone in its group a process runs exactly as a task of its own (its demand under the quota, the group's weight).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from functools import partial
from typing import Any

import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from dsim.components.cpu import CpuScheduler, SmtCpuScheduler
from dsim.components.cpu_group import CpuGroup, ServiceCpu
from dsim.domain.health import PROBE_EXEC
from dsim.domain.start_path import RUNTIME_CPU_SHARE
from dsim.environment import CountingEnvironment
from tests.components.cpu_schedules import TASKS, timed
from tests.helpers import run_text

#: (start, CPU-seconds, demand, group index or None for a task of its own, cancelled after or None)
Job = tuple[float, float, float, int | None, float | None]


def play(cores: float, groups: list[CpuGroup], jobs: list[Job],
         updates: tuple[tuple[float, int, float, float], ...] = (),
         make: Callable[[simpy.Environment, float], CpuScheduler] = CpuScheduler) -> list[tuple[float, float]]:
    """Each job's (end, CPU-seconds received); ``updates``: (when, group index, quota, weight)."""
    env = CountingEnvironment()
    cpu = make(env, cores)
    outcome: list[tuple[float, float]] = [(math.nan, math.nan)] * len(jobs)

    def update(at: float, group: int, quota: float, weight: float) -> Generator[Any, Any, None]:
        yield env.timeout(at)
        cpu.update_group(groups[group], quota, weight)

    for i, (at, work, demand, group, cancel) in enumerate(jobs):
        start = partial(cpu.run, work, demand) if group is None else partial(cpu.run_in, groups[group], work, demand)
        env.process(timed(env, cpu, at, start, cancel, partial(outcome.__setitem__, i)))
    for change in updates:
        env.process(update(*change))
    env.run()
    return outcome


def ends(cores: float, groups: list[CpuGroup], jobs: list[Job], **kw: Any) -> list[float]:
    return [end for end, _ in play(cores, groups, jobs, **kw)]


def test_two_processes_share_the_quota() -> None:
    """2 cores, quota 1 core: two one-thread processes get half a core each (not a core each, as two tasks of
    their own would). B's 1 CPU-s ends at 2 s; A has 1 of its 2 done and then runs alone at the quota: 3 s."""
    jobs: list[Job] = [(0, 2.0, 1.0, 0, None), (0, 1.0, 1.0, 0, None)]
    assert ends(2.0, [CpuGroup(quota=1.0)], jobs) == pytest.approx([3.0, 2.0])
    assert ends(2.0, [], [(0, 2.0, 1.0, None, None), (0, 1.0, 1.0, None, None)]) == pytest.approx([2.0, 1.0])


def test_the_group_weighs_as_one_entity() -> None:
    """1 core: a group of two one-thread processes (weight 1) against a task of its own (weight 1): L solves
    L / 2 + L / 2 + L = 1, so the lone task gets half the core, each member a quarter. The lone task's 1 CPU-s
    ends at 2 s (at a third of the core each, as three tasks of their own, at 3 s); the members have 0.5 of
    their 1 CPU-s done and share the core: 3 s."""
    jobs: list[Job] = [(0, 1.0, 1.0, 0, None), (0, 1.0, 1.0, 0, None), (0, 1.0, 1.0, None, None)]
    assert ends(1.0, [CpuGroup()], jobs) == pytest.approx([3.0, 3.0, 2.0])


def test_a_quota_below_the_demands_is_split_by_demand() -> None:
    """4 cores, quota 1.5: demands 2 and 1 (3 > 1.5) get 1 and 0.5 core, threads alike; 2 and 1 CPU-s both end
    at 2 s. Under a quota of 4 the same demands run at 2 and 1 core: 1 s each."""
    jobs: list[Job] = [(0, 2.0, 2.0, 0, None), (0, 1.0, 1.0, 0, None)]
    assert ends(4.0, [CpuGroup(quota=1.5)], jobs) == pytest.approx([2.0, 2.0])
    assert ends(4.0, [CpuGroup(quota=4.0)], jobs) == pytest.approx([1.0, 1.0])


def test_a_cancelled_member_leaves_the_quota_to_the_others() -> None:
    """Quota 1 on 2 cores, A and B of 4 CPU-s, B stopped at 1 s having had 0.5: A has 0.5 done, its 3.5 left at
    the whole quota: 4.5 s."""
    jobs: list[Job] = [(0, 4.0, 1.0, 0, None), (0, 4.0, 1.0, 0, 1.0)]
    assert play(2.0, [CpuGroup(quota=1.0)], jobs) == [(pytest.approx(4.5), 4.0), (1.0, pytest.approx(0.5))]


def test_docker_update_of_the_group_quota_applies_at_once() -> None:
    """A process of two threads under a quota of 1 core, 2 CPU-s: at 1 s the quota becomes 2 cores, its last
    CPU-s runs at 2 cores: 1.5 s. A late second member then splits the new quota: started at 1 s with 1 CPU-s
    and demand 2, each gets 1 core (4 > 2): both end at 2 s."""
    assert ends(4.0, [CpuGroup(quota=1.0)], [(0, 2.0, 2.0, 0, None)], updates=((1.0, 0, 2.0, 1.0),)) == \
        pytest.approx([1.5])
    jobs: list[Job] = [(0, 2.0, 2.0, 0, None), (1.0, 1.0, 2.0, 0, None)]
    assert ends(4.0, [CpuGroup(quota=1.0)], jobs, updates=((1.0, 0, 2.0, 1.0),)) == pytest.approx([2.0, 2.0])


def test_a_group_on_an_smt_host_counts_its_throttled_threads() -> None:
    """2 logical CPUs on one physical core (gain 0.3): a group of quota 0.5 with one process of 2 threads: its
    threads occupy both siblings while it runs (B* = 2: T(2) / 2 = 0.65), so 0.65 CPU-s of work a CPU-second
    at half a logical CPU: 1 CPU-s takes 1 / (0.5 x 0.65) s."""
    def smt(env: simpy.Environment, cores: float) -> CpuScheduler:
        return SmtCpuScheduler(env, cores, threads_per_core=2, smt_gain=0.3)

    env = CountingEnvironment()
    cpu = smt(env, 2.0)
    task = cpu.run_in(CpuGroup(quota=0.5), 1.0, 2.0, threads=2.0)
    env.run()
    assert task.done.value == pytest.approx(1.0 / (0.5 * 0.65))


@settings(max_examples=60, deadline=None)
@given(tasks=TASKS, smt=st.booleans())
def test_alone_in_its_group_a_task_runs_as_one_of_its_own(
        tasks: list[tuple[float, float, float, float | None]], smt: bool) -> None:
    """Every task in a group of its own (no quota, the default weight) ends at the same float, having received
    the same CPU-seconds, as the same task run by itself: a group changes nothing until it holds two."""
    def make(env: simpy.Environment, cores: float) -> CpuScheduler:
        return SmtCpuScheduler(env, cores, threads_per_core=2, smt_gain=0.3) if smt else CpuScheduler(env, cores)

    alone: list[Job] = [(at, work, cap, None, cancel) for at, work, cap, cancel in tasks]
    grouped: list[Job] = [(at, work, cap, i, cancel) for i, (at, work, cap, cancel) in enumerate(tasks)]
    groups = [CpuGroup() for _ in tasks]
    assert play(2.0, groups, grouped, make=make) == play(2.0, [], alone, make=make)


@settings(max_examples=60, deadline=None)
@given(quota=st.sampled_from([0.5, 1.0, 1.5, 3.0]), cores=st.sampled_from([1.0, 2.0, 4.0]),
       jobs=st.lists(st.tuples(st.floats(0.01, 4), st.sampled_from([0.5, 1.0, 2.0])), min_size=1, max_size=6))
def test_a_group_never_runs_faster_than_its_quota_or_the_cores(quota: float, cores: float,
                                                               jobs: list[tuple[float, float]]) -> None:
    """Members started together finish no sooner than their total work at min(quota, cores), nor than any one's
    work at its demand."""
    played = play(cores, [CpuGroup(quota=quota)], [(0.0, work, demand, 0, None) for work, demand in jobs])
    makespan = max(end for end, _ in played)
    assert makespan >= sum(work for work, _ in jobs) / min(quota, cores) * (1 - 1e-9)
    for (end, received), (work, demand) in zip(played, jobs, strict=True):
        assert received == pytest.approx(work) and end >= work / demand * (1 - 1e-9)


def test_each_daemon_is_one_cgroup_beside_the_containers() -> None:
    """1 core: dockerd with two tasks of 1 CPU-s, containerd with one, a container with one: three cgroups of equal
    weight, a third of the core each, dockerd's two tasks a sixth each. containerd's and the container's end at 3 s,
    dockerd's have 0.5 done each and then share the core: 4 s (four tasks of their own would all end at 4 s)."""
    env = CountingEnvironment()
    cpu = CpuScheduler(env, 1.0)
    dockerd, containerd = ServiceCpu(cpu), ServiceCpu(cpu)
    tasks = [dockerd.run(1.0, 1.0), dockerd.run(1.0, 1.0), containerd.run(1.0, 1.0),
             cpu.run_in(CpuGroup(), 1.0, 1.0)]
    env.run()
    assert [task.done.value for task in tasks] == pytest.approx([4.0, 4.0, 3.0, 3.0])


EXEC_PATH = PROBE_EXEC.mean  # dockerd's exec path, 100 ms on an idle host (domain/health.py)

EXEC_IN_A_QUOTA = """
name: exec-quota
hosts:
  h: {cpus: 2, nic: inf, preloaded: [nginx], daemon: {api_service_time: 0s}, storage: {write_rate: inf}}
workloads:
  w:
    arrival: {burst: 1}
    steps:
      - run: {image: nginx, name: w, detach: true, cpus: 1, cpu_time: 100s, threads: 1}
      - exec: {container: w, cpu_time: 2s}
"""


def test_an_exec_shares_the_containers_quota_with_its_process() -> None:
    """2 cores, the container's CPU-bound process under --cpus 1: dockerd's exec path runs on the other core
    (its 37 ms of CPU alone there, then its wait), and the command joins the container's cgroup: half the quota
    each, so its 2 CPU-s take 4 s (a core of its own would take 2 s)."""
    [span] = run_text(EXEC_IN_A_QUOTA).spans_of("docker_exec")
    assert span.end - span.start == pytest.approx(EXEC_PATH + 2.0 / 0.5, rel=1e-9)


HEALTH_IN_A_QUOTA = """
name: probe-quota
hosts:
  h: {cpus: 4, preloaded: [nginx], daemon: {api_service_time: 0s, workers: 1000},
      runtime: {create: 0s, mount: 0s, netns: 0s, start: 0s, exec: 0s, probe_exec: 100ms},
      networking: {endpoint_rules: 0}}
workloads:
  w:
    arrival: {times: [0s]}
    steps: [{run: {image: nginx, name: api, detach: true, wait: false, cpus: 0.5,
                   healthcheck: {interval: 1s, timeout: 2s, probe_cpu: 500ms}}}]
"""


def test_a_health_probes_command_runs_under_the_containers_quota() -> None:
    """A probe at 1 s: dockerd's exec path 100 ms (its CPU outside the container's cgroup), then the check
    command's 0.5 CPU-s at the container's --cpus 0.5: 1 s. Healthy at 2.1 s (at 1.6 s with a core of its own)."""
    [span] = [s for s in run_text(HEALTH_IN_A_QUOTA).spans_of("health") if s.subject == "api"]
    assert span.end == pytest.approx(1.0 + 0.1 + 0.5 / 0.5)


EXEC_OF_A_LIGHT_CONTAINER = """
name: exec-path-weight
hosts:
  h: {cpus: 1, nic: inf, preloaded: [nginx], daemon: {api_service_time: 0s}, storage: {write_rate: inf},
      runtime: {create: 0s, mount: 0s, netns: 0s, start: 0s, exec: 0s, probe_exec: 100ms, cpu_weights: shares}}
workloads:
  w:
    arrival: {burst: 1}
    steps:
      - run: {image: nginx, name: hog, detach: true, cpu_time: 100s, threads: 1}
      - run: {image: nginx, name: light, detach: true, duration: inf, cpu_shares: 256}
      - exec: {container: light, detach: true}
"""


def test_the_exec_path_runs_in_containerds_cgroup_not_the_containers() -> None:
    """1 core, a CPU-bound container at the default weight: dockerd's exec path for an exec in a container of
    --cpu-shares 256 is the daemons' work (runc exec under the shim: containerd.service, weight 1, half the core
    beside the hog), not the light container's (a quarter of the hog's weight: a fifth of the core). Its CPU
    part, 0.37 of 100 ms, takes twice its CPU-seconds, then the rest waits: 100 ms + 37 ms (at a fifth of the
    core it would be 100 + 4 x 37 ms)."""
    [span] = run_text(EXEC_OF_A_LIGHT_CONTAINER).spans_of("docker_exec")
    work = 0.1 * RUNTIME_CPU_SHARE
    assert span.end - span.start == pytest.approx(0.1 + work, rel=1e-9)


START_PATH_BESIDE_A_HOG = """
name: start-path-daemons
hosts:
  h: {cpus: 1, nic: inf, preloaded: ["alpine:3.20"], daemon: {api_service_time: 0s}, storage: {write_rate: inf},
      runtime: {create: 1s, mount: 0s, netns: 0s, start: 1s, exec: 0s, cpu: {create: 1.0, start: 1.0}},
      networking: {endpoint_rules: 0}}
workloads:
  hog:
    arrival: {times: [0s]}
    steps: [{run: {image: "alpine:3.20", name: hog, detach: true, cpu_time: 1000s, threads: 1, network: none}}]
  a:
    arrival: {times: [2s]}
    steps: [{run: {image: "alpine:3.20", name: a, detach: true, duration: inf, network: none}}]
  b:
    arrival: {times: [4s]}
    steps: [{run: {image: "alpine:3.20", name: b, detach: true, duration: inf, network: none}}]
"""


def test_runc_create_is_containerds_work_and_create_dockerds() -> None:
    """1 core, create and runc create 1 CPU-s each, a CPU-bound container running from 2 s. a's create shares the
    core with it (half each: 2-4 s); at 4 s a's runc create (the shim's child: containerd.service) and b's create
    (dockerd: docker.service) run in two cgroups beside the container's: a third each, both end at 7 s (in one
    daemon's cgroup they would share a half: 8 s); b's runc create then has half the core: 7-9 s."""
    result = run_text(START_PATH_BESIDE_A_HOG)
    runc = {span.subject: (span.start, span.end) for span in result.spans_of("runc")}
    create = {span.subject: (span.start, span.end) for span in result.spans_of("create")}
    assert create["a"] == pytest.approx((2.0, 4.0))
    assert runc["a"] == pytest.approx((4.0, 7.0))
    assert create["b"] == pytest.approx((4.0, 7.0))
    assert runc["b"] == pytest.approx((7.0, 9.0))
