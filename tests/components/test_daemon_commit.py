"""``docker commit`` (Daemon.commit, dsim/components/daemon_api.py) against the legacy builder's commit rule it shares
(build_steps.classic_commit), worked out by hand, with moby's graphdriver image store (the containerd store's commit:
test_containerd_commit.py).

``app:1`` is 65 MB unpacked (25 + 40). A container of it writes 30 MB and exits; its commit then costs, on an idle
host with free API calls: the naive diff's walk of both trees, (2 x 65 + 30) MB / 20 kB a file x 24 us = 0.192 s
(none with native diff); the diff's tar digested while written, max(30 MB / hash_rate, 30 MB / 100 MB/s) = 0.3 s;
and dockerd's own 0.14 s (``daemon.classic_commit``). The new layer is 30 MB unpacked, 30 MB / 2.7 = 11,111,111
bytes compressed (an estimate, whole bytes), on top of app's two. The commit then closes the diff (moby
``daemon/images/image_commit.go``, ``exportContainerRw``): with naive diff it waits for the next whole second after
the diff began (``daemon/graphdriver/fsdiff.go``), and it unmounts the read-write layer it mounted, which syncs the
filesystem, unless the container runs (its rootfs mounted already, the commit's mount nested).
"""

from __future__ import annotations

import math

import pytest

from dsim.components.container import RUNNING
from dsim.domain.containers import ContainerSpec
from dsim.domain.hosts import SHA256_AVX2 as HASH
from dsim.domain.refs import normalise
from dsim.scenarios.loader import load_scenario_text
from dsim.scenarios.model import CreateStep
from dsim.scenarios.to_domain import container_spec
from dsim.world import World
from tests.components.test_daemon_api import run

SCENARIO = """
name: commit
registries:
  reg: {bandwidth: 1GB/s, latency: 1ms}
images:
  base:1: {registry: reg, layers: [{size: 10MB, uncompressed: 25MB}]}
  app:1: {registry: reg, from: "base:1", layers: [{size: 20MB, uncompressed: 40MB}]}
hosts:
  h: {disk: 1GB, nic: inf, daemon: {api_service_time: 0s, image_store: graphdriver},
      storage: {write_rate: 100MB/s, dirty_ratio: 0, overlay_diff: DIFF}}
"""


def writer() -> ContainerSpec:
    return container_spec(CreateStep.model_validate({"image": "app:1", "name": "w", "writes": "30MB",
                                                     "duration": "1s"}))


@pytest.mark.parametrize(("diff", "walk"), [("native", 0.0), ("naive", (2 * 65e6 + 30e6) / 20e3 * 24e-6)])
def test_commit_costs_the_diff_the_written_layer_and_dockerds_step(diff: str, walk: float) -> None:
    built = World(load_scenario_text(SCENARIO.replace("DIFF", diff), serving=True))
    daemon = built.daemons["h"]
    run(built, daemon.pull("app:1", job=1))
    container = run(built, daemon.create(writer(), job=2))
    run(built, daemon.start(container, job=3))
    built.env.run(container.process)  # it writes its 30 MB, runs its second and exits
    # the commit begins half a second into a whole second, so a naive diff (0.19 + 0.3 s) closes past the next one
    built.env.run(until=math.floor(built.env.now) + 1.5)
    used = daemon.store.disk_used
    began = built.env.now
    image = run(built, daemon.commit(container, "me/snap:1", job=4))
    expected = walk + max(30e6 / HASH, 30e6 / 100e6) + 0.14
    # the commit ends past the next whole second after its diff began: a naive diff's close waits for nothing
    assert diff == "native" or math.floor(began) + 1 <= began + expected
    assert built.env.now - began == pytest.approx(expected, rel=1e-9)
    assert image.ref == normalise("me/snap:1") and daemon.store.image(image.ref) == image
    app = daemon.store.image("app:1")
    assert app is not None and image.layers[:2] == app.layers
    assert (image.layers[2].uncompressed, image.layers[2].size) == (30e6, 11_111_111)
    assert daemon.store.disk_used == pytest.approx(used + 30e6)


def test_an_untouched_container_commits_no_layer_and_a_dangling_image() -> None:
    """Its diff is empty: moby's graphdriver store adds no layer for it (``image.NewChildImage``: the config's
    rootfs grows only when ``layer.IsEmpty(diffID)`` is false), but dockerd's step is paid."""
    built = World(load_scenario_text(SCENARIO.replace("DIFF", "native"), serving=True))
    daemon = built.daemons["h"]
    run(built, daemon.pull("app:1", job=1))
    container = run(built, daemon.create(container_spec(CreateStep.model_validate({"image": "app:1"})), job=2))
    began = built.env.now
    image = run(built, daemon.commit(container, None, job=3))
    assert built.env.now - began == pytest.approx(0.14)
    app = daemon.store.image("app:1")
    assert app is not None and image.ref.startswith("<none>@") and image.layers == app.layers


