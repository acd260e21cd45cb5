"""The time-share chart's sums (``charts.jobs._shares``) from columns: the same sums, in the same order,
as the loop over jobs and their intervals, done with NumPy. Every sum the loop made one addition at a
time is made the same way here (``bincount`` and ``cumsum`` add in array order), so the floats, and the
chart, are the same."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from dsim.span_store import SpanStore


@dataclass(frozen=True)
class IntervalColumns:
    """Per job (by job, each in record order) the start-up intervals: name codes into ``names``, starts,
    ends; job ``keys[k]``'s rows are ``lows[k]:highs[k]``; job ``running_jobs[k]``'s first container was
    running at ``running_at[k]`` (both key arrays ascending: arrays, not a dict per job)."""

    names: list[str]
    codes: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    keys: np.ndarray
    lows: np.ndarray
    highs: np.ndarray
    running_jobs: np.ndarray
    running_at: np.ndarray

    def rows_of(self, jobs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each of ``jobs``' rows as ``(low, high)`` arrays, ``(0, 0)`` for a job with none."""
        if not len(self.keys):
            return np.zeros(len(jobs), dtype=np.int64), np.zeros(len(jobs), dtype=np.int64)
        found, at = _lookup(self.keys, jobs)
        return np.where(found, self.lows[at], 0), np.where(found, self.highs[at], 0)

    def running_of(self, jobs: np.ndarray, default: np.ndarray) -> np.ndarray:
        """When each of ``jobs``' first container was running, ``default`` where none ran."""
        if not len(self.running_jobs):
            return np.asarray(default, dtype=np.float64)
        found, at = _lookup(self.running_jobs, jobs)
        return np.where(found, self.running_at[at], default)


@dataclass(frozen=True)
class JobRows:
    """Some of a ``JobTable``'s jobs (``rows``, ascending: in job order), read as columns."""

    table: Any  # dsim.job_table.JobTable
    rows: np.ndarray

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[Any]:
        table = self.table
        return (table[i] for i in self.rows.tolist())


#: Jobs whose start-up intervals are worked out at once (the temporaries are about 60 bytes an interval).
CHUNK = 1 << 16


