"""A sweep's outputs: sweep.csv (one row per variant), runs.csv (one row per run), charts of each metric
against each varied path with 95% confidence intervals as error bars, and a self-contained sweep.html.

Every file depends only on the runs' summaries (never on wall time or on which executor ran them).
"""

from __future__ import annotations

import base64
import csv
import html
import io
import itertools
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from dsim.reports.charts.labels import legend_outside, metric_label  # noqa: E402
from dsim.sweep.goal import Verdict, cheapest, cost_basis  # noqa: E402
from dsim.sweep.grid import Axis, label  # noqa: E402
from dsim.sweep.runner import SweepResult, VariantResult  # noqa: E402
from dsim.sweep.stats import Estimate  # noqa: E402

PNG_METADATA = {"Software": None}
#: Okabe-Ito, a colour-blind-safe palette, for one line per combination of the other axes.
COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")


def num(value: float | None) -> str:
    """Numbers in files: 6 decimals like summary.json, empty for 'no value' (one replication: no interval)."""
    return "" if value is None else repr(round(value, 6))


def _axis_value(result: VariantResult, axis: Axis) -> str:
    return label(result.variant.value_of(axis.path))


def write_csv(result: SweepResult, path: Path) -> Path:
    axes = result.spec.axes
    header = ["variant", *(axis.path for axis in axes), "replications"]
    for metric in result.metrics:
        header += [f"{metric}.mean", f"{metric}.ci95_low", f"{metric}.ci95_high"]
    if result.verdicts:
        header += ["cost", "goal"]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        for number, row in enumerate(result.variants):
            cells = [str(row.variant.index), *(_axis_value(row, axis) for axis in axes), str(len(row.seeds))]
            for metric in result.metrics:
                est = row.estimates[metric]
                cells += [num(est.mean), num(est.low), num(est.high)]
            if result.verdicts:
                cells += [num(result.verdicts[number].cost), result.verdicts[number].summary]
            writer.writerow(cells)
    return path


def write_runs_csv(result: SweepResult, path: Path) -> Path:
    axes = result.spec.axes
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["variant", *(axis.path for axis in axes), "replication", "seed", *result.metrics])
        for row in result.variants:
            for r, seed in enumerate(row.seeds):
                writer.writerow([row.variant.index, *(_axis_value(row, axis) for axis in axes), r, seed,
                                 *(num(row.values[m][r]) for m in result.metrics)])
    return path


def _filename(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)


def chart(result: SweepResult, metric: str, axis: Axis) -> bytes:
    """``draw_chart``'s figure as PNG bytes."""
    fig = draw_chart(result, metric, axis)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, metadata=PNG_METADATA)
    plt.close(fig)
    return buffer.getvalue()


def draw_chart(result: SweepResult, metric: str, axis: Axis) -> Figure:
    """``metric`` against ``axis``: one line per combination of the other axes' values, error bars = 95% CI;
    the legend (when there is one) right of the axes, off the data. The caller closes the figure."""
    others = [a for a in result.spec.axes if a.path != axis.path]
    numeric = all(isinstance(v.value, int | float) and not isinstance(v.value, bool) for v in axis.values)
    positions = [float(v.value) for v in axis.values] if numeric else list(range(len(axis.values)))
    index = {v.value_key: i for i, v in enumerate(axis.values)}
    combos = list(itertools.product(*(a.values for a in others))) or [()]
    legend = len(combos) > 1 or any(g.metric == metric for g in result.spec.goals)
    fig, ax = plt.subplots(figsize=(9.5 if legend else 7, 4.2))  # wider: the legend takes the right margin
    ordered = sorted(positions)
    spacing = min((b - a for a, b in itertools.pairwise(ordered)), default=1.0) or 1.0
    for number, combo in enumerate(combos):
        dodge = (number - (len(combos) - 1) / 2) * spacing * 0.04  # keep equal lines' error bars apart
        keys = {o.path: o.value_key for o in combo}
        rows = [r for r in result.variants
                if all(o.value_key == keys[o.path] for o in r.variant.overrides if o.path in keys)]
        rows.sort(key=lambda r: index[next(o.value_key for o in r.variant.overrides if o.path == axis.path)])
        xs = [positions[index[next(o.value_key for o in r.variant.overrides if o.path == axis.path)]] + dodge
              for r in rows]
        estimates: list[Estimate] = [r.estimates[metric] for r in rows]
        errors = [e.half_width or 0.0 for e in estimates]
        name = ", ".join(f"{metric_label(o.path)} = {label(o.value)}" for o in combo) or None
        ax.errorbar(xs, [e.mean for e in estimates], yerr=errors, marker="o", capsize=4,
                    color=COLOURS[number % len(COLOURS)], label=name)
    for goal in (g for g in result.spec.goals if g.metric == metric):
        ax.axhline(goal.target, color="#CC0000", linestyle="--", linewidth=1.2,
                   label=f"goal: {goal.op} {goal.target:g}")
    if not numeric:
        ax.set_xticks(positions, list(axis.labels))
    ax.set_xlabel(metric_label(axis.path))
    ax.set_ylabel(metric_label(metric))
    n = min(len(r.seeds) for r in result.variants)
    bars = "95% CI (Student t)" if n > 1 else "one replication: no interval"
    ax.set_title(f"{result.scenario_name}: {metric_label(metric)}\nagainst {metric_label(axis.path)}; mean of {n} "
                 f"replications, bars: {bars}", fontsize=10)
    ax.grid(True, alpha=0.3)
    if legend:
        legend_outside(ax)  # right of the axes, never over a line or the goal (tight_layout makes room)
    fig.tight_layout()
    return fig


