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
temporary directory; ``ADD . /data`` runs in a container (``runContextCommand``): created (``daemon.Create``, whose
``createRootfs`` mounts and unmounts the init layer), its rootfs mounted, the tree copied into it, the commit
exporting the container's diff as a tar applied as a new layer (``daemon.Commit``, ``graph.Register``,
``driver.ApplyDiff``), and only then the rootfs unmounted (``defer container.Unmount()``); ``CMD`` is one more
container, created and committed. So each build writes the 400 MiB three times (dsim's legacy builder: the context
landed, the copy, the commit), and n builds share one disk. Docker 17.07 and later copy into a bare layer with no
container (moby#33454): this row needs the old order, ``daemon.classic_copy: container`` (docs/build.md).

dsim's rules for it (docs/networks-storage.md, The page cache): every write goes into the page cache at once while
the dirty bytes stay under the kernel's setpoint; writeback runs at ``storage.write_rate`` in the background above
bg_thresh and without pause while anyone waits; an unmount (a step container's init layer at its create, the ADD
container's rootfs after its commit) syncs Docker's whole filesystem (``syncfs``). The memory is not published, so
the host has dsim's default 16 GiB: bg_thresh 10% = 1.718 GB (4.10 B), setpoint 17.5% = 3.006 GB (7.17 B), where
B = 400 MiB = 419,430,400 bytes. The storage driver is not published either (a 3.13 kernel has no mainline
overlayfs: aufs or devicemapper); dsim syncs where Docker 28's overlay2 unmounts.

One build, by hand (h = B / hash_rate = 0.9349 s of one core at dsim's 448.62 MB/s, Go's AVX2 sha256; Docker
1.3's Go, without it, hashed slower still; d = B / w):
- the context lands: hashed (h) and written (into the page cache at once): B dirty;
- ADD's container: create 0.06 s, its init layer's unmount syncs the context: d;
- the copy (B into the page cache), the commit: its diff hashed (h) and written (B), 0.14 s: 2 B dirty, under
  bg_thresh, so nothing is written back until the rootfs's unmount syncs the copy and the commit: 2 d;
- CMD's container: create 0.06 s (its sync finds nothing dirty), commit 0.14 s.
So one build is 2 h + 0.4 + 3 d: the disk writes the three copies but never while the build hashes or the
containers are made.

Parameter set: 8 CPUs, busybox local, ``daemon.classic_copy: container``, ``image_store: graphdriver`` (Docker
1.3's only store), dsim's defaults but one calibrated value, ``storage.write_rate``, from the one-build row
(Docker 1.3.3): 3 B / w = 8.411 - 0.4 - 2 h = 6.141 s, w = 204.90
MB/s (181.57 MB/s while dsim's sha256 ran at 776 MB/s, a figure of 8-way multi-buffer hashing that no Go has; 157.07
MB/s under dsim's earlier write-through disk, with the hashing hidden under the writes).

Predicted, n builds started at once (they stay in step; up to 8 hash on their own cores):
- n = 2: 4 B dirty at the second sync, still under bg_thresh: the disk idles while the builds hash, as for one
  build: 2 h + 0.4 + 6 d = 14.55 s;
- n = 3, 4: the first sync as above (h + 0.06 + n d), then 2 n B dirty, above bg_thresh (n = 4: above the
  setpoint too, the commits wait for writeback): the disk writes without pause until the ADD's final sync has it
  all, then CMD's container: h + 0.26 + 3 n d = 19.62, 25.76 s;
- n >= 5: n B dirty as the contexts land, above bg_thresh: the disk is never idle from the start (n >= 8: the
  contexts' writers wait at the setpoint; from 9 builds the hashes share the 8 cores, hidden under the disk):
  3 n d + 0.2 = 30.91, 61.61, 123.02 s for n = 5, 10, 20.
Against the measured (tolerance 25%, single runs): n = 2 -26.6%, n = 3 -35.5%, n = 4 -38.2%, n = 5 -43.7%
(Docker 1.4.0: -39.2%), n = 10 -46.7% (-45.7%), n = 20 -61.7%: NOT reproduced, from two builds (n = 2 was -22.6%,
within, while dsim hashed at 776 MB/s). The real batch
grows faster than the bytes (each extra build cost 11.4 s at n = 2, 12.1 s a build from 5 to 10 and 20.6 s from
10 to 20, where a build alone takes 8.4 s); in dsim a build alone leaves the disk idle 1.5 s (hashing, containers)
that concurrent builds fill, and one total rate is shared however many streams write. A disk whose total rate
falls with the number of concurrent writers (a rotating disk seeking between n streams) would bend the curve up;
the source publishes no disk, and dsim does not model one. The 1.4.0 one-build row (8.410 s) is the calibration's
twin, not a prediction.
"""

from __future__ import annotations

import pytest

from dsim.domain.hosts import SHA256_AVX2
from tests.helpers import run_text

#: the context's data file, dd bs=10M count=40
DATA = 40 * 10 * 1024 * 1024
DOCKERFILE = "FROM busybox:latest\\nADD . /data\\nCMD echo\\n"
#: two containers (ADD's and CMD's): runtime.create 60 ms + daemon.classic_commit 140 ms each
CONTAINERS = 2 * 0.2
#: one digest of the data on one core at dsim's default hash_rate (Go's AVX2 path, 448.62 MB/s; Docker 1.3's Go had
#: no AVX2 sha256 and was slower): the context's, the commit's
HASH = DATA / SHA256_AVX2
#: calibrated on the one-build row (Docker 1.3.3): the three writes take 8.411 - 0.4 - 2 h of disk time
WRITE_RATE = 3 * DATA / (8.411 - CONTAINERS - 2 * HASH)
#: dsim's default host memory (the source publishes none) and the kernel's limits over it: bg_thresh 10%,
#: setpoint ((10% + 20%) / 2 + 20%) / 2 = 17.5%
MEMORY = 16 * 2**30
BG_THRESH = 0.10 * MEMORY
SETPOINT = 0.175 * MEMORY

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
      box: {{cpus: 8, preloaded: ["busybox:latest"],
            daemon: {{api_service_time: 0s, classic_copy: container, image_store: graphdriver}},
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
    """The closed forms of the docstring: when the disk idles (dirty bytes under bg_thresh, nobody syncing) and
    when it writes without pause (until the ADD's sync after its commit; CMD's container, 0.2 s, follows)."""
    d = DATA / WRITE_RATE
    if 2 * n * DATA < BG_THRESH:  # n <= 2: nothing written back before the syncs
        return 2 * HASH + CONTAINERS + 3 * n * d
    if n * DATA < BG_THRESH:  # n = 3, 4: the disk idles until the first sync, then never again
        assert 2 * n * DATA > BG_THRESH
        return HASH + 0.06 + n * d + 2 * n * d + CONTAINERS / 2
    assert n * DATA < SETPOINT or n >= 8  # n >= 5: writeback from the start
    return 3 * n * d + CONTAINERS / 2  # the disk's time, then CMD's container


def test_the_closed_forms_thresholds() -> None:
    # which regime each n is in: 2 builds' 4 B stay under bg_thresh (4.10 B), 3 builds' 6 B do not
    assert 4 * DATA < BG_THRESH < 5 * DATA
    assert 7 * DATA < SETPOINT < 8 * DATA
    assert 204.89e6 < WRITE_RATE < 204.90e6


def test_one_build_is_the_calibration() -> None:
    assert batch_seconds(1) == pytest.approx(8.411, rel=1e-6)


@pytest.mark.parametrize("n", [2, 3, 4, 5, 10, 20])
def test_concurrent_builds_against_the_closed_forms(n: int) -> None:
    assert batch_seconds(n) == pytest.approx(predicted(n), rel=1e-6)


@pytest.mark.xfail(strict=True, reason="not reproduced: 14.55 s against 19.825 s (-26.6%): the disk idles while the "
                   "two builds hash and make their containers, as for one build; the real batch grew faster than its "
                   "bytes")
def test_two_builds_within_a_quarter() -> None:
    assert batch_seconds(2) == pytest.approx(DOCKER_1_3_3[2], rel=0.25)


def test_docker_1_4_0_one_build() -> None:
    # the calibration's twin: 8.411 s against 8.410 s
    assert batch_seconds(1) == pytest.approx(DOCKER_1_4_0[1], rel=0.25)


@pytest.mark.xfail(strict=True, reason="not reproduced: concurrent builds fill the disk time one build leaves idle "
                   "(hashing, containers), and the real batch grows faster than its bytes (about 12 s a build from 5 "
                   "to 10, 21 s from 10 to 20, against 8.4 s alone); dsim's disk keeps one total rate however many "
                   "streams share it: -35%, -38%, -44%, -47%, -62%")
@pytest.mark.parametrize("n", [3, 4, 5, 10, 20])
def test_three_and_more_builds_on_docker_1_3_3(n: int) -> None:
    assert batch_seconds(n) == pytest.approx(DOCKER_1_3_3[n], rel=0.25)


@pytest.mark.xfail(strict=True, reason="not reproduced: 30.9 s against 50.860 s (-39%) and 61.6 s against "
                   "113.535 s (-46%), the same superlinear growth")
@pytest.mark.parametrize("n", [5, 10])
def test_five_and_ten_builds_on_docker_1_4_0(n: int) -> None:
    assert batch_seconds(n) == pytest.approx(DOCKER_1_4_0[n], rel=0.25)
