"""Published ports on Docker 28.5.2, measured on this project's VM (2 vCPUs; `tools/real_docker.py ports
--repeat 5 --sizes 25,50`; docs/validation.md, "A real Docker, measured here").

Five created bridge containers with 25 published udp ports each, started at once (`docker start` in five threads),
came up 1.37-1.63 s apart: their starts ended at 1.602, 2.971, 4.382, 6.012 and 7.413 s, 1.453 s apart on average,
while one alone took 1.4-1.6 s. dsim's parameters come from the single containers (a port's 7 ``iptables``
processes of 1.5 ms, 2 ``docker-proxy`` of 13 ms and dockerd's own 19.5 ms, its CPU); what this checks is how
concurrent starts share it: one container's ports at a time, each batch of 25 x 56 ms = 1.400 s plus 10 us per rule
already in the table for each of its 50 rules (20 + 50 k rules before the k-th batch: 50 (20 + 50 k) + 1,225
rule-steps), so the ends come 1.400 + 0.0225 + 0.025 k s apart (k = 1..4): 1.4725 s on average, 1.3% above the
measured 1.453 s.
Were the rules interleaved one at a time across containers (one lock per invocation), the five would end within
a batch of one another at about 7 s.

Killed at once (`docker kill` and `docker wait` in five threads; wait returns once the exit is cleaned up), the same
five were cleaned up at 1.837, 3.316, 4.714, 6.049 and 7.192 s, 1.339 s apart on average: the exits release one
container's ports at a time too. Each release is its 25 ports' 7 processes and dockerd's own 8.7 ms (a wait of
25 x (7 x 1.5 + 8.7) ms = 0.480 s), its 50 deletions' commits (50 x 12.4 ms = 0.620 s) and 10 us per rule in the
table for each of its 50 rules, the table without its own (the k-th container to exit, k = 1..5, finds 20 + 50 (5 -
k) rules): 1.100 s + 0.0225 s + 0.025 (5 - k) s, so the cleanups come 1.160 s apart on average, 13% below the
measured 1.339 s. One exit alone took 1.0-1.2 s there (40.7-49.7 ms a port), which dsim's 1.12-1.22 s match; five
at once on 2 vCPUs took longer each, CPU that dsim's exit, a wait, does not share.
Tolerance 10% at start, 15% at the exit (one measurement of five containers each way).
"""

from __future__ import annotations

import itertools
import statistics

import pytest

from tests.helpers import run_text

MEASURED_ENDS = (1.602, 2.971, 4.382, 6.012, 7.413)
MEASURED_CLEANUPS = (1.837, 3.316, 4.714, 6.049, 7.192)
PORTS = ", ".join(f'"{10000 + i}/udp"' for i in range(25))  # each on an ephemeral host port


def mean_gap(times: list[float] | tuple[float, ...]) -> float:
    return statistics.mean(later - earlier for earlier, later in itertools.pairwise(times))


def test_five_starts_with_25_ports_each_come_up_one_batch_apart() -> None:
    result = run_text(f"""
    name: docker28-ports
    hosts:
      vm: {{cpus: 2, preloaded: ["alpine:3.24"]}}
    workloads:
      w: {{arrival: {{burst: 5}}, steps: [{{create: {{image: "alpine:3.24", ports: [{PORTS}]}}}}, {{start: {{}}}}]}}
    """)
    assert all(job.status == "completed" for job in result.jobs)
    ends = sorted(span.end for span in result.spans_of("start"))
    gaps = [later - earlier for earlier, later in itertools.pairwise(ends)]
    batch = 25 * (7 * 0.0015 + 0.0195 + 2 * 0.013)
    assert gaps == pytest.approx([batch + 10e-6 * (50 * (20 + 50 * k) + 1225) for k in range(1, 5)], rel=1e-6)
    assert statistics.mean(gaps) == pytest.approx(mean_gap(MEASURED_ENDS), rel=0.10)


def test_five_exits_with_25_ports_each_are_cleaned_up_one_release_apart() -> None:
    names = [f"c{k}" for k in range(1, 6)]
    steps = ([f'{{create: {{name: {name}, image: "alpine:3.24", ports: [{PORTS}]}}}}' for name in names]
             + [f"{{start: {{container: {name}}}}}" for name in names]
             + [f"{{kill: {{container: {name}}}}}" for name in names]  # 2 ms apart: the API call each
             + [f"{{rm: {{container: {name}}}}}" for name in names])  # each returns once its exit is cleaned up
    result = run_text(f"""
    name: docker28-ports-exit
    hosts:
      vm: {{cpus: 2, preloaded: ["alpine:3.24"]}}
    workloads:
      w: {{arrival: {{burst: 1}}, steps: [{", ".join(steps)}]}}
    """)
    [job] = result.jobs
    assert job.status == "completed", job.error
    cleaned = sorted(span.end for span in result.spans_of("rm"))
    gaps = [later - earlier for earlier, later in itertools.pairwise(cleaned)]
    release = 25 * (7 * 0.0015 + 0.0087) + 50 * 0.0124
    assert gaps == pytest.approx([release + 10e-6 * (50 * (20 + 50 * (5 - k)) + 1225) for k in range(2, 6)],
                                 rel=1e-6)
    assert mean_gap(cleaned) == pytest.approx(mean_gap(MEASURED_CLEANUPS), rel=0.15)
