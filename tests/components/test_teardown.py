"""The teardown of an exit (components/teardown.py) against closed forms worked out by hand.

Every runtime cost is zero but runc create (S = 100 ms, no CPU share); API calls and metadata commits take no
time. A job is ``run`` (its process runs D = 10 s, then exits) and ``rm``, which waits for the exit's
teardown: libnetwork's commits for the endpoint (h = (endpoint_commits + bridge_commits) x store_commit on a
bridge) on the store's FIFO lock, then the namespace's deletion (``netns_teardown`` t) under the kernel's rtnl
lock. n jobs at once: the starts queue h apart on the store (start k ends at (k - 1) h + S), so the exits
come h apart too, and the k-th teardown asks for the store when the one before has just let it go.
"""

from __future__ import annotations

import pytest

from tests.helpers import run_text

S, D = 0.100, 10.0
RUNTIME = "{create: 0s, mount: 0s, netns: 0s, start: 100ms, exec: 0s, cpu: {create: 0, start: 0}}"
H = 2 * 0.020  # endpoint_commits 1 + bridge_commits 1, 20 ms each


def job_ends(count: int, networking: str, network: str = "bridge") -> list[float]:
    result = run_text(f"""
    name: t
    hosts:
      h: {{cpus: 64, daemon: {{api_service_time: 0s, workers: 1000, metadata_commit: 0s}}, preloaded: ["nginx:1.25"],
           runtime: {RUNTIME}, networking: {networking}}}
    workloads:
      w: {{arrival: {{burst: {count}}}, steps: [{{run: {{image: "nginx:1.25", duration: {D}s, network: {network}}}}},
                                               {{rm: {{}}}}]}}
    """)
    assert all(job.status == "completed" for job in result.jobs)
    return sorted(job.duration_s for job in result.jobs)


def test_without_a_namespace_cost_rm_waits_for_the_endpoint_commits() -> None:
    # exit k at (k - 1) h + S + D; its commits hold the store h, which the exit before has just freed
    ends = job_ends(4, "{store_commit: 20ms, endpoint_commits: 1, bridge_commits: 1}")
    assert ends == pytest.approx([(k - 1) * H + S + D + H for k in range(1, 5)])


def test_n_namespace_deletions_through_the_rtnl_lock_take_n_t() -> None:
    # t = 100 ms >= h: teardown 1 takes rtnl at S + D + h and ends t later; each next one's commits end
    # before the lock is free again, so the k-th ends at S + D + h + k t: n exits take n t
    t = 0.100
    ends = job_ends(4, "{store_commit: 20ms, endpoint_commits: 1, bridge_commits: 1, netns_teardown: 100ms}")
    assert ends == pytest.approx([S + D + H + k * t for k in range(1, 5)])


def test_the_host_network_has_no_namespace_to_delete() -> None:
    # host: the endpoint's commits only (endpoint_commits x c = 20 ms a start and a teardown), netns_teardown
    # ignored: exit k at (k - 1) 20 ms + S + D, its rm 20 ms later
    ends = job_ends(3, "{store_commit: 20ms, endpoint_commits: 1, netns_teardown: 100ms}", network="host")
    assert ends == pytest.approx([(k - 1) * 0.020 + S + D + 0.020 for k in range(1, 4)])


def test_idle_defaults_a_warm_run_stays_568_ms_and_rm_waits_4_ms() -> None:
    # defaults: the run ends at Khan's 568 ms; its teardown holds the store for 2 commits of 2 ms (572 ms),
    # after the rm's API call (2 ms, 570 ms): the job ends at 572 ms
    result = run_text("""
    name: t
    hosts: {h: {preloaded: ["nginx:1.25"]}}
    workloads:
      w: {arrival: {burst: 1}, steps: [{run: {image: "nginx:1.25", duration: 0s}}, {rm: {}}]}
    """)
    [job] = result.jobs
    [process] = result.spans_of("process")
    assert process.start == pytest.approx(0.568)
    assert job.duration_s == pytest.approx(0.568 + 2 * 0.002)
