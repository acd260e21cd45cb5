"""Charts and the figures behind them: derivations checked by hand, files deterministic, big runs sampled
and saying so, unknown span kinds shown rather than crashing anything."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import cast

import numpy as np
import pytest

from dsim.records import JobEnd, Span, SpanKind
from dsim.reports import charts as C
from dsim.reports.charts import jobs as J
from dsim.reports.charts import write_charts
from dsim.reports.charts.sampling import sample_rows
from dsim.reports.context import ScenarioInfo, comment_header
from dsim.reports.derive import (
    SpanIndex,
    binned_average,
    binned_levels,
    kind_stats,
    pack_lanes,
    peak_concurrency,
)
from dsim.result import SimResult
from tests.helpers import ROOT, run_text


def _new_kind(name: str) -> SpanKind:
    """A kind dsim does not declare, as a future feature would add one: the reports must still show it."""
    return cast(SpanKind, name)

#: Three runners, two daemon workers and two download slots each, nine CI jobs at once plus one
#: `docker run -d -p` of nginx (not local: "Unable to find image").
SMALL = """\
# small: a story header
#
# second paragraph
name: small
description: nine CI jobs and a web server on three runners
seed: 3
registries:
  registry: {bandwidth: 1Gbps, latency: 10ms}
images:
  base:1: {registry: registry, layers: [40MB, 10MB]}
  app:1: {registry: registry, from: "base:1", layers: [30MB, 5MB, 20MB]}
hosts:
  runner:
    count: 3
    nic: 1Gbps
    daemon: {workers: 2, max_concurrent_downloads: 2}
workloads:
  ci:
    arrival: {burst: 9, at: 0s}
    steps:
      - pull: app:1
      - run: {image: app:1, duration: 20s}
      - rm: {}
  web:
    arrival: {times: [1s]}
    placement: runner-1
    steps:
      - run: {image: nginx, detach: true, ports: ["8080:80"], name: web}
"""


@pytest.fixture(scope="module")
def small() -> tuple[SimResult, ScenarioInfo]:
    from dsim.api import load_scenario_text

    resolved = load_scenario_text(SMALL)
    from dsim.api import simulate

    result = simulate(resolved)
    info = dataclasses.replace(ScenarioInfo.from_resolved(resolved), yaml_text=SMALL, story=comment_header(SMALL))
    return result, info


# ----------------------------------------------------------------------------------------- derivations

def test_binned_average_integrates_the_step_function_exactly() -> None:
    # one item of weight 2 over [0, 10) on [0, 20) in 4 bins of 5 s: level 2 in the first two bins
    assert binned_average([(0.0, 10.0, 2.0)], 0.0, 20.0, 4) == [2.0, 2.0, 0.0, 0.0]
    # [2.5, 7.5) weight 1 covers half of bin 0 ([0, 5)) and half of bin 1 ([5, 10)): 0.5 each
    assert binned_average([(2.5, 7.5, 1.0)], 0.0, 10.0, 2) == [0.5, 0.5]
    # two overlapping items add; an instant (start == end) adds nothing
    assert binned_average([(0.0, 4.0, 1.0), (2.0, 4.0, 3.0), (1.0, 1.0, 9.0)], 0.0, 4.0, 2) == [1.0, 4.0]
    # bytes conserved: the average rate times the window is the bytes moved (100 MB over 3 s inside 10 s)
    rate = 100e6 / 3
    bins = binned_average([(1.2, 4.2, rate)], 0.0, 10.0, 7)
    assert sum(bins) * (10.0 / 7) == pytest.approx(100e6)


def _binned_by_loop(items: list[tuple[float, float, float]], t0: float, t1: float, bins: int) -> list[float]:
    """binned_average as a loop over the sorted level changes, adding each bin's pieces: the reference."""
    deltas = sorted([(s, w) for s, e, w in items if e > s and w] + [(e, -w) for s, e, w in items if e > s and w])
    width = (t1 - t0) / bins
    out, level, at, i = [0.0] * bins, 0.0, t0, 0
    while i < len(deltas) and deltas[i][0] <= t0:
        level, i = level + deltas[i][1], i + 1
    for b in range(bins):
        edge, area = t0 + (b + 1) * width, 0.0
        while i < len(deltas) and deltas[i][0] < edge:
            area += level * (deltas[i][0] - at)
            at, level, i = deltas[i][0], level + deltas[i][1], i + 1
        out[b], at = (area + level * (edge - at)) / width, edge
    return out


