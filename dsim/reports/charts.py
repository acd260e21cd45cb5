"""Charts of a run (matplotlib, Agg, deterministic files): they read SimResult only, plus what the scenario
says (ScenarioInfo: capacities, groups) when it is at hand.

Each chart function draws one PNG and returns a Chart (file, title, caption); ``write_charts`` draws every
chart that has something to show. Big runs stay readable and fast: the job timeline shows every job in
aggregate and a sample of rows beyond a size (and says so); time series are binned time-weighted averages;
bars are drawn as one collection per colour.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.collections import PolyCollection
from matplotlib.patches import Patch

from dsim.records import SpanKind
from dsim.reports.context import ScenarioInfo
from dsim.reports.derive import (
    LayerProgress,
    SpanIndex,
    api_service,
    api_waits,
    bin_centres,
    binned_average,
    binned_levels,
    download_holds,
    host_group,
    is_failure,
    job_phase_kinds,
    kind_stats,
    short_id,
    slowest_pull_job,
    span_times,
)
from dsim.reports.style import PHASE_HATCH, colour, extra_colour, figure, no_data, save, time_unit
from dsim.result import SimResult
from dsim.units import format_duration, format_size

#: Beyond this many jobs the timeline draws a sample of rows (whole hosts, evenly spaced) and says so.
TIMELINE_MAX_ROWS = 240
#: Bins of every time series: enough to see a burst, few enough to draw 5,000-job runs fast.
BINS = 300
#: Kinds shown in the activity chart; the rest are summed into one panel.
ACTIVITY_MAX_KINDS = 24

# Kept for callers of the first version of this module.
PALETTE = {name: colour(name) for name in ("queue", "pull", "build", "push", "create", "start", "run", "stop")}
TIMELINE_MAX_JOBS = TIMELINE_MAX_ROWS
#: Instants the job timeline does not mark (the CLI's lines, layers already present, refused requests).
_NOT_INSTANTS = (SpanKind.CLI, SpanKind.PULL_LAYER, SpanKind.REQUEST)


@dataclass(frozen=True)
class Chart:
    """A chart file and the words the HTML report shows with it."""

    name: str
    path: Path
    title: str
    caption: str


def _natural(text: str) -> tuple[Any, ...]:
    """runner-2 before runner-10."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text))


def _end_time(result: SimResult, index: SpanIndex | None = None) -> float:
    """The time axes' end: the last span's end (found once per run through the shared index)."""
    end = index.last_end if index is not None else max((span.end for span in result.spans), default=0.0)
    return max(end, result.makespan_s, 1e-9)


def _rects(items: Sequence[tuple[float, float, float, float]]) -> list[list[tuple[float, float]]]:
    """(x0, x1, y0, y1) -> polygon vertices for one PolyCollection."""
    return [[(x0, y0), (x0, y1), (x1, y1), (x1, y0)] for x0, x1, y0, y1 in items]


def _bars(ax: Any, items: Sequence[tuple[float, float, float, float]], name: str, *, label: str | None = None,
          alpha: float = 1.0) -> None:
    if not items:
        return
    # no hatching here: hatched polygons draw ~100x slower, and a Gantt has thousands of them
    ax.add_collection(PolyCollection(_rects(items), facecolors=colour(name), edgecolors="none", linewidths=0,
                                     alpha=alpha, label=label or name))


# ----------------------------------------------------------------------------------------- 1. timeline

