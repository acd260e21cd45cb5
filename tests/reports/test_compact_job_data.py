"""The charts' and the report's per-job data read from columns (dsim/job_table.py, reports/shares.py,
dsim/job_spans.py) must give exactly what the same spans give as a plain list of Span tuples (the loops
over records, the other path): the same floats, not merely close ones, since the outputs print them."""

from __future__ import annotations

import dataclasses
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from dsim.api import load_scenario
from dsim.job_table import JobTable, slowest_jobs
from dsim.reports import shares
from dsim.reports.charts.jobs import _shares, _workload_groups
from dsim.reports.context import ScenarioInfo
from dsim.reports.derive import SpanIndex, job_phase_kinds, kind_stats
from dsim.reports.outputs import write_run_outputs
from dsim.reports.shares import IntervalColumns
from dsim.result import SimResult
from dsim.span_store import JobSpans, SpanStore
from dsim.world import World
from tests.helpers import ROOT


@cache
def _runs() -> tuple[SimResult, SimResult]:
    """ci-burst run once: its result (spans in the store, every one compacted) and the same as a list."""
    result = World(load_scenario(ROOT / "scenarios" / "ci-burst.yaml")).run()
    assert isinstance(result.spans, SpanStore)
    result.spans.compact()
    return result, dataclasses.replace(result, spans=list(result.spans))


def test_job_table_reads_as_the_list_of_records() -> None:
    result, listed = _runs()
    assert isinstance(result.jobs, JobTable) and not isinstance(listed.jobs, JobTable)
    assert list(result.jobs) == listed.jobs
    assert [result.jobs[i] for i in range(-2, 2)] == [listed.jobs[i] for i in range(-2, 2)]
    assert result.jobs[1:4] == listed.jobs[1:4]
    # the slowest: longest first, ties by job number; from the columns as sorting the records does
    assert slowest_jobs(result.jobs, 5) == sorted(listed.jobs, key=lambda j: (-j.duration_s, j.job))[:5]


@pytest.mark.parametrize("chunk", [1, 3, 1 << 16])
def test_time_shares_from_columns_are_the_loops_sums(monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    # A chunk of 1 or 3 jobs carries each phase's running sum from chunk to chunk: each value is still
    # added to the sum so far in job order, record order within a job, as the loop over jobs adds them.
    monkeypatch.setattr(shares, "CHUNK", chunk)
    result, listed = _runs()
    phases = job_phase_kinds(result)
    columns, records = _workload_groups(result.jobs), _workload_groups(listed.jobs)
    assert [name for name, _ in columns] == [name for name, _ in records]
    for (_, rows), (_, jobs) in zip(columns, records, strict=True):
        startup, whole, startup_total, whole_total = _shares(rows, SpanIndex(result), phases)
        startup_loop, whole_loop, startup_total_loop, whole_total_loop = _shares(jobs, SpanIndex(listed), phases)
        assert (startup, whole, startup_total, whole_total) == (dict(startup_loop), dict(whole_loop),
                                                                 startup_total_loop, whole_total_loop)


def test_kind_statistics_from_columns_are_the_lists() -> None:
    result, listed = _runs()
    assert kind_stats(result) == kind_stats(listed)


def test_job_spans_find_each_jobs_spans_in_record_order() -> None:
    result, listed = _runs()
    by_job = SpanIndex(result).by_job
    assert isinstance(by_job, JobSpans)
    expected: dict[int, list[object]] = {}
    for span in listed.spans:
        if span.job >= 0:
            expected.setdefault(span.job, []).append(span)
    assert list(by_job) == list(expected)  # in the order each job first appears
    assert len(by_job) == len(expected)
    assert -1 not in by_job and max(expected) + 1 not in by_job
    by_job.prefetch([*expected, -1, max(expected) + 5])  # unknown jobs are ignored
    for job, spans in expected.items():
        assert job in by_job and by_job[job] == spans
    with pytest.raises(KeyError):
        by_job[max(expected) + 1]


def test_intervals_of_a_run_without_containers_or_phases() -> None:
    # No job had an interval and no container started (a build-only run): every job has rows (0, 0) and is
    # "running" at its own end, the default given.
    empty = np.empty(0, dtype=np.int64)
    columns = IntervalColumns(["queue"], np.empty(0, dtype=np.int8), np.empty(0), np.empty(0), empty, empty, empty,
                              empty, np.empty(0))
    jobs = np.array([0, 7], dtype=np.int64)
    lows, highs = columns.rows_of(jobs)
    assert lows.tolist() == [0, 0] and highs.tolist() == [0, 0]
    assert columns.running_of(jobs, np.array([5.0, 9.0])).tolist() == [5.0, 9.0]


def test_every_file_of_a_build_only_run_from_the_store_is_the_list_path(tmp_path: Path) -> None:
    """multi-stage builds and starts no container: the time-share chart's columns are empty."""
    resolved = load_scenario(ROOT / "scenarios" / "multi-stage.yaml")
    result = World(resolved, link_samples=1.0).run()
    listed = dataclasses.replace(result, spans=list(result.spans))
    summary = result.summary()
    info = ScenarioInfo.from_resolved(resolved)
    write_run_outputs(result, tmp_path / "store", summary, info, trace=False)
    write_run_outputs(listed, tmp_path / "list", summary, info, trace=False)
    files = sorted(p.relative_to(tmp_path / "store") for p in (tmp_path / "store").rglob("*") if p.is_file())
    assert files
    for name in files:
        assert (tmp_path / "store" / name).read_bytes() == (tmp_path / "list" / name).read_bytes(), name
