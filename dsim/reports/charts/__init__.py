"""Charts of a run (matplotlib, Agg, deterministic files): they read SimResult only, plus what the scenario
says (ScenarioInfo: capacities, groups) when it is at hand.

Each chart function draws one PNG and returns a Chart (file, title, caption); ``write_charts`` draws every
chart that has something to show. The charts live in modules by family (jobs, transfers, resources, builds;
``common``: what they share). Big runs stay readable and fast: the job timeline shows every job in
aggregate and a sample of rows beyond a size (and says so); time series are binned time-weighted averages;
bars are drawn as one collection per colour.
"""

from __future__ import annotations

import functools
import gc
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dsim.gc_tuning import freeze_survivors
from dsim.reports.charts.builds import build_waterfall, cache_ratios
from dsim.reports.charts.calls import call_latency
from dsim.reports.charts.common import ACTIVITY_MAX_KINDS, BINS, TIMELINE_MAX_ROWS, Chart, natural_key
from dsim.reports.charts.compose import compose_timeline
from dsim.reports.charts.jobs import latency_cdfs, time_share, timeline
from dsim.reports.charts.ports import ports_chart
from dsim.reports.charts.pulls import pull_waterfall
from dsim.reports.charts.resources import activity, daemon_load
from dsim.reports.charts.stories import container_states, density, sequence
from dsim.reports.charts.transfers import bandwidth
from dsim.reports.context import ScenarioInfo
from dsim.reports.derive import SpanIndex, host_group
from dsim.reports.style import colour
from dsim.result import SimResult

if TYPE_CHECKING:
    from dsim.scenarios.resolve import Resolved

__all__ = ["ACTIVITY_MAX_KINDS", "BINS", "CHARTS", "PALETTE", "TIMELINE_MAX_JOBS", "TIMELINE_MAX_ROWS", "Chart",
           "activity", "bandwidth", "build_waterfall", "cache_ratios", "chart_paths", "chart_tasks", "daemon_load",
           "host_groups_of", "latency_cdfs", "pull_waterfall", "time_share", "timeline", "write_charts"]

# ----------------------------------------------------------------------------------------- all of them

# Kept for callers of the first version of this module.
PALETTE = {name: colour(name) for name in ("queue", "pull", "build", "push", "create", "start", "run", "stop")}
TIMELINE_MAX_JOBS = TIMELINE_MAX_ROWS

ChartFunction = Callable[..., "Chart | None"]
CHARTS: tuple[tuple[str, ChartFunction], ...] = (
    ("timeline", timeline),
    ("pull_waterfall", pull_waterfall),
    ("latency_cdf", latency_cdfs),
    ("calls", call_latency),
    ("time_share", time_share),
    ("registry_egress", bandwidth),  # the first version's file name, kept: it shows links too now
    ("daemon", daemon_load),
    ("cache", cache_ratios),
    ("build_waterfall", build_waterfall),
    ("density", density),
    ("container_states", container_states),
    ("ports", ports_chart),
    ("sequence", sequence),
    ("activity", activity),
    ("compose_timeline", compose_timeline),
)


def write_charts(result: SimResult, out: Path, info: ScenarioInfo | None = None,
                 summary: dict[str, Any] | None = None) -> list[Chart]:
    """Draw every chart that has something to show into ``out/charts``; the topology too when the scenario
    is known. Returns them in the order the report shows them. ``summary``: the run's, when already made."""
    return [chart for chart in (draw() for draw in chart_tasks(result, out, info, summary)) if chart is not None]


def chart_tasks(result: SimResult, out: Path, info: ScenarioInfo | None = None,
                summary: dict[str, Any] | None = None) -> list[Callable[[], Chart | None]]:
    """``write_charts``' charts as one call each, in the report's order (each draws its file and returns its
    Chart, or None when it has nothing to show): for writers that draw them in any order, or at once."""
    charts_dir = out / "charts"
    charts_dir.mkdir(parents=True, exist_ok=True)
    index = SpanIndex(result)
    if summary is not None:
        index.summary = summary
    freeze_survivors()  # inside a run: the run's records are not scanned by the passes below
    tasks: list[Callable[[], Chart | None]] = []
    if info is not None and info.resolved is not None:
        resolved = info.resolved
        tasks.append(lambda: _collected(_topology(resolved, charts_dir / "topology.png")))
    for name, function in CHARTS:
        tasks.append(functools.partial(_drawn, function, result, charts_dir / f"{name}.png", info, index))
    return tasks


def _topology(resolved: Resolved, path: Path) -> Chart:
    from dsim.reports.topology import draw_topology

    chart: Chart = draw_topology(resolved, path)
    return chart


def _drawn(function: ChartFunction, result: SimResult, path: Path, info: ScenarioInfo | None,
           index: SpanIndex) -> Chart | None:
    return _collected(function(result, path, info, index))


def _collected(chart: Chart | None) -> Chart | None:
    """A drawn figure is a web of cycles that only the collector frees, and a run collects rarely
    (dsim/gc_tuning.py): each chart's is freed before the next is drawn (young generations only: cheap)."""
    gc.collect(1)
    return chart


def chart_paths(charts: Sequence[Chart]) -> list[Path]:
    return [chart.path for chart in charts]


def host_groups_of(result: SimResult, info: ScenarioInfo | None) -> dict[str, list[str]]:
    """Hosts by group (the scenario's groups when known)."""
    groups: dict[str, list[str]] = defaultdict(list)
    for host in sorted(result.hosts, key=natural_key):
        groups[host_group(host, info.groups if info else None)].append(host)
    return dict(groups)
