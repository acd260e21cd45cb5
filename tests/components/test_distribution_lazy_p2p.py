"""Lazy pulling and peer-to-peer distribution against hand-worked timelines.

Topology: one switch, zero link latency; API calls free.
"""

from __future__ import annotations

import pytest

from tests.helpers import run_text

LAZY = """
name: t
registries:
  reg: {{bandwidth: 100MB/s, latency: 10ms}}
images:
  app:1: {{registry: reg, layers: [{{size: 100MB, uncompressed: 200MB}}], lazy: {lazy}, prefetch: 0.1}}
hosts:
  h:
    nic: inf
    snapshotter: {snapshotter}
    daemon: {{api_service_time: 0s}}
    storage: {{write_rate: inf, decompress_rate: {{gzip: 100MB/s}}, hash_rate: inf,
               receive_rate: inf, apply_rate: inf, apply_per_file: 0s}}
workloads:
  w:
    arrival: {{burst: 1}}
    steps: [{{pull: "app:1"}}, {{run: {{image: "app:1", duration: 10s}}}}]
"""


def test_a_lazy_pull_returns_after_the_prefetch_and_fetches_the_rest_while_the_container_runs() -> None:
    """Resolve 30 ms; a range GET (10 ms) of 10% (10 MB, 0.1 s) and its 20 MB decompressed at 100 MB/s
    (0.2 s): the image is usable at 0.34 s. In the background: range GET (10 ms) of the other 90 MB (0.9 s)
    and 180 MB decompressed (1.8 s): every layer is local at 3.05 s, while the container runs."""
    result = run_text(LAZY.format(lazy="true", snapshotter="overlayfs"))
    assert result.phase_samples("pull") == [pytest.approx(0.34)]
    [background] = result.spans_of("lazy_fetch")
    assert (background.start, background.end) == (pytest.approx(0.34), pytest.approx(3.05))
    [start] = result.spans_of("start")
    assert start.start < background.end
    assert result.summary()["registries"]["reg"]["bytes_sent"] == 100_000_000
    # the whole pull would take 30 ms + 10 ms + 1 s + 2 s of unpacking = 3.04 s
    full = run_text(LAZY.format(lazy="false", snapshotter="overlayfs"))
    assert full.phase_samples("pull") == [pytest.approx(3.04)]


def test_the_stargz_snapshotter_pulls_every_image_lazily() -> None:
    result = run_text(LAZY.format(lazy="false", snapshotter="stargz"))
    assert result.phase_samples("pull") == [pytest.approx(0.34)]


P2P = """
name: t
registries:
  origin: {{bandwidth: {origin}, latency: 0s, p2p: {p2p}, p2p_sources: 1, p2p_uploads: 1}}
images:
  big:1: {{registry: origin, layers: [100MB]}}
hosts:
  h:
    count: {hosts}
    nic: 100MB/s
    daemon: {{api_service_time: 0s}}
    storage: {{write_rate: inf, decompress_rate: {{gzip: inf}}, hash_rate: inf,
               receive_rate: inf, apply_rate: inf, apply_per_file: 0s}}
workloads:
  w:
    arrival: {{burst: {hosts}}}
    steps: [{{pull: "big:1"}}]
"""


def p2p(*, origin: str, hosts: int, on: bool = True) -> str:
    return P2P.format(origin=origin, hosts=hosts, p2p=str(on).lower())


def test_peers_relay_so_three_hosts_pull_as_fast_as_one() -> None:
    """Origin link 100 MB/s, NICs 100 MB/s, one source and one upload per peer. Without p2p the three
    hosts share the origin: 3 x 100 MB / 100 MB/s = 3 s each. With p2p h-1 takes the blob from the origin,
    h-2 from h-1, h-3 from h-2, each stream at 100 MB/s: 1 s each, and the origin sends 100 MB only."""
    plain = run_text(p2p(origin="100MB/s", hosts=3, on=False))
    assert plain.phase_samples("pull") == [pytest.approx(3.0)] * 3
    swarm = run_text(p2p(origin="100MB/s", hosts=3))
    assert swarm.phase_samples("pull") == [pytest.approx(1.0)] * 3
    registry = swarm.summary()["registries"]["origin"]
    assert (registry["bytes_sent"], registry["bytes_from_peers"]) == (100_000_000, 200_000_000)


