"""The stargz-snapshotter README chart (benchmark of commit ecdb227, HelloBench method, 95th percentile of 5
samples on a GitHub Actions runner pulling from GitHub's registry): the cold start of python:3.7 and of
gcc:9.2.0 with containerd's overlayfs (``legacy``) and with lazily pulled eStargz images. Source:
containerd/stargz-snapshotter README, docs/images/benchmarking-result-ecdb227.png; docs/real-docker.md
"Measurements to calibrate and validate against". Each bar is split into pull (``ctr images pull``, which
fetches every layer and then unpacks them), create (``ctr containers create``) and run (``ctr tasks start``),
read off the chart's pixels (12.64 px a second; +-0.2 s):

| image | mode | pull | create | run | in all |
|---|---|---|---|---|---|
| python:3.7 | legacy | 31.7 s | 5.3 s | 0.2 s | 37.1 s |
| python:3.7 | eStargz | 3.2 s | 0.8 s | 0.2 s | 4.1 s |
| gcc:9.2.0 | legacy | 35.8 s | 7.7 s | 0.3 s | 43.8 s |
| gcc:9.2.0 | eStargz | 3.3 s | 1.8 s | 0.4 s | 5.5 s |

Parameters, one set for every case (nothing is tuned per case):
- the images: real linux/amd64 manifests from docker-library/repo-info (the chart's 2020 builds are not
  kept there): python:3.7's 9 layers, 347,653,336 bytes (repos/python/remote/3.7.md, a 2023 build);
  gcc:9.5.0's 9 layers, 411,237,162 bytes (repos/gcc/remote/9.5.0.md, built in January 2023 on the same
  Debian buster base as gcc:9.2.0: the nearest build kept). Uncompressed at dsim's default ratio 2.7;
- the registry: token auth, 50 ms per request, as dsim's Docker Hub; its own bandwidth never binds;
- the runner: a 100 Mbps path to the registry. This is the one calibrated parameter, on python:3.7's legacy
  pull: the README gives no bandwidth, and a round 100 Mbps matches it. Held fixed for the other cases,
  which are predicted. Everything else is dsim's default (3 download slots, gunzip 200 MiB/s, writes
  400 MiB/s, runtime 0.57 s, prefetch 6.4%).

Tolerance: a legacy pull within 10% of the chart's. The chart's create is 5.3 s and 7.7 s for the legacy
images: it grows with the image, because `ctr containers create` mounts the new snapshot to read its groups
and unmounts it, and an overlay unmount syncs the filesystem, flushing the GB the pull has just unpacked
(measured on a real Docker with tools/real_docker.py syncfs, docs/validation.md). dsim models that flush
(components/disk.py): its create is 0.06 s + the unpacked bytes still dirty / 400 MiB/s; on the 7 GiB runner
the background writeback has taken them down to its 751.6 MB threshold during the pull, so 1.86 s for both
images: NOT reproduced as a figure (-65%, -76%: the chart's flush, if all unpacked bytes were dirty, went at
about 180 and 140 MB/s, a GitHub runner's disk slower than dsim's default, which is not calibrated here), so
the legacy start (pull, create, start) must lie between the pull (its tolerance) and the chart's total. dsim's lazy
pull resolves the image, then fetches and inflates 6.4% of each layer (the prefetch the chart's create
waits for), so its start is compared with the chart's total: below it and above a third of it. The runs
are deterministic (no random draws), so one seed is the average.

The chart's pulls are `ctr images pull`, containerd alone. dsim's defaults for what a pull's bytes and files cost
the daemon (receive_rate, apply_rate, apply_per_file: docs/distribution.md, What a pull's bytes cost) are Docker
28.5.2's (dockerd with containerd) measured on a 2-vCPU VM; containerd's own and the GitHub runner's are not
measured, so this validation leaves them out (``PULL_COSTS_LEFT_OUT``), as dsim did before session 58. With the VM's
figures gcc:9.2.0's legacy pull takes 41.3 s against 35.8 s (+15%): its layers counted as entries of 20 KB (their
files are not published).
"""

