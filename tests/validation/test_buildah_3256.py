"""podman-container-tools/buildah#3256 (https://github.com/podman-container-tools/buildah/issues/3256), "copy big files'
performance buildah vs docker": on a cloud server of 1 CPU and 2 GB, `docker build` of

    FROM centos:latest
    COPY test200.img /        (or test500.img: files of zeros made with dd)

averaged over 5 builds: 4.872 s for the 200 MB file, 14.467 s for the 500 MB one. Docker 20.10 on Linux
built with the legacy builder unless told otherwise (BuildKit became the default in Engine 23.0), so each
build (1) receives the context and extracts it, hashing every file (tarsum), (2) runs the COPY as a
container writing the file into its rootfs, (3) commits it: the diff's tar digested while it is applied again
as a new layer. Three writes of the file, each digested or not, on the VM's one disk.

Parameter set of the VM: ``cpus: 1``, ``memory: 2GB``, centos:latest local (83 MB compressed), the context
holding the copied file only (the issue shows one Dockerfile per file), dsim's defaults otherwise. dsim's rules
(docs/networks-storage.md, The page cache): writes go into the page cache at once while the dirty bytes stay under
the kernel's setpoint, ((10% + 20%) / 2 + 20%) / 2 = 17.5% of the 2 GB: 350 MB; past it the writer waits for
writeback of its bytes beyond it at the disk's rate w; the COPY container's create unmounts its init layer, which
syncs Docker's filesystem. The build ends at the commit, with no sync after it.

One build of a file of n bytes, by hand (h = n / 776 MB/s, dsim's hash_rate, on the one core):
- the context lands: hashed (h) and written: n dirty (n > 350 MB: the writer waits (n - 350 MB) / w);
- COPY's container: create 0.06 s, the sync writes the context's bytes: the disk has written n / w from the start;
- the copy: n into the page cache (past 350 MB: the writer waits (n - 350 MB) / w);
- the commit: the diff hashed (h) and written: 2 n dirty for n = 200 MB, 350 MB + n for 500 MB: the writer waits
  for the excess over 350 MB, then 0.14 s.
n = 200 MB: h + 0.06 + n / w + (2 n - 350 MB) / w + 0.14 = h + 0.2 + (3 n - 350 MB) / w (the commit's 50 MB of
excess take longer than its hash); n = 500 MB: the disk never idles, (3 n - 350 MB) / w + 0.14.

One calibrated value: ``storage.write_rate``, from the 200 MB row: w = 250 MB / (4.872 - 0.2 - 0.2577) = 56.63 MB/s
(128.4 MB/s under dsim's earlier write-through disk, where the three writes were 3 n / w: the page cache now takes
350 MB of the 600 MB, so the disk that gives the measured time is slower).

Predicted, 500 MB: 1150 MB / w + 0.14 = 20.45 s against 14.467 s: +41%, NOT within 15%. The measured cost grew
2.97 times for 2.5 times the bytes; dsim's grows 4.2 times, because its page cache absorbs 350 MB of the small
file's 600 MB of writes (58%) but only 350 MB of the large one's 1.5 GB (23%). What would narrow it is not
published: the VM's dirtyable memory (less than 2 GB: the kernel, dockerd and the OS hold some) and its disk (a
cloud volume's burst). And where the sync falls: dsim's legacy COPY runs in a step container whose create syncs
(init layer), but Docker 20.10's legacy builder copies into a bare RW layer, with no container, and unmounts it
only after the commit (moby builder/dockerfile/internals.go ``performCopy``: ``imageMount.NewRWLayer()``, ``defer
rwLayer.Release()``, ``exportImage``): one sync at the end of the step, over the three writes, which would keep the
disk busy from the copy on and make the cost close to linear in the bytes (h + 3 n / w for 200 MB, which would
calibrate w = 130 MB/s, then 3 n / w = 11.5 s for 500 MB, -20%). dsim does not model that order (docs/validation.md,
Builds). The client's own tar of the context on the same single CPU is free in dsim.
"""

from __future__ import annotations

import pytest

from tests.helpers import run_text

HASH_RATE = 776e6  # dsim's default storage.hash_rate (bytes/s, one core)
SETPOINT = 0.175 * 2e9  # the kernel's setpoint on the 2 GB VM: 350 MB
#: calibrated on the 200 MB row: h + 0.2 + (3 n - 350 MB) / w = 4.872 s
WRITE_RATE = (600e6 - SETPOINT) / (4.872 - 0.2 - 200e6 / HASH_RATE)


def build_seconds(size: str) -> float:
    name = f"test{size}.img"
    result = run_text(f"""
    name: buildah-3256
    registries:
      hub: {{bandwidth: 1GB/s, latency: 0s}}
    images:
      centos:latest: {{registry: hub, layers: [83MB]}}
    contexts:
      dir: {{files: {{{name}: {size}MB}}}}
    hosts:
      vm: {{cpus: 1, memory: 2GB, preloaded: ["centos:latest"], daemon: {{api_service_time: 0s}},
           storage: {{write_rate: {WRITE_RATE:.1f}}}}}
    workloads:
      build:
        arrival: {{burst: 1}}
        steps: [{{build: {{dockerfile_text: "FROM centos:latest\\nCOPY {name} /\\n", context: dir,
                          builder: classic}}}}]
    """)
    [job] = result.jobs
    assert job.status == "completed", job.error
    [span] = result.spans_of("build")
    return float(span.duration)


def test_the_200_mb_copy_is_the_calibration() -> None:
    # the commit's writer waits for its 50 MB beyond the setpoint longer than its hash takes
    assert (400e6 - SETPOINT) / WRITE_RATE > 200e6 / HASH_RATE
    assert 56.62e6 < WRITE_RATE < 56.64e6
    assert build_seconds("200") == pytest.approx(4.872, rel=1e-6)


def test_the_500_mb_copy_closed_form() -> None:
    # the disk never idles: every writer waits for its bytes beyond the setpoint (each longer than a hash)
    assert (500e6 - SETPOINT) / WRITE_RATE > 500e6 / HASH_RATE
    assert build_seconds("500") == pytest.approx((1500e6 - SETPOINT) / WRITE_RATE + 0.14, rel=1e-6)


@pytest.mark.xfail(strict=True, reason="20.45 s predicted against 14.467 s (+41%): dsim's page cache absorbs 58% of "
                   "the small file's writes and 23% of the large one's, so its cost grows 4.2x for 2.5x the bytes "
                   "where the real one grew 2.97x")
def test_the_measured_500_mb_copy() -> None:
    assert build_seconds("500") == pytest.approx(14.467, rel=0.15)
