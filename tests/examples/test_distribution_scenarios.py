"""The distribution scenarios keep the figures their stories state (worked out in each file's comments).

Image sizes are the catalog's real manifests (docs/real-docker.md "The image catalog"): python:3.12 is
410,908,459 bytes in 7 layers and 1.11 GB unpacked.
"""

from __future__ import annotations

import statistics
from collections import Counter

import pytest

from dsim.api import load_scenario, simulate
from dsim.domain.hosts import APPLY_PER_FILE, APPLY_RATE
from dsim.domain.hosts import COMPRESS_RATE as GZIP
from dsim.domain.hosts import SHA256_AVX2 as HASH
from dsim.result import SimResult
from dsim.scenarios.catalog import lookup
from tests.helpers import ROOT
from tests.validation.fleet import download_times, fleet_result

PYTHON = 410_908_459
GUNZIP = 200 * 2**20  # dsim's default gzip rate, bytes of output per second


def run(name: str, *overrides: str) -> SimResult:
    return simulate(load_scenario(ROOT / "scenarios" / f"{name}.yaml", overrides=overrides))


def pulls(result: SimResult, workload: str) -> list[float]:
    return [job.phases["pull"] for job in result.jobs if job.workload == workload]


def test_rate_limit_rejects_the_pulls_over_one_addresss_hundred() -> None:
    """108 manifest GETs at 09:00 from one NAT address: 100 pass, the last 8 (python on nodes 29-36) get
    429; at 10:00 the 6-hour window is still full: all 36 of the new version are rejected (44 in all)."""
    result = run("rate-limit")
    assert result.summary()["registries"]["hub"]["rejected_429"] == 44
    failed = sorted(job.host for job in result.jobs if job.status == "failed" and job.workload == "app")
    assert failed == [f"node-{i}" for i in range(29, 37)]
    assert Counter(job.workload for job in result.jobs if job.status == "failed") == {"app": 8, "app-v2": 36}
    assert {job.error for job in result.jobs if job.status == "failed"} == {
        "Error response from daemon: toomanyrequests: You have reached your pull rate limit. You may increase "
        "the limit by authenticating and upgrading: https://www.docker.com/increase-rate-limit"}
    own = run("rate-limit", "hosts.node.address=")
    assert own.summary()["registries"]["hub"]["rejected_429"] == 0


def test_registry_mirror_helps_the_warm_wave_not_the_cold_burst() -> None:
    """Wave 1: 20 unmerged misses per blob, so Docker Hub sends 20 images through the 1 Gbps uplink (no pull
    before 8.22 GB / 125 MB/s = 65.7 s); wave 2: 140 hits, the uplink idle, pulls far faster."""
    result = run("registry-mirror")
    registries = result.summary()["registries"]
    assert registries["hub"]["bytes_sent"] == 20 * PYTHON
    assert (registries["mirror"]["hits"], registries["mirror"]["misses"]) == (140, 140)
    assert registries["mirror"]["bytes_received"] == 20 * PYTHON
    assert min(pulls(result, "ci-0900")) >= 20 * PYTHON / 125e6
    assert max(pulls(result, "ci-0930")) < 20
    # wave 2 cannot beat the mirror's 10 Gbps link: 20 images / 1.25 GB/s
    assert min(pulls(result, "ci-0930")) >= 20 * PYTHON / 1.25e9

    without = run("registry-mirror", "hosts.wave1.daemon.registry_mirrors=[]",
                  "hosts.wave2.daemon.registry_mirrors=[]")
    assert without.summary()["registries"]["hub"]["bytes_sent"] == 40 * PYTHON
    assert min(pulls(without, "ci-0930")) >= 20 * PYTHON / 125e6

    merged = run("registry-mirror", "registries.mirror.merge_misses=true")
    assert merged.summary()["registries"]["hub"]["bytes_sent"] == PYTHON
    assert max(pulls(merged, "ci-0900")) < 20


