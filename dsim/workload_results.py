"""Per-workload results: each workload's jobs, phases, failures by cause and container outcomes.

Most scenarios compare workloads (mirror vs no mirror, VM vs container), so summary.json reports each
under ``workloads.<name>`` beside the pooled figures: a pooled p50 between two modes is a value no job had.
A span belongs to the workload of its job (spans carry the job number; the job's end names its workload).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from dsim.records import JobEnd, Span, SpanKind

#: Failure causes, first match wins, from the message the docker CLI prints (docs/real-docker.md).
FAILURE_CAUSES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("rate_limited", re.compile(r"toomanyrequests|Too Many Requests")),
    ("no_space", re.compile(r"no space left on device")),
    ("port_conflict", re.compile(r"port is already allocated|address already in use")),
    ("vm_memory", re.compile(r"cannot set up guest memory")),
    ("oom", re.compile(r"\bOOM|out of memory|exit code 137")),
    ("not_found", re.compile(r"not found|does not exist|manifest unknown")),
    ("name_resolution", re.compile(r"Could not resolve host")),
    ("connection_refused", re.compile(r"Connection refused")),
    ("http_error", re.compile(r"The requested URL returned error")),
    ("exit_code", re.compile(r"exited with code|non-zero code|did not complete successfully")),
)


def failure_cause(error: str) -> str:
    """The cause of a failed job, from its error line (``other`` when none matches)."""
    for cause, pattern in FAILURE_CAUSES:
        if pattern.search(error):
            return cause
    return "other"


def job_workloads(job_ends: Sequence[JobEnd]) -> dict[int, str]:
    return {end.job: end.workload for end in job_ends}


def workload_summaries(job_ends: Sequence[JobEnd], spans_of: Callable[[SpanKind], Sequence[Span]],
                       phases: Sequence[str], expected: Mapping[str, int],
                       describe: Callable[[list[float]], dict[str, float | int]]) -> dict[str, Any]:
    """``workloads.<name>`` of summary.json, in the scenario's workload order (``expected``'s keys, then
    any workload only served jobs have): jobs, failures by cause, the phases its jobs had samples of
    (``job`` always, when a job ended), and its containers' runs, restarts and OOM kills."""
    of_job = job_workloads(job_ends)
    names = list(dict.fromkeys([*expected, *(end.workload for end in job_ends)]))
    samples: dict[str, dict[str, list[float]]] = {name: defaultdict(list) for name in names}
    for span in spans_of(SpanKind.API):
        name = of_job.get(span.job)
        if name is not None:
            samples[name]["queue"].append(span.attrs["queue"])
    for phase in phases:
        if phase == "queue":
            continue
        for span in spans_of(SpanKind(phase)):
            name = of_job.get(span.job)
            if name is not None:
                samples[name][phase].append(span.duration)
    for end in job_ends:
        samples[end.workload]["job"].append(end.end - end.arrival)
    processes: dict[str, Counter[str]] = defaultdict(Counter)  # counted, not kept (a million runs: 400 MB)
    for span in spans_of(SpanKind.PROCESS):
        name = of_job.get(span.job)
        if name is not None:
            counts = processes[name]
            counts["runs"] += 1
            counts["restarts"] += span.attrs.get("run", 0) > 0
            counts["oom_killed"] += span.attrs.get("status") == "exited" and bool(span.attrs.get("oom"))
    calls = _calls(spans_of(SpanKind.SERVICE_CALL), of_job, describe)
    summaries = {name: _one(name, job_ends, samples[name], processes[name], phases, expected.get(name, 0), describe)
                 for name in names}
    for name, made in calls.items():
        if name in summaries:
            summaries[name]["calls"] = made
    return summaries


