"""libnetwork's store lock on the start path (components/libnetwork_store.py) against closed forms worked out by
hand.

Every runtime cost is zero but runc create (S = 100 ms, no CPU share, no setkey hook) and the metadata commits
take no time, so a start is: queue for libnetwork's store (one per host) with each network's endpoint, then S.
A start's commits (``store_commit`` c each: ``endpoint_commits`` on every network and ``bridge_commits`` more on
a bridge one when the endpoint is created, ``sandbox_commits`` (default 1) for the sandbox's record,
``join_commits`` (2) when the endpoint joins it, ``bridge_join_commits`` (1) more on a bridge network) hold the
lock and are counted inside S (idle, a start takes exactly S), so n starts at once end at (k - 1) h + S for
k = 1..n, h the hold: FIFO, each waits for the k - 1 ahead of it.
"""

from __future__ import annotations

import pytest

from dsim.components.libnetwork_store import FifoLock
from tests.helpers import run_text, without_endpoint_rule, without_setkey_hook

S = 0.100
RUNTIME = "{create: 0s, mount: 0s, netns: 0s, start: 100ms, exec: 0s, cpu: {create: 0, start: 0}}"


def start_ends(steps: str, *, count: int, networking: str, networks: str = "{}", other: str = "") -> list[float]:
    """Ends of the starts of ``count`` jobs of ``steps`` at once (and of ``other``'s, a second workload)."""
    second = f"v: {{arrival: {{burst: {count}}}, steps: {other}}}" if other else ""
    result = run_text(f"""
    name: t
    hosts:
      h: {{cpus: 64, daemon: {{api_service_time: 0s, workers: 1000, metadata_commit: 0s}}, preloaded: ["nginx:1.25"],
           runtime: {RUNTIME}, networking: {without_setkey_hook(without_endpoint_rule(networking))},
           networks: {networks}}}
    workloads:
      w: {{arrival: {{burst: {count}}}, steps: {steps}}}
      {second}
    """)
    assert all(job.status == "completed" for job in result.jobs)
    return sorted(span.end for span in result.spans_of("start"))


def run(network: str) -> str:
    return f'[{{run: {{image: "nginx:1.25", detach: true, network: {network}}}}}]'


def test_the_lock_is_first_come_first_served() -> None:
    # n holders of c queue at once: the k-th waits (k - 1) c
    lock = FifoLock()
    assert [lock.hold(0.0, 0.02) for _ in range(4)] == pytest.approx([0.0, 0.02, 0.04, 0.06])
    # one arriving after the lock is free again waits nothing
    assert lock.hold(1.0, 0.02) == 0.0


def test_one_start_alone_takes_its_cost_the_commits_are_inside_it() -> None:
    # 1 + 1 endpoint, 1 sandbox, 2 + 1 join: 6 commits of 10 ms hold the store for 60 ms, inside runc create's
    # 100 ms: the start takes S
    assert start_ends(run("bridge"), count=1, networking="{store_commit: 10ms, bridge_commits: 1}") \
        == pytest.approx([S])


def test_a_storm_on_one_network_queues_k_minus_1_holds() -> None:
    # h = (endpoint_commits 1 + bridge_commits 1 + sandbox_commits 1 + join_commits 2 + bridge_join_commits 1)
    # x 10 ms = 60 ms; 5 starts: (k - 1) 60 ms + 100 ms
    ends = start_ends(run("bridge"), count=5, networking="{store_commit: 10ms, endpoint_commits: 1, bridge_commits: 1}")
    assert ends == pytest.approx([(k - 1) * 0.060 + S for k in range(1, 6)])


def test_networks_share_the_store() -> None:
    # 2 starts at once on network a and 2 on network b, holds of 20 ms (endpoint 1, sandbox 1, join 2: 4 commits
    # of 5 ms): one store, 4 in a row: 100 to 160 ms
    ends = start_ends(run("a"), other=run("b"), count=2, networks="{a: {}, b: {}}",
                      networking="{store_commit: 5ms, bridge_commits: 0, bridge_join_commits: 0}")
    assert ends == pytest.approx([S + k * 0.020 for k in range(4)])