def test_lazy_pull_starts_the_container_after_the_prefetch() -> None:
    """Lazy hosts: API call 2 ms, resolve 7 x 50 ms (Docker Hub: HEAD 401, token, HEAD, GET index, GET the
    platform's manifest, config GET answered 307, config from the CDN; rtt 0, so no handshakes), the range
    GETs' 307 and CDN request (2 x 50 ms), the 6.4% prefetch of all 7 layers over the 1 Gbps NIC (7 streams
    of 17.9 MB/s each, under Hub's 193 MB/s per-connection cap; the largest finishes last, when all 26.3 MB
    are in), and gunzip of 6.4% of the largest layer. Full hosts: at least the resolve and 1.11 GB of gunzip."""
    result = run("lazy-pull")
    layers = lookup("python:3.12").layers  # type: ignore[union-attr]
    prefetch = 0.064
    expected = (0.002 + 7 * 0.05 + 2 * 0.05 + prefetch * sum(layer.size for layer in layers) / 125e6
                + prefetch * max(layer.uncompressed for layer in layers) / GUNZIP)
    assert pulls(result, "cold-lazy") == [pytest.approx(expected)] * 10
    assert expected < 1.0
    assert min(pulls(result, "cold-full")) >= 0.352 + 1.11e9 / GUNZIP
    assert result.summary()["registries"]["hub"]["bytes_sent"] == 20 * PYTHON
    assert all(job.status == "completed" for job in result.jobs)


def test_p2p_fleet_downloads_at_the_speed_limit() -> None:
    """2,600 agents at 300 MB/s: both 1.5 GB blobs in after 4 requests of 1 ms + 3 GB / 300 MB/s = 10.004 s,
    into the 16 GiB host's page cache as they come: past its background threshold (1.6 GiB) at 5.7 s, where the
    disk's 400 MiB/s, faster than they come, keeps them; so containerd's content store fsyncs 1.6 GiB of them at
    the commits, 4.096 s;
    then two layers of 4.05 GB unpack one after the other, each bound by its apply beside the inflate (the tar's
    digest, its bytes at 555 MB/s and its 202,500 entries of 20 KB at 113 us: docs/distribution.md, What a pull's
    bytes cost; the page cache holds back the part beyond its setpoint at the disk's pace, faster): + 2 x 39.2 s.
    The origins serve only the stripes no peer could (the first hosts'): under 1% of the 7.8 TB moved."""
    result = fleet_result()
    ends = [end for _, end in download_times(result).values()]
    assert len(ends) == 2600
    downloaded = 10.004 + 0.1 * 16 * 2**30 / (400 * 2**20)
    assert statistics.median(ends) == pytest.approx(downloaded)
    layer = 1.5e9 * 2.7
    apply = layer / HASH + layer / APPLY_RATE["containerd"] + layer / 20e3 * APPLY_PER_FILE["containerd"]
    assert apply > layer / GUNZIP
    assert result.phase_samples("pull") == [pytest.approx(downloaded + 2 * apply)] * 2600
    registry = result.summary()["registries"]["origin"]
    assert registry["bytes_sent"] + registry["bytes_from_peers"] == 2600 * 3_000_000_000
    assert registry["bytes_sent"] < 0.01 * 2600 * 3_000_000_000


def test_disk_pressure_collects_least_recently_used_images() -> None:
    """09:15: node:20 (1.50 GB) would take 4.21 GB to 5.71 GB > 4.25 GB: GC removes python:3.12 and node:22
    down to 1.15 GB <= 4.0 - 1.50; 09:25: python (1.52 GB) would take 3.26 to 4.78: GC removes golang.
    In the end: golang gone, node:20 + postgres + python = 3.63 GB. Without GC, node:20 and postgres fail."""
    def on_disk(ref: str) -> float:
        return sum(layer.size + layer.uncompressed for layer in lookup(ref).layers)  # type: ignore[union-attr,misc]

    result = run("disk-pressure")
    assert [job.status for job in result.jobs] == ["completed"] * 6
    assert [span.attrs["removed"] for span in result.spans_of("gc")] == [["python:3.12", "node:22"],
                                                                         ["golang:1.25"]]
    final = on_disk("node:20") + on_disk("postgres:16") + on_disk("python:3.12")
    assert result.summary()["hosts"]["runner"]["disk_used_bytes"] == round(final)

    without = run("disk-pressure", "hosts.runner.gc=")
    failed = {job.workload: job.error for job in without.jobs if job.status == "failed"}
    assert set(failed) == {"node20", "postgres"}
    assert all(error.endswith("no space left on device") for error in failed.values())


