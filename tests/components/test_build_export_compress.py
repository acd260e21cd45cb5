"""BuildKit's export compresses each new layer into a blob under the containerd image store, against times worked
out by hand (docs/build.md: Export).

dockerd with the containerd image store runs BuildKit's containerd worker (moby
``builder/builder-next/controller.go``, ``newSnapshotterController``); its image export gzips every new layer
into the content store, one goroutine per layer (BuildKit ``cache/blobs.go`` ``computeBlobChain``; Go's
compress/gzip, ``util/compression/gzip.go``), digests it and fsyncs the blob at its commit (containerd
``content/local/writer.go``). Under the graphdriver store the export registers the layers (``EnsureLayer``) and
a push compresses them.

Simple figures: a RUN leaves N = 64 MiB; gzip takes R = 32 MiB/s of input per core (one core per layer), so
N / R = 2 s; hashing is free (``hash_rate: inf``), the disk takes writes at once (``write_rate: inf``) and the
image's unpack into the snapshotter after the export costs nothing (``decompress_rate.gzip: inf``, and the apply's
bytes and entries left out: test_pull_costs.py has their closed forms) unless a test says otherwise. A built layer's
compressed size is dsim's estimate, C = round(N / 2.7) bytes.
"""

from __future__ import annotations

from typing import Any

import pytest

from dsim.domain.images import DEFAULT_UNCOMPRESSED_RATIO
from dsim.result import SimResult
from tests.components.test_build_cache import BASE, build, completed, job, run
from tests.helpers import PULL_COSTS_LEFT_OUT_MAP

MiB = 2**20
N = 64 * MiB
R = 32 * MiB
C = float(round(N / DEFAULT_UNCOMPRESSED_RATIO))
REGISTRY = {"reg": {"bandwidth": "100MB/s", "latency": "0s"}}


def simulate(dockerfile: str, *, store: str, cpus: int = 4, storage: dict[str, Any] | None = None,
             push: bool = False, memory: str = "16GB", count: int = 1) -> SimResult:
    sizes = {"make": "64MiB", "test": "64MiB"}
    steps: list[dict[str, Any]] = [build(dockerfile, context=None, tag="reg/app:1", run_times={"make": "1s",
                                                                                                "test": "1s"},
                                         layer_sizes=sizes)]
    if push:
        steps.append({"push": "reg/app:1"})
    hosts = {"dev": {"cpus": cpus, "memory": memory, "nic": "inf", "preloaded": [BASE],
                     "daemon": {"image_store": store, "api_service_time": "0s"},
                     "storage": {"write_rate": "inf", "hash_rate": "inf", "compress_rate": "32MiB/s",
                                 "decompress_rate": {"gzip": "inf"}, **PULL_COSTS_LEFT_OUT_MAP, **(storage or {})}}}
    result = run({"dev": job(*steps, count=count)}, contexts={}, hosts=hosts, registries=REGISTRY)
    completed(result)
    return result


def export_seconds(result: SimResult) -> float:
    [span] = result.spans_of("build_export")
    return float(span.duration)


def test_the_export_compresses_a_new_layer_under_the_containerd_store_only() -> None:
    # containerd: the export gzips the RUN's 64 MiB, N / R = 2 s; graphdriver (native diff, free checksum): no time
    one = f"FROM {BASE}\nRUN make\n"
    containerd = export_seconds(simulate(one, store="containerd"))
    graphdriver = export_seconds(simulate(one, store="graphdriver"))
    assert graphdriver == pytest.approx(0.0, abs=1e-12)
    assert containerd - graphdriver == pytest.approx(N / R, rel=1e-9)


def test_the_layers_of_a_chain_compress_at_once() -> None:
    # two new layers, one goroutine each: on 1 core they share it and both end at 2N / R = 4 s; on 2 cores each
    # has its own, N / R = 2 s (one after the other would be 4 s on either)
    two = f"FROM {BASE}\nRUN make\nRUN test\n"
    assert export_seconds(simulate(two, store="containerd", cpus=1)) == pytest.approx(2 * N / R, rel=1e-9)
    assert export_seconds(simulate(two, store="containerd", cpus=2)) == pytest.approx(N / R, rel=1e-9)