def _sample_rows(rows: list[tuple[str, float, int]]) -> tuple[list[tuple[str, float, int]], str]:
    """Rows (host, arrival, job) to draw: all, or whole hosts evenly spaced (then every k-th job of a
    host that alone has too many); the note says what was left out."""
    if len(rows) <= TIMELINE_MAX_ROWS:
        return rows, ""
    by_host: dict[str, list[tuple[str, float, int]]] = defaultdict(list)
    for row in rows:
        by_host[row[0]].append(row)
    hosts = sorted(by_host, key=_natural)
    per_host = len(rows) / len(hosts)
    keep = max(1, min(len(hosts), int(TIMELINE_MAX_ROWS // max(per_host, 1.0))))
    step = len(hosts) / keep
    chosen = [hosts[int(i * step)] for i in range(keep)]
    shown: list[tuple[str, float, int]] = []
    budget = max(1, TIMELINE_MAX_ROWS // len(chosen))
    thinned = False
    for host in chosen:
        jobs = by_host[host]
        if len(jobs) > budget:
            stride = math.ceil(len(jobs) / budget)
            jobs = jobs[::stride]
            thinned = True
        shown.extend(jobs)
    note = f"sample: {len(shown):,} of {len(rows):,} jobs, on {len(chosen)} of {len(hosts)} hosts (evenly spaced)"
    if thinned:
        note += f", every k-th job of hosts with over {budget}"
    return shown, note


def timeline(result: SimResult, path: Path, info: ScenarioInfo | None = None,
             index: SpanIndex | None = None) -> Chart:
    """Top: how many jobs are in each phase over time (every job). Bottom: a Gantt of jobs by host,
    each job's phases coloured (pull split into download and unpack), a sample of rows beyond a size."""
    index = index or SpanIndex(result)
    phases = job_phase_kinds(result)
    end = _end_time(result, index)
    unit, div = time_unit(end)
    hosts_of: dict[int, str] = {}
    arrival: dict[int, float] = {}
    for done in result.job_ends:
        hosts_of[done.job] = done.host
        arrival[done.job] = done.arrival
    for job, spans in index.by_job.items():
        if job not in hosts_of and spans:
            hosts_of[job] = spans[0].host
            arrival[job] = min(s.start for s in spans)
    rows = sorted(((hosts_of[j], arrival[j], j) for j in hosts_of), key=lambda r: (_natural(r[0]), r[1], r[2]))
    shown, note = _sample_rows(rows)
    height = max(4.5, min(13.0, 2.6 + 0.034 * len(shown)))
    with figure(11, height, 2, 1, sharex=True, gridspec_kw={"height_ratios": [1, 3.2]}) as (fig, (top, ax)):
        # aggregate: jobs in each phase, every job counted
        centres = [c / div for c in bin_centres(0.0, end, BINS)]
        layers, names = [], []
        waits = [(s, e, 1.0) for s, e, _ in api_waits(result) if e > s]
        for name, items in [("queue", waits)] + [(k, [(s.start, s.end, 1.0) for s in result.spans_of(k)
                                                      if s.job >= 0]) for k in phases]:
            if items:
                layers.append(binned_average(items, 0.0, end, BINS))
                names.append(name)
        if layers:
            top.stackplot(centres, *layers, colors=[colour(n) for n in names], labels=names, linewidth=0)
            top.legend(loc="upper right", ncols=min(len(names), 7))
            top.set_ylabel("jobs in phase\n(time-averaged)")
            top.set_title(f"{result.scenario}: jobs in each phase over time (all {len(rows):,} jobs)")
        else:
            no_data(top, "no job phases recorded")
        # Gantt of the shown jobs
        row_of = {job: i for i, (_, _, job) in enumerate(shown)}
        bars: dict[str, list[tuple[float, float, float, float]]] = defaultdict(list)
        h = 0.4
        for job, i in row_of.items():
            for span in index.by_job.get(job, ()):
                if span.kind == SpanKind.API:
                    wait = span.attrs.get("queue", 0.0)
                    if wait > 0:
                        bars["queue"].append((span.start / div, (span.start + wait) / div, i - h, i + h))
                elif span.kind in phases and span.end > span.start:
                    name = "download" if span.kind == SpanKind.PULL else span.kind
                    bars[name].append((span.start / div, span.end / div, i - h, i + h))
                    if span.kind == SpanKind.PULL:
                        for s, e in index.unpacks_of(job):
                            s, e = max(s, span.start), min(e, span.end)
                            if e > s:
                                bars["unpack"].append((s / div, e / div, i - h, i + h))
        order = ["queue", "download", "unpack", *[p for p in phases if p != SpanKind.PULL]]
        handles = []
        for name in order:
            label = {"download": "pull: download", "unpack": "pull: unpack"}.get(name, name)
            if bars.get(name):
                _bars(ax, bars[name], name, label=label)
                handles.append(Patch(facecolor=colour(name), label=label))
        failed = [(d.end / div, row_of[d.job]) for d in result.job_ends if d.status == "failed" and d.job in row_of]
        if failed:
            ax.scatter([x for x, _ in failed], [y for _, y in failed], marker="x", color="#D55E00", s=18,
                       linewidths=1.2, zorder=3)
            handles.append(ax.scatter([], [], marker="x", color="#D55E00", label="job failed"))
        # instants of kinds dsim does not draw as phases (a new feature's events: OOM, health, ...)
        instants: dict[str, list[tuple[float, int]]] = defaultdict(list)
        for job, i in row_of.items():
            for span in index.by_job.get(job, ()):
                if span.end == span.start and span.kind not in _NOT_INSTANTS and is_failure(span):
                    instants[span.kind].append((span.start / div, i))
        for k, (kind, points) in enumerate(sorted(instants.items())):
            handles.append(ax.scatter([x for x, _ in points], [y for _, y in points], marker="v",
                                      color=extra_colour(k + 3), s=14, label=kind, zorder=3))
        ax.set_ylim(max(len(shown), 1) - 0.5, -0.5)
        ax.set_xlim(0, end / div * 1.01)
        host_rows: dict[str, list[int]] = defaultdict(list)
        for i, (host, _, _) in enumerate(shown):
            host_rows[host].append(i)
        hosts = list(host_rows)
        every = max(1, math.ceil(len(hosts) / 40))
        ax.set_yticks([sum(host_rows[x]) / len(host_rows[x]) for x in hosts[::every]], hosts[::every],
                      fontsize=7 if len(hosts) <= 20 else 6)
        for host in hosts[1:]:
            ax.axhline(host_rows[host][0] - 0.5, color="#DDDDDD", linewidth=0.5, zorder=0)
        ax.set_xlabel(f"simulated time ({unit})")
        ax.set_ylabel("host (one row per job)")
        title = "job timeline by host, phases coloured"
        ax.set_title(title + (f"\n{note}" if note else ""), fontsize=9)
        if handles:
            ax.legend(handles=handles, loc="lower right", ncols=min(4, len(handles)), fontsize=7, frameon=True)
        if not shown:
            no_data(ax, "no jobs")
        save(fig, path)
    caption = ("Top: jobs in each phase at each moment (every job, averaged over short bins). Bottom: one row "
               "per job, grouped by host, coloured by phase; a pull is split into its download and unpack parts. ")
    if note:
        caption += f"The run has too many jobs to draw each: the rows are a {note}."
    return Chart("timeline", path, "Job timeline", caption)


# ----------------------------------------------------------------------------------------- 2. pull waterfall

def _resolve_end(index: SpanIndex, job: int, start: float, first_layer: float) -> float:
    """When the manifest was resolved: the end of the job's last registry request before its first blob."""
    ends = [s.end for s in index.by_job.get(job, ()) if s.kind == SpanKind.REQUEST and start - 1e-9 <= s.start
            and s.end <= first_layer + 1e-9 and not s.subject.startswith("GET blob")]
    return max(ends, default=start)


def pull_waterfall(result: SimResult, path: Path, info: ScenarioInfo | None = None,
                   index: SpanIndex | None = None, job: int | None = None) -> Chart | None:
    """One job's pull, layer by layer, as ``docker pull`` shows it: Waiting, Downloading, Extracting."""
    index = index or SpanIndex(result)
    job = job if job is not None else slowest_pull_job(result)
    if job is None:
        return None
    pulls = index.pulls(job)
    if not pulls:
        return None
    pull = max(pulls, key=lambda p: (sum(1 for layer in p.layers if layer.download), p.span.duration))
    t0 = pull.image_span.start if pull.image_span is not None else pull.span.start
    layers = list(pull.layers)
    starts = [layer.download.start for layer in layers if layer.download is not None]
    resolved = _resolve_end(index, job, t0, max(min(starts, default=t0), t0))
    finish = max([layer.ready for layer in layers] + [pull.span.end])
    unit, div = time_unit(finish - t0)

    def x(t: float) -> float:
        return (t - t0) / div

    rows: dict[str, list[tuple[float, float, float, float]]] = defaultdict(list)
    labels = ["resolve tag (HEAD, token, manifest)"]
    rows["resolve"].append((0.0, x(resolved), -0.35, 0.35))
    for i, layer in enumerate(layers, start=1):
        labels.append(_layer_label(layer))
        y0, y1 = i - 0.35, i + 0.35
        if layer.status == "Already exists":
            continue
        dl = layer.download
        if dl is not None:
            begin = max(dl.start, resolved)
            if begin > resolved:
                rows["waiting"].append((x(resolved), x(begin), y0, y1))
            if dl.end > begin:
                rows["downloading"].append((x(begin), x(dl.end), y0, y1))
            after = dl.end
        else:
            after = resolved
        un = layer.unpack
        if un is not None:
            if un.start > after:
                rows["complete"].append((x(after), x(un.start), y0, y1))
            rows["extracting"].append((x(un.start), x(un.end), y0, y1))
    styles = {
        "resolve": ("#999999", None, "resolving the tag"),
        "waiting": ("#DDDDDD", None, "Waiting (download slot / shared blob)"),
        "downloading": (colour("download"), None, "Downloading"),
        "complete": ("#FFFFFF", "...", "Download complete, waiting for the layer below"),
        "extracting": (colour("unpack"), "///", "Extracting"),
    }
    height = max(3.2, min(12.0, 1.6 + 0.32 * len(labels)))
    with figure(10, height) as (fig, ax):
        handles = []
        for name, (face, hatch, label) in styles.items():
            if rows.get(name):
                ax.add_collection(PolyCollection(_rects(rows[name]), facecolors=face, edgecolors="#555555",
                                                 linewidths=0.3, hatch=hatch))
                handles.append(Patch(facecolor=face, edgecolor="#555555", hatch=hatch, label=label))
        present = [i for i, layer in enumerate(layers, start=1) if layer.status == "Already exists"]
        if present:
            handles.append(ax.scatter([0.0] * len(present), present, marker="o", color="#009E73", s=16, zorder=3,
                                      label="Already exists"))
        ax.set_yticks(range(len(labels)), labels, fontsize=7, family="monospace")
        ax.set_ylim(len(labels) - 0.5, -0.5)
        ax.set_xlim(0, x(finish) * 1.02 or 1.0)
        ax.set_xlabel(f"time since the pull began ({unit})")
        ax.set_title(f"{result.scenario}: docker pull {pull.image} (job {job} on {pull.host}), "
                     f"{format_duration(pull.span.duration)}")
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.12 - 1.2 / height / 10),
                  ncols=min(3, len(handles)), fontsize=7)
        ax.grid(axis="x", alpha=0.3)
        save(fig, path)
    downloaded = sum(layer.bytes for layer in layers if layer.download is not None)
    caption = (f"Job {job}'s pull of {pull.image}: {len(layers)} layers, "
               f"{sum(1 for layer in layers if layer.status == 'Already exists')} already present, "
               f"{format_size(downloaded)} fetched. Blobs take the daemon's download slots in layer order "
               "(Waiting), stream in (Downloading), and are unpacked strictly in order, one at a time (Extracting); "
               "a blob that is in but whose lower layer is still extracting waits (dotted).")
    return Chart("pull_waterfall", path, f"Pull waterfall (job {job})", caption)


def _layer_label(layer: LayerProgress) -> str:
    size = format_size(layer.bytes) if layer.download is not None else ""
    note = " shared" if layer.shared else ""
    status = "Already exists" if layer.status == "Already exists" else f"{size}{note}"
    return f"{short_id(layer.digest)} {status:>14}"


# ----------------------------------------------------------------------------------------- 3. CDFs

CDF_PHASES = ("pull", "start", "build", "push", "job")


def latency_cdfs(result: SimResult, path: Path, info: ScenarioInfo | None = None,
                 index: SpanIndex | None = None) -> Chart:
    """Empirical CDFs of pull, start, build, push and whole-job latency."""
    with figure(8.5, 4.5) as (fig, ax):
        drawn = []
        for phase in CDF_PHASES:
            values = sorted(result.phase_samples(phase))
            if not values:
                continue
            n = len(values)
            p50, p95 = values[(n - 1) // 2], values[min(n - 1, math.ceil(0.95 * n) - 1)]
            ax.step(values, [(i + 1) / n for i in range(n)], where="post", color=colour(phase), linewidth=1.6,
                    label=f"{phase} (n={n:,}; p50 {format_duration(p50)}, p95 {format_duration(p95)})")
            drawn.append(values)
        if drawn:
            positive = [v for values in drawn for v in values if v > 0]
            if positive and min(positive) > 0 and all(v > 0 for values in drawn for v in values):
                ax.set_xscale("log")
            else:
                ax.set_xscale("symlog", linthresh=max(min(positive, default=1.0), 1e-3))
            ax.set_ylim(0, 1.02)
            ax.grid(alpha=0.3)
            ax.legend(loc="lower right")
        else:
            no_data(ax, "no pulls, builds, starts or jobs ended")
        ax.set_xlabel("latency (simulated seconds, log scale)")
        ax.set_ylabel("fraction of operations")
        ax.set_title(f"{result.scenario}: latency CDFs")
        save(fig, path)
    return Chart("latency_cdf", path, "Latency distributions",
                 "Share of operations that took at most x: each pull, container start, build and push, and each "
                 "job from arrival to end. p50 and p95 in the legend.")


# ----------------------------------------------------------------------------------------- 4. where time goes

def _shares(jobs: Sequence[Any], index: SpanIndex, phases: Sequence[str]
            ) -> tuple[dict[str, float], dict[str, float], float, float]:
    """Time per phase summed over jobs: over start-up (arrival until the first container is running,
    else the whole job) and over whole jobs; 'other' is time in no phase (sleep steps, client waits)."""
    startup: dict[str, float] = defaultdict(float)
    whole: dict[str, float] = defaultdict(float)
    startup_total = whole_total = 0.0
    for job in jobs:
        duration = max(job.duration_s, 0.0)
        whole_total += duration
        for phase, value in job.phases.items():
            whole[phase] += value
        whole["other"] += max(0.0, duration - sum(job.phases.values()))
        spans = index.by_job.get(job.job, [])
        running = min((s.end for s in spans if s.kind == SpanKind.START), default=job.end_s)
        window = max(0.0, running - job.arrival_s)
        startup_total += window
        accounted = 0.0
        for span in spans:
            if span.kind == SpanKind.API:
                name, s, e = "queue", span.start, span.start + span.attrs.get("queue", 0.0)
            elif span.kind in phases:
                name, s, e = span.kind, span.start, span.end
            else:
                continue
            overlap = min(e, running) - max(s, job.arrival_s)
            if overlap > 0:
                startup[name] += overlap
                accounted += overlap
        startup["other"] += max(0.0, window - accounted)
    return startup, whole, startup_total, whole_total


def _phase_rank(phase: str) -> tuple[int, str]:
    order = ("queue", "pull", "build", "push", "create", "start", "run", "stop")
    return (order.index(phase) if phase in order else (99 if phase == "other" else 50), phase)


def time_share(result: SimResult, path: Path, info: ScenarioInfo | None = None,
               index: SpanIndex | None = None) -> Chart:
    """Where time goes: each phase's share of start-up and of whole jobs, per workload (Slacker's chart)."""
    by_workload: dict[str, list[Any]] = defaultdict(list)
    for job in result.jobs:
        by_workload[job.workload].append(job)
    groups = sorted(by_workload.items())
    index = index or SpanIndex(result)
    phases = job_phase_kinds(result)
    if len(groups) > 1:
        groups.append(("all", list(result.jobs)))
    headline = ""
    with figure(11, max(2.8, 1.4 + 0.55 * len(groups)), 1, 2, sharey=True) as (fig, axes):
        labels = [f"{name} ({len(jobs)})" for name, jobs in groups]
        shares = [_shares(jobs, index, phases) for _, jobs in groups]  # once for both panels
        for ax, which in zip(axes, ("start-up", "whole job"), strict=True):
            seen: list[str] = []
            for row, (startup, whole, s_total, w_total) in enumerate(shares):
                values, total = (startup, s_total) if which == "start-up" else (whole, w_total)
                left = 0.0
                for phase, value in sorted(values.items(), key=lambda kv: _phase_rank(kv[0])):
                    if total <= 0 or value <= 0:
                        continue
                    share = value / total
                    ax.barh(row, share, left=left, color=colour(phase), hatch=PHASE_HATCH.get(phase),
                            edgecolor="white", linewidth=0.5, label=phase if phase not in seen else None)
                    if share >= 0.06:
                        ax.text(left + share / 2, row, f"{phase}\n{share:.0%}", ha="center", va="center",
                                fontsize=7, color="white" if phase in ("pull", "download", "stop", "job") else "black")
                    left += share
                    if phase not in seen:
                        seen.append(phase)
                if which == "start-up" and row == len(groups) - 1 and s_total > 0:
                    headline = f"pull is {startup.get('pull', 0.0) / s_total:.0%} of start-up"
            ax.set_xlim(0, 1)
            ax.xaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
            ax.set_title(f"share of {which} time" + (" (arrival until the container runs)" if which == "start-up"
                                                      else " (arrival to end)"), fontsize=9)
            ax.set_xlabel("share of total time over all jobs")
            if seen:
                ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.35), ncols=min(len(seen), 7), fontsize=7)
        axes[0].set_yticks(range(len(groups)), labels)
        axes[0].set_ylim(max(len(groups), 1) - 0.5, -0.5)
        if not groups:
            no_data(axes[0], "no jobs ended")
        fig.suptitle(f"{result.scenario}: where time goes" + (f": {headline}" if headline else ""),
                     fontweight="bold", fontsize=10)
        save(fig, path)
    return Chart("time_share", path, "Where time goes",
                 "Each phase's share of the time jobs spent, summed over jobs: left, start-up only (arrival until "
                 "the container runs, the view of Harter et al.'s Slacker paper, FAST'16, who measured pulls at 76% "
                 "of start-up over 57 images); right, whole jobs. 'other' is time in no phase (sleep steps, waits).")


# ----------------------------------------------------------------------------------------- 5. bandwidth

def _transfer_series(result: SimResult, key: Callable[[Any], str | None]
                     ) -> dict[str, list[tuple[float, float, float]]]:
    series: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    for span in result.spans:
        if span.end <= span.start or "bytes" not in span.attrs:
            continue
        name = key(span)
        if name is not None:
            series[name].append((span.start, span.end, float(span.attrs["bytes"]) / span.duration))
    return series


def _registry_key(span: Any) -> str | None:
    if "registry" not in span.attrs:
        return None
    return str(span.attrs["registry"]) if span.kind == SpanKind.DOWNLOAD else f"{span.attrs['registry']} ({span.kind})"


def _link_series(result: SimResult) -> dict[str, list[tuple[float, float, float]]]:
    """Measured link loads: each ``link`` span is the bytes one directed link carried between two samples."""
    series: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    for span in result.spans_of(SpanKind.LINK):
        if span.end > span.start:
            series[span.subject].append((span.start, span.end, float(span.attrs.get("bytes", 0.0)) / span.duration))
    return series


def bandwidth(result: SimResult, path: Path, info: ScenarioInfo | None = None,
              index: SpanIndex | None = None) -> Chart:
    """Bytes per second out of each registry, and through the busiest links (or into the busiest hosts)."""
    end = _end_time(result, index)
    unit, div = time_unit(end)
    centres = [c / div for c in bin_centres(0.0, end, BINS)]
    links = _link_series(result)
    measured = bool(links)
    if measured:
        registries = {name: items for name, items in links.items() if name.split("->")[0] in result.registries}
        registries = {name.split("->")[0] if sum(1 for k in registries if k.startswith(name.split("->")[0] + "->"))
                      == 1 else name: items for name, items in registries.items()}
        lower = links
    else:
        registries = _transfer_series(result, _registry_key)
        lower = _transfer_series(result, lambda s: s.host if s.kind == SpanKind.DOWNLOAD and s.host else None)
    capacities: dict[str, float] = {}
    if info is not None and info.resolved is not None:
        capacities = {name: reg.bandwidth for name, reg in info.resolved.registries.items()}
    link_caps = {s.subject: float(s.attrs["capacity"]) for s in result.spans_of(SpanKind.LINK) if "capacity" in s.attrs}
    with figure(10, 6, 2, 1, sharex=True) as (fig, (top, bottom)):
        for i, name in enumerate(sorted(registries, key=_natural)):
            values = binned_average(registries[name], 0.0, end, BINS)
            top.plot(centres, [v * 8 / 1e9 for v in values], color=extra_colour(i), label=name, linewidth=1.4)
            cap = capacities.get(name)
            if cap is not None and not math.isinf(cap):
                top.axhline(cap * 8 / 1e9, color=extra_colour(i), linestyle="--", linewidth=0.8,
                            label=f"{name} capacity")
        if registries:
            top.legend(loc="upper right")
            top.grid(alpha=0.3)
        else:
            no_data(top, "no blob downloads")
        top.set_ylabel("egress (Gbit/s)")
        top.set_title(f"{result.scenario}: registry egress over time" + ("" if measured else " (estimated)"))
        totals = {h: sum((e - s) * r for s, e, r in items) for h, items in lower.items()}
        busiest = sorted(totals, key=lambda h: (-totals[h], _natural(h)))[:6 if measured else 5]
        for i, name in enumerate(busiest):
            values = binned_average(lower[name], 0.0, end, BINS)
            cap = link_caps.get(name, math.inf)
            if measured and not math.isinf(cap) and cap > 0:
                ys = [100 * v / cap for v in values]
            else:
                ys = [v * 8 / 1e9 for v in values]
            bottom.plot(centres, ys, color=extra_colour(i), linewidth=1.2,
                        label=f"{name} ({format_size(totals[name])})")
        if not measured and len(lower) > 1:
            every = [item for items in lower.values() for item in items]
            mean = [v / len(lower) for v in binned_average(every, 0.0, end, BINS)]
            bottom.plot(centres, [v * 8 / 1e9 for v in mean], color="#000000", linestyle=":", linewidth=1.2,
                        label=f"mean of {len(lower)} hosts")
        if lower:
            bottom.legend(loc="upper right", fontsize=7)
            bottom.grid(alpha=0.3)
        else:
            no_data(bottom, "no blob downloads")
        if measured and link_caps:
            bottom.set_ylabel("utilisation (%)")
            bottom.set_title("busiest links (directed), share of capacity", fontsize=9)
        else:
            bottom.set_ylabel("ingress (Gbit/s)")
            bottom.set_title("busiest hosts' downlinks (blob bytes received, estimated)", fontsize=9)
        bottom.set_xlabel(f"simulated time ({unit})")
        save(fig, path)
    if measured:
        caption = ("Bits per second leaving each registry (dashed: its configured egress), and the busiest links' "
                   "load as a share of capacity, measured from the network's byte counters between samples.")
    else:
        caption = ("Bits per second leaving each registry (dashed: its configured egress) and entering the busiest "
                   "hosts, estimated by spreading each download's bytes evenly over its duration: when downloads "
                   "speed up and slow down as others start and finish, the estimate can briefly overshoot a link's "
                   "capacity.")
    return Chart("registry_egress", path, "Bandwidth over time", caption)


# ----------------------------------------------------------------------------------------- 6. daemon

def _per_host(items: list[tuple[float, float, str]]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Starts and ends of the intervals that last, by host (in order of first appearance)."""
    per_host: dict[str, tuple[list[float], list[float]]] = {}
    for s, e, host in items:
        if e > s:
            starts, ends = per_host.setdefault(host, ([], []))
            starts.append(s)
            ends.append(e)
    return {host: (np.array(starts), np.array(ends)) for host, (starts, ends) in per_host.items()}


def daemon_load(result: SimResult, path: Path, info: ScenarioInfo | None = None,
                index: SpanIndex | None = None) -> Chart:
    """API calls waiting for a worker, worker utilisation and download slots in use, over time."""
    end = _end_time(result, index)
    unit, div = time_unit(end)
    centres = [c / div for c in bin_centres(0.0, end, BINS)]
    panels = (
        ("API calls waiting for a worker", api_waits(result), None, "calls waiting"),
        ("daemon workers busy", api_service(result), info.workers if info else None, "workers"),
        ("download slots in use", download_holds(result), info.download_slots if info else None, "slots"),
    )
    with figure(10, 7, 3, 1, sharex=True) as (fig, axes):
        for ax, (title, items, capacity, what) in zip(axes, panels, strict=True):
            per_host = _per_host(items)
            if not per_host:
                no_data(ax, f"no {what} recorded")
                ax.set_title(title, fontsize=9)
                continue
            totals = {h: sum((ends - starts).tolist()) for h, (starts, ends) in per_host.items()}  # in order
            busiest = min(totals, key=lambda h: (-totals[h], _natural(h)))
            all_starts = np.concatenate([starts for starts, _ in per_host.values()])
            all_ends = np.concatenate([ends for _, ends in per_host.values()])
            all_level = binned_levels(all_starts, all_ends, np.ones(len(all_starts)), 0.0, end, BINS)
            starts, ends = per_host[busiest]
            top_level = binned_levels(starts, ends, np.ones(len(starts)), 0.0, end, BINS)
            if capacity and what != "calls waiting":
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
            ax.legend(loc="upper right", fontsize=7)
            ax.grid(alpha=0.3)
        axes[-1].set_xlabel(f"simulated time ({unit})")
        fig.suptitle(f"{result.scenario}: daemon API front and download slots (time-averaged)",
                     fontweight="bold", fontsize=10)
        save(fig, path)
    return Chart("daemon", path, "Daemon queue and utilisation",
                 "Top: API calls waiting for one of the daemon's workers (the queue phase). Middle: share of workers "
                 "holding a call. Bottom: share of the daemon-wide download slots (max_concurrent_downloads) "
                 "holding a blob download. Averaged over short bins; blue all hosts, orange the busiest host.")


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
            ax.add_collection(PolyCollection(_rects(run_rects), facecolors="#E69F00", edgecolors="none"))
        if cached_rects:
            ax.add_collection(PolyCollection(_rects(cached_rects), facecolors="#009E73", edgecolors="none"))
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


# ----------------------------------------------------------------------------------------- 9. every kind

def activity(result: SimResult, path: Path, info: ScenarioInfo | None = None,
             index: SpanIndex | None = None) -> Chart | None:
    """How many spans of each kind were open at once over time: every kind, including ones dsim's reports
    do not know yet (a new feature's spans show up here with no change to the reports)."""
    stats = [k for k in kind_stats(result) if k.total_s > 0]
    if not stats:
        return None
    end = _end_time(result, index)
    unit, div = time_unit(end)
    centres = [c / div for c in bin_centres(0.0, end, BINS)]
    shown = stats[:ACTIVITY_MAX_KINDS]
    rest = stats[ACTIVITY_MAX_KINDS:]
    panels = [(k.kind + ("" if k.known else " (new)"), [k.kind]) for k in shown]
    if rest:
        panels.append((f"{len(rest)} other kinds", [k.kind for k in rest]))
    with figure(10, 0.42 * len(panels) + 1.6) as (fig, ax):
        labels = []
        for i, (label, kinds) in enumerate(panels):
            starts, ends = span_times([s for kind in kinds for s in result.spans_of(kind)])
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
                 "moment. Kinds marked (new) come from features the report has no dedicated chart for yet.")


# ----------------------------------------------------------------------------------------- all of them

ChartFunction = Callable[..., "Chart | None"]
CHARTS: tuple[tuple[str, ChartFunction], ...] = (
    ("timeline", timeline),
    ("pull_waterfall", pull_waterfall),
    ("latency_cdf", latency_cdfs),
    ("time_share", time_share),
    ("registry_egress", bandwidth),  # the first version's file name, kept: it shows links too now
    ("daemon", daemon_load),
    ("cache", cache_ratios),
    ("build_waterfall", build_waterfall),
    ("activity", activity),
)


def write_charts(result: SimResult, out: Path, info: ScenarioInfo | None = None,
                 summary: dict[str, Any] | None = None) -> list[Chart]:
    """Draw every chart that has something to show into ``out/charts``; the topology too when the scenario
    is known. Returns them in the order the report shows them. ``summary``: the run's, when already made."""
    charts_dir = out / "charts"
    charts_dir.mkdir(parents=True, exist_ok=True)
    index = SpanIndex(result)
    if summary is not None:
        index.summary = summary
    made: list[Chart] = []
    if info is not None and info.resolved is not None:
        from dsim.reports.topology import draw_topology

        made.append(draw_topology(info.resolved, charts_dir / "topology.png"))
    for name, function in CHARTS:
        chart = function(result, charts_dir / f"{name}.png", info, index)
        if chart is not None:
            made.append(chart)
    return made


def chart_paths(charts: Sequence[Chart]) -> list[Path]:
    return [chart.path for chart in charts]


def host_groups_of(result: SimResult, info: ScenarioInfo | None) -> dict[str, list[str]]:
    """Hosts by group (the scenario's groups when known)."""
    groups: dict[str, list[str]] = defaultdict(list)
    for host in sorted(result.hosts, key=_natural):
        groups[host_group(host, info.groups if info else None)].append(host)
    return dict(groups)
