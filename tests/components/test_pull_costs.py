"""What a pull's bytes and a layer's files cost beyond the inflate and the digests, against closed forms worked out
by hand (docs/distribution.md: What a pull's bytes cost; pull.py ``_receive``, layer_work.py ``unpack_stages``).

- The download's reader takes the blob's bytes from the socket into its file: S / receive_rate on one core, beside
  the transfer (with the digest and the decryption, here free).
- The apply, the goroutine that digests the tar stream, also reads the inflated stream and writes the files,
  U / apply_rate, and makes every entry, entries x apply_per_file; entries are the layer's ``files``, else
  U / storage.file_size. It runs beside the inflate (unpigz), or after it in the same goroutine with
  ``gzip_decoder: go``.
- Each of the three defaults to its image store's figure (dsim/domain/hosts.py): containerd's applier or dockerd's.

Setting (test_unpack_cpu.py's scenario): one layer pulled on a host of 4 cores (every task has one), over a link
so fast that the blob arrives at once, writes free, sha256 free, no TLS; the inflate free unless a test says so.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dsim.components.layer_work import unpack_stages
from dsim.domain.hosts import APPLY_PER_FILE, APPLY_RATE, RECEIVE_RATE, StorageSpec
from dsim.scenarios.loader import load_scenario_text
from tests.components.test_build_cache import BASE, build, completed, job, run
from tests.helpers import run_text

MB = 1e6


def scenario(*, size: float = 1 * MB, uncompressed: float = 100 * MB, files: int | None = None,
             store: str = "containerd", storage: str = "", inflate: str = "inf", decoder: str = "external") -> str:
    """One image of one layer (``size`` compressed, ``uncompressed``, ``files`` entries if given) pulled at once."""
    entries = "" if files is None else f", files: {files}"
    return f"""
name: pull-costs
registries:
  reg: {{bandwidth: 1000GB/s, latency: 0ms, tls: false}}
images:
  app:1: {{registry: reg, layers: [{{size: {size:.0f}, uncompressed: {uncompressed:.0f}{entries}}}]}}
hosts:
  h:
    cpus: 4
    nic: inf
    daemon: {{api_service_time: 0s, image_store: {store}}}
    storage: {{write_rate: inf, hash_rate: inf, decompress_rate: {{gzip: {inflate}}}, gzip_decoder: {decoder}{storage}}}
workloads:
  w: {{arrival: {{burst: 1}}, steps: [{{pull: 'app:1'}}]}}
