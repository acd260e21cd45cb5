"""BuildKit's per-vertex solver work (components/build_solver.py) against closed forms worked out by hand.

Every build step (vertex) costs ``daemon.buildkit_vertex`` = c CPU-seconds on one core, cached or not. The
steps below run in no time (``default_run_time: 0s``, no bytes), so a build's extra time over the same build
with c = 0 is its solver work alone:
- one chain of n vertices on an idle core: n x c (the vertices of a chain are solved one after another);
- the same chain again, fully cached: n x c again (a cache hit is keyed and looked up too);
- k builds of n vertices at once on one core: processor sharing gives each 1/k of it, so every build ends
  k x n x c later; on k cores each ends n x c later;
- the legacy builder has no solver: c changes nothing.
"""

from __future__ import annotations

import pytest

from tests.helpers import run_text

N = 4
C = 0.1


def dockerfile(tag: str) -> str:
    return "FROM base\\n" + "".join(f"RUN step-{tag}-{i}\\n" for i in range(N))


def build_seconds(per_vertex: float, *, cpus: int = 1, builds: int = 1, rebuild: bool = False,
                  builder: str = "buildkit") -> list[float]:
    """Each build's duration (a rebuild: the second build of the job, fully cached)."""
    workloads = "".join(f"""
      w{b}:
        arrival: {{burst: 1}}
        steps:
          - build: {{dockerfile_text: "{dockerfile(str(b))}", builder: {builder}, default_run_time: 0s}}
""" + (f"""          - build: {{dockerfile_text: "{dockerfile(str(b))}", builder: {builder}, default_run_time: 0s}}
""" if rebuild else "") for b in range(builds))
    result = run_text(f"""
    name: solver
    registries:
      reg: {{bandwidth: 1GB/s, latency: 0s}}
    images:
      base: {{registry: reg, layers: [1MB]}}
    hosts:
      h: {{cpus: {cpus}, preloaded: [base], daemon: {{api_service_time: 0s, buildkit_vertex: {per_vertex}s}}}}
    workloads:{workloads}
    """)
    spans = sorted(result.spans_of("build"), key=lambda span: (span.job, span.start))
    if rebuild:
        spans = spans[1::2]
    return [float(span.duration) for span in spans]


def test_a_chain_of_n_vertices_costs_n_times_c_on_an_idle_core() -> None:
    [base] = build_seconds(0.0)
    [solved] = build_seconds(C)
    assert solved - base == pytest.approx(N * C)


def test_a_fully_cached_rebuild_still_keys_and_looks_up_every_vertex() -> None:
    [base] = build_seconds(0.0, rebuild=True)
    [solved] = build_seconds(C, rebuild=True)
    assert solved - base == pytest.approx(N * C)


def test_two_builds_share_one_core() -> None:
    # processor sharing: each chain gets half the core, both end 2 x N x C later
    base = build_seconds(0.0, builds=2)
    solved = build_seconds(C, builds=2)
    assert [s - b for s, b in zip(solved, base, strict=True)] == pytest.approx([2 * N * C] * 2)


def test_two_builds_on_two_cores_do_not_slow_each_other() -> None:
    base = build_seconds(0.0, cpus=2, builds=2)
    solved = build_seconds(C, cpus=2, builds=2)
    assert [s - b for s, b in zip(solved, base, strict=True)] == pytest.approx([N * C] * 2)


def test_the_legacy_builder_has_no_solver() -> None:
    assert build_seconds(C, builder="classic") == pytest.approx(build_seconds(0.0, builder="classic"))
