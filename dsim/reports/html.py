"""report.html: one self-contained page (figures as data URIs, inline CSS, no script, no network access)
that tells a run's story: the scenario's description and comment header, its topology, the summary
tables, every chart, the slowest jobs, what failed, every kind of activity recorded, and the YAML.

The page carries no timestamp or version-dependent text, so the same run writes the same bytes.
"""

from __future__ import annotations

import html
import struct
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from dsim.job_table import slowest_jobs
from dsim.reports.charts import Chart
from dsim.reports.charts.common import natural_key
from dsim.reports.charts.labels import size_formatter
from dsim.reports.context import ScenarioInfo
from dsim.reports.derive import kind_stats
from dsim.reports.style import data_uri
from dsim.result import JobRecord, SimResult
from dsim.units import format_duration, format_size
from dsim.workload_results import workload_rows

SLOWEST_JOBS = 15
HOSTS_SHOWN = 30

CSS = """
:root { --ink: #1b1b1b; --muted: #5a5a5a; --line: #d8d8d8; --accent: #0072B2; --bad: #D55E00; --bg: #fafafa; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--ink);
       margin: 0; background: white; }
header { background: #0b3d61; color: white; padding: 18px 28px; }
header h1 { margin: 0 0 4px; font-size: 22px; }
header p { margin: 0; opacity: .9; }
main { max-width: 1180px; margin: 0 auto; padding: 8px 28px 40px; }
nav { font-size: 13px; margin: 12px 0; color: var(--muted); }
nav a { color: var(--accent); margin-right: 12px; text-decoration: none; }
h2 { font-size: 18px; border-bottom: 2px solid var(--line); padding-bottom: 4px; margin-top: 32px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
.story { white-space: pre-wrap; background: var(--bg); border-left: 4px solid var(--accent); padding: 10px 14px;
         font-size: 13px; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; margin: 12px 0; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; min-width: 150px; background: var(--bg); }
.card b { display: block; font-size: 18px; }
.card span { color: var(--muted); font-size: 12px; }
table { border-collapse: collapse; margin: 8px 0 14px; font-size: 13px; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: right; white-space: nowrap; }
th { background: var(--bg); }
th:first-child, td:first-child, td.text, th.text { text-align: left; }
td.text { white-space: normal; max-width: 520px; }
tr.failed td { color: var(--bad); }
figure { margin: 18px 0 28px; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); display: block; }
figcaption { color: var(--muted); font-size: 13px; margin-top: 6px; max-width: 900px; }
pre { background: var(--bg); border: 1px solid var(--line); padding: 10px; overflow-x: auto; font-size: 12px; }
.muted { color: var(--muted); }
.new { color: var(--bad); font-weight: bold; }
footer { color: var(--muted); font-size: 12px; margin-top: 40px; }
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _png_size(path: Path) -> tuple[int, int] | None:
    """(width, height) from a PNG header, so the page reserves each figure's space before it decodes."""
    try:
        with path.open("rb") as handle:
            head = handle.read(24)
    except OSError:
        return None
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    width, height = struct.unpack(">II", head[16:24])
    return int(width), int(height)


def _table(headers: Sequence[str], rows: Iterable[Sequence[object]], *, text_columns: Iterable[int] = (),
           row_classes: Sequence[str] | None = None) -> str:
    texts = set(text_columns)
    head = "".join(f'<th{" class=text" if i in texts else ""}>{_e(h)}</th>' for i, h in enumerate(headers))
    body = []
    for r, row in enumerate(rows):
        cls = f' class="{row_classes[r]}"' if row_classes and row_classes[r] else ""
        cells = "".join(f'<td{" class=text" if i in texts else ""}>{_e(c)}</td>' for i, c in enumerate(row))
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _seconds(value: float) -> str:
    return f"{value:.3f}"


