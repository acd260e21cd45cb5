"""A run's spans by job, each job's made from the span store when asked for (``SpanIndex.by_job``)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from dsim.span_store import SpanStore

#: Job numbers made into Python ints at once when iterating.
_CHUNK = 1 << 14
#: Jobs whose spans, once made, are kept for the next look-up: a chart looks at each job of its sample a few
#: times (the timeline: its spans, then its pulls, then their unpacks), and making a job's spans reads every
#: block of the store its spans are in (a large CI burst's jobs, all running at once, are in most of them).
_KEPT_JOBS = 1024
#: the job numbers a look-up can hold (NumPy's int64, the store's column)
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


class JobSpans(Mapping[int, list[Any]]):
    """A store's spans by job (jobs >= 0, in the order each first appears), each job's made when asked for:
    a report that looks at a few jobs (the timeline's sample, ``dsim explain``) makes only theirs. Keeps each
    job's number twice (ascending, and in order of first appearance: 16 bytes a job), not a job column of
    every span; ``prefetch`` finds many jobs' spans in one pass over the store's blocks."""

    def __init__(self, store: SpanStore) -> None:
        self._store = store
        keys, firsts = store.job_firsts()
        keep = keys >= 0
        self._keys = keys[keep]  # ascending
        self._order = self._keys[np.argsort(firsts[keep], kind="stable")]
        self._found: dict[int, np.ndarray] = {}
        self._made: dict[int, list[Any]] = {}  # the last ``_KEPT_JOBS`` jobs' spans, oldest first

    def _known(self, jobs: np.ndarray) -> np.ndarray:
        """Which of ``jobs`` have spans."""
        if not len(self._keys):
            return np.zeros(len(jobs), dtype=bool)
        at = np.minimum(np.searchsorted(self._keys, jobs), len(self._keys) - 1)
        found: np.ndarray = self._keys[at] == jobs
        return found

    def prefetch(self, jobs: Iterable[int]) -> None:
        """Find the spans of ``jobs`` at once (one pass over the job columns), for the lookups that follow."""
        asked = np.unique(np.fromiter((job for job in jobs if job not in self._found), dtype=np.int64))
        wanted = asked[self._known(asked)]
        if not len(wanted):
            return
        positions = self._store.positions_of_jobs(wanted)
        owners = self._store.jobs_at(positions)
        order = np.argsort(owners, kind="stable")
        owners, positions = owners[order], positions[order]
        cuts = np.searchsorted(owners, wanted)
        bounds = [*cuts.tolist(), len(owners)]
        for i, job in enumerate(wanted.tolist()):
            self._found[job] = positions[bounds[i]:bounds[i + 1]]

    def __getitem__(self, job: int) -> list[Any]:
        if job not in self:
            raise KeyError(job)
        made = self._made.get(job)
        if made is None:
            if job not in self._found:
                self.prefetch([job])
            made = self._made[job] = self._store.take(self._found[job])
            if len(self._made) > _KEPT_JOBS:
                del self._made[next(iter(self._made))]
        return list(made)  # a list of the caller's own: the kept one stays as made

    def __contains__(self, job: object) -> bool:
        if job in self._found:
            return True
        if type(job) is not int and not isinstance(job, np.integer):
            return False
        if not _INT64_MIN <= job <= _INT64_MAX:  # no job has such a number (and NumPy could not hold it)
            return False
        return bool(self._known(np.array([job], dtype=np.int64))[0])

    def __iter__(self) -> Iterator[int]:
        order = self._order
        for low in range(0, len(order), _CHUNK):
            yield from order[low:low + _CHUNK].tolist()

    def __len__(self) -> int:
        return len(self._keys)
