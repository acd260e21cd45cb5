"""The exit's own work (``runtime.exit``, components/runtime.py) against closed forms worked out by hand.

Every start cost is zero (no CPU, no commits, API calls free, host network: no teardown but libnetwork's commits,
which take no time here), so n jobs started at once all run their process D = 10 s and exit together at D. Each exit
is E seconds on an idle host, ``cpu.exit`` = s cores' worth of CPU (E s CPU-seconds on containerd's cgroup, at most s
cores at once; s <= 1: E s CPU on one core, then the rest waits), then dockerd reports it and the ``run`` returns.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers import run_text

D = 10.0


def run_ends(count: int, cpus: int, exit_cost: str, share: float) -> tuple[list[float], list[float]]:
    """(when each job's run returned, when each process ended), sorted."""
    result = run_text(f"""
    name: t
    hosts:
      h: {{cpus: {cpus}, daemon: {{api_service_time: 0s, workers: 1000, metadata_commit: 0s}},
           preloaded: ["alpine:3.24"],
           runtime: {{create: 0s, mount: 0s, netns: 0s, start: 0s, exec: 0s, exit: {exit_cost},
                      cpu: {{create: 0, start: 0, exit: {share}}}}},
           networking: {{store_commit: 0s}}}}
    workloads:
      w: {{arrival: {{burst: {count}}}, steps: [{{run: {{image: "alpine:3.24", duration: {D}s, network: host}}}}]}}
    """)
    assert all(job.status == "completed" for job in result.jobs)
    return sorted(job.duration_s for job in result.jobs), sorted(span.end for span in result.spans_of("process"))


def test_idle_the_run_returns_the_exits_cost_after_the_process_ends() -> None:
    # one job: the process ends at D, the exit takes E = 30 ms whatever its share (idle): the run returns at D + E
    for share in (0.0, 0.5, 1.0, 1.5):
        ends, processes = run_ends(1, 2, "30ms", share)
        assert processes == pytest.approx([D])
        assert ends == pytest.approx([D + 0.030])


def test_by_default_an_exit_costs_nothing() -> None:
    result = run_text("""
    name: t
    hosts: {h: {preloaded: ["alpine:3.24"]}}
    workloads:
      w: {arrival: {burst: 1}, steps: [{run: {image: "alpine:3.24", duration: 1s, network: host}}]}
    """)
    [job] = result.jobs
    [process] = result.spans_of("process")
    assert job.duration_s == pytest.approx(process.end)


@pytest.mark.parametrize(("count", "share"), [(4, 1.0), (4, 2.0), (6, 1.5), (3, 0.5)])
def test_exits_at_once_share_the_cores(count: int, share: float) -> None:
    # n exits at once on 2 cores, each E s CPU-seconds at most max(1, s) cores: processor sharing ends them together
    # at max(E s / max(1, s), n E s / 2), then (s < 1) each waits its E (1 - s): D + that
    e = 0.100
    cpu = e * share
    busy = max(cpu / max(1.0, share), count * cpu / 2)
    ends, _ = run_ends(count, 2, "100ms", share)
    assert ends == pytest.approx([D + busy + max(0.0, e - cpu)] * count)


def test_the_exit_is_a_span_from_the_process_end_to_the_report() -> None:
    result = run_text(f"""
    name: t
    hosts:
      h: {{preloaded: ["alpine:3.24"], runtime: {{exit: 30ms}}}}
    workloads:
      w: {{arrival: {{burst: 1}}, steps: [{{run: {{image: "alpine:3.24", duration: {D}s, network: host}}}}]}}
    """)
    [process], [exit_span] = result.spans_of("process"), result.spans_of("exit")
    assert (exit_span.start, exit_span.end) == pytest.approx((process.end, process.end + 0.030))
    assert not run_text("""
    name: t
    hosts: {h: {preloaded: ["alpine:3.24"]}}
    workloads:
      w: {arrival: {burst: 1}, steps: [{run: {image: "alpine:3.24", duration: 1s}}]}
    """).spans_of("exit")


@settings(max_examples=30, deadline=None)
@given(costs=st.lists(st.integers(0, 200), min_size=5, max_size=5),
       shares=st.lists(st.sampled_from([0.0, 0.37, 1.0, 1.06, 1.5, 4.0]), min_size=5, max_size=5))
def test_idle_every_step_takes_its_cost_whatever_its_share(costs: list[int], shares: list[float]) -> None:
    # one run alone on 4 cores (host network, no endpoint rule): two API calls of 2 ms, then create, mount, runc
    # create, runc start, the process (D), the exit, each exactly its cost in ms, whatever share of it is CPU
    # (below 1: that CPU then a wait; above 1: all CPU on that many cores)
    create, mount, start, run_start, exit_cost = costs
    cpu = dict(zip(("create", "mount", "start", "exec", "exit"), shares, strict=True))
    result = run_text(f"""
    name: t
    hosts:
      h: {{cpus: 4, preloaded: ["alpine:3.24"], networking: {{endpoint_rules: 0}},
           runtime: {{create: {create}ms, mount: {mount}ms, start: {start}ms, exec: {run_start}ms,
                      exit: {exit_cost}ms, cpu: {cpu}}}}}
    workloads:
      w: {{arrival: {{burst: 1}}, steps: [{{run: {{image: "alpine:3.24", duration: {D}s, network: host}}}}]}}
    """)
    [job] = result.jobs
    assert job.duration_s == pytest.approx(0.004 + sum(costs) / 1000 + D)
