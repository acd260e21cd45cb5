"""Spegel's baseline benchmark (https://github.com/spegel-org/benchmark, results/*.json of commit 2aec829,
2024-04-23, run without Spegel; method in spegel-org/spegel docs/BENCHMARK.md): 50 AKS nodes
(Standard_D4ds_v5, Kubernetes 1.29, containerd, West Europe: the repository's terraform/main.tf) pull images
of 10 MB, 100 MB and 1 GB in 1 or 4 layers from ghcr.io. Each figure is kubelet's own pull time ("Successfully
pulled image ... in D"). A DaemonSet with the v1 image starts a pull on all 50 nodes within 2 s; it is then
updated to the v2 image (new layers, the same base) one node at a time (a DaemonSet's default rolling update),
so the first v2 pull fetches blobs nobody has fetched before, as v1's did, and the other 49 fetch blobs the
registry's CDN has just served. Seconds:

| image | v1: 50 at once (mean of 50) | v2: the first, alone | v2: the other 49, alone (median) |
|---|---|---|---|
| 10 MB, 1 layer | 1.44 | 1.61 | 1.20 |
| 10 MB, 4 layers | 1.36 | 2.00 | 1.30 |
| 100 MB, 1 layer | 4.47 | 3.67 | 1.61 |
| 100 MB, 4 layers | 2.99 | 3.01 | 1.53 |
| 1 GB, 1 layer | 27.73 | 28.51 | 7.68 |
| 1 GB, 4 layers | 16.84 | 15.66 | 6.23 |

What the rows show: 50 nodes at once pull as fast as one node alone (ghcr.io's egress does not bind), a blob's
first fetches are several times slower than later ones (the CDN fills from its origin), and the same bytes in
4 layers pull faster than in 1 once they are large (3 streams at once, each capped) but not when small (more
requests). dsim's mechanisms: a per-connection cap (`stream_rate`), containerd's 3 download slots, the
registry's round trips (token, manifest, config, blob redirects to the CDN, each new connection's handshakes),
the unpack in layer order, and the registry's egress shared by all 50.

Parameters (one set; "first fetch" and "CDN hit" are two environments, each with one calibrated value):
- the nodes (Azure's Ddsv5 table, https://learn.microsoft.com/azure/virtual-machines/ddv5-ddsv5-series):
  4 vCPUs, 16 GiB, 12,500 Mbps; the ephemeral OS disk on the local disk writes 250 MB/s (the table's
  temp-storage throughput, as docs/BENCHMARK.md says); containerd's 3 concurrent downloads;
- the images (the benchmark's internal/generate): registry.k8s.io/pause:3.7 (one layer of about 0.3 MB)
  plus the layers of random bytes, pushed gzipped: random bytes do not compress, so each blob is its layer's
  size uncompressed too, and deflate stores it (RFC 1951 stored blocks: inflating is a copy, no CPU that counts
  beside the disk's 250 MB/s); the unpack's digest of each layer's tar stream at 1,975 MB/s: the nodes' Xeon
  Platinum 8370C (Ice Lake) has the SHA extensions, which Go's crypto/sha256 uses since Go 1.21, and 1,975 MB/s is
  Go's sha256 with them on one core (dsim.domain.hosts.SHA256_SHA_NI; dsim's default, 448.62 MB/s, is Go's AVX2
  path, without them);
- ghcr.io: token auth with its realm on the registry's own host (`token_host: registry`: its 401 names
  https://ghcr.io/token), single-platform manifests, blobs redirected to its CDN
  (pkg-containers.githubusercontent.com), the registry's own 30 ms a request (dsim's default). Its API answers
  from the US east coast: a round trip of about 80 ms from West Europe (Azure's published round-trip
  statistics put West Europe-East US at about 80 ms,
  https://learn.microsoft.com/azure/networking/azure-network-latency); the CDN from an edge in the region
  (`cdn_rtt: 2ms`; at 10 ms no row moves more than 4%). The rows show 50 nodes pulling as fast as one, so
  the registry's egress does not bind (1 Tbps);
- the one calibrated value of each environment, the per-connection rate `stream_rate`: 45.8 MB/s for first
  fetches, on the v1 1 GB 1-layer row; 510 MB/s for CDN hits, on the v2 1 GB 1-layer row. With the page cache
  (docs/networks-storage.md: The page cache) they are re-derived on the same rows (the test calibrates as it
  runs) and come out the same: the 1 GB blob, in within 30 s, is synced by containerd's content store as it
  commits it, 4 s at 250 MB/s, and its unpack then goes into the 16 GiB node's page cache at once, where the
  old model wrote the unpack through at 250 MB/s: the same 4 s after the download.

Tolerance 15% for the means and medians of 49-50 pulls, 25% for the first v2 pull (one run). Predicted
(dsim, error):
- CDN hits, alone: 10 MB 1.12 s (-7%) and 1.25 s (-4%), 100 MB 1.71 s (+6%) and 1.58 s (+3%), 1 GB in
  4 layers 6.01 s (-4%): the 10 MB rows are round trips (HEAD 401, token, HEAD, manifest, config and blob
  each redirected, two new connections' handshakes) and the registry's 30 ms a request;
- first fetches, 50 at once: 10 MB 1.48 s (+2%) and 1.47 s (+8%), 100 MB 3.86 s (-14%) and 2.82 s (-6%),
  1 GB in 4 layers 16.41 s (-3%; 13.6 s, -19%, before the page cache: each blob's sync now holds its download
  slot, so the fourth layer's download starts later, where the unpacks used to write behind the downloads);
- first fetches, alone: 10 MB in 1 layer 1.32 s (-18%), 100 MB 3.70 s (+1%) and 2.50 s (-17%), 1 GB 27.6 s
  (-3%) and 16.0 s (+2%); NOT reproduced: 10 MB in 4 layers, 1.33 s against 2.00 s (-34%, one run: the first
  fetch of 4 new blobs from the CDN's origin costs more than dsim's round trips).
The round trip sets the small rows: at 70 or 90 ms they move by 8-15%.

These nodes ran containerd's CRI pull, no dockerd. dsim's defaults for what a pull's bytes and files cost the daemon
(receive_rate, apply_rate, apply_per_file: docs/distribution.md, What a pull's bytes cost) are Docker 28.5.2's
(dockerd with containerd) measured on a 2-vCPU VM; containerd's own and the Azure D4ds_v5's are not measured, so
this validation leaves them out (``PULL_COSTS_LEFT_OUT``), as dsim did before session 58. With the VM's figures the
CDN-hit row of 1 GB in one layer cannot come out at its 7.68 s at any stream rate (9.97 s with an unlimited one: the
per-byte work alone is 4.8 s on the critical path).
"""

