"""Charts of builds and caches: cache hit ratios, the build steps' waterfall."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from matplotlib.collections import PolyCollection
from matplotlib.patches import Patch

from dsim.records import SpanKind
from dsim.reports.charts.common import Chart, rectangles
from dsim.reports.context import ScenarioInfo
from dsim.reports.derive import SpanIndex
from dsim.reports.style import figure, save, time_unit
from dsim.result import SimResult
from dsim.units import format_duration

# ----------------------------------------------------------------------------------------- 7. cache

def cache_ratios(result: SimResult, path: Path, info: ScenarioInfo | None = None,
                 index: SpanIndex | None = None) -> Chart:
    """How often layers (and build steps, when there are builds) came from a cache."""
    cache = (index or SpanIndex(result)).summary["cache"]
    rows: list[tuple[str, list[tuple[str, int, str]]]] = [
        ("layers", [("already present", int(cache.get("layer_hits", 0)), "#009E73"),
                    ("shared a concurrent download", int(cache.get("layer_shared", 0)), "#56B4E9"),
                    ("downloaded", int(cache.get("layer_misses", 0)), "#D55E00")]),
    ]
    if cache.get("build_steps_cached", 0) or cache.get("build_steps_run", 0):
        rows.append(("build steps", [("cached", int(cache["build_steps_cached"]), "#009E73"),
                                     ("run", int(cache["build_steps_run"]), "#D55E00")]))
    with figure(10, 1.4 + 0.8 * len(rows)) as (fig, ax):
        seen: set[str] = set()
        for i, (_, parts) in enumerate(rows):
            total = sum(n for _, n, _ in parts)
            left = 0.0
            for label, n, face in parts:
                if total <= 0 or n <= 0:
                    continue
                share = n / total
                ax.barh(i, share, left=left, color=face, edgecolor="white",
                        label=label if label not in seen else None)
                seen.add(label)
                if share >= 0.08:
                    ax.text(left + share / 2, i, f"{n:,} ({share:.0%})", ha="center", va="center", fontsize=8)
                left += share
        ax.set_yticks(range(len(rows)), [f"{name} ({sum(n for _, n, _ in parts):,})" for name, parts in rows])
        ax.set_ylim(len(rows) - 0.5, -0.5)
        ax.set_xlim(0, 1)
        ax.xaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
        ax.set_xlabel("share of layers / steps")
        ax.set_title(f"{result.scenario}: cache hit ratios")
        if seen:
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.45), ncols=len(seen))
        save(fig, path)
    return Chart("cache", path, "Cache hit ratios",
                 "Layers a pull needed: already present on the host (same chain ID), fetched once for several pulls "
                 "of one daemon (Waiting on a concurrent download), or downloaded; build steps cached or run.")


# ----------------------------------------------------------------------------------------- 8. build steps

#: At most this many builds are drawn side by side.
MAX_BUILDS = 4
STEP_COLOURS = {"executed": "#E69F00", "cached": "#009E73", "from the registry cache": "#56B4E9"}


def _builds(result: SimResult) -> list[tuple[int, str, str, list[Any]]]:
    """(job, host, workload, steps) per build, in time order: a job's steps split at its ``build`` phase
    spans (a job that builds, edits and builds again has two builds)."""
    if not result.spans_of(SpanKind.BUILD_STEP):
        return []  # most runs: no job's workload need be looked up
    of_job = {end.job: end.workload for end in result.job_ends}
    windows: dict[tuple[int, str], list[tuple[float, float]]] = defaultdict(list)
    for span in result.spans_of(SpanKind.BUILD):
        windows[(span.job, span.host)].append((span.start, span.end))
    grouped: dict[tuple[int, str, int], list[Any]] = defaultdict(list)
    for span in result.spans_of(SpanKind.BUILD_STEP):
        spans = windows.get((span.job, span.host), [])
        which = next((i for i, (a, b) in enumerate(spans) if a - 1e-9 <= span.start <= b + 1e-9), 0)
        grouped[(span.job, span.host, which)].append(span)
    builds = [(job, host, of_job.get(job, ""), steps) for (job, host, _), steps in grouped.items()]
    return sorted(builds, key=lambda b: (min(s.start for s in b[3]), b[0]))


def _chosen_builds(builds: list[tuple[int, str, str, list[Any]]]) -> list[tuple[int, str, str, list[Any]]]:
    """The first and the last build of each workload (a build against its rebuild; the cold CI build against
    a later one that found the registry cache), in time order; when that is more than MAX_BUILDS, each
    workload's last build (what its cache made of it), the slowest MAX_BUILDS of them."""
    picked: list[int] = []
    lasts: list[int] = []
    for workload in dict.fromkeys(b[2] for b in builds):
        mine = [i for i, b in enumerate(builds) if b[2] == workload]
        lasts.append(mine[-1])
        picked += [mine[0]] + ([mine[-1]] if len(mine) > 1 else [])
    if len(picked) > MAX_BUILDS:  # many workloads: one build each, the last, the slowest if still too many
        picked = sorted(sorted(lasts, key=lambda i: -_span(builds[i][3]))[:MAX_BUILDS])
    return [builds[i] for i in dict.fromkeys(picked)]  # each workload's pair together