from __future__ import annotations

import pytest

from dsim.result import SimResult
from tests.helpers import PULL_COSTS_LEFT_OUT, run_text

PYTHON37 = [55025206, 5163370, 10876737, 54583611, 196877237, 6291002, 15949846, 235, 2886092]
GCC95 = [50448910, 7859410, 10001385, 51869329, 191942350, 16136, 99086152, 11566, 1924]
#: image -> (its layers, the chart's legacy pull, the chart's legacy total, the chart's eStargz total), seconds
CHART = {"python:3.7": (PYTHON37, 31.7, 37.1, 4.1), "gcc:9.2.0": (GCC95, 35.8, 43.8, 5.5)}


def docker_run(image: str, snapshotter: str) -> SimResult:
    """One `docker run IMAGE` on a fresh runner."""
    layers = ", ".join(str(size) for size in CHART[image][0])
    return run_text(f"""
    name: stargz-chart
    registries:
      ghcr: {{bandwidth: 10Gbps, latency: 50ms, auth: token}}
    images:
      {image}: {{registry: ghcr, layers: [{layers}]}}
    hosts:
      runner: {{cpus: 2, memory: 7GiB, nic: 100Mbps, snapshotter: {snapshotter}, storage: {{{PULL_COSTS_LEFT_OUT}}}}}
    workloads:
      hello: {{arrival: {{burst: 1}}, steps: [{{run: {{image: "{image}", duration: 0s}}}}]}}
    """)


def cold_start(image: str, snapshotter: str) -> tuple[float, float]:
    """(pull, pull + create + start) of one `docker run IMAGE` on a fresh runner."""
    [job] = docker_run(image, snapshotter).jobs
    assert job.status == "completed", job.error
    return job.phases["pull"], job.phases["pull"] + job.phases["create"] + job.phases["start"]


@pytest.mark.parametrize("image", CHART)
def test_legacy_overlayfs_cold_start(image: str) -> None:
    """python:3.7 calibrates the bandwidth; gcc:9.2.0 is predicted with it (36.95 s: +3.2%)."""
    _, chart_pull, chart_total, _ = CHART[image]
    pull, start = cold_start(image, "overlayfs")
    assert abs(pull - chart_pull) <= 0.10 * chart_pull
    assert chart_pull * 0.9 <= start <= chart_total


@pytest.mark.parametrize("image", CHART)
def test_legacy_create_flushes_what_the_pull_unpacked(image: str) -> None:
    """The create after the legacy pull syncs the unpacked bytes still dirty (2.7 x the layers, unpacked less
    than 30 s before; the blobs were fsynced as they came in) at the default 400 MiB/s, after its 60 ms. On the
    7 GiB runner the background writeback may have taken them down to its threshold (10%: 751.6 MB) during
    the pull, never below: the sync writes between min(unpacked, 751.6 MB) and all of it."""
    unpacked = sum(CHART[image][0]) * 2.7
    result = docker_run(image, "overlayfs")
    [job] = result.jobs
    [sync] = result.spans_of("syncfs")
    assert min(unpacked, 0.1 * 7 * 2**30) - 1 <= sync.attrs["bytes"] <= unpacked + 1
    assert sync.duration == pytest.approx(sync.attrs["bytes"] / (400 * 2**20))
    assert job.phases["create"] == pytest.approx(0.06 + sync.duration, abs=0.005)  # and the API call's ms


@pytest.mark.parametrize("image", CHART)
def test_estargz_lazy_cold_start(image: str) -> None:
    """Predicted with the legacy case's bandwidth: resolve, then 6.4% of each layer (22-26 MB at 12.5 MB/s,
    about 2 s) and its gunzip; the container starts in about 3 s (the chart: 4.1 and 5.5 s in all)."""
    chart_total = CHART[image][3]
    pull, start = cold_start(image, "stargz")
    assert chart_total / 3 <= start <= chart_total
    assert pull < 0.1 * cold_start(image, "overlayfs")[0]
