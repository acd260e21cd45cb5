"""What network modes cost at start (components/networks.py), against closed forms worked out by hand."""

from __future__ import annotations

import pytest

from tests.helpers import run_text, without_endpoint_rule

#: every runtime cost zero but the netns (10 ms), so the network's part of a start is all there is (Docker 28's rule
#: per bridge endpoint left out: tests/components/test_endpoint_rules.py)
RUNTIME = "{create: 0s, mount: 0s, netns: 10ms, start: 0s, exec: 0s}"


def scenario(steps: str, *, networking: str = "{}", count: int = 1) -> str:
    return f"""
    name: t
    hosts:
      h: {{cpus: 64, daemon: {{api_service_time: 0s, workers: 1000}}, preloaded: ["nginx:1.25"],
           runtime: {RUNTIME}, networking: {without_endpoint_rule(networking)}}}
    workloads:
      w: {{arrival: {{burst: {count}}}, steps: {steps}}}
    """


@pytest.mark.parametrize(("mode", "netns"), [("bridge", 0.010), ("none", 0.005), ("host", None)])
def test_bridge_pays_the_namespace_and_veth_none_the_namespace_host_nothing(mode: str, netns: float | None) -> None:
    """bridge: runtime.netns (10 ms); none: namespace_share (0.5) of it, 5 ms; host: no namespace at all."""
    result = run_text(scenario(f'[{{run: {{image: "nginx:1.25", network: {mode}, duration: 1s}}}}]'))
    spans = result.spans_of("netns")
    if netns is None:
        assert spans == []
    else:
        [span] = spans
        assert span.duration == pytest.approx(netns)
    [start] = result.spans_of("start")
    assert start.duration == pytest.approx(netns or 0.0)


def test_each_published_port_costs_more_the_longer_the_iptables_table() -> None:
    """One rule per port at 1 ms a call plus 1 ms per rule already there, no rules at first: the k-th rule
    ever inserted costs 1 + (k-1) ms. Three containers one after another, one port each: 1, 2, 3 ms."""
    networking = "{iptables_call: 1ms, iptables_per_rule: 1ms, rules_per_port: 1, base_rules: 0}"
    steps = "[" + ", ".join(f'{{run: {{image: "nginx:1.25", detach: true, ports: ["{8000 + i}:80"]}}}}'
                            for i in range(3)) + "]"
    result = run_text(scenario(steps, networking=networking))
    rules = sorted(result.spans_of("iptables"), key=lambda s: s.start)
    assert [round(s.duration, 9) for s in rules] == [0.001, 0.002, 0.003]
    assert [s.attrs["table"] for s in rules] == [1, 2, 3]


def test_a_start_storm_on_bridge_queues_on_the_xtables_lock_and_host_does_not() -> None:
    """n = 10 containers start at once, each publishing one port (3 rules of 2 ms, per_rule 0, so 6 ms a
    container) after its 10 ms netns under the rtnl lock. The netns lock hands one out every 10 ms, slower
    than the 6 ms of iptables, so the xtables lock never queues: container i (1..n) finishes at 10 i + 6 ms,
    the last at 106 ms. On host: no lock and no cost, every start takes 0 s."""
    networking = "{iptables_call: 2ms, iptables_per_rule: 0s, base_rules: 0}"
    bridge = run_text(scenario('[{run: {image: "nginx:1.25", detach: true, ports: ["80"]}}]',
                               networking=networking, count=10))
    ends = sorted(s.end for s in bridge.spans_of("start"))
    assert ends == pytest.approx([0.010 * i + 0.006 for i in range(1, 11)])
    host = run_text(scenario('[{run: {image: "nginx:1.25", detach: true, network: host, ports: ["80"]}}]',
                             networking=networking, count=10))
    assert max(s.end for s in host.spans_of("start")) == 0.0
    assert host.spans_of("iptables") == []


def test_iptables_dominates_when_its_calls_outlast_the_netns() -> None:
    """Now 3 rules of 10 ms a container (30 ms) after the 10 ms netns: the xtables lock is the bottleneck.
    It is first asked at 10 ms and from then on always has a rule waiting (a new container reaches it every
    10 ms, each rule takes 10 ms), so it works without a gap: the n = 5 containers' 15 rules end at
    10 + 15 x 10 = 160 ms. Each rule takes the lock on its own, so containers' rules interleave (FIFO) and
    none finishes before its own 30 ms: the first no sooner than 40 ms. Linear in containers x ports."""
    networking = "{iptables_call: 10ms, iptables_per_rule: 0s, base_rules: 0}"
    result = run_text(scenario('[{run: {image: "nginx:1.25", detach: true, ports: ["80"]}}]',
                               networking=networking, count=5))
    ends = sorted(s.end for s in result.spans_of("start"))
    assert ends[-1] == pytest.approx(0.160)
    assert ends[0] >= 0.040 - 1e-12