from __future__ import annotations

import functools

import pytest

from dsim.domain.hosts import SHA256_SHA_NI
from tests.helpers import PULL_COSTS_LEFT_OUT, rate_giving, run_text

#: (MB, layers) -> (v1: 50 at once, mean; v2 first, alone; v2 the other 49, median), seconds
MEASURED = {(10, 1): (1.44, 1.61, 1.20), (10, 4): (1.36, 2.00, 1.30), (100, 1): (4.47, 3.67, 1.61),
            (100, 4): (2.99, 3.01, 1.53), (1000, 1): (27.73, 28.51, 7.68), (1000, 4): (16.84, 15.66, 6.23)}
PAUSE_LAYER = 0.3e6


def mean_pull(mb: int, layers: int, stream_rate: float, nodes: int, *, base_present: bool) -> float:
    """Mean pull time of ``nodes`` nodes pulling the image at once (``base_present``: the pause layer is there)."""
    size = mb * 1e6 / layers
    blobs = [f"{{size: {size:.0f}, uncompressed: {size:.0f}}}"] * layers
    base = "['pause:3.7']" if base_present else "[]"
    result = run_text(f"""
    name: spegel-benchmark
    registries:
      ghcr: {{auth: token, token_host: registry, blob_redirect: true, cdn_rtt: 2ms, rtt: 80ms, bandwidth: 1Tbps,
             stream_rate: {stream_rate:.0f}B/s}}
    images:
      pause:3.7: {{registry: ghcr, layers: [{PAUSE_LAYER:.0f}]}}
      bench: {{registry: ghcr, from: "pause:3.7", layers: [{", ".join(blobs)}]}}
    hosts:
      node: {{count: {nodes}, cpus: 4, memory: 16GiB, nic: 12500Mbps, preloaded: {base},
              storage: {{write_rate: 250MB/s, decompress_rate: {{gzip: inf}}, hash_rate: {SHA256_SHA_NI:.0f}B/s,
                         {PULL_COSTS_LEFT_OUT}}}}}
    workloads:
      pull: {{arrival: {{burst: {nodes}}}, steps: [{{pull: "bench"}}]}}
    """)
    assert len({job.host for job in result.jobs}) == nodes
    pulls = [job.phases["pull"] for job in result.jobs]
    return sum(pulls) / len(pulls)


