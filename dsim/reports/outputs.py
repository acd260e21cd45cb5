"""The run's files: summary.json, jobs.csv, spans.csv (DESIGN.md "Outputs"). Reads SimResult only."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from dsim.result import JOB_COLUMNS, PHASES, SimResult


def summary_json(summary: dict[str, Any]) -> str:
    return json.dumps(summary, indent=2) + "\n"


def _seconds(value: float) -> str:
    return f"{value:.6f}"


def write_jobs_csv(result: SimResult, path: Path) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(JOB_COLUMNS)
        for job in result.jobs:
            writer.writerow([job.job, job.workload, job.host, _seconds(job.arrival_s), _seconds(job.end_s),
                             job.status, *(_seconds(job.phases[p]) for p in PHASES), job.error])


#: one encoder for every span (``json.dumps`` with options builds a new one per call)
_ATTRS_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)


def _attrs(span_attrs: dict[str, Any], job: int) -> str:
    if not span_attrs:  # most spans: what the encoder would write, without it
        return f'{{"job":{job}}}' if job >= 0 else "{}"
    attrs = dict(span_attrs)
    if job >= 0:
        attrs["job"] = job
    return _ATTRS_JSON.encode(attrs)


def write_spans_csv(result: SimResult, path: Path) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("kind", "subject", "host", "start_s", "end_s", "attrs"))
        for span in result.spans:
            writer.writerow([span.kind, span.subject, span.host, _seconds(span.start), _seconds(span.end),
                             _attrs(span.attrs, span.job)])


def write_outputs(result: SimResult, out: Path, summary: dict[str, Any]) -> list[Path]:
    """Write the data files into ``out``; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    files = [out / "summary.json", out / "jobs.csv", out / "spans.csv"]
    files[0].write_text(summary_json(summary))
    write_jobs_csv(result, files[1])
    write_spans_csv(result, files[2])
    return files


def write_reports(result: SimResult, out: Path, summary: dict[str, Any], info: Any = None, *,
                  charts: bool = True, trace: bool = True) -> list[Path]:
    """Charts, report.html (charts embedded) and trace.json into ``out``; returns their paths.

    ``info`` is a ``dsim.reports.context.ScenarioInfo`` (the scenario's story, YAML and capacities) or None.
    """
    files: list[Path] = []
    if charts:
        from dsim.reports.charts import write_charts
        from dsim.reports.html import write_report

        drawn = write_charts(result, out, info)
        files += [chart.path for chart in drawn]
        files.append(write_report(result, out, drawn, info, summary))
    if trace:
        from dsim.reports.trace import write_trace

        files.append(write_trace(result, out / "trace.json"))
    return files
