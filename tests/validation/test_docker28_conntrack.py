"""A busy conntrack table slows every bridge container's start and exit: Docker 28.5.2 measured on this project's VM
(2 vCPUs, 24 GiB, 262,144 buckets; docs/validation.md, "A real Docker, measured here").

libnetwork flushes a bridge endpoint's address from the conntrack table when its external connectivity is programmed
at start and revoked at the exit (drivers/bridge ``clearConntrackEntries``), through a netlink dump of the whole
table that dockerd parses entry by entry. The table was filled with E udp flows on loopback (kept by a 900 s
timeout, the count read before and after: stable), then a created bridge container's `docker start` and its `docker
kill` + `docker wait` (which returns once the exit is cleaned up) were timed, medians of 8, against the same with an
empty table (medians of 30): with E = 50,000 the start took 152.6 ms more and the exit 170.1 ms more; with E =
150,000, 464.6 and 468.4 ms more. dockerd's CPU grew by 3.3-3.5 us an entry a flush.

dsim: ``conntrack_entry_scan`` e = 3.05 us an entry of dockerd's CPU a flush, the mean slope of the start's and the
exit's between the two sizes (the calibration); each point is then E e at start and again at the exit: 152.5 and
457.5 ms. Idle 2 vCPUs, so the flush's CPU is its time. Tolerance 15% (one measurement per size; the exit at 50,000
is 10% below).
"""

from __future__ import annotations

import pytest

from tests.helpers import run_text

#: E -> (start, exit) seconds more than with an empty table, measured
MEASURED = {50_000: (0.1526, 0.1701), 150_000: (0.4646, 0.4684)}


def start_and_job(entries: int) -> tuple[float, float]:
    """(the start span's duration, the job's) of a bridge container started, killed after 1 s, then removed."""
    result = run_text(f"""
    name: docker28-conntrack
    hosts:
      vm: {{cpus: 2, memory: 24GiB, preloaded: ["alpine:3.24"], networking: {{conntrack_entries: {entries}}}}}
    workloads:
      w: {{arrival: {{burst: 1}}, steps: [{{create: {{name: c, image: "alpine:3.24"}}}}, {{start: {{container: c}}}},
                                         {{sleep: 1s}}, {{kill: {{container: c}}}}, {{rm: {{container: c}}}}]}}
    """)
    [job] = result.jobs
    assert job.status == "completed", job.error
    [start] = result.spans_of("start")
    return start.duration, job.duration_s


@pytest.mark.parametrize("entries", sorted(MEASURED))
def test_a_bridge_containers_start_and_exit_each_walk_the_tracked_connections(entries: int) -> None:
    idle_start, idle_job = start_and_job(0)
    busy_start, busy_job = start_and_job(entries)
    start, exit_ = busy_start - idle_start, (busy_job - idle_job) - (busy_start - idle_start)
    assert start == pytest.approx(entries * 3.05e-6)
    assert exit_ == pytest.approx(entries * 3.05e-6)
    measured_start, measured_exit = MEASURED[entries]
    assert start == pytest.approx(measured_start, rel=0.15)
    assert exit_ == pytest.approx(measured_exit, rel=0.15)
