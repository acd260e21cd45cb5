"""gzip vs zstd decompression of one 1.9 GiB image into a file, timed with `time` on one machine (a single
run each): gunzip 8.70 s user + 0.81 s system, 97% CPU, 9.728 s total; unzstd 1.29 s user + 0.61 s
system, 48% CPU, 3.968 s total. Source: Linutronix/elbe pull request #321
(https://github.com/Linutronix/elbe/pull/321), "Add zstd in-place packer and tar archiver".

This is the stage dsim's unpack models: an inflate that is CPU work on one core, its files written through the
page cache (docs/distribution.md: Unpack as CPU work; docs/networks-storage.md: The page cache): they go into
memory at once while the dirty bytes stay under the kernel's setpoint, 17.5% of the dirtyable memory; past it the
writer waits for the writeback of its bytes beyond it, at the disk's write rate. gunzip at 97% CPU is CPU-bound;
unzstd at 48% CPU waited half its time.

Parameter set (environment "the elbe developer's machine"): one layer of 1.9 GiB uncompressed (379 MB as gzip,
353 MB as zstd, as the PR prints them), pulled over a link too fast to matter; zstd at the C decoder's 940 MB/s
on lzbench (facebook/zstd README), as this run used the C `unzstd`, not the Go decoder containerd unpacks with
(dsim's default, 522 MiB/s); gzip at dsim's default 200 MiB/s (Go's, close to GNU gzip's); no digest of the
tar stream (``hash_rate: inf``): a pull's unpack digests it (the layer's DiffID), a decompression into a file
does not; and no TLS to decrypt (the registry's ``tls: false``): the file was read from a local disk. The PR publishes
neither the machine's memory nor its disk, so both are dsim's defaults (16 GiB, 400 MiB/s), and NOTHING is
calibrated: before the page cache, the zstd row's wall time set the write rate (1.9 GiB / 3.968 s, the run taken
as write-bound); with the page cache the write rate cannot be read off it, since a 16 GiB host's setpoint
(2.8 GiB) takes the whole 1.9 GiB without a wait. The unpack's time depends on the write rate only when the
dirtyable memory is under 1.9 GiB / 0.175 = 10.9 GiB, and then on both: (1.9 GiB - 0.175 M) / w = 3.968 s has a
solution for every such memory (8 GiB: 135 MB/s; 4 GiB: 325 MB/s), none of which the PR gives.

Predicted, by hand (tolerance 25%: single runs; "1,9G" as `ls -h` prints it is known to about 3%):
- gzip wall time: 1.9 GiB / 200 MiB/s = 9.73 s (CPU-bound) against 9.728 s; CPU-seconds 9.73 against 9.51
  (user + system);
- zstd wall time: 1.9 GiB / 940 MB/s = 2.17 s (CPU-bound: the page cache holds the files) against 3.968 s:
  -45%, NOT reproduced; its CPU-seconds 2.17 against 1.90 (+14%), within. The measured 48% CPU says the real
  run waited on something for half its time: writeback throttling on a machine with under 10.9 GiB of dirtyable
  memory, or its input's reads; the PR does not say which.
The gunzip measured here is GNU gzip, not Go's compress/gzip that dsim's rate comes from; they inflate at
similar speeds.
"""

from __future__ import annotations

import pytest

from tests.helpers import run_text

GIB = 2**30
MIB = 2**20
SIZE = 1.9 * GIB
#: dsim's default host memory: the kernel's setpoint, 17.5% of it, holds the whole unpack
SETPOINT = 0.175 * 16 * GIB
C_ZSTD = 940e6  # the C decoder's rate on lzbench: the tool this run timed


def unpack(compression: str, compressed: str) -> tuple[float, float]:
    """(wall seconds, CPU-seconds) of unpacking the layer on an idle host (zstd at the C decoder's rate)."""
    result = run_text(f"""
    name: elbe-{compression}
    registries:
      reg: {{bandwidth: 1000GB/s, latency: 0ms, tls: false}}
    images:
      img:1: {{registry: reg, compression: {compression}, layers: [{{size: {compressed}, uncompressed: {SIZE:.0f}}}]}}
    hosts:
      dev: {{cpus: 8, nic: inf, storage: {{decompress_rate: {{zstd: {C_ZSTD:.0f}B/s}}, hash_rate: inf,
                                           receive_rate: inf, apply_rate: inf, apply_per_file: 0s}}}}
    workloads:
      w: {{arrival: {{burst: 1}}, steps: [{{pull: "img:1"}}]}}
    """)
    [span] = result.spans_of("unpack")
    cpu = sum(s.attrs["busy"] * s.duration for s in result.spans_of("cpu"))
    return span.duration, cpu


def test_zstd_predicted_cpu_bound() -> None:
    assert SIZE < SETPOINT  # the files go into the page cache without a wait
    wall, cpu = unpack("zstd", "353MB")
    assert wall == pytest.approx(SIZE / C_ZSTD)
    assert cpu == pytest.approx(SIZE / C_ZSTD)
    assert cpu == pytest.approx(1.29 + 0.61, rel=0.25)


@pytest.mark.xfail(strict=True, reason="2.17 s predicted against 3.968 s (-45%): on dsim's default 16 GiB host the "
                   "page cache takes the 1.9 GiB at once, while the real run (48% CPU) waited half its time; the PR "
                   "gives neither memory nor disk")
def test_zstd_measured_wall_time() -> None:
    wall, _ = unpack("zstd", "353MB")
    assert wall == pytest.approx(3.968, rel=0.25)


def test_gzip_predicted_cpu_bound() -> None:
    wall, cpu = unpack("gzip", "379MB")
    assert wall == pytest.approx(SIZE / (200 * MIB))
    assert wall == pytest.approx(9.728, rel=0.25)
    assert cpu == pytest.approx(8.70 + 0.81, rel=0.25)
