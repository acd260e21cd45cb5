"""Each ended job's time per phase, summed from the span store's columns (``SimResult.jobs`` of a run):
the same sums as adding span by span (NumPy's ``bincount`` adds each job's values in record order, from
0.0, as the loop over spans did), without making a span."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dsim.records import JobEnd, SpanKind
from dsim.span_store import SpanStore


def phase_sums(store: SpanStore, ends: Sequence[JobEnd], phases: Sequence[str]) -> dict[str, np.ndarray]:
    """Per phase, each of ``ends``' time in it (a float64 array in the order of ``ends``): ``queue`` the sum
    of its API calls' waits, each other phase the sum of its spans' durations of that kind."""
    jobs = np.fromiter((end.job for end in ends), dtype=np.int64, count=len(ends))
    keys = np.unique(jobs)
    at = np.searchsorted(keys, jobs)
    return {phase: _sums(store, phase, keys)[at] for phase in phases}


def _sums(store: SpanStore, phase: str, keys: np.ndarray) -> np.ndarray:
    """Per job in ``keys``, the phase's values summed in record order."""
    if phase == "queue":
        jobs = store.kind_jobs(SpanKind.API)
        values = np.array(store.kind_attr(SpanKind.API, "queue"), dtype=np.float64)
    else:
        jobs = store.kind_jobs(phase)
        starts, ends = store.kind_times(phase)
        values = ends - starts
    if not len(keys):
        return np.zeros(0)
    where = np.minimum(np.searchsorted(keys, jobs), len(keys) - 1)
    mine = keys[where] == jobs
    return np.bincount(where[mine], weights=values[mine], minlength=len(keys)).astype(np.float64)
