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
pull. Docker 28.0.4 pulls into its graphdriver store unless the containerd-snapshotter feature is on (off by
default: moby v28.0.4 daemon/daemon.go, and the report's daemon.json sets none): each blob downloads into a
temporary file that is never synced (distribution/pull_v2.go, ``createDownloadFile``), and each layer is applied
by overlay2. Where the kernel has CONFIG_OVERLAY_FS_REDIRECT_DIR, overlay2 uses its naive diff (dockerd logs
"Not using native diff for overlay2"), whose ``ApplyDiff`` mounts the layer's overlay, untars into it and unmounts
it (daemon/graphdriver/fsdiff.go, ``NaiveDiffDriver.ApplyDiff``): every layer on a parent ends with an unmount
that syncs the filesystem, however much memory the VM has. That is the one sync in this store's pull path, and
it is what makes the rows' shape: the pull bound by the disk on 64 and 256 GiB alike, and halved on tmpfs.

Parameters (one environment: the three VMs as Azure documents them, Dv3/Dsv3 series,
https://learn.microsoft.com/azure/virtual-machines/dv3-dsv3-series; each with the same default OS disk):
- ``daemon.image_store: graphdriver`` (Docker 28.0.4's default, above) and ``storage.overlay_diff: naive``: an
  ASSUMPTION, not published by the report: Ubuntu's kernels were built with redirect_dir on (GitHub's Ubuntu
  18.04 runners, Azure VMs, reported ``Native Overlay Diff: false``: actions/runner-images#550); whether the
  22.04 Azure kernel still is was not found. With native diff nothing in this store's pull syncs, and the
  bigger VMs would pull in about 9 s (``test_native_diff_would_not_be_disk_bound``);
- `storage.write_rate`: the one calibrated value, set on the D2s_v3 row (the report's fio figure is a
  buffered 4 KiB random write, not the pull's rate). The image's uncompressed size is not published:
  dsim's default ratio 2.7 applies, and the calibrated rate absorbs it;
- the image's layer sizes are not published either: each prediction is made for three splits of the 689.8 MB
  (one layer; five equal layers; nine layers with one of 60%, as a TensorFlow image's pip layer), the write
  rate calibrated for each, and a split lands within tolerance or is a strict xfail (``MISSED``);
- the registry in the same region: 2 ms round trip, no per-connection cap; everything else dsim's defaults
  (gzip 200 MiB/s per core beside the digest of each layer's tar stream; the kernel's dirty limits, 20% / 10%
  of the memory, 30 s expiry).

Predicted (session 59, with what a pull's bytes and files cost the graphdriver store's daemon, and the 2-vCPU D2s_v3's
unpigz pipe sharing a core half the shorter stage's time: docs/distribution.md, What a pull's bytes cost and A piped
unpack shares a core): the calibrated write rates are 126.7 MB/s (five layers) and 92.7 MB/s (nine); the D16s_v3
and D64s_v3 then take 46.1 and 46.1 s (five, -13% and -14%) and 51.1 and 51.1 s (nine, -4% and -4%): within
(session 58, without the pipe's share: 98.5 and 74.3 MB/s, 50.3 and 56.1 s). A pull needs one core at a time for
its inflate (and one for its apply) and the disk for each layer's unmount, so more cores and memory change next to
nothing beyond the third core. NOT reproduced (strict xfail): one layer, calibrated at 11.3 MB/s (the
8 GiB D2s_v3 holds its writer at the kernel's setpoint), 33.5 s on both bigger VMs (-37%): a base layer is applied
without a mount, so nothing syncs it, and the applier's CPU alone bounds it; TensorFlow's images have many layers,
so this split is the least likely. (Before session 58 the rates were 45.4 and 41.8 MB/s and the one layer 10.7 s,
-80%; before the graphdriver store and naive diff were in the parameter set, the containerd store's fsync of each
blob stood in for the disk-bound path, calibrated at 23.9 / 21.6 / 19.7 MB/s, with one layer and five out of
tolerance.)

Tolerance 25% (single runs).

The tmpfs row: with writes costing nothing, dsim predicts it from the graphdriver applier's CPU (each layer's tar
entries at 240 us, its bytes at 435 MB/s beside the digest, one layer at a time: docs/distribution.md, What a
pull's bytes cost, measured on Docker 28.5.2 in session 58), within 25% of 26.7 s. Before session 58 dsim gave
about 9 s (the decompression of 1.86 GB at 200 MiB/s behind the downloads), a strict xfail. With native diff the
same applier bounds the pull on the bigger VMs at about 31 s.
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
    "one layer": "calibrated at 11.3 MB/s, the D16s_v3 and D64s_v3 come out at 33.5 s against 53.0 and "
                 "53.3 s (-37%): a base layer is applied without a mount, so nothing syncs it, and the "
                 "bigger VMs' memory takes the whole image"}
#: VM -> (vCPUs, memory, network, Docker's concurrent downloads in the row, measured seconds)
ROWS = {"D2s_v3": (2, "8GiB", "1000Mbps", 3, 53.650), "D16s_v3": (16, "64GiB", "8000Mbps", 3, 53.040),
        "D64s_v3": (64, "256GiB", "30000Mbps", 10, 53.307)}


def pull(split: str, vm: str, write_rate: float, slots: int | None = None, cpus: int | None = None,
         diff: str = "naive") -> float:
    """Seconds of `docker pull` of the image split as ``split`` on ``vm`` (``write_rate`` bytes/s; ``slots`` and
    ``cpus`` other than the row's when given; ``diff``: overlay2's diff)."""
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
      vm: {{cpus: {cpus or row_cpus}, memory: {memory}, nic: {nic},
            storage: {{write_rate: {rate}, overlay_diff: {diff}}},
            daemon: {{max_concurrent_downloads: {slots or row_slots}, image_store: graphdriver}}}}
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
        # more cores and a bigger NIC never slow it; more memory may, by a few percent: the 8 GiB VM's writeback
        # starts in the background sooner, leaving less for the unmounts' syncs
        assert predicted <= 1.05 * pull(split, "D2s_v3", rate)


def test_the_cores_do_not_matter_the_disk_does() -> None:
    """The mechanism behind the rows: on the same disk, NIC and slots, 4 cores pull as fast as 64 within 1%
    (a layer's inflate and digest take a core each, one layer at a time; the downloads' digests, a sixth of a
    core each at 1 Gbps, take a little of them), 2 cores within 10% (the two stages fill them, so unpigz's pipe
    to the applier runs on one core half the shorter's time: ``pipe_colocation``), and a disk twice as fast pulls
    faster (each layer's unmount syncs)."""
    split, rate = "five equal", 40e6
    many = pull(split, "D64s_v3", rate, slots=3)
    assert pull(split, "D64s_v3", rate, slots=3, cpus=4) == pytest.approx(many, rel=0.01)
    assert many < pull(split, "D64s_v3", rate, slots=3, cpus=2) <= 1.1 * many
    assert pull(split, "D2s_v3", 2 * rate) < pull(split, "D2s_v3", rate)


def test_the_tmpfs_row() -> None:
    """With writes costing nothing the pull is bound by the graphdriver applier's CPU, one layer at a time: the 60%
    layer's 1.12 GB of tar (at the ratio 2.7) in 55,900 entries of 20 KB at 240 us each, its bytes at 435 MB/s and
    its digest, beside an inflate of 5.6 s (docs/distribution.md, What a pull's bytes cost). Within 25%."""
    predicted = pull("nine, one of 60%", "D64s_v3", float("inf"), slots=12)
    assert abs(predicted - 26.726) <= 0.25 * 26.726


def test_native_diff_would_not_be_disk_bound() -> None:
    """The assumption's weight: with overlay2's native diff nothing in the graphdriver store's pull syncs, so on the
    64 GiB VM, whose memory takes the image, the same five-layer pull (at the calibrated disk) is bound by the
    applier's CPU, well under the measured 53 s, and no disk, however slow, makes it slower."""
    rate = calibrated_write_rate("five equal")
    native = pull("five equal", "D16s_v3", rate, diff="native")
    assert native < 0.7 * ROWS["D16s_v3"][4]
    assert pull("five equal", "D16s_v3", rate / 10, diff="native") == pytest.approx(native)
