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
(``jsontext``: the bytes ``json.dumps`` would write) instead of being built as a dict and encoded later,
from each section's spans as columns (``trace_text.Columns``: times rounded and printed at once, span
objects never made).
"""

from __future__ import annotations

import functools
import json
import re
import shutil
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from itertools import repeat
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from dsim.records import PHASE_KINDS, JobEnd, Span, SpanKind
from dsim.reports.derive import FAILURE_ATTRS, lane_numbers, pack_lanes, short_id
from dsim.reports.jsontext import PLAIN, number, string, value
from dsim.reports.trace_text import Columns, kind_failed, round3, timing_text, ts_texts
from dsim.result import SimResult
from dsim.span_store import SpanStore
from dsim.units import format_size

#: Kinds drawn on the host's job lanes, nested inside the job's own span.
JOB_LANE_KINDS = frozenset(PHASE_KINDS)
#: Phases whose subject is a container: the container tracks' names.
_CONTAINER_PHASES = (SpanKind.START, SpanKind.RUN, SpanKind.STOP)
_FIRST = itemgetter(0)
#: Kinds on a host's job lanes whatever they took, and kinds whose spans are written elsewhere or as instants
#: (``_likely_events``).
_ALWAYS_DRAWN = frozenset({SpanKind.JOB, *PHASE_KINDS})
_DRAWN_ELSEWHERE = frozenset({SpanKind.API, SpanKind.REQUEST, SpanKind.PULL_LAYER})
#: Span kinds placed on tracks of their own (or nowhere) rather than on a track per kind.
_OWN_TRACKS = frozenset({SpanKind.JOB, SpanKind.API, SpanKind.DOWNLOAD, SpanKind.UNPACK, SpanKind.PULL_LAYER,
                         SpanKind.REQUEST, *PHASE_KINDS})


_DIGITS = re.compile(r"(\d+)")


def _natural(text: str) -> tuple[Any, ...]:
    """runner-2 before runner-10 (the pattern compiled once: a host sorts hundreds of container names)."""
    return tuple(int(part) if part.isdigit() else part for part in _DIGITS.split(text))


def _us(seconds: float) -> float:
    return round(seconds * 1e6, 3)


#: ``round(v, 3)`` of each element of an array, bit for bit as Python rounds (``trace_text.round3``).
_round3 = round3


class _Builder:
    """The trace's events as JSON texts, in order; processes and threads are named when first used."""

    def __init__(self) -> None:
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
        tid = self.tids.get((pid, name))
        if tid is None:  # named when first used: its name and sort index, both as ``_metadata`` writes them
            self._threads[pid] += 1
            tid = self.tids[pid, name] = self._threads[pid]
            head = '{"ph":"M","name":"thread_'
            self.events += (f'{head}name","pid":{pid},"tid":{tid},"args":{{"name":{string(name)}}}}}',
                            f'{head}sort_index","pid":{pid},"tid":{tid},"args":{{"sort_index":{tid}}}}}')
        return tid

    def complete(self, pid: int, tid: int, name: str, start: float, end: float, cat: str, args: str) -> None:
        """A complete event; ``cat`` is already JSON text (callers escape it once per track, not per span)."""
        self.events.append(f'{{"ph":"X","name":{string(name)},"cat":{cat},"pid":{pid},"tid":{tid},'
                           f'{timing_text(start, end)},"args":{args}}}')

    def span(self, pid: int, tid: int, name: str, cat: str, tail: str) -> None:
        """A span's complete event, its ``tail`` from ``Columns.tails``."""
        self.events.append(f'{{"ph":"X","name":{string(name)},"cat":{cat},"pid":{pid},"tid":{tid},{tail}')

    def instant(self, pid: int, tid: int, name: str, at: float, cat: str, args: str) -> None:
        self.events.append(f'{{"ph":"i","s":"t","name":{string(name)},"cat":{string(cat)},"pid":{pid},"tid":{tid},'
                           f'"ts":{number(_us(at))},"args":{args}}}')

    def counter(self, pid: int, name: str, at: float, values: dict[str, float]) -> None:
        self.events.append(f'{{"ph":"C","name":{string(name)},"pid":{pid},"tid":0,"ts":{number(_us(at))},'
                           f'"args":{PLAIN.encode(values)}}}')


