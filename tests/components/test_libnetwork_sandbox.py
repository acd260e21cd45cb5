"""The sandbox's and the join's commits on libnetwork's store (components/libnetwork_store.py, networks.py,
teardown.py) against closed forms worked out by hand.

Every runtime cost is zero but runc create (S = 100 ms, no CPU share, no setkey hook); API calls and metadata
commits take no time; ``store_commit`` c = 10 ms. A start holds the store for its endpoint's creation
(``endpoint_commits`` e, ``bridge_commits`` b on a bridge), the sandbox's record (``sandbox_commits`` s) and
the join (``join_commits`` j, ``bridge_join_commits`` g on a bridge): h = (e + s + j [+ b + g]) c, inside S,
so n starts at once end at (k - 1) h + S. The exit's teardown holds it for the leave (``leave_commits`` l
[+ g]), the endpoint's deletion
(e [+ b]) and then the sandbox's record (s).
"""

from __future__ import annotations

import pytest

from dsim.domain.networking import IFACE_RETURN_S, VETH_TEARDOWN_S
from tests.helpers import run_text, without_endpoint_rule, without_setkey_hook

S, D, C = 0.100, 10.0, 0.010
RUNTIME = "{create: 0s, mount: 0s, netns: 0s, start: 100ms, exec: 0s, cpu: {create: 0, start: 0}}"


def run(network: str, count: int, networking: str, *, rm: bool = False) -> tuple[list[float], list[float]]:
    """(the starts' ends, the jobs' durations) of ``count`` jobs of one run (with ``rm``: a 10 s run, then rm)."""
    process = f"duration: {D}s" if rm else "detach: true"
    steps = f'[{{run: {{image: "nginx:1.25", {process}, network: {network}}}}}' + (", {rm: {}}]" if rm else "]")
    result = run_text(f"""
    name: t
    hosts:
      h: {{cpus: 64, daemon: {{api_service_time: 0s, workers: 1000, metadata_commit: 0s}}, preloaded: ["nginx:1.25"],
           runtime: {RUNTIME}, networking: {without_setkey_hook(without_endpoint_rule(networking))}}}
    workloads:
      w: {{arrival: {{burst: {count}}}, steps: {steps}}}
    """)
    assert all(job.status == "completed" for job in result.jobs)
    return sorted(span.end for span in result.spans_of("start")), sorted(job.duration_s for job in result.jobs)


def test_the_none_network_pays_the_sandbox_and_the_join_as_host_does() -> None:
    # none: e 1 + s 1 + j 2 = 4 commits, h = 40 ms (its namespace share of netns is 0 here): (k - 1) 40 ms + S
    starts, _ = run("none", 4, "{store_commit: 10ms}")
    assert starts == pytest.approx([(k - 1) * 4 * C + S for k in range(1, 5)])


def test_each_new_commit_count_adds_its_share_of_the_hold() -> None:
    # bridge with s 2, j 3, g 2 (e 1, b 1): h = (1 + 1 + 2 + 3 + 2) x 10 ms = 90 ms (within S)
    starts, _ = run("bridge", 3, "{store_commit: 10ms, sandbox_commits: 2, join_commits: 3, bridge_join_commits: 2}")
    assert starts == pytest.approx([(k - 1) * 9 * C + S for k in range(1, 4)])
    # none of them: only the endpoint's creation, e + b = 20 ms
    starts, _ = run("bridge", 3, "{store_commit: 10ms, sandbox_commits: 0, join_commits: 0, bridge_join_commits: 0}")
    assert starts == pytest.approx([(k - 1) * 2 * C + S for k in range(1, 4)])


def test_the_teardown_leaves_deletes_the_endpoint_then_the_sandbox() -> None:
    # one bridge run of D, then rm: the exit at S + D, the teardown holds l 1 + g 1 + e 1 + b 1 + s 1 = 50 ms,
    # and the endpoint's interface is returned (IFACE, the rtnl lock) and its veth pair deleted (VETH, no lock);
    # with leave_commits 3 and sandbox_commits 2: 3 + 1 + 1 + 1 + 2 = 80 ms
    _, jobs = run("bridge", 1, "{store_commit: 10ms}", rm=True)
    assert jobs == pytest.approx([S + D + 5 * C + IFACE_RETURN_S + VETH_TEARDOWN_S])
    _, jobs = run("bridge", 1, "{store_commit: 10ms, leave_commits: 3, sandbox_commits: 2}", rm=True)
    assert jobs == pytest.approx([S + D + 8 * C + IFACE_RETURN_S + VETH_TEARDOWN_S])
    # host: l 1 + e 1 + s 1 = 30 ms (no driver records, no namespace to delete)
    _, jobs = run("host", 1, "{store_commit: 10ms}", rm=True)
    assert jobs == pytest.approx([S + D + 3 * C])
