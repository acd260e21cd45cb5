"""Charts of jobs: the job timeline (phases over time, a Gantt of jobs), latency CDFs, where time goes."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence, Sized
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.patches import Patch

from dsim.job_table import JobTable
from dsim.records import Span, SpanKind
from dsim.reports.charts.common import BINS, TIMELINE_MAX_ROWS, Chart, draw_bars, end_time, natural_key
from dsim.reports.charts.labels import legend_outside, seconds_label, set_scale
from dsim.reports.charts.sampling import sample_rows
from dsim.reports.context import ScenarioInfo
from dsim.reports.derive import (
    SpanIndex,
    bin_centres,
    binned_levels,
    cdf_steps,
    host_group,
    interval_times,
    is_failure,
    job_phase_kinds,
    kind_times,
    phase_durations,
)
from dsim.reports.shares import IntervalColumns, JobRows, interval_columns_of
from dsim.reports.style import PHASE_HATCH, colour, extra_colour, figure, no_data, save, time_unit
from dsim.result import SimResult
from dsim.span_store import JobSpans, SpanStore
from dsim.units import format_duration

#: Instants the job timeline does not mark (the CLI's lines, layers already present, refused requests).
_NOT_INSTANTS = (SpanKind.CLI, SpanKind.PULL_LAYER, SpanKind.REQUEST)


# ----------------------------------------------------------------------------------------- 1. timeline

def _job_times(result: SimResult, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Starts and ends of ``kind``'s spans that belong to a job."""
    starts, ends = kind_times(result, [kind])
    if isinstance(result.spans, SpanStore):
        jobs = result.spans.kind_jobs(kind)
    else:
        jobs = np.array([s.job for s in result.spans_of(kind)], dtype=np.int64)
    keep = jobs >= 0
    return starts[keep], ends[keep]


#: JobEnd fields by position: C-level getters for the passes over every job.
_JOB, _WORKLOAD, _HOST, _ARRIVAL = itemgetter(0), itemgetter(1), itemgetter(2), itemgetter(3)


def _unfinished(index: SpanIndex, ended: dict[int, str]) -> list[int]:
    """The jobs with spans that did not end (in the order ``by_job`` gives them): one ``isin`` over the job
    numbers rather than a look-up per job."""
    jobs = np.fromiter(index.by_job, dtype=np.int64)
    done = np.fromiter(ended, dtype=np.int64, count=len(ended))
    left: list[int] = jobs[~np.isin(jobs, done)].tolist()
    return left


def _rows_in_order(hosts_of: dict[int, str], arrival: dict[int, float]) -> list[tuple[str, float, int]]:
    """(host, arrival, job) of every job, sorted by the host's natural order, then arrival, then job: as
    ``sorted(..., key=lambda r: (natural_key(r[0]), r[1], r[2]))``, by one ``lexsort`` of the host's rank
    among the distinct natural keys (equal keys share a rank), the arrivals and the jobs."""
    jobs = list(hosts_of)
    hosts = list(hosts_of.values())
    arrivals = [arrival[job] for job in jobs]
    keys = {host: natural_key(host) for host in set(hosts)}
    rank_of_key = {key: r for r, key in enumerate(sorted(set(keys.values())))}
    rank = {host: rank_of_key[key] for host, key in keys.items()}
    order = np.lexsort((np.array(jobs, dtype=np.int64), np.array(arrivals, dtype=np.float64),
                        np.fromiter(map(rank.__getitem__, hosts), dtype=np.int64, count=len(hosts))))
    return [(hosts[i], arrivals[i], jobs[i]) for i in order.tolist()]


def _prefetch(index: SpanIndex, jobs: Iterable[int]) -> None:
    """Find these jobs' spans in one pass (a SpanStore's; a plain list's are grouped already)."""
    if isinstance(index.by_job, JobSpans):
        index.by_job.prefetch(jobs)


