"""Unpacking as CPU work on the host's processor-sharing scheduler, against closed forms worked out by hand.

Setting: one host of ``c`` cores; k images of one layer each, S = 400 MiB uncompressed, pulled by k jobs at
once over a link so fast that every blob arrives at the same instant; gzip inflates at r = 200 MiB/s of
output on one core (the default, decompress_rate.gzip) and the tar stream is digested (the layer's DiffID) at
h = 800 MiB/s on one core (hash_rate, set here for round numbers); writes cost nothing unless a test says so, and
neither do the bytes' way and the tar's entries (``receive_rate``, ``apply_rate``, ``apply_per_file``: their closed
forms are in test_pull_costs.py), so the apply is the digest alone.
With ``gzip_decoder: external`` (unpigz) the inflate and the digest are two tasks side by side, each capped at 1
core (the pipe between them never on one core here, ``pipe_colocation: 0``: its share is test_pull_costs.py's):
I = S / r = 2 s and D = S / h = 0.5 s of CPU. Each unpack span then lasts, by processor
sharing:

- 2k <= c: every task has a core: max(I, D) = I = 2 s;
- 2k > c, nothing else running: the cores stay busy until the last inflate ends, and all end together:
  k (I + D) / c;
- with ``gzip_decoder: go`` the two are one task of I + D on one core: 2.5 s on an idle host;
- a container's process using 1 core beside them: the unpack's two tasks are containerd's, one cgroup
  (containerd.service) against the container's: the two cgroups share the cores by their equal weights, and the
  two tasks share containerd's part until the digest ends.
"""

from __future__ import annotations

import pytest

from tests.helpers import run_text

MIB = 2**20
S = 400 * MIB
R = 200 * MIB
H = 800 * MIB
I = S / R  # noqa: E741 - the inflate's CPU-seconds, as in the docstring
D = S / H


def scenario(*, k: int, cpus: float, compression: str = "gzip", write: str = "inf", cores: float = 1.0,
             busy: bool = False, at: float = 0.0, decoder: str = "external", blob: str = "1MB",
             link: str = "1000GB/s", hash_rate: str = f"{H}B/s", store: str = "containerd", tls_rate: str = "inf",
             tls: bool = True) -> str:
    """k one-layer images of ``blob`` bytes compressed (S unpacked) pulled at ``at`` over a ``link`` with no
    latency, on a host of ``cpus`` (``busy``: one process using a core from time 0); its TLS decryption free
    unless ``tls_rate`` says otherwise (``tls``: the registry speaks https)."""
    images = "\n".join(f"  app{i}:1: {{registry: reg, compression: {compression}, "
                       f"layers: [{{size: {blob}, uncompressed: {S}}}]}}" for i in range(k))
    workloads = "\n".join(f"  pull{i}: {{placement: h, arrival: {{burst: 1, at: {at}}}, steps: [{{pull: 'app{i}:1'}}]}}"
                          for i in range(k))
    if busy:  # one process that wants 1 core for much longer than the test (started well before the pulls)
        images += "\n  busy:1: {registry: reg, layers: []}"
        workloads += ("\n  hog: {placement: h, arrival: {burst: 1}, steps: "
                      "[{run: {image: 'busy:1', cpu_time: 1000s, threads: 1}}]}")
    return f"""
name: unpack-cpu
registries:
  reg: {{bandwidth: {link}, latency: 0ms, tls: {str(tls).lower()}}}
images:
{images}
hosts:
  h:
    cpus: {cpus}
    nic: inf
    preloaded: {"['busy:1']" if busy else "[]"}
    daemon: {{api_service_time: 0s, max_concurrent_downloads: 16, image_store: {store}}}
    storage: {{write_rate: {write}, decompress_rate: {{gzip: {R}B/s, zstd: {4 * R}B/s}}, decompress_cores: {cores},
              hash_rate: {hash_rate}, receive_rate: inf, apply_rate: inf, apply_per_file: 0s, tls_rate: {tls_rate},
              gzip_decoder: {decoder}, pipe_colocation: 0}}
workloads:
{workloads}
"""


def unpack_times(text: str) -> list[float]:
    return [span.duration for span in run_text(text).spans_of("unpack")]


def test_fewer_tasks_than_cores_each_inflates_at_one_core() -> None:
    # k = 2: 4 tasks on c = 4 cores: max(I, D) = I = 2 s each
    assert unpack_times(scenario(k=2, cpus=4)) == pytest.approx([I] * 2)


def test_more_tasks_than_cores_share_them() -> None:
    # k = 4 on c = 2: k (I + D) / c = 4 x 2.5 / 2 = 5 s each
    assert unpack_times(scenario(k=4, cpus=2)) == pytest.approx([4 * (I + D) / 2] * 4)


def test_a_one_vcpu_node_unpacks_k_layers_k_times_slower_than_an_eight_vcpu_one() -> None:
    # 4 unpacks: on 8 cores each I = 2 s; on 1 core each 4 (I + D) = 10 s
    assert unpack_times(scenario(k=4, cpus=8)) == pytest.approx([I] * 4)
    assert unpack_times(scenario(k=4, cpus=1)) == pytest.approx([4 * (I + D)] * 4)


