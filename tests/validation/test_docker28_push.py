"""`docker push` to a registry on the same VM, Docker 28.5.2 (containerd 2.1.9; Debian's `docker-registry`, without
TLS, on localhost:5000), an AMD EPYC VM with 2 vCPUs: images of four layers of 100 MB of random bytes (one file each,
new bytes every time, so the registry has none of them), built on `scratch`, page cache dropped before each push
(`tools/real_docker.py push`, 2026-12-07).

What the model takes from these runs (docs/distribution.md, Push): under the containerd store BuildKit's export made
the blobs, so the push only sends them: dockerd spent 0.46-0.52 s and containerd 0.25-0.29 s of CPU on the 400 MB,
which set ``send_rate`` (dockerd's writer, 820 MB/s) and ``blob_read_rate`` (containerd serving the blobs through its
content API, 1.44 GB/s). So the CPU row is a CALIBRATION, checked here as the closed form the model makes of it.

Not reproduced (strict xfail), with the reasons measured:
- the containerd store's wall time, 0.98-1.07 s, where dsim gives 0.39 s: the registry itself spent 0.99-1.06 s of
  CPU receiving the same 400 MB (its Go 1.19 hashes without the SHA extensions, and its writes) on the same 2 vCPUs,
  so the push was bound by everyone's CPU, about (0.77 + 1.0) / 2 s; dsim's registries have no CPU of their own;
- the graphdriver store's push, 1.15-1.16 s and 0.87-0.90 s of dockerd's CPU, where dsim gives 2.15 s and 4.3 s:
  that store gzips every layer at push, and Go's deflate of random bytes (which it stores) runs many times faster
  than of real layers, whose rate ``compress_rate`` is (100 MiB/s, shared libraries); dsim's deflate has one rate
  whatever the bytes.
"""

from __future__ import annotations

import statistics
import textwrap

import pytest

from dsim.result import SimResult
from dsim.scenarios.loader import load_scenario_text
from dsim.world import World
from tests.components.test_distribution_push import built, stock

#: a layer of one file of 100 MB of random bytes: its blob (BuildKit's gzip stores it) and its tar
BLOB, TAR = 100_030_000, 100_001_536
#: store -> (wall seconds, dockerd's CPU-seconds, containerd's CPU-seconds) of 3 pushes
MEASURED = {
    "containerd": ((1.07, 0.98, 1.02), (0.52, 0.46, 0.49), (0.29, 0.25, 0.29)),
    "graphdriver": ((1.16, 1.15, 1.15), (0.90, 0.87, 0.89), (0.0, 0.0, 0.0)),
}


def push(store: str) -> SimResult:
    """The push of the four layers, their blobs in the store under the containerd store (graphdriver keeps none),
    with this machine's rates: sha256 with the SHA extensions, the disk's 1.6 GB/s."""
    world = World(load_scenario_text(textwrap.dedent(f"""
    name: local-push
    registries:
      local: {{bandwidth: 10Gbps, latency: 0ms, tls: false}}
    hosts:
      vm: {{cpus: 2, memory: 24GiB, nic: inf, daemon: {{image_store: {store}}},
            storage: {{hash_rate: 1975MB/s, write_rate: 1.6GB/s}}}}
    workloads:
      w: {{arrival: {{burst: 1}}, steps: [{{push: "local/app:1"}}]}}
    """)))
    stock(world, "vm", built("local/app:1", [(BLOB, TAR)] * 4), local_blobs=store == "containerd")
    return world.run()


def cpu_seconds(result: SimResult) -> float:
    return sum(span.attrs["busy"] * span.duration for span in result.spans_of("cpu"))


def test_the_containerd_stores_push_costs_its_bytes() -> None:
    """CALIBRATION: 400.12 MB x (1 / 820 MB/s + 1 / 1.44 GB/s) = 0.766 s of the daemons' CPU, against 0.71-0.81 s
    (mean 0.77) measured, within 15%."""
    result = push("containerd")
    [job] = result.jobs
    assert job.status == "completed", job.error
    assert cpu_seconds(result) == pytest.approx(4 * BLOB * (1 / 820e6 + 1 / 1.44e9), rel=1e-6)
    _, dockerd, containerd = MEASURED["containerd"]
    assert cpu_seconds(result) == pytest.approx(statistics.mean(dockerd) + statistics.mean(containerd), rel=0.15)


@pytest.mark.xfail(strict=True, reason="the registry's own CPU (1.0 s for the 400 MB) shared the 2 vCPUs; dsim's "
                   "registries have none (module docstring)")
def test_the_containerd_stores_push_time() -> None:
    [job] = push("containerd").jobs
    assert job.duration_s == pytest.approx(statistics.mean(MEASURED["containerd"][0]), rel=0.15)


@pytest.mark.xfail(strict=True, reason="Go's gzip stores random bytes many times faster than it deflates real "
                   "layers; compress_rate is one rate whatever the bytes (module docstring)")
def test_the_graphdriver_stores_push_of_random_bytes() -> None:
    result = push("graphdriver")
    assert cpu_seconds(result) == pytest.approx(statistics.mean(MEASURED["graphdriver"][1]), rel=0.15)
