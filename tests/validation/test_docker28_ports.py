"""Published ports on Docker 28.5.2, measured on this project's VM (2 vCPUs, 24 GiB: 262,144 conntrack buckets;
`tools/real_docker.py ports --repeat 5 --sizes 25 --proto tcp`, then `--proto udp`; docs/validation.md, "A real
Docker, measured here").

dsim's parameters come from single containers: a port's 7 ``iptables`` processes of 1.5 ms and 2 ``docker-proxy``
of 2.25 ms (a tcp port took 15.0 ms at start), and for a udp port 4 flushes of the conntrack table, 262,144
buckets at 37.8 ns each, 9.909 ms each (a udp port took 54.1 ms); at the exit the same 7 processes, 2 deletions'
commits of 12.4 ms and dockerd's own 1.7 ms, 37.0 ms a port (measured 37.1 tcp, 37.6 udp). What this checks is
how five containers of 25 ports each, started at once and killed at once, share that: one container's ports at a
time.

Starts (`docker start` in five threads): each batch is 25 ports' work plus 10 us per rule already in the table for
each of its 50 rules (20 + 50 k rules before the k-th batch: 50 (20 + 50 k) + 1,225 rule-steps), so the starts end
one batch apart, 25 w + 0.0225 + 0.025 k s (k = 1..4):
- tcp, w = 15 ms: 0.4600 s apart on average; measured 0.614, 1.025, 1.502, 2.046, 2.664 s: 0.5125 s, 10% below.
- udp, w = 54.64 ms: 1.4509 s apart; measured 1.594, 2.983, 4.407, 5.851, 7.317 s: 1.4308 s, 1.4% above (session
  56's measurement, a slower day: 1.453 s).
Were the rules interleaved one at a time across containers, the five would end within a batch of one another.

Exits (`docker kill` and `docker wait` in five threads; wait returns once the exit is cleaned up): each release is
25 x (7 x 1.5 + 1.7) ms = 0.305 s of processes and dockerd's work (a wait) and 50 deletions' commits (0.620 s), plus
10 us per rule of the table without its own (the k-th container to exit, k = 1..5, finds 20 + 50 (5 - k) rules):
0.925 + 0.0225 + 0.025 (5 - k) s, so the cleanups come 0.985 s apart on average; measured tcp 1.242, 2.261, 3.229,
4.215, 5.233 s (0.998 s apart, 1.3% above dsim) and udp 1.421, 2.531, 3.566, 4.616, 5.659 s (1.060 s, 7.0% above).
Session 56 measured the udp exits 1.339 s apart on a day one exit alone took 1.0-1.2 s (0.94 s today): five at
once on 2 vCPUs share the CPU, which dsim's exit, a wait, does not.
Tolerance 15% (one measurement of five containers each way).
"""

from __future__ import annotations

import itertools
import statistics

import pytest

from tests.helpers import run_text

MEASURED_STARTS = {"tcp": (0.614, 1.025, 1.502, 2.046, 2.664), "udp": (1.594, 2.983, 4.407, 5.851, 7.317)}
MEASURED_CLEANUPS = {"tcp": (1.242, 2.261, 3.229, 4.215, 5.233), "udp": (1.421, 2.531, 3.566, 4.616, 5.659)}
#: one flush of 262,144 conntrack buckets at 37.8 ns each
FLUSH = 262_144 * 37.8e-9
#: a port's work at start: 7 processes, 2 proxies and, for udp, 4 flushes
PORT_START = {"tcp": 7 * 0.0015 + 2 * 0.00225, "udp": 7 * 0.0015 + 2 * 0.00225 + 4 * FLUSH}


def ports(proto: str) -> str:
    """25 container ports of ``proto``, each on an ephemeral host port."""
    return ", ".join(f'"{10000 + i}/{proto}"' for i in range(25))


def mean_gap(times: list[float] | tuple[float, ...]) -> float:
    return statistics.mean(later - earlier for earlier, later in itertools.pairwise(times))


@pytest.mark.parametrize("proto", ["tcp", "udp"])
def test_five_starts_with_25_ports_each_come_up_one_batch_apart(proto: str) -> None:
    result = run_text(f"""
    name: docker28-ports
    hosts:
      vm: {{cpus: 2, memory: 24GiB, preloaded: ["alpine:3.24"]}}
    workloads:
      w: {{arrival: {{burst: 5}},
          steps: [{{create: {{image: "alpine:3.24", ports: [{ports(proto)}]}}}}, {{start: {{}}}}]}}
    """)
    assert all(job.status == "completed" for job in result.jobs)
    ends = sorted(span.end for span in result.spans_of("start"))
    gaps = [later - earlier for earlier, later in itertools.pairwise(ends)]
    batch = 25 * PORT_START[proto]
    assert gaps == pytest.approx([batch + 10e-6 * (50 * (20 + 50 * k) + 1225) for k in range(1, 5)], rel=1e-6)
    assert statistics.mean(gaps) == pytest.approx(mean_gap(MEASURED_STARTS[proto]), rel=0.15)


@pytest.mark.parametrize("proto", ["tcp", "udp"])
def test_five_exits_with_25_ports_each_are_cleaned_up_one_release_apart(proto: str) -> None:
    names = [f"c{k}" for k in range(1, 6)]
    steps = ([f'{{create: {{name: {name}, image: "alpine:3.24", ports: [{ports(proto)}]}}}}' for name in names]
             + [f"{{start: {{container: {name}}}}}" for name in names]
             + [f"{{kill: {{container: {name}}}}}" for name in names]  # 2 ms apart: the API call each
             + [f"{{rm: {{container: {name}}}}}" for name in names])  # each returns once its exit is cleaned up
    result = run_text(f"""
    name: docker28-ports-exit
    hosts:
      vm: {{cpus: 2, memory: 24GiB, preloaded: ["alpine:3.24"]}}
    workloads:
      w: {{arrival: {{burst: 1}}, steps: [{", ".join(steps)}]}}
    """)
    [job] = result.jobs
    assert job.status == "completed", job.error
    cleaned = sorted(span.end for span in result.spans_of("rm"))
    gaps = [later - earlier for earlier, later in itertools.pairwise(cleaned)]
    release = 25 * (7 * 0.0015 + 0.0017) + 50 * 0.0124
    assert gaps == pytest.approx([release + 10e-6 * (50 * (20 + 50 * (5 - k)) + 1225) for k in range(2, 6)],
                                 rel=1e-6)
    assert mean_gap(cleaned) == pytest.approx(mean_gap(MEASURED_CLEANUPS[proto]), rel=0.15)
