"""Bridge exits at once, the kernel's part, without Docker (`tools/real_docker.py netops --sizes 32`, Linux 6.18, 2
vCPUs, 2026-12-08, three runs): 32 veth ends each set down, renamed and moved back to the host's namespace (libnetwork
osl's ``RemoveInterface``), then each pair deleted one at a time, as dockerd deletes them through its bridge driver's
one netlink handle: the last ended at 1.24, 1.52 and 1.54 s (with the deletions side by side: 1.02-1.15 s).

dsim's teardown of 32 exits at once, every start cost 0 (so they exit together), nothing else in it (no libnetwork
commits, no endpoint rule): the interfaces' returns under the rtnl lock (``iface_return`` 17 ms), each deletion
through the handle, its holder waiting for the rtnl lock and holding it ``veth_rtnl`` (2.2 ms), then the rest of
``veth_teardown`` (19.5 ms). Tolerance 25% against the runs' mean: the measurement's 128 ``ip`` processes cost about
2 ms of CPU each beside the kernel's work (0.13 s of the 2 cores), which dsim's figures leave out (they are the
kernel's time less the ``ip`` process's own). With the handle's holder not waiting for the rtnl lock (``veth_rtnl``
0) dsim gives 0.65 s: the wait is what brings the storm to the measured pace.
"""

from __future__ import annotations

import statistics

import pytest

from tests.helpers import run_text

MEASURED = statistics.mean([1.24, 1.52, 1.54])


def exits_at_once(networking: str) -> float:
    result = run_text(f"""
    name: exits
    hosts:
      h: {{cpus: 2, preloaded: ["alpine:3.24"], runtime: {{create: 0s, mount: 0s, netns: 0s, start: 0s, exec: 0s}},
           networking: {networking}}}
    workloads:
      w: {{arrival: {{burst: 32}}, steps: [{{run: {{image: "alpine:3.24", duration: 10s}}}}, {{rm: {{}}}}]}}
    """)
    return max(job.duration_s for job in result.jobs) - 10.0


def test_32_bridge_exits_kernel_work_at_the_measured_pace() -> None:
    assert exits_at_once("{store_commit: 0s, endpoint_rules: 0}") == pytest.approx(MEASURED, rel=0.25)


def test_without_the_rtnl_wait_the_handle_alone_is_too_fast() -> None:
    assert exits_at_once("{store_commit: 0s, endpoint_rules: 0, veth_rtnl: 0s}") < 0.75 * MEASURED
