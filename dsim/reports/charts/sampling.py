"""Which jobs a Gantt draws when it cannot draw them all: some of every workload on every host group.

A scenario compares workloads (container vs VM, mirror vs none) or host groups, so a sample taken from
the first hosts in name order can show only one side of the comparison. The rows are split into strata,
one per (host group, workload); each stratum gets a fair share of the rows (a small stratum all of its
jobs, the rest shared equally among the others), and inside a stratum whole hosts are taken evenly
spaced, then every k-th job of a host that alone has too many.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from operator import attrgetter

from dsim.records import SpanKind
from dsim.reports.charts.common import natural_key
from dsim.result import SimResult
from dsim.span_store import SpanStore

Row = tuple[str, float, int]  # host, arrival, job


def fair_shares(sizes: Sequence[int], limit: int) -> list[int]:
    """Split ``limit`` rows among strata of these sizes (water filling): smallest first, each takes
    min(its size, an equal part of the rows left); every non-empty stratum gets at least one row."""
    shares = [0] * len(sizes)
    filled = sorted((i for i, size in enumerate(sizes) if size > 0), key=lambda i: (sizes[i], i))
    left = limit
    for k, i in enumerate(filled):
        shares[i] = min(sizes[i], max(1, left // (len(filled) - k)))
        left = max(0, left - shares[i])
    return shares


def _within(rows: list[Row], budget: int) -> tuple[list[Row], bool]:
    """``budget`` rows of one stratum: whole hosts evenly spaced, a host with too many jobs thinned."""
    by_host: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_host[row[0]].append(row)
    hosts = sorted(by_host, key=natural_key)
    per_host = len(rows) / len(hosts)
    keep = max(1, min(len(hosts), int(budget // max(per_host, 1.0))))
    step = len(hosts) / keep
    chosen = [hosts[int(i * step)] for i in range(keep)]
    each = max(1, budget // len(chosen))
    shown: list[Row] = []
    thinned = False
    for host in chosen:
        jobs = by_host[host]
        if len(jobs) > each:
            jobs = [jobs[len(jobs) * i // each] for i in range(each)]  # evenly spaced, ``each`` of them
            thinned = True
        shown.extend(jobs)
    return shown, thinned


def sample_rows(rows: list[Row], limit: int, workload_of: Callable[[int], str],
                group_of: Callable[[str], str]) -> tuple[list[Row], str]:
    """Rows to draw (in the order given) and a note saying what was left out ("" when nothing was)."""
    if len(rows) <= limit:
        return rows, ""
    strata: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for row in rows:
        strata[(group_of(row[0]), workload_of(row[2]))].append(row)
    keys = list(strata)
    shares = fair_shares([len(strata[key]) for key in keys], limit)
    kept: set[int] = set()
    thinned = False
    for key, share in zip(keys, shares, strict=True):
        shown, thin = _within(strata[key], share)
        kept.update(job for _, _, job in shown)
        thinned = thinned or thin
    sample = [row for row in rows if row[2] in kept]
    hosts = {host for host, _, _ in rows}
    shown_hosts = {host for host, _, _ in sample}
    workloads = {workload for _, workload in keys}
    groups = {group for group, _ in keys}
    note = (f"sample: {len(sample):,} of {len(rows):,} jobs, on {len(shown_hosts)} of {len(hosts)} hosts, "
            f"from each of {len(workloads)} workload(s) and {len(groups)} host group(s)")
    if thinned:
        note += ", every k-th job of a busy host"
    return sample, note


def slowest_pulls(result: SimResult, group_of: Callable[[str], str], limit: int = 4) -> list[tuple[str, int]]:
    """(who, job) of the slowest pull that downloaded something in each workload (each host group when
    there is one workload): a waterfall per side of the comparison, not only the slowest of the run. At
    most ``limit``, the slowest first; ties to the lowest job number."""
    workload_of = dict(zip(map(attrgetter("job"), result.job_ends), map(attrgetter("workload"), result.job_ends),
                           strict=True))  # C-level getters: a run has thousands of jobs
    best: dict[tuple[str, str], tuple[float, int]] = {}
    groups: dict[str, str] = {}  # by host: group_of once per host
    for host, job, duration in _downloading_pulls(result):
        group = groups.get(host)
        if group is None:
            group = groups[host] = group_of(host)
        key = (workload_of.get(job, ""), group)
        candidate = (-duration, job)
        if key not in best or candidate < best[key]:
            best[key] = candidate
    workloads = {w for w, _ in best}
    by: dict[str, tuple[float, int]] = {}
    for (workload, group), candidate in best.items():
        who = workload if len(workloads) > 1 else group
        if who not in by or candidate < by[who]:
            by[who] = candidate
    ordered = sorted(by.items(), key=lambda item: item[1])[:limit]
    return [(who, job) for who, (_, job) in ordered]


def _downloading_pulls(result: SimResult) -> Iterator[tuple[str, int, float]]:
    """(host, job, duration) of each image pull of a job that downloaded something (``bytes`` > 0), in
    record order; from a SpanStore's columns (no span made: a pull's attributes hold its layers' lines)."""
    store = result.spans
    if not isinstance(store, SpanStore):
        for span in result.spans_of(SpanKind.PULL_IMAGE):
            if span.attrs.get("bytes", 0) > 0 and span.job >= 0:
                yield span.host, span.job, span.duration
        return
    kind = SpanKind.PULL_IMAGE
    starts, ends = store.kind_times(kind)
    codes, hosts = store.kind_host_codes(kind)
    sizes = [0 if size is None else size for size in store.kind_attr(kind, "bytes")]
    for code, job, duration, size in zip(codes.tolist(), store.kind_jobs(kind).tolist(), (ends - starts).tolist(),
                                         sizes, strict=True):
        if size > 0 and job >= 0:
            yield hosts[code], job, duration
