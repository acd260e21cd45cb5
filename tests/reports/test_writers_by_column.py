"""Writers that print a block of rows a column at a time (session 26) must write the bytes of the row-by-row
way they replace: jobs.csv from a ``JobTable``'s columns against ``csv.writer`` with Python's ``.6f``, and
the trace's container lanes (``first_free_lanes``) against ``derive.lane_numbers``."""

from __future__ import annotations

import csv
import io
import random

import numpy as np

from dsim.job_table import JobTable
from dsim.records import JobEnd
from dsim.reports.derive import lane_numbers
from dsim.reports.outputs import _write_job_table
from dsim.reports.spans_csv import CsvFields
from dsim.reports.trace import first_free_lanes
from dsim.result import JobRecord


def _expected_rows(ends: list[JobEnd], sums: dict[str, list[float]]) -> str:
    """What csv.writer writes for each job, every time with Python's own ``.6f``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for i, end in enumerate(ends):
        writer.writerow([end.job, end.workload, end.host, f"{end.arrival:.6f}", f"{end.end:.6f}", end.status,
                         *(f"{sums[phase][i]:.6f}" for phase in sums), end.error])
    return buffer.getvalue()


def test_job_rows_from_columns_are_csv_writers_rows() -> None:
    # awkward on purpose: a comma, a quote and a line break in the text fields (quoted by csv), an empty
    # error, ties of .6f (0.0000005 and 2.5e-6 sit near halves of a millionth), -0.0, a huge time and
    # blocks of 2 jobs (step=2) so rows cross block boundaries
    times = [0.0, 0.0000005, 2.5e-6, 1.0000005, 3.25, -0.0, 123456.789, 1e20, 0.1 + 0.2]
    ends = [JobEnd(job, ["web", "a,b", 'say "hi"', "two\nlines"][job % 4], f"node-{job % 3}", times[job],
                   times[job] + 1.5, "completed" if job % 2 else "failed", "" if job % 2 else "boom, it broke")
            for job in range(len(times))]
    sums = {"queue": [t / 3 for t in times], "run": [t * 7 for t in times]}
    table = JobTable(ends, ("queue", "run"), {p: np.array(v, dtype=float) for p, v in sums.items()}, JobRecord)
    written = io.StringIO()
    _write_job_table(written, table, CsvFields(), step=2)
    assert written.getvalue() == _expected_rows(ends, sums)


def test_no_phases_still_ends_each_row_with_the_error() -> None:
    # a table with no phase columns: job,workload,host,arrival,end,status,error
    ends = [JobEnd(1, "w", "h", 1.0, 2.0, "completed", "")]
    table = JobTable(ends, (), {}, JobRecord)
    written = io.StringIO()
    _write_job_table(written, table, CsvFields())
    assert written.getvalue() == "1,w,h,1.000000,2.000000,completed,\n"


def test_container_lanes_by_hand() -> None:
    # container 0: [0,10) lane 0; [2,5) overlaps it: lane 1; [5,8) starts when lane 1's ends: lane 1;
    # [10,12) starts when lane 0's ends: lane 0. Container 1 starts over at lane 0.
    groups, starts, ends = [0, 0, 0, 0, 1], [0.0, 2.0, 5.0, 10.0, 3.0], [10.0, 5.0, 8.0, 12.0, 4.0]
    assert first_free_lanes(np.array(groups), np.array(starts), np.array(ends)).tolist() == [0, 1, 1, 0, 0]
    # given out of order: the lanes are the same, each in its place
    assert first_free_lanes(np.array(groups[::-1]), np.array(starts[::-1]), np.array(ends[::-1])).tolist() == [
        0, 0, 1, 1, 0]


def test_container_lanes_are_lane_numbers_of_each_group() -> None:
    # random groups with many equal starts and ends (ties are where the order of taking matters)
    rng = random.Random(26)
    for _ in range(200):
        groups: dict[int, list[tuple[float, float, int]]] = {}
        key = 0
        for group in range(rng.randint(1, 4)):
            for _ in range(rng.randint(1, 12)):
                start = float(rng.randint(0, 8))
                groups.setdefault(group, []).append((start, start + rng.randint(1, 5), key))
                key += 1
        flat = [(g, s, e) for g, items in groups.items() for s, e, _ in items]
        rng.shuffle(flat)  # groups interleaved, as a host's spans are
        lanes = first_free_lanes(*(np.array(column) for column in zip(*flat, strict=True))).tolist()
        for group in groups:
            mine = [(s, e) for g, s, e in flat if g == group]
            assert [lane for (g, _, _), lane in zip(flat, lanes, strict=True) if g == group] == lane_numbers(mine)
