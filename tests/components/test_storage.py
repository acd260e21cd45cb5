"""The writable layer and volumes on the host's disk (components/storage.py), against hand-worked rules."""

from __future__ import annotations

import textwrap
from dataclasses import replace

import pytest

from dsim.components.errors import ApiError
from dsim.distributions import constant
from dsim.domain.networking import MountSpec
from dsim.run import build_world
from dsim.scenarios.loader import load_scenario_text
from dsim.world import World
from tests.components.test_networks import drive, spec
from tests.helpers import run_text

ZERO = "{create: 0s, mount: 0s, netns: 0s, start: 0s, exec: 0s}"
MB = 1e6


def scenario(workloads: str, *, host: str = "") -> str:
    """One host (100 MB/s disk writes with no page cache, so every write goes at the disk's pace: disk.py; nginx
    local, runtime costs zero) and ``workloads`` (YAML)."""
    head = (
        "name: t\n"
        "hosts:\n"
        '  h: {cpus: 4, memory: 1GiB, daemon: {api_service_time: 0s, workers: 1000}, preloaded: ["nginx:1.25"],\n'
        f"      runtime: {ZERO}, storage: {{write_rate: 100MB/s, dirty_ratio: 0}}{host}}}\n"
        "workloads:\n"
    )
    return head + textwrap.indent(textwrap.dedent(workloads).strip("\n"), "  ") + "\n"


# ---------------------------------------------------------------- the writable layer

def test_copy_up_copies_the_whole_file_at_the_disks_write_rate_and_diff_counts_it() -> None:
    """A run changes one byte of a 100 MB image file: overlay2 copies the whole 100 MB file up first, at
    100 MB/s that is 1.0 s; then 50 MB of new files, 0.5 s more. docker diff: 50 MB added, 100 MB changed."""
    result = run_text(scenario("""
    w:
      arrival: {burst: 1}
      steps: [{run: {image: "nginx:1.25", copy_up: 100MB, writes: 50MB, duration: 1s}}]
    """))
    [copy] = result.spans_of("copy_up")
    assert copy.duration == pytest.approx(1.0)
    [write] = result.spans_of("write")
    assert write.duration == pytest.approx(1.5)
    assert (write.attrs["target"], write.attrs["added"], write.attrs["changed"]) == ("layer", 50 * MB, 100 * MB)
    [process] = result.spans_of("process")
    assert process.duration == pytest.approx(2.5)  # the writes, then the 1 s run


def test_two_containers_writing_at_once_share_the_disk() -> None:
    """Two runs each write 100 MB at t = 0 on a 100 MB/s disk: each gets 50 MB/s, both end at 2.0 s (one
    alone would take 1.0 s)."""
    result = run_text(scenario("""
    w:
      arrival: {burst: 2}
      steps: [{run: {image: "nginx:1.25", writes: 100MB}}]
    """))
    assert [round(s.duration, 9) for s in result.spans_of("write")] == [2.0, 2.0]


def test_the_writable_layer_is_on_the_disk_until_rm() -> None:
    """30 MB written at 100 MB/s (0.3 s), then the process runs 1 s and exits at 1.3 s; rm follows at once.
    At 0.5 s the disk holds 30 MB more than at 0; after the rm, the same as at 0."""
    w = build_world(load_scenario_text(scenario("""
    w:
      arrival: {burst: 1}
      steps:
        - run: {image: "nginx:1.25", name: a, writes: 30MB, duration: 1s}
        - rm: {}
    """)))
    store = w.daemons["h"].store
    before = store.disk_used
    w.env.run(until=0.5)
    assert store.disk_used == pytest.approx(before + 30 * MB)
    w.env.run(until=2.0)
    assert store.disk_used == pytest.approx(before)


# ---------------------------------------------------------------- volumes

def volumes_world(host: str = "") -> World:
    return build_world(load_scenario_text(scenario("""
    w:
      arrival: {times: [100000s]}
      steps: [{ps: {}}]
    """, host=host)))


def test_a_named_volume_outlives_rm_and_rm_v_removes_only_anonymous_ones() -> None:
    """Two containers mount the named volume 'data' and one anonymous volume each, writing 10 MB into
    'data' and 1 MB into the anonymous one per run. After both runs 'data' holds 20 MB; rm -v of both
    removes the two anonymous volumes (2 MB) and keeps 'data' with its 20 MB on the disk."""
    result = run_text(scenario("""
    w:
      arrival: {burst: 1}
      steps:
        - run: {image: "nginx:1.25", name: a, mounts: [{source: data, target: /data, writes: 10MB},
                                                      {target: /cache, writes: 1MB}]}
        - run: {image: "nginx:1.25", name: b, mounts: [{source: data, target: /data, writes: 10MB},
                                                      {target: /cache, writes: 1MB}]}
        - rm: {container: a, volumes: true}
        - rm: {container: b, volumes: true}
    """))
    [job] = result.jobs
    assert job.status == "completed", job.error
    writes = [s for s in result.spans_of("write") if s.attrs["target"] == "data"]
    assert [s.attrs["bytes"] for s in writes] == [10 * MB, 10 * MB]


