"""Disk accounting and image garbage collection, worked out by hand.

The store holds compressed blobs plus unpacked layers (the graphdriver store: the layers only, last test). Each
image here has one layer of 100 MB that unpacks to 200 MB: 300 MB on disk. dockerd never removes images; with
``gc`` (kubelet's policy) a pull that would take use over ``high`` first removes least recently used images no
container uses, down to ``low``.
"""

from __future__ import annotations

from tests.helpers import run_text

BASE = """
name: t
registries:
  reg: {{bandwidth: 1GB/s, latency: 1ms}}
images:
  old1:1: {{registry: reg, layers: [{{size: 100MB, uncompressed: 200MB}}]}}
  old2:1: {{registry: reg, layers: [{{size: 100MB, uncompressed: 200MB}}]}}
  new:1: {{registry: reg, layers: [{{size: {new}, uncompressed: {new_unpacked}}}]}}
hosts:
  h:
    disk: {disk}
    nic: inf
    daemon: {{api_service_time: 0s}}
    storage: {{write_rate: inf, decompress_rate: {{gzip: inf}}, hash_rate: inf,
               receive_rate: inf, apply_rate: inf, apply_per_file: 0s}}
    preloaded: [old1:1, old2:1]
    {gc}
workloads:
  keep:
    arrival: {{times: [0s]}}
    steps: [{keep}]
  pull:
    arrival: {{times: [10s]}}
    steps: [{{pull: "new:1"}}]
"""


def scenario(*, disk: str = "1000MB", gc: str = "", keep: str = "{sleep: 1s}", new: str = "100MB",
             new_unpacked: str = "200MB") -> str:
    return BASE.format(disk=disk, gc=gc, keep=keep, new=new, new_unpacked=new_unpacked)


def pull_job(result):  # type: ignore[no-untyped-def]
    return next(job for job in result.jobs if job.workload == "pull")


def test_without_gc_a_pull_that_does_not_fit_fails_with_no_space_left() -> None:
    """800 MB disk, 600 MB used: the blob fits (700 MB), unpacking its 200 MB does not."""
    result = run_text(scenario(disk="800MB"))
    job = pull_job(result)
    assert job.status == "failed"
    assert job.error.startswith("failed to extract layer sha256:")
    assert job.error.endswith(": no space left on device")
    assert result.summary()["hosts"]["h"]["disk_used_bytes"] == 700_000_000


def test_gc_removes_the_least_recently_used_image_down_to_the_low_mark() -> None:
    """1000 MB disk, 600 MB used, the pull needs 300 MB: 900 MB > 85% (850 MB), so GC removes images until
    use is at most 80% - 300 MB = 500 MB: old1 (least recently used) goes, 300 MB remain; after the pull 600 MB."""
    result = run_text(scenario(gc="gc: {high: 85%, low: 80%}"))
    assert pull_job(result).status == "completed", pull_job(result).error
    [gc] = result.spans_of("gc")
    assert gc.attrs["removed"] == ["old1:1"]
    assert gc.attrs["freed"] == 300_000_000
    assert result.summary()["hosts"]["h"]["disk_used_bytes"] == 600_000_000


def test_gc_keeps_images_that_containers_use() -> None:
    """A container of old1 exists (detached, running): GC removes old2 instead."""
    result = run_text(scenario(gc="gc: {high: 85%, low: 80%}", keep='{run: {image: "old1:1", detach: true}}'))
    [gc] = result.spans_of("gc")
    assert gc.attrs["removed"] == ["old2:1"]
    assert pull_job(result).status == "completed", pull_job(result).error


def test_when_gc_cannot_make_room_the_pull_fails() -> None:
    """old1 is in use; the new image needs 800 MB (200 + 600). GC removes old2 (use 300 MB) but the
    unpacked layer still does not fit: 300 + 200 + 600 = 1100 MB > 1000 MB."""
    result = run_text(scenario(gc="gc: {high: 85%, low: 80%}", keep='{run: {image: "old1:1", detach: true}}',
                               new="200MB", new_unpacked="600MB"))
    [gc] = result.spans_of("gc")
    assert gc.attrs["removed"] == ["old2:1"]
    job = pull_job(result)
    assert job.status == "failed" and job.error.endswith("no space left on device")


def test_preloaded_images_that_do_not_fit_are_a_scenario_error() -> None:
    import pytest

    from dsim.errors import ScenarioError

    with pytest.raises(ScenarioError, match="preloaded images do not fit"):
        run_text(scenario(disk="500MB"))


def test_the_graphdriver_store_keeps_no_blobs() -> None:
    """moby's graphdriver store holds the unpacked layers only: the two preloaded images take 2 x 200 MB of a
    700 MB disk. The pull of new:1 writes its 100 MB blob (a temporary file) and unpacks its 200 MB layer beside
    it: 700 MB at the peak, and 600 MB once the blob is deleted. The containerd store on the same disk holds
    2 x 300 MB preloaded, and the pull's 300 MB do not fit."""
    graphdriver = "daemon: {api_service_time: 0s, image_store: graphdriver}"
    result = run_text(scenario(disk="700MB").replace("daemon: {api_service_time: 0s}", graphdriver))
    assert pull_job(result).status == "completed", pull_job(result).error
    assert result.summary()["hosts"]["h"]["disk_used_bytes"] == 600_000_000
    job = pull_job(run_text(scenario(disk="700MB")))
    assert job.status == "failed" and job.error.endswith("no space left on device")
