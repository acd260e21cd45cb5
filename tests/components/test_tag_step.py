"""The workload's ``tag`` step (``docker tag``, Client._tag -> Daemon.tag): an image mirrored from one registry to
another, pulled, tagged and pushed, as image promotion jobs do. test_graphdriver_blobs.py's ``app:1`` (two layers,
10 + 20 MB compressed, from ``reg``) tagged ``other/mirror/app:1`` has a second name; pushed, each layer is new to
``other`` (known only from ``reg``: one HEAD finds nothing) and is uploaded: as the blob containerd's store keeps,
or gzipped again by moby's graphdriver store. Tagging an image that is not local fails the job with dockerd's
message."""

from __future__ import annotations

import pytest

from tests.components.test_graphdriver_blobs import SCENARIO
from tests.helpers import run_text

MIRROR = """
workloads:
  mirror:
    arrival: {{burst: 1}}
    steps:
      - {first}
      - tag: {{source: "app:1", target: "other/mirror/app:1"}}
      - push: "other/mirror/app:1"
"""


def scenario(store: str, first: str) -> str:
    return SCENARIO.format(store=store, preloaded="[]") + MIRROR.format(first=first)


@pytest.mark.parametrize("store", ["containerd", "graphdriver"])
def test_a_pulled_image_tagged_for_another_registry_is_pushed_there(store: str) -> None:
    result = run_text(scenario(store, 'pull: "app:1"'))
    [job] = result.jobs
    assert job.status == "completed", job.error
    assert [span.subject for span in result.spans_of("api")].count("tag") == 1
    uploads = sorted(result.spans_of("upload"), key=lambda span: span.attrs["bytes"])
    assert [(span.attrs["bytes"], span.attrs["compressed_here"]) for span in uploads] == [
        (10e6, store == "graphdriver"), (20e6, store == "graphdriver")]
    assert {span.attrs["registry"] for span in uploads} == {"other"}


def test_tagging_an_image_that_is_not_local_fails_the_job() -> None:
    [job] = run_text(scenario("containerd", "sleep: 1s")).jobs
    assert job.status == "failed" and job.error == "Error response from daemon: No such image: app:1"
