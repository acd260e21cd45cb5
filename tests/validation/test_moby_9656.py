"""moby/moby#9656 (https://github.com/moby/moby/issues/9656), "Concurrent docker build takes longer than sequential
builds", with its reproducer dnephin/dockerd-load-test (https://github.com/dnephin/dockerd-load-test): ``setup.sh``
writes 400 MiB of random bytes (``dd if=/dev/urandom of=./context/data bs=10M count=40``) into a context whose
Dockerfile is

    FROM    busybox:latest
    ADD     . /data
    CMD     echo

and ``run.py n`` touches the data file, starts n ``docker build -t testing_<i> context`` at once and times the
whole batch. Docker 1.3.3, kernel 3.13.0-35, 8 CPUs (the repository's README; the storage driver, disk and memory
are not published), one run per n: 8.411, 19.825, 30.438, 41.650, 54.865, 115.551, 321.406 s for n = 1, 2, 3, 4,
5, 10, 20; with Docker 1.4.0: 8.410, 50.860, 113.535 s for n = 1, 5, 10.

The builder of Docker 1.3 (moby v1.3.3 ``builder/internals.go``, ``readContext``) receives the context's tar,
digests it (``tarsum.Version0``, which covers mtimes: the touch makes every run's ADD miss) while it untars it into a
temporary directory; ``ADD . /data`` runs in a container that copies the tree into its rootfs; the commit exports
the container's diff as a tar and applies it as a new layer (``daemon.Commit``, ``graph.Register``,
``driver.ApplyDiff``); ``CMD`` is one more container, created and committed. So each build writes the 400 MiB
three times (dsim's legacy builder: the context landed, the copy, the commit), and n builds share one disk.

Parameter set: 8 CPUs, busybox local, dsim's defaults but one calibrated value, ``storage.write_rate``, from the
one-build row: with ``hash_rate`` (776 MB/s) above the write rate each of the three writes takes B / w, so a build
is 3 B / w + 0.4 s (two containers: ADD's and CMD's, 0.06 s create + 0.14 s commit each), where B = 400 MiB (the
Dockerfile's 41 bytes are not written, docs/build.md): w = 3 x 419,430,400 / (8.411 - 0.4) = 157.07 MB/s (128.4
MB/s on buildah#3256's cloud VM).

Predicted: n builds at once share the disk (processor sharing) and each takes the same turn, so the batch ends at
n x 8.011 + 0.4 s: 16.42, 24.43, 32.44, 40.46, 80.51, 160.62 s for n = 2, 3, 4, 5, 10, 20, against the measured
-17%, -20%, -22%, -26% (Docker 1.4.0: -20%), -30% (-29%), -50%. Within 25% (single runs) up to four builds (five
on 1.4.0); NOT from five on 1.3.3: the real batch grows faster than the bytes (each extra build cost 11.4 s at n = 2,
12.1 s a build from 5 to 10 and 20.6 s from 10 to 20, where a build alone takes 8.4 s), dsim's disk keeps one
total rate however many streams share it. A disk whose total rate falls with the number of concurrent writers
(a rotating disk seeking between n streams) or a page cache that absorbs one build's 1.26 GB of writes but not n
of them would bend the curve; the source publishes neither the disk nor the memory, and dsim models neither.
The hashing never binds here: a build's two digests of B (the context as it lands, the commit's diff) are 1.08
CPU-seconds at 776 MB/s, spread over 8 cores, against 8.0 s of the shared disk per build.
The 1.4.0 one-build row (8.410 s) is the calibration's twin, not a prediction.
"""

from __future__ import annotations

import pytest

from tests.helpers import run_text

#: the context's data file, dd bs=10M count=40
DATA = 40 * 10 * 1024 * 1024
DOCKERFILE = "FROM busybox:latest\\nADD . /data\\nCMD echo\\n"
#: two containers (ADD's and CMD's): runtime.create 60 ms + daemon.classic_commit 140 ms each
CONTAINERS = 2 * 0.2
#: calibrated on the one-build row (Docker 1.3.3): three writes of the data at w take 8.411 - 0.4 s
WRITE_RATE = 3 * DATA / (8.411 - CONTAINERS)

#: n concurrent builds -> the batch's seconds, one run each (dnephin/dockerd-load-test README, moby#9656)
DOCKER_1_3_3 = {2: 19.825, 3: 30.438, 4: 41.650, 5: 54.865, 10: 115.551, 20: 321.406}
DOCKER_1_4_0 = {1: 8.410, 5: 50.860, 10: 113.535}


def batch_seconds(n: int) -> float:
    """n legacy builds started at once on one 8-CPU daemon: first start to last end."""
    result = run_text(f"""
    name: moby-9656
    registries:
      hub: {{bandwidth: 1GB/s, latency: 0s}}
    images:
      busybox:latest: {{registry: hub, layers: [700KB]}}
    contexts:
      load: {{files: {{data: {DATA}}}}}
    hosts:
      box: {{cpus: 8, preloaded: ["busybox:latest"], daemon: {{api_service_time: 0s}},
            storage: {{write_rate: {WRITE_RATE:.3f}}}}}
    workloads:
      build:
        arrival: {{burst: {n}}}
        steps: [{{build: {{dockerfile_text: "{DOCKERFILE}", context: load, builder: classic}}}}]
    """)
    assert all(job.status == "completed" for job in result.jobs), [job.error for job in result.jobs]
    spans = result.spans_of("build")
    assert len(spans) == n
    return max(float(span.end) for span in spans) - min(float(span.start) for span in spans)


def predicted(n: int) -> float:
    """The closed form: the disk shared by n equal builds, then each build's two containers."""
    return n * 3 * DATA / WRITE_RATE + CONTAINERS


def test_one_build_is_the_calibration() -> None:
    assert batch_seconds(1) == pytest.approx(8.411, rel=1e-6)


@pytest.mark.parametrize("n", [2, 3, 5, 10, 20])
def test_concurrent_builds_share_the_disk(n: int) -> None:
    assert batch_seconds(n) == pytest.approx(predicted(n), rel=1e-6)


@pytest.mark.parametrize("n", [2, 3, 4])
def test_up_to_four_builds_within_a_quarter(n: int) -> None:
    assert batch_seconds(n) == pytest.approx(DOCKER_1_3_3[n], rel=0.25)


@pytest.mark.parametrize("n", [1, 5])
def test_docker_1_4_0_up_to_five_builds(n: int) -> None:
    assert batch_seconds(n) == pytest.approx(DOCKER_1_4_0[n], rel=0.25)


@pytest.mark.xfail(strict=True, reason="not reproduced: the real batch grows faster than n builds' bytes (about 12 s "
                   "a build from 5 to 10, 21 s from 10 to 20, against 8.4 s alone); dsim's disk keeps one total "
                   "rate however many streams share it: -26%, -30%, -50%")
@pytest.mark.parametrize("n", [5, 10, 20])
def test_five_and_more_builds_on_docker_1_3_3(n: int) -> None:
    assert batch_seconds(n) == pytest.approx(DOCKER_1_3_3[n], rel=0.25)


@pytest.mark.xfail(strict=True, reason="not reproduced: 80.5 s against 113.535 s (-29%), the same superlinear growth")
def test_ten_builds_on_docker_1_4_0() -> None:
    assert batch_seconds(10) == pytest.approx(DOCKER_1_4_0[10], rel=0.25)
