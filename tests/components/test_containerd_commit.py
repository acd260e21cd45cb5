"""Commits under the containerd image store (Docker 29's default), against times worked out by hand
(layer_work.py ``containerd_diff`` and ``apply``; docs/build.md: Commit and hashing).

moby's containerd image service commits a container (``docker commit``, the legacy builder's step containers:
``daemon/containerd/image_commit.go``) through containerd's walking differ, which walks both trees whatever the
kernel's overlay diff, pipes the changes' tar through Go's gzip and two sha256 digests (the tar's and the blob's)
on one core beside the walk, and commits the blob (fsync); the blob is then applied into a new snapshot like a
pulled layer (inflate beside the tar's digest, the files written again). An empty diff makes no layer. A legacy
COPY's layer (``rwlayer.Commit``) is unmounted first (a sync), committed in place and diffed: no apply. No
naive-diff wait, and the differ's read-only mounts sync nothing.

Figures: app:1 is 65 MB unpacked (25 + 40); a container writes 30 MB. The defaults: hash_rate 448.62 MB/s,
compress_rate 100 MiB/s, gzip inflate 200 MiB/s (an external igzip/unpigz beside the digest), file_size 20 kB,
walk_per_file 24 us, daemon.classic_commit 0.14 s; the disk writes 100 MB/s. The blob is 30 MB / 2.7 =
11,111,111 bytes (dsim's estimate for a local layer, whole bytes).
"""

from __future__ import annotations

import pytest

from dsim.components.container import RUNNING
from dsim.domain.hosts import APPLY_PER_FILE, APPLY_RATE
from dsim.domain.hosts import COMPRESS_RATE as GZIP
from dsim.domain.hosts import SHA256_AVX2 as HASH
from dsim.domain.images import DEFAULT_UNCOMPRESSED_RATIO
from dsim.scenarios.loader import load_scenario_text
from dsim.scenarios.model import CreateStep
from dsim.scenarios.to_domain import container_spec
from dsim.world import World
from tests.components.test_build_copy_sync import COPY_ON_BASE, step_seconds
from tests.components.test_daemon_api import run
from tests.components.test_daemon_commit import SCENARIO, writer
from tests.components.test_layer_work import CONTAINER, builds, simulate

MB = 1e6
WRITTEN = 30 * MB
BLOB = round(WRITTEN / DEFAULT_UNCOMPRESSED_RATIO)
INFLATE, W = 200 * 2**20, 100 * MB
WALK = (2 * 65 * MB + WRITTEN) / 20e3 * 24e-6  # both trees: the image's files and the container's
DEFLATE = WRITTEN / GZIP + (WRITTEN + BLOB) / HASH  # gzip, the tar's digest, the blob's digest: one goroutine
COMMIT = 0.14

CONTAINERD = SCENARIO.replace("image_store: graphdriver", "image_store: containerd").replace("DIFF", "native")
PAGE_CACHE = CONTAINERD.replace("h: {disk: 1GB,", "h: {disk: 1GB, memory: 10GB,").replace(", dirty_ratio: 0", "")


def committed(scenario: str, *, running: bool = False) -> tuple[World, float, object]:
    """The commit of a container that wrote 30 MB (exited, or still running): the world, its time and the image."""
    built = World(load_scenario_text(scenario, serving=True))
    daemon = built.daemons["h"]
    run(built, daemon.pull("app:1", job=1))
    spec = container_spec(CreateStep.model_validate({"image": "app:1", "name": "w", "writes": "30MB",
                                                     "duration": "100s" if running else "1s"}))
    container = run(built, daemon.create(spec, job=2))
    run(built, daemon.start(container, job=3))
    if running:
        built.env.run(until=built.env.now + 1.0)  # its 30 MB written, still running
        assert container.state == RUNNING
    else:
        built.env.run(container.process)
    began = built.env.now
    image = run(built, daemon.commit(container, "me/snap:1", job=4))
    return built, built.env.now - began, image


def test_a_commit_walks_both_trees_gzips_beside_the_walk_and_applies_the_blob() -> None:
    # no page cache (dirty_ratio 0): the walk (0.192 s) beside the deflate (0.947 s); the blob's 11.1 MB went to
    # the disk as it came (0.111 s of the 0.947); the apply inflates in 0.143 s beside its digest (0.039 s) but
    # writes 30 MB at the disk's pace, 0.3 s; then dockerd's 0.14 s
    built, seconds, image = committed(CONTAINERD)
    assert WALK < DEFLATE
    assert seconds == pytest.approx(DEFLATE + WRITTEN / W + COMMIT, rel=1e-9)
    daemon = built.daemons["h"]
    new = image.layers[-1]  # type: ignore[attr-defined]
    assert (new.uncompressed, new.size) == (WRITTEN, BLOB)
    assert daemon.store.has_blob(new.digest) and daemon.store.has_layer(new.chain_id)


