"""The stargz-snapshotter README chart: cold start of python:3.7 on a GitHub Actions runner pulling from a
registry, with containerd's overlayfs (``legacy``: about 37 s, of which the pull about 31.5 s) and with a
lazily pulled eStargz image (about 4.1 s in all). Source: containerd/stargz-snapshotter README (benchmark
of commit ecdb227, HelloBench method); docs/real-docker.md "Measurements to calibrate and validate against".

Parameters, fixed for both cases (nothing is tuned per case):
- the image: python:3.7's real linux/amd64 manifest, 9 layers, 347,653,336 bytes (docker-library/repo-info
  repos/python/remote/3.7.md, a 2023 build; the chart's 2020 build was within a few percent of it);
  uncompressed at dsim's default ratio 2.7 (python:3.7 unpacks to about 0.9 GB);
- the registry: token auth, 50 ms per request, as dsim's Docker Hub; its own bandwidth never binds;
- the runner: a 100 Mbps path to the registry. This is the one calibrated parameter: the README gives no
  bandwidth, and a round 100 Mbps matches the legacy pull. It is then held fixed for the eStargz case,
  which is the out-of-sample check. Everything else is dsim's default (3 download slots, gunzip 200 MiB/s,
  writes 400 MiB/s, runtime 0.57 s, prefetch 6.4%).

Tolerance: the legacy pull within 10% of 31.5 s. The chart's totals also include running the workload
(python printing hello, on a cold page cache), which dsim does not model: so the legacy start (pull,
create, start) must fall between the pull (31.5 s - 10%) and the 37 s total, and the eStargz start below
its 4.1 s total and above a third of it. The runs are deterministic (no random draws), so one seed is
the average.
"""

from __future__ import annotations

from tests.helpers import run_text

PYTHON37 = [55025206, 5163370, 10876737, 54583611, 196877237, 6291002, 15949846, 235, 2886092]


def cold_start(snapshotter: str) -> tuple[float, float]:
    """(pull, pull + create + start) of one `docker run python:3.7` on a fresh runner."""
    layers = ", ".join(str(size) for size in PYTHON37)
    result = run_text(f"""
    name: stargz-chart
    registries:
      ghcr: {{bandwidth: 10Gbps, latency: 50ms, auth: token}}
    images:
      python:3.7: {{registry: ghcr, layers: [{layers}]}}
    hosts:
      runner: {{cpus: 2, memory: 7GiB, nic: 100Mbps, snapshotter: {snapshotter}}}
    workloads:
      hello: {{arrival: {{burst: 1}}, steps: [{{run: {{image: "python:3.7", duration: 0s}}}}]}}
    """)
    [job] = result.jobs
    assert job.status == "completed", job.error
    return job.phases["pull"], job.phases["pull"] + job.phases["create"] + job.phases["start"]


def test_legacy_overlayfs_cold_start() -> None:
    pull, start = cold_start("overlayfs")
    assert abs(pull - 31.5) <= 0.10 * 31.5
    assert 31.5 * 0.9 <= start <= 37.0


def test_estargz_lazy_cold_start() -> None:
    """Predicted with the legacy case's bandwidth: resolve, then 6.4% of each layer (22 MB at 12.5 MB/s,
    1.8 s) and its gunzip; the container starts under 3 s after `docker run` (the chart: 4.1 s including
    the workload's run)."""
    pull, start = cold_start("stargz")
    assert 4.1 / 3 <= start <= 4.1
    assert pull < 0.1 * cold_start("overlayfs")[0]