def test_files_a_command_writes_join_the_layer_and_its_commit() -> None:
    """ContainerStorage.write_files: /a (10 bytes) and /etc/app.conf (an image file: copied up, 4 bytes) grow the
    layer by 14 bytes; /a rewritten at 6 bytes shrinks it by 4. The commit's layer is the 10 bytes left."""
    built = World(load_scenario_text(SCENARIO.replace("DIFF", "native"), serving=True))
    daemon = built.daemons["h"]
    run(built, daemon.pull("app:1", job=1))
    container = run(built, daemon.create(container_spec(CreateStep.model_validate({"image": "app:1"})), job=2))
    storage = daemon.runtime.storage
    run(built, storage.write_files(container, {"/a": 10, "/etc/app.conf": 4}, image_paths={"/etc/app.conf"}))
    assert storage.written(container.id) == 14
    assert {("/a", 1), ("/etc/app.conf", 0)} <= set(storage.changes(container.id))  # added; changed (copied up)
    run(built, storage.write_files(container, {"/a": 6}))
    assert storage.written(container.id) == 10
    image = run(built, daemon.commit(container, "me/files:1", job=3))
    assert image.layers[-1].uncompressed == 10


PAGE_CACHE = SCENARIO.replace("h: {disk: 1GB,", "h: {disk: 1GB, memory: 10GB,").replace(", dirty_ratio: 0", "")


def test_a_stopped_containers_commit_syncs_when_it_unmounts_the_layer_and_a_running_ones_does_not() -> None:
    """With a page cache (10 GB: bg_thresh 1 GB, nothing written back before a sync). Stopped: the container's
    30 MB went to the disk at its exit's sync; the commit digests its 30 MB (30 MB / hash_rate) while they go into the
    page cache, 0.14 s, then unmounts the read-write layer it mounted (exportContainerRw): the sync writes them,
    0.3 s. Running: its rootfs is mounted, the commit's mount is nested and nothing unmounts: 30 MB / h + 0.14 s,
    the container's 30 MB and the commit's left dirty."""
    built = World(load_scenario_text(PAGE_CACHE.replace("DIFF", "native"), serving=True))
    daemon = built.daemons["h"]
    run(built, daemon.pull("app:1", job=1))
    container = run(built, daemon.create(writer(), job=2))
    run(built, daemon.start(container, job=3))
    built.env.run(container.process)  # it writes its 30 MB, runs its second and exits (syncing them)
    began = built.env.now
    run(built, daemon.commit(container, "me/stopped:1", job=4))
    assert built.env.now - began == pytest.approx(30e6 / HASH + 0.14 + 30e6 / 100e6, rel=1e-9)

    built = World(load_scenario_text(PAGE_CACHE.replace("DIFF", "native"), serving=True))
    daemon = built.daemons["h"]
    run(built, daemon.pull("app:1", job=1))
    container = run(built, daemon.create(container_spec(CreateStep.model_validate(
        {"image": "app:1", "name": "w", "writes": "30MB", "duration": "100s"})), job=2))
    run(built, daemon.start(container, job=3))
    built.env.run(until=built.env.now + 1.0)  # its process has written its 30 MB (into the page cache)
    assert container.state == RUNNING and daemon.runtime.storage.written(container.id) == 30e6
    began = built.env.now
    run(built, daemon.commit(container, "me/running:1", job=4))
    assert built.env.now - began == pytest.approx(30e6 / HASH + 0.14, rel=1e-9)


def test_a_naive_commit_ends_no_earlier_than_the_next_whole_second_after_its_diff_began() -> None:
    """Naive diff, an untouched created container: the walk of both trees, 2 x 65 MB / 20 kB x 24 us = 0.156 s,
    and 0.14 s; then the diff's close waits until floor(start) + 1 (moby fsdiff.go, NaiveDiffDriver.Diff)."""
    built = World(load_scenario_text(SCENARIO.replace("DIFF", "naive"), serving=True))
    daemon = built.daemons["h"]
    run(built, daemon.pull("app:1", job=1))
    container = run(built, daemon.create(container_spec(CreateStep.model_validate({"image": "app:1"})), job=2))
    built.env.run(until=2.5)  # the commit's diff begins at 2.5 s: it may end no earlier than 3 s
    began = built.env.now
    walk = 2 * 65e6 / 20e3 * 24e-6
    assert began + walk + 0.14 < math.floor(began) + 1  # the wait binds
    run(built, daemon.commit(container, None, job=3))
    assert built.env.now == pytest.approx(3.0, rel=1e-9) == pytest.approx(math.floor(began) + 1, rel=1e-9)