def test_binned_average_agrees_with_a_loop_over_the_level_changes() -> None:
    # the NumPy version differences the running integral; the loop adds each bin's pieces: equal up to
    # rounding (relative to the largest area involved, as a difference of integrals loses that much)
    import random

    rng = random.Random(7)
    for _ in range(500):
        grid = rng.choice([None, 0.5, 1.0])  # on a grid: many equal times (ties in the sort)
        items = []
        for _ in range(rng.randint(0, 30)):
            start = rng.randint(-3, 30) * grid if grid else rng.uniform(-2.0, 20.0)
            end = start + (rng.randint(-1, 10) * grid if grid else rng.expovariate(0.3))
            items.append((start, end, rng.choice([1.0, 2.5, -1.0, 0.0, rng.uniform(0.0, 1e9)])))
        t0 = rng.choice([0.0, -1.0, 0.3])
        t1, bins = t0 + rng.choice([10.0, 17.3, 25.0]), rng.choice([1, 7, 300])
        expected = _binned_by_loop(items, t0, t1, bins)
        scale = sum(abs(w) * (e - s) for s, e, w in items if e > s) / ((t1 - t0) / bins) + 1.0
        assert binned_average(items, t0, t1, bins) == pytest.approx(expected, rel=1e-9, abs=scale * 1e-12), items


def _levels_in_stable_order(starts: np.ndarray, ends: np.ndarray, t0: float, t1: float, bins: int) -> list[float]:
    """``binned_levels`` of unit weights as it was: tied changes added in the stable order."""
    keep = ends > starts
    times = np.concatenate([starts[keep], ends[keep]])
    if not len(times):
        return [0.0] * bins
    steps = np.concatenate([np.ones(int(keep.sum())), -np.ones(int(keep.sum()))])
    order = np.argsort(times, kind="stable")
    times, levels = times[order], np.cumsum(steps[order])
    areas = np.concatenate([[0.0], np.cumsum(np.diff(times) * levels[:-1])])
    edges = np.linspace(t0, t1, bins + 1)
    last = np.searchsorted(times, edges, side="right") - 1
    at = np.maximum(last, 0)
    integral = np.where(last >= 0, areas[at] + levels[at] * (edges - times[at]), 0.0)
    return list((np.diff(integral) / ((t1 - t0) / bins)).tolist())


def test_binned_levels_of_unit_weights_match_the_stable_order_bit_for_bit() -> None:
    # unit weights are sorted with NumPy's unstable sort: the order of tied changes must move no float
    rng = np.random.default_rng(11)
    for _ in range(60):
        n = int(rng.integers(0, 5000))
        starts = np.round(rng.random(n) * 100, int(rng.integers(0, 3)))  # rounded: many ties
        ends = starts + np.round(rng.random(n) * rng.choice([0.0, 1.0, 30.0]), int(rng.integers(0, 2)))
        t1 = float(max(ends.max(initial=0.0), 1.0))
        got = binned_levels(starts, ends, np.ones(n), 0.0, t1, 300)
        expected = _levels_in_stable_order(starts, ends, 0.0, t1, 300)
        assert np.array_equal(np.array(got).view(np.int64), np.array(expected).view(np.int64))


