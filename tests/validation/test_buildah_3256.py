"""podman-container-tools/buildah#3256 (https://github.com/podman-container-tools/buildah/issues/3256), "copy big files'
performance buildah vs docker": on a cloud server of 1 CPU and 2 GB, `docker build` of

    FROM centos:latest
    COPY test200.img /        (or test500.img: files of zeros made with dd)

averaged over 5 builds: 4.872 s for the 200 MB file, 14.467 s for the 500 MB one. Docker 20.10 on Linux
built with the legacy builder unless told otherwise (BuildKit became the default in Engine 23.0), so each
build (1) receives the context and extracts it, hashing every file (tarsum), (2) copies the file into a bare
read-write layer on centos, with no container (Docker 17.07 and later: moby builder/dockerfile/internals.go
``performCopy``, ``imgMount.NewRWLayer()``), (3) commits that layer (``exportImage``: the diff's tar digested while
it is applied again as a new layer, the image recorded), and only then unmounts it (the deferred
``rwLayer.Release()``): the overlay's unmount syncs the filesystem, once, after the three writes of the file.

Parameter set of the VM: ``cpus: 1``, ``memory: 2GB``, centos:latest local (83 MB compressed, one layer), the
context holding the copied file only (the issue shows one Dockerfile per file), ``image_store: graphdriver`` (Docker
20.10's only store), dsim's defaults otherwise. dsim's
rules (docs/networks-storage.md, The page cache): writes go into the page cache at once while the dirty bytes stay
under the kernel's setpoint, ((10% + 20%) / 2 + 20%) / 2 = 17.5% of the 2 GB: 350 MB; past it the writer waits
for writeback of its bytes beyond it at the disk's rate w; writeback runs in the background while more than
bg_thresh (10%: 200 MB) is dirty, and without pause while anyone waits.

One build of a file of n bytes, by hand (h = n / 448.62 MB/s, dsim's hash_rate: Docker 20.10's Go took the
AVX2 path of sha256; on the one core):
- the context lands: hashed (h) and written: n dirty (n > 350 MB: the writer waits (n - 350 MB) / w, the disk
  busy from then on, as more than bg_thresh stays dirty; n = 200 MB: exactly bg_thresh, not above it, so the disk
  stays idle);
- COPY: the layer mounted (runtime.mount, 0.02 s), the copy: n into the page cache, 2 n dirty, past 350 MB: the
  writer waits for its excess; from here the disk writes without pause (more than bg_thresh dirty, writers and
  then the sync waiting);
- the commit: the diff hashed (h) and written (n more: the writer waits for its excess over 350 MB, longer than
  its hash), 0.14 s, then the unmount's sync waits for the rest.
So the disk writes all 3 n from the moment it starts: n = 200 MB, h + 0.02 + 3 n / w; n = 500 MB (the disk busy
from the context on), 3 n / w.

One calibrated value: ``storage.write_rate``, from the 200 MB row: w = 600 MB / (4.872 - 0.4458 - 0.02) = 136.17
MB/s (130.60 MB/s while dsim's sha256 ran at 776 MB/s; 56.63 MB/s when dsim ran the copy in a step container whose
create synced before the copy, with no sync after the commit; 128.4 MB/s under dsim's earlier write-through disk).

Predicted, 500 MB: 1500 MB / w = 11.02 s against 14.467 s: -23.9%, NOT within 15%. The measured cost grew 2.97
times for 2.5 times the bytes; dsim's grows 2.26 times (its disk time exactly 2.5 times: 4.41 s of the 200 MB
build, all of the 500 MB one), because once the copy runs the disk never idles and the build ends when it has
written the three copies: linear in the bytes, the page cache absorbing nothing by the end (the sync waits for
it all). What would close the gap is not published: the VM's disk (a cloud volume whose burst credits or
throughput cap slow a longer write), its dirtyable memory. The client's own tar of the context on the same single
CPU is free in dsim.
"""

from __future__ import annotations

import pytest

from dsim.domain.hosts import SHA256_AVX2
from tests.helpers import run_text

HASH_RATE = SHA256_AVX2  # dsim's default storage.hash_rate (bytes/s, one core)
MOUNT = 0.02  # runtime.mount: the read-write layer's mount on centos's one layer
SETPOINT = 0.175 * 2e9  # the kernel's setpoint on the 2 GB VM: 350 MB
BG_THRESH = 0.10 * 2e9  # writeback in the background above 200 MB dirty
#: calibrated on the 200 MB row: h + 0.02 + 3 n / w = 4.872 s
WRITE_RATE = 600e6 / (4.872 - 200e6 / HASH_RATE - MOUNT)


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
      vm: {{cpus: 1, memory: 2GB, preloaded: ["centos:latest"],
          daemon: {{api_service_time: 0s, image_store: graphdriver}},
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
    # the context's 200 MB are not above bg_thresh: the disk idles until the copy; the commit's writer then waits
    # for its 200 MB beyond the setpoint, longer than its hash
    assert BG_THRESH >= 200e6
    assert 200e6 / WRITE_RATE > 200e6 / HASH_RATE
    assert 136.16e6 < WRITE_RATE < 136.18e6
    assert build_seconds("200") == pytest.approx(4.872, rel=1e-6)


def test_the_500_mb_copy_closed_form() -> None:
    # the disk never idles from the context on: more than bg_thresh stays dirty, every writer waits for its bytes
    # beyond the setpoint, and the unmount's sync after the commit waits for the rest
    assert 500e6 - SETPOINT > 0 and SETPOINT > BG_THRESH
    assert build_seconds("500") == pytest.approx(1500e6 / WRITE_RATE, rel=1e-6)


@pytest.mark.xfail(strict=True, reason="11.02 s predicted against 14.467 s (-23.9%): once the copy starts dsim's "
                   "disk never idles, so its cost is linear in the bytes (2.5x for 2.5x), where the real one grew "
                   "2.97x; the VM's disk (a cloud volume's burst or cap) is not published")
def test_the_measured_500_mb_copy() -> None:
    assert build_seconds("500") == pytest.approx(14.467, rel=0.15)
