"""Figures the reports draw, derived from a run's spans only (never from components).

Span kinds are ``dsim.records.SpanKind``; the reports draw the phase and detail kinds in views of their own,
and every other kind (new ones other features add) still flows into the generic views (activity chart,
kinds table, trace, explain) with no change here.
"""

from __future__ import annotations

import bisect
import heapq
import math
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, partial
from itertools import repeat
from operator import is_not, itemgetter, sub
from typing import Any, TypeVar

import numpy as np

from dsim.records import DETAIL_KINDS, PHASE_KINDS, SUMMARY_PHASE_KINDS, Span, SpanKind
from dsim.reports.shares import attr_floats
from dsim.result import SimResult
from dsim.span_store import JobSpans, SpanStore

#: Kinds drawn in views of their own (the others appear in the activity chart and trace.json only).
KNOWN_KINDS = frozenset(PHASE_KINDS + DETAIL_KINDS)

K = TypeVar("K", bound=Hashable)


# ----------------------------------------------------------------------------------------- time series

def binned_average(items: Iterable[tuple[float, float, float]], t0: float, t1: float, bins: int) -> list[float]:
    """Time-weighted average, per bin of [t0, t1), of the level sum(weight of items active at t).

    Each item is (start, end, weight); the level is a step function, integrated exactly over each bin
    (a download of 100 MB over 2 s at weight 50 MB/s contributes 50 MB/s to the bins it covers, in
    proportion to the overlap). See ``binned_levels``.
    """
    table = np.array(list(items), dtype=float).reshape(-1, 3)
    return binned_levels(table[:, 0], table[:, 1], table[:, 2], t0, t1, bins)


def binned_levels(starts: np.ndarray, ends: np.ndarray, weights: np.ndarray, t0: float, t1: float,
                  bins: int) -> list[float]:
    """``binned_average`` of items given as arrays, in O((n + bins) log n) with NumPy.

    The level is a step function; its integral (the area so far) is piecewise linear, exact at the level's
    changes, so each bin's average is the difference of that integral at the bin's edges over the width.
    """
    if bins <= 0 or t1 <= t0:
        return []
    keep = (ends > starts) & (weights != 0)
    times = np.concatenate([starts[keep], ends[keep]])
    if len(times) == 0:
        return [0.0] * bins
    kept = weights[keep]
    steps = np.concatenate([kept, -kept])
    del keep
    # with unit weights the levels are whole numbers, added exactly in any order, and a change tied with the
    # next one is multiplied by a gap of 0: the order of tied changes moves no float, so NumPy's faster
    # unstable sort gives the same result; other weights keep the stable order of their additions
    order = np.argsort(times, kind=None if bool((kept == 1.0).all()) else "stable")
    del kept
    times = times[order]
    levels = np.cumsum(steps[order])  # the level after each change
    del steps, order
    gaps = np.diff(times)
    gaps *= levels[:-1]  # the area between consecutive changes (temporaries reused: 8 bytes a change each)
    areas = np.empty(len(times))
    areas[0] = 0.0
    np.cumsum(gaps, out=areas[1:])  # the integral at each change
    del gaps
    edges = np.linspace(t0, t1, bins + 1)
    last = np.searchsorted(times, edges, side="right") - 1  # the last change at or before each edge
    at = np.maximum(last, 0)
    integral = np.where(last >= 0, areas[at] + levels[at] * (edges - times[at]), 0.0)
    rates: list[float] = (np.diff(integral) / ((t1 - t0) / bins)).tolist()
    return rates


def span_times(spans: Sequence[Span]) -> tuple[np.ndarray, np.ndarray]:
    """Starts and ends of ``spans`` as arrays (for ``binned_levels``)."""
    starts = np.fromiter((span.start for span in spans), dtype=float, count=len(spans))
    ends = np.fromiter((span.end for span in spans), dtype=float, count=len(spans))
    return starts, ends


def bin_centres(t0: float, t1: float, bins: int) -> list[float]:
    width = (t1 - t0) / bins
    return [t0 + (b + 0.5) * width for b in range(bins)]


#: Most points a latency CDF is drawn with: beyond, the CDF is drawn at this many evenly spaced levels
#: (``cdf_steps``), within 1/CDF_POINTS of the exact curve: under a pixel on a chart's axes.
CDF_POINTS = 2000


