"""The workload's ``commit`` step (``docker commit``, Client._commit -> Daemon.commit), against the commit's cost
worked out by hand in test_daemon_commit.py (moby's graphdriver store with native overlay diff, so no walk and no
naive-diff wait): a container of ``app:1`` writes 30 MB and exits; its commit digests the diff's tar while it is
written as a new layer, max(30 MB / hash_rate, 30 MB / 100 MB/s) = 0.3 s, then dockerd's 0.14 s; the stopped
container's read-write layer, mounted for the commit, is unmounted after it (a sync of nothing dirty: the disk
writes through). The image is app's two layers and the new one; a push then sends that layer (app's are found in
the registry's other repository and mounted). An untouched container commits no layer.
"""

from __future__ import annotations

import pytest

from dsim.domain.hosts import SHA256_AVX2 as HASH
from dsim.errors import ScenarioError
from tests.helpers import run_text

#: base:1's layer (10 MB, 25 MB unpacked) and app:1's own (20 MB, 40 MB unpacked) on a 1 GB/s registry, braces
#: doubled for ``str.format`` (test_rmi_step.py reuses them)
IMAGES = """
registries:
  reg: {{bandwidth: 1GB/s, latency: 0s}}
images:
  base:1: {{registry: reg, layers: [{{size: 10MB, uncompressed: 25MB}}]}}
  app:1: {{registry: reg, from: "base:1", layers: [{{size: 20MB, uncompressed: 40MB}}]}}
"""

SCENARIO = "name: commit-step" + IMAGES + """hosts:
  h: {{disk: 1GB, nic: inf, preloaded: ["app:1"], daemon: {{api_service_time: 0s, image_store: graphdriver}},
      storage: {{write_rate: 100MB/s, dirty_ratio: 0, overlay_diff: native}}}}
workloads:
  snap:
    arrival: {{burst: 1}}
    steps:
      - run: {{image: "app:1", name: w, writes: {writes}, duration: 1s}}
      - commit: {{ref: "reg/snap:1"}}
      - push: "reg/snap:1"
"""


def test_a_commit_step_makes_a_layer_of_what_the_container_wrote_and_a_push_sends_it() -> None:
    result = run_text(SCENARIO.format(writes="30MB"))
    [job] = result.jobs
    assert job.status == "completed", job.error
    [commit] = result.spans_of("commit")
    assert commit.subject == "w" and commit.attrs == {"image": "reg/snap:1", "bytes": 30e6}
    assert commit.end - commit.start == pytest.approx(max(30e6 / HASH, 30e6 / 100e6) + 0.14, rel=1e-9)
    pushed = sorted(span.attrs["status"] for span in result.spans_of("push_layer"))
    assert pushed == ["Mounted from app", "Mounted from app", "Pushed"]
    [upload] = result.spans_of("upload")
    assert upload.attrs["bytes"] == round(30e6 / 2.7)


def test_an_untouched_containers_commit_step_adds_no_layer() -> None:
    result = run_text(SCENARIO.format(writes="0B"))
    [commit] = result.spans_of("commit")
    assert commit.attrs["bytes"] == 0.0
    assert commit.end - commit.start == pytest.approx(0.14, rel=1e-9)
    assert [span.attrs["status"] for span in result.spans_of("push_layer")] == ["Mounted from app"] * 2


def test_a_commit_step_without_a_container_fails_the_job() -> None:
    text = SCENARIO.format(writes="0B").replace('      - run: {image: "app:1", name: w, writes: 0B, duration: 1s}\n',
                                                "")
    [job] = run_text(text).jobs
    assert job.status == "failed" and job.error == "no container: this job has not created one"


def test_an_unknown_key_of_a_commit_step_is_an_error() -> None:
    with pytest.raises(ScenarioError, match="message"):
        run_text(SCENARIO.format(writes="0B").replace('commit: {ref: "reg/snap:1"}',
                                                      'commit: {ref: "reg/snap:1", message: snap}'))
