"""moby#21814 ("Docker does not extract images in parallel"), sepiroth887's comment of 2018-01-19
(https://github.com/moby/moby/issues/21814): "from experience", ~1.5GB images take ~8 s to download and another
35-40 s to extract, to an SSD, on a 20-core machine with 112 GB of RAM, no NAS, in a private datacenter or cloud.

What the source gives and what it leaves out:
- not the issue's opening report: that one (hsingh23, 2016: Docker 1.10.3, aufs on ext4, 4 CPUs, 1.9 GiB) has no
  timings; the figures come from a different user's machine, described only by the sentence above;
- no Docker version or storage driver. The comment predates pigz: the maintainer's answer the same day says "the
  next release will use pigz" (moby#35697, Docker 18.02), so the layers were inflated by Go's compress/gzip, one
  stream per layer, in the graphdriver layer store, one layer at a time;
- no image, layer sizes or split, and "1.5GB" may be either size the docker CLI prints: the compressed bytes
  `docker pull` downloads, or the image's size in `docker images` (uncompressed). Both readings are checked;
  the docker CLI's sizes are decimal (go-units HumanSize), so 1.5 GB = 1.5e9 bytes;
- it is a recollection ("from experience", "~"), not a timed benchmark; no run count.

Parameters (one environment):
- the host: 20 cores, 112 GiB, its disk an SSD: dsim's defaults for the unpack (gzip 200 MiB/s of output on one
  core, containerd#13560; writes 400 MiB/s), which the comment gives nothing to replace. The page cache's setpoint,
  17.5% of 112 GiB = 21 GB, holds any reading's files: the unpack is CPU-bound;
- the link: the ONE calibrated value, the NIC set from the measured download (compressed bytes / 8 s). The
  download half of the row is therefore a mechanics check, not a prediction;
- the registry: private and near (the comment's "private datacenters"): dsim's default registry latency, no
  round trip of its own (its 30 ms a request); its bandwidth well above the NIC;
- the split of the bytes into layers is unknown: one layer and five equal layers are both run. On an idle
  20-core host the extraction work does not depend on the split (one layer at a time, each on one core).

The download: the 2018 daemon pulled into its graphdriver store (moby distribution/pull_v2.go,
``v2LayerDescriptor.Download``): it copied the blob into a temporary file, printed "Download complete" and handed the
file to the extraction, with no sync, and removed it after. The parameter set says so (``daemon.image_store:
graphdriver``), so the download window is the transfer: one layer, 30 ms + C / N; five equal layers in three slots,
two waves, 60 ms + C / N: 8.03 / 8.06 s, the calibration given back (a mechanics check). The containerd image
store (Docker 29's default) fsyncs each blob as it commits it (containerd content/local/writer.go, ``Commit``:
``fp.Sync()``) inside its download slot; a blob fetched in under the kernel's 30 s expiry is all dirty then, so
each costs its bytes / 400 MiB/s of the disk: 11.61 / 11.64 s (reading 1) and 9.35 / 9.38 s (reading 2), what the
same pull would take there (checked too).

Measures, from the run's spans (docs/reports.md): download = first download start to last download end;
extract = the sum of the `unpack` spans (Docker extracts the layers one after another, so their sum is the
time spent extracting; with one layer it is also exactly the time after the download, the comment's "another").

Prediction, worked out by hand: extract = the longer of the inflate, uncompressed / 200 MiB/s, and the apply beside
it (the files go into the page cache), uncompressed x (1 / hash_rate + 1 / apply_rate) + entries x apply_per_file
with the graphdriver store's defaults (448.62 MB/s, 435 MB/s, 240 us; entries = uncompressed / 20 KB:
docs/distribution.md, What a pull's bytes cost):
- reading "1.5 GB downloaded": uncompressed 2.7 x 1.5e9 = 4.05e9 B (dsim's default ratio): the inflate 19.3 s, the
  apply 9.03 + 9.31 + 202,500 x 240 us = 66.9 s;
- reading "1.5 GB on disk": 1.5e9 B: the inflate 7.2 s, the apply 3.34 + 3.45 + 75,000 x 240 us = 24.8 s.

Tolerance: download within 5% of 8 s (it is calibrated); extract within [35 - 15%, 40 + 15%] = [29.75, 46] s,
15% beyond the measured range. NOT reproduced under either reading (strict xfail): dsim extracts 1.7-1.9x
slower (reading 1) or 1.4-1.6x faster (reading 2) than the comment; the measurement lies between the two readings,
and the image's files, the machine's per-core speed and the Docker version are not given. (Before session 58 the
unpack was the inflate and the digest only: 1.8-5.6x faster.)
Deterministic: one run per case.
"""

from __future__ import annotations

import pytest

from dsim.result import SimResult
from tests.helpers import run_text

