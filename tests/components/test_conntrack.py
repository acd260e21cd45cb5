"""Flushes of the host's conntrack table (components/networks.py, teardown.py) against closed forms worked out by
hand.

libnetwork flushes a bridge endpoint's address from the conntrack table when its external connectivity is programmed
at start and again when it is revoked at the exit, and a published udp port's entries ``udp_port_flushes`` times at
start. A flush is a netlink dump of the whole table: the kernel walks every bucket (B buckets of
``conntrack_bucket_scan`` b each) and dockerd parses every tracked connection (E entries of ``conntrack_entry_scan``
e each), all dockerd's CPU. An endpoint's own flush of an empty table is inside the calibrated ``runtime.netns`` and
the exit's costs, so what it adds is E e, at start and at the exit; a udp port's flushes are B b + E e each.

Every other cost is zero here but runc create (S = 100 ms, no CPU share) and the bridge rule's two processes, which
``networking.endpoint_rules: 0`` removes; a job is ``run`` of D = 10 s, then ``rm``, which waits for the exit's
teardown.
"""

from __future__ import annotations

import pytest

from tests.helpers import run_text

S, D = 0.100, 10.0
RUNTIME = "{create: 0s, mount: 0s, netns: 0s, start: 100ms, exec: 0s, cpu: {create: 0, start: 0}}"
QUIET = ("store_commit: 0s, endpoint_rules: 0, iface_return: 0s, veth_teardown: 0s, iptables_run: 0s, "
         "proxy_start: 0s, port_checks: 0, rule_delete_wait: 0s, port_release: 0s, iptables_per_rule: 0s")


def scenario(*, networking: str, run: str = "", cpus: int = 64, extra: str = "", network: str = "bridge") -> str:
    return f"""
    name: t
    hosts:
      h: {{cpus: {cpus}, daemon: {{api_service_time: 0s, workers: 1000, metadata_commit: 0s}},
           preloaded: ["nginx:1.25"], runtime: {RUNTIME}, networking: {{{QUIET}, {networking}}},
           networks: {{back: {{internal: true}}}}}}
    workloads:
      w: {{arrival: {{burst: 1}}, steps: [{{run: {{image: "nginx:1.25", duration: {D}s, network: {network}{run}}}}},
                                         {{rm: {{}}}}]}}
      {extra}
    """


def test_a_bridge_endpoints_flushes_walk_the_tracked_connections_at_start_and_exit() -> None:
    # E = 200,000 entries at e = 1 us: 0.2 s of dockerd's CPU after the namespace at start, and again before the
    # interface's return at the exit: start 0.2 + S, the job 0.2 + S + D + 0.2
    result = run_text(scenario(networking="conntrack_entries: 200000, conntrack_entry_scan: 1us"))
    [job] = result.jobs
    assert job.duration_s == pytest.approx(0.2 + S + D + 0.2)
    flushes = result.spans_of("conntrack")
    assert [(span.attrs["at"], span.duration, span.attrs["entries"]) for span in flushes] == [
        ("start", pytest.approx(0.2), 200_000), ("exit", pytest.approx(0.2), 200_000)]
    assert flushes[0].start == pytest.approx(0.0)
    assert flushes[1].start == pytest.approx(0.2 + S + D)


@pytest.mark.parametrize("network", ["host", "none", "back"])
def test_no_flush_without_a_bridge_endpoint_with_external_connectivity(network: str) -> None:
    # host and none have no bridge endpoint, an internal network no external connectivity: S + D, no flush
    result = run_text(scenario(networking="conntrack_entries: 200000, conntrack_entry_scan: 1us", network=network))
    [job] = result.jobs
    assert job.status == "completed", job.error
    assert job.duration_s == pytest.approx(S + D)
    assert not result.spans_of("conntrack")


def test_an_empty_table_costs_nothing_beyond_the_calibrated_steps() -> None:
    # E = 0: no flush work of the endpoint's own, so no span and no event (the walk of the buckets is in netns)
    result = run_text(scenario(networking="conntrack_entries: 0"))
    [job] = result.jobs
    assert job.duration_s == pytest.approx(S + D)
    assert not result.spans_of("conntrack")


def test_the_flush_shares_the_cpu_with_other_work() -> None:
    # one CPU; a CPU-bound container (30 s of CPU) arrives with the job and burns from S = 0.1 s (its own runc
    # create is a wait). The start's 0.2 s flush runs alone until 0.1 s, then at half rate: the other 0.1 s take
    # 0.2 s, so it ends at 0.3 s; the job's start S is a wait. The exit's flush at 0.3 + S + D finds the hog still
    # burning: 0.4 s
    hog = 'hog: {arrival: {burst: 1}, steps: [{run: {image: "nginx:1.25", network: host, cpu_time: 30s}}]}'
    result = run_text(scenario(networking="conntrack_entries: 200000, conntrack_entry_scan: 1us", cpus=1,
                               extra=hog))
    [job] = [job for job in result.jobs if job.workload == "w"]
    assert job.duration_s == pytest.approx(0.3 + S + D + 0.4)


def test_a_udp_ports_flushes_walk_the_buckets_and_the_entries() -> None:
    # a udp port's 4 flushes of B = 100,000 buckets at 100 ns (10 ms) and E = 50,000 entries at 1 us (50 ms): 0.24 s
    # of the ports' work, then the endpoint's own 50 ms; the exit flushes the endpoint's alone (50 ms)
    networking = ("conntrack_entries: 50000, conntrack_entry_scan: 1us, udp_port_flushes: 4, "
                  "conntrack_buckets: 100000, conntrack_bucket_scan: 100ns, proxies_per_port: 0")
    result = run_text(scenario(networking=networking, run=', ports: ["5353:53/udp"]'))
    [ports] = result.spans_of("iptables")
    assert ports.duration == pytest.approx(4 * (0.010 + 0.050))
    [job] = result.jobs
    assert job.duration_s == pytest.approx(0.24 + 0.05 + S + D + 0.05)
