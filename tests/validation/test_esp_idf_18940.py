"""gzip against zstd for the layers of a real image, with the decoders containerd uses: espressif/esp-idf pull
request #18940 (https://github.com/espressif/esp-idf/pull/18940, "ci(docker): publish image layers with zstd
compression", a maintainer's comment of 2026-08-06). The maintainer pulled the espressif/idf:v6.0.2 layer blobs
and timed their decompression: Go's standard-library compress/gzip against klauspost/compress/zstd (the zstd
decoder containerd unpacks with: containerd#13560, https://github.com/containerd/containerd/pull/13560), and the
command-line gzip and zstd:

| what | uncompressed | Go gzip | Go zstd | ratio | CLI gzip | CLI zstd |
|---|---|---|---|---|---|---|
| the whole tools layer | 4.79 GB | 24.9 s | 9.9 s | 2.5x | 15.6 s | 6.4 s |
| the xtensa-esp-elf toolchain | 1,160.7 MB | 6.3 s | 2.6 s | 2.4x | 3.97 s | 1.42 s |

(The comment also gives compressed sizes, 333.9 MB with gzip -6 and 285.3 MB with zstd -3; the times below do
not depend on them.)

This is the decompression half of a pull's unpack (docs/distribution.md: Unpack as CPU work): inflate on one
core, uncompressed / `storage.decompress_rate` CPU-seconds. The comparison times the decoders alone, so the
file writes are left out (`write_rate: inf`); the machine is not described, so dsim's default host is used:
its per-core rates, gzip 200 MiB/s (Go's stdlib, containerd#13560) and zstd 900 MiB/s (lzbench's C zstd,
facebook/zstd README). Nothing calibrated. The ratio of the two times on one machine does not depend on the
machine's speed, to first order: it checks the two defaults against each other.

Tolerance 25% (the number of runs is not given). Predicted:
- Go gzip: 4.79 GB / 200 MiB/s = 22.84 s against 24.9 s (-8.3%); 1,160.7 MB: 5.53 s against 6.3 s (-12%);
- NOT reproduced (strict xfail): Go zstd, 5.08 s against 9.9 s (-49%) and 1.23 s against 2.6 s (-53%); the
  ratio is 4.5x in dsim (900 / 200) against the measured 2.5x and 2.4x. Go's zstd decoder inflates these
  layers at about 480 MB/s of output (4.79 GB / 9.9 s), half dsim's 900 MiB/s, which is C zstd's speed on
  lzbench; the command-line zstd here did 750 MB/s. On dsim's default host the writes (400 MiB/s) bind before
  either zstd decoder does, so a zstd pull's time there is unchanged; with a faster disk (above about
  460 MiB/s) dsim unpacks zstd up to twice as fast as containerd would, and on every host it counts half the
  CPU-seconds (what a zstd unpack takes from containers and builds on the same cores).
"""

from __future__ import annotations

import pytest

from tests.helpers import run_text

MIB = 2**20
GZIP = 200 * MIB  # dsim's default per-core rates, worked into the expectations by hand
ZSTD = 900 * MIB
#: name -> uncompressed bytes (the compressed size does not enter the unpack: dsim's default ratio 2.7 stands in)
LAYERS = {"tools": 4.79e9, "xtensa": 1160.7e6}
MEASURED = {("tools", "gzip"): 24.9, ("tools", "zstd"): 9.9, ("xtensa", "gzip"): 6.3, ("xtensa", "zstd"): 2.6}
TOLERANCE = 0.25


def unpack(layer: str, compression: str) -> float:
    """Seconds dsim's unpack of the layer takes on an idle default host with free writes."""
    uncompressed = LAYERS[layer]
    result = run_text(f"""
    name: esp-idf-{layer}-{compression}
    registries:
      reg: {{bandwidth: 1000GB/s, latency: 0ms}}
    images:
      idf:1: {{registry: reg, compression: {compression},
              layers: [{{size: {uncompressed / 2.7:.0f}, uncompressed: {uncompressed:.0f}}}]}}
    hosts:
      dev: {{nic: inf, storage: {{write_rate: inf}}}}
    workloads:
      w: {{arrival: {{burst: 1}}, steps: [{{pull: "idf:1"}}]}}
    """)
    [span] = result.spans_of("unpack")
    return span.duration


def test_the_unpack_is_the_decompression_at_the_default_rates() -> None:
    for layer, uncompressed in LAYERS.items():
        assert unpack(layer, "gzip") == pytest.approx(uncompressed / GZIP)
        assert unpack(layer, "zstd") == pytest.approx(uncompressed / ZSTD)


ZSTD_MISS = "dsim's zstd 900 MiB/s is C zstd's speed; Go's decoder (containerd's) did about 480 MB/s here"


@pytest.mark.parametrize(("layer", "compression"), [
    pytest.param("tools", "gzip", id="tools-gzip"),
    pytest.param("xtensa", "gzip", id="xtensa-gzip"),
    pytest.param("tools", "zstd", id="tools-zstd", marks=pytest.mark.xfail(strict=True, reason=ZSTD_MISS)),
    pytest.param("xtensa", "zstd", id="xtensa-zstd", marks=pytest.mark.xfail(strict=True, reason=ZSTD_MISS)),
])
def test_decompression_time_within_tolerance(layer: str, compression: str) -> None:
    measured = MEASURED[layer, compression]
    assert abs(unpack(layer, compression) - measured) <= TOLERANCE * measured


@pytest.mark.xfail(strict=True, reason="dsim's zstd unpacks 4.5x faster than its gzip; Go's decoders 2.4-2.5x")
@pytest.mark.parametrize("layer", ["tools", "xtensa"])
def test_zstd_over_gzip_speedup(layer: str) -> None:
    measured = MEASURED[layer, "gzip"] / MEASURED[layer, "zstd"]
    assert abs(unpack(layer, "gzip") / unpack(layer, "zstd") - measured) <= TOLERANCE * measured
