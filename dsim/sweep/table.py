"""The terminal table of a sweep: each variant's mean and 95% interval of a few metrics."""

from __future__ import annotations

from rich.table import Table

from dsim.sweep.grid import label
from dsim.sweep.runner import SweepResult
from dsim.sweep.stats import Estimate

#: At most this many metric columns in the terminal (every metric is in sweep.csv and sweep.html).
MAX_COLUMNS = 3


def _cell(est: Estimate) -> str:
    """Mean and half-width with the same decimals: 3 below 10, 2 below 100, else 1."""
    size = abs(est.mean)
    decimals = 3 if size < 10 else 2 if size < 100 else 1
    if est.half_width is None:
        return f"{est.mean:.{decimals}f}"
    return f"{est.mean:.{decimals}f} ± {est.half_width:.{decimals}f}"


def _pick(metrics: tuple[str, ...]) -> list[str]:
    preferred = [m for m in ("makespan_s", "phases.pull.p95_s", "phases.start.p95_s", "phases.job.p95_s")
                 if m in metrics]
    rest = [m for m in metrics if m not in preferred]
    return (preferred + rest)[:MAX_COLUMNS]


def sweep_table(result: SweepResult) -> Table:
    n = result.spec.replications
    table = Table(title=f"{result.scenario_name}: {len(result.variants)} variants x {n} replications "
                        "(mean ± 95% CI half-width)")
    for axis in result.spec.axes:  # the last part of the path keeps the table narrow; sweep.csv has it whole
        table.add_column(str(axis.path.rsplit(".", 1)[-1]), no_wrap=True)
    shown = _pick(result.metrics)
    for metric in shown:
        table.add_column(metric.removeprefix("phases."), justify="right", no_wrap=True)
    for row in result.variants:
        table.add_row(*(label(row.variant.value_of(a.path)) for a in result.spec.axes),
                      *(_cell(row.estimates[m]) for m in shown))
    return table