def _lanes(b: _Builder, pid: int, label: str, spans: Columns, items: Sequence[int], name_of: Callable[[int], str],
           cat: str) -> None:
    """The spans at ``items`` onto numbered tracks ``label 1, label 2, ...`` by lane packing (no overlaps
    within a track), in the order given."""
    start, end = spans.start, spans.end
    items = [i for i in items if end[i] > start[i]]
    if not items:
        return
    tracks: dict[int, str] = {}  # lane -> the event's text after its name: one thread lookup per lane
    category = string(cat)
    names = [name_of(i) for i in items]
    quoted = {name: string(name) for name in set(names)}  # names repeat (API calls, layers)
    events = b.events
    for name, lane, tail in zip(names, lane_numbers([(start[i], end[i]) for i in items]), spans.tails(items),
                                strict=True):
        track = tracks.get(lane)
        if track is None:
            track = tracks[lane] = f',"cat":{category},"pid":{pid},"tid":{b.thread(pid, f"{label} {lane + 1}")},'
        events.append(f'{{"ph":"X","name":{quoted[name]}{track}{tail}')


def _job_lanes(b: _Builder, pid: int, spans: Columns, kinds: dict[str, list[int]], job_end: dict[int, JobEnd]) -> None:
    """One lane per concurrently open job, the job's wait for workers and its phases nested inside."""
    start, end, job, subject = spans.start, spans.end, spans.job, spans.subject
    jobs = sorted(kinds.get(SpanKind.JOB, []), key=lambda i: (start[i], job[i]))
    lanes = pack_lanes([(start[i], end[i], job[i]) for i in jobs])
    tid_of_job: dict[int, int] = {}
    events = b.events
    for i, tail in zip(jobs, spans.tails(jobs), strict=True):
        tid = tid_of_job[job[i]] = b.thread(pid, f"jobs {lanes[job[i]] + 1}")
        ended = job_end.get(job[i])
        error = ended.error if ended is not None and ended.error else None
        if error is None:
            events.append(f'{{"ph":"X","name":{string(f"job {job[i]} ({subject[i]})")},"cat":"job","pid":{pid},'
                          f'"tid":{tid},{tail}')
        else:
            b.complete(pid, tid, f"job {job[i]} ({subject[i]})", start[i], end[i], '"job"', spans.args(i, error))
    api = kinds.get(SpanKind.API, [])
    for i, wait in zip(api, spans.attr_of(api, "queue", 0.0), strict=True):
        if wait > 0 and job[i] in tid_of_job:
            b.complete(pid, tid_of_job[job[i]], f"queue ({subject[i]})", start[i], start[i] + wait, '"queue"',
                       spans.args(i))
    for kind in PHASE_KINDS:
        category = string(kind)
        laned = [i for i in kinds.get(kind, ()) if job[i] in tid_of_job]
        for i, tail in zip(laned, spans.tails(laned), strict=True):
            events.append(f'{{"ph":"X","name":{string(f"{kind} {subject[i]}")},"cat":{category},"pid":{pid},'
                          f'"tid":{tid_of_job[job[i]]},{tail}')


def _download_name(spans: Columns, i: int) -> str:
    return f"download {short_id(spans.subject[i])} ({format_size(spans.attr(i, 'bytes', 0))})"


def _daemon_tracks(b: _Builder, pid: int, spans: Columns, kinds: dict[str, list[int]]) -> None:
    """The daemon's resources: its API workers (an API call's hold on a worker: from the end of its wait to
    its end), download slots and unpack lanes."""
    api = kinds.get(SpanKind.API, [])
    service = spans.subset(api, spans.starts[np.asarray(api, dtype=np.int64)]
                           + np.array(spans.attr_of(api, "queue", 0.0), dtype=float))
    _lanes(b, pid, "daemon worker", service, range(len(api)), lambda i: f"API {service.subject[i]}", SpanKind.API)
    _lanes(b, pid, "download slot", spans, kinds.get(SpanKind.DOWNLOAD, []), lambda i: _download_name(spans, i),
           SpanKind.DOWNLOAD)
    _lanes(b, pid, "unpack", spans, kinds.get(SpanKind.UNPACK, []), lambda i: f"extract {short_id(spans.subject[i])}",
           SpanKind.UNPACK)


