"""The page cache in whole runs (components/disk.py): what a pull leaves dirty, the syncfs of a create's init
layer and of an exit's rootfs, writers held at the kernel's setpoint. Expectations worked out by hand.

Setting: one host of 16 GiB (dirtyable: 16 GiB, nothing else resident), so thresh 3.2 GiB, bg_thresh
1.6 GiB, setpoint 2.8 GiB; the disk writes back at W = 100 MB/s; runtime costs zero; a registry so fast that a
blob arrives at once, and hashing free (so is the download's digest: test_download_digest.py); gzip inflates at
200 MiB/s of output on one of 4 cores.
"""

from __future__ import annotations

import pytest

from tests.helpers import run_text, within

MB = 1e6
MIB = 2**20
W = 100 * MB
R = 200 * MIB
#: every start-path cost zero (with Docker 28's endpoint rule left out below)
ZERO = "{create: 0s, mount: 0s, netns: 0s, start: 0s, exec: 0s}"


def scenario(steps: str, *, layer: str = "{size: 100MB, uncompressed: 300MB}", storage: str = "",
             burst: int = 1, memory: str = "16GiB") -> str:
    return f"""
name: page-cache
registries:
  reg: {{bandwidth: 1000GB/s, latency: 0ms}}
images:
  app:1: {{registry: reg, layers: [{layer}]}}
hosts:
  h:
    cpus: 4
    memory: {memory}
    nic: inf
    runtime: {ZERO}
    networking: {{endpoint_rules: 0}}
    daemon: {{api_service_time: 0s, workers: 1000}}
    storage: {{write_rate: {W}B/s, hash_rate: inf,
               receive_rate: inf, apply_rate: inf, apply_per_file: 0s, tls_rate: inf,
               decompress_rate: {{gzip: {R}B/s}}{storage}}}
workloads:
  w: {{placement: h, arrival: {{burst: {burst}}}, steps: {steps}}}
"""


def test_a_create_after_a_pull_waits_for_the_pulled_bytes_to_be_written_back() -> None:
    """containerd fsyncs the 100 MB blob as it commits it: 1 s at 100 MB/s, inside the download. The unpack is
    the inflate's 300 MB / 200 MiB/s, its files going into memory and left dirty (under the 1.6 GiB background
    threshold); the create's init layer unmount syncs them at 100 MB/s: 3 s."""
    result = run_text(scenario("[{pull: 'app:1'}, {create: {image: 'app:1'}}]"))
    [download] = result.spans_of("download")
    assert download.duration == pytest.approx(100 * MB / 1000e9 + 1.0)  # the blob over the link, then its fsync
    [unpack] = result.spans_of("unpack")
    assert unpack.duration == pytest.approx(300 * MB / R)
    [sync] = result.spans_of("syncfs")
    assert (sync.attrs["at"], sync.attrs["bytes"]) == ("create", pytest.approx(300 * MB))
    assert sync.duration == pytest.approx(3.0)
    [create] = result.spans_of("create")
    assert create.duration == pytest.approx(3.0)


def test_the_second_create_finds_nothing_dirty() -> None:
    """Two creates in a row after the pull: the first syncs (3 s), the second has nothing to wait for."""
    result = run_text(scenario("[{pull: 'app:1'}, {create: {image: 'app:1'}}, {create: {image: 'app:1'}}]"))
    assert [s.duration for s in result.spans_of("create")] == pytest.approx([3.0, 0.0])
    assert len(result.spans_of("syncfs")) == 1


def test_bytes_older_than_the_expiry_are_already_on_the_disk() -> None:
    """A create 40 s after the pull: the 300 MB of files expired 30 s after the unpack (ended at 2.43 s) and were
    written back by 35.4 s: nothing to sync."""
    result = run_text(scenario("[{pull: 'app:1'}, {sleep: 40s}, {create: {image: 'app:1'}}]"))
    assert result.spans_of("syncfs") == []
    [create] = result.spans_of("create")
    assert create.duration == pytest.approx(0.0)


