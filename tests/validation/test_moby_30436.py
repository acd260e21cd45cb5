"""moby#30436 (https://github.com/moby/moby/issues/30436): the legacy builder, `docker build --no-cache` of

    FROM python:3.5
    ARG INJECTED_VAR1
    ENV INJECTED_TEXT1 INJECTED_VAR1
    ... (9 ENV lines in all)

ten metadata-only instructions, each of which the legacy builder runs as a container it creates, commits and
removes (moby#23321). Measured: about 2 s with the aufs storage driver, 16-20 s with overlay, where each
commit enumerated the whole base image (about 700,000 file operations in all against 7,000 with aufs).

Parameters: the base image is local (the reporter built on a host that had python:3.5); dsim's defaults.
The aufs row is the calibrated one: ``daemon.classic_commit`` (140 ms) is set from it, 2 s / 10 instructions
= 0.2 s each, less ``runtime.create`` (60 ms). So dsim gives 10 x 0.2 = 2.0 s, within 25% of "about 2 s"
(a single reported figure). BuildKit, which runs no container for them, is predicted to take no time for
these steps (moby/buildkit#1288: "This already works like this in buildkit").

The overlay row is NOT reproduced: dsim's commit does not depend on the size of the image underneath. On
overlay without native diff (dockerd's "Not using native diff for overlay2" when the kernel has
CONFIG_OVERLAY_FS_REDIRECT_DIR) a commit walks the container's whole filesystem to find its changes, so it
grows with the base image; that walk is not modelled. Deterministic: one run is the average.
"""

from __future__ import annotations

import pytest

from tests.helpers import run_text

DOCKERFILE = "FROM python:3.5\\nARG INJECTED_VAR1\\n" + "".join(
    f"ENV INJECTED_TEXT{i} INJECTED_VAR1\\n" for i in range(1, 10))


def build_seconds(builder: str) -> float:
    result = run_text(f"""
    name: moby-30436
    registries:
      reg: {{bandwidth: 1GB/s, latency: 0s}}
    images:
      python:3.5: {{registry: reg, layers: [250MB]}}
    hosts:
      builder: {{cpus: 4, preloaded: ["python:3.5"], daemon: {{api_service_time: 0s}}}}
    workloads:
      build:
        arrival: {{burst: 1}}
        steps:
          - build: {{dockerfile_text: "{DOCKERFILE}", builder: {builder}, no_cache: true,
                    build_args: {{INJECTED_VAR1: abc}}}}
    """)
    [job] = result.jobs
    assert job.status == "completed", job.error
    [span] = result.spans_of("build")
    return float(span.duration)


def test_aufs_ten_metadata_instructions_take_about_two_seconds() -> None:
    assert build_seconds("classic") == pytest.approx(2.0, rel=0.25)


def test_buildkit_commits_no_container_for_them() -> None:
    assert build_seconds("buildkit") == pytest.approx(0.0, abs=1e-9)


@pytest.mark.xfail(strict=True, reason="overlay without native diff walks the whole image at every commit "
                   "(16-20 s); dsim's commit cost does not grow with the image underneath")
def test_overlay_naive_diff_takes_sixteen_to_twenty_seconds() -> None:
    assert 16.0 * 0.75 <= build_seconds("classic") <= 20.0 * 1.25
