"""The terminal table of a sweep: each variant's mean and 95% interval of a few metrics."""

from __future__ import annotations

from rich.table import Table

from dsim.sweep.grid import label
from dsim.sweep.runner import SweepResult
from dsim.sweep.stats import Estimate

#: At most this many metric columns in the terminal (every metric is in sweep.csv and sweep.html).
MAX_COLUMNS = 3


def _cell(est: Estimate) -> str:
    """Mean and half-width with the same decimals: 3 below 10, 2 below 100, 1 below 10,000, else none
    and thousands separated (16,436,338,360 rather than 16436338360.0)."""
    size = abs(est.mean)
    decimals = 3 if size < 10 else 2 if size < 100 else 1 if size < 10_000 else 0
    if est.half_width is None:
        return f"{est.mean:,.{decimals}f}"
    return f"{est.mean:,.{decimals}f} ± {est.half_width:,.{decimals}f}"


def _pick(metrics: tuple[str, ...], first: tuple[str, ...] = ()) -> list[str]:
    preferred = list(dict.fromkeys([*first, *(
        m for m in ("makespan_s", "phases.pull.p95_s", "phases.start.p95_s", "phases.job.p95_s") if m in metrics)]))
    rest = [m for m in metrics if m not in preferred]
    return (preferred + rest)[:MAX_COLUMNS]


def sweep_table(result: SweepResult) -> Table:
    n = result.spec.replications
    table = Table(title=f"{result.scenario_name}: {len(result.variants)} variants x {n} replications "
                        "(mean ± 95% CI half-width)")
    for axis in result.spec.axes:  # the last part of the path keeps the table narrow; sweep.csv has it whole
        table.add_column(str(axis.path.rsplit(".", 1)[-1]), no_wrap=True)
    shown = _pick(result.metrics, tuple(g.metric for g in result.spec.goals))
    for metric in shown:
        table.add_column(metric.removeprefix("phases."), justify="right", no_wrap=True)
    if result.verdicts:
        table.add_column("cost", justify="right", no_wrap=True)
        table.add_column("goal", no_wrap=True)
    for number, row in enumerate(result.variants):
        extra = ((f"{result.verdicts[number].cost:,.6g}", result.verdicts[number].summary)
                 if result.verdicts else ())
        table.add_row(*(label(row.variant.value_of(a.path)) for a in result.spec.axes),
                      *(_cell(row.estimates[m]) for m in shown), *extra)
    return table