def test_a_commit_syncs_only_its_blob_and_leaves_the_containers_files_dirty() -> None:
    # with a page cache: the same CPU work; the blob's fsync writes its 11.1 MB (0.111 s); the apply's files go
    # into the page cache and stay dirty, in the longer of the inflate (0.143 s) and the apply beside it (the tar's
    # digest, its bytes at apply_rate, its 1,500 entries of 20 KB: 0.291 s); nothing unmounts a read-write layer, so
    # a running container's 30 MB stay dirty too (a stopped one's were synced at its exit)
    apply = WRITTEN / HASH + WRITTEN / APPLY_RATE["containerd"] + WRITTEN / 20e3 * APPLY_PER_FILE["containerd"]
    for running in (False, True):
        built, seconds, _ = committed(PAGE_CACHE, running=running)
        assert seconds == pytest.approx(DEFLATE + BLOB / W + max(WRITTEN / INFLATE, apply) + COMMIT, rel=1e-9)
        dirty = built.daemons["h"].runtime.storage.disk.dirty
        assert dirty == pytest.approx(WRITTEN * (2 if running else 1), rel=1e-9)


def test_an_untouched_containers_commit_walks_and_makes_no_layer() -> None:
    # createDiff finds the archive empty: the walk of both trees (2 x 65 MB / 20 kB x 24 us) and dockerd's step;
    # the image has app's two layers and no third
    built = World(load_scenario_text(CONTAINERD, serving=True))
    daemon = built.daemons["h"]
    run(built, daemon.pull("app:1", job=1))
    container = run(built, daemon.create(writer(), job=2))
    began = built.env.now
    image = run(built, daemon.commit(container, None, job=3))
    assert built.env.now - began == pytest.approx(2 * 65 * MB / 20e3 * 24e-6 + COMMIT, rel=1e-9)
    app = daemon.store.image("app:1")
    assert app is not None and image.layers == app.layers and image.ref.startswith("<none>@")


def test_legacy_metadata_commits_walk_the_image_whatever_the_overlay_diff() -> None:
    # three ENVs on base:1 (270 MB unpacked, 270 files of 1 MB a tree): each commit walks 540 files at 2 ms, 1.08 s,
    # with native overlay diff too (the graphdriver store walks nothing then: test_layer_work.py)
    dockerfile = "FROM base:1\\nENV A=1\\nENV B=2\\nENV C=3\\n"
    walk = 2 * 100e6 * DEFAULT_UNCOMPRESSED_RATIO / 1e6 * 2e-3
    [seconds] = builds(simulate(storage="{file_size: 1MB, walk_per_file: 2ms}", dockerfile=dockerfile))
    assert seconds == pytest.approx(3 * (CONTAINER + walk), rel=1e-9)


@pytest.mark.parametrize(("cpus", "expected"), [
    # one core: the walk and the deflate share it (their sum), then the inflate and the digest (their sum)
    (1, 0.94 + (1.0 + 1.0 + 400e6 / DEFAULT_UNCOMPRESSED_RATIO / 400e6) + 400e6 / (200 * 2**20) + 1.0),
    # two: the walk beside the deflate, the longer counts; the inflate and the digest fill both cores, so the pipe
    # between them runs on one core half the shorter's time (``pipe_colocation``'s default there)
    (2, (1.0 + 1.0 + 400e6 / DEFAULT_UNCOMPRESSED_RATIO / 400e6) + 400e6 / (200 * 2**20) + 0.5 * 1.0),
])
def test_a_legacy_run_commit_is_diffed_gzipped_and_applied(cpus: int, expected: float) -> None:
    # RUN make writes 400 MB on base:1: the walk visits 270 + 670 files of 1 MB at 1 ms (0.94 s); gzip and hash at
    # 400 MB/s (1 s each) and the blob's digest; writes free; the apply inflates 400 MB at 200 MiB/s beside the
    # digest (1 s)
    storage = ("{file_size: 1MB, walk_per_file: 1ms, write_rate: inf, hash_rate: 400MB/s, compress_rate: 400MB/s, "
               "receive_rate: inf, apply_rate: inf, apply_per_file: 0s}")
    result = simulate(storage=storage, cpus=cpus, dockerfile="FROM base:1\\nRUN make\\n", push=True)
    [seconds] = builds(result)
    assert seconds == pytest.approx(CONTAINER + expected, rel=1e-9)
    # the push uploads the commit's blob as it is: nothing compressed at push
    assert not any(span.attrs["compressed_here"] for span in result.spans_of("upload"))


def test_a_legacy_copy_is_unmounted_before_its_diff_and_not_applied() -> None:
    # the context's 100 MB are dirty; the mount (0.02 s), the copy (100 MB into the page cache), the unmount's sync
    # of both (2 s), the diff: the walk of alpine beside the gzip of 100 MB at 100 MiB/s (hashing free here), the
    # blob's fsync (37 MB at 100 MB/s), dockerd's 0.14 s; the snapshot is committed in place: nothing written again
    seconds = step_seconds(COPY_ON_BASE, "classic", image_store="containerd")["COPY big.bin /"]
    deflate, blob = 100 * MB / GZIP, round(100 * MB / DEFAULT_UNCOMPRESSED_RATIO)
    assert seconds == pytest.approx(0.02 + 2 * 100 * MB / W + deflate + blob / W + COMMIT, rel=1e-9)