def write_charts(result: SweepResult, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for metric in result.metrics:
        for axis in result.spec.axes:
            path = directory / f"{_filename(metric)}-vs-{_filename(axis.path)}.png"
            path.write_bytes(chart(result, metric, axis))
            paths.append(path)
    return paths


def figure(value: float) -> str:
    """A number for people: 4 significant digits, thousands separated, never in e-notation
    (16436338360.0 -> 16,436,338,360; 0.01234 -> 0.01234)."""
    if value != value or value in (float("inf"), float("-inf")):
        return str(value)
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    text = f"{value:.4g}"
    return f"{value:.6f}".rstrip("0").rstrip(".") if "e" in text else text


def _cell(est: Estimate) -> str:
    if est.half_width is None or est.low is None or est.high is None:
        return figure(est.mean)
    return f"{figure(est.mean)} <small>[{figure(est.low)}, {figure(est.high)}]</small>"


def goal_sentence(result: SweepResult) -> str:
    """The answer in one sentence: the cheapest variant meeting every goal, with its intervals."""
    goals = " and ".join(g.text for g in result.spec.goals)
    best = cheapest(result.verdicts)
    if best is None:
        uncertain = [v for v in result.verdicts if v.summary == "uncertain"]
        more = (f"; {len(uncertain)} variant(s) meet it on average but not with 95% confidence "
                "(more replications would settle them)") if uncertain else ""
        return f"No variant meets {goals} with 95% confidence{more}."
    figures = "; ".join(f"{g.metric} = {_plain_cell(best.result.estimates[g.metric])}" for g in result.spec.goals)
    return (f"Cheapest configuration meeting {goals} with 95% confidence: variant {best.result.variant.index} "
            f"({best.result.variant.label}), cost {figure(best.cost)} ({cost_basis(result.spec.prices)}): {figures}.")


def _plain_cell(est: Estimate) -> str:
    if est.half_width is None or est.low is None or est.high is None:
        return f"{figure(est.mean)} (one replication: no interval)"
    return f"{figure(est.mean)} [95% CI {figure(est.low)}, {figure(est.high)}]"


_GOAL_KEY = ("<p><small>goal: <b>met</b> = the whole 95% interval of every goal's metric meets its target; "
             "<b>uncertain</b> = the mean meets it but the interval straddles the target; "
             "<b>missed</b> = the mean misses it.</small></p>")


def _verdict_cells(verdict: Verdict | None) -> str:
    if verdict is None:
        return ""
    return f"<td class=num>{figure(verdict.cost)}</td><td>{verdict.summary}</td>"


def write_html(result: SweepResult, path: Path, charts: list[Path]) -> Path:
    """One file that opens offline: the table of means with intervals, and every chart inline."""
    spec = result.spec
    esc = html.escape
    head = "".join(f"<th>{esc(a.path)}</th>" for a in spec.axes) + "".join(
        f"<th>{esc(m)}</th>" for m in result.metrics)
    head += "<th>cost</th><th>goal</th>" if result.verdicts else ""
    rows = []
    for number, row in enumerate(result.variants):
        cells = "".join(f"<td>{esc(_axis_value(row, a))}</td>" for a in spec.axes)
        cells += "".join(f"<td class=num>{_cell(row.estimates[m])}</td>" for m in result.metrics)
        cells += _verdict_cells(result.verdicts[number] if result.verdicts else None)
        rows.append(f"<tr><td>{row.variant.index}</td>{cells}</tr>")
    answer = f"<p class=answer><strong>{esc(goal_sentence(result))}</strong></p>" if result.verdicts else ""
    fixed = ", ".join(f"{o.path}={label(o.value)}" for o in spec.fixed) or "none"
    grid = "; ".join(f"{a.path} in {{{', '.join(a.labels)}}}" for a in spec.axes) or "none (the base scenario)"
    images = "".join(
        f'<figure><img alt="{esc(p.stem)}" src="data:image/png;base64,{base64.b64encode(p.read_bytes()).decode()}">'
        f"</figure>"
        for p in charts
    )
    title = f"dsim sweep: {result.scenario_name}"
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; font-size: 0.9em; }}
th, td {{ border: 1px solid #ccc; padding: 0.3em 0.6em; }}
th {{ background: #f3f3f3; }} td.num {{ text-align: right; white-space: nowrap; }}
small {{ color: #666; }} figure {{ display: inline-block; margin: 0.5em; }} img {{ max-width: 100%; }}
</style></head><body>
<h1>{esc(title)}</h1>
<p>{esc(spec.description)}</p>
<ul>
<li>scenario: {esc(str(spec.scenario))} (data sha256 {esc(result.scenario_hash[:12])})</li>
<li>grid: {esc(grid)}; fixed overrides: {esc(fixed)}</li>
<li>{len(result.variants)} variants x {spec.replications} replications; replication 0 uses the scenario's seed,
replication r the seed derived from it and r (sha256), the same for every variant</li>
<li>cells: mean of the replications <small>[95% confidence interval, Student t]</small></li>
</ul>
{answer}{_GOAL_KEY if result.verdicts else ""}
<table><thead><tr><th>variant</th>{head}</tr></thead><tbody>
{chr(10).join(rows)}
</tbody></table>
{images}
</body></html>
"""
    path.write_text(page, encoding="utf-8")
    return path


def write_outputs(result: SweepResult, directory: Path, *, charts: bool = True) -> list[Path]:
    """sweep.csv, runs.csv, charts/*.png (unless ``charts`` is False) and sweep.html in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    written = [write_csv(result, directory / "sweep.csv"), write_runs_csv(result, directory / "runs.csv")]
    pngs = write_charts(result, directory / "charts") if charts else []
    written += pngs
    written.append(write_html(result, directory / "sweep.html", pngs))
    return written
