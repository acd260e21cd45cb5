"""`docker pull` from a registry on the same VM, Docker 28.5.2 (containerd 2.1.9, bookworm's runc, Debian's
`docker-registry` without TLS on localhost:5000), both image stores: graphdriver (overlay2) and containerd's
(`--feature containerd-snapshotter=true`). An AMD EPYC VM with 2 vCPUs and 24 GiB, unpigz installed; page cache
dropped and the image gone with its blobs before every pull (`tools/real_docker.py pull`, 2026-12-07).

What the model takes from these runs (docs/distribution.md, "What a pull's bytes cost"): one-layer images of 200 MB
of random bytes in 200, 2,000 and 20,000 files set `receive_rate`, `apply_rate` and `apply_per_file` by store (the
CPU until the inflate began; the CPU after it; the slope over the file counts). So those rows are a CALIBRATION:
they check the closed forms the model makes of them, and how near the wall times come.

The independent rows use images those runs did not: `bin` (a busybox layer, then 80.8 MB of gzip'd shared
libraries, 265 MB of tar in 1,515 entries), `rand` (the busybox layer, then four layers of 100 MB of random bytes,
100,009,442 bytes each as blobs), `eight` (eight layers of one file of 50 MB of random bytes, on `scratch`) and `venv`
(a copy of this project's virtual environment's Python packages: 176.7 MB gzip'd, 552.4 MB of tar in 15,086 entries,
36.6 KB an entry: real files). Each host takes this machine's measured rates: sha256 with the SHA extensions (1975
MB/s), unpigz's inflate of such layers alone (347 MiB/s for the libraries, 598 MiB/s for stored blocks:
docs/validation.md; 552.4 MB in 1.70 s for the packages), the disk's 1.6 GB/s. Docker 28.5.2's containerd store
downloads every layer of a pull at once (`tools/real_docker.py layers`: 8 of `eight`'s at once, the graphdriver
store 3; moby#53081 later made the store keep the daemon-wide limit, so `max_concurrent_downloads: 0` here), and a
piped unpack's inflate and applier share a core half the shorter one's time (`storage.pipe_colocation`, measured
apart: `tools/real_docker.py pipe`). Their CPU (each daemon's own and its children's: unpigz) comes out within 15% of
the measured (-14% to +2%), their wall times within 15% (-12% to +11%). Before the pipe's sharing (session 58) the
wall times of five of the eight were 19-26% short.
"""

from __future__ import annotations

import statistics

import pytest

from dsim.result import SimResult
from tests.helpers import run_text

#: this machine: Go's sha256 with the SHA extensions, unpigz alone on random (stored) and library layers
HASH, STORED, LIBRARIES, DISK = 1975e6, 598 * 2**20, 347 * 2**20, 1.6e9
#: the store's defaults (dsim/domain/hosts.py RECEIVE_RATE, APPLY_RATE, APPLY_PER_FILE)
RECEIVE = {"containerd": 500e6, "graphdriver": 800e6}
APPLY = {"containerd": 555e6, "graphdriver": 435e6}
PER_FILE = {"containerd": 113e-6, "graphdriver": 240e-6}

#: (store, files) -> measured wall seconds of 3 pulls, one layer of 200 MB (the tar's entries: files + 42 dirs)
CALIBRATION = {
    ("containerd", 200): (1.17, 1.16, 1.11), ("containerd", 2000): (1.31, 1.35, 1.38),
    ("containerd", 20000): (3.27, 3.26, 3.25),
    ("graphdriver", 200): (1.13, 1.12, 1.06), ("graphdriver", 2000): (1.67, 1.57, 1.82),
    ("graphdriver", 20000): (6.29, 6.13, 6.36),
}
#: a layer's (blob bytes, tar bytes, entries)
BUSYBOX = (1080103, 2000000, 6)
#: unpigz alone on the Python packages' blob: 552.4 MB in 1.70 s of CPU
PACKAGES = 552408576 / 1.70
IMAGES = {
    "bin": ((BUSYBOX, (80794007, 265238528, 1515)), LIBRARIES),
    "rand": ((BUSYBOX, *[(100009442, 100003840, 3)] * 4), STORED),
    "venv": (((176706152, 552408576, 15086),), PACKAGES),
    "eight": (((50005755, 50001920, 1),) * 8, STORED),
}
#: (store, image) -> measured (wall seconds, CPU-seconds of dockerd and containerd with unpigz) of 3 pulls
MEASURED = {
    ("containerd", "bin"): ((1.38, 1.30, 1.51), (1.91, 1.77, 2.09)),
    ("containerd", "rand"): ((2.01, 2.14, 2.20), (2.39, 2.60, 2.60)),
    ("graphdriver", "bin"): ((1.73, 1.69, 1.68), (2.24, 2.28, 2.21)),
    ("graphdriver", "rand"): ((1.81, 2.00, 1.95), (2.30, 2.55, 2.52)),
    ("containerd", "venv"): ((4.03, 4.01, 3.98), (5.52, 5.49, 5.51)),
    ("graphdriver", "venv"): ((7.08, 7.32, 7.26), (8.21, 8.50, 8.46)),
    ("containerd", "eight"): ((2.19, 1.96, 2.25), (2.87, 2.48, 2.97)),
    ("graphdriver", "eight"): ((1.78, 1.78, 1.68), (2.39, 2.41, 2.31)),
}
#: Docker 28.5.2's downloads at once: every layer under the containerd store, the daemon's 3 under graphdriver's
SLOTS = {"containerd": 0, "graphdriver": 3}


