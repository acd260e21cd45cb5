"""The work of reading a blob as it downloads, against closed forms worked out by hand (pull.py ``_receive``;
docs/distribution.md: Download).

containerd's content writer hashes every byte it writes (content/local/writer.go), moby's graphdriver pull its
verifier, and the goroutine that reads the response body decrypts its TLS records first: on one core beside the
transfer, so a download of S bytes over a link of B bytes/s ends at max(S / B, S / h + S / t) on a host with a
free core (h: hash_rate; t: tls_rate, for an https registry), and later when the host's cores are shared.

Setting: one layer of S = 500 MB from a registry of B = 1 GB/s with no latency, the host's NIC unlimited, writes
free (test_unpack_cpu.py's scenario).
"""

from __future__ import annotations

import pytest

from tests.components.test_unpack_cpu import scenario
from tests.helpers import run_text

MB = 1e6
S = 500 * MB
B = 1000 * MB


def download_seconds(*, hash_rate: str, cpus: int = 2, busy: bool = False, store: str = "containerd",
                     tls_rate: str = "inf", tls: bool = True) -> float:
    text = scenario(k=1, cpus=cpus, busy=busy, at=1.0, blob=f"{S:.0f}", link=f"{B:.0f}B/s", hash_rate=hash_rate,
                    store=store, tls_rate=tls_rate, tls=tls)
    [span] = run_text(text).spans_of("download")
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


def test_an_https_registrys_bytes_are_decrypted_by_the_same_goroutine() -> None:
    # hashing at 1 GB/s and decrypting at 1 GB/s: 0.5 + 0.5 CPU-seconds on one core for bytes that arrive in 0.5 s
    assert download_seconds(hash_rate="1GB/s", tls_rate="1GB/s") == pytest.approx(S / (1000 * MB) * 2, rel=1e-9)
    # decryption alone (hashing free): 500 MB at 400 MB/s
    assert download_seconds(hash_rate="inf", tls_rate="400MB/s") == pytest.approx(S / (400 * MB), rel=1e-9)


def test_a_plain_http_registry_costs_no_decryption() -> None:
    assert download_seconds(hash_rate="1GB/s", tls_rate="1GB/s", tls=False) == pytest.approx(S / B, rel=1e-9)