def _cards(summary: dict[str, Any], result: SimResult) -> str:
    jobs = summary["jobs"]
    phases = summary["phases"]
    sent = sum(r["bytes_sent"] for r in summary["registries"].values())
    cache = summary["cache"]
    layers = cache.get("layer_hits", 0) + cache.get("layer_misses", 0) + cache.get("layer_shared", 0)
    cards = [
        (f"{jobs['completed']:,} / {jobs['total']:,}", "jobs completed"),
        (f"{jobs['failed']:,}", "jobs failed"),
        (format_duration(summary["makespan_s"]), "makespan (last job ended)"),
        (format_duration(phases["job"]["p95_s"]) if phases["job"]["count"] else "-", "job p95 (arrival to end)"),
        (format_duration(phases["pull"]["p50_s"]) if phases["pull"]["count"] else "-", "pull p50"),
        (format_duration(phases["pull"]["p95_s"]) if phases["pull"]["count"] else "-", "pull p95"),
        (format_size(sent), "sent by registries"),
        (f"{cache.get('layer_hits', 0) / layers:.0%}" if layers else "-", "layers already present"),
    ]
    if jobs.get("unfinished"):
        cards.insert(2, (f"{jobs['unfinished']:,}", "jobs unfinished at the horizon"))
    return '<div class="cards">' + "".join(f"<div class=card><b>{_e(v)}</b><span>{_e(k)}</span></div>"
                                          for v, k in cards) + "</div>"


def _phase_table(summary: dict[str, Any]) -> str:
    rows = [(name, f"{s['count']:,}", _seconds(s["mean_s"]), _seconds(s["p50_s"]), _seconds(s["p95_s"]),
             _seconds(s["p99_s"]), _seconds(s["max_s"])) for name, s in summary["phases"].items() if s["count"]]
    if not rows:
        return "<p class=muted>No phase was recorded.</p>"
    return _table(("phase", "count", "mean (s)", "p50 (s)", "p95 (s)", "p99 (s)", "max (s)"), rows)


def _registry_table(summary: dict[str, Any]) -> str:
    """Registries that served something; of their other figures (hits, bytes from peers...) the columns some
    registry has a value in. A registry that no job contacted is named below the table, not given a row of zeros."""
    regs = summary["registries"]
    used = {name: r for name, r in regs.items() if any(r.values())}
    if not used:
        return "<p class=muted>No registry was contacted: no job pulled or pushed an image.</p>"
    keys = sorted({k for r in used.values() for k, v in r.items()
                   if v and k not in ("bytes_sent", "requests", "rejected_429")})
    rows = [(name, format_size(r["bytes_sent"]), f"{r['requests']:,}", f"{r['rejected_429']:,}",
             *(r.get(k, "") for k in keys)) for name, r in used.items()]
    idle = [name for name in regs if name not in used]
    note = (f"<p class=muted>Not contacted: {_e(', '.join(idle))}.</p>" if idle else "")
    return _table(("registry", "sent", "requests", "429s", *(k.replace("_", " ") for k in keys)), rows) + note


def _workload_table(summary: dict[str, Any]) -> str:
    """The workloads side by side; a figure that is zero for every workload (no restarts anywhere) is named
    under the table instead of taking a row of zeros."""
    header, rows = workload_rows(summary)
    kept = [row for row in rows if any(cell != "0" for cell in row[1:])]
    zero = [row[0] for row in rows if row not in kept]
    note = f"<p class=muted>Zero for every workload: {_e(', '.join(zero))}.</p>" if zero else ""
    return _table(header, kept, text_columns=(0,)) + note


def _cache_table(summary: dict[str, Any]) -> str:
    """The cache figures that are not zero (an all-zero row says nothing); when none is, why."""
    rows = [(k.replace("_", " "), f"{v:,}" if isinstance(v, int) else v) for k, v in summary["cache"].items() if v]
    if not rows:
        return ("<p class=muted>Every cache figure is zero: no job pulled an image (the images were on the "
                "hosts already, or none was needed) and no build step ran.</p>")
    return _table(("cache figure", "value"), rows)