def vm_pulls(store: str, images: dict[str, tuple[tuple[int, int, int], ...]], inflate: float) -> SimResult:
    """Each of ``images`` (a name -> its layers' (blob bytes, tar bytes, entries)) pulled at once by a job of its
    own on the VM, with this machine's rates and Docker 28.5.2's downloads at once (``SLOTS``)."""
    def written(layers: tuple[tuple[int, int, int], ...]) -> str:
        return ", ".join(f"{{size: {size}, uncompressed: {tar}, files: {files}}}" for size, tar, files in layers)

    declared = "\n".join(f"      {name}:1: {{registry: local, layers: [{written(layers)}]}}"
                         for name, layers in images.items())
    jobs = "\n".join(f'      {name}: {{arrival: {{burst: 1}}, steps: [{{pull: "{name}:1"}}]}}' for name in images)
    return run_text(f"""
    name: local-pull
    registries:
      local: {{bandwidth: 10Gbps, latency: 0ms, tls: false}}
    images:
{declared}
    hosts:
      vm: {{cpus: 2, memory: 24GiB, nic: inf,
            daemon: {{image_store: {store}, max_concurrent_downloads: {SLOTS[store]}}},
            storage: {{decompress_rate: {{gzip: {inflate:.0f}B/s}}, hash_rate: {HASH:.0f}B/s,
                       write_rate: {DISK:.0f}B/s}}}}
    workloads:
{jobs}
    """)


def pull(store: str, layers: tuple[tuple[int, int, int], ...], inflate: float) -> tuple[float, float, float, float]:
    """(the pull's seconds, its CPU-seconds, the last layer's download and unpack seconds) on the VM."""
    result = vm_pulls(store, {"img": layers}, inflate)
    [job] = result.jobs
    cpu = sum(s.attrs["busy"] * s.duration for s in result.spans_of("cpu"))
    download = result.spans_of("download")[-1].duration
    unpack = result.spans_of("unpack")[-1].duration
    return job.duration_s, cpu, download, unpack


@pytest.mark.parametrize(("store", "files"), sorted(CALIBRATION))
def test_calibration_closed_forms(store: str, files: int) -> None:
    """One layer of S = 200.2 MB, stored blocks: the download's reader takes S (1/hash + 1/receive) on one core
    (the 10 Gbps link is faster), and the containerd store then fsyncs the blob (S / disk); the unpack takes
    the longer of the inflate (S / 598 MiB/s, unpigz) and the apply (S (1/hash + 1/apply) + entries x per file),
    plus half the shorter (the pipe's shared core)."""
    size = 200_200_000
    _, _, download, unpack = pull(store, ((size, size, files + 42),), STORED)
    fsync = size / DISK if store == "containerd" else 0.0
    assert download == pytest.approx(size * (1 / HASH + 1 / RECEIVE[store]) + fsync, rel=1e-6)
    inflate, apply = size / STORED, size * (1 / HASH + 1 / APPLY[store]) + (files + 42) * PER_FILE[store]
    assert unpack == pytest.approx(max(inflate, apply) + 0.5 * min(inflate, apply), rel=1e-6)


@pytest.mark.parametrize(("store", "files"), sorted(CALIBRATION))
def test_calibration_wall_times(store: str, files: int) -> None:
    """The calibration's pulls within 15%: containerd's 8-11% long (these runs' applier kept up with unpigz's pipe
    better than the pipe's share of 0.5 says), graphdriver's -7% to +3%."""
    size = 200_200_000
    wall, _, _, _ = pull(store, ((size, size, files + 42),), STORED)
    assert wall == pytest.approx(statistics.mean(CALIBRATION[store, files]), rel=0.15)


