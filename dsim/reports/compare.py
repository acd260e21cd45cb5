"""``dsim compare DIR_A DIR_B [...]``: runs side by side, from the files ``dsim run`` wrote.

Each run directory gives its summary.json (every figure compared) and spans.csv (the latency samples for
overlaid CDFs; jobs.csv when spans were not written). Differences are against the first run, absolute and
in percent. The terminal gets a rich table; compare.html (self-contained) gets the table and the CDFs.
"""

from __future__ import annotations

import csv
import html
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.table import Table
from rich.text import Text

from dsim.errors import DsimError
from dsim.reports.charts.labels import legend_outside, seconds_label, set_scale
from dsim.reports.style import data_uri, extra_colour, figure, save
from dsim.units import format_duration, format_size

CDF_PHASES = ("pull", "start", "build", "job")
#: Summary figures where smaller is better (the table colours a change by whether it helps).
LOWER_IS_BETTER = ("_s", "failed", "unfinished", "rejected_429", "layer_misses", "build_steps_run")


class CompareError(DsimError):
    """A directory that is not a dsim run's output."""

    exit_code = 2


@dataclass
class Run:
    label: str
    path: Path
    summary: dict[str, Any]
    samples: dict[str, list[float]]


def load_run(path: Path) -> Run:
    summary_path = path / "summary.json"
    if not summary_path.is_file():
        raise CompareError(f"{path}: no summary.json (is it the --out directory of `dsim run`?)")
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise CompareError(f"{summary_path}: not UTF-8 text (is it dsim's summary.json?)") from None
    except json.JSONDecodeError as err:
        raise CompareError(f"{summary_path}:{err.lineno}:{err.colno}: invalid JSON: {err.msg}") from None
    if not isinstance(summary, dict):
        raise CompareError(f"{summary_path}: a JSON {type(summary).__name__}, not the object dsim's summary.json holds")
    return Run(label=_label(path, summary), path=path, summary=summary, samples=_samples(path))


def _label(path: Path, summary: dict[str, Any]) -> str:
    return path.name or str(path)


def _samples(path: Path) -> dict[str, list[float]]:
    """Latency samples per phase: each span of that kind (spans.csv), or per job (jobs.csv)."""
    samples: dict[str, list[float]] = {phase: [] for phase in CDF_PHASES}
    spans = path / "spans.csv"
    if spans.is_file():
        def span(row: dict[str, str]) -> None:
            if row["kind"] in samples:
                samples[row["kind"]].append(float(row["end_s"]) - float(row["start_s"]))

        _read_rows(spans, span)
        return samples
    jobs = path / "jobs.csv"
    if jobs.is_file():
        def job(row: dict[str, str]) -> None:
            samples["job"].append(float(row["end_s"]) - float(row["arrival_s"]))
            for phase in ("pull", "start", "build"):
                value = float(row.get(f"{phase}_s") or 0.0)
                if value > 0:
                    samples[phase].append(value)

        _read_rows(jobs, job)
    return samples


def _read_rows(table: Path, read: Callable[[dict[str, str]], None]) -> None:
    """``read`` each row of one of dsim's CSV files; one that is not (a column missing, a time not a number,
    not UTF-8 text) is a CompareError naming the file and its line."""
    with table.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        try:
            for row in reader:
                read(row)
        except (KeyError, ValueError, TypeError) as err:  # UnicodeDecodeError is a ValueError
            problem = f"no column {err}" if isinstance(err, KeyError) else str(err)
            raise CompareError(f"{table}:{reader.line_num}: not dsim's {table.name}: {problem}") from None


def flatten(summary: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """Every number in a summary under a dotted path (phases.pull.p95_s, registries.hub.bytes_sent, ...)."""
    out: dict[str, float] = {}
    for key, value in summary.items():
        path = f"{prefix}{key}"
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float):
            out[path] = float(value)
        elif isinstance(value, dict):
            out.update(flatten(value, path + "."))
    return out


