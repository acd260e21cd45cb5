"""The run's files: summary.json, jobs.csv, spans.csv, charts, report.html and trace.json (docs/reports.md:
Output files),
all written by ``write_run_outputs``. Reads SimResult only."""

from __future__ import annotations

import csv
import functools
import json
import math
from collections.abc import Callable, Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from dsim.errors import SimulationError
from dsim.reports.outdir import write_whole
from dsim.reports.writers import can_fork, default_writers, run_tasks
from dsim.result import SimResult, job_columns
from dsim.span_store import SpanStore

if TYPE_CHECKING:
    from dsim.job_table import JobTable
    from dsim.reports.charts.common import Chart
    from dsim.reports.context import ScenarioInfo


#: What ``--outputs`` chooses from (summary.json is always written): jobs.csv, spans.csv, charts/ with
#: report.html, trace.json.
OUTPUTS = ("jobs", "spans", "charts", "trace")


def parse_outputs(text: str) -> frozenset[str]:
    """``--outputs``' value: a comma-separated choice of ``OUTPUTS``, or ``all``; ValueError names a bad one."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if names == ["all"]:
        return frozenset(OUTPUTS)
    unknown = [name for name in names if name not in OUTPUTS]
    if unknown:
        raise ValueError(f"unknown output {unknown[0]!r} (choose from {', '.join(OUTPUTS)}, or all)")
    return frozenset(names)


def summary_json(summary: dict[str, Any]) -> str:
    """summary.json's text: always valid JSON (RFC 8259 has no Infinity or NaN), so a figure that is not a
    finite number fails the run with one line naming it rather than writing a file no JSON parser reads."""
    try:
        return json.dumps(summary, indent=2, allow_nan=False) + "\n"
    except ValueError:
        raise SimulationError(f"summary.json: {_first_non_finite(summary, '') or 'a figure'} is not a finite "
                              "number; no file written") from None


def _first_non_finite(value: Any, path: str) -> str | None:
    if isinstance(value, float) and not math.isfinite(value):
        return f"{path} ({value})"
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found = _first_non_finite(item, f"{path}.{key}" if path else str(key))
        if found:
            return found
    return None


def write_jobs_csv(result: SimResult, path: Path) -> None:
    """One row per ended job: the bytes ``csv.writer`` writes for it (``lineterminator="\\n"``), each row one
    f-string, each distinct workload, host, status and error quoted once (``spans_csv.CsvFields``); from a
    ``JobTable`` the times a block of jobs at a time (``spans_csv.fixed6_rows``)."""
    from dsim.job_table import JobTable
    from dsim.reports.spans_csv import CsvFields

    with path.open("w", newline="") as handle:
        phases = result.phases
        csv.writer(handle, lineterminator="\n").writerow(job_columns(phases))
        field = CsvFields()
        jobs = result.jobs
        if isinstance(jobs, JobTable) and jobs.phases == tuple(phases):
            _write_job_table(handle, jobs, field)
            return
        handle.write("".join([f"{job.job},{field[job.workload]},{field[job.host]},{job.arrival_s:.6f},"
                              f"{job.end_s:.6f},{field[job.status]},"
                              + "".join([f"{job.phases[p]:.6f}," for p in phases]) + f"{field[job.error]}\n"
                              for job in jobs]))


def _write_job_table(handle: TextIO, jobs: JobTable, field: dict[Any, str], step: int = 1 << 14) -> None:
    """``write_jobs_csv``'s rows from the table's columns, ``step`` jobs at a time: every ``.6f`` of a block
    printed at once (arrival and end as one text, the phases as another), the rows' same bytes."""
    from dsim.reports.spans_csv import fixed6_rows

    arrivals, ends = jobs.column("arrival_s"), jobs.column("end_s")
    for low in range(0, len(jobs), step):
        block = jobs.ends[low:low + step]
        times = fixed6_rows([arrivals[low:low + step], ends[low:low + step]])
        middles = fixed6_rows([jobs.sums[phase][low:low + step] for phase in jobs.phases], end=",") \
            if jobs.phases else [""] * len(block)
        handle.write("".join([f"{end.job},{field[end.workload]},{field[end.host]},{both},"
                              f"{field[end.status]},{middle}{field[end.error]}\n"
                              for end, both, middle in zip(block, times, middles, strict=True)]))