def test_go_gzip_inflates_and_digests_in_turn() -> None:
    # gzip_decoder go: one task of I + D on one core, however many cores are idle: 2.5 s; two of them on 4 cores
    # each have a core; four on 2 cores: 4 (I + D) / 2 = 5 s, as side by side (the same work on the same cores)
    assert unpack_times(scenario(k=1, cpus=4, decoder="go")) == pytest.approx([I + D])
    assert unpack_times(scenario(k=2, cpus=4, decoder="go")) == pytest.approx([I + D] * 2)
    assert unpack_times(scenario(k=4, cpus=2, decoder="go")) == pytest.approx([4 * (I + D) / 2] * 4)


def test_a_container_using_the_only_core_slows_the_unpack() -> None:
    # the hog wants 1 core; the pull at t = 5 s: containerd's cgroup and the hog's get half the core each, the
    # inflate and the digest a quarter each until the digest's D is done, at 4 D; the inflate has done D of I, and
    # the rest goes at containerd's half: 4 D + 2 (I - D) = 2 I + 2 D = 5 s (three tasks of their own: 4.5 s)
    assert unpack_times(scenario(k=1, cpus=1, busy=True, at=5.0)) == pytest.approx([2 * I + 2 * D])


def test_the_same_container_on_two_cores_leaves_containerd_a_core() -> None:
    # 2 cores: containerd's cgroup (two tasks, up to 2 cores) and the hog's (1) at level L: min(2, L) + min(1, L)
    # = 2 gives a core each; the inflate and the digest half a core each until the digest ends at 2 D, then the
    # inflate has a core: 2 D + (I - D) = I + D = 2.5 s (three tasks of their own: 2.25 s)
    assert unpack_times(scenario(k=1, cpus=2, busy=True, at=5.0)) == pytest.approx([I + D])


def test_under_the_graphdriver_store_dockerd_unpacks() -> None:
    # the same hog and pull with moby's graphdriver store: dockerd unpacks, one cgroup (docker.service) against the
    # hog's, so the same shares as containerd's above: 2 I + 2 D on one core
    assert unpack_times(scenario(k=1, cpus=1, busy=True, at=5.0, store="graphdriver")) == pytest.approx([2 * I + 2 * D])


def test_zstd_is_cheaper_cpu_work() -> None:
    # zstd at 4r: I / 4 = 0.5 s, beside the digest's D = 0.5 s; 4 unpacks on 1 core: 4 (I / 4 + D) = 4 s each
    assert unpack_times(scenario(k=4, cpus=1, compression="zstd")) == pytest.approx([4 * (I / 4 + D)] * 4)


def test_an_idle_host_inflates_into_the_page_cache_and_without_one_at_the_writers_pace() -> None:
    # w = 100 MiB/s < r: the 400 MiB go into the page cache (a 16 GiB host's 2.8 GiB setpoint): I = 2 s;
    # with dirty_ratio 0 the writes go to the disk as they are made: S / w = 4 s, as unpack_time gives
    assert unpack_times(scenario(k=1, cpus=4, write=f"{100 * MIB}B/s")) == pytest.approx([I])
    assert unpack_times(scenario(k=1, cpus=4, write=f"{100 * MIB}B/s, dirty_ratio: 0")) == pytest.approx(
        [S / (100 * MIB)])


def test_under_load_the_slower_of_cpu_and_writes_sets_the_pace() -> None:
    # 3 unpacks on 1 core: 3 (I + D) = 7.5 s of CPU; writes S / w = 4 s each into the page cache: max = 7.5 s
    assert unpack_times(scenario(k=3, cpus=1, write=f"{100 * MIB}B/s")) == pytest.approx([3 * (I + D)] * 3)


def test_uncompressed_layers_are_only_digested() -> None:
    # compression none: no inflate, only the digest: 3 D = 1.5 s each on one core. Without a page cache
    # (dirty_ratio 0) the writes go to the disk as they are made: one layer's take S / w = 4 s (its digest 0.5 s);
    # three layers' writes keep the disk busy until 3 S / w = 12 s, when the last ends (the writes of each are
    # placed on the disk at its mean pace once its digest ends, disk.py's streams, so the first one worked out
    # keeps the disk's idle share of [0, 3 D] and ends sooner)
    assert unpack_times(scenario(k=3, cpus=1, compression="none", write=f"{100 * MIB}B/s")) == \
        pytest.approx([3 * D] * 3)
    assert unpack_times(scenario(k=1, cpus=1, compression="none", write=f"{100 * MIB}B/s, dirty_ratio: 0")) == \
        pytest.approx([S / (100 * MIB)])
    three = unpack_times(scenario(k=3, cpus=1, compression="none", write=f"{100 * MIB}B/s, dirty_ratio: 0"))
    assert max(three) == pytest.approx(3 * S / (100 * MIB))


def test_a_parallel_decompressor_uses_more_than_one_core() -> None:
    # decompress_cores 2 on 4 idle cores: max(I / 2, D) = 1 s
    assert unpack_times(scenario(k=1, cpus=4, cores=2)) == pytest.approx([I / 2])
