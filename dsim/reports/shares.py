"""The time-share chart's sums (``charts.jobs._shares``) from columns: the same sums, in the same order,
as the loop over jobs and their intervals, done with NumPy. Every sum the loop made one addition at a
time is made the same way here (``bincount`` and ``cumsum`` add in array order), so the floats, and the
chart, are the same."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np


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
        found, at = _lookup(self.keys, jobs)
        return np.where(found, self.lows[at], 0), np.where(found, self.highs[at], 0)

    def running_of(self, jobs: np.ndarray, default: np.ndarray) -> np.ndarray:
        """When each of ``jobs``' first container was running, ``default`` where none ran."""
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


def _lookup(keys: np.ndarray, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Whether each of ``wanted`` is in ``keys`` (ascending), and where (clipped to a valid index)."""
    if not len(keys):
        return np.zeros(len(wanted), dtype=bool), np.zeros(len(wanted), dtype=np.int64)
    at = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    return keys[at] == wanted, at


def _total(values: np.ndarray) -> float:
    """0.0 plus each value in turn (as ``total += value`` in a loop)."""
    return float(np.cumsum(values)[-1]) if len(values) else 0.0


def _positive(values: np.ndarray) -> np.ndarray:
    """``max(0.0, v)`` of each (0.0 for NaN too, as Python's ``max`` keeps its first argument)."""
    return np.where(values > 0.0, values, 0.0)


def _ranges(lows: np.ndarray, highs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``concatenate([arange(lo, hi) ...])`` and the index of the range each position came from, without
    an array per range."""
    lengths = highs - lows
    owner = np.repeat(np.arange(len(lows)), lengths)
    firsts = np.cumsum(lengths) - lengths
    rows = np.repeat(lows, lengths) + (np.arange(int(lengths.sum())) - np.repeat(firsts, lengths))
    return rows.astype(np.int64), owner


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
    rows, owner = _ranges(*timed.rows_of(job_ids))
    starts, ends = timed.starts[rows], timed.ends[rows]
    run_at, came = running[owner], arrival[owner]
    overlap = np.where(run_at < ends, run_at, ends) - np.where(came > starts, came, starts)
    counted = overlap > 0
    codes, overlap, owner = timed.codes[rows][counted], overlap[counted], owner[counted]
    startup: dict[str, float] = {}
    sums = np.bincount(codes, weights=overlap, minlength=len(timed.names)).tolist()
    firsts = np.unique(codes, return_index=True)[1]
    for code in codes[np.sort(firsts)].tolist():  # in the order each first counted, as the loop added them
        startup[timed.names[code]] = sums[code]
    accounted = np.bincount(owner, weights=overlap, minlength=len(picked))
    startup["other"] = _total(_positive(window - accounted))
    return startup, whole, _total(window), _total(duration)