def _host_table(summary: dict[str, Any], size: Callable[[float], str] = format_size) -> str:
    """The busiest hosts by CPU, ties in natural order (runner-2 before runner-10); sizes in ``size``'s units.
    A host whose every figure is zero (nothing ran or was stored on it) is named below, not given a row."""
    everything = summary["hosts"]
    hosts = {name: h for name, h in everything.items() if any(h.values())}
    idle = sorted((name for name in everything if name not in hosts), key=natural_key)
    idle_note = f"<p class=muted>No activity on {len(idle)} host(s): {_e(_listed(idle))}.</p>" if idle else ""
    if not hosts:
        return idle_note
    ordered = sorted(hosts.items(), key=lambda kv: (-kv[1].get("cpu_util", 0.0), natural_key(kv[0])))
    shown = ordered[:HOSTS_SHOWN]
    keys = sorted({k for h in hosts.values() for k in h if k not in ("cpu_util", "peak_memory_bytes",
                                                                     "disk_used_bytes")})
    memory = any(h.get("peak_memory_bytes", 0) for h in hosts.values())
    rows = [(name, f"{h.get('cpu_util', 0.0):.1%}", *([size(h.get("peak_memory_bytes", 0))] if memory else []),
             size(h.get("disk_used_bytes", 0)), *(_cell(k, h.get(k, ""), size) for k in keys)) for name, h in shown]
    note = (f"<p class=muted>The {len(shown)} busiest of {len(hosts)} hosts by CPU.</p>"
            if len(hosts) > len(shown) else "")
    # peak memory is what processes allocate (a run's memory_usage, a sandbox's or VM's overhead): a column of
    # zeros would read as containers using no memory, so it is left out and the reason given
    unset = "" if memory else ("<p class=muted>No peak memory column: no run step sets <code>memory_usage</code> "
                               "(what its process allocates; <code>memory</code> is only the limit).</p>")
    headers = (k.removesuffix("_bytes").replace("_", " ") for k in keys)
    return (_table(("host", "CPU used", *(["peak memory"] if memory else []), "disk used", *headers), rows)
            + note + unset + idle_note)


def _listed(names: Sequence[str], most: int = 10) -> str:
    return ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")


def _cell(key: str, value: Any, size: Callable[[float], str]) -> Any:
    """A host figure as people read it: ``..._bytes`` as a size."""
    return size(value) if key.endswith("_bytes") and isinstance(value, int | float) else value


def _slowest(result: SimResult) -> str:
    jobs: list[JobRecord] = slowest_jobs(result.jobs, SLOWEST_JOBS)  # from columns: no record per job made
    if not jobs:
        return "<p class=muted>No job ended.</p>"
    phases = [p for p in jobs[0].phases if any(j.phases.get(p, 0.0) > 0 for j in jobs)]
    rows = [(j.job, j.workload, j.host, _seconds(j.arrival_s), _seconds(j.end_s), format_duration(j.duration_s),
             j.status, *(_seconds(j.phases.get(p, 0.0)) for p in phases), j.error) for j in jobs]
    headers = ("job", "workload", "host", "arrival (s)", "end (s)", "took", "status",
               *(f"{p} (s)" for p in phases), "error")
    return _table(headers, rows, text_columns=(len(headers) - 1,),
                  row_classes=["failed" if j.status == "failed" else "" for j in jobs])


def _failures(result: SimResult) -> str:
    errors = Counter(end.error or end.status for end in result.job_ends if end.status != "completed")
    if not errors:
        return "<p>Every job that ended completed.</p>"
    rows = [(count, message) for message, count in sorted(errors.items(), key=lambda kv: (-kv[1], kv[0]))]
    return _table(("jobs", "error (as docker prints it)"), rows, text_columns=(1,))


def _kinds(result: SimResult) -> str:
    stats = kind_stats(result)
    if not stats:
        return "<p class=muted>No spans were kept for this run.</p>"
    rows = []
    for k in stats:
        statuses = ", ".join(f"{s}: {n:,}" for s, n in list(k.statuses.items())[:6])
        rows.append((k.kind, f"{k.count:,}", _seconds(k.total_s), _seconds(k.mean_s),
                     _seconds(k.p95_s), _seconds(k.max_s), f"{k.instants:,}", statuses))
    return _table(("kind", "count", "total (s)", "mean (s)", "p95 (s)", "max (s)", "instants", "statuses"), rows,
                  text_columns=(7,))