@functools.cache
def calibrated(cdn_hit: bool) -> float:
    """The stream rate at which the 1 GB 1-layer row comes out as measured."""
    return rate_giving(lambda rate: predicted(1000, 1, rate, alone=cdn_hit), MEASURED[1000, 1][2 if cdn_hit else 0])


def predicted(mb: int, layers: int, stream_rate: float, *, alone: bool) -> float:
    """v1 (50 at once, the base fetched too) or a v2 pull alone (the base present)."""
    if alone:
        return mean_pull(mb, layers, stream_rate, 1, base_present=True)
    return mean_pull(mb, layers, stream_rate, 50, base_present=False)


ROWS = [(mb, layers) for mb, layers in MEASURED if (mb, layers) != (1000, 1)]


def _row(mb: int, layers: int, missed: dict[tuple[int, int], str]) -> object:
    reason = missed.get((mb, layers))
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(mb, layers, id=f"{mb}MB-{layers}", marks=marks)


@pytest.mark.parametrize(("mb", "layers"), [_row(mb, n, {}) for mb, n in ROWS])
def test_cdn_hits_alone(mb: int, layers: int) -> None:
    measured = MEASURED[mb, layers][2]
    assert abs(predicted(mb, layers, calibrated(True), alone=True) - measured) <= 0.15 * measured


@pytest.mark.parametrize(("mb", "layers"), [_row(mb, n, {}) for mb, n in ROWS])
def test_first_fetches_50_at_once(mb: int, layers: int) -> None:
    measured = MEASURED[mb, layers][0]
    assert abs(predicted(mb, layers, calibrated(False), alone=False) - measured) <= 0.15 * measured


@pytest.mark.parametrize(("mb", "layers"), [_row(mb, n, {(10, 4): "1.33 s against 2.00 s (-34%, one run)"})
                                            for mb, n in MEASURED])
def test_first_fetch_alone(mb: int, layers: int) -> None:
    measured = MEASURED[mb, layers][1]
    assert abs(predicted(mb, layers, calibrated(False), alone=True) - measured) <= 0.25 * measured


def test_calibration_lands_on_its_rows() -> None:
    assert predicted(1000, 1, calibrated(False), alone=False) == pytest.approx(27.73, rel=1e-3)
    assert predicted(1000, 1, calibrated(True), alone=True) == pytest.approx(7.68, rel=1e-3)


def test_fifty_nodes_pull_as_fast_as_one_and_four_layers_beat_one_when_large() -> None:
    """The rows' structure, from the mechanisms: the registry's egress does not bind, so 50 nodes at once take
    what one alone takes (the same layers to fetch); a 1 GB image in 4 layers comes in over 3 streams at once
    (each capped) and pulls faster than in 1, while 10 MB in 4 layers costs more requests than in 1."""
    rate = calibrated(False)
    assert mean_pull(1000, 1, rate, 50, base_present=False) == pytest.approx(
        mean_pull(1000, 1, rate, 1, base_present=False), rel=1e-6)
    assert predicted(1000, 4, rate, alone=True) < 0.6 * predicted(1000, 1, rate, alone=True)
    hit = calibrated(True)
    assert predicted(10, 4, hit, alone=True) > predicted(10, 1, hit, alone=True)