def compared_keys(runs: list[Run]) -> list[str]:
    """Figures worth a row: present in some run, not wall time or seed, phases with samples, not all zero."""
    flats = [flatten(run.summary) for run in runs]
    keys: list[str] = []
    for flat in flats:
        for key in flat:
            if key not in keys:
                keys.append(key)
    chosen = []
    for key in keys:
        if key in ("wall_s", "seed") or key.startswith("hosts."):
            continue
        values = [flat.get(key) for flat in flats]
        if all(v in (None, 0.0) for v in values):
            continue
        chosen.append(key)
    return chosen


def difference(base: float | None, other: float | None) -> tuple[float | None, float | None]:
    """(other - base, percent of base); percent is None when base is 0 or missing."""
    if base is None or other is None:
        return None, None
    delta = other - base
    return delta, (100.0 * delta / base if base != 0 else None)


def _fmt(key: str, value: float | None) -> str:
    if value is None:
        return "-"
    if key.endswith("_s"):
        return format_duration(value) if abs(value) >= 1 else f"{value * 1000:.1f}ms"
    if "bytes" in key:
        return format_size(value)
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:.4g}"


def _fmt_delta(key: str, delta: float | None, pct: float | None) -> tuple[str, str]:
    if delta is None:
        return "-", "-"
    sign = "+" if delta > 0 else "-" if delta < 0 else ""
    text = sign + _fmt(key, abs(delta))
    return text, ("-" if pct is None else f"{pct:+.1f}%")


def _better(key: str, delta: float | None) -> str | None:
    if not delta:
        return None
    lower = any(part in key for part in LOWER_IS_BETTER) and not key.endswith("completed")
    if key.endswith("count") or key.endswith("events") or "requests" in key or "bytes" in key:
        return None
    return "green" if (delta < 0) == lower else "red"


def rows(runs: list[Run]) -> list[tuple[str, list[str], list[tuple[str, str, str | None]]]]:
    """(figure, values per run, (delta, percent, colour) per run after the first)."""
    flats = [flatten(run.summary) for run in runs]
    out = []
    for key in compared_keys(runs):
        values = [flat.get(key) for flat in flats]
        diffs = []
        for value in values[1:]:
            delta, pct = difference(values[0], value)
            text, pct_text = _fmt_delta(key, delta, pct)
            diffs.append((text, pct_text, _better(key, delta)))
        out.append((key, [_fmt(key, v) for v in values], diffs))
    return out


def table(runs: list[Run]) -> Table:
    """The comparison as a rich table for the terminal."""
    t = Table(title=f"compare: {' vs '.join(run.label for run in runs)} (differences against {runs[0].label})")
    t.add_column("figure")
    for run in runs:
        t.add_column(run.label, justify="right")
    for run in runs[1:]:
        t.add_column(f"{run.label} - {runs[0].label}", justify="right")
        t.add_column("%", justify="right")
    for key, values, diffs in rows(runs):
        cells: list[str | Text] = list(values)
        for text, pct, colour in diffs:  # styled as objects: a run's label or value is never read as markup
            cells += [Text(text, style=colour or ""), Text(pct, style=colour or "")]
        t.add_row(key, *cells)
    return t


