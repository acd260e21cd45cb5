"""Per-connection throughput caps (a registry's or a link's ``stream_rate``) against closed forms.

Every transfer is one connection, so it moves at most ``stream_rate`` bytes/s however wide the links are,
and concurrent streams share the links by max-min fairness: a stream gets min(c, its fair share).
Everything else is switched off: api_service_time 0, registry latency 0, rtt 0 (no round trips),
infinite unpack rates, so a pull lasts exactly its transfers.
"""

from __future__ import annotations

import math

import pytest

from tests.helpers import run_text

MB = 1e6

PULL = """
name: caps
seed: 1
registries:
  reg: {{bandwidth: {egress}, latency: 0s, stream_rate: {cap}}}
images:
  app:1: {{registry: reg, layers: {layers}}}
hosts:
  h:
    count: {hosts}
    nic: {nic}
    daemon: {{api_service_time: 0s, max_concurrent_downloads: {slots}}}
    storage: {{write_rate: inf, decompress_rate: {{gzip: inf}}, hash_rate: inf,
               receive_rate: inf, apply_rate: inf, apply_per_file: 0s}}
workloads:
  w:
    arrival: {{burst: {hosts}}}
    steps: [{{pull: "app:1"}}]
"""


def pull_times(*, layers: str, cap: str = "10MB/s", nic: str = "10Gbps", egress: str = "10GB/s", hosts: int = 1,
               slots: int = 3) -> list[float]:
    result = run_text(PULL.format(layers=layers, cap=cap, nic=nic, egress=egress, hosts=hosts, slots=slots))
    return result.phase_samples("pull")


def test_one_stream_capped_at_c_takes_s_over_c() -> None:
    # one 100 MB layer, cap 10 MB/s, NIC 1.25 GB/s: the cap binds, 100 / 10 = 10 s
    [pull] = pull_times(layers="[100MB]")
    assert pull == pytest.approx(100 * MB / (10 * MB))


@pytest.mark.parametrize(("k", "slots", "nic", "expected"), [
    # caps bind (s x c = 30 MB/s < NIC): ceil(k / s) waves of S / c each; 7 layers of 50 MB in 3 slots:
    # waves of 3, 3, 1 -> 3 x 50 / 10 = 15 s
    (7, 3, "1GB/s", math.ceil(7 / 3) * 50 / 10),
    # the NIC binds while 3 streams run (3 x 10 > 20 MB/s: 20 / 3 each), the last wave alone is capped again:
    # 2 x (3 x 50 / 20) + 50 / min(10, 20) = 15 + 5 = 20 s
    (7, 3, "20MB/s", 2 * (3 * 50 / 20) + 50 / 10),
    # one slot: k streams one after another, k x S / c = 4 x 5 = 20 s
    (4, 1, "1GB/s", 4 * 50 / 10),
])
def test_k_equal_layers_with_s_slots_and_a_cap_against_the_nic(k: int, slots: int, nic: str,
                                                                expected: float) -> None:
    [pull] = pull_times(layers="[" + ", ".join(["50MB"] * k) + "]", nic=nic, slots=slots)
    assert pull == pytest.approx(expected)


def test_the_same_bytes_in_more_layers_pull_min_n_slots_times_faster() -> None:
    # 150 MB as one layer: 150 / 10 = 15 s; as 3 layers of 50 MB in 3 slots: 50 / 10 = 5 s (3 = min(3, 3)
    # times faster); as 6 layers: 2 waves of 5 s, still min(6, 3) = 3 times faster
    [one] = pull_times(layers="[150MB]")
    [three] = pull_times(layers="[50MB, 50MB, 50MB]")
    [six] = pull_times(layers="[" + ", ".join(["25MB"] * 6) + "]")
    assert (one, three, six) == pytest.approx((15.0, 5.0, 5.0))


