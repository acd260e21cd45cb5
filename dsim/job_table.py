"""``SimResult.jobs`` of a run kept as columns: one record per ended job, made when read.

A list of ``JobRecord``s with a dict of phase sums each costs about 650 bytes a job (the record, the dict,
a boxed float per phase): 650 MB kept for the rest of the outputs of a 1,000,000-job run. Here the run's
``JobEnd`` tuples (kept by the run anyway) are referenced in job order and each phase's sums are one
``float64`` array (8 bytes a job a phase); readers that go over every job (the time-share chart, the
report's slowest jobs) read the columns, and a ``JobRecord`` is made only when one is asked for.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from operator import itemgetter
from typing import TYPE_CHECKING, overload

import numpy as np

from dsim.records import JobEnd

if TYPE_CHECKING:
    from dsim.result import JobRecord


class JobTable(Sequence["JobRecord"]):
    """Ended jobs in job order (``ends``, sorted by job) with each phase's sums (``sums[phase][i]``: the
    ``i``-th job's, a float64 array per phase in ``phases`` order)."""

    def __init__(self, ends: list[JobEnd], phases: Sequence[str], sums: dict[str, np.ndarray],
                 record: type[JobRecord]) -> None:
        self.ends = ends
        self._record_type = record  # dsim.result.JobRecord (passed in: result imports this module)
        self.phases = tuple(phases)
        self.sums = sums
        self._columns: dict[str, np.ndarray] = {}  # ``column``'s, made once

    def __len__(self) -> int:
        return len(self.ends)

    def _record(self, i: int) -> JobRecord:
        end = self.ends[i]
        return self._record_type(end.job, end.workload, end.host, end.arrival, end.end, end.status,
                         {phase: self.sums[phase][i].item() for phase in self.phases}, end.error)

    @overload
    def __getitem__(self, index: int) -> JobRecord: ...

    @overload
    def __getitem__(self, index: slice) -> list[JobRecord]: ...

    def __getitem__(self, index: int | slice) -> JobRecord | list[JobRecord]:
        if isinstance(index, slice):
            return [self._record(i) for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("job index out of range")
        return self._record(index)

    def __iter__(self) -> Iterator[JobRecord]:
        """The records, made one block of jobs at a time (a block's phase sums as Python floats at once)."""
        make = self._record_type
        step = 1 << 14
        phases = self.phases
        for low in range(0, len(self.ends), step):
            columns = [self.sums[phase][low:low + step].tolist() for phase in phases]
            for end, values in zip(self.ends[low:low + step], zip(*columns, strict=True), strict=True):
                yield make(end.job, end.workload, end.host, end.arrival, end.end, end.status,
                                dict(zip(phases, values, strict=True)), end.error)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, list | JobTable):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # compared by content

    def __add__(self, other: Sequence[JobRecord]) -> list[JobRecord]:
        return [*self, *other]

    # ------------------------------------------------------------ columns (no record made)

    def column(self, name: str) -> np.ndarray:
        """``arrival_s``, ``end_s`` (float64) or ``job`` (int64) of every job, in job order."""
        kept = self._columns.get(name)
        if kept is None or len(kept) != len(self.ends):
            field = {"arrival_s": 3, "end_s": 4, "job": 0}[name]
            dtype = np.int64 if name == "job" else np.float64
            kept = np.fromiter(map(itemgetter(field), self.ends), dtype=dtype, count=len(self.ends))
            kept.flags.writeable = False  # shared by every reader (jobs.csv, the time shares, the report)
            self._columns[name] = kept
        return kept

    def workloads(self) -> list[str]:
        """Every job's workload, in job order."""
        return list(map(itemgetter(1), self.ends))


def slowest_jobs(jobs: Sequence[JobRecord], count: int) -> list[JobRecord]:
    """The ``count`` longest jobs, longest first, ties by job number: ``sorted(jobs, key=lambda j:
    (-j.duration_s, j.job))[:count]``; of a ``JobTable`` from its columns, making only those records."""
    if not isinstance(jobs, JobTable):
        return sorted(jobs, key=lambda j: (-j.duration_s, j.job))[:count]
    numbers = jobs.column("job")
    order = np.lexsort((numbers, -(jobs.column("end_s") - jobs.column("arrival_s"))))
    return [jobs[i] for i in order[:count].tolist()]
