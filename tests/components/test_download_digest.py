"""The digest of a blob as it downloads, against closed forms worked out by hand (pull.py ``_digest``;
docs/distribution.md: Download).

containerd's content writer hashes every byte it writes (content/local/writer.go), moby's graphdriver pull its
verifier: sha256 on one core beside the transfer, so a download of S bytes over a link of B bytes/s ends at
max(S / B, S / h) on a host with a free core (h: hash_rate), and later when the host's cores are shared.

Setting: one layer of S = 500 MB from a registry with no latency, the host's NIC unlimited, writes free.
"""

from __future__ import annotations

import pytest

from tests.helpers import run_text

MB = 1e6
S = 500 * MB
B = 1000 * MB


def download_seconds(*, hash_rate: str, cpus: int = 2, busy: bool = False, store: str = "containerd") -> float:
    images = f"  app:1: {{registry: reg, layers: [{{size: {S:.0f}, uncompressed: {S:.0f}}}]}}"
    workloads = "  pull: {placement: h, arrival: {burst: 1, at: 1}, steps: [{pull: 'app:1'}]}"
    if busy:  # a process that wants 1 core for much longer than the test, started before the pull
        images += "\n  busy:1: {registry: reg, layers: []}"
        workloads += ("\n  hog: {placement: h, arrival: {burst: 1}, steps: "
                      "[{run: {image: 'busy:1', cpu_time: 1000s, threads: 1}}]}")
    result = run_text(f"""
name: download-digest
registries:
  reg: {{bandwidth: {B:.0f}B/s, latency: 0ms}}
images:
{images}
hosts:
  h:
    cpus: {cpus}
    nic: inf
    preloaded: {"['busy:1']" if busy else "[]"}
    daemon: {{api_service_time: 0s, image_store: {store}}}
    storage: {{write_rate: inf, hash_rate: {hash_rate}}}
workloads:
{workloads}
""")
    [span] = result.spans_of("download")
    return float(span.duration)


@pytest.mark.parametrize("store", ["containerd", "graphdriver"])
def test_a_link_faster_than_the_digest_waits_for_it(store: str) -> None:
    # hashing at 250 MB/s: 2 s for the 500 MB that arrive in 0.5 s
    assert download_seconds(hash_rate="250MB/s", store=store) == pytest.approx(S / (250 * MB), rel=1e-9)


def test_a_digest_faster_than_the_link_costs_nothing_on_an_idle_host() -> None:
    assert download_seconds(hash_rate="2GB/s") == pytest.approx(S / B, rel=1e-9)
    assert download_seconds(hash_rate="inf") == pytest.approx(S / B, rel=1e-9)


def test_a_busy_core_slows_the_digest_and_so_the_download() -> None:
    # one core, a process using it all: the digest's 0.5 CPU-seconds (500 MB at 1 GB/s) get half the core, 1 s,
    # where the bytes take 0.5 s; with a second core the digest has its own: 0.5 s
    assert download_seconds(hash_rate="1GB/s", cpus=1, busy=True) == pytest.approx(2 * S / (1000 * MB), rel=1e-9)
    assert download_seconds(hash_rate="1GB/s", cpus=2, busy=True) == pytest.approx(S / B, rel=1e-9)