def test_concurrent_exports_of_one_layer_compress_it_once() -> None:
    # two identical builds at once on 1 core: BuildKit runs their RUN once, so both exports hold the same new
    # layer; the second waits for the first's blob: N / R each (compressed twice, sharing the core: 2N / R)
    result = simulate(f"FROM {BASE}\nRUN make\n", store="containerd", cpus=1, count=2)
    spans = result.spans_of("build_export")
    assert len(spans) == 2
    assert [float(span.duration) for span in spans] == pytest.approx([N / R] * 2, rel=1e-9)


def test_the_digests_add_to_the_deflate() -> None:
    # hash_rate H = 64 MiB/s: the tar's digest N / H = 1 s and the blob's C / H, in the same goroutine; then the
    # unpack into the snapshotter digests the tar stream again as it applies it, N / H (its inflate is free here)
    H = 64 * MiB
    seconds = export_seconds(simulate(f"FROM {BASE}\nRUN make\n", store="containerd",
                                      storage={"hash_rate": "64MiB/s"}))
    assert seconds == pytest.approx(N / R + N / H + C / H + N / H, rel=1e-9)


def test_the_blob_is_fsynced_when_it_is_committed() -> None:
    # write_rate W = 10 MiB/s, 16 GB of memory: the RUN's snapshot unmount synced its layer, so the blob is all
    # that is dirty; it stays in the page cache while it is written (far under bg_thresh, younger than 30 s),
    # and the commit's fsync writes it: N / R + C / W
    W = 10 * MiB
    seconds = export_seconds(simulate(f"FROM {BASE}\nRUN make\n", store="containerd",
                                      storage={"write_rate": "10MiB/s"}))
    assert seconds == pytest.approx(N / R + C / W, rel=1e-9)


def uploads(result: SimResult) -> list[tuple[float, bool]]:
    """(seconds, compressed_here) of each blob upload."""
    return [(float(span.duration), bool(span.attrs["compressed_here"])) for span in result.spans_of("upload")]


def test_a_push_after_the_export_uploads_the_blob_without_compressing_it() -> None:
    # FROM scratch, so the built layer is the only blob pushed. containerd: the blob exists, so the upload is the
    # transfer alone, C at 100 MB/s; graphdriver: the push gzips the layer as it sends it, and gzip's 2 s bound
    # the upload (C / 100 MB/s is about 0.25 s)
    containerd = simulate("FROM scratch\nRUN make\n", store="containerd", push=True)
    graphdriver = simulate("FROM scratch\nRUN make\n", store="graphdriver", push=True)
    assert C / 100e6 < N / R
    assert uploads(containerd) == [(pytest.approx(C / 100e6, rel=1e-9), False)]
    assert uploads(graphdriver) == [(pytest.approx(N / R, rel=1e-9), True)]


def test_the_export_then_unpacks_the_new_layers_into_the_snapshotter_in_chain_order() -> None:
    # "unpacking to REF": each new layer's blob applied, its inflate at 64 MiB/s (1 s for N) beside its digest
    # (free here), one layer after the other: one layer N / R + 1 s; two on 4 cores compress at once (N / R) then
    # unpack in turn (2 s); the graphdriver store unpacks nothing
    fast = {"decompress_rate": {"gzip": "64MiB/s"}}
    one, two = f"FROM {BASE}\nRUN make\n", f"FROM {BASE}\nRUN make\nRUN test\n"
    assert export_seconds(simulate(one, store="containerd", storage=fast)) == pytest.approx(N / R + 1.0, rel=1e-9)
    assert export_seconds(simulate(two, store="containerd", storage=fast)) == pytest.approx(N / R + 2.0, rel=1e-9)
    assert export_seconds(simulate(one, store="graphdriver", storage=fast)) == pytest.approx(0.0, abs=1e-12)


def test_concurrent_exports_of_one_layer_unpack_it_once() -> None:
    # two identical builds at once on 1 core: the second export waits for the first's blob (one compression, N / R)
    # and for its unpack (1 s of inflate), so both exports take N / R + 1 s
    fast = {"decompress_rate": {"gzip": "64MiB/s"}}
    result = simulate(f"FROM {BASE}\nRUN make\n", store="containerd", cpus=1, count=2, storage=fast)
    assert [float(span.duration) for span in result.spans_of("build_export")] == pytest.approx([N / R + 1.0] * 2,
                                                                                               rel=1e-9)