def _lookup(keys: np.ndarray, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Whether each of ``wanted`` is in ``keys`` (ascending, not empty), and where (clipped to a valid index)."""
    at = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    return keys[at] == wanted, at


def _total(values: np.ndarray) -> float:
    """0.0 plus each value in turn (as ``total += value`` in a loop)."""
    return float(np.cumsum(values)[-1]) if len(values) else 0.0


def _positive(values: np.ndarray) -> np.ndarray:
    """``max(0.0, v)`` of each (0.0 for NaN too, as Python's ``max`` keeps its first argument)."""
    return np.where(values > 0.0, values, 0.0)


def attr_floats(store: SpanStore, kind: str, key: str) -> np.ndarray:
    """Attribute ``key`` of each of ``kind``'s spans as floats, 0.0 where absent (an API call's ``queue``
    wait): read once per run and shared by the charts that need it (not to be changed in place)."""
    made: np.ndarray = store.derived(f"attr floats {kind} {key}", lambda: np.array(
        [0.0 if value is None else value for value in store.kind_attr(kind, key)], dtype=float))
    return made


def _ranges(lows: np.ndarray, highs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``concatenate([arange(lo, hi) ...])`` and the index of the range each position came from, without
    an array per range."""
    lengths = highs - lows
    owner = np.repeat(np.arange(len(lows)), lengths)
    firsts = np.cumsum(lengths) - lengths
    rows = np.repeat(lows, lengths) + (np.arange(int(lengths.sum())) - np.repeat(firsts, lengths))
    return rows.astype(np.int64), owner


def interval_columns_of(store: SpanStore, names: list[str], kinds: list[str]) -> IntervalColumns:
    """The start-up intervals of jobs (``kinds[i]``'s spans named ``names[i]``; the first kind, API calls,
    counted from their start for their ``queue`` wait) by job, each job's in record order, and when each job's
    first container was running. One sort of a combined key (job, position) instead of a sort by position
    then by job; spans of no job (job < 0) left out, as no job looks them up."""
    count = max(len(store), 1)
    keys, codes, starts, ends = [], [], [], []
    for code, kind in enumerate(kinds):
        kind_starts, kind_ends = store.kind_times(kind)
        if code == 0:
            kind_ends = kind_starts + attr_floats(store, kind, "queue")
        jobs = store.kind_jobs(kind)
        mine = jobs >= 0
        keys.append(_job_position_key(jobs[mine], store.kind_positions(kind)[mine], count))
        codes.append(np.full(int(mine.sum()), code, dtype=np.int8))
        starts.append(kind_starts[mine])
        ends.append(kind_ends[mine])
    key = np.concatenate(keys)
    del keys
    order = np.argsort(key)  # by job, each job's in record order (the keys are distinct)
    job_of = key[order] // count
    del key
    code_column = np.concatenate(codes)[order]
    start_column = np.concatenate(starts)[order]
    del starts
    end_column = np.concatenate(ends)[order]
    del ends, order
    firsts = np.flatnonzero(np.diff(job_of)) + 1 if len(job_of) else np.empty(0, dtype=np.int64)
    lows = np.concatenate([[0], firsts]).astype(np.int64) if len(job_of) else np.empty(0, dtype=np.int64)
    highs = np.append(lows[1:], len(job_of)).astype(np.int64)
    start_ends = store.kind_times("start")[1]
    start_jobs = store.kind_jobs("start")
    by_end = np.lexsort((start_ends, start_jobs))  # by job, the earliest end first
    running_jobs, first = np.unique(start_jobs[by_end], return_index=True)
    return IntervalColumns(names, code_column, start_column, end_column, job_of[lows], lows, highs, running_jobs,
                           start_ends[by_end][first])


def _job_position_key(jobs: np.ndarray, positions: np.ndarray, count: int) -> np.ndarray:
    """``job * count + position``: sorting it sorts by job, then by position (``count``: positions are below
    it; job numbers are far below 2**63 / count in any run that fits in memory, checked)."""
    if len(jobs) and int(jobs.max()) >= (2**63 - 1) // count - 1:
        raise OverflowError("job numbers too large to combine with span positions")
    key = jobs.astype(np.int64)
    key *= count
    key += positions
    return key


def shares_from_columns(jobs: JobRows, timed: IntervalColumns
                        ) -> tuple[dict[str, float], dict[str, float], float, float]:
    """``_shares`` of ``jobs`` (in job order) from ``timed``."""
    table, picked = jobs.table, jobs.rows
    arrival = table.column("arrival_s")[picked]
    end = table.column("end_s")[picked]
    duration = _positive(end - arrival)
    whole: dict[str, float] = {}
    spent = np.zeros(len(picked))
    for phase in table.phases:
        column = table.sums[phase][picked]
        whole[phase] = _total(column)
        spent = spent + column  # sum(job.phases.values()), phase by phase
    whole["other"] = _total(_positive(duration - spent))
    job_ids = table.column("job")[picked]
    running = timed.running_of(job_ids, end)
    window = _positive(running - arrival)
    lows, highs = timed.rows_of(job_ids)
    sums = [0.0] * len(timed.names)
    seen: dict[int, None] = {}  # codes in the order each was first counted, as the loop added them
    accounted = np.zeros(len(picked))
    for low in range(0, len(picked), CHUNK):  # a chunk of jobs at a time: bounded temporaries
        high = min(low + CHUNK, len(picked))
        rows, owner = _ranges(lows[low:high], highs[low:high])
        starts, ends = timed.starts[rows], timed.ends[rows]
        run_at, came = running[low:high][owner], arrival[low:high][owner]
        overlap = np.where(run_at < ends, run_at, ends) - np.where(came > starts, came, starts)
        counted = overlap > 0
        codes, overlap, owner = timed.codes[rows][counted], overlap[counted], owner[counted]
        for code in codes[np.sort(np.unique(codes, return_index=True)[1])].tolist():
            seen.setdefault(code)
            # the code's sum so far, then each of this chunk's values in turn (as bincount over all would)
            sums[code] = float(np.cumsum(np.concatenate([[sums[code]], overlap[codes == code]]))[-1])
        # a job's intervals are all in its chunk: its sum is the one bincount over every job makes
        accounted[low:high] = np.bincount(owner, weights=overlap, minlength=high - low)
    startup = {timed.names[code]: sums[code] for code in seen}
    startup["other"] = _total(_positive(window - accounted))
    return startup, whole, _total(window), _total(duration)
