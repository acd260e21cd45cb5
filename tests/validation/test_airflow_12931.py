"""apache/airflow#12931 (https://github.com/apache/airflow/pull/12931): the legacy builder in Airflow's CI,
steps 125 to 133 of a 135-step Dockerfile are nine LABEL instructions, each a container created, committed
and removed (`---> Running in ...`, `Removing intermediate container ...` in the log). The log's timestamps:
20:20:19 to 20:21:21, "applying all the labels took 1m2s"; a less extreme run 20:44:40 to 20:45:23 (43 s).
The fix put the labels in one instruction.

Parameters: dsim's defaults with ``overlay_diff: naive`` (each commit walks the whole image, as in
moby#30436's overlay row; buildah#4480 reports the same for commits on large parent images, gone with native
overlay diff); ``walk_per_file`` (24 us) and ``file_size`` (20 KB) as calibrated on moby#30436; the labels'
parent is the Airflow CI image, local, whose size the PR does not give: "several GB", kept as this case's
earlier sessions set it, three layers of 1 GB compressed (8.1 GB unpacked at 2.7x), not fitted.

Predicted: each LABEL's commit walks 2 x 8.1e9 / 20e3 = 810,000 files at 24 us = 19.44 s, so 9 x (0.2 +
19.44) = 176.8 s: the mechanism turns 1.8 s into minutes, but 2.9 to 4.1 times the measured 43-62 s. NOT
reproduced within tolerance: the prediction scales with the image's file count, which is not published;
43-62 s is what a 3.8-5.6 GB unpacked image would give at 20 KB per file (or fewer, larger files). With
native diff (no walk) the same build is 1.8 s, 24 to 34 times too fast: the mechanism is the right one.
"""

from __future__ import annotations

import pytest

from tests.helpers import run_text

DOCKERFILE = "FROM airflow-ci:base\\n" + "".join(f"LABEL org.apache.airflow.label{i}=x\\n" for i in range(9))


def label_seconds(diff: str) -> float:
    result = run_text(f"""
    name: airflow-12931
    registries:
      reg: {{bandwidth: 1GB/s, latency: 0s}}
    images:
      airflow-ci:base: {{registry: reg, layers: [1GB, 1GB, 1GB]}}
    hosts:
      ci: {{cpus: 2, disk: 84GB, preloaded: ["airflow-ci:base"], daemon: {{api_service_time: 0s}},
           storage: {{overlay_diff: {diff}}}}}
    workloads:
      build:
        arrival: {{burst: 1}}
        steps: [{{build: {{dockerfile_text: "{DOCKERFILE}", builder: classic}}}}]
    """)
    [span] = result.spans_of("build")
    return float(span.duration)


def test_nine_labels_cost_nine_commits_with_native_diff() -> None:
    assert label_seconds("native") == pytest.approx(9 * 0.2)


def test_each_label_walks_the_whole_image_with_naive_diff() -> None:
    # 9 x (create 60 ms + commit 140 ms + 2 x 8.1e9 / 20e3 files x 24 us)
    assert label_seconds("naive") == pytest.approx(9 * (0.2 + 2 * 3 * 2.7e9 / 20e3 * 24e-6))


@pytest.mark.xfail(strict=True, reason="176.8 s predicted against 43-62 s: the Airflow CI image's size (file "
                   "count) is not published; the assumed 8.1 GB unpacked is about twice what the measurement implies")
def test_the_measured_43_to_62_seconds() -> None:
    assert 43 * 0.85 <= label_seconds("naive") <= 62 * 1.15
