"""The teardown of an exit (components/teardown.py) against closed forms worked out by hand. Every runtime cost is zero
but runc create (S = 100 ms, no CPU share, no setkey hook); API calls and metadata commits take no time. A job is
``run`` (its process runs D = 10 s, then exits) and ``rm``, which waits for the exit's teardown: libnetwork's commits
on the store's FIFO lock, the endpoint's leave (``leave_commits`` 1, and ``bridge_join_commits`` 1 on a bridge) and
deletion (``endpoint_commits`` + ``bridge_commits``), then the sandbox's record (``sandbox_commits`` 1): h_t commits
of ``store_commit`` c; then under the kernel's rtnl lock a bridge endpoint's interface moved back to the host's
namespace (``iface_return`` I) and the namespace's deletion (``netns_teardown`` t); on a bridge Docker 28's rule
(``endpoint_rules`` 1) checked and deleted, two ``iptables`` processes of ``iptables_run`` r (a wait at the exit),
then the deletion's commit (``rule_delete_wait`` R), one at a time on the host (RULE = 2 r + R alone); then on a
bridge the veth pair's deletion (``veth_teardown`` V), one at a time on the host (the bridge driver's one netlink
handle; its part under the rtnl lock, ``veth_rtnl``, 0 in ``NETWORKING``). A start holds the store h_s: the
endpoint's creation, the sandbox's record and the join (``join_commits`` 2, ``bridge_join_commits`` 1 on a bridge); on
a bridge runc create checks and appends the rule (at least 2 r of its CPU: S stays S; a host or none start is 2 r
shorter). n jobs at once: the starts queue h_s apart on the store (start k ends at (k - 1) h_s + S), so the exits come
h_s apart too; with h_t <= h_s the k-th teardown finds the store free.
"""

from __future__ import annotations

import pytest

from dsim.domain.networking import IFACE_RETURN_S as I  # noqa: E741 (the docstring's name)
from dsim.domain.networking import IPTABLES_RUN_S, RULE_DELETE_WAIT_S
from dsim.domain.networking import VETH_TEARDOWN_S as V
from tests.helpers import run_text, without_setkey_hook

S, D = 0.100, 10.0
RUNTIME = "{create: 0s, mount: 0s, netns: 0s, start: 100ms, exec: 0s, cpu: {create: 0, start: 0}}"
#: endpoint_commits 1 + bridge_commits 1 at 10 ms each, on a bridge: a start holds the store for 2 + 1 (sandbox)
#: + 3 (join) commits, a teardown for 2 (leave) + 2 (the endpoint's deletion) + 1 (sandbox) commits
NETWORKING = "store_commit: 10ms, endpoint_commits: 1, bridge_commits: 1, veth_rtnl: 0s"
H_S, H_T = 6 * 0.010, 5 * 0.010
R2 = 2 * IPTABLES_RUN_S
RULE = R2 + RULE_DELETE_WAIT_S


def job_ends(count: int, networking: str, network: str = "bridge") -> list[float]:
    result = run_text(f"""
    name: t
    hosts:
      h: {{cpus: 64, daemon: {{api_service_time: 0s, workers: 1000, metadata_commit: 0s}}, preloaded: ["nginx:1.25"],
           runtime: {RUNTIME}, networking: {without_setkey_hook(networking)}}}
    workloads:
      w: {{arrival: {{burst: {count}}}, steps: [{{run: {{image: "nginx:1.25", duration: {D}s, network: {network}}}}},
                                               {{rm: {{}}}}]}}
    """)
    assert all(job.status == "completed" for job in result.jobs)
    return sorted(job.duration_s for job in result.jobs)


def test_without_a_namespace_cost_rm_waits_for_the_endpoint_commits() -> None:
    # exit k at (k - 1) h_s + S + D; its commits hold the store h_t (50 ms), which the exit before (h_s = 60 ms
    # earlier) has freed; then its interface's return under the rtnl lock, I (17 ms: free again 60 ms later); its
    # rule, RULE (its deletion's lock free again too); then its veth pair's deletion, V
    ends = job_ends(4, f"{{{NETWORKING}}}")
    assert ends == pytest.approx([(k - 1) * H_S + S + D + H_T + I + RULE + V for k in range(1, 5)])


def test_n_namespace_deletions_through_the_rtnl_lock_take_n_t() -> None:
    # each teardown holds rtnl for I + t = 117 ms >= h_s: teardown 1 takes it at S + D + h_t and ends I + t later,
    # then deletes its veth pair (V); each next one's commits end ((k - 1) h_s later) before the lock is free again,
    # so the k-th leaves the lock at S + D + h_t + k (I + t) and ends RULE + V later: n exits take n (I + t)
    t = 0.100
    ends = job_ends(4, f"{{{NETWORKING}, netns_teardown: 100ms}}")
    assert ends == pytest.approx([S + D + H_T + k * (I + t) + RULE + V for k in range(1, 5)])


def test_docker_28s_rule_deletions_pass_one_at_a_time() -> None:
    # endpoint_rules 1, r = 1 ms, R = 50 ms; no commits, interface return or veth (0): every start ends at S (its
    # rule checked and appended inside runc create), every exit at S + D; each teardown checks and deletes (2 r,
    # side by side), then the deletions' commits pass one at a time: the k-th ends at S + D + 2 r + k R
    r, big_r = 0.001, 0.050
    ends = job_ends(4, "{store_commit: 0s, iface_return: 0s, veth_teardown: 0s, endpoint_rules: 1, "
                       "iptables_run: 1ms, rule_delete_wait: 50ms}")
    assert ends == pytest.approx([S + D + 2 * r + k * big_r for k in range(1, 5)])


