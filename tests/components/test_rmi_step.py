"""The workload's ``rmi`` step (``docker rmi``, Client._rmi -> Daemon.rmi), against disk figures worked out by
hand: under the containerd image store (the default) a pulled layer keeps its blob and its unpacked files, so
``app:1`` (base's layer of 10 MB, 25 MB unpacked, and its own of 20 MB, 40 MB unpacked) takes 95 MB. Deleting
it frees the layers no other image holds; a container that uses it refuses the delete unless forced, and forced
the image stays for the container (dangling), freeing nothing.
"""

from __future__ import annotations

import pytest

from dsim.result import SimResult
from tests.components.test_commit_step import IMAGES
from tests.helpers import run_text

MB = 1e6

SCENARIO = "name: rmi-step" + IMAGES + """hosts:
  h: {{disk: 1GB, nic: inf, daemon: {{api_service_time: 0s}}}}
workloads:
  w:
    arrival: {{burst: 1}}
    steps:
{steps}
"""


def simulate(*steps: str) -> SimResult:
    return run_text(SCENARIO.format(steps="\n".join(f"      - {step}" for step in steps)))


def rmi_attrs(result: SimResult) -> dict[str, float]:
    [job] = result.jobs
    assert job.status == "completed", job.error
    [span] = result.spans_of("rmi")
    return dict(span.attrs)


def test_an_image_alone_goes_with_both_its_layers() -> None:
    # app's two layers, blobs and files: 10 + 25 + 20 + 40 MB
    attrs = rmi_attrs(simulate('pull: "app:1"', 'rmi: {image: "app:1"}'))
    assert attrs == {"untagged": 1, "layers": 2, "bytes": pytest.approx(95 * MB)}


def test_a_layer_another_image_holds_stays() -> None:
    # base:1 holds the first layer: only app's own goes, 20 + 40 MB
    attrs = rmi_attrs(simulate('pull: "app:1"', 'pull: "base:1"', 'rmi: {image: "app:1"}'))
    assert attrs == {"untagged": 1, "layers": 1, "bytes": pytest.approx(60 * MB)}


def test_an_image_a_container_uses_needs_force_and_then_stays() -> None:
    run = '{run: {image: "app:1", name: c, duration: 0s}}'
    [job] = simulate(run, 'rmi: {image: "app:1"}').jobs
    assert job.status == "failed"
    assert job.error.startswith("Error response from daemon: conflict: unable to remove repository reference "
                                '"app:1"')
    attrs = rmi_attrs(simulate(run, 'rmi: {image: "app:1", force: true}'))
    assert attrs == {"untagged": 1, "layers": 0, "bytes": 0.0}


def test_an_image_that_is_not_local_fails_the_job() -> None:
    [job] = simulate('rmi: {image: "app:1"}').jobs
    assert job.status == "failed" and job.error == "Error response from daemon: No such image: app:1"