def test_pack_lanes_never_overlaps_and_uses_the_peak_number_of_lanes() -> None:
    # a resource of capacity 3 (like 3 download slots): at most 3 intervals open at once
    intervals = [(0.0, 5.0, "a"), (0.0, 2.0, "b"), (1.0, 3.0, "c"), (2.0, 6.0, "d"), (3.0, 4.0, "e"), (5.0, 7.0, "f")]
    lanes = pack_lanes(intervals)
    assert max(lanes.values()) + 1 == peak_concurrency([(s, e) for s, e, _ in intervals]) == 3
    for lane in set(lanes.values()):
        mine = sorted((s, e) for s, e, k in intervals if lanes[k] == lane)
        assert all(a[1] <= b[0] for a, b in zip(mine, mine[1:], strict=False)), mine


def test_pull_detail_follows_the_download_slots(small: tuple[SimResult, ScenarioInfo]) -> None:
    """Each runner pulls app:1 (five layers) with two download slots, FIFO in layer order: the first two
    downloads start together, the third waits for a slot, so at most two are in progress on one host."""
    result, _ = small
    index = SpanIndex(result)
    job = min(j.job for j in result.jobs if j.workload == "ci")
    pulls = index.pulls(job)
    assert len(pulls) == 1
    pull = pulls[0]
    downloaded = [layer for layer in pull.layers if layer.download is not None]
    assert [layer.status for layer in pull.layers] == ["Pull complete"] * 5
    assert len(downloaded) == 5
    starts = sorted(layer.download.start for layer in downloaded if layer.download)
    assert starts[2] > starts[0]  # the third layer waited for a slot
    host = pull.host
    holds = [(s.start, s.end) for s in result.spans_of("download") if s.host == host]
    assert peak_concurrency(holds) == 2
    # unpack strictly in layer order, one at a time
    unpacks = [layer.unpack for layer in pull.layers]
    assert all(u is not None for u in unpacks)
    ends = [u.end for u in unpacks if u]
    assert ends == sorted(ends)


# ----------------------------------------------------------------------------------------- the charts

def test_every_chart_is_drawn_and_files_are_deterministic(small: tuple[SimResult, ScenarioInfo],
                                                            tmp_path: Path) -> None:
    result, info = small
    first = write_charts(result, tmp_path / "a", info)
    second = write_charts(result, tmp_path / "b", info)
    names = [chart.name for chart in first]
    assert names == ["topology", "timeline", "pull_waterfall", "latency_cdf", "time_share", "registry_egress", "daemon",
                     "cache", "density", "ports", "sequence", "activity"]  # no builds, no restart: no build waterfall,
    # no lanes; its web containers publish ports: the port table
    for a, b in zip(first, second, strict=True):
        data = a.path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5_000, a.name
        assert data == b.path.read_bytes(), a.name
        assert a.title and a.caption


def test_time_share_of_a_hand_made_job() -> None:
    """Arrival 0; waits 1 s for a worker; pulls 8 s; create 0.5 s; start 0.5 s; runs 10 s.
    Start-up (arrival until the container runs) = 10 s: pull 8/10, queue 1/10, create and start 0.05 each.
    The whole job = 20 s: pull 8/20 = 40%, run 10/20 = 50%."""
    spans = [
        Span(SpanKind.API, "pull", "h", 0.0, 1.002, 1, {"queue": 1.0}),
        Span(SpanKind.PULL, "x:1", "h", 1.0, 9.0, 1, {}),
        Span(SpanKind.CREATE, "c", "h", 9.0, 9.5, 1, {}),
        Span(SpanKind.START, "c", "h", 9.5, 10.0, 1, {}),
        Span(SpanKind.RUN, "c", "h", 10.0, 20.0, 1, {}),
        Span(SpanKind.JOB, "w", "h", 0.0, 20.0, 1, {"status": "completed"}),
    ]
    result = _result(spans, [JobEnd(1, "w", "h", 0.0, 20.0, "completed", "")])
    startup, whole, s_total, w_total = J._shares(result.jobs, SpanIndex(result), ["pull", "create", "start", "run"])
    assert s_total == pytest.approx(10.0)
    assert startup["pull"] / s_total == pytest.approx(0.8)
    assert startup["queue"] / s_total == pytest.approx(0.1)
    assert startup["create"] / s_total == pytest.approx(0.05)
    assert w_total == pytest.approx(20.0)
    assert whole["pull"] / w_total == pytest.approx(0.4)
    assert whole["run"] / w_total == pytest.approx(0.5)


