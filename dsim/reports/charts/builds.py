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

def build_waterfall(result: SimResult, path: Path, info: ScenarioInfo | None = None,
                    index: SpanIndex | None = None) -> Chart | None:
    """The slowest build's steps by stage: when each ran, cached or executed."""
    steps = result.spans_of(SpanKind.BUILD_STEP)
    if not steps:
        return None
    by_build: dict[tuple[int, str], list[Any]] = defaultdict(list)
    for span in steps:
        by_build[(span.job, span.host)].append(span)
    (job, host), chosen = max(by_build.items(), key=lambda kv: (max(s.end for s in kv[1]) - min(s.start for s in kv[1]),
                                                                -kv[0][0]))
    chosen = sorted(chosen, key=lambda s: (str(s.attrs.get("stage", "")), s.start, s.end))
    t0 = min(s.start for s in chosen)
    t1 = max(s.end for s in chosen)
    unit, div = time_unit(t1 - t0)
    with figure(10, max(3.0, min(12.0, 1.5 + 0.3 * len(chosen)))) as (fig, ax):
        cached_rects: list[tuple[float, float, float, float]] = []
        run_rects: list[tuple[float, float, float, float]] = []
        labels: list[str] = []
        for i, span in enumerate(chosen):
            cached = _is_cached(span)
            rect = ((span.start - t0) / div, max((span.end - t0) / div, (span.start - t0) / div + 1e-9),
                    i - 0.35, i + 0.35)
            (cached_rects if cached else run_rects).append(rect)
            stage = span.attrs.get("stage")
            text = span.subject if len(span.subject) <= 48 else span.subject[:45] + "..."
            labels.append(f"[{stage}] {text}" if stage not in (None, "") else text)
            if cached:
                ax.plot([(span.start - t0) / div], [i], marker="o", color="#009E73", markersize=3)
        if run_rects:
            ax.add_collection(PolyCollection(rectangles(run_rects), facecolors="#E69F00", edgecolors="none"))
        if cached_rects:
            ax.add_collection(PolyCollection(rectangles(cached_rects), facecolors="#009E73", edgecolors="none"))
        ax.set_yticks(range(len(labels)), labels, fontsize=7, family="monospace")
        ax.set_ylim(len(labels) - 0.5, -0.5)
        ax.set_xlim(0, (t1 - t0) / div * 1.02 or 1.0)
        ax.set_xlabel(f"time since the build began ({unit})")
        ax.set_title(f"{result.scenario}: build steps by stage (job {job} on {host})")
        ax.legend(handles=[Patch(facecolor="#E69F00", label="executed"), Patch(facecolor="#009E73", label="cached")],
                  loc="lower right")
        ax.grid(axis="x", alpha=0.3)
        save(fig, path)
    return Chart("build_waterfall", path, f"Build steps (job {job})",
                 "Each step of the slowest build, grouped by stage: executed (orange) or a cache hit (green dot).")


def _is_cached(span: Any) -> bool:
    attrs = span.attrs
    if "cached" in attrs:
        return bool(attrs["cached"])
    return str(attrs.get("status", "")).upper() in ("CACHED", "USING CACHE", "CACHE")
