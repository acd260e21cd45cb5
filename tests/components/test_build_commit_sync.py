"""The legacy builder's commits, and BuildKit's export's naive diffs, against times worked out by hand
(docs/build.md: Execution).

- A step container's commit (moby ``daemon/images/image_commit.go``: ``CommitImage``, ``exportContainerRw``) mounts
  the container's read-write layer (stopped, or never started for a metadata instruction: overlay2 mounts it) and
  unmounts it once the image is recorded, when the diff's stream is closed: that unmount syncs the filesystem,
  after the commit's writes, for RUN and for metadata instructions alike.
- With naive diff (``NaiveDiffDriver.Diff``, ``daemon/graphdriver/fsdiff.go``, since Docker 1.13), closing the
  diff waits until the clock's next whole second after the diff began: a container's diff (against its init
  layer) always; a COPY's bare layer (``rwLayer.Commit``) when it has a parent, and before the image is recorded;
  BuildKit's export of new layers on a parent (``EnsureLayer``), once for all of them. dsim's time 0 is a whole
  second: the wait ends at ``floor(start) + 1``.

Simple figures: the disk writes 100 MB/s; hashing is free (``hash_rate: inf``); the host's 10 GB put bg_thresh at
1 GB, so nothing is written back before someone syncs (``dirty_ratio: 0``: every write goes to the disk as it is
made). api_service_time is 2 ms (the build call's worker); runtime.create 60 ms, daemon.classic_commit 140 ms,
runtime.mount 20 ms; the base image (alpine, preloaded) is not dirty. With ``walk_per_file: 0s`` a naive diff walks
for no time, so only its wait is left.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from dsim.result import SimResult
from tests.components.test_build_cache import BASE, build, completed, job, run

MB = 1e6
W = 100 * MB  # the disk's write rate
LAYER = 100 * MB  # what `RUN make` leaves in its layer
API, CREATE, COMMIT, MOUNT = 0.002, 0.06, 0.14, 0.02
NAIVE: dict[str, Any] = {"overlay_diff": "naive", "walk_per_file": "0s"}


def simulate(workloads: dict[str, Any], *, contexts: dict[str, Any] | None = None,
             storage: dict[str, Any] | None = None, image_store: str = "graphdriver") -> SimResult:
    hosts = {"dev": {"cpus": 4, "memory": "10GB", "preloaded": [BASE], "daemon": {"image_store": image_store},
                     "storage": {"write_rate": "100MB/s", "hash_rate": "inf", **(storage or {})}}}
    result = run(workloads, contexts=contexts or {}, hosts=hosts)
    completed(result)
    return result


def classic(dockerfile: str, **options: Any) -> dict[str, Any]:
    return build(dockerfile, builder="classic", context=None, layer_sizes={"make|short": "100MB"},
                 run_times={"make": "1s", "short": "0.9s"}, **options)


def steps(result: SimResult) -> dict[str, tuple[float, float]]:
    """(began, end) of each executed build step."""
    return {s.subject: (s.attrs["began"], s.end) for s in result.spans_of("build_step") if not s.attrs["cached"]}


def builds(result: SimResult) -> list[float]:
    return [float(span.duration) for span in sorted(result.spans_of("build"), key=lambda s: s.job)]


def test_a_run_commit_syncs_its_layer_when_it_unmounts_the_container() -> None:
    # the create (0.06 s; its init layer's sync finds nothing dirty), the run (1 s; its exit's sync finds nothing),
    # the commit's 100 MB into the page cache, the image recorded (0.14 s), then the unmount's sync: 1 s.
    # (Without that sync the step would end at 1.2 s with the layer still dirty.)
    result = simulate({"dev": job(classic(f"FROM {BASE}\nRUN make\n"))})
    began, end = steps(result)["RUN make"]
    assert end - began == pytest.approx(CREATE + 1.0 + COMMIT + LAYER / W, rel=1e-9)


def test_a_run_commit_without_a_page_cache_writes_its_layer_as_it_goes() -> None:
    # dirty_ratio 0: the commit's 100 MB take 1 s at the disk, before the 0.14 s; the unmount finds nothing left
    result = simulate({"dev": job(classic(f"FROM {BASE}\nRUN make\n"))}, storage={"dirty_ratio": 0})
    began, end = steps(result)["RUN make"]
    assert end - began == pytest.approx(CREATE + 1.0 + LAYER / W + COMMIT, rel=1e-9)


def test_a_metadata_commit_syncs_what_another_build_left_dirty() -> None:
    # build a: its RUN ends at 0.002 + 0.06 + 1 = 1.062 s and its commit dirties 100 MB then. Build b starts at
    # 0.9 s: the call (0.002), ENV's container created at 0.962 (its init layer's sync: nothing dirty yet), the
    # commit of an empty diff ends at 1.102 s, and its unmount syncs a's 100 MB, dirty since 1.062: the disk
    # writes them from 1.102 to 2.102. So b's build takes 0.002 + 0.06 + 0.14 + 1 = 1.202 s (0.202 s if a
    # metadata commit unmounted nothing). a's own unmount, from 1.202, waits for the same bytes: a ends at 2.102.
    result = simulate({"a": job(classic(f"FROM {BASE}\nRUN make\n")),
                       "b": job(classic(f"FROM {BASE}\nENV A=1\n"), at="0.9s")})
    a, b = builds(result)
    assert b == pytest.approx(API + CREATE + COMMIT + LAYER / W, rel=1e-9)
    assert a == pytest.approx(0.9 + b, rel=1e-9)


def test_a_naive_commit_waits_for_the_next_whole_second_after_its_diff_began() -> None:
    # FROM scratch: an empty image, so the naive walk has nothing to visit, but a container's diff is always
    # against its init layer, so its close waits. From 0: the call (0.002), the create (to 0.062), the diff
    # begins at 0.062, the image is recorded at 0.202, then the close waits until 1 s; the next ENV's diff begins
    # at 1.062 and ends at 2 s, the third at 3 s. (The wait before the 140 ms: 3.14 s; no wait: 0.602 s.)
    dockerfile = "FROM scratch\nENV A=1\nENV B=2\nENV C=3\n"
    [seconds] = builds(simulate({"dev": job(classic(dockerfile))}, storage=NAIVE))
    assert seconds == pytest.approx(3.0, rel=1e-9)
    # a wait to a boundary of the clock, not a fixed sleep: started at 0.5 s, the first diff begins at 0.562 and
    # its close waits until 1 s, the others until 2 s and 3 s: 2.5 s from the start
    [later] = builds(simulate({"dev": job(classic(dockerfile), at="0.5s")}, storage=NAIVE))
    assert later == pytest.approx(3.0 - 0.5, rel=1e-9)
    # native diff: no wait, 3 x (0.06 + 0.14)
    [native] = builds(simulate({"dev": job(classic(dockerfile))}))
    assert native == pytest.approx(API + 3 * (CREATE + COMMIT), rel=1e-9)


def test_a_commit_that_passes_the_second_does_not_wait() -> None:
    # a RUN of 0.9 s (100 MB) on scratch: its diff begins at 0.002 + 0.06 + 0.9 = 0.962, and the commit's write of
    # 100 MB at the disk (dirty_ratio 0) ends at 1.962, past 1 s: no wait; the 0.14 s after it, 2.102 s
    result = simulate({"dev": job(classic("FROM scratch\nRUN short\n"))},
                      storage={"dirty_ratio": 0, **NAIVE})
    began, end = steps(result)["RUN short"]
    assert math.floor(began + CREATE + 0.9) + 1 < began + CREATE + 0.9 + LAYER / W
    assert end - began == pytest.approx(CREATE + 0.9 + LAYER / W + COMMIT, rel=1e-9)


COPY_CONTEXT = {"app": {"files": {"small.bin": "10MB"}}}


def test_a_naive_copy_layer_waits_before_its_image_is_recorded() -> None:
    # dirty_ratio 0, the context's 10 MB written as they land (0.1 s). COPY on alpine: the bare layer mounted
    # (0.02 s), the copy (0.1 s), then the diff begins; the commit writes 10 MB (0.1 s), the stream's close waits
    # for the next whole second after the diff began, then the image is recorded (0.14 s) and the layer released
    # (nothing dirty to sync)
    result = simulate({"dev": job(build(f"FROM {BASE}\nCOPY small.bin /\n", builder="classic"))},
                      contexts=COPY_CONTEXT, storage={"dirty_ratio": 0, **NAIVE})
    began, end = steps(result)["COPY small.bin /"]
    diff_began = began + MOUNT + 10 * MB / W
    assert diff_began + 10 * MB / W < math.floor(diff_began) + 1  # the wait binds
    assert end == pytest.approx(math.floor(diff_began) + 1 + COMMIT, rel=1e-9)
    # FROM scratch the bare layer has no parent: its diff is a plain tar and its close does not wait
    result = simulate({"dev": job(build("FROM scratch\nCOPY small.bin /\n", builder="classic"))},
                      contexts=COPY_CONTEXT, storage={"dirty_ratio": 0, **NAIVE})
    began, end = steps(result)["COPY small.bin /"]
    assert end - began == pytest.approx(2 * 10 * MB / W + COMMIT, rel=1e-9)


def export_span(result: SimResult) -> tuple[float, float]:
    [span] = result.spans_of("build_export")
    return span.start, span.end


def test_a_buildkit_export_waits_once_for_its_naive_diffs() -> None:
    # BuildKit's export into dockerd's layer store (the graphdriver image store's) diffs each new layer against its
    # parent (EnsureLayer, ChecksumForGraphID: the graph driver's Diff), all at once: with naive diff, a walk of
    # no time here and a free checksum, then the close's wait until the next whole second after the export began
    result = simulate({"dev": job(build(f"FROM {BASE}\nRUN make\n", builder="buildkit", context=None,
                                        run_times={"make": "1s"}, layer_sizes={"make": "100MB"}))}, storage=NAIVE,
                      image_store="graphdriver")
    start, end = export_span(result)
    assert start > 1.0
    assert end == pytest.approx(math.floor(start) + 1, rel=1e-9)
    # native diff: no wait; FROM scratch the only new layer has no parent: a plain tar, no wait either
    result = simulate({"dev": job(build(f"FROM {BASE}\nRUN make\n", builder="buildkit", context=None,
                                        run_times={"make": "1s"}, layer_sizes={"make": "100MB"}))},
                      image_store="graphdriver")
    start, end = export_span(result)
    assert end == pytest.approx(start, abs=1e-12)
    result = simulate({"dev": job(build("FROM scratch\nRUN make\n", builder="buildkit", context=None,
                                        run_times={"make": "1s"}, layer_sizes={"make": "100MB"}))}, storage=NAIVE,
                      image_store="graphdriver")
    start, end = export_span(result)
    assert end == pytest.approx(start, abs=1e-12)