def cdf_chart(runs: list[Run], path: Path) -> Path:
    """Overlaid CDFs, one panel per phase with samples in any run."""
    phases = [p for p in CDF_PHASES if any(run.samples.get(p) for run in runs)] or ["job"]
    with figure(6.4 * min(len(phases), 2), 3.6 * math.ceil(len(phases) / 2), math.ceil(len(phases) / 2),
                min(len(phases), 2), squeeze=False) as (fig, axes):
        flat_axes = [ax for row in axes for ax in row]
        for ax, phase in zip(flat_axes, phases, strict=False):
            for i, run in enumerate(runs):
                values = sorted(run.samples.get(phase, []))
                if not values:
                    continue
                n = len(values)
                ax.step(values, [(k + 1) / n for k in range(n)], where="post", color=extra_colour(i), linewidth=1.5,
                        linestyle=("-", "--", "-.", ":")[i % 4], label=f"{run.label} (n={n:,})")
            scale = set_scale(ax, [v for run in runs for v in run.samples.get(phase, [])])
            ax.set_ylim(0, 1.02)
            ax.set_title(f"{phase} latency")
            ax.set_xlabel(seconds_label(scale))
            ax.set_ylabel("fraction")
            ax.grid(alpha=0.3)
            legend_outside(ax)  # right of the panel, off the curves (they end at the lower right)
        for ax in flat_axes[len(phases):]:
            ax.axis("off")
        fig.suptitle("latency CDFs: " + " vs ".join(run.label for run in runs), fontweight="bold", fontsize=10)
        save(fig, path)
    return path


def render_html(runs: list[Run], chart: Path | None) -> str:
    e = html.escape
    head = "".join(f"<th>{e(run.label)}</th>" for run in runs)
    head += "".join(f"<th>{e(run.label)} &minus; {e(runs[0].label)}</th><th>%</th>" for run in runs[1:])
    body = []
    for key, values, diffs in rows(runs):
        cells = "".join(f"<td>{e(v)}</td>" for v in values)
        for text, pct, colour in diffs:
            style = {"green": ' style="color:#009E73"', "red": ' style="color:#D55E00"'}.get(colour or "", "")
            cells += f"<td{style}>{e(text)}</td><td{style}>{e(pct)}</td>"
        body.append(f"<tr><td class=k>{e(key)}</td>{cells}</tr>")
    sources = "".join(f"<li><b>{e(run.label)}</b>: <code>{e(str(run.path))}</code> (scenario "
                      f"{e(str(run.summary.get('scenario', '?')))}, seed {e(str(run.summary.get('seed', '?')))})</li>"
                      for run in runs)
    image = (f'<figure><img src="{data_uri(chart)}" alt="latency CDFs"><figcaption>Latency CDFs of each run, '
             "overlaid (each pull, start, build span; each job from arrival to end).</figcaption></figure>"
             if chart is not None else "")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>dsim compare</title>
<style>body{{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1180px;padding:0 20px;color:#1b1b1b}}
table{{border-collapse:collapse;font-size:13px}}th,td{{border-bottom:1px solid #ddd;padding:3px 10px;text-align:right}}
th{{background:#f5f5f5}}td.k{{text-align:left;font-family:monospace}}img{{max-width:100%;border:1px solid #ddd}}
figcaption{{color:#555;font-size:13px}}</style></head><body>
<h1>dsim compare</h1><ul>{sources}</ul>
<p>Differences are against <b>{e(runs[0].label)}</b>; green is better, red worse (lower is better for times,
failures and misses).</p>
<table><thead><tr><th>figure</th>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>
{image}
</body></html>
"""


def write_compare_html(runs: list[Run], out: Path) -> Path:
    """compare.html with its CDF chart (written beside it as compare_cdf.png, embedded in the page)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    chart = cdf_chart(runs, out.with_name(out.stem + "_cdf.png"))
    out.write_text(render_html(runs, chart), encoding="utf-8")
    return out


def distinct_labels(runs: list[Run]) -> None:
    """Two runs named alike (results/a/ci and results/b/ci) get their parent folder in the label."""
    seen: dict[str, int] = {}
    for run in runs:
        seen[run.label] = seen.get(run.label, 0) + 1
    for run in runs:
        if seen[run.label] > 1:
            run.label = f"{run.path.parent.name}/{run.path.name}" if run.path.parent.name else str(run.path)
    labels = [run.label for run in runs]
    for i, run in enumerate(runs):
        if labels.count(run.label) > 1:
            run.label = f"{run.label}#{i + 1}"
