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
    """One rule per port, checked and appended (two processes of 0.5 ms) plus 1 ms per rule already there, no
    rules at first, no checks of the port's own, no proxy: the k-th rule ever inserted costs 1 + (k-1) ms. Three
    containers one after another, one port each: 1, 2, 3 ms."""
    networking = ("{iptables_run: 0.5ms, iptables_per_rule: 1ms, rules_per_port: 1, port_checks: 0, "
                  "proxies_per_port: 0, base_rules: 0}")
    steps = "[" + ", ".join(f'{{run: {{image: "nginx:1.25", detach: true, ports: ["{8000 + i}:80"]}}}}'
                            for i in range(3)) + "]"
    result = run_text(scenario(steps, networking=networking))
    rules = sorted(result.spans_of("iptables"), key=lambda s: s.start)
    assert [round(s.duration, 9) for s in rules] == [0.001, 0.002, 0.003]
    assert [s.attrs["table"] for s in rules] == [1, 2, 3]


#: one published port: 3 rules checked and appended (6 iptables processes), no checks of its own, no docker-proxy
#: (Docker 17 without the userland proxy), none of dockerd's own work, no growth with the table
PORT = "rules_per_port: 3, port_checks: 0, proxies_per_port: 0, iptables_per_rule: 0s, base_rules: 0"


def test_a_start_storm_on_bridge_queues_on_the_rtnl_lock_and_host_does_not() -> None:
    """n = 10 containers start at once, each publishing one port (6 processes of 1 ms: 6 ms a container) after
    its 10 ms netns under the rtnl lock. The netns lock hands one out every 10 ms, slower than the 6 ms of the
    port, so the ports' lock never queues: container i (1..n) finishes at 10 i + 6 ms, the last at 106 ms. On
    host: no lock and no cost, every start takes 0 s."""
    networking = f"{{iptables_run: 1ms, {PORT}}}"
    bridge = run_text(scenario('[{run: {image: "nginx:1.25", detach: true, ports: ["80"]}}]',
                               networking=networking, count=10))
    ends = sorted(s.end for s in bridge.spans_of("start"))
    assert ends == pytest.approx([0.010 * i + 0.006 for i in range(1, 11)])
    host = run_text(scenario('[{run: {image: "nginx:1.25", detach: true, network: host, ports: ["80"]}}]',
                             networking=networking, count=10))
    assert max(s.end for s in host.spans_of("start")) == 0.0
    assert host.spans_of("iptables") == []


def test_the_ports_dominate_when_they_outlast_the_netns() -> None:
    """Now 6 processes of 5 ms a container (30 ms) after the 10 ms netns: the ports' lock, one container's ports
    at a time, is the bottleneck. It is first asked at 10 ms and from then on always has a container waiting (a
    new one reaches it every 10 ms, each holds it 30 ms), so it works without a gap: the k-th of n = 5 ends at
    10 + 30 k ms, the last at 160 ms. Linear in containers x ports."""
    networking = f"{{iptables_run: 5ms, {PORT}}}"
    result = run_text(scenario('[{run: {image: "nginx:1.25", detach: true, ports: ["80"]}}]',
                               networking=networking, count=5))
    ends = sorted(s.end for s in result.spans_of("start"))
    assert ends == pytest.approx([0.010 + 0.030 * k for k in range(1, 6)])
