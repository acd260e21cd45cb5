"""trace.json: the run in Chrome's Trace Event format, which ui.perfetto.dev and chrome://tracing open.

A process per host and per registry (plus one for the network when link samples exist). In a host:
lanes of jobs (each job's phases nested inside it), one track per daemon worker, per download slot, per
unpack lane and per container, and a track per other kind of activity; instant events for failures and
for everything that took no time (CLI messages, 429s, a new feature's events). In a registry: a track per
link to each host it served, plus its requests. Tracks are recovered from spans by greedy lane packing,
which never needs more lanes than the resource had at once (``derive.pack_lanes``).

Timestamps are microseconds of simulated time. Complete ("X") events on one track never partially
overlap (the test checks), so every viewer nests them correctly.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from dsim.recorder import Span
from dsim.reports.derive import PHASE_KINDS, is_failure, pack_lanes, short_id
from dsim.result import SimResult
from dsim.units import format_size

#: Kinds drawn on the host's job lanes, nested inside the job's own span.
JOB_LANE_KINDS = frozenset(PHASE_KINDS)


def _natural(text: str) -> tuple[Any, ...]:
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text))


def _us(seconds: float) -> float:
    return round(seconds * 1e6, 3)


def _args(span: Span) -> dict[str, Any]:
    args: dict[str, Any] = {k: v for k, v in sorted(span.attrs.items())}
    if span.job >= 0:
        args["job"] = span.job
    args["subject"] = span.subject
    return args


class _Builder:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.pids: dict[str, int] = {}
        self.tids: dict[tuple[int, str], int] = {}
        self._threads: dict[int, int] = defaultdict(int)

    def process(self, name: str, label: str, sort: int) -> int:
        if name not in self.pids:
            pid = len(self.pids) + 1
            self.pids[name] = pid
            self.events.append({"ph": "M", "name": "process_name", "pid": pid, "tid": 0, "args": {"name": label}})
            self.events.append({"ph": "M", "name": "process_sort_index", "pid": pid, "tid": 0,
                                "args": {"sort_index": sort}})
        return self.pids[name]

    def thread(self, pid: int, name: str) -> int:
        key = (pid, name)
        if key not in self.tids:
            self._threads[pid] += 1
            tid = self._threads[pid]
            self.tids[key] = tid
            self.events.append({"ph": "M", "name": "thread_name", "pid": pid, "tid": tid, "args": {"name": name}})
            self.events.append({"ph": "M", "name": "thread_sort_index", "pid": pid, "tid": tid,
                                "args": {"sort_index": tid}})
        return self.tids[key]

    def complete(self, pid: int, tid: int, name: str, start: float, end: float, cat: str,
                 args: dict[str, Any]) -> None:
        ts = _us(start)
        self.events.append({"ph": "X", "name": name, "cat": cat, "pid": pid, "tid": tid, "ts": ts,
                            "dur": max(0.0, round(_us(end) - ts, 3)), "args": args})

    def instant(self, pid: int, tid: int, name: str, at: float, cat: str, args: dict[str, Any]) -> None:
        self.events.append({"ph": "i", "s": "t", "name": name, "cat": cat, "pid": pid, "tid": tid, "ts": _us(at),
                            "args": args})

    def counter(self, pid: int, name: str, at: float, values: dict[str, float]) -> None:
        self.events.append({"ph": "C", "name": name, "pid": pid, "tid": 0, "ts": _us(at), "args": values})


def _lanes(builder: _Builder, pid: int, label: str, spans: Iterable[Span], name_of: Any, cat: str) -> None:
    """Spans onto numbered tracks ``label 1, label 2, ...`` by lane packing (no overlaps within a track)."""
    items = [s for s in spans if s.end > s.start]
    lanes = pack_lanes([(s.start, s.end, i) for i, s in enumerate(items)])
    for i, span in enumerate(items):
        tid = builder.thread(pid, f"{label} {lanes[i] + 1}")
        builder.complete(pid, tid, name_of(span), span.start, span.end, cat, _args(span))


def _api_service(spans: list[Span]) -> list[Span]:
    """An API call's hold on a worker: from the end of its wait to its end."""
    return [Span(s.kind, s.subject, s.host, s.start + s.attrs.get("queue", 0.0), s.end, s.job, s.attrs) for s in spans]