def test_an_exit_waits_for_the_containers_writes_before_it_is_reported() -> None:
    """A preloaded image (nothing dirty at the start); the run writes 500 MB into its layer (into memory, at
    once) and runs 1 s; its exit's rootfs unmount syncs the 500 MB: 5 s. docker run returns at 6 s; the
    process itself ended at 1 s."""
    text = scenario("[{run: {image: 'app:1', writes: 500MB, duration: 1s}}]").replace(
        "    cpus: 4\n", "    cpus: 4\n    preloaded: ['app:1']\n")
    result = run_text(text)
    [write] = result.spans_of("write")
    assert write.duration == pytest.approx(0.0)
    [process] = result.spans_of("process")
    assert process.duration == pytest.approx(1.0)
    [sync] = result.spans_of("syncfs")
    assert (sync.attrs["at"], sync.attrs["bytes"], sync.duration) == ("exit", pytest.approx(500 * MB),
                                                                      pytest.approx(5.0))
    [run] = result.spans_of("run")
    assert run.end == pytest.approx(6.0)


def test_writes_past_the_setpoint_go_at_the_disks_pace() -> None:
    """A 4 GiB host leaves a 0.7 GiB setpoint (751.6 MB); a run writing 1,000 MB waits for the 248.4 MB beyond
    it to be written back: 2.484 s."""
    text = scenario("[{run: {image: 'app:1', writes: 1000MB, duration: 0s}}]", memory="4GiB").replace(
        "    cpus: 4\n", "    cpus: 4\n    preloaded: ['app:1']\n")
    result = run_text(text)
    [write] = result.spans_of("write")
    setpoint = 0.175 * 4 * 2**30
    assert write.duration == pytest.approx((1000 * MB - setpoint) / W)


def test_a_slow_download_has_only_its_last_30_seconds_left_to_fsync() -> None:
    """A 100 MB blob over a 1 MB/s registry: 100 s of download; the bytes of its last 30 s (30 MB) are still
    dirty when containerd commits it (the rest expired and went back meanwhile): its fsync takes 0.3 s."""
    text = scenario("[{pull: 'app:1'}]").replace("bandwidth: 1000GB/s", "bandwidth: 1MB/s")
    [download] = run_text(text).spans_of("download")
    assert download.duration == pytest.approx(100.0 + 0.3, rel=1e-3)


def test_dirty_ratio_zero_writes_as_it_goes_and_leaves_nothing_to_sync() -> None:
    """dirty_ratio 0: the unpack's 300 MB go at the disk's 100 MB/s (3 s, slower than the 1.43 s inflate); the
    create then has nothing to sync."""
    result = run_text(scenario("[{pull: 'app:1'}, {create: {image: 'app:1'}}]", storage=", dirty_ratio: 0"))
    [unpack] = result.spans_of("unpack")
    assert unpack.duration == pytest.approx(3.0)
    assert result.spans_of("syncfs") == []


def test_a_create_syncs_twice_and_the_second_waits_for_what_was_written_meanwhile() -> None:
    """A create unmounts two overlays (moby create_unix.go createContainerOSSpecificSettings mounts and unmounts
    the rootfs after the init layer's unmount): each syncs. Container a writes 300 MB at 0.1 s and exits at once
    (its exit syncs them: 0.1 -> 3.1 s); b's create at 1 s syncs what is dirty then, a's 210 MB left, until 3.1 s;
    meanwhile c's startup work writes 100 MB at 2 s (2 CPU-s from its start at 0), which the create's second sync
    writes: 1 s more. b's create: 3.1 s."""
    text = f"""
name: page-cache
hosts:
  h:
    cpus: 4
    preloaded: ['nginx']
    runtime: {ZERO}
    networking: {{endpoint_rules: 0}}
    daemon: {{api_service_time: 0s, workers: 1000}}
    storage: {{write_rate: {W}B/s}}
workloads:
  c: {{arrival: {{burst: 1}}, steps: [{{run: {{image: nginx, duration: 100s,
       healthcheck: {{startup_cpu: 2s, startup_io: 100MB}}}}}}]}}
  a: {{arrival: {{burst: 1, at: 0.1s}}, steps: [{{run: {{image: nginx, writes: 300MB, duration: 0s}}}}]}}
  b: {{arrival: {{burst: 1, at: 1s}}, steps: [{{create: {{image: nginx}}}}]}}
"""
    result = run_text(text)
    syncs = [(s.attrs["at"], s.attrs["bytes"]) for s in result.spans_of("syncfs") if s.start == pytest.approx(1.0)
             or s.start == pytest.approx(3.1)]
    assert syncs == [("create", pytest.approx(210 * MB)), ("create", pytest.approx(100 * MB))]
    [create] = [s for s in result.spans_of("create") if s.start == pytest.approx(1.0)]
    assert create.duration == pytest.approx(3.1)


