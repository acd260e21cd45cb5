"""Decompression as CPU work on the host's processor-sharing scheduler, against closed forms worked out by hand.

Setting: one host of ``c`` cores; k images of one layer each, S = 400 MiB uncompressed, pulled by k jobs at
once over a link so fast that every blob arrives at the same instant; gzip inflates at r = 200 MiB/s of
output on one core (the default, decompress_rate.gzip), writes cost nothing unless a test says so. Each
unpack span then lasts, by processor sharing (every layer stream capped at 1 core):

- k <= c: each stream gets a whole core: S / r = 2 s;
- k > c: the c cores are shared equally: each gets c/k of a core, so k S / (c r);
- a container's process using 1 core on a 1-vCPU host: two tasks share the core, S / (r/2) = 2 S / r;
- writes slower than inflating (w < r) on an idle host: the writer sets the pace, S / w (as before).
"""

from __future__ import annotations

import pytest

from tests.helpers import run_text

MIB = 2**20
S = 400 * MIB
R = 200 * MIB


def scenario(*, k: int, cpus: float, compression: str = "gzip", write: str = "inf", cores: float = 1.0,
             busy: bool = False, at: float = 0.0) -> str:
    images = "\n".join(f"  app{i}:1: {{registry: reg, compression: {compression}, "
                       f"layers: [{{size: 1MB, uncompressed: {S}}}]}}" for i in range(k))
    workloads = "\n".join(f"  pull{i}: {{placement: h, arrival: {{burst: 1, at: {at}}}, steps: [{{pull: 'app{i}:1'}}]}}"
                          for i in range(k))
    if busy:  # one process that wants 1 core for much longer than the test (started well before the pulls)
        images += "\n  busy:1: {registry: reg, layers: []}"
        workloads += ("\n  hog: {placement: h, arrival: {burst: 1}, steps: "
                      "[{run: {image: 'busy:1', cpu_time: 1000s, threads: 1}}]}")
    return f"""
name: unpack-cpu
registries:
  reg: {{bandwidth: 1000GB/s, latency: 0ms}}
images:
{images}
hosts:
  h:
    cpus: {cpus}
    nic: inf
    preloaded: {"['busy:1']" if busy else "[]"}
    daemon: {{api_service_time: 0s, max_concurrent_downloads: 16}}
    storage: {{write_rate: {write}, decompress_rate: {{gzip: {R}B/s, zstd: {4 * R}B/s}}, decompress_cores: {cores}}}
workloads:
{workloads}
"""


def unpack_times(text: str) -> list[float]:
    return [span.duration for span in run_text(text).spans_of("unpack")]


def test_fewer_layer_streams_than_cores_each_inflates_at_one_core() -> None:
    # k = 2 <= c = 4: S / r = 400 / 200 = 2 s each
    assert unpack_times(scenario(k=2, cpus=4)) == pytest.approx([S / R] * 2)


def test_more_layer_streams_than_cores_share_them() -> None:
    # k = 4 > c = 2: k S / (c r) = 4 x 400 / (2 x 200) = 4 s each
    assert unpack_times(scenario(k=4, cpus=2)) == pytest.approx([4 * S / (2 * R)] * 4)


def test_a_one_vcpu_node_unpacks_k_layers_k_times_slower_than_an_eight_vcpu_one() -> None:
    # 4 streams: on 8 cores each 2 s; on 1 core each 4 x 2 = 8 s
    assert unpack_times(scenario(k=4, cpus=8)) == pytest.approx([S / R] * 4)
    assert unpack_times(scenario(k=4, cpus=1)) == pytest.approx([4 * S / R] * 4)


def test_a_container_using_the_only_core_halves_the_unpack_rate() -> None:
    # the hog starts at about 0.57 s and wants 1 core; the pull at t = 5 s shares the core with it: 2 S / r = 4 s
    assert unpack_times(scenario(k=1, cpus=1, busy=True, at=5.0)) == pytest.approx([2 * S / R])


def test_the_same_container_on_two_cores_leaves_the_unpack_a_whole_core() -> None:
    # 2 cores, 2 tasks each capped at 1: no sharing, S / r = 2 s
    assert unpack_times(scenario(k=1, cpus=2, busy=True, at=5.0)) == pytest.approx([S / R])


def test_zstd_is_cheaper_cpu_work() -> None:
    # zstd at 4r: 4 streams on 1 core take 4 S / (4 r) = S / r = 2 s each
    assert unpack_times(scenario(k=4, cpus=1, compression="zstd")) == pytest.approx([S / R] * 4)


def test_an_idle_host_inflates_into_the_page_cache_and_without_one_at_the_writers_pace() -> None:
    # w = 100 MiB/s < r: the 400 MiB go into the page cache (a 16 GiB host's 2.8 GiB setpoint): S / r = 2 s;
    # with dirty_ratio 0 the writes go to the disk as they are made: S / w = 4 s, as unpack_time gives
    assert unpack_times(scenario(k=1, cpus=4, write=f"{100 * MIB}B/s")) == pytest.approx([S / R])
    assert unpack_times(scenario(k=1, cpus=4, write=f"{100 * MIB}B/s, dirty_ratio: 0")) == pytest.approx(
        [S / (100 * MIB)])


def test_under_load_the_slower_of_inflate_and_writes_sets_the_pace() -> None:
    # 3 streams on 1 core: inflate 3 S / r = 6 s; writes S / w = 4 s each in parallel: max = 6 s
    assert unpack_times(scenario(k=3, cpus=1, write=f"{100 * MIB}B/s")) == pytest.approx([3 * S / R] * 3)


def test_uncompressed_layers_cost_no_cpu() -> None:
    # compression none: no inflate, the files go into the page cache at once; without one (dirty_ratio 0) the
    # three layers' writes share the disk's w from the same instant: 3 S / w = 12 s each, however few the cores
    assert unpack_times(scenario(k=3, cpus=1, compression="none", write=f"{100 * MIB}B/s")) == [0.0] * 3
    assert unpack_times(scenario(k=3, cpus=1, compression="none", write=f"{100 * MIB}B/s, dirty_ratio: 0")) == \
        pytest.approx([3 * S / (100 * MIB)] * 3)


def test_a_parallel_decompressor_uses_more_than_one_core() -> None:
    # decompress_cores 2 on 4 idle cores: S / (2 r) = 1 s
    assert unpack_times(scenario(k=1, cpus=4, cores=2)) == pytest.approx([S / (2 * R)])