def _container_tracks(b: _Builder, pid: int, spans: Columns, kinds: dict[str, list[int]]) -> set[int]:
    """A track per container: every activity whose subject is that container, on numbered lanes as
    ``_lanes`` packs them (``first_free_lanes``), written out for the whole host at once: a host has hundreds
    of containers of a few spans each. Returns the positions of the spans placed there."""
    subject, kind = spans.subject, spans.kind
    names = sorted({subject[i] for k in _CONTAINER_PHASES for i in kinds.get(k, [])}, key=_natural)
    rank = {name: r for r, name in enumerate(names)}
    ranks = np.fromiter(map(rank.get, subject, repeat(-1)), dtype=np.int64, count=len(subject))
    for skipped in (SpanKind.JOB, SpanKind.API):
        ranks[np.asarray(kinds.get(skipped, []), dtype=np.int64)] = -1
    placed = np.flatnonzero(ranks >= 0)  # record order
    drawn = placed[spans.ends[placed] > spans.starts[placed]]
    lanes = first_free_lanes(ranks[drawn], spans.starts[drawn], spans.ends[drawn])
    order = np.argsort(ranks[drawn], kind="stable")  # by container in ``names`` order, each in record order
    kind_texts = {span_kind: string(span_kind) for span_kind in set(kind)}
    events, thread = b.events, b.thread
    tracks: dict[tuple[int, int], str] = {}  # (container, lane) -> the event's text after its name
    written = drawn[order].tolist()
    for r, i, lane, tail in zip(ranks[drawn][order].tolist(), written, lanes[order].tolist(), spans.tails(written),
                                strict=True):
        track = tracks.get((r, lane))
        if track is None:
            tid = thread(pid, f"container {names[r]} / {lane + 1}")
            track = tracks[r, lane] = f',"cat":"container","pid":{pid},"tid":{tid},'
        events.append(f'{{"ph":"X","name":{kind_texts[kind[i]]}{track}{tail}')
    return set(placed.tolist())