@pytest.mark.parametrize(("store", "image"), sorted(MEASURED))
def test_cpu_of_other_images(store: str, image: str) -> None:
    """What the daemons spent on images the calibration did not use, within 15% (the runs spread 5-17%)."""
    layers, inflate = IMAGES[image]
    _, cpu, _, _ = pull(store, layers, inflate)
    assert cpu == pytest.approx(statistics.mean(MEASURED[store, image][1]), rel=0.15)


@pytest.mark.parametrize(("store", "image"), sorted(MEASURED))
def test_wall_time_of_other_images(store: str, image: str) -> None:
    """Within 15% (-12% to +9%): five of them were 19-26% short with the inflate and the apply side by side."""
    layers, inflate = IMAGES[image]
    wall, _, _, _ = pull(store, layers, inflate)
    assert wall == pytest.approx(statistics.mean(MEASURED[store, image][0]), rel=0.15)


#: containerd's debug log ("diff applied", d=): each layer's apply, ms, in the three pulls of `eight` and of `rand`
#: (tools/real_docker.py pull under `containerd --log-level debug`, 2026-12-07)
APPLIED_MS = {
    50005755: (128.2, 130.5, 136.9, 139.0, 143.7, 144.2, 145.8, 146.7, 148.1, 149.3, 151.3, 151.8, 157.3, 158.1,
               158.6, 158.8, 158.9, 159.5, 163.1, 164.0, 164.7, 167.6, 172.1, 192.9),
    100009442: (255.6, 256.3, 258.0, 259.3, 264.6, 266.3, 271.2, 272.2, 309.9, 311.3, 311.5, 317.5),
}


@pytest.mark.parametrize("image", ["eight", "rand"])
def test_each_layers_apply(image: str) -> None:
    """A piped unpack: the longer stage plus half the shorter, against containerd's own measure of each apply
    (inflate and apply, no snapshot work): 50 MB layers 155 ms against 128-193 ms (mean 154), 100 MB 311 ms
    against 256-318 ms (mean 278), within 15%. Side by side (the model before) would give 116 and 231 ms."""
    layers, inflate = IMAGES[image]
    size, tar, files = layers[-1]
    *_, unpack = pull("containerd", layers, inflate)
    stages = (tar / inflate, tar * (1 / HASH + 1 / APPLY["containerd"]) + files * PER_FILE["containerd"])
    assert unpack == pytest.approx(max(stages) + 0.5 * min(stages), rel=1e-6)
    assert unpack == pytest.approx(statistics.mean(APPLIED_MS[size]) / 1000, rel=0.15)


@pytest.mark.parametrize(("store", "most"), [("containerd", 8), ("graphdriver", 3)])
def test_layers_downloading_at_once(store: str, most: int) -> None:
    """`eight`'s pull as its progress showed it (tools/real_docker.py layers): under the containerd store all 8
    layers downloading at once, under graphdriver's 3 (the others "Waiting")."""
    layers, inflate = IMAGES["eight"]
    result = run_text(f"""
    name: eight-layers
    registries:
      local: {{bandwidth: 10Gbps, latency: 0ms, tls: false}}
    images:
      img:1: {{registry: local, layers: [{", ".join(f"{{size: {s}, uncompressed: {t}}}" for s, t, _ in layers)}]}}
    hosts:
      vm: {{cpus: 2, daemon: {{image_store: {store}, max_concurrent_downloads: {SLOTS[store]}}}}}
    workloads:
      w: {{arrival: {{burst: 1}}, steps: [{{pull: "img:1"}}]}}
    """)
    downloads = result.spans_of("download")
    assert len(downloads) == 8
    assert max(sum(1 for d in downloads if d.start <= other.start < d.end) for other in downloads) == most


def test_the_old_model_would_fail() -> None:
    """Without the receive, the apply's data handling and its entries (dsim before this model), the graphdriver
    pull of the libraries took 0.91 s against 1.70 measured: the CPU checks above would fail by far."""
    layers, inflate = IMAGES["bin"]
    _, cpu, _, _ = pull("graphdriver", layers, inflate)
    bare = sum(tar / inflate + tar / HASH + size / HASH for size, tar, _ in layers)
    assert cpu > 1.5 * bare


#: (store, files) -> `docker rmi` wall seconds of the 200 MB layer just pulled (tools/real_docker.py rmi)
RMI_MEASURED = {("containerd", 20000): (1.474, 1.524), ("graphdriver", 20000): (1.761, 1.482, 1.400),
                ("containerd", 200): (0.093, 0.103), ("graphdriver", 200): (0.080, 0.085)}


