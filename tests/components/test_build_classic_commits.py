"""The legacy builder's container per instruction, against hand counts: every instruction that misses the
cache, ENV, LABEL, EXPOSE, CMD included, is a container created (runtime.create, 60 ms) and committed
(daemon.classic_commit, 140 ms): 0.2 s each, plus, for a step that writes a layer, its bytes written again at
storage.write_rate (the diff applied as a new layer). BuildKit commits no container. A cached instruction
costs nothing; after a RUN reruns, everything after it misses.

The base image is preloaded, api_service_time is 2 ms (the build call's worker), the context is empty unless
a test sends one, and RUNs take their ``run_times``. The daemon keeps moby's graphdriver image store, whose commits
these counts describe (the containerd store's: test_containerd_commit.py).
"""

from __future__ import annotations

import pytest

from dsim.domain.hosts import SHA256_AVX2 as HASH
from tests.components.test_build_cache import BASE, build, completed, job, run

API = 0.002
CONTAINER = 0.06 + 0.14  # runtime.create + daemon.classic_commit

DOCKERFILE = f"""
    FROM {BASE}
    ENV A=1
    LABEL team=web
    RUN work
    EXPOSE 8080
    ENV B=2
    CMD ["app"]
    """  # 5 metadata instructions and 1 build step: 6 containers when nothing is cached


def build_times(*builds: dict, hosts: dict | None = None) -> list[float]:  # type: ignore[type-arg]
    steps = [b for b in builds]
    graphdriver = {"dev": {"cpus": 4, "preloaded": [BASE], "daemon": {"image_store": "graphdriver"}}}
    result = run({"dev": job(*steps)}, contexts={}, hosts=hosts or graphdriver)
    completed(result)
    return [span.duration for span in sorted(result.spans_of("build"), key=lambda s: s.start)]


def test_a_cold_classic_build_pays_one_container_per_instruction() -> None:
    # 6 instructions miss: 6 x 0.2 s on top of the RUN's 10 s; the RUN's layer is empty (default 0 B)
    [classic] = build_times(build(DOCKERFILE, builder="classic", context=None, run_times={"work": "10s"}))
    assert classic == pytest.approx(API + 10 + 6 * CONTAINER)


def test_buildkit_commits_no_container() -> None:
    [kit] = build_times(build(DOCKERFILE, builder="buildkit", context=None, run_times={"work": "10s"}))
    assert kit == pytest.approx(API + 10)


def test_a_cached_classic_rebuild_pays_nothing_and_no_cache_pays_everything() -> None:
    # the second build finds all 6 instructions in the cache: only the call; --no-cache: 10 s + 6 containers
    again = build(DOCKERFILE, builder="classic", context=None, run_times={"work": "10s"})
    forced = build(DOCKERFILE, builder="classic", context=None, run_times={"work": "10s"}, no_cache=True)
    first, cached, rebuilt = build_times(again, again, forced)
    assert cached == pytest.approx(API)
    assert rebuilt == pytest.approx(first) == pytest.approx(API + 10 + 6 * CONTAINER)


def test_after_a_changed_instruction_the_rest_of_the_chain_misses() -> None:
    # the second Dockerfile differs at its RUN: ENV A and LABEL before it hit (same parent, same text); the RUN
    # reruns (10 s, 1 container) and so do EXPOSE, ENV B and CMD after it (3 containers): 10 + 4 x 0.2 s
    changed = DOCKERFILE.replace("RUN work", "RUN work --fast")
    first, second = build_times(build(DOCKERFILE, builder="classic", context=None, run_times={"work": "10s"}),
                                build(changed, builder="classic", context=None, run_times={"work": "10s"}))
    assert first == pytest.approx(API + 10 + 6 * CONTAINER)
    assert second == pytest.approx(API + 10 + 4 * CONTAINER)


def test_a_layer_is_written_twice_by_the_classic_builder() -> None:
    # RUN writes 400 MB; at write_rate 100 MB/s the commit applies the diff again as a layer: 4 s more than
    # the 1 s run (its digest at hash_rate runs alongside, shorter). BuildKit: the 1 s run, then its export
    # checksums the layer once in place (no second write): 400e6 / hash_rate s. The graphdriver store, whose export that
    # is (the containerd store's compresses the layer instead: test_build_export_compress.py)
    # (no page cache: the writes go at the disk's pace)
    hosts = {"dev": {"cpus": 4, "preloaded": [BASE], "daemon": {"image_store": "graphdriver"},
                     "storage": {"write_rate": "100MB/s", "dirty_ratio": 0}}}
    dockerfile = f"FROM {BASE}\nRUN make\n"
    options = {"context": None, "run_times": {"make": "1s"}, "layer_sizes": {"make": "400MB"}}
    [classic] = build_times(build(dockerfile, builder="classic", **options), hosts=hosts)
    [kit] = build_times(build(dockerfile, builder="buildkit", **options), hosts=hosts)
    assert classic == pytest.approx(API + 1 + CONTAINER + 400 / 100)
    assert kit == pytest.approx(API + 1 + 400e6 / HASH)
