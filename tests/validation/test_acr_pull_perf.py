"""appdevgbb/acr-pull-perf (https://github.com/appdevgbb/acr-pull-perf, README "Image Pull Tests", 2025):
`time docker pull` of tensorflow/tensorflow:nightly-jupyter (689.8 MB compressed) from an Azure Container
Registry (Premium, eastus2) to Ubuntu 22.04 VMs in the same region, Docker 28.0.4 (containerd 1.7.27), one run
per row:

| VM | vCPU, memory, network | concurrent downloads | measured |
|---|---|---|---|
| Standard_D2s_v3 | 2, 8 GiB, 1,000 Mbps | 3 | 53.650 s |
| Standard_D16s_v3 | 16, 64 GiB, 8,000 Mbps | 3 | 53.040 s |
| Standard_D64s_v3 | 64, 256 GiB, 30,000 Mbps | 10 | 53.307 s |
| Standard_D64s_v3, data-root on tmpfs | same | 12 | 26.726 s |

The report's finding: a VM 8 or 32 times bigger pulls no faster; moving Docker's data root to RAM halves the
pull. In dsim a pull needs one core (the layers are extracted one at a time, in order, each on one core) and
the disk, and more cores change nothing. dsim models the containerd store's pipeline (3 downloads at once,
each blob synced as it commits, each layer extracted in order once its blob is in); Docker 28 pulls into its
graphdriver store by default, whose pipeline is the same but for that sync (below).

Parameters (one environment: the three VMs as Azure documents them, Dv3/Dsv3 series,
https://learn.microsoft.com/azure/virtual-machines/dv3-dsv3-series; each with the same default OS disk):
- `storage.write_rate`: the one calibrated value, set on the D2s_v3 row (the report's fio figure is a
  buffered 4 KiB random write, not the pull's rate). The image's uncompressed size is not published:
  dsim's default ratio 2.7 applies, and the calibrated rate absorbs it;
- the image's layer sizes are not published either: each prediction is made for three splits of the 689.8 MB
  (one layer; five equal layers; nine layers with one of 60%, as a TensorFlow image's pip layer), the write
  rate calibrated for each, and a split lands within tolerance or is a strict xfail (``MISSED``);
- the registry in the same region: 2 ms round trip, no per-connection cap; everything else dsim's defaults
  (gzip 200 MiB/s per core; the kernel's dirty limits, 20% / 10% of the memory, 30 s expiry).

With the page cache (docs/networks-storage.md: The page cache) the calibration is re-derived on the same
D2s_v3 row: what binds dsim's pull now is containerd's content store syncing each blob as it commits it
(the whole blob: each is in within 30 s, under the background threshold), at the disk's rate inside its
download slot; the unpacked files go into memory as they are inflated (8 GiB: past the background threshold
of 0.86 GB written back meanwhile, the writer held back past the setpoint of 1.50 GB; 64 and 256 GiB:
never), and the disk writes at one rate whatever it writes (the fsyncs first). The calibrated write rates are
23.9 MB/s (one layer), 21.6 MB/s (five) and 19.7 MB/s (nine), and the bigger VMs come out at 42.6 s (-20%)
for nine layers on both: within 25%. They pull faster than the D2s_v3 because their memory takes the
unpacked files the D2s_v3 writes back. NOT reproduced (strict xfail): one layer, 38.6 and 38.1 s (-27%, -29%);
five, 36.2 s on the D16s_v3 (-32%; 41.0 s on the D64s_v3, -23%). Before the disk was one device (its fsyncs
ran beside the writeback at the full rate) and an unpack's files counted as written at its start, all three
splits were within (41.3 / 40.8, 46.0 / 50.8, 45.3 / 45.2 s).

The agreement does not rest on a mechanism these pulls had: Docker 28.0.4 pulls into its graphdriver store
unless the containerd-snapshotter feature is on (off by default: moby v28.0.4 daemon/daemon.go, and the
report's daemon.json sets none), and that store's pull (distribution/pull_v2.go, ``createDownloadFile``:
``os.CreateTemp("", "GetImageBlob")``) downloads each blob into a temporary file it never syncs and removes
once the layer is registered; overlay2's ``ApplyDiff`` does not sync either. So the blob fsync does not
explain why these pulls were disk-bound on 64 and 256 GiB (docs/validation.md, the puzzle after the
syncfs rows): it stays open.

Tolerance 25% (single runs).

NOT reproduced (strict xfail):
- the tmpfs row. With writes costing nothing dsim predicts about 9 s (the decompression of 1.86 GB at
  200 MiB/s behind the downloads) against 26.7 s: the real pull there is bound by something dsim's defaults
  do not put in it: a single ACR blob stream slower than the NIC (its per-connection rate is not published)
  for the largest layer, followed by that layer's extraction, or decompression slower than 200 MiB/s on these
  VMs.
"""

from __future__ import annotations

