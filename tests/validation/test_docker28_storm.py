"""Start storms on Docker 28.5.2 (containerd 2.1.9, the containerd image store, bookworm's runc 1.1.5), an AMD EPYC
VM with 2 vCPUs: n concurrent `docker run --rm` of a busybox `true` by network (`tools/real_docker.py storm --sizes
8,32`, 2026-12-07): the makespans, host 0.58 and 2.33 s, none 0.56 and 2.43 s, bridge 1.09 and 3.79 s, with 134-148
ms of CPU a run on host and none and 183-185 ms on bridge, every process counted (the CLI 12-16 ms of each).

dsim's start path is its defaults' (Khan's Azure machine, 568 ms a warm bridge run), so only ratios compare.
Reproduced: `none` costs what `host` costs (Docker 28 has no setkey hook: the measured ratio 0.97 and 1.04, dsim
1.00). NOT reproduced (strict xfail): bridge against host, measured 1.88 and 1.63, dsim 1.10 and 1.08. A bridge run
cost dockerd 31-36 ms more CPU than a host run here (`tools/real_docker.py phases`: start +12.5 to +15 ms, exit +18.4
to +21 ms), of which dsim counts the endpoint rule's two `iptables` processes (3 ms): the conntrack flushes' walk of
the empty table (9.9 ms at start and at the exit, measured alone) and the endpoint's netlink work are waits in dsim
(`runtime.netns`, the exit's measured steps), and the storm's makespan beyond its CPU (0.85 s at 32) is more than
the rtnl lock dsim models accounts for. docs/validation.md has the figures.
"""

from __future__ import annotations

import pytest

from tests.helpers import run_text

#: (network, concurrent runs) -> measured makespan seconds
MEASURED = {("host", 8): 0.58, ("host", 32): 2.33, ("none", 8): 0.56, ("none", 32): 2.43,
            ("bridge", 8): 1.09, ("bridge", 32): 3.79}


def makespan(network: str, runs: int) -> float:
    """``runs`` concurrent `docker run --rm` of alpine `true` on a 2-core host (the image preloaded)."""
    result = run_text(f"""
    name: storm
    hosts:
      vm: {{cpus: 2, memory: 24GiB, preloaded: ['alpine:3.24']}}
    workloads:
      storm:
        arrival: {{burst: {runs}}}
        steps: [{{run: {{image: 'alpine:3.24', duration: 0s, network: {network}}}}}, {{rm: {{}}}}]
    """)
    assert all(job.status == "completed" for job in result.jobs)
    return max(job.duration_s for job in result.jobs)


@pytest.mark.parametrize("runs", [8, 32])
def test_none_storms_as_host_does(runs: int) -> None:
    """none / host within 10% of the measured ratio (0.97 at 8, 1.04 at 32)."""
    measured = MEASURED["none", runs] / MEASURED["host", runs]
    assert makespan("none", runs) / makespan("host", runs) == pytest.approx(measured, rel=0.1)


@pytest.mark.xfail(strict=True, reason="a bridge run's extra dockerd CPU (31-36 ms: the conntrack walks, netlink) and "
                   "the storm's serialization beyond the rtnl lock are not modelled (module docstring)")
@pytest.mark.parametrize("runs", [8, 32])
def test_bridge_storms_slower_than_host(runs: int) -> None:
    measured = MEASURED["bridge", runs] / MEASURED["host", runs]
    assert makespan("bridge", runs) / makespan("host", runs) == pytest.approx(measured, rel=0.25)
