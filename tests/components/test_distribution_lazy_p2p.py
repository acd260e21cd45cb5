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
    storage: {{write_rate: inf, decompress_rate: {{gzip: 100MB/s}}}}
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
    storage: {{write_rate: inf, decompress_rate: {{gzip: inf}}}}
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