def test_fleet_rollout_four_capped_streams_halve_a_one_layer_rollout() -> None:
    """scenarios/fleet-rollout.yaml: one 1 GB layer over one 45.8 MB/s stream (21.8 s), then containerd's
    fsync of the blob at 250 MB/s (4.0 s), then the unpack: no inflate (compression none), the digest of its tar
    stream at the nodes' 1.49 GB/s (0.7 s; the files go into the page cache), after about 1.2 s of round trips;
    four layers: three streams at once (5.5 s) whose three fsyncs share the disk (3 x 250 MB: 3 s) before their
    slots free, then the fourth (5.5 s), its fsync (1.0 s) and its digest (0.2 s; the first three's are done
    while it downloads). Every node alike: 50 capped streams leave the registry idle."""
    result = run("fleet-rollout")
    one, four = pulls(result, "one-layer"), pulls(result, "four-layers")
    assert len(one) == len(four) == 50
    assert len({job.host for job in result.jobs if job.workload == "one-layer"}) == 50
    transfer_one = 1e9 / 45.8e6 + 1e9 / 250e6 + 1e9 / 1.49e9
    transfer_four = 2 * 250e6 / 45.8e6 + 3 * 250e6 / 250e6 + 250e6 / 250e6 + 250e6 / 1.49e9
    for times, transfer in ((one, transfer_one), (four, transfer_four)):
        assert max(times) - min(times) < 1e-6  # the registry's egress never binds: 50 nodes as one
        assert transfer < min(times) < transfer + 1.5  # the round trips: about 1.2 s
    assert max(four) < 0.6 * min(one)


def test_fleet_rollout_through_a_10_gbps_registry_waits_for_its_egress() -> None:
    """The what-if: 50 x 1 GB through 1.25 GB/s takes at least 40 s for everyone."""
    result = run("fleet-rollout", "registries.ghcr.bandwidth=10Gbps")
    assert min(pulls(result, "one-layer")) >= 50 * 1e9 / 1.25e9
    assert min(pulls(result, "four-layers")) >= 50 * 1e9 / 1.25e9


def test_image_store_trades_the_containerd_stores_disk_and_commit_for_its_push() -> None:
    """scenarios/image-store.yaml: python:3.12 (410.9 MB of blobs, 1,110 MB unpacked), 300 MB written by the setup
    container and committed. Disk: the graphdriver store holds the unpacked layers, the writable layer and the
    committed layer; containerd's also every blob and the commit's (300 MB / 2.7, whole bytes). Commit:
    graphdriver digests the 300 MB (hash_rate) into the page cache, 0.14 s, then syncs them at 400 MiB/s;
    containerd walks both trees (2,520 MB of 20 kB files at 24 us) beside the gzip (100 MiB/s) and the two
    digests, fsyncs the blob, applies it (the inflate at 200 MiB/s beside the apply, its 15,000 entries of 20 KB
    the longer), 0.14 s; each after its 2 ms API call. Push:
    graphdriver gzips every layer again, the largest (638,378,465 bytes unpacked) alone 6.1 s; containerd sends
    its 522 MB of blobs through the 1 Gbps NIC."""
    layers = lookup("python:3.12").layers  # type: ignore[union-attr]
    unpacked = sum(layer.uncompressed for layer in layers)
    written, blob = 300e6, round(300e6 / 2.7)
    result = run("image-store")
    assert [job.status for job in result.jobs] == ["completed"] * 2
    disk = {host: figures["disk_used_bytes"] for host, figures in result.summary()["hosts"].items()}
    assert disk == {"legacy": round(unpacked + 2 * written),
                    "docker29": round(unpacked + 2 * written + PYTHON + blob)}
    commit = {span.host: span.end - span.start for span in result.spans_of("commit")}
    sync, api = 400 * 2**20, 0.002  # the disk's write rate; the commit's API call (api_service_time)
    assert commit["legacy"] == pytest.approx(api + written / HASH + 0.14 + written / sync, rel=1e-6)
    deflate = max((2 * unpacked + written) / 20e3 * 24e-6, written / GZIP + (written + blob) / HASH)
    apply = written / HASH + written / APPLY_RATE["containerd"] + written / 20e3 * APPLY_PER_FILE["containerd"]
    assert commit["docker29"] == pytest.approx(api + deflate + blob / sync + max(written / GUNZIP, apply) + 0.14,
                                               rel=0.01)
    push = {span.host: span.end - span.start for span in result.spans_of("push")}
    assert push["legacy"] >= max(layer.uncompressed for layer in layers) / GZIP
    # containerd's 522 MB share the registry's 1 Gbps with the graphdriver push that begins meanwhile
    legacy = sum(float(span.attrs["bytes"]) for span in result.spans_of("upload") if span.host == "legacy")
    assert (PYTHON + blob) / 125e6 <= push["docker29"] <= 1.25 * (PYTHON + blob + legacy) / 125e6
    # the graphdriver job ends later since session 58: dockerd's applier costs 240 us a tar entry and 435 MB/s
    # against containerd's 113 us and 555 MB/s (docs/distribution.md, What a pull's bytes cost), so its pull of
    # python:3.12's 55,500 entries takes about 7.5 s more, more than containerd's slower commit
    jobs = {job.workload: job.duration_s for job in result.jobs}
    assert jobs["containerd"] < jobs["graphdriver"]