import pytest

from tests.helpers import rate_giving, run_text

TOTAL = 689.8e6
#: possible splits of the image's bytes into layers (fractions): its real manifest is not published
SPLITS = {"one layer": [1.0], "five equal": [0.2] * 5,
          "nine, one of 60%": [0.04, 0.10, 0.02, 0.60, 0.12, 0.06, 0.03, 0.02, 0.01]}
#: splits whose predictions miss (module docstring)
MISSED: dict[str, str] = {
    "one layer": "calibrated at 23.9 MB/s, the D16s_v3 and D64s_v3 come out at 38.6 and 38.1 s against 53.0 and "
                 "53.3 s (-27%, -29%): on the 8 GiB D2s_v3 the unpack's writeback starts only once its files "
                 "pass the background threshold, so the calibration needs a faster disk, which the VMs whose "
                 "memory takes the whole image turn into a faster pull",
    "five equal": "calibrated at 21.6 MB/s, the D16s_v3 comes out at 36.2 s against 53.0 s (-32%): the D2s_v3's "
                  "fsyncs and its writeback of the unpacked files share one disk, so the calibration needs a "
                  "faster disk, which the 64 GiB VM (no writeback on its critical path) turns into a faster pull"}
#: VM -> (vCPUs, memory, network, Docker's concurrent downloads in the row, measured seconds)
ROWS = {"D2s_v3": (2, "8GiB", "1000Mbps", 3, 53.650), "D16s_v3": (16, "64GiB", "8000Mbps", 3, 53.040),
        "D64s_v3": (64, "256GiB", "30000Mbps", 10, 53.307)}


def pull(split: str, vm: str, write_rate: float, slots: int | None = None, cpus: int | None = None) -> float:
    """Seconds of `docker pull` of the image split as ``split`` on ``vm`` (``write_rate`` bytes/s; ``slots`` and
    ``cpus`` other than the row's when given)."""
    row_cpus, memory, nic, row_slots, _ = ROWS[vm]
    layers = ", ".join(f"{fraction * TOTAL:.0f}" for fraction in SPLITS[split])
    rate = "inf" if write_rate == float("inf") else f"{write_rate:.0f}B/s"
    result = run_text(f"""
    name: acr-pull-perf
    registries:
      acr: {{bandwidth: 100Gbps, rtt: 2ms}}
    images:
      tensorflow:nightly-jupyter: {{registry: acr, layers: [{layers}]}}
    hosts:
      vm: {{cpus: {cpus or row_cpus}, memory: {memory}, nic: {nic}, storage: {{write_rate: {rate}}},
            daemon: {{max_concurrent_downloads: {slots or row_slots}}}}}
    workloads:
      pull: {{arrival: {{burst: 1}}, steps: [{{pull: "tensorflow:nightly-jupyter"}}]}}
    """)
    [job] = result.jobs
    assert job.status == "completed", job.error
    return job.phases["pull"]


def calibrated_write_rate(split: str) -> float:
    """The write rate at which the D2s_v3 row comes out at its measured 53.65 s."""
    return rate_giving(lambda rate: pull(split, "D2s_v3", rate), ROWS["D2s_v3"][4], high=1e9)


@pytest.mark.parametrize("split", [
    pytest.param(split, marks=[pytest.mark.xfail(strict=True, reason=MISSED[split])] if split in MISSED else [])
    for split in SPLITS])
def test_a_bigger_vm_pulls_no_faster(split: str) -> None:
    rate = calibrated_write_rate(split)
    assert pull(split, "D2s_v3", rate) == pytest.approx(53.65, rel=0.01)
    for vm in ("D16s_v3", "D64s_v3"):
        predicted, measured = pull(split, vm, rate), ROWS[vm][4]
        assert abs(predicted - measured) <= 0.25 * measured, (vm, predicted)
        assert predicted <= pull(split, "D2s_v3", rate)  # more cores and a bigger NIC never slow it


def test_the_cores_do_not_matter_the_disk_does() -> None:
    """The mechanism behind the rows: on the same disk, NIC and slots, 2 cores pull exactly as fast as 64
    (extraction is one core's work at a time), and a disk twice as fast pulls faster (each blob's sync)."""
    split, rate = "five equal", 40e6
    assert pull(split, "D64s_v3", rate, slots=3, cpus=2) == pull(split, "D64s_v3", rate, slots=3)
    assert pull(split, "D2s_v3", 2 * rate) < pull(split, "D2s_v3", rate)


@pytest.mark.xfail(strict=True, reason="about 9 s predicted against 26.7 s: ACR's per-connection rate for the "
                   "largest layer, or decompression slower than 200 MiB/s, is not published (module docstring)")
def test_the_tmpfs_row() -> None:
    predicted = pull("nine, one of 60%", "D64s_v3", float("inf"), slots=12)
    assert abs(predicted - 26.726) <= 0.25 * 26.726
