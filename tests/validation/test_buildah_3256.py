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
holding the copied file only (the issue shows one Dockerfile per file), dsim's defaults otherwise. One
calibrated value: ``storage.write_rate``, from the 200 MB row. By hand: with hash_rate (776 MB/s) above the
write rate, each of the three stages takes n / w, so a build is 3 n / w + 0.2 s (create + commit):
w = 600e6 / (4.872 - 0.2) = 128.4 MB/s.

Predicted, 500 MB: 0.2 + 1500e6 / 128.4e6 = 11.88 s against 14.467 s: -17.9%, NOT within 15%. The growth
is right in kind (the commit and the copies cost in proportion to the bytes), but the real cost grew
faster than the bytes (2.97 times for 2.5 times the bytes): on a 2 GB VM the page cache absorbs the 600 MB
written for the small file but not the 1.5 GB for the large one (dirty-page writeback throttling), which
dsim's linear disk does not have; the client's own tar of the context on the same single CPU is free in dsim.
"""

from __future__ import annotations

import pytest

from tests.helpers import run_text

WRITE_RATE = 600e6 / (4.872 - 0.2)  # calibrated on the 200 MB row, bytes/s


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
    # 3 x 200e6 / w + 0.2 = 4.872 s by construction
    assert build_seconds("200") == pytest.approx(4.872, rel=1e-6)


def test_the_500_mb_copy_grows_with_the_bytes() -> None:
    # 3 x 500e6 / w + 0.2 = 11.88 s: the prediction, in proportion to the bytes
    assert build_seconds("500") == pytest.approx(0.2 + 1500e6 / WRITE_RATE, rel=1e-6)


@pytest.mark.xfail(strict=True, reason="11.9 s predicted against 14.467 s (-18%): the real cost grew faster than "
                   "the bytes (page-cache writeback on a 2 GB VM), dsim's disk is linear")
def test_the_measured_500_mb_copy() -> None:
    assert build_seconds("500") == pytest.approx(14.467, rel=0.15)