def test_veth_deletions_pass_one_at_a_time_through_the_drivers_netlink_handle() -> None:
    # only the veth pair's deletion costs (V = 50 ms): every start ends at S, every exit at S + D, and the
    # deletions go through the bridge driver's one handle in turn: the k-th ends at S + D + k V
    big_v = 0.050
    ends = job_ends(4, "{store_commit: 0s, iface_return: 0s, endpoint_rules: 0, veth_teardown: 50ms}")
    assert ends == pytest.approx([S + D + k * big_v for k in range(1, 5)])


def test_host_and_none_keep_no_rule_and_return_no_interface() -> None:
    # the rule and the interface are a bridge endpoint's: on host and none the teardown is the commits alone, as
    # without them (host: 3 commits; none: leave 1 + endpoint 1 + sandbox 1, with endpoint_commits 1); their starts
    # make no rule, so runc create is the one it counts (2 r) shorter
    costs = "store_commit: 10ms, endpoint_commits: 1, endpoint_rules: 1, rule_delete_wait: 1s, iface_return: 1s"
    for network in ("host", "none"):
        ends = job_ends(1, f"{{{costs}}}", network=network)
        assert ends == pytest.approx([S - R2 + D + 3 * 0.010])


def test_the_host_network_has_no_namespace_to_delete() -> None:
    # host: libnetwork's own commits only, c = 20 ms: a start holds endpoint 1 + sandbox 1 + join 2 = 80 ms, a
    # teardown leave 1 + endpoint 1 + sandbox 1 = 60 ms; netns_teardown ignored: exit k at (k - 1) 80 ms + S + D,
    # its rm 60 ms later; runc create is the bridge endpoint's rule it counts (2 r) shorter on host
    ends = job_ends(3, "{store_commit: 20ms, endpoint_commits: 1, netns_teardown: 100ms}", network="host")
    assert ends == pytest.approx([(k - 1) * 0.080 + S - R2 + D + 0.060 for k in range(1, 4)])


def test_idle_defaults_a_warm_run_stays_568_ms_and_rm_waits_its_teardown() -> None:
    # defaults: the run ends at Khan's 568 ms; its teardown holds the store for 5 commits of 2 ms (leave 1 +
    # connectivity revoked 1, the endpoint's deletion 1 + the bridge driver's 1, the sandbox's record 1: 578 ms),
    # then returns the interface (17 ms), checks and deletes the rule (3 + 12.4 ms) and deletes the veth pair
    # (19.5 ms), after the rm's API call (2 ms, 570 ms): the job ends at 629.9 ms
    result = run_text("""
    name: t
    hosts: {h: {preloaded: ["nginx:1.25"]}}
    workloads:
      w: {arrival: {burst: 1}, steps: [{run: {image: "nginx:1.25", duration: 0s}}, {rm: {}}]}
    """)
    [job] = result.jobs
    [process] = result.spans_of("process")
    assert process.start == pytest.approx(0.568)
    assert job.duration_s == pytest.approx(0.568 + 5 * 0.002 + 0.017 + 0.003 + 0.0124 + 0.0195)


def test_a_bridge_start_waits_for_the_handle_an_exits_veth_deletion_holds() -> None:
    # runtime costs 0 but netns N = 20 ms (its veth's part (1 - 0.5) N = 10 ms goes through the bridge driver's
    # handle first); API calls, commits, the interface's return and the rule 0; V = 100 ms. A arrives at 0: its
    # veth 0-10 ms (the handle free), its netns step 0-20 ms under rtnl, its process 20 ms to 1.02 s, its veth pair
    # deleted through the handle 1.02-1.12 s. B arrives at 1.05 s: its veth's creation queues for the handle until
    # 1.12 s, then its netns step takes 20 ms: its process starts at 1.14 s (1.07 s were the handle not shared)
    networking = without_setkey_hook("{store_commit: 0s, iface_return: 0s, endpoint_rules: 0, veth_teardown: 100ms}")
    result = run_text(f"""
    name: t
    hosts:
      h: {{cpus: 64, daemon: {{api_service_time: 0s, workers: 1000, metadata_commit: 0s}}, preloaded: ["nginx:1.25"],
           runtime: {{create: 0s, mount: 0s, netns: 20ms, start: 0s, exec: 0s, cpu: {{create: 0, start: 0}}}},
           networking: {networking}}}
    workloads:
      w: {{arrival: {{times: [0s, 1.05s]}}, steps: [{{run: {{image: "nginx:1.25", duration: 1s}}}}, {{rm: {{}}}}]}}
    """)
    starts = sorted(span.start for span in result.spans_of("process"))
    assert starts == pytest.approx([0.020, 1.140])


def test_a_veth_deletion_waits_for_the_rtnl_lock_with_the_handle_held() -> None:
    # two exits at once (at S + D); each returns its interface under rtnl (I' = 50 ms), then deletes its veth pair
    # (V' = 30 ms) through the handle, holding rtnl for the first r' = 10 ms of it; no commits, no rule. A: rtnl
    # 0-50 ms, the handle at 50, rtnl again behind B's return (50-100): 100-110, then 20 ms: ends at 130 ms. B:
    # rtnl 50-100, the handle free at 130 (A's), rtnl free: 130-140, ends at 160 ms (without the rtnl part in
    # the handle: 80 and 130)
    ends = job_ends(2, "{store_commit: 0s, endpoint_rules: 0, iface_return: 50ms, veth_teardown: 30ms, "
                       "veth_rtnl: 10ms}")
    assert ends == pytest.approx([S + D + 0.130, S + D + 0.160])