def timeline(result: SimResult, path: Path, info: ScenarioInfo | None = None,
             index: SpanIndex | None = None) -> Chart:
    """Top: how many jobs are in each phase over time (every job). Bottom: a Gantt of jobs by host,
    each job's phases coloured (pull split into download and unpack), a sample of rows beyond a size."""
    index = index or SpanIndex(result)
    phases = job_phase_kinds(result)
    end = end_time(result, index)
    unit, div = time_unit(end)
    ended = result.job_ends
    hosts_of = dict(zip(map(_JOB, ended), map(_HOST, ended), strict=True))
    arrival = dict(zip(map(_JOB, ended), map(_ARRIVAL, ended), strict=True))
    unfinished = _unfinished(index, hosts_of)
    _prefetch(index, unfinished)
    for job in unfinished:  # jobs that did not end: only their spans are read
        if job not in hosts_of:
            spans = index.by_job[job]
            if spans:
                hosts_of[job] = spans[0].host
                arrival[job] = min(s.start for s in spans)
    rows = _rows_in_order(hosts_of, arrival)
    workload_of = dict(zip(map(_JOB, ended), map(_WORKLOAD, ended), strict=True))
    group_of = {host: host_group(host, info.groups if info else None) for host in set(hosts_of.values())}
    shown, note = sample_rows(rows, TIMELINE_MAX_ROWS, lambda job: workload_of.get(job, ""), group_of.__getitem__)
    height = max(4.5, min(13.0, 2.6 + 0.034 * len(shown)))
    with figure(11, height, 2, 1, sharex=True, gridspec_kw={"height_ratios": [1, 3.2]}) as (fig, (top, ax)):
        # aggregate: jobs in each phase, every job counted
        centres = [c / div for c in bin_centres(0.0, end, BINS)]
        layers, names = [], []
        wait_starts, wait_ends = interval_times(result, "wait")
        lasting = wait_ends > wait_starts
        waits = (wait_starts[lasting], wait_ends[lasting])
        for name, (starts, ends) in [("queue", waits), *((k, _job_times(result, k)) for k in phases)]:
            if len(starts):
                layers.append(binned_levels(starts, ends, np.ones(len(starts)), 0.0, end, BINS))
                names.append(name)
        if layers:
            top.stackplot(centres, *layers, colors=[colour(n) for n in names], labels=names, linewidth=0)
            legend_outside(top, fontsize=8)
            top.set_ylabel("jobs in phase\n(time-averaged)")
            top.set_title(f"{result.scenario}: jobs in each phase over time (all {len(rows):,} jobs)")
        else:
            no_data(top, "no job phases recorded")
        # Gantt of the shown jobs
        row_of = {job: i for i, (_, _, job) in enumerate(shown)}
        _prefetch(index, row_of)
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
                draw_bars(ax, bars[name], name, label=label)
                handles.append(Patch(facecolor=colour(name), label=label))
        if len(set(workload_of.values())) > 1 and len(shown) <= ROWS_NAMED:
            _name_rows(ax, bars, {i: workload_of.get(job, "") for job, i in row_of.items()}, end / div)
        failed: dict[str, list[tuple[float, int]]] = defaultdict(list)  # by workload: whose jobs failed
        for d in result.job_ends:
            if d.status == "failed" and d.job in row_of:
                failed[d.workload].append((d.end / div, row_of[d.job]))
        several = len(set(workload_of.values())) > 1
        for k, (workload, points) in enumerate(failed.items()):
            marker = FAILED_MARKERS[k % len(FAILED_MARKERS)] if several else "x"
            ax.scatter([x for x, _ in points], [y for _, y in points], marker=marker, color="#D55E00", s=18,
                       linewidths=1.2, zorder=3)
            label = f"job failed: {workload} ({len(points):,})" if several else "job failed"
            handles.append(ax.scatter([], [], marker=marker, color="#D55E00", label=label))
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
        names = list(hosts[::every])
        if several and len(shown) > ROWS_NAMED and names:  # rows too thin to name: the first host is the key
            order = [workload_of.get(shown[i][2], "") for i in host_rows[names[0]]]
            names[0] = f"{names[0]}: " + " / ".join(w for k, w in enumerate(order) if w and w not in order[:k])
        ax.set_yticks([sum(host_rows[x]) / len(host_rows[x]) for x in hosts[::every]], names,
                      fontsize=7 if len(hosts) <= 20 else 6)
        for host in hosts[1:]:
            ax.axhline(host_rows[host][0] - 0.5, color="#DDDDDD", linewidth=0.5, zorder=0)
        ax.set_xlabel(f"simulated time ({unit})")
        ax.set_ylabel("host (one row per job)")
        title = "job timeline by host, phases coloured"
        ax.set_title(title + (f"\n{note}" if note else ""), fontsize=9)
        if handles:
            legend_outside(ax, handles=handles)
        if not shown:
            no_data(ax, "no jobs")
        save(fig, path)
    caption = ("Top: jobs in each phase at each moment (every job, averaged over short bins). Bottom: one row "
               "per job, grouped by host, coloured by phase; a pull is split into its download and unpack parts. ")
    if note:
        caption += f"The run has too many jobs to draw each: the rows are a {note}."
    return Chart("timeline", path, "Job timeline", caption)