def test_the_graphdriver_store_does_not_sync_the_blob() -> None:
    """moby's own pull (daemon.image_store: graphdriver) writes the blob to a temporary file it never syncs and
    deletes after registering the layer (moby distribution/pull_v2.go): the download is the transfer alone (the
    containerd store's fsync of the 100 MB blob would add 1 s), and the create still syncs the 300 MB of files."""
    text = scenario("[{pull: 'app:1'}, {create: {image: 'app:1'}}]").replace(
        "    daemon: {api_service_time: 0s, workers: 1000}\n",
        "    daemon: {api_service_time: 0s, workers: 1000, image_store: graphdriver}\n")
    result = run_text(text)
    [download] = result.spans_of("download")
    assert download.duration == pytest.approx(100 * MB / 1000e9)
    [sync] = result.spans_of("syncfs")
    assert sync.attrs["bytes"] == pytest.approx(300 * MB)
    assert sync.duration == pytest.approx(3.0)


def test_an_exit_sync_and_a_blobs_fsync_share_one_disk() -> None:
    """At 0 a container (preloaded image) writes 500 MB and exits, and another job pulls a second image whose
    100 MB blob arrives at once. The blob's fsync goes first (1 s, the download's span); the exit's syncfs
    waits for it and for the 500 MB: 6 s, not the 5 s of a disk writing both at once. The unpack's files
    (dirtied after the syncfs was called) are not waited for."""
    text = scenario("[{run: {image: 'app:1', writes: 500MB, duration: 0s}}]").replace(
        "    cpus: 4\n", "    cpus: 4\n    preloaded: ['app:1']\n").replace(
        "  app:1: {registry: reg, layers: [{size: 100MB, uncompressed: 300MB}]}\n",
        "  app:1: {registry: reg, layers: [{size: 100MB, uncompressed: 300MB}]}\n"
        "  other:1: {registry: reg, layers: [{size: 100MB, uncompressed: 300MB}]}\n") + (
        "  p: {placement: h, arrival: {burst: 1}, steps: [{pull: 'other:1'}]}\n")
    result = run_text(text)
    [download] = result.spans_of("download")
    assert download.duration == pytest.approx(1.0, abs=1e-3)
    [sync] = result.spans_of("syncfs")
    assert (sync.attrs["at"], sync.end) == ("exit", pytest.approx(6.0, abs=1e-3))


def test_a_blob_past_the_background_threshold_is_partly_written_back_before_its_commit() -> None:
    """A 4 GiB host (bg_thresh 429.5 MB): a 600 MB blob over a 100 MB/s registry comes in 6 s, into the page
    cache as it comes; the dirty bytes pass the background threshold at 4.295 s and the disk, as fast as the
    download, keeps them there: 170.5 MB of the blob are on the disk at its commit, and its fsync writes the
    other 429.5 MB (4.295 s, where the whole blob would take 6 s)."""
    text = scenario("[{pull: 'app:1'}]", layer="{size: 600MB, uncompressed: 600MB}", memory="4GiB").replace(
        "bandwidth: 1000GB/s", "bandwidth: 100MB/s")
    [download] = run_text(text).spans_of("download")
    background = 0.1 * 4 * 2**30
    assert download.duration == pytest.approx(6.0 + background / W, rel=1e-6)