GB = 1e9
DOWNLOAD_S = 8.0
EXTRACT_S = (35.0, 40.0)
GZIP_RATE = 200 * 2**20  # dsim's default storage.decompress_rate.gzip (bytes of output per second, one core)
WRITE_RATE = 400 * 2**20  # dsim's default storage.write_rate
RATIO = 2.7  # dsim's default uncompressed / compressed for gzip layers
#: the graphdriver store's apply (dsim.domain.hosts: SHA256_AVX2, APPLY_RATE, APPLY_PER_FILE; storage.file_size)
HASH_RATE, APPLY_RATE, PER_FILE, FILE_SIZE = 448.62e6, 435e6, 240e-6, 20e3
REQUEST_S = 0.03  # dsim's default registry: 30 ms a request, here one GET per layer in each wave of slots
SETPOINT = 0.175 * 112 * 2**30  # the kernel's setpoint over the host's 112 GiB
#: reading of "1.5GB" -> (compressed bytes, uncompressed bytes)
READINGS = {"downloaded": (1.5 * GB, RATIO * 1.5 * GB), "on disk": (1.5 * GB / RATIO, 1.5 * GB)}
SPLITS = {"one layer": [1.0], "five equal": [0.2] * 5}


def pull(reading: str, split: str, store: str = "graphdriver") -> SimResult:
    """The 20-core host pulling the image of ``reading`` split as ``split``, its NIC set from the 8 s download,
    into ``store`` (the 2018 daemon's graphdriver store by default)."""
    compressed, uncompressed = READINGS[reading]
    layers = ", ".join(f"{{size: {compressed * f:.0f}, uncompressed: {uncompressed * f:.0f}}}"
                       for f in SPLITS[split])
    return run_text(f"""
    name: moby-21814
    registries:
      private: {{bandwidth: 100Gbps}}
    images:
      app:latest: {{registry: private, layers: [{layers}]}}
    hosts:
      node: {{cpus: 20, memory: 112GiB, disk: 500GiB, nic: {compressed / DOWNLOAD_S:.0f}B/s,
             daemon: {{image_store: {store}}}}}
    workloads:
      pull: {{arrival: {{burst: 1}}, steps: [{{pull: "app:latest"}}]}}
    """)


def download_and_extract(result: SimResult) -> tuple[float, float]:
    """(download window, total unpack time) in seconds, from the run's download and unpack spans."""
    downloads = list(result.spans_of("download"))
    unpacks = list(result.spans_of("unpack"))
    window = max(s.end for s in downloads) - min(s.start for s in downloads)
    return window, sum(s.end - s.start for s in unpacks)


CASES = [(reading, split) for reading in READINGS for split in SPLITS]


def fsyncs(reading: str, store: str) -> float:
    """The content store's fsyncs on the download's critical path: every blob, all dirty, at the disk's rate (five
    layers: the three of the first wave share the disk, then the two of the second); none in the graphdriver
    store."""
    compressed, _ = READINGS[reading]
    return compressed / WRITE_RATE if store == "containerd" else 0.0


@pytest.mark.parametrize("store", ["graphdriver", "containerd"])
@pytest.mark.parametrize(("reading", "split"), CASES)
def test_download_window_closed_form(reading: str, split: str, store: str) -> None:
    """The requests (one GET a wave), the transfer over the link set from 8 s, the content store's fsyncs."""
    download, _ = download_and_extract(pull(reading, split, store))
    waves = {"one layer": 1, "five equal": 2}[split]
    assert download == pytest.approx(waves * REQUEST_S + DOWNLOAD_S + fsyncs(reading, store), rel=1e-6)


@pytest.mark.parametrize(("reading", "split"), CASES)
def test_download_window_is_eight_seconds(reading: str, split: str) -> None:
    """The link was set from this figure, the 2018 daemon's download, which ended with the transfer (5%)."""
    download, _ = download_and_extract(pull(reading, split))
    assert download == pytest.approx(DOWNLOAD_S, rel=0.05)


@pytest.mark.parametrize(("reading", "split"), CASES)
def test_extract_is_dsims_closed_form(reading: str, split: str) -> None:
    """dsim's prediction is the apply, longer than the inflate beside it, whatever the split (the page cache takes
    the files at once): 66.9 s or 24.8 s."""
    _, uncompressed = READINGS[reading]
    assert uncompressed < SETPOINT
    _, extract = download_and_extract(pull(reading, split))
    apply = uncompressed * (1 / HASH_RATE + 1 / APPLY_RATE) + uncompressed / FILE_SIZE * PER_FILE
    assert apply > uncompressed / GZIP_RATE
    assert extract == pytest.approx(apply, rel=1e-6)
    expected = {"downloaded": 66.9, "on disk": 24.8}[reading]
    assert extract == pytest.approx(expected, abs=0.05)


@pytest.mark.xfail(strict=True, reason="dsim extracts 1.7-1.9x slower (reading 1) or 1.4-1.6x faster (reading 2) than "
                   "the comment's 35-40 s: the image's files, the machine's per-core speed and the Docker version "
                   "are not given")
@pytest.mark.parametrize(("reading", "split"), CASES)
def test_extract_matches_the_measured_35_to_40_seconds(reading: str, split: str) -> None:
    """Tolerance: 15% beyond the measured range, [29.75, 46] s."""
    _, extract = download_and_extract(pull(reading, split))
    low, high = EXTRACT_S
    assert low * 0.85 <= extract <= high * 1.15