@pytest.mark.parametrize(("store", "files"), sorted(RMI_MEASURED))
def test_rmi_of_the_calibration_layer(store: str, files: int) -> None:
    """CALIBRATION (remove_per_file, remove_wait_per_file and remove_rate were set from these runs): each of the
    entries (the files and 42 directories) 31 us of the daemon's CPU and 42 us of waiting, then the 200.2 MB freed at
    2.86 GB/s (70 ms): 20,042 entries 1.535 s against 1.40-1.76 s measured, 242 entries 0.090 s against 0.080-0.103
    s; within 15% of each mean (the containerd store also removes the blob, which the single rate averages over)."""
    size = 200_200_000
    result = run_text(f"""
    name: local-rmi
    registries:
      local: {{bandwidth: 10Gbps, latency: 0ms, tls: false}}
    images:
      img:1: {{registry: local, layers: [{{size: {size}, uncompressed: {size}, files: {files + 42}}}]}}
    hosts:
      vm: {{cpus: 2, memory: 24GiB, nic: inf, daemon: {{image_store: {store}}}}}
    workloads:
      w: {{arrival: {{burst: 1}}, steps: [{{pull: "img:1"}}, {{rmi: {{image: "img:1"}}}}]}}
    """)
    [span] = result.spans_of("rmi")
    assert span.duration == pytest.approx(0.002 + (files + 42) * (31e-6 + 42e-6) + size / 2.86e9, rel=1e-6)
    assert span.duration == pytest.approx(statistics.mean(RMI_MEASURED[store, files]), rel=0.15)


#: `eight` and `rand` pulled at once (tools/real_docker.py pull --together): store -> ((eight's, rand's wall
#: seconds) of 3 runs, the daemons' CPU-seconds with unpigz's)
TOGETHER = {
    "containerd": (((3.57, 3.73), (3.92, 4.09), (3.88, 4.11)), (5.37, 5.93, 5.97)),
    "graphdriver": (((2.91, 2.93), (2.83, 2.86), (3.05, 3.10)), (4.26, 4.26, 4.66)),
}
#: the pulls at once whose wall times dsim misses by more than 15% (see the test's docstring)
TOGETHER_MISSED = {("containerd", "eight"), ("containerd", "rand"), ("graphdriver", "eight")}


def pulled_together(store: str) -> tuple[dict[str, float], float]:
    """(each image's pull seconds, the daemons' CPU-seconds) of `eight` and `rand` pulled at once on the VM."""
    result = vm_pulls(store, {name: IMAGES[name][0] for name in ("eight", "rand")}, STORED)
    cpu = sum(s.attrs["busy"] * s.duration for s in result.spans_of("cpu"))
    return {job.workload: job.duration_s for job in result.jobs}, cpu


@pytest.mark.parametrize("store", sorted(TOGETHER))
def test_the_cpu_of_two_pulls_at_once(store: str) -> None:
    """Two pulls of 400 MB each at once on the 2 vCPUs: the daemons' CPU within 15% (containerd -10%, 5.14 s
    against 5.37-5.97; graphdriver +11%, 4.94 s against 4.26-4.66)."""
    _, cpu = pulled_together(store)
    assert cpu == pytest.approx(statistics.mean(TOGETHER[store][1]), rel=0.15)


@pytest.mark.parametrize(("store", "image"), [
    pytest.param(store, image, marks=[pytest.mark.xfail(strict=True, reason=(
        "the registry's CPU (0.56-0.59 s) and the kernel's (writeback, 0.2 s) shared the 2 vCPUs, and they "
        "stood idle 13% of the time (fsyncs): dsim's pulls use the cores fully and its registry has none"))]
                 if (store, image) in TOGETHER_MISSED else [])
    for store in sorted(TOGETHER) for image in ("eight", "rand")])
def test_the_wall_time_of_two_pulls_at_once(store: str, image: str) -> None:
    """Within 15%: graphdriver's `rand` (2.58 s against 2.83-3.10, -13%). Not: graphdriver's `eight` (2.31 s, -21%)
    and the containerd store's (2.51 and 2.76 s against 3.57-3.92 and 3.73-4.11, -34% and -31%): measured there
    (/proc/stat over the pulls), the machine's 7.4 CPU-seconds went 5.3 to the daemons, 0.6 to the registry, 0.2 to
    the kernel's threads, and 0.95 stood idle or waited on the disk."""
    walls, _ = pulled_together(store)
    measured = statistics.mean(run[0 if image == "eight" else 1] for run in TOGETHER[store][0])
    assert walls[image] == pytest.approx(measured, rel=0.15)