def test_a_burst_of_ci_jobs_pulling_at_once_runs_to_its_end() -> None:
    """benchmarks/bench_common.py's burst of 20 CI jobs on 2 runners (10 layers pulled at once, 3.6 GB written
    back by then): a sync's target a float error beyond what the writeback could reach once stalled the run
    (a loop stepping by less than the clock's resolution); the error of the running counters is none."""
    text = """
name: ci-burst-20
registries:
  registry: {bandwidth: 1Gbps, latency: 20ms, auth: token}
images:
  python:3.11: {registry: registry, layers: [48MB, 24MB, 64MB, 211MB, 6MB, 20MB, 3MB]}
  ci-runner:1.4: {registry: registry, from: python:3.11, layers: [310MB, 45MB, 250MB]}
hosts:
  runner: {count: 2, cpus: 8, memory: 32GiB, disk: 200GiB, nic: 10Gbps,
           daemon: {workers: 8, api_service_time: exponential(mean=2ms)}}
workloads:
  ci:
    arrival: {burst: 20, at: 0s}
    placement: round-robin
    steps:
      - pull: ci-runner:1.4
      - run: {image: ci-runner:1.4, duration: "lognormal(mean=4m, sigma=0.5)", cpus: 2, memory: 4GiB}
      - rm: {}
"""
    with within(30):
        result = run_text(text)
    assert len(result.jobs) == 20 and {job.status for job in result.jobs} == {"completed"}


def test_an_unpack_past_the_setpoint_is_held_back_from_where_it_reaches_it() -> None:
    """A 4 GiB host (bg_thresh 429.5 MB, setpoint 751.6 MB): a 2 GB layer inflates at 200 MiB/s (9.54 s), its
    files going into the page cache as they come. The dirty bytes pass the background threshold at 2.05 s,
    from when the 100 MB/s disk writes back; the writer, faster, reaches the setpoint and is held back there:
    it is done when the disk has written the 1,248.4 MB past the setpoint, 12.48 s after the threshold was
    passed: 14.53 s (12.48 s if the whole layer were dirty from the unpack's start)."""
    text = scenario("[{pull: 'app:1'}]", layer="{size: 1MB, uncompressed: 2000MB}", memory="4GiB")
    [unpack] = run_text(text).spans_of("unpack")
    background, setpoint = 0.1 * 4 * 2**30, 0.175 * 4 * 2**30
    assert unpack.duration == pytest.approx(background / R + (2000 * MB - setpoint) / W)


def _two_layers(diff: str, store: str) -> str:
    return scenario("[{pull: 'app:1'}]", storage=f", overlay_diff: {diff}").replace(
        "layers: [{size: 100MB, uncompressed: 300MB}]",
        "layers: [{size: 100MB, uncompressed: 300MB}, {size: 100MB, uncompressed: 300MB}]").replace(
        "    daemon: {api_service_time: 0s, workers: 1000}\n",
        f"    daemon: {{api_service_time: 0s, workers: 1000, image_store: {store}}}\n")


def test_the_graphdriver_store_with_naive_diff_syncs_after_each_layer_on_a_parent() -> None:
    """moby's graphdriver store with overlay2's naive diff applies a layer through its mounted overlay and
    unmounts it (moby daemon/graphdriver/fsdiff.go, NaiveDiffDriver.ApplyDiff); the base layer is untarred into
    its directory unmounted. Two layers of 300 MB: the base's inflate, 300 MB / 200 MiB/s, leaves its files dirty
    (no sync, no blob fsync in this store); the second's inflate, then its unmount's syncfs of all 600 MB at
    100 MB/s: 6 s. The pull takes the two blobs' 0.2 ms together on the link, then 2 x 1.43 + 6 s."""
    result = run_text(_two_layers("naive", "graphdriver"))
    inflate = 300 * MB / R
    [sync] = result.spans_of("syncfs")
    assert (sync.attrs["at"], sync.attrs["bytes"]) == ("apply", pytest.approx(600 * MB))
    assert sync.duration == pytest.approx(6.0)
    assert [u.duration for u in result.spans_of("unpack")] == pytest.approx([inflate, inflate + 6.0])
    [job] = result.jobs
    assert job.phases["pull"] == pytest.approx(2 * 100 * MB / 1000e9 + 2 * inflate + 6.0)


def test_native_diff_and_the_containerd_store_apply_without_a_mount() -> None:
    """The same pull with overlay2's native diff (the untar goes into the layer's directory) or into the containerd
    store (its applier writes into the snapshot's directory) has no unmount: no syncfs, and with the graphdriver
    store the pull is the blobs' 0.2 ms and the two inflates."""
    native = run_text(_two_layers("native", "graphdriver"))
    assert native.spans_of("syncfs") == []
    [job] = native.jobs
    assert job.phases["pull"] == pytest.approx(2 * 100 * MB / 1000e9 + 2 * 300 * MB / R)
    assert run_text(_two_layers("naive", "containerd")).spans_of("syncfs") == []
