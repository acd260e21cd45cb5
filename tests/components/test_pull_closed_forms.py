"""Pulls against closed forms worked out by hand from the model's rules.

With api_service_time 0, infinite storage rates and no auth, one pull of one layer of S bytes over a
registry link of bandwidth B with registry latency L costs HEAD + manifest GET + config GET + blob GET
= 4 requests of L each, then S/B on the wire.
"""

from __future__ import annotations

import pytest

from tests.helpers import run_text

BASE = """
name: t
seed: 1
registries:
  reg: {{bandwidth: {bw}, latency: {lat}}}
images:
  app:1: {{registry: reg, layers: {layers}, compression: {compression}}}
hosts:
  h:
    count: {hosts}
    nic: inf
    daemon: {{api_service_time: 0s, max_concurrent_downloads: {slots}}}
    storage: {{write_rate: {write}, decompress_rate: {{gzip: {gunzip}}}, hash_rate: inf,
               receive_rate: inf, apply_rate: inf, apply_per_file: 0s}}
    preloaded: {preloaded}
workloads:
  w:
    arrival: {{burst: {hosts}}}
    steps: [{{pull: "app:1"}}]
"""


def scenario(*, bw: str = "100MB/s", lat: str = "10ms", layers: str = "[100MB]", hosts: int = 1, slots: int = 3,
             write: str = "inf", gunzip: str = "inf", compression: str = "gzip", preloaded: str = "[]") -> str:
    return BASE.format(bw=bw, lat=lat, layers=layers, hosts=hosts, slots=slots, write=write, gunzip=gunzip,
                       compression=compression, preloaded=preloaded)


def test_one_flow_alone_takes_size_over_bandwidth_plus_round_trips() -> None:
    result = run_text(scenario())
    [pull] = result.phase_samples("pull")
    assert pull == pytest.approx(4 * 0.010 + 100e6 / 100e6)
    assert result.summary()["registries"]["reg"]["bytes_sent"] == 100_000_000


def test_n_equal_flows_finish_together_at_n_s_over_b() -> None:
    result = run_text(scenario(hosts=5))
    pulls = result.phase_samples("pull")
    assert len(pulls) == 5
    for pull in pulls:
        assert pull == pytest.approx(4 * 0.010 + 5 * 100e6 / 100e6)


def test_preloaded_image_pulls_zero_bytes() -> None:
    result = run_text(scenario(preloaded="['app:1']"))
    summary = result.summary()
    assert summary["registries"]["reg"]["bytes_sent"] == 0
    # re-pulling an unchanged local tag costs one HEAD only (real-docker: Pull 8)
    assert summary["registries"]["reg"]["requests"] == 1
    assert result.phase_samples("pull") == [pytest.approx(0.010)]


def test_download_and_unpack_overlap_in_layer_order() -> None:
    """Two 100 MB gzip layers (uncompressed 200 MB each), link 100 MB/s, unpack 100 MB/s of output.

    Both downloads share the link from t0 = 3 requests + 1 blob request = 40 ms: each gets 50 MB/s and
    both end at t0 + 2 s. Layer 0 unpacks 2 s (t0+2 .. t0+4), then layer 1 (t0+4 .. t0+6).
    """
    layers = "[{size: 100MB, uncompressed: 200MB}, {size: 100MB, uncompressed: 200MB}]"
    result = run_text(scenario(layers=layers, gunzip="100MB/s"))
    [pull] = result.phase_samples("pull")
    assert pull == pytest.approx(0.040 + 2.0 + 2.0 + 2.0)
    unpacks = sorted(result.spans_of("unpack"), key=lambda s: s.start)
    assert [round(s.start, 6) for s in unpacks] == [pytest.approx(2.04), pytest.approx(4.04)]


def test_unpack_waits_for_its_own_blob_while_later_downloads_go_on() -> None:
    """One slot: layer 0 (100 MB) downloads 0.04..1.04 s, then layer 1 (50 MB) 1.05..1.55 s (its own
    blob GET pays 10 ms). Layer 0 inflates 1.04..2.04 s (100 MB of files at 100 MB/s, into the page cache)
    while layer 1 downloads; layer 1 inflates 2.04..2.54 s."""
    result = run_text(scenario(layers="[{size: 100MB, uncompressed: 100MB}, {size: 50MB, uncompressed: 50MB}]",
                               slots=1, gunzip="100MB/s"))
    [pull] = result.phase_samples("pull")
    assert pull == pytest.approx(2.54)


def test_one_download_per_blob_per_daemon() -> None:
    """Three jobs on one host pull the same image at once: the blob crosses the network once."""
    text = scenario().replace("arrival: {burst: 1}", "arrival: {burst: 3}")
    result = run_text(text)
    assert len(result.spans_of("download")) == 1
    assert result.summary()["registries"]["reg"]["bytes_sent"] == 100_000_000
    pulls = result.phase_samples("pull")
    assert pulls == [pytest.approx(1.04)] * 3


def test_from_shares_base_layers_by_digest() -> None:
    text = """
    name: t
    registries: {reg: {bandwidth: 100MB/s, latency: 0s}}
    images:
      base:1: {registry: reg, layers: [100MB]}
      app:1: {registry: reg, from: "base:1", layers: [50MB]}
    hosts: {h: {nic: inf, daemon: {api_service_time: 0s}, storage: {write_rate: inf}, preloaded: ["base:1"]}}
    workloads: {w: {arrival: {burst: 1}, steps: [{pull: "app:1"}]}}
    """
    result = run_text(text)
    summary = result.summary()
    assert summary["registries"]["reg"]["bytes_sent"] == 50_000_000
    assert summary["cache"]["layer_hits"] == 1 and summary["cache"]["layer_misses"] == 1


def test_concurrent_pulls_share_downloads_and_count_them_as_shared() -> None:
    text = scenario(layers="[10MB, 10MB]").replace("arrival: {burst: 1}", "arrival: {burst: 4}")
    cache = run_text(text).summary()["cache"]
    assert (cache["layer_hits"], cache["layer_misses"], cache["layer_shared"]) == (0, 2, 6)