def test_volume_rules_on_the_daemon() -> None:
    w = volumes_world(", volumes: [data]")
    daemon = w.daemons["h"]
    mounted = replace(spec("a"), mounts=(MountSpec("volume", "/data", "data", 40 * MB),), duration=constant(0.0))
    container = drive(w, daemon.create(mounted, job=1))
    drive(w, daemon.start(container, job=1))
    w.env.run(until=w.env.now + 1.0)  # the run writes 40 MB at 100 MB/s: 0.4 s, then exits
    store = daemon.store
    volume = drive(w, daemon.volume_inspect("data", job=1))
    assert volume.bytes == 40 * MB
    with pytest.raises(ApiError) as err:
        drive(w, daemon.volume_remove("data", job=1))
    assert (err.value.status, str(err.value)) == (409, f"remove data: volume is in use - [{container.id}]")
    used = store.disk_used
    drive(w, daemon.rm(container, job=1, volumes=True))
    assert drive(w, daemon.volume_inspect("data", job=1)).bytes == 40 * MB  # named: survives rm -v
    drive(w, daemon.volume_remove("data", job=1))
    assert store.disk_used == pytest.approx(used - 40 * MB)
    with pytest.raises(ApiError, match="^get data: no such volume$"):
        drive(w, daemon.volume_inspect("data", job=1))


def test_a_volume_that_fills_the_disk_fails_the_run_with_no_space_left() -> None:
    result = run_text(scenario("""
    w:
      arrival: {burst: 1}
      steps: [{run: {image: "nginx:1.25", mounts: [{source: big, target: /data, writes: 2GB}]}}]
    """, host=", disk: 1GB"))
    [process] = result.spans_of("process")
    assert process.attrs["exit_code"] == 1


def test_tmpfs_writes_are_memory_counted_against_the_limit() -> None:
    """--memory 64MiB and a tmpfs the run writes 100MiB into: the cgroup's OOM killer (exit 137)."""
    result = run_text(scenario("""
    w:
      arrival: {burst: 1}
      steps: [{run: {image: "nginx:1.25", name: t, memory: 64MiB, mounts: [{type: tmpfs, target: /tmp,
                                                                            writes: 100MiB}]}}]
    """))
    [job] = result.jobs
    assert job.error == "container t exited with code 137 (OOMKilled)"


def test_image_gc_never_removes_a_volume() -> None:
    """Disk 1 GB, GC at 85 % down to 80 %: nginx:1.25 takes 260.7 MB (70.5 MB of blobs, 190.3 MB unpacked),
    a volume 700 MB. Pulling redis:7.4 (156.5 MB) would make 1117.2 MB > 850 MB: GC removes nginx (no
    container uses it after rm), the only thing it may remove; the volume's 700 MB stay (700 > the 643.5 MB
    target, GC stops having nothing left), and redis fits beside it: 856.5 MB."""
    result = run_text(scenario("""
    w:
      arrival: {burst: 1}
      steps:
        - run: {image: "nginx:1.25", name: a, mounts: [{source: keep, target: /data, writes: 700MB}]}
        - rm: {container: a}
        - pull: "redis:7.4"
    """, host=", disk: 1GB, gc: {high: 85%, low: 80%}"))
    [job] = result.jobs
    assert job.status == "completed", job.error
    [gc] = result.spans_of("gc")
    assert gc.attrs["removed"] == ["nginx:1.25"]
    assert gc.attrs["freed"] == pytest.approx(260.7e6, rel=1e-3)


def test_usage_counts_writable_layers_and_volumes_for_system_df() -> None:
    """A run adding 30 MB of files and changing a 20 MB image file, writing 10 MB into a volume: the layers
    hold 50 MB, the volumes 10 MB, while the container exists."""
    w = build_world(load_scenario_text(scenario("""
    w:
      arrival: {burst: 1}
      steps:
        - run: {image: "nginx:1.25", writes: 30MB, copy_up: 20MB, mounts: [{source: v, target: /v, writes: 10MB}]}
        - sleep: 10s
    """)))
    w.env.run(until=5.0)
    assert w.daemons["h"].runtime.storage.usage() == (50 * MB, 10 * MB)
