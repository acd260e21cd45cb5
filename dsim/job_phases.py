"""Each ended job's time per phase, summed from the span store's columns (``SimResult.jobs`` of a run):
the same sums as adding span by span (NumPy's ``bincount`` adds each job's values in record order, from
0.0, as the loop over spans did), without making a span."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dsim.records import JobEnd, SpanKind
from dsim.span_store import SpanStore


def phase_sums(store: SpanStore, ends: Sequence[JobEnd], phases: Sequence[str]) -> list[dict[str, float]]:
    """For each of ``ends`` (in that order), its time per phase: ``queue`` the sum of its API calls' waits,
    each other phase the sum of its spans' durations of that kind."""
    keys = np.unique(np.array([end.job for end in ends], dtype=np.int64))
    sums = {phase: _sums(store, phase, keys) for phase in phases}
    at = np.searchsorted(keys, [end.job for end in ends]).tolist() if len(keys) else []
    return [{phase: sums[phase][i] for phase in phases} for i in at]


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