def _figure(chart: Chart) -> str:
    size = _png_size(chart.path)
    dims = f' width="{size[0]}" height="{size[1]}"' if size else ""
    return (f'<figure id="fig-{_e(chart.name)}"><img src="{data_uri(chart.path)}" alt="{_e(chart.title)}"{dims}>'
            f"<figcaption><b>{_e(chart.title)}.</b> {_e(chart.caption)}</figcaption></figure>")


def render(result: SimResult, charts: Sequence[Chart], info: ScenarioInfo | None = None,
           summary: dict[str, Any] | None = None) -> str:
    """The whole page as a string."""
    summary = summary if summary is not None else result.summary()
    name = result.scenario
    description = info.description if info else ""
    topology = [c for c in charts if c.name == "topology"]
    others = [c for c in charts if c.name != "topology"]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<link rel="icon" href="data:,">',
        f"<title>dsim report: {_e(name)}</title><style>{CSS}</style></head><body>",
        f"<header><h1>{_e(name)}</h1><p>{_e(description) or 'dsim simulation report'}</p></header><main>",
        '<nav><a href="#story">story</a><a href="#summary">summary</a><a href="#charts">charts</a>'
        '<a href="#slowest">slowest jobs</a><a href="#failures">failures</a><a href="#kinds">activities</a>'
        '<a href="#scenario">scenario YAML</a></nav>',
        f"<p class=muted>seed {summary['seed']} &middot; {summary['events']:,} simulation events &middot; "
        f"simulated horizon {_e(format_duration(result.horizon_s))}</p>",
        '<h2 id="story">The story</h2>',
    ]
    if info and info.story:
        parts.append(f'<div class="story">{_e(info.story)}</div>')
    elif description:
        parts.append(f"<p>{_e(description)}</p>")
    else:
        parts.append("<p class=muted>The scenario has no description or comment header.</p>")
    if info and info.source:
        parts.append(f"<p class=muted>Scenario file: <code>{_e(info.source)}</code></p>")
    if info and info.overrides:
        parts.append("<p>Overridden with <code>--set</code>: " +
                     ", ".join(f"<code>{_e(o)}</code>" for o in info.overrides) + "</p>")
    parts += [_figure(c) for c in topology]
    parts += [
        '<h2 id="summary">Summary</h2>', _cards(summary, result),
        "<h3>Phases (simulated seconds)</h3>", _phase_table(summary),
        *(("<h3>Workloads</h3>", _workload_table(summary)) if len(summary.get("workloads", {})) > 1 else ()),
        "<h3>Registries</h3>", _registry_table(summary),
        "<h3>Caches</h3>", _cache_table(summary),
        "<h3>Hosts</h3>", _host_table(summary, size_formatter(info.yaml_text if info else None)),
        '<h2 id="charts">Charts</h2>',
    ]
    parts += [_figure(c) for c in others] or ["<p class=muted>Charts were not drawn for this run.</p>"]
    parts += [
        f'<h2 id="slowest">The {SLOWEST_JOBS} slowest jobs</h2>', _slowest(result),
        '<h2 id="failures">Failures</h2>', _failures(result),
        '<h2 id="kinds">Every kind of activity recorded</h2>',
        "<p class=muted>Each span kind the run recorded (what each is: docs/reports.md); every kind appears in "
        "the activity chart and in trace.json.</p>",
        _kinds(result),
        '<h2 id="scenario">The scenario</h2>',
    ]
    if info and info.yaml_text:
        parts.append(f"<pre>{_e(info.yaml_text)}</pre>")
    else:
        parts.append("<p class=muted>The scenario's YAML was not available.</p>")
    parts.append("<footer>Written by dsim from this run's spans; open trace.json in ui.perfetto.dev for every "
                 "activity on a timeline.</footer></main></body></html>")
    return "\n".join(parts) + "\n"


def write_report(result: SimResult, out: Path, charts: Sequence[Chart], info: ScenarioInfo | None = None,
                 summary: dict[str, Any] | None = None) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "report.html"
    path.write_text(render(result, charts, info, summary), encoding="utf-8")
    return path