def test_many_nodes_share_the_registry_egress_below_the_cap() -> None:
    # 10 hosts pull one 100 MB layer at once from a 50 MB/s registry: 50 / 10 = 5 MB/s each, under the 10 MB/s
    # cap: 100 / 5 = 20 s for everyone; with an egress of 1 GB/s the cap binds again: 10 s
    assert pull_times(layers="[100MB]", hosts=10, egress="50MB/s") == pytest.approx([20.0] * 10)
    assert pull_times(layers="[100MB]", hosts=10, egress="1GB/s") == pytest.approx([10.0] * 10)


def test_an_unset_cap_leaves_the_links_in_charge() -> None:
    # no stream_rate: the 100 MB layer takes 100 / 50 = 2 s on a 50 MB/s NIC, as before caps existed
    [pull] = pull_times(layers="[100MB]", cap="inf", nic="50MB/s")
    assert pull == pytest.approx(2.0)


def test_a_push_is_one_stream_too() -> None:
    # a built layer of 108 MB unpacked is 108 / 2.7 = 40 MB compressed; with compress_rate inf only the
    # registry's 8 MB/s cap limits its upload: 40 / 8 = 5 s
    result = run_text("""
    name: push-cap
    registries:
      local: {bandwidth: 10GB/s, latency: 0s, stream_rate: 8MB/s}
    hosts:
      h: {nic: 10Gbps, daemon: {api_service_time: 0s}, storage: {compress_rate: inf, write_rate: inf}}
    workloads:
      w:
        arrival: {burst: 1}
        steps:
          - build: {dockerfile_text: "FROM scratch\\nRUN make\\n", tag: "local/app:1", default_run_time: 0s,
                    layer_sizes: {make: 108MB}}
          - push: local/app:1
    """)
    [upload] = result.spans_of("upload")
    assert upload.attrs["bytes"] == pytest.approx(40 * MB)
    assert upload.duration == pytest.approx(40 * MB / (8 * MB))


def test_a_pull_through_miss_streams_at_the_upstream_cap() -> None:
    # the mirror is on the LAN (no cap), its upstream (Docker Hub here) streams at 10 MB/s: a miss moves
    # 100 MB from the upstream into the mirror and on to the host at once, so the download lasts 100 / 10 =
    # 10 s; a hit later streams from the mirror at the NIC's 1 GB/s: 0.1 s
    result = run_text("""
    name: mirror-cap
    registries:
      hub: {bandwidth: 10GB/s, latency: 0s, stream_rate: 10MB/s}
      mirror: {bandwidth: 10GB/s, latency: 0s, upstream: hub}
    images:
      app:1: {layers: [100MB]}
    hosts:
      h: {count: 2, nic: 1GB/s, daemon: {api_service_time: 0s, registry_mirrors: [mirror]},
          storage: {write_rate: inf, decompress_rate: {gzip: inf}, hash_rate: inf,
                    receive_rate: inf, apply_rate: inf, apply_per_file: 0s}}
    workloads:
      w: {arrival: {times: [0s, 60s]}, steps: [{pull: "app:1"}]}
    """)
    durations = sorted(span.duration for span in result.spans_of("download"))
    assert durations == pytest.approx([0.1, 10.0])


def test_a_link_stream_rate_caps_peer_and_context_transfers() -> None:
    # the build context (30 MB) goes from the laptop to the builder over a WAN link whose stream_rate is
    # 3 MB/s though its bandwidth is 100 MB/s: 30 / 3 = 10 s
    result = run_text("""
    name: link-cap
    contexts:
      app: {files: {big.bin: 30MB}}
    hosts:
      laptop: {nic: 1GB/s}
      builder: {nic: 1GB/s, daemon: {api_service_time: 0s}}
    network:
      links:
        - {a: laptop, b: builder, bandwidth: 100MB/s, stream_rate: 3MB/s}
    workloads:
      w:
        placement: builder
        arrival: {burst: 1}
        steps:
          - build: {dockerfile_text: "FROM scratch\\nCOPY big.bin /\\n", context: app, context_from: laptop,
                    builder: classic}
    """)
    [context] = [span for span in result.spans_of("build_context") if span.attrs["bytes"] > 1e6]
    assert context.duration == pytest.approx(30 * MB / (3 * MB), rel=1e-6)