def cdf_steps(ordered: Sequence[float], most: int = CDF_POINTS) -> tuple[Sequence[float], list[float]]:
    """The points of an empirical CDF's steps (x, fraction at most x; drawn with ``where="post"``) of the
    sorted ``ordered``: every value when there are at most ``most``, else the first value and the values at
    ranks ceil(j n / most), j = 1..most (binned by equal fractions), so a million samples draw as fast as
    a thousand and the curve never strays more than 1/most from the exact one."""
    n = len(ordered)
    if n <= most:
        return ordered, [(i + 1) / n for i in range(n)]
    ranks = np.unique(np.concatenate([[1], np.ceil(np.arange(1, most + 1) * (n / most))]).astype(np.int64))
    ranks = np.minimum(ranks, n)
    values = np.asarray(ordered, dtype=float)
    return values[ranks - 1].tolist(), (ranks / n).tolist()


_start_end = itemgetter(0, 1)


def pack_lanes(intervals: Sequence[tuple[float, float, K]]) -> dict[K, int]:
    """Lane of each interval: the lowest lane free at its start (greedy interval colouring).

    Used to recover tracks (daemon workers, download slots) from spans: it never uses more lanes than the
    most intervals open at once, so with a resource of capacity c it needs at most c lanes.
    """
    ordered = sorted(intervals, key=_start_end)
    return {key: lane for (_, _, key), lane in zip(ordered, _greedy_lanes(ordered), strict=True)}


def lane_numbers(intervals: Sequence[tuple[float, float]]) -> list[int]:
    """``pack_lanes`` keyed by position: the lane of each interval, in the order given (``_greedy_lanes``,
    written out here: the trace packs hundreds of thousands of spans, most in small groups)."""
    lanes = [0] * len(intervals)
    free: list[int] = []
    busy: list[tuple[float, int]] = []
    count = 0
    push, pop = heapq.heappush, heapq.heappop
    for i in sorted(range(len(intervals)), key=intervals.__getitem__):
        start, end = intervals[i]
        while busy and busy[0][0] <= start:
            push(free, pop(busy)[1])
        if free:
            lane = lanes[i] = pop(free)
        else:
            lane = lanes[i] = count
            count += 1
        push(busy, (end, lane))
    return lanes


def _greedy_lanes(ordered: Iterable[Sequence[Any]]) -> Iterator[int]:
    """The lane of each interval ``(start, end, ...)``, taken in order of start: the lowest one free then,
    found with two heaps (free lanes; busy lanes by end) rather than a scan of every lane."""
    free: list[int] = []
    busy: list[tuple[float, int]] = []
    count = 0
    for start, end, *_ in ordered:
        while busy and busy[0][0] <= start:
            heapq.heappush(free, heapq.heappop(busy)[1])
        if free:
            lane = heapq.heappop(free)
        else:
            lane, count = count, count + 1
        heapq.heappush(busy, (end, lane))
        yield lane


def peak_concurrency(intervals: Iterable[tuple[float, float]]) -> int:
    """Most intervals open at one instant (an interval ending at t does not overlap one starting at t)."""
    events = sorted([(s, 1) for s, e in intervals if e > s] + [(e, -1) for s, e in intervals if e > s])
    level = peak = 0
    for _, d in events:
        level += d
        peak = max(peak, level)
    return peak


# ----------------------------------------------------------------------------------------- the API front

def _api_columns(result: SimResult) -> tuple[list[float], list[float], list[float], list[str]] | None:
    """Starts, ends, waits (``queue``) and hosts of the API calls, from a SpanStore's columns (None: not one)."""
    if not isinstance(result.spans, SpanStore):
        return None
    store = result.spans
    starts, ends = store.kind_times(SpanKind.API)
    waits = [0.0 if q is None else q for q in store.kind_attr(SpanKind.API, "queue")]
    return starts.tolist(), ends.tolist(), waits, store.kind_column(SpanKind.API, "host")