def _calls(spans: Sequence[Span], of_job: Mapping[int, str],
           describe: Callable[[list[float]], dict[str, float | int]]) -> dict[str, dict[str, Any]]:
    """Each workload's service calls by target: the latency of its answered requests (p50, p95, ...),
    and how many failed. Only workloads that made calls have the key (service_calls.py)."""
    latencies: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    failed: dict[str, Counter[str]] = defaultdict(Counter)
    for span in spans:
        name = of_job.get(span.job)
        if name is None:
            continue
        if span.attrs["status"] == "ok":
            latencies[name][span.subject].append(span.duration)
        else:
            latencies[name].setdefault(span.subject, [])
            failed[name][span.subject] += 1
    return {name: {to: {**describe(values), "failed": failed[name][to]} for to, values in targets.items()}
            for name, targets in latencies.items()}


def _one(name: str, job_ends: Sequence[JobEnd], samples: Mapping[str, list[float]], processes: Counter[str],
         phases: Sequence[str], expected: int,
         describe: Callable[[list[float]], dict[str, float | int]]) -> dict[str, Any]:
    mine = [end for end in job_ends if end.workload == name]
    failed = [end for end in mine if end.status == "failed"]
    causes = Counter(failure_cause(end.error) for end in failed)
    total = max(expected, len(mine))
    return {
        "jobs": {"total": total, "completed": len(mine) - len(failed), "failed": len(failed),
                 "unfinished": total - len(mine)},
        "failures": dict(sorted(causes.items())),
        # the phases this workload's jobs went through (a workload without builds has no build row)
        "phases": {phase: describe(samples[phase]) for phase in (*phases, "job") if samples.get(phase)},
        "containers": {
            "runs": processes["runs"],
            "restarts": processes["restarts"],
            "oom_killed": processes["oom_killed"],
        },
    }


#: Phases the workload tables show (p50 / p95), when some workload has samples of them.
TABLE_PHASES = ("slot", "pull", "build", "push", "start", "run", "downtime", "job")


def workload_rows(summary: Mapping[str, Any]) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    """The workloads table (terminal and report), one column per workload so that they sit side by side:
    jobs ended, failures by cause, p50/p95 of each phase some workload went through, restarts, OOM kills."""
    workloads: Mapping[str, Any] = summary.get("workloads", {})
    shown = [p for p in TABLE_PHASES if any(p in w["phases"] for w in workloads.values())]
    header = ("", *workloads)
    rows: list[tuple[str, ...]] = [
        ("jobs ended", *(_ended(w["jobs"]) for w in workloads.values())),
        ("failed", *(_failed(w) for w in workloads.values())),
        *((f"{p} p50/p95 (s)", *(_p50_p95(w["phases"].get(p)) for w in workloads.values())) for p in shown),
        *((f"calls to {to} p50/p95 (s)", *(_p50_p95(w.get("calls", {}).get(to)) for w in workloads.values()))
          for to in dict.fromkeys(to for w in workloads.values() for to in w.get("calls", {}))),
        ("restarts", *(str(w["containers"]["restarts"]) for w in workloads.values())),
        ("OOM kills", *(str(w["containers"]["oom_killed"]) for w in workloads.values())),
    ]
    return header, rows


def _ended(jobs: Mapping[str, int]) -> str:
    ended = jobs["completed"] + jobs["failed"]
    return f"{ended} of {jobs['total']}" if jobs["unfinished"] else str(ended)


def _failed(workload: Mapping[str, Any]) -> str:
    failed = str(workload["jobs"]["failed"])
    causes: Mapping[str, int] = workload["failures"]
    if len(causes) == 1:
        return f"{failed} ({next(iter(causes)).replace('_', ' ')})"
    if causes:
        return failed + " (" + ", ".join(f"{cause.replace('_', ' ')} {n}" for cause, n in causes.items()) + ")"
    return failed


def _p50_p95(stats: Mapping[str, Any] | None) -> str:
    if not stats or not stats.get("count", 1):  # no samples (every call to a target failed)
        return "-"
    return f"{_seconds(stats['p50_s'])}/{_seconds(stats['p95_s'])}"


def _seconds(value: float) -> str:
    """3 significant digits below 1,000 s, whole seconds with separators above (1,800, not 1.8e+03)."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"
