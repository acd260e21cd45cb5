"""Runc's libnetwork-setkey hook (``networking.setkey_hook``, docs/networks-storage.md: Measuring the setkey
hook) against closed forms worked out by hand.

A container with a network namespace of its own (bridge, none, user networks) runs the hook inside runc create
(``runtime.start`` counts it); one on the host's namespace or another container's does not, so its runc create
is the hook shorter. The hook's CPU share (``runtime.cpu.setkey_hook``, default 1) runs on the host's
processor-sharing scheduler.
"""

from __future__ import annotations

import pytest

from tests.helpers import run_text

#: every cost zero but runc create (S), no CPU share but the hook's, no locks held; a Docker before 28, which has the
#: hook and no endpoint rule (``endpoint_rules: 0``)
S, HOOK = 0.300, 0.100
RUNTIME = "{create: 0s, mount: 0s, netns: 0s, start: 300ms, exec: 0s, cpu: {create: 0, start: 0}}"
QUIET = "daemon: {api_service_time: 0s, metadata_commit: 0s}"


def start_ends(network: str, count: int, cpus: int, hook_share: float = 1.0) -> list[float]:
    runtime = RUNTIME.replace("start: 0}", f"start: 0, setkey_hook: {hook_share}}}")
    result = run_text(f"""
    name: t
    hosts:
      h: {{cpus: {cpus}, {QUIET}, preloaded: [nginx], runtime: {runtime},
           networking: {{setkey_hook: {HOOK}s, store_commit: 0s, endpoint_rules: 0}}}}
    workloads:
      w: {{arrival: {{burst: {count}}}, steps: [{{run: {{image: nginx, detach: true, network: {network}}}}}]}}
    """)
    assert all(job.status == "completed" for job in result.jobs)
    return sorted(span.end for span in result.spans_of("start"))


def test_an_idle_start_on_the_host_network_is_the_hook_shorter() -> None:
    # bridge and none: runc create's own S - HOOK, then the hook: S; host: S - HOOK
    assert start_ends("bridge", 1, cpus=4) == pytest.approx([S])
    assert start_ends("none", 1, cpus=4) == pytest.approx([S])
    assert start_ends("host", 1, cpus=4) == pytest.approx([S - HOOK])


@pytest.mark.parametrize(("count", "cpus"), [(4, 1), (8, 2), (3, 4)])
def test_hooks_at_once_share_the_cores(count: int, cpus: int) -> None:
    # n hooks of HOOK CPU-seconds start together after S - HOOK of waiting; on c cores each gets min(1, c/n) of
    # a core, so all end together at S - HOOK + max(HOOK, n HOOK / c)
    expected = S - HOOK + max(HOOK, count * HOOK / cpus)
    assert start_ends("bridge", count, cpus) == pytest.approx([expected] * count)
    # on the host network there is no hook, so no CPU work at all: every start takes S - HOOK
    assert start_ends("host", count, cpus) == pytest.approx([S - HOOK] * count)


def test_a_hook_without_cpu_is_a_plain_wait() -> None:
    # share 0: 4 hooks on 1 core do not share it: each start takes S
    assert start_ends("bridge", 4, cpus=1, hook_share=0.0) == pytest.approx([S] * 4)


def test_joining_another_containers_namespace_runs_no_hook() -> None:
    result = run_text(f"""
    name: t
    hosts:
      h: {{cpus: 4, {QUIET}, preloaded: [nginx], runtime: {RUNTIME},
           networking: {{setkey_hook: {HOOK}s, store_commit: 0s, endpoint_rules: 0}}}}
    workloads:
      w:
        arrival: {{burst: 1}}
        steps:
          - run: {{image: nginx, detach: true, name: web}}
          - run: {{image: nginx, detach: true, network: "container:web"}}
    """)
    assert sorted(span.duration for span in result.spans_of("start")) == pytest.approx([S - HOOK, S])