def test_timeline_samples_big_runs_and_says_so(tmp_path: Path) -> None:
    """5,000 jobs on 250 hosts (20 each): over the 240-row limit, so whole hosts are drawn, evenly spaced:
    240 // 20 = 12 hosts, 240 rows; the chart's caption and title say it is a sample."""
    spans, ends = [], []
    for j in range(1, 5001):
        host = f"h-{(j - 1) % 250 + 1}"
        t = (j % 20) * 3.0
        spans += [Span(SpanKind.API, "pull", host, t, t + 0.01, j, {"queue": 0.0}),
                  Span(SpanKind.PULL, "x", host, t, t + 5, j, {}), Span(SpanKind.RUN, "c", host, t + 5, t + 9, j, {}),
                  Span(SpanKind.JOB, "w", host, t, t + 9, j, {})]
        ends.append(JobEnd(j, "w", host, t, t + 9, "completed", ""))
    result = _result(spans, ends)
    rows = sorted((e.host, e.arrival, e.job) for e in ends)
    shown, note = sample_rows(rows, 240, lambda job: "w", lambda host: "h")
    assert len(shown) == 240 and len({host for host, _, _ in shown}) == 12
    assert "240 of 5,000 jobs" in note and "12 of 250 hosts" in note
    chart = J.timeline(result, tmp_path / "timeline.png")
    assert "sample" in chart.caption and "5,000" in chart.caption
    assert (tmp_path / "timeline.png").stat().st_size > 5_000


def test_timeline_of_a_small_run_shows_every_job() -> None:
    rows = [(f"h-{i % 3}", 0.0, i) for i in range(200)]
    shown, note = sample_rows(rows, 240, lambda job: "w", lambda host: "h")
    assert shown == rows and note == ""


def test_unknown_span_kinds_are_shown_not_fatal(small: tuple[SimResult, ScenarioInfo], tmp_path: Path) -> None:
    """A feature adds kinds the reports have never heard of ('frobnicate' with a duration, an 'oom' instant,
    a span with no host): every chart still draws, the activity chart lists the new kind."""
    result, info = small
    job = result.jobs[0]
    extra = [Span(_new_kind("frobnicate"), "thing", job.host, 1.0, 4.0, job.job, {"level": 3}),
             Span(_new_kind("oom"), "c1", job.host, 2.0, 2.0, job.job, {"status": "OOMKilled"}),
             Span(_new_kind("weather"), "sky", "", 0.0, 3.0, -1, {})]
    bigger = _result([*result.spans, *extra], result.job_ends, base=result)
    charts = write_charts(bigger, tmp_path, info)
    assert "activity" in [c.name for c in charts]
    kinds = {k.kind: k for k in kind_stats(bigger)}
    frobnicate = kinds[_new_kind("frobnicate")]
    assert not frobnicate.known and frobnicate.total_s == pytest.approx(3.0)
    assert kinds[_new_kind("oom")].instants == 1


def test_empty_run_draws_without_error(tmp_path: Path) -> None:
    charts = write_charts(_result([], []), tmp_path)
    assert {c.name for c in charts} >= {"timeline", "latency_cdf", "time_share", "registry_egress", "daemon", "cache"}


def test_build_waterfall_appears_with_build_steps(tmp_path: Path) -> None:
    spans = [Span(SpanKind.BUILD_STEP, f"RUN step {i}", "h", i * 1.0, i * 1.0 + (0.0 if i < 2 else 1.0), 1,
                  {"stage": "build" if i < 3 else "final", "cached": i < 2}) for i in range(5)]
    chart = C.build_waterfall(_result(spans, []), tmp_path / "b.png")
    assert chart is not None and (tmp_path / "b.png").stat().st_size > 2_000


