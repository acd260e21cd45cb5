"""The summary as rich tables for the terminal."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table

from dsim.units import format_duration, format_size
from dsim.workload_results import workload_rows


def summary_tables(summary: dict[str, Any]) -> Group:
    jobs = summary["jobs"]
    head = Table(title=f"{summary['scenario']} (seed {summary['seed']})", show_header=False)
    head.add_row("jobs", f"{jobs['completed']} completed, {jobs['failed']} failed, {jobs['unfinished']} unfinished "
                         f"of {jobs['total']}")
    head.add_row("makespan", format_duration(summary["makespan_s"]))
    head.add_row("events", f"{summary['events']:,} in {summary['wall_s']:.2f}s wall")
    cache = summary["cache"]
    head.add_row("layers", f"{cache['layer_hits']} already present, {cache['layer_misses']} downloaded, "
                           f"{cache['layer_shared']} shared with a concurrent pull")
    phases = Table(title="Phases (simulated seconds)")
    for column in ("phase", "count", "mean", "p50", "p95", "p99", "max"):
        phases.add_column(column, justify="left" if column == "phase" else "right")
    for name, stats in summary["phases"].items():
        if stats["count"]:
            phases.add_row(name, str(stats["count"]), *(f"{stats[k]:.3f}" for k in
                                                         ("mean_s", "p50_s", "p95_s", "p99_s", "max_s")))
    registries = Table(title="Registries")
    for column in ("registry", "sent", "requests", "429s"):
        registries.add_column(column, justify="left" if column == "registry" else "right")
    for name, stats in summary["registries"].items():
        if not any(stats.values()):  # never contacted: no row of zeros
            continue
        registries.add_row(name, format_size(stats["bytes_sent"]), str(stats["requests"]), str(stats["rejected_429"]))
    parts = [head, phases]
    if len(summary.get("workloads", {})) > 1:  # the workloads a scenario compares, side by side
        header, rows = workload_rows(summary)
        workloads = Table(title="Workloads")
        for i, column in enumerate(header):
            workloads.add_column(column, justify="left" if i == 0 else "right", no_wrap=i == 0)
        for row in rows:
            workloads.add_row(*row)
        parts.append(workloads)
    return Group(*parts, *((registries,) if registries.row_count else ()))