#: Failed jobs' markers, one per workload when there are several (the legend names whose jobs failed).
FAILED_MARKERS = ("x", "+", "1", "2", "3", "4", "|", "_")
#: Up to this many rows, a timeline of several workloads names each job's workload on its row.
ROWS_NAMED = 60


def _name_rows(ax: Any, bars: dict[str, list[tuple[float, float, float, float]]], workload_of_row: dict[int, str],
               right: float) -> None:
    """Each row's workload, just after its last bar (before its first one when it ends near the right edge, and on
    the row's first bar when that starts at the left edge too, where the text would cover the host's label)."""
    extent: dict[int, tuple[float, float]] = {}
    for items in bars.values():
        for x0, x1, y0, y1 in items:
            row = round((y0 + y1) / 2)
            low, high = extent.get(row, (x0, x1))
            extent[row] = (min(low, x0), max(high, x1))
    for row, workload in workload_of_row.items():
        if not workload or row not in extent:
            continue
        low, high = extent[row]
        box = None
        if high < 0.8 * right:  # after the last bar
            x, ha = high + 0.005 * right, "left"
        elif low > 0.05 * right:  # before the first bar
            x, ha = low - 0.005 * right, "right"
        else:  # on the first bar: the host's label is just before it
            x, ha = low + 0.005 * right, "left"
            box = {"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1.0}
        ax.text(x, row, workload, fontsize=6, va="center", ha=ha, color="#333333", bbox=box)


# ----------------------------------------------------------------------------------------- 3. CDFs

CDF_PHASES = ("pull", "start", "build", "push", "job")


def latency_cdfs(result: SimResult, path: Path, info: ScenarioInfo | None = None,
                 index: SpanIndex | None = None) -> Chart:
    """Empirical CDFs of pull, start, build, push and whole-job latency (per workload when there are several)."""
    if len(set(map(_WORKLOAD, result.job_ends))) > 1:  # (one workload: no sort of every job needed)
        workloads = list(dict.fromkeys(end.workload for end in sorted(result.job_ends, key=lambda e: e.job)))
        from dsim.reports.charts.workloads import workload_cdfs

        return workload_cdfs(result, path, workloads)
    with figure(10, 4.5) as (fig, ax):
        drawn = []
        for phase in CDF_PHASES:
            values = sorted(phase_durations(result, phase))
            if not values:
                continue
            n = len(values)
            p50, p95 = values[(n - 1) // 2], values[min(n - 1, math.ceil(0.95 * n) - 1)]
            ax.step(*cdf_steps(values), where="post", color=colour(phase), linewidth=1.6,
                    label=f"{phase} (n={n:,}; p50 {format_duration(p50)}, p95 {format_duration(p95)})")
            drawn.append(values)
        scale = "linear"
        if drawn:
            scale = set_scale(ax, np.concatenate([np.array(values, dtype=float) for values in drawn]))
            ax.set_ylim(0, 1.02)
            ax.grid(alpha=0.3)
            legend_outside(ax, fontsize=8)
        else:
            no_data(ax, "no pulls, builds, starts or jobs ended")
        ax.set_xlabel(f"latency ({seconds_label(scale)})")
        ax.set_ylabel("fraction of operations")
        ax.set_title(f"{result.scenario}: latency CDFs")
        save(fig, path)
    return Chart("latency_cdf", path, "Latency distributions",
                 "Share of operations that took at most x: each pull, container start, build and push, and each "
                 "job from arrival to end. p50 and p95 in the legend.")


# ----------------------------------------------------------------------------------------- 4. where time goes

def _shares(jobs: Any, index: SpanIndex, phases: Sequence[str]
            ) -> tuple[dict[str, float], dict[str, float], float, float]:
    """Time per phase summed over jobs: over start-up (arrival until the first container is running,
    else the whole job) and over whole jobs; 'other' is time in no phase (sleep steps, client waits)."""
    startup: dict[str, float] = defaultdict(float)
    whole: dict[str, float] = defaultdict(float)
    startup_total = whole_total = 0.0
    timed = _JobIntervals(index.result, phases)
    if timed.columns is not None and jobs:
        from dsim.reports.shares import shares_from_columns

        return shares_from_columns(jobs, timed.columns)
    for job in jobs:
        duration = max(job.duration_s, 0.0)
        whole_total += duration
        for phase, value in job.phases.items():
            whole[phase] += value
        whole["other"] += max(0.0, duration - sum(job.phases.values()))
        items, running = timed.of(job.job, job.end_s)
        window = max(0.0, running - job.arrival_s)
        startup_total += window
        accounted = 0.0
        for name, s, e in items:
            overlap = min(e, running) - max(s, job.arrival_s)
            if overlap > 0:
                startup[name] += overlap
                accounted += overlap
        startup["other"] += max(0.0, window - accounted)
    return startup, whole, startup_total, whole_total


class _JobIntervals:
    """Per job, in record order, the intervals the start-up share counts (each API call's wait as ``queue``,
    each phase span) and when its first container was running (the first ``start`` span's end). From a
    SpanStore, read from its columns at once rather than job by job."""

    def __init__(self, result: SimResult, phases: Sequence[str]) -> None:
        self._result = result
        self._phases = phases
        self.columns: IntervalColumns | None = None
        if isinstance(result.spans, SpanStore):
            self._from_columns(result.spans)

    def _from_columns(self, store: SpanStore) -> None:
        names = ["queue", *self._phases]
        kinds = [SpanKind.API, *self._phases]
        self._names = names
        self.columns = interval_columns_of(store, names, kinds)
        self._codes, self._starts, self._ends = self.columns.codes, self.columns.starts, self.columns.ends

    def of(self, job: int, end: float) -> tuple[list[tuple[str, float, float]], float]:
        """The job's intervals and when it was running (``end``: its end, when it never was)."""
        if self.columns is None:
            return self._of_spans(job, end)
        wanted = np.array([job], dtype=np.int64)
        lows, highs = self.columns.rows_of(wanted)
        lo, hi = int(lows[0]), int(highs[0])
        names = self._names
        items = list(zip([names[c] for c in self._codes[lo:hi].tolist()], self._starts[lo:hi].tolist(),
                         self._ends[lo:hi].tolist(), strict=True))
        return items, float(self.columns.running_of(wanted, np.array([end]))[0])

    def _of_spans(self, job: int, end: float) -> tuple[list[tuple[str, float, float]], float]:
        spans = self._spans(job)
        running = min((s.end for s in spans if s.kind == SpanKind.START), default=end)
        items = []
        for span in spans:
            if span.kind == SpanKind.API:
                items.append(("queue", span.start, span.start + span.attrs.get("queue", 0.0)))
            elif span.kind in self._phases:
                items.append((span.kind, span.start, span.end))
        return items, running

    def _spans(self, job: int) -> Sequence[Span]:
        if not hasattr(self, "_by_job"):
            self._by_job: dict[int, list[Span]] = defaultdict(list)
            for span in self._result.spans:
                self._by_job[span.job].append(span)
        return self._by_job.get(job, [])


def _workload_groups(jobs: Sequence[Any]) -> list[tuple[str, Sized]]:
    """The ended jobs of each workload (by name, each in job order), then ``all`` when there are several;
    of a ``JobTable``, as its rows (no record made)."""
    if isinstance(jobs, JobTable):
        workloads = jobs.workloads()
        names = sorted(set(workloads))
        code = {name: i for i, name in enumerate(names)}
        codes = np.fromiter(map(code.__getitem__, workloads), dtype=np.int64, count=len(workloads))
        del workloads
        table_groups: list[tuple[str, Sized]] = [(name, JobRows(jobs, np.flatnonzero(codes == i)))
                                                 for i, name in enumerate(names)]
        if len(table_groups) > 1:
            table_groups.append(("all", JobRows(jobs, np.arange(len(jobs)))))
        return table_groups
    by_workload: dict[str, list[Any]] = defaultdict(list)
    for job in jobs:
        by_workload[job.workload].append(job)
    groups: list[tuple[str, Sized]] = list(sorted(by_workload.items()))
    if len(groups) > 1:
        groups.append(("all", list(jobs)))
    return groups


def _phase_rank(phase: str) -> tuple[int, str]:
    order = ("queue", "pull", "build", "push", "create", "start", "run", "stop")
    return (order.index(phase) if phase in order else (99 if phase == "other" else 50), phase)


def time_share(result: SimResult, path: Path, info: ScenarioInfo | None = None,
               index: SpanIndex | None = None) -> Chart:
    """Where time goes: each phase's share of start-up and of whole jobs, per workload (Slacker's chart)."""
    groups = _workload_groups(result.jobs)
    index = index or SpanIndex(result)
    phases = job_phase_kinds(result)
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
