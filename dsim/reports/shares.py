"""The time-share chart's sums (``charts.jobs._shares``) from columns: the same sums, in the same order,
as the loop over jobs and their intervals, done with NumPy. Every sum the loop made one addition at a
time is made the same way here (``bincount`` and ``cumsum`` add in array order), so the floats, and the
chart, are the same."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class IntervalColumns:
    """Per job (by job, each in record order) the start-up intervals: name codes into ``names``, starts,
    ends; ``index``: job -> its rows; ``running``: job -> when its first container was running."""

    names: list[str]
    codes: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    index: dict[int, tuple[int, int]]
    running: dict[int, float]


def _total(values: np.ndarray) -> float:
    """0.0 plus each value in turn (as ``total += value`` in a loop)."""
    return float(np.cumsum(values)[-1]) if len(values) else 0.0


def _positive(values: np.ndarray) -> np.ndarray:
    """``max(0.0, v)`` of each (0.0 for NaN too, as Python's ``max`` keeps its first argument)."""
    return np.where(values > 0.0, values, 0.0)


def shares_from_columns(jobs: Sequence[Any], timed: IntervalColumns
                        ) -> tuple[dict[str, float], dict[str, float], float, float]:
    """``_shares`` of ``jobs`` (JobRecords, in the order given) from ``timed``."""
    arrival = np.array([job.arrival_s for job in jobs], dtype=float)
    end = np.array([job.end_s for job in jobs], dtype=float)
    duration = _positive(end - arrival)
    whole: dict[str, float] = {}
    spent = np.zeros(len(jobs))
    for phase in jobs[0].phases:
        column = np.array([job.phases[phase] for job in jobs], dtype=float)
        whole[phase] = _total(column)
        spent = spent + column  # sum(job.phases.values()), phase by phase
    whole["other"] = _total(_positive(duration - spent))
    running = np.array([timed.running.get(job.job, job.end_s) for job in jobs], dtype=float)
    window = _positive(running - arrival)
    spans = [timed.index.get(job.job, (0, 0)) for job in jobs]
    rows = np.concatenate([np.arange(lo, hi) for lo, hi in spans]).astype(np.int64) if spans else np.empty(0, int)
    owner = np.repeat(np.arange(len(jobs)), [hi - lo for lo, hi in spans])
    starts, ends = timed.starts[rows], timed.ends[rows]
    run_at, came = running[owner], arrival[owner]
    overlap = np.where(run_at < ends, run_at, ends) - np.where(came > starts, came, starts)
    counted = overlap > 0
    codes, overlap, owner = timed.codes[rows][counted], overlap[counted], owner[counted]
    startup: dict[str, float] = {}
    sums = np.bincount(codes, weights=overlap, minlength=len(timed.names)).tolist()
    for code in dict.fromkeys(codes.tolist()):  # in the order each first counted, as the loop added them
        startup[timed.names[code]] = sums[code]
    accounted = np.bincount(owner, weights=overlap, minlength=len(jobs))
    startup["other"] = _total(_positive(window - accounted))
    return startup, whole, _total(window), _total(duration)
