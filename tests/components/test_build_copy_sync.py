"""Where a build's COPY mounts, writes and syncs, against times worked out by hand (docs/build.md: Execution).

- The legacy builder's COPY/ADD (Docker 17.07 and later: moby builder/dockerfile/internals.go ``performCopy``) makes
  no container: no create (runtime.create), no init layer and so no sync before the copy. A read-write layer on
  the image is mounted (runtime.mount, 20 ms), the file copied into it, the layer committed (its tar written again,
  classic_commit 140 ms), and only then unmounted (the deferred ``rwLayer.Release()``): one sync, after the commit,
  waiting for every dirty byte, the context's, the copy's and the commit's. ``daemon.classic_copy: container``
  gives Docker 1.3-1.9's order: a container created (its init layer synced) before the copy, its rootfs
  unmounted after the commit.
- BuildKit's COPY and WORKDIR are FileOps (moby/buildkit solver/llbsolver/file/backend.go): the new snapshot is
  mounted for the action and unmounted after it, and that unmount syncs. A snapshot with no parent (``FROM
  scratch``) is a plain directory: no mount, no sync.

Simple figures: the context is one 100 MB file; the disk writes 100 MB/s; hashing is free (``hash_rate: inf``);
the host's 10 GB put bg_thresh at 1 GB, so nothing is written back before someone syncs, and with
``dirty_ratio: 0`` every write goes to the disk as it is made. The base image (alpine, fewer than 7 layers) mounts
in runtime.mount alone.
"""

from __future__ import annotations

from typing import Any

import pytest

from dsim.result import SimResult
from tests.components.test_build_cache import BASE, build, completed, job, run

MB = 1e6
W = 100 * MB  # the disk's write rate
FILE = 100 * MB  # the context's one file, copied
MOUNT, CREATE, COMMIT = 0.02, 0.06, 0.14  # runtime.mount, runtime.create, daemon.classic_commit
CONTEXT = {"app": {"files": {"big.bin": "100MB"}}}


def host(*, dirty_ratio: float | None = None, classic_copy: str | None = None,
         image_store: str = "graphdriver") -> dict[str, Any]:
    """The build host, with moby's graphdriver image store unless told (the containerd store's legacy COPY:
    test_containerd_commit.py)."""
    storage: dict[str, Any] = {"write_rate": "100MB/s", "hash_rate": "inf"}
    if dirty_ratio is not None:
        storage["dirty_ratio"] = dirty_ratio
    daemon = {"image_store": image_store}
    if classic_copy is not None:
        daemon["classic_copy"] = classic_copy
    return {"dev": {"cpus": 4, "memory": "10GB", "preloaded": [BASE], "storage": storage, "daemon": daemon}}


def step_seconds(dockerfile: str, builder: str, **host_options: Any) -> dict[str, float]:
    """Each executed build step's time from its start (after its inputs) to its end."""
    result: SimResult = run({"dev": job(build(dockerfile, builder=builder))}, contexts=CONTEXT,
                            hosts=host(**host_options))
    completed(result)
    return {s.subject: s.end - s.attrs["began"] for s in result.spans_of("build_step") if not s.attrs["cached"]}


COPY_ON_BASE = f"FROM {BASE}\nCOPY big.bin /\n"


def test_a_legacy_copy_makes_no_container_and_syncs_once_after_its_commit() -> None:
    # the context's 100 MB are dirty when the COPY starts; no create and no init-layer sync: the mount, the copy
    # (100 MB into the page cache), the commit (100 MB more, 0.14 s), then the unmount's sync of all 300 MB.
    # (A sync before the commit would leave its 100 MB dirty: 0.02 + 2 + 0.14 s; a step container would add its
    # create and its init layer's sync of the context before the copy: 0.06 + 1 s.)
    steps = step_seconds(COPY_ON_BASE, "classic")
    assert steps["COPY big.bin /"] == pytest.approx(MOUNT + COMMIT + 3 * FILE / W, rel=1e-9)


def test_docker_before_17_07_copies_in_a_container() -> None:
    # classic_copy: container: the create (0.06 s) and its init layer's sync of the context (1 s), the copy, the
    # commit (0.14 s), then the rootfs's unmount syncs the copy's and the commit's 200 MB (2 s)
    steps = step_seconds(COPY_ON_BASE, "classic", classic_copy="container")
    assert steps["COPY big.bin /"] == pytest.approx(CREATE + FILE / W + COMMIT + 2 * FILE / W, rel=1e-9)


def test_a_legacy_copy_without_a_page_cache_writes_as_it_goes() -> None:
    # dirty_ratio 0: the context was written as it landed; the copy and the commit each take 1 s at the disk,
    # and the sync finds nothing left
    steps = step_seconds(COPY_ON_BASE, "classic", dirty_ratio=0)
    assert steps["COPY big.bin /"] == pytest.approx(MOUNT + 2 * FILE / W + COMMIT, rel=1e-9)


def test_a_legacy_copy_on_scratch_mounts_nothing_and_syncs_nothing() -> None:
    # a layer with no parent is a plain directory (overlay2 Get mounts nothing): the commit's 0.14 s alone
    steps = step_seconds("FROM scratch\nCOPY big.bin /\n", "classic")
    assert steps["COPY big.bin /"] == pytest.approx(COMMIT, rel=1e-9)


def test_a_buildkit_copy_syncs_when_its_snapshot_is_unmounted() -> None:
    # the copy's 100 MB into the page cache at once, then the unmount syncs them with the context's: 2 s
    steps = step_seconds(COPY_ON_BASE, "buildkit")
    assert steps["COPY big.bin /"] == pytest.approx(2 * FILE / W, rel=1e-9)


def test_a_buildkit_fileop_on_scratch_does_not_sync_and_the_next_one_does() -> None:
    # COPY onto scratch: a snapshot with no parent, no mount: the 100 MB stay dirty, 0 s. WORKDIR's mkdir mounts
    # the next snapshot (on the COPY's layer) and its unmount syncs the context's and the copy's 200 MB: 2 s
    steps = step_seconds("FROM scratch\nCOPY big.bin /\nWORKDIR /app\n", "buildkit")
    assert steps["COPY big.bin /"] == 0.0
    assert steps["WORKDIR /app"] == pytest.approx(2 * FILE / W, rel=1e-9)