def interval_columns(result: SimResult, which: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Starts, ends and hosts, in record order, of each API call's ``wait`` for a worker, its ``service``
    (its hold on one), or each blob ``download``'s hold on a download slot: as arrays, for the charts."""
    if isinstance(result.spans, SpanStore):
        starts, ends = interval_times(result, which)
        kind = SpanKind.DOWNLOAD if which == "download" else SpanKind.API
        return starts, ends, result.spans.kind_column(kind, "host")
    items = {"wait": api_waits, "service": api_service, "download": download_holds}[which](result)
    return (np.array([i[0] for i in items], dtype=float), np.array([i[1] for i in items], dtype=float),
            [i[2] for i in items])


def interval_times(result: SimResult, which: str) -> tuple[np.ndarray, np.ndarray]:
    """``interval_columns`` without the hosts. From a SpanStore worked out once per run and shared (the
    timeline and the daemon chart read the same intervals several times): not to be changed in place."""
    store = result.spans
    if not isinstance(store, SpanStore):
        return interval_columns(result, which)[:2]
    kept: tuple[np.ndarray, np.ndarray] = store.derived(f"interval_times {which}",
                                                        lambda: _store_interval_times(store, which))
    return kept


def _store_interval_times(store: SpanStore, which: str) -> tuple[np.ndarray, np.ndarray]:
    if which == "download":
        return store.kind_times(SpanKind.DOWNLOAD)
    starts, ends = store.kind_times(SpanKind.API)
    waits = attr_floats(store, SpanKind.API, "queue")
    return (starts, starts + waits) if which == "wait" else (starts + waits, ends)


def per_host_intervals(result: SimResult, which: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``interval_columns`` of the intervals that last, by host (hosts in order of first appearance, each
    host's intervals in record order). From a SpanStore by its host codes (no string per span)."""
    if isinstance(result.spans, SpanStore):
        starts, ends = interval_times(result, which)
        codes, table = result.spans.kind_host_codes(SpanKind.DOWNLOAD if which == "download" else SpanKind.API)
        keep = ends > starts
        starts, ends, column = starts[keep], ends[keep], codes[keep]
        order = np.argsort(column, kind="stable")  # by host, each host's in record order
        found, firsts = np.unique(column[order], return_index=True)
        bounds = [*firsts.tolist(), len(order)]
        starts, ends = starts[order], ends[order]
        parts = {code: (starts[bounds[k]:bounds[k + 1]], ends[bounds[k]:bounds[k + 1]])
                 for k, code in enumerate(found.tolist())}
        first_seen = np.argsort(order[firsts], kind="stable")  # hosts in order of first appearance
        return {table[code]: parts[code] for code in found[first_seen].tolist()}
    starts, ends, hosts = interval_columns(result, which)
    keep = ends > starts
    kept_hosts = [host for host, kept in zip(hosts, keep.tolist(), strict=True) if kept]
    starts, ends = starts[keep], ends[keep]
    host_codes: dict[str, int] = {}
    column = np.array([host_codes.setdefault(host, len(host_codes)) for host in kept_hosts], dtype=np.int64)
    return {host: (starts[column == code], ends[column == code]) for host, code in host_codes.items()}


def api_waits(result: SimResult) -> list[tuple[float, float, str]]:
    """(start, end, host) of each API call's wait for a daemon worker (the ``queue`` phase)."""
    columns = _api_columns(result)
    if columns is not None:
        starts, _, waits, hosts = columns
        return [(s, s + q, h) for s, q, h in zip(starts, waits, hosts, strict=True)]
    return [(s.start, s.start + s.attrs.get("queue", 0.0), s.host) for s in result.spans_of(SpanKind.API)]


def api_service(result: SimResult) -> list[tuple[float, float, str]]:
    """(start, end, host) of each API call's hold on a daemon worker."""
    columns = _api_columns(result)
    if columns is not None:
        starts, ends, waits, hosts = columns
        return [(s + q, e, h) for s, e, q, h in zip(starts, ends, waits, hosts, strict=True)]
    return [(s.start + s.attrs.get("queue", 0.0), s.end, s.host) for s in result.spans_of(SpanKind.API)]


def download_holds(result: SimResult) -> list[tuple[float, float, str]]:
    """(start, end, host) of each blob download's hold on one of the daemon's download slots."""
    if isinstance(result.spans, SpanStore):
        starts, ends = result.spans.kind_times(SpanKind.DOWNLOAD)
        hosts = result.spans.kind_column(SpanKind.DOWNLOAD, "host")
        return list(zip(starts.tolist(), ends.tolist(), hosts, strict=True))
    return [(s.start, s.end, s.host) for s in result.spans_of(SpanKind.DOWNLOAD)]


# ----------------------------------------------------------------------------------------- pulls

@dataclass(frozen=True)
class LayerProgress:
    """One layer of one pull, as ``docker pull`` shows it: Waiting, Downloading, Extracting, Pull complete."""

    digest: str
    status: str  # "Already exists" | "Pull complete"
    pull_start: float
    ready: float  # the layer was usable ("Already exists": at once; else "Pull complete")
    download: Span | None  # the download that fetched its blob (maybe started by another pull)
    unpack: Span | None  # the unpack that applied it (maybe another pull's)
    shared: bool  # another pull on this daemon was already fetching the blob ("Waiting" for it)

    @property
    def short_id(self) -> str:
        """The 12 hex digits docker prints for a layer."""
        return short_id(self.digest)

    @property
    def bytes(self) -> float:
        return float(self.download.attrs.get("bytes", 0.0)) if self.download is not None else 0.0


@dataclass(frozen=True)
class PullDetail:
    job: int
    host: str
    image: str
    span: Span
    layers: tuple[LayerProgress, ...]
    image_span: Span | None  # the pull_image span (status "Downloaded newer image" | "Image is up to date")


def last_end(result: SimResult) -> float:
    """When the last span ended (0 with none); from a SpanStore's end column."""
    spans = result.spans
    if isinstance(spans, SpanStore):
        ends = spans.times()[1]
        return float(ends.max()) if len(ends) else 0.0
    return max((span.end for span in spans), default=0.0)


def kind_times(result: SimResult, kinds: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Starts and ends of the spans of ``kinds`` (kind by kind, each in record order), as arrays."""
    if isinstance(result.spans, SpanStore):
        store = result.spans
        pairs = [store.kind_times(kind) for kind in kinds]
        if not pairs:
            return np.empty(0), np.empty(0)
        return np.concatenate([p[0] for p in pairs]), np.concatenate([p[1] for p in pairs])
    return span_times([s for kind in kinds for s in result.spans_of(kind)])


def short_id(digest: str) -> str:
    hexpart = digest.split(":", 1)[-1]
    return hexpart[:12]


class SpanIndex:
    """Look-ups over a run's spans that several reports share (built once per result)."""

    def __init__(self, result: SimResult) -> None:
        self.result = result

    @cached_property
    def by_job(self) -> Mapping[int, Sequence[Span]]:
        """Each job's spans (jobs >= 0) in record order; from a SpanStore, made per job when asked for."""
        if isinstance(self.result.spans, SpanStore):
            return JobSpans(self.result.spans)
        by_job: dict[int, list[Span]] = defaultdict(list)
        for span in self.result.spans:
            if span.job >= 0:
                by_job[span.job].append(span)
        return by_job

    @cached_property
    def _by_host_subject(self) -> dict[tuple[str, str, str], list[Any]]:
        """Downloads and unpacks by (kind, host, blob), each list by end (``latest`` bisects it): from a
        SpanStore, their positions in it (a span made only when ``latest`` finds it: a chart looks up the
        layers of a sample of jobs, and a large CI burst has tens of thousands of downloads and unpacks)."""
        grouped: dict[tuple[str, str, str], list[Any]] = defaultdict(list)
        store = self.result.spans
        for kind in (SpanKind.DOWNLOAD, SpanKind.UNPACK):
            if isinstance(store, SpanStore):
                positions = store.kind_positions(kind)
                _, subjects, hosts, _, ends, _, _ = store.rows(positions)
                for key, end, position in zip(zip(repeat(kind), hosts, subjects), ends.tolist(), positions.tolist(),
                                              strict=True):
                    grouped[key].append((end, position))
                continue
            for span in self.result.spans_of(kind):
                grouped[(span.kind, span.host, span.subject)].append((span.end, span))
        for found in grouped.values():
            found.sort(key=_FIRST)  # stable: equal ends keep record order
        return grouped

    @cached_property
    def _ends(self) -> dict[tuple[str, str, str], list[float]]:
        return {key: [end for end, _ in found] for key, found in self._by_host_subject.items()}

    @cached_property
    def last_end(self) -> float:
        """When the last span ended (0 with none)."""
        return last_end(self.result)

    @cached_property
    def summary(self) -> dict[str, Any]:
        """The run's summary (``write_charts`` passes the one already made: it walks every span)."""
        return self.result.summary()

    def latest(self, kind: str, host: str, subject: str, before: float, since: float) -> Span | None:
        """The last ``kind`` span of ``subject`` on ``host`` ending in [since, before] (tolerance 1 ns)."""
        key = (kind, host, subject)
        ends = self._ends.get(key)
        if not ends:
            return None
        i = bisect.bisect_right(ends, before + 1e-9) - 1
        if i < 0 or ends[i] < since - 1e-9:
            return None
        found = self._by_host_subject[key][i][1]
        store = self.result.spans
        return store[found] if isinstance(store, SpanStore) else found  # type: ignore[no-any-return]

    def _fetched(self, kind: SpanKind, layer: Span) -> Span | None:
        """The last ``kind`` (download, unpack) of the pull_layer span's blob that ended within the span."""
        return self.latest(kind, layer.host, layer.subject, layer.end, layer.start)

    def pulls(self, job: int) -> list[PullDetail]:
        """Every pull the job made, with each layer's progress."""
        spans = self.by_job.get(job, [])
        details = []
        for pull in (s for s in spans if s.kind == SpanKind.PULL_IMAGE):
            layers = []
            for layer in spans:
                if layer.kind != SpanKind.PULL_LAYER or layer.attrs.get("image") != pull.subject:
                    continue
                if not (pull.start - 1e-9 <= layer.start and layer.end <= pull.end + 1e-9):
                    continue
                done = layer.attrs.get("status") != "Already exists"
                download = self._fetched(SpanKind.DOWNLOAD, layer) if done else None
                unpack = self._fetched(SpanKind.UNPACK, layer) if done else None
                layers.append(LayerProgress(layer.subject, str(layer.attrs.get("status", "")), layer.start,
                                            layer.end, download, unpack, bool(layer.attrs.get("shared"))))
            outer = next((s for s in spans if s.kind == SpanKind.PULL and s.start <= pull.start + 1e-9
                          and pull.end <= s.end + 1e-9), pull)
            details.append(PullDetail(job, pull.host, pull.subject, outer, tuple(layers), pull))
        return details

    def unpacks_of(self, job: int) -> list[tuple[float, float]]:
        """Intervals in which a layer this job's pulls need was being unpacked (by any pull)."""
        return [(layer.unpack.start, layer.unpack.end) for pull in self.pulls(job) for layer in pull.layers
                if layer.unpack is not None]


def slowest_pull_job(result: SimResult) -> int | None:
    """The job whose pull took longest and downloaded something (ties: the lowest job number)."""
    best: tuple[float, int] | None = None
    for span in result.spans_of(SpanKind.PULL_IMAGE):
        if span.attrs.get("bytes", 0) <= 0 or span.job < 0:
            continue
        key = (-span.duration, span.job)
        if best is None or key < best:
            best = key
    return None if best is None else best[1]


# ----------------------------------------------------------------------------------------- kinds and jobs

@dataclass(frozen=True)
class KindStats:
    kind: SpanKind
    count: int
    total_s: float
    mean_s: float
    p95_s: float
    max_s: float
    instants: int
    known: bool
    statuses: dict[str, int]


def kind_stats(result: SimResult) -> list[KindStats]:
    """Every span kind in the run (known or new), in order of first appearance (from a SpanStore, worked out
    once for the activity chart and the report's kinds table)."""
    if isinstance(result.spans, SpanStore):
        return list(result.spans.derived("kind_stats", lambda: _kind_stats(result)))
    return _kind_stats(result)


def _kind_stats(result: SimResult) -> list[KindStats]:
    from dsim.result import percentile

    stats = []
    store = result.spans if isinstance(result.spans, SpanStore) else None
    for kind in store.kind_order() if store is not None else dict.fromkeys(map(_KIND, result.spans)):
        if store is not None:  # from the columns, no span made
            starts, ends = store.kind_times(kind)
            stats.append(_stats_of(kind, np.sort(ends - starts, kind="stable"), store.kind_attr(kind, "status")))
            continue
        spans = result.spans_of(kind)
        durations = sorted(map(sub, map(_END, spans), map(_START, spans)))
        statuses = _statuses(spans)
        total = sum(durations)
        count = len(durations)
        stats.append(KindStats(kind, count, total, total / count, percentile(durations, 95), durations[-1],
                               durations.count(0), kind in KNOWN_KINDS, dict(sorted(statuses.items()))))
    return stats


def _stats_of(kind: SpanKind, durations: np.ndarray, found: list[Any]) -> KindStats:
    """A kind's statistics from its sorted durations as an array (8 bytes a span, not a list of floats):
    the total added in order from 0 as ``sum`` of the sorted list does (``cumsum``; Python 3.12 made
    ``sum`` of floats compensated, so there the list's own ``sum``)."""
    from dsim.result import percentile

    if sys.version_info >= (3, 12):
        total = sum(durations.tolist())
    else:
        total = float(np.cumsum(durations)[-1]) if len(durations) else 0
    count = len(durations)
    # most kinds have no status: a C-level count of the Nones says so without a step per span
    statuses = Counter() if found.count(None) == len(found) else Counter(map(str, filter(partial(is_not, None), found)))
    return KindStats(kind, count, total, total / count, float(percentile(durations, 95)),  # type: ignore[arg-type]
                     float(durations[-1]), int(np.count_nonzero(durations == 0)), kind in KNOWN_KINDS,
                     dict(sorted(statuses.items())))


_FIRST = itemgetter(0)

#: Span fields by position: C-level getters for the passes over every span.
_KIND, _START, _END, _ATTRS = itemgetter(0), itemgetter(3), itemgetter(4), itemgetter(6)


def _statuses(spans: Sequence[Span]) -> Counter[str]:
    """How many spans have each ``status`` attribute: a chain of C-level maps, no Python call per span
    (the activity chart and the report's kinds table each count every span's)."""
    found = map(dict.get, map(_ATTRS, spans), repeat("status"))
    return Counter(map(str, filter(partial(is_not, None), found)))


def phase_durations(result: SimResult, phase: str) -> list[float]:
    """``SimResult.phase_samples``: a phase span kind's durations in record order from a SpanStore's time
    columns (the same subtractions, no span made), else as the result gives them."""
    if phase not in ("queue", "job") and isinstance(result.spans, SpanStore):
        starts, ends = result.spans.kind_times(phase)
        durations: list[float] = (ends - starts).tolist()
        return durations
    if phase == "job":  # each job's end - arrival, in the order the jobs ended
        ended = result.job_ends
        count = len(ended)
        job_times: list[float] = (np.fromiter(map(_END_OF_JOB, ended), dtype=float, count=count)
                                  - np.fromiter(map(_ARRIVAL_OF_JOB, ended), dtype=float, count=count)).tolist()
        return job_times
    return result.phase_samples(phase)


#: JobEnd fields by position.
_ARRIVAL_OF_JOB, _END_OF_JOB = itemgetter(3), itemgetter(4)


def job_phase_kinds(result: SimResult) -> list[SpanKind]:
    """The phases jobs went through in this run: dsim's phase kinds plus any other phase the summary lists."""
    kinds = [k for k in PHASE_KINDS if result.spans_of(k)]
    kinds += [k for k in SUMMARY_PHASE_KINDS if k not in kinds and result.spans_of(k)]
    return kinds


_GROUP = re.compile(r"^(.*)-\d+$")


def host_group(host: str, groups: dict[str, tuple[str, ...]] | None = None) -> str:
    """The host group of ``host``: from the scenario when known, else its name without the ``-N`` suffix."""
    if groups:
        for group, members in groups.items():
            if host in members:
                return group
    match = _GROUP.match(host)
    return match.group(1) if match else host


#: Statuses (lower case) and span kinds (lower case) that mean something went wrong.
_FAILED_STATUSES = frozenset({"failed", "error", "oom", "oomkilled", "killed", "unhealthy"})
_FAILURE_KINDS = frozenset({"oom", "oom_kill", "failure", "error"})
#: The attributes that can say a span failed (checked together first: most spans have none of them).
FAILURE_ATTRS = frozenset({"status", "error", "oom", "oom_killed"})


def is_failure(span: Span) -> bool:
    """A span that records something going wrong: an HTTP error status, a failed status, an error attr."""
    return failed(span.kind, span.attrs)


def failed(kind: str, attrs: Mapping[str, Any]) -> bool:
    """``is_failure`` of a span of ``kind`` with ``attrs``."""
    if not FAILURE_ATTRS.isdisjoint(attrs):  # else only the span's kind can say it failed
        status = attrs.get("status")
        if isinstance(status, int) and status >= 400 and not (status == 401 and kind == SpanKind.REQUEST):
            return True
        if isinstance(status, str) and status.lower() in _FAILED_STATUSES:
            return True
        if attrs.get("error") or attrs.get("oom") or attrs.get("oom_killed"):
            return True
    return kind.lower() in _FAILURE_KINDS


def attrs_text(attrs: dict[str, Any], skip: Iterable[str] = ()) -> str:
    """A span's attributes as ``key=value`` pairs, sorted, for narration and tooltips: a float to the
    millisecond or byte (``cpu_seconds=1509.425``, not its 16 digits), an empty text left out."""
    skipped = set(skip)
    return " ".join(f"{k}={_value_text(v)}" for k, v in sorted(attrs.items()) if k not in skipped and v != "")


def _value_text(value: Any) -> str:
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:.3f}".rstrip("0").rstrip(".")
    return str(value)
