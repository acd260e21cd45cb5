"""Docker 28's iptables rule per bridge endpoint (``networking.endpoint_rules``, components/networks.py and
teardown.py) against closed forms worked out by hand.

Every runtime cost is zero but runc create (S = 100 ms, no CPU share); API calls and commits take no time. With
``endpoint_rules: 1`` a start on a bridge network that is not internal checks and appends the rule: two ``iptables``
processes of ``iptables_run`` r CPU each, on dockerd's cgroup, recorded as an ``iptables`` span of ``rules`` 1,
before runc create, which counts one endpoint's rule (``runtime.start`` is Khan's measured total): runc create
takes S - 2 r after it. ``host``, ``none`` and an internal network keep no rule, so their starts are 2 r
shorter; without the rule (``endpoint_rules: 0``) runc create takes S.
"""

from __future__ import annotations

import pytest

from dsim.result import SimResult
from tests.helpers import run_text

S = 0.100
RUNTIME = "{create: 0s, mount: 0s, netns: 0s, start: 100ms, exec: 0s, cpu: {create: 0, start: 0}}"


def one_run(network: str, *, cpus: int = 4, rules: int = 1, hog: bool = False) -> SimResult:
    """One run on ``network`` (a process of 1 s); with ``hog``, a CPU-bound container started first."""
    hog_workload = ('h0: {arrival: {burst: 1}, steps: [{run: {image: "nginx:1.25", network: host, '
                    'cpu_time: 100s, threads: 1}}]}') if hog else ""
    arrival = "{burst: 1, at: 1s}" if hog else "{burst: 1}"
    return run_text(f"""
    name: t
    hosts:
      h: {{cpus: {cpus}, daemon: {{api_service_time: 0s, metadata_commit: 0s}}, preloaded: ["nginx:1.25"],
           runtime: {RUNTIME}, networks: {{inner: {{internal: true}}, outer: {{}}}},
           networking: {{store_commit: 0s, endpoint_rules: {rules}, iptables_run: 10ms}}}}
    workloads:
      w: {{arrival: {arrival}, steps: [{{run: {{image: "nginx:1.25", network: {network}, duration: 1s}}}}]}}
      {hog_workload}
    """)


@pytest.mark.parametrize("network", ["bridge", "outer"])
def test_a_bridge_start_checks_and_appends_its_rule_before_runc_create(network: str) -> None:
    # idle: the rule's two processes take 2 r = 20 ms, then runc create S - 2 r: the process starts at S
    result = one_run(network)
    [rule] = result.spans_of("iptables")
    assert rule.attrs["rules"] == 1
    assert rule.end - rule.start == pytest.approx(0.020)
    [runc] = result.spans_of("runc")
    assert runc.start == pytest.approx(rule.end)
    [process] = result.spans_of("process")
    assert process.start == pytest.approx(S)


@pytest.mark.parametrize("network", ["host", "none", "inner"])
def test_host_none_and_internal_networks_keep_no_rule(network: str) -> None:
    result = one_run(network)
    assert result.spans_of("iptables") == []
    [process] = result.spans_of("process")
    assert process.start == pytest.approx(S - 0.020)


def test_without_the_rule_a_bridge_start_pays_nothing_for_it() -> None:
    result = one_run("bridge", rules=0)
    assert result.spans_of("iptables") == []
    [process] = result.spans_of("process")
    assert process.start == pytest.approx(S)


def test_the_rules_processes_are_dockerds_cpu_beside_a_hog() -> None:
    # one core, a CPU-bound container (its own cgroup) running since 0; at 1 s the rule's 20 ms of CPU run in
    # dockerd's cgroup beside it: two groups of equal weight, half the core each, so the rule takes 40 ms, then
    # runc create's S - 20 ms (no CPU): the process starts at 1 + 0.040 + S - 0.020
    result = one_run("bridge", cpus=1, hog=True)
    rule = next(span for span in result.spans_of("iptables") if span.start >= 1.0)
    assert rule.end - rule.start == pytest.approx(0.040)
    process = next(span for span in result.spans_of("process") if span.start >= 1.0)
    assert process.start == pytest.approx(1.0 + 0.040 + S - 0.020)