def test_topology_collapses_host_groups(tmp_path: Path) -> None:
    from dsim.api import load_scenario
    from dsim.reports.topology import collapsed_graph, draw_topology

    resolved = load_scenario(ROOT / "scenarios" / "ci-burst.yaml")
    graph = collapsed_graph(resolved)
    # 20 runners become one node whose link to the switch stands for 20 per-host links
    assert graph.nodes["runner"]["members"] == 20
    assert graph["runner"]["switch"]["each"] == 20
    draw_topology(resolved, tmp_path / "t.png")
    assert (tmp_path / "t.png").read_bytes()[:4] == b"\x89PNG"


def test_charts_of_a_real_scenario_run(tmp_path: Path) -> None:
    result = run_text(SMALL)
    assert len(write_charts(result, tmp_path)) >= 8


def _result(spans: list[Span], ends: list[JobEnd], base: SimResult | None = None) -> SimResult:
    if base is not None:
        return dataclasses.replace(base, spans=spans, job_ends=ends)
    makespan = max((e.end for e in ends), default=0.0)
    return SimResult(scenario="synthetic", seed=0, spans=spans, job_ends=ends, expected_jobs=len(ends),
                     registries=(), hosts={}, events=0, wall_s=0.0, makespan_s=makespan, horizon_s=makespan)


def test_link_probe_measures_what_the_links_carried() -> None:
    """ci-burst with link samples: the registry's one link carries every downloaded byte, 20 runners x the
    CI image's 981 MB (7 base + 3 own layers: 48+24+64+211+6+20+3+310+45+250 MB), never above its 1 Gbps;
    and the probe changes nothing else in the run (same events, same other spans)."""
    from dsim.api import load_scenario
    from dsim.world import World

    resolved = load_scenario(ROOT / "scenarios" / "ci-burst.yaml")
    plain = World(resolved).run()
    probed = World(resolved, link_samples=1.0).run()
    links = probed.spans_of("link")
    egress = [s for s in links if s.subject == "registry->switch"]
    assert sum(s.attrs["bytes"] for s in egress) == pytest.approx(20 * 981e6, rel=1e-9)
    for span in egress:
        assert span.attrs["bytes"] / span.duration <= 125e6 * (1 + 1e-9)
    assert probed.events == plain.events
    assert [s for s in probed.spans if s.kind != "link"] == plain.spans


def test_daemon_caption_names_only_the_panels_drawn() -> None:
    """ci-burst's calls never wait for a worker: two panels, so Top and Bottom, no Middle; all three name
    each; none says nothing was recorded."""
    from dsim.reports.charts.resources import _daemon_caption

    two = _daemon_caption(["service", "download"])
    assert two.startswith("Top: share of workers holding a call. Bottom: share of the daemon-wide download slots")
    assert "Middle" not in two and "waiting" not in two
    three = _daemon_caption(["wait", "service", "download"])
    assert three.startswith("Top: API calls waiting")
    assert "Middle: share of workers" in three and "Bottom: share" in three
    assert _daemon_caption(["download"]).startswith("Share of the daemon-wide download slots")
    assert _daemon_caption([]).startswith("No API call")


def test_download_slots_without_a_limit_are_drawn_as_counts(small: tuple[SimResult, ScenarioInfo], tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A daemon with ``max_concurrent_downloads: 0`` has no share of slots to draw: the panel counts downloads."""
    from matplotlib.axes import Axes

    result, info = small
    labels: list[str] = []
    original = Axes.set_ylabel

    def recorded(self: Axes, label: str, *args: object, **kwargs: object) -> object:
        labels.append(label)
        return original(self, label, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Axes, "set_ylabel", recorded)
    C.daemon_load(result, tmp_path / "limited.png", info)
    assert labels[-1] == "utilisation (%)"
    unlimited = dataclasses.replace(info, download_slots=dict.fromkeys(info.download_slots, 0))
    C.daemon_load(result, tmp_path / "unlimited.png", unlimited)
    assert labels[-1] == "slots"
