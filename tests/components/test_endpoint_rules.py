"""Docker 28's iptables rule per bridge endpoint (``networking.endpoint_rules``, components/networks.py and
teardown.py) against closed forms worked out by hand.

Every runtime cost is zero but runc create (S = 100 ms, no CPU share); API calls and commits take no time. With
``endpoint_rules: 1`` a start on a bridge network that is not internal checks and appends the rule: two ``iptables``
processes of ``iptables_run`` r CPU each. ``runtime.start`` (Khan's measured total) counts one endpoint's, so runc
create runs them: its step has at least their 2 r of CPU, and takes S. A second bridge network's rule runs
before runc create on dockerd's cgroup, recorded as an ``iptables`` span of ``rules`` 1. ``host``, ``none`` and
an internal network keep no rule, so their runc create is 2 r shorter; without the rule (``endpoint_rules: 0``)
runc create takes S, none of it CPU.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dsim.api import load_scenario, simulate
from dsim.result import SimResult
from tests.compose.helpers import write
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
def test_one_bridge_endpoints_rule_is_run_inside_runc_create(network: str) -> None:
    # idle: runc create takes S, 2 r = 20 ms of it the rule's CPU; no span of its own
    result = one_run(network)
    assert result.spans_of("iptables") == []
    [runc] = result.spans_of("runc")
    assert runc.end - runc.start == pytest.approx(S)
    [process] = result.spans_of("process")
    assert process.start == pytest.approx(S)


def test_a_second_bridge_endpoints_rule_runs_before_runc_create(tmp_path: Path) -> None:
    # a compose service on two bridge networks (tests/compose/helpers.py: runc create 454 ms, no CPU share): the
    # second endpoint's rule, 2 r = 20 ms, then runc create (its 454 ms with the first endpoint's rule inside)
    path = write(tmp_path, """
        services:
          app: {image: nginx:1.25, networks: [front, back]}
        networks: {front: {}, back: {}}
    """)
    path.write_text(path.read_text().replace("endpoint_rules: 0", "endpoint_rules: 1, iptables_run: 10ms"))
    result = simulate(load_scenario(path))
    [rule] = [span for span in result.spans_of("iptables") if span.subject == "app-app-1"]  # not the networks'
    assert rule.attrs["rules"] == 1 and rule.end - rule.start == pytest.approx(0.020)
    [runc] = result.spans_of("runc")
    assert runc.start == pytest.approx(rule.end) and runc.end - runc.start == pytest.approx(0.454)


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


def test_the_rules_processes_are_cpu_beside_a_hog() -> None:
    # one core, a CPU-bound container (its own cgroup) running since 0; at 1 s runc create's 20 ms of CPU (the
    # rule's) run beside it: two groups of equal weight, half the core each, so they take 40 ms, then the rest of
    # runc create, S - 20 ms, waits: the process starts at 1 + 0.040 + S - 0.020
    result = one_run("bridge", cpus=1, hog=True)
    runc = next(span for span in result.spans_of("runc") if span.start >= 1.0)
    assert runc.end - runc.start == pytest.approx(0.040 + S - 0.020)
    process = next(span for span in result.spans_of("process") if span.start >= 1.0)
    assert process.start == pytest.approx(1.0 + 0.040 + S - 0.020)