def build_trace(result: SimResult) -> dict[str, Any]:
    """The trace as a JSON-ready dict."""
    b = _Builder()
    by_host: dict[str, list[Span]] = defaultdict(list)
    no_host: list[Span] = []
    for span in result.spans:
        (by_host[span.host] if span.host else no_host).append(span)
    hosts = sorted(set(by_host) | {end.host for end in result.job_ends} | set(result.hosts), key=_natural)
    registries = sorted(set(result.registries) | {str(s.attrs["registry"]) for s in result.spans
                                                  if "registry" in s.attrs}, key=_natural)
    for i, host in enumerate(hosts):
        b.process(f"host/{host}", f"host {host}", i)
    for i, registry in enumerate(registries):
        b.process(f"registry/{registry}", f"registry {registry}", len(hosts) + i)
    job_end = {end.job: end for end in result.job_ends}
    ends_by_host: dict[str, list[Any]] = defaultdict(list)
    for end in result.job_ends:
        ends_by_host[end.host].append(end)

    for host in hosts:
        pid = b.pids[f"host/{host}"]
        spans = by_host.get(host, [])
        kinds: dict[str, list[Span]] = defaultdict(list)
        for span in spans:
            kinds[span.kind].append(span)
        # jobs: one lane per concurrently open job, its phases nested inside
        jobs = sorted(kinds.get("job", []), key=lambda s: (s.start, s.job))
        lanes = pack_lanes([(s.start, s.end, s.job) for s in jobs])
        lane_of_job = {s.job: lanes[s.job] for s in jobs}
        for span in jobs:
            tid = b.thread(pid, f"jobs {lane_of_job[span.job] + 1}")
            args = _args(span)
            if span.job in job_end and job_end[span.job].error:
                args["error"] = job_end[span.job].error
            b.complete(pid, tid, f"job {span.job} ({span.subject})", span.start, span.end, "job", args)
        for span in kinds.get("api", []):
            wait = span.attrs.get("queue", 0.0)
            if wait > 0 and span.job in lane_of_job:
                tid = b.thread(pid, f"jobs {lane_of_job[span.job] + 1}")
                b.complete(pid, tid, f"queue ({span.subject})", span.start, span.start + wait, "queue", _args(span))
        for kind in PHASE_KINDS:
            for span in kinds.get(kind, []):
                if span.job in lane_of_job:
                    tid = b.thread(pid, f"jobs {lane_of_job[span.job] + 1}")
                    b.complete(pid, tid, f"{kind} {span.subject}", span.start, span.end, kind, _args(span))
        # the daemon's resources
        _lanes(b, pid, "daemon worker", _api_service(kinds.get("api", [])), lambda s: f"API {s.subject}", "api")
        _lanes(b, pid, "download slot", kinds.get("download", []),
               lambda s: f"download {short_id(s.subject)} ({format_size(s.attrs.get('bytes', 0))})", "download")
        _lanes(b, pid, "unpack", kinds.get("unpack", []), lambda s: f"extract {short_id(s.subject)}", "unpack")
        # containers: a track per container, every activity whose subject is that container
        container_names = {s.subject for k in ("start", "run", "stop") for s in kinds.get(k, [])}
        containers = sorted(container_names, key=_natural)
        container_spans: dict[str, list[Span]] = defaultdict(list)
        placed: set[int] = set()
        for span in spans:
            if span.subject in container_names and span.kind not in ("job", "api"):
                container_spans[span.subject].append(span)
                placed.add(id(span))
        for name in containers:
            _lanes(b, pid, f"container {name} /", container_spans[name], lambda s: s.kind, "container")
        # everything else, a track per kind (new kinds appear here as they are recorded)
        skip = {"job", "api", "download", "unpack", "pull_layer", "request", *PHASE_KINDS}
        for kind in sorted(kinds):
            if kind in skip:
                continue
            rest = [s for s in kinds[kind] if id(s) not in placed]
            _lanes(b, pid, kind, rest, lambda s: f"{s.kind} {s.subject}", kind)
        # instants: failures, and whatever took no time
        for span in spans:
            if span.end == span.start and span.kind not in ("pull_layer",):
                tid = b.thread(pid, "events")
                b.instant(pid, tid, f"{span.kind}: {span.subject}", span.start,
                          "failure" if is_failure(span) else span.kind, _args(span))
            elif is_failure(span) and span.kind != "request":
                tid = b.thread(pid, "events")
                b.instant(pid, tid, f"{span.kind} failed: {span.subject}", span.end, "failure", _args(span))
        for end in ends_by_host.get(host, ()):
            if end.status != "completed":
                tid = b.thread(pid, "events")
                b.instant(pid, tid, f"job {end.job} {end.status}", end.end, "failure",
                          {"job": end.job, "error": end.error, "workload": end.workload})

    # registries: a track per link to a host (its downloads), and its requests
    for registry in registries:
        pid = b.pids[f"registry/{registry}"]
        downloads: dict[str, list[Span]] = defaultdict(list)
        for span in result.spans_of("download"):
            if span.attrs.get("registry") == registry:
                downloads[span.host].append(span)
        for host in sorted(downloads, key=_natural):
            _lanes(b, pid, f"link to {host} /", downloads[host],
                   lambda s: f"blob {short_id(s.subject)} ({format_size(s.attrs.get('bytes', 0))})", "download")
        requests = [s for s in result.spans_of("request") if s.attrs.get("registry") == registry]
        _lanes(b, pid, "requests", requests, lambda s: f"{s.subject} -> {s.attrs.get('status', '')}", "request")
        for span in requests:
            if is_failure(span):
                tid = b.thread(pid, "events")
                b.instant(pid, tid, f"{span.attrs.get('status')} {span.subject}", span.end, "failure", _args(span))

    # the network: link samples as counters (bits per second), one per directed link
    links = result.spans_of("link")
    if links or no_host:
        pid = b.process("network", "network", len(hosts) + len(registries))
        starts = {(s.subject, s.start) for s in links}
        for span in sorted(links, key=lambda s: (s.start, s.subject)):
            if span.end > span.start:
                rate = float(span.attrs.get("bytes", 0.0)) * 8 / (span.end - span.start) / 1e6
                b.counter(pid, f"link {span.subject} (Mbit/s)", span.start, {"Mbit/s": round(rate, 6)})
                if (span.subject, span.end) not in starts:  # idle after this sample
                    b.counter(pid, f"link {span.subject} (Mbit/s)", span.end, {"Mbit/s": 0.0})
        other = [s for s in no_host if s.kind != "link"]
        for kind in sorted({s.kind for s in other}):
            _lanes(b, pid, kind, [s for s in other if s.kind == kind], lambda s: f"{s.kind} {s.subject}", kind)
            for span in other:
                if span.kind == kind and span.end == span.start:
                    b.instant(pid, b.thread(pid, "events"), f"{kind}: {span.subject}", span.start, kind, _args(span))
    return {
        "traceEvents": b.events,
        "displayTimeUnit": "ms",
        "otherData": {"scenario": result.scenario, "seed": result.seed, "time": "simulated",
                      "jobs": len(result.job_ends), "expected_jobs": result.expected_jobs},
    }


def write_trace(result: SimResult, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    # one dumps (C encoder) rather than dump (chunked Python encoder): 3x faster on big traces
    path.write_text(json.dumps(build_trace(result), separators=(",", ":"), default=str) + "\n", encoding="utf-8")
    return path
