"""apache/airflow#12931 (https://github.com/apache/airflow/pull/12931): the legacy builder in Airflow's CI,
steps 125 to 133 of a 135-step Dockerfile are nine LABEL instructions, each a container created, committed
and removed (`---> Running in ...`, `Removing intermediate container ...` in the log). The log's timestamps:
20:20:19 to 20:21:21, "applying all the labels took 1m2s"; a less extreme run 20:44:40 to 20:45:23 (43 s).
The fix put the labels in one instruction.

Parameters: dsim's defaults with ``overlay_diff: naive`` (each commit walks the whole image, as in moby#30436's
overlay row; buildah#4480 reports the same for commits on large parent images, gone with native overlay diff;
whether the runner's dockerd logged "Not using native diff" is not published, the naive diff is the one whose
seconds per LABEL match: native gives 0.2 s); ``walk_per_file`` (24 us) and ``file_size`` (20 KB) as calibrated on
moby#30436; a 2-CPU runner (GitHub-hosted, Standard_DS2_v2); ``image_store: graphdriver``, the store of the
Docker of 2020. The labels' parent is the Airflow CI image (steps
1-124), local. Its size is the published one: apache/airflow#9029 (https://github.com/apache/airflow/pull/9029,
2020-06-03) lists the CI image at 3.43 GB in ``docker images`` (unpacked, "Don't trust sizes docker hub reports"),
after Hive/Hadoop/Java left it (4.44 GB before). Earlier sessions assumed three 1 GB compressed layers (8.1 GB
unpacked, 176.8 s): that guess is replaced by the figure, nothing is fitted.

Predicted: each LABEL's commit walks the parent's tree and the container's, 2 x 3.43e9 / 20e3 = 343,000 files
at 24 us = 8.232 s, so 9 x (0.06 + 0.14 + 8.232) = 75.9 s. Against the PR's headline run, 62 s ("applying all
the labels took 1m2s", one run read off log timestamps): +22%, within the 25% tolerance of a single run. Against
the other run it quotes, 43 s: +76%, NOT within: the two runs of the same build on two runners differ by 44%
(6.9 s and 4.8 s per label), dsim gives one figure per parameter set. Not modelled either way: overlay's cost
per file grows with the number of lower layers (a deep CI image), which would raise the prediction; the
image's size in December 2020 (six months after #9029) is not published. With native diff (no walk) the
same build is 1.8 s, 24 to 34 times too fast: the walk is the mechanism.
"""

from __future__ import annotations

import pytest

from tests.helpers import run_text

#: the CI image unpacked, apache/airflow#9029 (``docker images`` SIZE)
CI_IMAGE_BYTES = 3.43e9
DOCKERFILE = "FROM airflow-ci:base\\n" + "".join(f"LABEL org.apache.airflow.label{i}=x\\n" for i in range(9))


def label_seconds(diff: str) -> float:
    result = run_text(f"""
    name: airflow-12931
    registries:
      reg: {{bandwidth: 1GB/s, latency: 0s}}
    images:
      airflow-ci:base: {{registry: reg, layers: [{{size: 1.27GB, uncompressed: {CI_IMAGE_BYTES:.0f}}}]}}
    hosts:
      ci: {{cpus: 2, disk: 84GB, preloaded: ["airflow-ci:base"],
          daemon: {{api_service_time: 0s, image_store: graphdriver}},
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
    # 9 x (create 60 ms + commit 140 ms + 2 x 3.43e9 / 20e3 files x 24 us) = 9 x 8.432 = 75.9 s
    assert label_seconds("naive") == pytest.approx(9 * (0.2 + 2 * CI_IMAGE_BYTES / 20e3 * 24e-6))


def test_the_measured_62_seconds_single_run() -> None:
    # 75.9 s against the 62 s run: +22%, inside the 25% of a single run
    assert label_seconds("naive") == pytest.approx(62, rel=0.25)


@pytest.mark.xfail(strict=True, reason="75.9 s predicted against the 43 s run (+76%): the PR's two runs of the "
                   "same build differ by 44% (4.8 and 6.9 s per label on two runners); dsim gives one figure")
def test_the_measured_43_seconds_single_run() -> None:
    assert label_seconds("naive") == pytest.approx(43, rel=0.25)