def test_a_container_joining_anothers_namespace_creates_no_endpoint() -> None:
    # web starts first (a 100 ms hold: 5 commits), then 3 sidecars in container:web at once: no commits, no queueing,
    # each start takes S
    steps = '[{run: {image: "nginx:1.25", detach: true, network: "container:web"}}]'
    first = '[{run: {image: "nginx:1.25", detach: true, name: web}}, {sleep: 1s}]'
    result = run_text(f"""
    name: t
    hosts:
      h: {{cpus: 64, daemon: {{api_service_time: 0s, workers: 1000, metadata_commit: 0s}}, preloaded: ["nginx:1.25"],
           runtime: {RUNTIME},
           networking: {{store_commit: 20ms, bridge_commits: 0, setkey_hook: 0s, endpoint_rules: 0}}}}
    workloads:
      web: {{arrival: {{burst: 1}}, steps: {first}}}
      sidecars: {{arrival: {{burst: 3, at: 0.5s}}, steps: {steps}}}
    """)
    sidecars = sorted(s.duration for s in result.spans_of("start") if s.start >= 0.5)
    assert sidecars == pytest.approx([S] * 3)


def test_host_pays_only_libnetworks_own_commits_and_container_mode_none() -> None:
    # endpoint_commits 1, bridge_commits 2, c = 10 ms: host's hold is libnetwork's own commits, endpoint 1 +
    # sandbox 1 + join 2 = 40 ms; the bridge's adds its driver's 2 + 1 (connectivity): 70 ms
    networking = "{store_commit: 10ms, endpoint_commits: 1, bridge_commits: 2}"
    assert start_ends(run("host"), count=4, networking=networking) \
        == pytest.approx([(k - 1) * 0.040 + S for k in range(1, 5)])
    assert start_ends(run("bridge"), count=4, networking=networking) \
        == pytest.approx([(k - 1) * 0.070 + S for k in range(1, 5)])
    # with no commits of its own the host network's lock is never held: every host start takes S
    assert start_ends(run("host"), count=4,
                      networking="{store_commit: 10ms, endpoint_commits: 0, sandbox_commits: 0, join_commits: 0}") \
        == pytest.approx([S] * 4)


def test_a_hold_is_at_most_the_wait_of_runc_create_it_is_counted_in() -> None:
    # 7 commits of 50 ms (350 ms: endpoint 1 + bridge 2 + sandbox 1 + join 2 + 1) against runc create's 100 ms
    # (no CPU share): holds of 100 ms
    ends = start_ends(run("bridge"), count=3, networking="{store_commit: 50ms, bridge_commits: 2}")
    assert ends == pytest.approx([(k - 1) * 0.100 + S for k in range(1, 4)])


def test_iptables_cost_is_the_sum_over_a_growing_table() -> None:
    """One container publishing p = 4 ports, 3 rules each, on a table of R0 = 20 rules: rule i (0..11) is checked
    and appended, two processes of 0.5 ms, and costs per_rule (R0 + i) more, so the 12 take 12 x 1 ms + 0.1 ms x
    (12 x 20 + 11 x 12 / 2) = 12 + 30.6 = 42.6 ms (no checks of the ports' own, no docker-proxy)."""
    networking = ("{iptables_run: 0.5ms, iptables_per_rule: 100us, base_rules: 20, store_commit: 0s, "
                  "rules_per_port: 3, port_checks: 0, proxies_per_port: 0}")
    ports = ", ".join(f'"{8000 + i}:80"' for i in range(4))
    result = run_text(f"""
    name: t
    hosts:
      h: {{cpus: 4, daemon: {{api_service_time: 0s}}, preloaded: ["nginx:1.25"], runtime: {RUNTIME},
           networking: {without_setkey_hook(without_endpoint_rule(networking))}}}
    workloads:
      w: {{arrival: {{burst: 1}}, steps: [{{run: {{image: "nginx:1.25", detach: true, ports: [{ports}]}}}}]}}
    """)
    [rules] = result.spans_of("iptables")
    assert rules.duration == pytest.approx(0.0426)
    assert rules.attrs["table"] == 32
