"""podman-container-tools/podman#3303 (https://github.com/podman-container-tools/podman/issues/3303), moved to
buildah#1764 (https://github.com/podman-container-tools/buildah/issues/1764): "Building images with labels can be
slow". The Dockerfile:

    FROM registry.access.redhat.com/rhoar-nodejs/nodejs-10      (567 MB in `podman image ls`: unpacked)
    LABEL org.opencontainers.image.authors="<somefolks@example.org>"
    ... (6 LABEL lines in all)

A maintainer's comparison on his machine (2019-08-17, one run each): buildah 2.027 s, "Docker is taking real
0m4.020s". Docker's legacy builder (the default in 2019) runs each LABEL as a container it creates, commits and
removes (moby#23321), like moby#30436's ENVs and apache/airflow#12931's LABELs.

Parameters: ``image_store: graphdriver`` (the store of the 2019 Docker measured) and dsim's defaults
(``runtime.create`` 60 ms, ``classic_commit`` 140 ms, both from moby#30436's aufs row; ``walk_per_file`` 24 us and
``file_size`` 20 KB from its overlay row), the base image local at its
published 567 MB unpacked. Nothing calibrated here. Whether that dockerd diffed overlay2 natively is not
published (it depends on the kernel's CONFIG_OVERLAY_FS_REDIRECT_DIR), so both are predicted:
- native diff: 6 x (0.06 + 0.14) = 1.2 s, -70%;
- naive diff: 6 x (0.2 + 2 x 567e6 / 20e3 x 24 us) = 6 x 1.561 = 9.37 s, +133%.
NOT reproduced: 4.02 s lies between the two. Per LABEL it is 0.67 s, 0.47 s above the aufs-calibrated 0.2 s;
with naive diff that is 19,600 file visits at 24 us, a tree of about 9,800 files (196 MB at 20 KB each) where
the image holds 567 MB: the per-file walk cost (calibrated on moby#30436's 2017 host) and the image's mean file
size both vary with the environment, and neither is published for this one.
"""

from __future__ import annotations

import pytest

from tests.helpers import run_text

#: the base image unpacked, as `podman image ls` printed it in the issue
BASE_BYTES = 567e6
LABELS = 6
DOCKERFILE = "FROM nodejs-10\\n" + "".join(f"LABEL org.opencontainers.image.l{i}=x\\n" for i in range(LABELS))


def build_seconds(diff: str, builder: str = "classic") -> float:
    result = run_text(f"""
    name: podman-3303
    registries:
      reg: {{bandwidth: 1GB/s, latency: 0s}}
    images:
      nodejs-10: {{registry: reg, layers: [{{size: 210MB, uncompressed: {BASE_BYTES:.0f}}}]}}
    hosts:
      dev: {{cpus: 4, preloaded: ["nodejs-10"], daemon: {{api_service_time: 0s, image_store: graphdriver}},
            storage: {{overlay_diff: {diff}}}}}
    workloads:
      build:
        arrival: {{burst: 1}}
        steps: [{{build: {{dockerfile_text: "{DOCKERFILE}", builder: {builder}}}}}]
    """)
    [job] = result.jobs
    assert job.status == "completed", job.error
    [span] = result.spans_of("build")
    return float(span.duration)


def test_native_diff_prediction() -> None:
    assert build_seconds("native") == pytest.approx(LABELS * 0.2)


def test_naive_diff_prediction() -> None:
    assert build_seconds("naive") == pytest.approx(LABELS * (0.2 + 2 * BASE_BYTES / 20e3 * 24e-6))


def test_buildkit_commits_no_container_for_labels() -> None:
    assert build_seconds("naive", builder="buildkit") == pytest.approx(0.0, abs=1e-9)


@pytest.mark.xfail(strict=True, reason="4.02 s measured lies between native diff (1.2 s, -70%) and naive diff "
                   "(9.37 s, +133%): the walk's per-file cost and the image's mean file size are not published "
                   "for that machine")
@pytest.mark.parametrize("diff", ["native", "naive"])
def test_the_measured_four_seconds(diff: str) -> None:
    assert build_seconds(diff) == pytest.approx(4.020, rel=0.25)
