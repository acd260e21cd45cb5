"""Charts of the daemons' resources and of every span kind: daemon load, activity of each kind."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dsim.reports.charts.common import ACTIVITY_MAX_KINDS, BINS, Chart, end_time, natural_key
from dsim.reports.charts.labels import legend_outside
from dsim.reports.context import ScenarioInfo
from dsim.reports.derive import (
    SpanIndex,
    bin_centres,
    binned_levels,
    interval_times,
    kind_stats,
    kind_times,
    per_host_intervals,
)
from dsim.reports.style import colour, figure, no_data, save, time_unit
from dsim.result import SimResult

# ----------------------------------------------------------------------------------------- 6. daemon

def has_intervals(result: SimResult, which: str) -> bool:
    """Whether some host recorded an interval of this kind with a duration (a wait, a service, a download)."""
    starts, ends = interval_times(result, which)
    return bool((ends > starts).any())


def daemon_load(result: SimResult, path: Path, info: ScenarioInfo | None = None,
                index: SpanIndex | None = None) -> Chart:
    """API calls waiting for a worker, worker utilisation and download slots in use, over time."""
    end = end_time(result, index)
    unit, div = time_unit(end)
    centres = [c / div for c in bin_centres(0.0, end, BINS)]
    panels = (
        ("API calls waiting for a worker", "wait", None, "calls waiting"),
        ("daemon workers busy", "service", info.workers if info else None, "workers"),
        ("download slots in use", "download", info.download_slots if info else None, "slots"),
    )
    # a panel with nothing recorded is left out (no all-zero rows); an empty panel also used to strip the
    # shared time axis of its ticks
    recorded = [panel for panel in panels if has_intervals(result, panel[1])]
    with figure(10, 1.2 + 1.95 * max(len(recorded), 1), max(len(recorded), 1), 1, sharex=True,
                squeeze=False) as (fig, grid):
        axes = [row[0] for row in grid]
        if not recorded:
            no_data(axes[0], "no API calls or downloads recorded")
        for ax, (title, which, capacity, what) in zip(axes, recorded, strict=False):
            per_host = per_host_intervals(result, which)  # from the span store's columns, one panel at a time
            totals = {h: sum((ends - starts).tolist()) for h, (starts, ends) in per_host.items()}  # in order
            busiest = min(totals, key=lambda h: (-totals[h], natural_key(h)))
            all_starts = np.concatenate([starts for starts, _ in per_host.values()])
            all_ends = np.concatenate([ends for _, ends in per_host.values()])
            all_level = binned_levels(all_starts, all_ends, np.ones(len(all_starts)), 0.0, end, BINS)
            starts, ends = per_host[busiest]
            top_level = binned_levels(starts, ends, np.ones(len(starts)), 0.0, end, BINS)
            if capacity and all(capacity.values()) and what != "calls waiting":  # 0: no limit, so no share
                total_cap = sum(capacity.values()) or 1
                cap = capacity.get(busiest, 1) or 1
                ax.plot(centres, [100 * v / total_cap for v in all_level], color="#0072B2", linewidth=1.3,
                        label=f"all {len(capacity)} hosts ({total_cap:,} {what})")
                ax.plot(centres, [100 * v / cap for v in top_level], color="#D55E00", linewidth=1.0,
                        label=f"busiest: {busiest} ({cap} {what})")
                ax.set_ylabel("utilisation (%)")
                ax.set_ylim(0, 105)
            else:
                ax.plot(centres, all_level, color="#0072B2", linewidth=1.3, label=f"all {len(per_host)} hosts")
                ax.plot(centres, top_level, color="#D55E00", linewidth=1.0, label=f"busiest: {busiest}")
                ax.set_ylabel(what)
            ax.set_title(title, fontsize=9)
            legend_outside(ax)
            ax.grid(alpha=0.3)
        axes[-1].set_xlabel(f"simulated time ({unit})")
        fig.suptitle(f"{result.scenario}: daemon API front and download slots (time-averaged)",
                     fontweight="bold", fontsize=10)
        save(fig, path)
    return Chart("daemon", path, "Daemon queue and utilisation", _daemon_caption([panel[1] for panel in recorded]))


#: what each panel of the daemon chart shows, for its caption
_DAEMON_PANELS = {
    "wait": "API calls waiting for one of the daemon's workers (the queue phase)",
    "service": "share of workers holding a call",
    "download": "share of the daemon-wide download slots (max_concurrent_downloads) holding a blob download",
}


def _daemon_caption(shown: Sequence[str]) -> str:
    """The caption of the panels drawn, in order (a panel with nothing recorded is left out, so a fixed
    Top/Middle/Bottom would name panels that are not there)."""
    places = {1: ("",), 2: ("Top: ", "Bottom: "), 3: ("Top: ", "Middle: ", "Bottom: ")}.get(len(shown))
    if places is None:
        return "No API call waited or was served and no blob was downloaded."
    parts = [f"{place}{_DAEMON_PANELS[which]}." for place, which in zip(places, shown, strict=True)]
    parts[0] = parts[0][0].upper() + parts[0][1:]
    return " ".join(parts) + " Averaged over short bins; blue all hosts, orange the busiest host."


# ----------------------------------------------------------------------------------------- 9. every kind

def activity(result: SimResult, path: Path, info: ScenarioInfo | None = None,
             index: SpanIndex | None = None) -> Chart | None:
    """How many spans of each kind were open at once over time: every kind, including ones dsim's reports
    do not know yet (a new feature's spans show up here with no change to the reports)."""
    stats = [k for k in kind_stats(result) if k.total_s > 0]
    if not stats:
        return None
    end = end_time(result, index)
    unit, div = time_unit(end)
    centres = [c / div for c in bin_centres(0.0, end, BINS)]
    shown = stats[:ACTIVITY_MAX_KINDS]
    rest = stats[ACTIVITY_MAX_KINDS:]
    panels = [(k.kind.replace("_", " "), [k.kind]) for k in shown]
    if rest:
        panels.append((f"{len(rest)} other kinds", [k.kind for k in rest]))
    with figure(10, 0.42 * len(panels) + 1.6) as (fig, ax):
        labels = []
        for i, (label, kinds) in enumerate(panels):
            starts, ends = kind_times(result, kinds)
            level = binned_levels(starts, ends, np.ones(len(starts)), 0.0, end, BINS)
            peak = max(level, default=0.0) or 1.0
            base = len(panels) - 1 - i
            ax.fill_between(centres, [base + 0.9 * v / peak for v in level], base, step="mid",
                            color=colour(kinds[0], i), linewidth=0, alpha=0.9)
            labels.append((base, f"{label}  (peak {peak:,.3g})"))
        ax.set_yticks([b for b, _ in labels], [text for _, text in labels], fontsize=7)
        ax.set_ylim(-0.1, len(panels))
        ax.set_xlim(0, end / div)
        ax.grid(axis="x", alpha=0.3)
        ax.set_xlabel(f"simulated time ({unit})")
        ax.set_title(f"{result.scenario}: activities in progress over time, by span kind\n"
                     "(each row scaled to its own peak: the time-averaged number in progress at once)", fontsize=9)
        save(fig, path)
    return Chart("activity", path, "Every activity over time",
                 "One panel per kind of recorded activity (span kind), showing how many were in progress at each "
                 "moment.")
