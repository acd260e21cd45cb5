"""Latency CDFs per workload: a scenario that compares workloads gets one panel per phase with one line
per workload, so mirror vs no mirror (or container vs VM) sit on the same axes instead of in one pooled
curve whose median no job had."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from dsim.records import SpanKind
from dsim.reports.charts.common import Chart
from dsim.reports.charts.labels import seconds_label, set_scale
from dsim.reports.derive import cdf_steps
from dsim.reports.style import extra_colour, figure, save
from dsim.result import SimResult
from dsim.units import format_duration

#: The phases compared, in the order a job meets them.
PHASES = ("slot", "pull", "build", "push", "start", "job")


def samples_by_workload(result: SimResult) -> dict[str, dict[str, list[float]]]:
    """phase -> workload -> sorted durations of that workload's operations (``job``: arrival to end)."""
    of_job = {end.job: end.workload for end in result.job_ends}
    out: dict[str, dict[str, list[float]]] = {phase: defaultdict(list) for phase in PHASES}
    for phase in PHASES[:-1]:
        for span in result.spans_of(SpanKind(phase)):
            name = of_job.get(span.job)
            if name is not None:
                out[phase][name].append(span.duration)
    for end in result.job_ends:
        out["job"][end.workload].append(end.end - end.arrival)
    return {phase: {name: sorted(values) for name, values in by.items()} for phase, by in out.items() if by}


def workload_cdfs(result: SimResult, path: Path, workloads: list[str]) -> Chart:
    """One panel per phase some workload went through, one step line per workload."""
    samples = samples_by_workload(result)
    phases = [p for p in PHASES if p in samples]
    columns = min(3, len(phases))
    rows = -(-len(phases) // columns)
    below = 0.16 * len(workloads) + 0.3  # each panel's legend sits under it, off the curves
    with figure(4.2 * columns, (3.3 + below) * rows, rows, columns, squeeze=False) as (fig, axes):
        for i, phase in enumerate(phases):
            ax = axes[i // columns][i % columns]
            for w, name in enumerate(workloads):
                values = samples[phase].get(name)
                if not values:
                    continue
                n = len(values)
                p50 = values[(n - 1) // 2]
                ax.step(*cdf_steps(values), where="post", color=extra_colour(w),
                        linewidth=1.6, label=f"{name} (n={n:,}, p50 {format_duration(p50)})")
            scale = set_scale(ax, [v for name in workloads for v in samples[phase].get(name, ())])
            ax.set_title(phase if phase != "job" else "whole job (arrival to end)")
            ax.set_xlabel(seconds_label(scale))
            ax.set_ylabel("fraction of operations")
            ax.set_ylim(0, 1.02)
            ax.grid(alpha=0.3)
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), fontsize=7)
        for j in range(len(phases), rows * columns):
            axes[j // columns][j % columns].set_visible(False)
        fig.suptitle(f"{result.scenario}: latency CDFs by workload", fontweight="bold")
        save(fig, path)
    return Chart("latency_cdf", path, "Latency distributions by workload",
                 "Share of each workload's operations that took at most x, one panel per phase: each pull, "
                 "container start, build and push, and each job from arrival to end; p50 in the legend.")