def _span(steps: list[Any]) -> float:
    return float(max(s.end for s in steps) - min(s.start for s in steps))


def _step_state(span: Any) -> str:
    if not _is_cached(span):
        return "executed"
    return "from the registry cache" if span.attrs.get("cache") == "remote" else "cached"


def build_waterfall(result: SimResult, path: Path, info: ScenarioInfo | None = None,
                    index: SpanIndex | None = None) -> Chart | None:
    """Builds side by side (each workload's first and last: build against rebuild), their steps by stage:
    when each ran (stages running at once are BuildKit's parallelism), executed or cached."""
    builds = _builds(result)
    if not builds:
        return None
    chosen = _chosen_builds(builds)
    firsts = {workload: steps for *_, workload, steps in reversed(builds)}  # each workload's first build
    longest = max(_span(steps) for *_, steps in chosen)
    unit, div = time_unit(longest)
    rows = max(len(steps) for *_, steps in chosen)
    columns = min(2, len(chosen))
    lines = -(-len(chosen) // columns)
    height = max(2.6, min(6.0, 1.2 + 0.28 * rows))
    with figure(6.2 * columns + 1.0, height * lines + 0.8, lines, columns, squeeze=False) as (fig, axes):
        panels = [ax for row in axes for ax in row]
        for ax in panels[len(chosen):]:
            ax.set_visible(False)
        for ax, (job, host, workload, steps) in zip(panels, chosen, strict=False):
            role = "first build" if firsts[workload] is steps else "a later build"
            ordered = sorted(steps, key=lambda s: (str(s.attrs.get("stage", "")), s.start, s.end))
            t0 = min(s.start for s in ordered)
            rects: dict[str, list[tuple[float, float, float, float]]] = defaultdict(list)
            labels = []
            staged = len({str(s.attrs.get("stage", "")) for s in ordered}) > 1  # one stage: no "[0]" prefix
            for i, span in enumerate(ordered):
                state = _step_state(span)
                left = (span.start - t0) / div
                rects[state].append((left, max((span.end - t0) / div, left + longest / div * 0.004), i - 0.35,
                                     i + 0.35))
                stage = span.attrs.get("stage")
                text = span.subject if len(span.subject) <= 40 else span.subject[:37] + "..."
                labels.append(f"[{stage}] {text}" if staged and stage not in (None, "") else text)
            for state, items in rects.items():
                ax.add_collection(PolyCollection(rectangles(items), facecolors=STEP_COLOURS[state],
                                                 edgecolors="none"))
                # a step too short to see as a bar (a cache hit takes no time) gets a dot where it happened
                dots = [(left, (low + high) / 2) for left, right, low, high in items
                        if right - left < longest / div * 0.01]
                if dots:
                    ax.plot([x for x, _ in dots], [y for _, y in dots], marker="o", markersize=4,
                            linestyle="none", color=STEP_COLOURS[state])
            ax.set_yticks(range(len(labels)), labels, fontsize=7, family="monospace")
            ax.set_ylim(len(labels) - 0.5, -0.5)
            ax.set_xlim(0, longest / div * 1.02 or 1.0)
            ax.set_xlabel(f"time since the build began ({unit})")
            cached = sum(1 for s in ordered if _is_cached(s))
            ax.set_title(f"{workload or 'build'}, {role}: job {job} on {host}\n{format_duration(_span(steps))}, "
                         f"{cached} of {len(ordered)} steps cached", fontsize=9)
            ax.grid(axis="x", alpha=0.3)
        # under the last panel's time axis: an axes' legend is laid out with it (save lays out once)
        panels[len(chosen) - 1].legend(handles=[Patch(facecolor=c, label=name) for name, c in STEP_COLOURS.items()],
                                       loc="upper center", ncols=3, bbox_to_anchor=(0.5, -0.7 / height))
        fig.suptitle(f"{result.scenario}: build steps by stage", fontweight="bold")
        save(fig, path)
    shown = ", ".join(f"job {job}" for job, *_ in chosen)
    return Chart("build_waterfall", path, f"Build steps ({shown})",
                 "Each workload's first and last build side by side (a build against its rebuild, a cold CI build "
                 "against a later one; with many workloads, each one's last build): every step by stage, executed "
                 "(orange), a local cache hit (green) or taken from the registry cache (blue); stages drawn at the "
                 "same time ran in parallel.")


def _is_cached(span: Any) -> bool:
    attrs = span.attrs
    if "cached" in attrs:
        return bool(attrs["cached"])
    return str(attrs.get("status", "")).upper() in ("CACHED", "USING CACHE", "CACHE")
