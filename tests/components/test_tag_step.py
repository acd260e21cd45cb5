"""The workload's ``tag`` step (``docker tag``, Client._tag -> Daemon.tag): an image mirrored from one registry to
another, pulled, tagged and pushed, as image promotion jobs do. ``app:1`` is two layers, 10 + 20 MB compressed,
25 + 40 MB unpacked. Tagged ``dst/mirror/app:1`` the same image has a second name; pushed, each layer is new to
``dst`` (known only from ``src``: one HEAD finds nothing) and is uploaded: as the blob containerd's store keeps,
or gzipped again by moby's graphdriver store (test_graphdriver_blobs.py). Tagging an image that is not local
fails the job with dockerd's message."""

from __future__ import annotations

import pytest

from tests.helpers import run_text

SCENARIO = """
name: tag-step
registries:
  src: {{bandwidth: 1GB/s, latency: 0s}}
  dst: {{bandwidth: 1GB/s, latency: 0s}}
images:
  base:1: {{registry: src, layers: [{{size: 10MB, uncompressed: 25MB}}]}}
  app:1: {{registry: src, from: "base:1", layers: [{{size: 20MB, uncompressed: 40MB}}]}}
hosts:
  h: {{cpus: 4, nic: inf, daemon: {{api_service_time: 0s, image_store: {store}}}}}
workloads:
  mirror:
    arrival: {{burst: 1}}
    steps:
      - {first}
      - tag: {{source: "app:1", target: "dst/mirror/app:1"}}
      - push: "dst/mirror/app:1"
"""


@pytest.mark.parametrize("store", ["containerd", "graphdriver"])
def test_a_pulled_image_tagged_for_another_registry_is_pushed_there(store: str) -> None:
    result = run_text(SCENARIO.format(store=store, first='pull: "app:1"'))
    [job] = result.jobs
    assert job.status == "completed", job.error
    assert [span.subject for span in result.spans_of("api")].count("tag") == 1
    uploads = sorted(result.spans_of("upload"), key=lambda span: span.attrs["bytes"])
    assert [(span.attrs["bytes"], span.attrs["compressed_here"]) for span in uploads] == [
        (10e6, store == "graphdriver"), (20e6, store == "graphdriver")]
    assert {span.attrs["registry"] for span in uploads} == {"dst"}


def test_tagging_an_image_that_is_not_local_fails_the_job() -> None:
    [job] = run_text(SCENARIO.format(store="containerd", first="sleep: 1s")).jobs
    assert job.status == "failed" and job.error == "Error response from daemon: No such image: app:1"