def write_spans_csv(result: SimResult, path: Path) -> None:
    """One row per span: kind, subject, host, start_s, end_s and attrs (the attributes and job as JSON with
    sorted keys), made from the store's columns a block at a time (``spans_csv``)."""
    from dsim.reports.spans_csv import write_rows

    with path.open("w", newline="") as handle:
        write_rows(result.spans, handle)


def write_run_outputs(result: SimResult, out: Path, summary: dict[str, Any], info: ScenarioInfo | None = None, *,
                      charts: bool = True, trace: bool = True, outputs: Collection[str] = OUTPUTS,
                      writers: int | None = 1) -> list[Path]:
    """Every file of a run into ``out`` (the one writer, for ``dsim run``, the API and ``dsim serve``):
    summary.json always; of ``outputs`` (``OUTPUTS``: all by default) jobs.csv, spans.csv, charts/*.png
    with report.html (charts embedded; not with ``charts=False``), trace.json (not with ``trace=False``).
    Returns the paths written. ``writers``: processes writing at once (dsim.reports.writers; 1: this one;
    None: ``default_writers()``, decided now that the run has ended).

    ``info`` is the scenario's story, YAML and capacities for the charts and the report (None: without them).
    The files are written whole (dsim.reports.outdir.write_whole): into a staging folder beside ``out``, then
    moved into place, replacing the previous run's folder; a summary that is not valid JSON writes nothing.
    Each file is written in one pass over the run's records, without a copy of them (the spans are read
    from the recorder's compact store as each file is written; its newest spans are compacted first, as
    every ``CHUNK`` of them already was: the charts ask for them kind by kind, many times).
    """
    text = summary_json(summary)
    chosen = frozenset(outputs)
    if writers is None:
        writers = default_writers()
    if isinstance(result.spans, SpanStore):
        result.spans.compact()  # the last spans recorded into columns too: every writer reads by column
    return write_whole(out, lambda staging: _write_files(result, staging, text, summary, info, writers=writers,
                                                         chosen=chosen, charts=charts and "charts" in chosen,
                                                         trace=trace and "trace" in chosen))


def _write_files(result: SimResult, out: Path, summary_text: str, summary: dict[str, Any],
                 info: ScenarioInfo | None, *, writers: int, chosen: frozenset[str], charts: bool,
                 trace: bool) -> list[Path]:
    """The files, the biggest first (trace.json, in pieces when several write; spans.csv, the charts, jobs.csv:
    the order writers take them in); report.html last, from the charts. Listed as summary, jobs, spans,
    charts, report, trace."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(summary_text)
    if (writers > 1 and not can_fork()) or (charts and _figures_kept()):
        writers = 1  # no helper can be forked, or the caller wants this process's Figures (dsim.api)
    pieces = None
    first: list[Callable[[], Any]] = []  # the biggest files, taken first
    if trace:
        from dsim.reports.trace import TracePieces, write_trace

        if writers > 1:  # in pieces, so the biggest file is not one writer's alone
            pieces = TracePieces(result, out / "trace.json", writers)
            first += pieces.tasks()
        else:
            first.append(functools.partial(write_trace, result, out / "trace.json"))
    if "spans" in chosen:
        first.append(functools.partial(_written, write_spans_csv, result, out / "spans.csv"))
    drawing: list[Callable[[], Chart | None]] = []
    if charts:
        from dsim.reports.charts import chart_tasks

        drawing = chart_tasks(result, out, info, summary)
    last: list[Callable[[], Any]] = []  # the smallest
    if "jobs" in chosen:
        last.append(functools.partial(_written, write_jobs_csv, result, out / "jobs.csv"))
    done: list[Any] = run_tasks([*first, *drawing, *last], writers)
    if pieces is not None:
        pieces.join()
    files = [out / "summary.json"]
    files += [out / name for name in ("jobs.csv", "spans.csv") if name.removesuffix(".csv") in chosen]
    if charts:
        from dsim.reports.html import write_report

        drawn = [chart for chart in done[len(first):len(first) + len(drawing)] if chart is not None]
        files += [chart.path for chart in drawn]
        files.append(write_report(result, out, drawn, info, summary))
    if trace:
        files.append(out / "trace.json")
    return files


def _figures_kept() -> bool:
    from dsim.reports.style import figures_kept

    return figures_kept()


def _written(write: Callable[[SimResult, Path], None], result: SimResult, path: Path) -> Path:
    write(result, path)
    return path