def first_free_lanes(groups: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The lane of each interval within its group: taken in order of group, start, end (then as given),
    each gets the lowest lane whose last interval ended by its start, else a new one. The same lanes as
    ``derive.lane_numbers`` of each group's intervals in the order given (a lane is free exactly when its
    last interval has ended), found by a scan of a few lanes instead of two heaps, the order by NumPy."""
    order = np.lexsort((ends, starts, groups))  # stable: ties keep the order given
    lanes = np.empty(len(order), dtype=np.int64)
    taken: list[int] = []
    group: int | None = None
    last: list[float] = []  # lane -> end of its last interval, in the current group
    for g, begin, finish in zip(groups[order].tolist(), starts[order].tolist(), ends[order].tolist(), strict=True):
        if g != group:
            group, last = g, []
        for lane, free in enumerate(last):
            if free <= begin:
                last[lane] = finish
                break
        else:
            lane = len(last)
            last.append(finish)
        taken.append(lane)
    lanes[order] = taken
    return lanes


def _host_instants(b: _Builder, pid: int, spans: Columns, kinds: dict[str, list[int]], ends: list[JobEnd]) -> None:
    """Instants: failures, whatever took no time, and jobs that did not complete. Only spans that took no
    time or have an attribute or kind that can say they failed are looked at."""
    start, end, kind, subject = spans.start, spans.end, spans.kind, spans.subject
    instant = set(np.flatnonzero(spans.starts == spans.ends).tolist())  # took no time
    looked = [i for i in instant if kind[i] == SpanKind.PULL_LAYER]  # these only when they failed
    instant.difference_update(looked)
    for span_kind, items in kinds.items():
        if kind_failed(span_kind) and span_kind != SpanKind.REQUEST:  # a request: only when it took no time
            looked.extend(items)
    looked.extend(_failed_by_attrs(spans, kinds))
    instant.update(i for i in set(looked) if i not in instant and spans.failed(i))
    points = sorted(instant)
    if points:  # written together: their times, args and names made at once
        tid = b.thread(pid, "events")  # named before its first event, as when first used
        names, cats, times = [], [], []
        for i in points:
            if end[i] == start[i] and kind[i] != SpanKind.PULL_LAYER:
                names.append(f"{kind[i]}: {subject[i]}")
                cats.append("failure" if spans.failed(i) else kind[i])
                times.append(start[i])
            else:
                names.append(f"{kind[i]} failed: {subject[i]}")
                cats.append("failure")
                times.append(end[i])
        quoted = {cat: string(cat) for cat in set(cats)}
        track = f',"pid":{pid},"tid":{tid},'
        b.events += [f'{{"ph":"i","s":"t","name":{string(name)},"cat":{quoted[cat]}{track}{ts},"args":{args}}}'
                     for name, cat, ts, args in zip(names, cats, ts_texts(np.array(times, dtype=float)),
                                                    spans.args_texts(points), strict=True)]
    for ended in ends:
        if ended.status != "completed":
            tid = b.thread(pid, "events")
            b.instant(pid, tid, f"job {ended.job} {ended.status}", ended.end, "failure",
                      PLAIN.encode({"job": ended.job, "error": ended.error, "workload": ended.workload}))


def _failed_by_attrs(spans: Columns, kinds: dict[str, list[int]]) -> list[int]:
    """The spans whose attributes say they failed, of kinds that do not fail by kind alone (requests aside:
    those count only when they took no time), a kind and shape of attributes at a time: a shape without a
    failure attribute is passed over whole."""
    packed, found = spans.packed, []
    for span_kind, items in kinds.items():
        if span_kind == SpanKind.REQUEST or kind_failed(span_kind):
            continue
        packs = list(map(packed.__getitem__, items))
        for keys in set(map(_FIRST, filter(None, packs))):
            if not FAILURE_ATTRS.isdisjoint(keys):
                found += _failed_of_shape(spans, [(i, p) for i, p in zip(items, packs, strict=True)
                                                  if p is not None and p[0] == keys])
    return found


#: Values whose equal values are the same to ``derive.failed`` when they are of one type (400 and 400.0 are
#: not: a float status is no HTTP error).
_PLAIN = frozenset({str, int, float, bool, type(None)})


def _failed_of_shape(spans: Columns, shaped: list[tuple[int, Any]]) -> list[int]:
    """Of spans of one kind and shape (position, packed tuple), those that failed: ``failed`` asked once per
    distinct value of the failure attributes (a process's status and oom repeat, its other attributes do not)
    when each is of one plain type, else once per distinct packed tuple."""
    keys = shaped[0][1][0]
    places = [keys.index(key) + 1 for key in keys if key in FAILURE_ATTRS]
    plain = all(len(types) == 1 and types <= _PLAIN for types in ({type(p[at]) for _, p in shaped} for at in places))
    pick = itemgetter(*places) if plain else id
    values = [pick(p) for _, p in shaped]
    bad = {value for value, (i, _) in dict(zip(values, shaped, strict=True)).items() if spans.failed(i)}
    return [i for value, (i, _) in zip(values, shaped, strict=True) if value in bad] if bad else []


def _likely_events(spans: Columns, kinds: dict[str, list[int]]) -> list[int]:
    """The host's spans that will be complete events on its tracks (a job's phases whatever they took; the
    rest when they took time), less its API calls (on worker tracks from the end of their wait), requests and
    layers (written in the registries' sections or as instants). A span missed here gets its text later."""
    took_time = spans.ends > spans.starts
    for kind, items in kinds.items():
        if kind in _ALWAYS_DRAWN:
            took_time[items] = True
        elif kind in _DRAWN_ELSEWHERE:
            took_time[items] = False
    return np.flatnonzero(took_time).tolist()


def _by_kind(spans: Columns) -> dict[str, list[int]]:
    kinds: dict[str, list[int]] = defaultdict(list)
    for i, kind in enumerate(spans.kind):
        kinds[kind].append(i)
    return kinds


def _host(b: _Builder, host: str, spans: Columns, job_end: dict[int, JobEnd], ends: list[JobEnd]) -> None:
    pid = b.pids[f"host/{host}"]
    kinds = _by_kind(spans)
    spans.tails(_likely_events(spans, kinds))  # made in one batch: a batch has a fixed cost
    _job_lanes(b, pid, spans, kinds, job_end)
    _daemon_tracks(b, pid, spans, kinds)
    placed = _container_tracks(b, pid, spans, kinds)
    # everything else, a track per kind (new kinds appear here as they are recorded)
    for kind in sorted(kinds):
        if kind not in _OWN_TRACKS:
            rest = [i for i in kinds[kind] if i not in placed]
            _lanes(b, pid, kind, spans, rest, lambda i: f"{spans.kind[i]} {spans.subject[i]}", kind)
    _host_instants(b, pid, spans, kinds, ends)


def _registry(b: _Builder, downloads: Columns, requests: Columns, registry: str, served: _Served) -> None:
    """A track per link to a host (its downloads), and its requests."""
    pid = b.pids[f"registry/{registry}"]
    by_host: dict[str, list[int]] = defaultdict(list)
    for i, name in enumerate(served.downloads):
        if name == registry:
            by_host[downloads.host[i]].append(i)
    for host in sorted(by_host, key=_natural):
        _lanes(b, pid, f"link to {host} /", downloads, by_host[host],
               lambda i: f"blob {short_id(downloads.subject[i])} ({format_size(downloads.attr(i, 'bytes', 0))})",
               SpanKind.DOWNLOAD)
    mine = [i for i, name in enumerate(served.requests) if name == registry]
    status, subject = served.statuses, requests.subject
    _lanes(b, pid, "requests", requests, mine, lambda i: f"{subject[i]} -> {status[i]}", SpanKind.REQUEST)
    packed = requests.packed
    failing = {key for key, i in {id(packed[i]): i for i in mine}.items() if requests.failed(i)}  # per tuple
    for i in mine:
        if id(packed[i]) in failing:
            tid = b.thread(pid, "events")
            b.instant(pid, tid, f"{requests.attr(i, 'status')} {subject[i]}", requests.end[i], "failure",
                      requests.args(i))


class _Served:
    """Which registry served each download and each request, and each request's status: read once for all
    the registries' sections (a request's attributes are a tuple shared by many: read a shape at a time)."""

    def __init__(self, downloads: Columns, requests: Columns) -> None:
        self.downloads = downloads.attr_of(range(len(downloads)), "registry")
        self.requests = requests.attr_of(range(len(requests)), "registry")
        self.statuses = requests.attr_of(range(len(requests)), "status", "")


def _network(b: _Builder, pid: int, links: list[Span], no_host: Columns) -> None:
    """Link samples as counters (bits per second), one per directed link; spans of no host by kind."""
    starts = {(s.subject, s.start) for s in links}
    for span in sorted(links, key=lambda s: (s.start, s.subject)):
        if span.end > span.start:
            rate = float(span.attrs.get("bytes", 0.0)) * 8 / (span.end - span.start) / 1e6
            b.counter(pid, f"link {span.subject} (Mbit/s)", span.start, {"Mbit/s": round(rate, 6)})
            if (span.subject, span.end) not in starts:  # idle after this sample
                b.counter(pid, f"link {span.subject} (Mbit/s)", span.end, {"Mbit/s": 0.0})
    kinds = _by_kind(no_host)
    for kind in sorted(k for k in kinds if k != SpanKind.LINK):
        _lanes(b, pid, kind, no_host, kinds[kind], lambda i: f"{no_host.kind[i]} {no_host.subject[i]}", kind)
        for i in kinds[kind]:
            if no_host.end[i] == no_host.start[i]:
                b.instant(pid, b.thread(pid, "events"), f"{kind}: {no_host.subject[i]}", no_host.start[i], kind,
                          no_host.args(i))


def _sections(result: SimResult, hosts_from: int = 0, hosts_to: int | None = None, *, head: bool = True,
              tail: bool = True) -> Iterator[list[str]]:
    """The trace's events in order, a section at a time (the processes, each host, each registry, the
    network): only one section's spans and texts are alive at once, so a big run's trace is written with
    memory of its largest host, not of the whole run. A piece of it (``TracePieces``): the processes
    (``head``), the hosts ``hosts_from`` to ``hosts_to`` in their order, the registries and the network
    (``tail``); every piece numbers the processes as the whole does, and each host's threads are its own."""
    b = _Builder()
    with_spans, host_columns, no_host = _by_host(result)
    hosts, registries = _process_names(result, with_spans)
    for i, host in enumerate(hosts):
        b.process(f"host/{host}", f"host {host}", i)
    for i, registry in enumerate(registries):
        b.process(f"registry/{registry}", f"registry {registry}", len(hosts) + i)
    header = b.take()
    if head:
        yield header
    job_end = dict(zip(map(attrgetter("job"), result.job_ends), result.job_ends, strict=True))
    ends_by_host: dict[str, list[JobEnd]] = defaultdict(list)
    for end in result.job_ends:
        ends_by_host[end.host].append(end)
    for host, spans in host_columns(hosts[hosts_from:hosts_to]):
        _host(b, host, spans, job_end, ends_by_host.get(host, []))
        yield b.take()
    if not tail:
        return
    if registries:
        downloads, requests = _kind_columns(result, SpanKind.DOWNLOAD), _kind_columns(result, SpanKind.REQUEST)
        served = _Served(downloads, requests)
        for registry in registries:
            _registry(b, downloads, requests, registry, served)
            yield b.take()
        del downloads, requests
    links = list(result.spans_of(SpanKind.LINK))
    others = no_host()
    if links or len(others):
        _network(b, b.process("network", "network", len(hosts) + len(registries)), links, others)
        yield b.take()


def _process_names(result: SimResult, with_spans: set[str]) -> tuple[list[str], list[str]]:
    """The hosts and the registries, each in natural order: the trace's processes."""
    hosts = sorted(with_spans | set(map(attrgetter("host"), result.job_ends)) | set(result.hosts), key=_natural)
    registries = sorted(set(result.registries) | {str(r) for r in _registry_names(result)}, key=_natural)
    return hosts, registries


_NO_SPANS = Columns([], [], [], np.empty(0), np.empty(0), [], [])


#: Hosts' spans are read from the store this many at once at most (a batch of hosts, split into one Columns
#: each): a read costs NumPy steps per block of the store, so a thousand runners of a few jobs each, read one by
#: one, spent most of it in those (a 20,000-job CI burst: 2,000 hosts, 48 blocks). A host with
#: ``_ALONE_PER_BLOCK`` spans or more per block of the store is read alone: splitting a batch costs steps per span
#: too (a host of 400 spans costs the same either way in a store of 25 blocks; one of 800, 8% less alone, and
#: one of 4,000, 17% less: docs/performance.md, "Session 38").
_READ_AT_ONCE = 1 << 16
_ALONE_PER_BLOCK = 20


def _by_host(result: SimResult) -> tuple[set[str], Callable[[Sequence[str]], Iterator[tuple[str, Columns]]],
                                          Callable[[], Columns]]:
    """The hosts that have spans; a function giving, for hosts in the order given, each one's spans (in record
    order) as columns; one giving the spans of no host. From a SpanStore, hosts' spans are read a batch of
    hosts at a time (``_READ_AT_ONCE`` spans), as they are asked for."""
    spans = result.spans
    if isinstance(spans, SpanStore):
        store = spans
        groups = store.groups("host")
        hostless = groups.pop("", None)
        return (set(groups), lambda hosts: _host_batches(store, groups, hosts),
                lambda: Columns(*store.rows(hostless, "")) if hostless is not None else _NO_SPANS)
    by_host: dict[str, list[Span]] = defaultdict(list)
    no_host: list[Span] = []
    for span in spans:
        (by_host[span.host] if span.host else no_host).append(span)
    return (set(by_host), lambda hosts: ((host, Columns.of(by_host.get(host, []))) for host in hosts),
            lambda: Columns.of(no_host))


def _host_batches(store: SpanStore, groups: dict[Any, np.ndarray], hosts: Sequence[str]
                  ) -> Iterator[tuple[str, Columns]]:
    """Each of ``hosts`` with its spans, read from ``store`` a batch of hosts at a time."""
    batch: list[str] = []
    size = 0
    alone = max(1, _ALONE_PER_BLOCK * store.blocks)  # a host of no spans is never read alone
    for host in hosts:
        spans = len(groups.get(host, ()))
        if spans >= alone:
            yield from _read_hosts(store, groups, batch)
            yield host, Columns(*store.rows(groups[host], host))
            batch, size = [], 0
            continue
        batch.append(host)
        size += spans
        if size >= _READ_AT_ONCE:
            yield from _read_hosts(store, groups, batch)
            batch, size = [], 0
    yield from _read_hosts(store, groups, batch)


def _read_hosts(store: SpanStore, groups: dict[Any, np.ndarray], hosts: list[str]) -> Iterator[tuple[str, Columns]]:
    """``hosts`` with their spans: the spans of all of them read at once, then split by host (positions are
    ascending within each, so each host's stay in record order)."""
    present = [groups[host] for host in hosts if host in groups]
    if not present:
        yield from ((host, _NO_SPANS) for host in hosts)
        return
    union = np.sort(np.concatenate(present))
    batch = Columns(*store.rows(union, ""))
    batch.tails(_likely_events(batch, _by_kind(batch)))  # the texts _host asks for first, made at once
    for host in hosts:
        yield (host, batch.part(np.searchsorted(union, groups[host]), host)) if host in groups else (host, _NO_SPANS)


def _kind_columns(result: SimResult, kind: SpanKind) -> Columns:
    """The spans of ``kind`` (record order) as columns."""
    if isinstance(result.spans, SpanStore):
        return Columns(*result.spans.rows(result.spans.kind_positions(kind)))
    return Columns.of(list(result.spans_of(kind)))


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
        _write_events(out, _sections(result))
        out.write(f'],"displayTimeUnit":"ms","otherData":{_other_data(result)}}}\n')
    return path


def _write_events(out: TextIO, sections: Iterator[list[str]]) -> None:
    """The sections' events, comma-separated."""
    first = True
    for section in sections:
        if section:
            if not first:
                out.write(",")
            out.write(",".join(section))
            first = False


class TracePieces:
    """trace.json in ``count`` pieces that separate processes can write at once (``dsim run --writers``):
    each a run of hosts of about equal spans (the first with the processes' names, the last with the
    registries and the network), written to its own file beside ``path``; ``join`` makes trace.json of them,
    the bytes ``write_trace`` writes."""

    def __init__(self, result: SimResult, path: Path, count: int) -> None:
        self.result = result
        self.path = path
        spans = _span_counts(result)
        hosts, _ = _process_names(result, {host for host in spans if host})
        self.bounds = _even_runs(_host_weights(spans, len(result.spans), hosts), count)

    def tasks(self) -> list[Callable[[], Path]]:
        """One call per piece, each writing its file."""
        return [functools.partial(self._write, i) for i in range(len(self.bounds) - 1)]

    def _piece(self, i: int) -> Path:
        return self.path.with_name(f".{self.path.name}.piece-{i}")

    def _write(self, i: int) -> Path:
        last = i == len(self.bounds) - 2
        piece = self._piece(i)
        with piece.open("w", encoding="utf-8") as out:
            _write_events(out, _sections(self.result, self.bounds[i], self.bounds[i + 1] if not last else None,
                                         head=i == 0, tail=last))
        return piece

    def join(self) -> Path:
        """trace.json from the pieces written, which are removed."""
        with self.path.open("w", encoding="utf-8") as out:
            out.write('{"traceEvents":[')
            first = True
            for i in range(len(self.bounds) - 1):
                piece = self._piece(i)
                with piece.open(encoding="utf-8") as events:
                    if events.read(1):  # a piece of no events adds no comma
                        events.seek(0)
                        if not first:
                            out.write(",")
                        shutil.copyfileobj(events, out, 1 << 20)
                        first = False
                piece.unlink()
            out.write(f'],"displayTimeUnit":"ms","otherData":{_other_data(self.result)}}}\n')
        return self.path


def _span_counts(result: SimResult) -> dict[str, int]:
    """How many spans each host has ("": those of no host)."""
    if isinstance(result.spans, SpanStore):
        return {host: len(positions) for host, positions in result.spans.groups("host").items()}
    counts: dict[str, int] = defaultdict(int)
    for span in result.spans:
        counts[span.host] += 1
    return counts


def _host_weights(counts: dict[str, int], total: int, hosts: list[str]) -> list[int]:
    """Each host's spans (what its section costs), the registries' and the network's added to the last."""
    weights = [counts.get(host, 0) + 1 for host in hosts]  # + 1: a host without spans still has a section
    if weights:
        weights[-1] += total - sum(counts.get(host, 0) for host in hosts)
    return weights


def _even_runs(weights: list[int], count: int) -> list[int]:
    """Where ``count`` runs of the weights begin (and the last ends), each about an equal share, none empty
    (fewer runs when there are fewer weights); at least one run, also of no weights."""
    count = max(1, min(count, len(weights)))
    total = sum(weights)
    bounds, taken = [0], 0
    for i, weight in enumerate(weights[:-1]):
        taken += weight
        if len(bounds) < count and taken * count >= total * len(bounds):
            bounds.append(i + 1)
    bounds.append(len(weights))
    return bounds