"""


def durations(text: str) -> tuple[float, float]:
    """(the download's seconds, the unpack's seconds)."""
    result = run_text(text)
    [download] = result.spans_of("download")
    [unpack] = result.spans_of("unpack")
    return download.duration, unpack.duration


def test_the_reader_takes_the_bytes_from_the_socket_into_the_file() -> None:
    # 500 MB at 250 MB/s on one core: 2 s, where the bytes arrive in 0.5 ms
    download, _ = durations(scenario(size=500 * MB, storage=", receive_rate: 250MB/s, apply_rate: inf"))
    assert download == pytest.approx(500 / 250, rel=1e-6)


@pytest.mark.parametrize("store", ["containerd", "graphdriver"])
def test_the_receive_rate_defaults_to_the_stores(store: str) -> None:
    # containerd 500 MB/s: 1 s for 500 MB; graphdriver 800 MB/s: 0.625 s
    download, _ = durations(scenario(size=500 * MB, store=store))
    assert download == pytest.approx(500 * MB / {"containerd": 500e6, "graphdriver": 800e6}[store], rel=1e-6)
    assert RECEIVE_RATE[store] == {"containerd": 500e6, "graphdriver": 800e6}[store]


def test_the_apply_handles_every_byte_of_the_tar() -> None:
    # 400 MB at 200 MB/s, no entries' cost: 2 s
    _, unpack = durations(scenario(uncompressed=400 * MB, storage=", apply_rate: 200MB/s, apply_per_file: 0s"))
    assert unpack == pytest.approx(2.0, rel=1e-6)


def test_every_declared_entry_costs_the_applier() -> None:
    # 1,000 entries at 1 ms: 1 s, the bytes free
    _, unpack = durations(scenario(files=1000, storage=", apply_rate: inf, apply_per_file: 1ms"))
    assert unpack == pytest.approx(1.0, rel=1e-6)


def test_undeclared_entries_are_the_bytes_over_the_mean_file_size() -> None:
    # 100 MB over 1 MB a file: 100 entries at 10 ms: 1 s; the images' default 20 KB: 5,000 entries, 50 s
    _, unpack = durations(scenario(storage=", apply_rate: inf, apply_per_file: 10ms, file_size: 1MB"))
    assert unpack == pytest.approx(1.0, rel=1e-6)
    _, unpack = durations(scenario(storage=", apply_rate: inf, apply_per_file: 10ms"))
    assert unpack == pytest.approx(100 * MB / 20e3 * 0.01, rel=1e-6)


@pytest.mark.parametrize("store", ["containerd", "graphdriver"])
def test_the_apply_defaults_to_the_stores(store: str) -> None:
    # 100 MB in 1,000 entries: containerd 100e6 / 555e6 + 1,000 x 113 us = 0.2932 s; graphdriver
    # 100e6 / 435e6 + 1,000 x 240 us = 0.4699 s
    _, unpack = durations(scenario(files=1000, store=store))
    expected = {"containerd": 100e6 / 555e6 + 0.113, "graphdriver": 100e6 / 435e6 + 0.240}[store]
    assert unpack == pytest.approx(expected, rel=1e-6)
    assert (APPLY_RATE[store], APPLY_PER_FILE[store]) == {"containerd": (555e6, 113e-6),
                                                         "graphdriver": (435e6, 240e-6)}[store]


def test_a_written_cost_wins_over_the_stores() -> None:
    spec = load_scenario_text(scenario(store="graphdriver", storage=", apply_per_file: 1ms")).hosts[0].spec
    assert (spec.storage.apply_per_file, spec.storage.apply_rate, spec.storage.receive_rate) == (
        1e-3, APPLY_RATE["graphdriver"], RECEIVE_RATE["graphdriver"])


def test_the_apply_runs_beside_unpigz_and_after_gos_inflate() -> None:
    # the inflate 100 MB at 100 MB/s = 1 s; the apply 100 MB at 200 MB/s + 100 entries x 5 ms = 1 s: side by side
    # 1 s (4 cores, a core to spare: the default share 0), with the pipe on one core half the time 1.5 s, always
    # on one core 2 s, in one goroutine (Go's compress/gzip) 2 s
    costs = ", apply_rate: 200MB/s, apply_per_file: 5ms"
    _, beside = durations(scenario(files=100, inflate="100MB/s", storage=costs))
    _, piped = durations(scenario(files=100, inflate="100MB/s", storage=costs + ", pipe_colocation: 0.5"))
    _, one_core = durations(scenario(files=100, inflate="100MB/s", storage=costs + ", pipe_colocation: 1"))
    _, in_turn = durations(scenario(files=100, inflate="100MB/s", storage=costs, decoder="go"))
    assert (beside, piped, one_core, in_turn) == pytest.approx((1.0, 1.5, 2.0, 2.0), rel=1e-6)


@pytest.mark.parametrize(("cpus", "cores", "share"), [(1, 1, 0.5), (2, 1, 0.5), (3, 1, 0.0), (4, 1, 0.0),
                                                      (3, 2, 0.5), (4, 2, 0.0)])
def test_the_pipes_share_defaults_by_whether_a_core_is_left(cpus: int, cores: float, share: float) -> None:
    # the kernel wakes the pipe's reader on an idle core when one is left beside the inflate's cores and the applier's
    text = scenario(storage=f", decompress_cores: {cores}").replace("cpus: 4", f"cpus: {cpus}")
    assert load_scenario_text(text).hosts[0].spec.storage.pipe_colocation == share


@pytest.mark.parametrize(("inflate", "share", "expected"), [
    ("400MB/s", 0.5, 0.5 + 0.5 * 0.25),   # the apply longer (0.5 s): plus half the inflate's 0.25 s
    ("50MB/s", 0.5, 2.0 + 0.5 * 0.5),     # the inflate longer (2 s): plus half the apply's 0.5 s
    ("50MB/s", 0.2, 2.0 + 0.2 * 0.5),
])
def test_a_piped_unpack_takes_the_longer_stage_and_a_share_of_the_shorter(inflate: str, share: float,
                                                                          expected: float) -> None:
    # 100 MB: the apply at 200 MB/s, 0.5 s, no entries' cost; the inflate at the rate given
    costs = f", apply_rate: 200MB/s, apply_per_file: 0s, pipe_colocation: {share}"
    _, unpack = durations(scenario(inflate=inflate, storage=costs))
    assert unpack == pytest.approx(expected, rel=1e-6)


def test_a_piped_unpack_on_one_core_takes_both_stages_in_turn() -> None:
    # one core: 1 s of inflate and 1 s of apply take 2 s whatever the pipe's share (the cores are the bound)
    costs = ", apply_rate: 200MB/s, apply_per_file: 5ms, pipe_colocation: 0.3"
    text = scenario(files=100, inflate="100MB/s", storage=costs).replace("cpus: 4", "cpus: 1")
    _, unpack = durations(text)
    assert unpack == pytest.approx(2.0, rel=1e-6)


def test_zstds_decoder_is_no_pipe() -> None:
    # klauspost's decoder inflates in goroutines of containerd's own: no pipe, the stages side by side (1 s)
    costs = ", apply_rate: 200MB/s, apply_per_file: 5ms"
    text = scenario(files=100, storage=costs + ", decompress_rate: {zstd: 100MB/s}").replace(
        ", decompress_rate: {gzip: inf}", "").replace("layers: [", "compression: zstd, layers: [")
    _, unpack = durations(text)
    assert unpack == pytest.approx(1.0, rel=1e-6)


def downloads_at_once(slots: int, layers: int = 6) -> int:
    """The most downloads under way at once in a pull of ``layers`` layers of 10 MB over 100 MB/s, ``slots``
    daemon-wide download slots (0: no limit)."""
    text = scenario().replace("bandwidth: 1000GB/s", "bandwidth: 100MB/s").replace(
        "layers: [{size: 1000000, uncompressed: 100000000}]", "layers: [" + ", ".join(["10MB"] * layers) + "]").replace(
        "image_store: containerd}", f"image_store: containerd, max_concurrent_downloads: {slots}}}")
    downloads = run_text(text).spans_of("download")
    assert len(downloads) == layers
    return max(sum(1 for d in downloads if d.start <= other.start < d.end) for other in downloads)


@pytest.mark.parametrize(("slots", "most"), [(3, 3), (1, 1), (0, 6)])
def test_no_download_limit_fetches_every_layer_at_once(slots: int, most: int) -> None:
    assert downloads_at_once(slots) == most


def test_a_lazy_pull_applies_no_tar() -> None:
    # a lazy snapshotter reads chunks, no tar stream: its prefetch (6.4% of 100 MB inflated at 100 MB/s, 0.064 s)
    # costs a layer of 100,000 entries at 1 s each nothing more
    text = scenario(files=100_000, inflate="100MB/s", storage=", apply_per_file: 1s").replace(
        "layers: [", "lazy: true, layers: [")
    [layer] = run_text(text).spans_of("pull_layer")
    assert layer.duration == pytest.approx(0.064 * 100 * MB / (100 * MB), rel=1e-6)


def test_buildkits_export_applies_a_copys_files_one_entry_each() -> None:
    """Under the containerd store BuildKit's export unpacks each new layer into the snapshotter through the same
    applier (builder.py ``_unpack``): a COPY of two context files of 50 MB is two entries (1 s each here), where
    its 100 MB counted at ``file_size`` 1 MB would be 100; everything else free."""
    dockerfile = f"FROM {BASE}\nCOPY a b /data/\n"
    hosts = {"dev": {"cpus": 4, "nic": "inf", "preloaded": [BASE],
                     "daemon": {"image_store": "containerd", "api_service_time": "0s"},
                     "storage": {"write_rate": "inf", "hash_rate": "inf", "compress_rate": "inf", "file_size": "1MB",
                                 "decompress_rate": {"gzip": "inf"}, "apply_rate": "inf", "apply_per_file": "1s"}}}
    result = run({"dev": job(build(dockerfile))}, contexts={"app": {"files": {"a": "50MB", "b": "50MB"}}},
                 hosts=hosts)
    completed(result)
    [export] = result.spans_of("build_export")
    assert export.duration == pytest.approx(2.0, rel=1e-6)


def rmi_seconds(*, files: int, shared: bool = False, store: str = "containerd", remove_rate: str = "inf") -> float:
    """The ``docker rmi`` span of app:1 (one layer of 100 MB in ``files`` entries; ``shared``: another image holds
    it), its bytes freed at ``remove_rate`` (free unless a test says so)."""
    other = "\n  keep:1: {registry: reg, from: 'app:1', layers: [1MB]}" if shared else ""
    pull_keep = ", {pull: 'keep:1'}" if shared else ""
    costs = f", remove_per_file: 1ms, remove_wait_per_file: 2ms, remove_rate: {remove_rate}"
    text = scenario(files=files, store=store, storage=costs).replace(
        "\nhosts:", other + "\nhosts:", 1).replace("steps: [{pull: 'app:1'}]",
                                                 f"steps: [{{pull: 'app:1'}}{pull_keep}, {{rmi: {{image: 'app:1'}}}}]")
    [span] = run_text(text).spans_of("rmi")
    return span.duration


@pytest.mark.parametrize("store", ["containerd", "graphdriver"])
def test_rmi_removes_every_entry_of_the_layers_that_leave_the_disk(store: str) -> None:
    # 1,000 entries at 1 ms of the daemon's CPU and 2 ms of waiting: 3 s (the API call free)
    assert rmi_seconds(files=1000, store=store) == pytest.approx(3.0, rel=1e-6)


def test_rmi_frees_the_bytes_of_the_layers_that_leave_the_disk() -> None:
    # 1,000 entries (3 s) and the layer's 100 MB freed at 50 MB/s (2 s): 5 s; none when another image holds it
    assert rmi_seconds(files=1000, remove_rate="50MB/s") == pytest.approx(5.0, rel=1e-6)
    assert rmi_seconds(files=1000, shared=True, remove_rate="50MB/s") == pytest.approx(0.0, abs=1e-9)


def test_rmi_of_a_layer_another_image_holds_removes_nothing() -> None:
    # keep:1 is built on app:1's layer: untagging app:1 deletes its image, and its layer stays
    assert rmi_seconds(files=1000, shared=True) == pytest.approx(0.0, abs=1e-9)


STORAGE = StorageSpec({"gzip": 200 * 2**20, "zstd": 522 * 2**20}, 400 * 2**20, 100 * 2**20)


@settings(max_examples=300, deadline=None)
@given(nbytes=st.one_of(st.just(0.0), st.floats(1, 1e10)), extra=st.floats(0, 1e9),
       files=st.one_of(st.none(), st.floats(0, 1e6)),
       more=st.floats(0, 1e5), decoder=st.sampled_from(["external", "go"]),
       compression=st.sampled_from(["gzip", "zstd", "none"]), share=st.floats(0, 1))
def test_an_unpack_never_costs_less_for_more_bytes_or_entries(nbytes: float, extra: float, files: float | None,
                                                               more: float, decoder: str, compression: str,
                                                               share: float) -> None:
    """Every stage's CPU grows with the layer's bytes and with its entries, and the apply's is exactly its three
    terms: the digest, the bytes, the entries (declared, or bytes / file_size). On an idle host the stages end
    together no sooner than side by side and no later than in turn. A layer is no bytes or at least one: below, a
    stage's work is a subnormal float whose cap (work over the pair's time) keeps too few bits to give it back."""
    storage = dataclasses.replace(STORAGE, gzip_decoder=decoder, pipe_colocation=share)
    base = unpack_stages(storage, nbytes, compression, files=files)
    bigger = unpack_stages(storage, nbytes + extra, compression, files=files)
    fuller = unpack_stages(storage, nbytes, compression, files=None if files is None else files + more)
    for stages in (bigger, fuller):
        for (after, _), (before, _) in zip(stages, base, strict=True):
            assert after >= before * (1 - 1e-12)
    if nbytes > 0 and not (compression == "gzip" and decoder == "go"):
        entries = files if files is not None else nbytes / storage.file_size
        apply = nbytes / storage.hash_rate + nbytes / storage.apply_rate + entries * storage.apply_per_file
        assert base[1][0] == pytest.approx(apply, rel=1e-12)
    seconds = [work / cores for work, cores in base if work > 0]
    if seconds:
        alone = [work / (1.0 if i else storage.decompress_cores) for i, (work, _) in enumerate(base) if work > 0]
        assert max(alone) * (1 - 1e-9) <= max(seconds) <= sum(alone) * (1 + 1e-9)