def test_a_relay_cannot_finish_before_its_source() -> None:
    """Origin link 50 MB/s: h-1 receives at 50 MB/s (2 s); h-2's stream from h-1 runs at 100 MB/s and
    would end at 1 s, but h-1 cannot hand on bytes it has not received: h-2 completes with h-1, at 2 s."""
    result = run_text(p2p(origin="50MB/s", hosts=2))
    assert result.phase_samples("pull") == [pytest.approx(2.0)] * 2



def test_peers_relay_lazy_range_reads_too() -> None:
    """A lazy image from a p2p registry (DADI's and Dragonfly's peer-to-peer lazy pulls): each host's prefetch
    (10 MB) and background rest (90 MB) are ranges other hosts read too, fetched through the swarm as a blob
    is. Origin and NICs 100 MB/s, one source and one upload a peer: without p2p the three prefetches share the
    origin, 0.3 s each; with it h-1 reads from the origin, h-2 from h-1, h-3 from h-2, 0.1 s each, and the
    rests end 0.9 s later. The origin sends one copy (100 MB), peers the other two (200 MB)."""
    lazy = P2P.replace("layers: [100MB]", "layers: [100MB], lazy: true, prefetch: 0.1")
    plain = run_text(lazy.format(origin="100MB/s", hosts=3, p2p="false"))
    assert plain.phase_samples("pull") == [pytest.approx(0.3)] * 3
    swarm = run_text(lazy.format(origin="100MB/s", hosts=3, p2p="true"))
    assert swarm.phase_samples("pull") == [pytest.approx(0.1)] * 3
    assert [(s.start, s.end) for s in swarm.spans_of("lazy_fetch")] == [(pytest.approx(0.1), pytest.approx(1.0))] * 3
    registry = swarm.summary()["registries"]["origin"]
    assert (registry["bytes_sent"], registry["bytes_from_peers"]) == (100_000_000, 200_000_000)

LAZY_TOGETHER = """
name: t
registries:
  reg: {{bandwidth: 100MB/s, latency: 10ms}}
images:
  app:1: {{registry: reg, layers: [{{size: 100MB, uncompressed: 200MB}}], lazy: true, prefetch: 0.1}}
  app:2: {{registry: reg, from: "app:1", layers: [{{size: 50MB, uncompressed: 100MB}}], lazy: true, prefetch: 0.1}}
hosts:
  h:
    nic: inf
    daemon: {{api_service_time: 0s}}
    storage: {{write_rate: inf, decompress_rate: {{gzip: 100MB/s}}, hash_rate: inf,
               receive_rate: inf, apply_rate: inf, apply_per_file: 0s}}
workloads:
{workloads}"""


def lazy_together(**runs: tuple[int, str]) -> str:
    """Workloads named by keyword, each (jobs at time 0, image): a pull and a 10 s run of the image."""
    return LAZY_TOGETHER.format(workloads="".join(
        f"  {name}:\n    arrival: {{burst: {jobs}}}\n"
        f"    steps: [{{pull: \"{image}\"}}, {{run: {{image: \"{image}\", duration: 10s}}}}]\n"
        for name, (jobs, image) in runs.items()))


def test_lazy_pulls_of_one_image_started_together_share_its_mount() -> None:
    """Three `docker run`s of one lazy image at once on a host: the snapshotter mounts each layer once
    (stargz-snapshotter resolves a layer once per digest; containerd's unpacker then finds the chain committed,
    "already exists skip fetch blob": containerd core/unpack/unpacker.go), so the registry sends the 10 MB
    prefetch and the 90 MB rest once, not three times: 100 MB. Each pull waits for the one prefetch: all usable
    at 0.34 s (resolve 30 ms, range GET 10 ms, 10 MB at 100 MB/s, 20 MB inflated at 100 MB/s), one background
    fetch to 3.05 s."""
    result = run_text(lazy_together(w=(3, "app:1")))
    assert result.summary()["registries"]["reg"]["bytes_sent"] == 100_000_000
    assert result.phase_samples("pull") == [pytest.approx(0.34)] * 3
    [background] = result.spans_of("lazy_fetch")
    assert (background.start, background.end) == (pytest.approx(0.34), pytest.approx(3.05))


def test_lazy_pulls_of_two_images_sharing_a_base_fetch_the_base_once() -> None:
    """app:2 is app:1 plus a 50 MB layer: pulled at once with app:1, the base's prefetch and rest are fetched once
    (100 MB) and app:2's own layer once (50 MB)."""
    result = run_text(lazy_together(v=(1, "app:1"), w=(1, "app:2")))
    assert result.summary()["registries"]["reg"]["bytes_sent"] == 150_000_000
    assert len(list(result.spans_of("lazy_fetch"))) == 2
