"""trace.json: the run in Chrome's Trace Event format, which ui.perfetto.dev and chrome://tracing open.

A process per host and per registry (plus one for the network when link samples exist). In a host:
lanes of jobs (each job's phases nested inside it), one track per daemon worker, per download slot, per
unpack lane and per container, and a track per other kind of activity; instant events for failures and
for everything that took no time (CLI messages, 429s, a new feature's events). In a registry: a track per
link to each host it served, plus its requests. Tracks are recovered from spans by greedy lane packing,
which never needs more lanes than the resource had at once (``derive.pack_lanes``).

Timestamps are microseconds of simulated time. Complete ("X") events on one track never partially
overlap (the test checks), so every viewer nests them correctly.

A big run's trace has hundreds of thousands of events, so each event is written straight to JSON text
(``jsontext``: the bytes ``json.dumps`` would write) instead of being built as a dict and encoded later.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from math import isfinite
from pathlib import Path
from typing import Any

import numpy as np

from dsim.records import PHASE_KINDS, JobEnd, Span, SpanKind
from dsim.reports.derive import is_failure, lane_numbers, pack_lanes, short_id
from dsim.reports.jsontext import PLAIN, members, number, string, value
from dsim.result import SimResult
from dsim.span_store import SpanStore
from dsim.units import format_size

#: Kinds drawn on the host's job lanes, nested inside the job's own span.
JOB_LANE_KINDS = frozenset(PHASE_KINDS)
#: Phases whose subject is a container: the container tracks' names.
_CONTAINER_PHASES = (SpanKind.START, SpanKind.RUN, SpanKind.STOP)
#: Span kinds placed on tracks of their own (or nowhere) rather than on a track per kind.
_OWN_TRACKS = frozenset({SpanKind.JOB, SpanKind.API, SpanKind.DOWNLOAD, SpanKind.UNPACK, SpanKind.PULL_LAYER,
                         SpanKind.REQUEST, *PHASE_KINDS})


def _natural(text: str) -> tuple[Any, ...]:
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text))


def _us(seconds: float) -> float:
    return round(seconds * 1e6, 3)


def _round3(values: np.ndarray) -> np.ndarray:
    """``round(v, 3)`` of each element, bit for bit as Python computes it, without a Python call each.

    Python rounds the exact binary value to the nearest multiple of 0.001 (half to even) and returns the
    double nearest that decimal. Here ``rint(v * 1000)`` finds that multiple unless ``v * 1000``, itself
    rounded, lies within its rounding error of a half (or is too big or not finite): those few go to
    ``round``. Dividing the exact integer by 1000 is correctly rounded, so it gives the same double.
    """
    scaled = values * 1000.0
    whole = np.rint(scaled)
    with np.errstate(invalid="ignore"):
        margin = np.abs(np.abs(scaled - whole) - 0.5)
        safe = (np.abs(scaled) < 2.0**52) & (margin > np.abs(scaled) * 2.0**-50 + 1e-300)
    out = whole / 1000.0
    for i in np.flatnonzero(~safe):
        out[i] = round(float(values[i]), 3)
    return out


def _timings(starts: Sequence[float], ends: Sequence[float]) -> list[str]:
    """``"ts":...,"dur":...`` of a complete event for each interval, as ``_timing`` writes them, with the
    rounding done for all at once (rounding in Python, three times per event, was the trace's biggest cost)."""
    ts = _round3(np.asarray(starts, dtype=float) * 1e6)
    dur = _round3(_round3(np.asarray(ends, dtype=float) * 1e6) - ts)
    dur = np.where(dur > 0.0, dur, 0.0)  # max(0.0, dur): 0.0 for -0.0 and NaN too
    return [f'"ts":{t},"dur":{d}' if isfinite(t + d) else _json_timing(t, d)
            for t, d in zip(ts.tolist(), dur.tolist(), strict=True)]


def _timing(start: float, end: float) -> str:
    """``"ts":...,"dur":...`` of one complete event: microseconds, rounded to nanoseconds."""
    ts = _us(start)
    dur = max(0.0, round(_us(end) - ts, 3))
    return f'"ts":{ts},"dur":{dur}' if isfinite(ts + dur) else _json_timing(ts, dur)


def _json_timing(ts: float, dur: float) -> str:
    """str(float) is float.__repr__, what json writes for a finite float; this writes the others."""
    return f'"ts":{number(ts)},"dur":{number(dur)}'


class _Tails:
    """The end of each span's complete event (its times and args), made in one pass over the spans.

    Keyed by ``id``: valid while the spans are alive, which the caller's list of them ensures."""

    def __init__(self, spans: Sequence[Span]) -> None:
        timings = _timings([s.start for s in spans], [s.end for s in spans])
        self._tails = {id(s): f'{t},"args":{_args(s)}}}' for s, t in zip(spans, timings, strict=True)}

    def of(self, span: Span) -> str:
        return self._tails[id(span)]


def _args(span: Span, error: str | None = None) -> str:
    """The span's args as JSON text: its attributes sorted by key, then ``job`` (when it has one),
    ``subject`` and ``error`` (when given)."""
    attrs = span.attrs
    if not attrs and error is None and span.job >= 0:  # most spans
        return f'{{"job":{value(span.job)},"subject":{string(span.subject)}}}'
    if attrs and ("job" in attrs or "subject" in attrs or (error is not None and "error" in attrs)):
        return _args_colliding(span, error)
    parts = [members(attrs)] if attrs else []
    if span.job >= 0:
        parts.append(f'"job":{value(span.job)}')
    parts.append(f'"subject":{string(span.subject)}')
    if error is not None:
        parts.append(f'"error":{value(error)}')
    return "{" + ",".join(parts) + "}"


def _args_colliding(span: Span, error: str | None) -> str:
    """``_args`` when an attribute is named like an added key: the key keeps its sorted place."""
    args: dict[str, Any] = dict(sorted(span.attrs.items()))
    if span.job >= 0:
        args["job"] = span.job
    args["subject"] = span.subject
    if error is not None:
        args["error"] = error
    return PLAIN.encode(args)


class _Builder:
    """The trace's events as JSON texts, in order; processes and threads are named when first used."""

    def __init__(self) -> None:
        self.tails = _Tails(())  # the section's spans' (each section sets its own: a host, a registry, ...)
        self.events: list[str] = []
        self.pids: dict[str, int] = {}
        self.tids: dict[tuple[int, str], int] = {}
        self._threads: dict[int, int] = defaultdict(int)

    def take(self) -> list[str]:
        """The events made since the last ``take`` (the writer writes them and lets them go)."""
        events, self.events = self.events, []
        return events

    def _metadata(self, name: str, pid: int, tid: int, arg: str, text: str) -> None:
        self.events.append(f'{{"ph":"M","name":"{name}","pid":{pid},"tid":{tid},"args":{{"{arg}":{text}}}}}')

    def process(self, name: str, label: str, sort: int) -> int:
        if name not in self.pids:
            pid = len(self.pids) + 1
            self.pids[name] = pid
            self._metadata("process_name", pid, 0, "name", string(label))
            self._metadata("process_sort_index", pid, 0, "sort_index", value(sort))
        return self.pids[name]

    def thread(self, pid: int, name: str) -> int:
        key = (pid, name)
        if key not in self.tids:
            self._threads[pid] += 1
            tid = self._threads[pid]
            self.tids[key] = tid
            self._metadata("thread_name", pid, tid, "name", string(name))
            self._metadata("thread_sort_index", pid, tid, "sort_index", value(tid))
        return self.tids[key]

    def complete(self, pid: int, tid: int, name: str, start: float, end: float, cat: str, args: str) -> None:
        """A complete event; ``cat`` is already JSON text (callers escape it once per track, not per span)."""
        self.events.append(f'{{"ph":"X","name":{string(name)},"cat":{cat},"pid":{pid},"tid":{tid},'
                           f'{_timing(start, end)},"args":{args}}}')

    def span(self, pid: int, tid: int, name: str, cat: str, tail: str) -> None:
        """A span's complete event, its ``tail`` from ``_Tails``."""
        self.events.append(f'{{"ph":"X","name":{string(name)},"cat":{cat},"pid":{pid},"tid":{tid},{tail}')

    def instant(self, pid: int, tid: int, name: str, at: float, cat: str, args: str) -> None:
        self.events.append(f'{{"ph":"i","s":"t","name":{string(name)},"cat":{string(cat)},"pid":{pid},"tid":{tid},'
                           f'"ts":{number(_us(at))},"args":{args}}}')

    def counter(self, pid: int, name: str, at: float, values: dict[str, float]) -> None:
        self.events.append(f'{{"ph":"C","name":{string(name)},"pid":{pid},"tid":0,"ts":{number(_us(at))},'
                           f'"args":{PLAIN.encode(values)}}}')


def _lanes(builder: _Builder, pid: int, label: str, spans: Iterable[Span], name_of: Callable[[Span], str],
           cat: str, tails: _Tails | None = None) -> None:
    """Spans onto numbered tracks ``label 1, label 2, ...`` by lane packing (no overlaps within a track).
    ``tails``: of these spans when they are not the run's own (default: the builder's)."""
    tails = tails or builder.tails
    items = [s for s in spans if s.end > s.start]
    tids: dict[int, int] = {}  # lane -> tid: one name lookup per lane, not per span
    category = string(cat)
    for span, lane in zip(items, lane_numbers([(s.start, s.end) for s in items]), strict=True):
        tid = tids.get(lane)
        if tid is None:
            tid = tids[lane] = builder.thread(pid, f"{label} {lane + 1}")
        builder.span(pid, tid, name_of(span), category, tails.of(span))


def _api_service(spans: list[Span]) -> list[Span]:
    """An API call's hold on a worker: from the end of its wait to its end."""
    return [Span(s.kind, s.subject, s.host, s.start + s.attrs.get("queue", 0.0), s.end, s.job, s.attrs) for s in spans]


def _job_lanes(b: _Builder, pid: int, kinds: dict[str, list[Span]], job_end: dict[int, JobEnd]) -> None:
    """One lane per concurrently open job, the job's wait for workers and its phases nested inside."""
    jobs = sorted(kinds.get(SpanKind.JOB, []), key=lambda s: (s.start, s.job))
    lanes = pack_lanes([(s.start, s.end, s.job) for s in jobs])
    tid_of_job: dict[int, int] = {}
    for span in jobs:
        tid = tid_of_job[span.job] = b.thread(pid, f"jobs {lanes[span.job] + 1}")
        end = job_end.get(span.job)
        error = end.error if end is not None and end.error else None
        if error is None:
            b.span(pid, tid, f"job {span.job} ({span.subject})", '"job"', b.tails.of(span))
        else:
            b.complete(pid, tid, f"job {span.job} ({span.subject})", span.start, span.end, '"job"',
                       _args(span, error))
    for span in kinds.get(SpanKind.API, []):
        wait = span.attrs.get("queue", 0.0)
        if wait > 0 and span.job in tid_of_job:
            b.complete(pid, tid_of_job[span.job], f"queue ({span.subject})", span.start, span.start + wait, '"queue"',
                       _args(span))
    for kind in PHASE_KINDS:
        category = string(kind)
        for span in kinds.get(kind, []):
            if span.job in tid_of_job:
                b.span(pid, tid_of_job[span.job], f"{kind} {span.subject}", category, b.tails.of(span))


def _download_name(span: Span) -> str:
    return f"download {short_id(span.subject)} ({format_size(span.attrs.get('bytes', 0))})"


def _daemon_tracks(b: _Builder, pid: int, kinds: dict[str, list[Span]]) -> None:
    """The daemon's resources: its API workers, download slots and unpack lanes."""
    service = _api_service(kinds.get(SpanKind.API, []))
    _lanes(b, pid, "daemon worker", service, lambda s: f"API {s.subject}", SpanKind.API, _Tails(service))
    _lanes(b, pid, "download slot", kinds.get(SpanKind.DOWNLOAD, []), _download_name, SpanKind.DOWNLOAD)
    _lanes(b, pid, "unpack", kinds.get(SpanKind.UNPACK, []), lambda s: f"extract {short_id(s.subject)}",
           SpanKind.UNPACK)


def _container_tracks(b: _Builder, pid: int, spans: list[Span], kinds: dict[str, list[Span]]) -> set[int]:
    """A track per container: every activity whose subject is that container. Returns the ids of the spans
    placed there."""
    container_names = {s.subject for k in _CONTAINER_PHASES for s in kinds.get(k, [])}
    container_spans: dict[str, list[Span]] = defaultdict(list)
    placed: set[int] = set()
    for span in spans:
        if span.subject in container_names and span.kind not in (SpanKind.JOB, SpanKind.API):
            container_spans[span.subject].append(span)
            placed.add(id(span))
    for name in sorted(container_names, key=_natural):
        _lanes(b, pid, f"container {name} /", container_spans[name], lambda s: s.kind, "container")
    return placed


def _host_instants(b: _Builder, pid: int, spans: list[Span], ends: list[JobEnd]) -> None:
    """Instants: failures, whatever took no time, and jobs that did not complete."""
    for span in spans:
        if span.end == span.start and span.kind != SpanKind.PULL_LAYER:
            tid = b.thread(pid, "events")
            b.instant(pid, tid, f"{span.kind}: {span.subject}", span.start,
                      "failure" if is_failure(span) else span.kind, _args(span))
        elif span.kind != SpanKind.REQUEST and is_failure(span):
            tid = b.thread(pid, "events")
            b.instant(pid, tid, f"{span.kind} failed: {span.subject}", span.end, "failure", _args(span))
    for end in ends:
        if end.status != "completed":
            tid = b.thread(pid, "events")
            b.instant(pid, tid, f"job {end.job} {end.status}", end.end, "failure",
                      PLAIN.encode({"job": end.job, "error": end.error, "workload": end.workload}))


def _host(b: _Builder, host: str, spans: list[Span], job_end: dict[int, JobEnd], ends: list[JobEnd]) -> None:
    pid = b.pids[f"host/{host}"]
    kinds: dict[str, list[Span]] = defaultdict(list)
    for span in spans:
        kinds[span.kind].append(span)
    _job_lanes(b, pid, kinds, job_end)
    _daemon_tracks(b, pid, kinds)
    placed = _container_tracks(b, pid, spans, kinds)
    # everything else, a track per kind (new kinds appear here as they are recorded)
    for kind in sorted(kinds):
        if kind not in _OWN_TRACKS:
            rest = [s for s in kinds[kind] if id(s) not in placed]
            _lanes(b, pid, kind, rest, lambda s: f"{s.kind} {s.subject}", kind)
    _host_instants(b, pid, spans, ends)


def _registry(b: _Builder, of_kind: dict[str, list[Span]], registry: str) -> None:
    """A track per link to a host (its downloads), and its requests."""
    pid = b.pids[f"registry/{registry}"]
    downloads: dict[str, list[Span]] = defaultdict(list)
    for span in of_kind.get(SpanKind.DOWNLOAD, []):
        if span.attrs.get("registry") == registry:
            downloads[span.host].append(span)
    requests = [s for s in of_kind.get(SpanKind.REQUEST, []) if s.attrs.get("registry") == registry]
    b.tails = _Tails([*(s for spans in downloads.values() for s in spans), *requests])
    for host in sorted(downloads, key=_natural):
        _lanes(b, pid, f"link to {host} /", downloads[host],
               lambda s: f"blob {short_id(s.subject)} ({format_size(s.attrs.get('bytes', 0))})",
               SpanKind.DOWNLOAD)
    _lanes(b, pid, "requests", requests, lambda s: f"{s.subject} -> {s.attrs.get('status', '')}", SpanKind.REQUEST)
    for span in requests:
        if is_failure(span):
            tid = b.thread(pid, "events")
            b.instant(pid, tid, f"{span.attrs.get('status')} {span.subject}", span.end, "failure", _args(span))


def _network(b: _Builder, pid: int, links: list[Span], no_host: list[Span]) -> None:
    """Link samples as counters (bits per second), one per directed link; spans of no host by kind."""
    starts = {(s.subject, s.start) for s in links}
    for span in sorted(links, key=lambda s: (s.start, s.subject)):
        if span.end > span.start:
            rate = float(span.attrs.get("bytes", 0.0)) * 8 / (span.end - span.start) / 1e6
            b.counter(pid, f"link {span.subject} (Mbit/s)", span.start, {"Mbit/s": round(rate, 6)})
            if (span.subject, span.end) not in starts:  # idle after this sample
                b.counter(pid, f"link {span.subject} (Mbit/s)", span.end, {"Mbit/s": 0.0})
    other = [s for s in no_host if s.kind != SpanKind.LINK]
    for kind in sorted({s.kind for s in other}):
        _lanes(b, pid, kind, [s for s in other if s.kind == kind], lambda s: f"{s.kind} {s.subject}", kind)
        for span in other:
            if span.kind == kind and span.end == span.start:
                b.instant(pid, b.thread(pid, "events"), f"{kind}: {span.subject}", span.start, kind, _args(span))


def _sections(result: SimResult) -> Iterator[list[str]]:
    """The trace's events in order, a section at a time (the processes, each host, each registry, the
    network): only one section's spans and texts are alive at once, so a big run's trace is written with
    memory of its largest host, not of the whole run."""
    b = _Builder()
    with_spans, host_spans, no_host = _by_host(result)
    hosts = sorted(with_spans | {end.host for end in result.job_ends} | set(result.hosts), key=_natural)
    registries = sorted(set(result.registries) | {str(r) for r in _registry_names(result)}, key=_natural)
    for i, host in enumerate(hosts):
        b.process(f"host/{host}", f"host {host}", i)
    for i, registry in enumerate(registries):
        b.process(f"registry/{registry}", f"registry {registry}", len(hosts) + i)
    yield b.take()
    job_end = {end.job: end for end in result.job_ends}
    ends_by_host: dict[str, list[JobEnd]] = defaultdict(list)
    for end in result.job_ends:
        ends_by_host[end.host].append(end)
    for host in hosts:
        spans = host_spans(host)
        b.tails = _Tails(spans)
        _host(b, host, spans, job_end, ends_by_host.get(host, []))
        yield b.take()
    of_kind: dict[str, list[Span]] = {kind: list(result.spans_of(kind))
                                      for kind in (SpanKind.DOWNLOAD, SpanKind.REQUEST)}
    for registry in registries:
        _registry(b, of_kind, registry)
        yield b.take()
    del of_kind
    links = list(result.spans_of(SpanKind.LINK))
    others = no_host()
    if links or others:
        b.tails = _Tails(others)
        _network(b, b.process("network", "network", len(hosts) + len(registries)), links, others)
        yield b.take()


def _by_host(result: SimResult) -> tuple[set[str], Callable[[str], list[Span]], Callable[[], list[Span]]]:
    """The hosts that have spans; a function making one host's spans (in record order); one making the
    spans of no host. From a SpanStore, each host's spans are made only when asked for."""
    spans = result.spans
    if isinstance(spans, SpanStore):
        store = spans
        groups = store.groups("host")
        hostless = groups.pop("", None)
        return (set(groups), lambda host: store.take(groups[host]) if host in groups else [],
                lambda: store.take(hostless) if hostless is not None else [])
    by_host: dict[str, list[Span]] = defaultdict(list)
    no_host: list[Span] = []
    for span in spans:
        (by_host[span.host] if span.host else no_host).append(span)
    return set(by_host), lambda host: by_host.get(host, []), lambda: no_host


def _registry_names(result: SimResult) -> set[Any]:
    """Every value of a span's ``registry`` attribute."""
    if isinstance(result.spans, SpanStore):
        return result.spans.attr_values("registry")
    return {s.attrs["registry"] for s in result.spans if "registry" in s.attrs}


def _other_data(result: SimResult) -> str:
    return json.dumps({"scenario": result.scenario, "seed": result.seed, "time": "simulated",
                       "jobs": len(result.job_ends), "expected_jobs": result.expected_jobs},
                      separators=(",", ":"), default=str)


def trace_text(result: SimResult) -> str:
    """The trace as JSON text (what ``json.dumps(build_trace(result), separators=(",", ":"))`` gives)."""
    events = [event for section in _sections(result) for event in section]
    return f'{{"traceEvents":[{",".join(events)}],"displayTimeUnit":"ms","otherData":{_other_data(result)}}}'


def build_trace(result: SimResult) -> dict[str, Any]:
    """The trace as a JSON-ready dict (for tests and tools; ``write_trace`` writes the text directly)."""
    loaded: dict[str, Any] = json.loads(trace_text(result))
    return loaded


def write_trace(result: SimResult, path: Path) -> Path:
    """Write trace.json a section at a time (the same bytes as ``trace_text`` and a newline)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        out.write('{"traceEvents":[')
        first = True
        for section in _sections(result):
            if section:
                out.write(("" if first else ",") + ",".join(section))
                first = False
        out.write(f'],"displayTimeUnit":"ms","otherData":{_other_data(result)}}}\n')
    return path
