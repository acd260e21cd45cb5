"""Each ended job's time per phase, summed from the span store's columns (``SimResult.jobs`` of a run):
the same sums as adding span by span (NumPy's ``bincount`` adds each job's values in record order, from
0.0, as the loop over spans did), without making a span."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from dsim.records import JobEnd, SpanKind
from dsim.span_store import SpanStore

if TYPE_CHECKING:
    from dsim.result import JobRecord


def job_records(store: SpanStore, ends: Sequence[JobEnd], phases: Sequence[str]) -> list[JobRecord]:
    """One record per ended job, in job order: ``queue`` the sum of its API calls' waits, each other phase
    the sum of its spans' durations of that kind."""
    from dsim.result import JobRecord

    ordered = sorted(ends, key=lambda e: e.job)
    keys = np.unique(np.array([end.job for end in ordered], dtype=np.int64))
    sums = {phase: _sums(store, phase, keys) for phase in phases}
    at = np.searchsorted(keys, [end.job for end in ordered]).tolist() if len(keys) else []
    return [JobRecord(end.job, end.workload, end.host, end.arrival, end.end, end.status,
                      {phase: sums[phase][i] for phase in phases}, end.error)
            for end, i in zip(ordered, at, strict=True)]


def _sums(store: SpanStore, phase: str, keys: np.ndarray) -> list[float]:
    """Per job in ``keys``, the phase's values summed in record order."""
    if phase == "queue":
        jobs = store.kind_jobs(SpanKind.API)
        values = np.array(store.kind_attr(SpanKind.API, "queue"), dtype=np.float64)
    else:
        jobs = store.kind_jobs(phase)
        starts, ends = store.kind_times(phase)
        values = ends - starts
    if not len(keys):
        return []
    where = np.minimum(np.searchsorted(keys, jobs), len(keys) - 1)
    mine = keys[where] == jobs
    sums: list[float] = np.bincount(where[mine], weights=values[mine], minlength=len(keys)).tolist()
    return sums
