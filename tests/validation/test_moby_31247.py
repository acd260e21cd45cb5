"""moby/moby#31247 (https://github.com/moby/moby/issues/31247), "docker build extremely slow with zfs" (Docker 1.12,
2017-02-22): the legacy builder on

    FROM scratch
    CMD [date]
    ... (20 CMD lines in all)

on a fresh data root (``docker daemon -D -g /var/lib/docker_aufs``, so nothing cached): aufs ``real 0m2.402s``,
zfs ``real 0m11.807s`` (``time docker build . -t date_image``, one run each; the machine is not published).

Each CMD is a metadata-only instruction that the legacy builder turns into a container it creates and commits
(moby v1.12.6 ``builder/dockerfile/internals.go``, ``commit``: ``probeCache``, then ``b.create()`` and
``b.docker.Commit``; with ``FROM scratch`` the container has no parent layer at all). dsim charges each such
instruction ``runtime.create`` (60 ms) + ``daemon.classic_commit`` (140 ms), both set from moby#30436's aufs row
(ten instructions on python:3.5, "about 2 s"); an empty parent has no diff to walk whatever the diff mode.

Parameter set: dsim's defaults, nothing calibrated, but ``image_store: graphdriver`` (Docker 1.12 had no other).
Predicted: 20 x 0.2 = 4.0 s against 2.402 s, +67%: NOT reproduced. This host spent 0.120 s per instruction where
moby#30436's spent 0.2 s, both on aufs with Docker 1.12-1.13:
the per-instruction cost is one figure in dsim, taken from one 2017 machine, and it varies by 1.7x between the
two published aufs hosts (their machines differ, and so does the image under each container: python:3.5's
layers against none). zfs (a dataset clone and snapshot per layer) is not a storage driver dsim models: 0.59 s per
instruction there. BuildKit runs no container for CMD (moby/buildkit#1288): 0 s.
"""

from __future__ import annotations

import pytest

from tests.helpers import run_text

CMDS = 20
DOCKERFILE = "FROM scratch\\n" + "CMD [date]\\n" * CMDS


def build_seconds(builder: str = "classic") -> float:
    result = run_text(f"""
    name: moby-31247
    hosts:
      box: {{cpus: 4, daemon: {{api_service_time: 0s, image_store: graphdriver}}}}
    workloads:
      build:
        arrival: {{burst: 1}}
        steps: [{{build: {{dockerfile_text: "{DOCKERFILE}", builder: {builder}}}}}]
    """)
    [job] = result.jobs
    assert job.status == "completed", job.error
    [span] = result.spans_of("build")
    return float(span.duration)


def test_each_cmd_is_a_container_created_and_committed() -> None:
    # 20 x (runtime.create 0.06 + daemon.classic_commit 0.14): nothing to copy, walk or write on an empty parent
    assert build_seconds() == pytest.approx(CMDS * 0.2)


def test_buildkit_runs_no_container_for_them() -> None:
    assert build_seconds("buildkit") == pytest.approx(0.0, abs=1e-9)


@pytest.mark.xfail(strict=True, reason="not reproduced: 4.0 s against 2.402 s (+67%); this aufs host spent 0.12 s "
                   "per instruction where moby#30436's (the calibration of classic_commit) spent 0.2 s")
def test_the_measured_aufs_build() -> None:
    assert build_seconds() == pytest.approx(2.402, rel=0.25)
