"""jobs.csv's and summary.json's phases of steps only some workloads take (dsim/result.py STEP_PHASES): ``stop``
(a ``stop`` or ``restart`` step), ``commit``, ``docker_exec``, reported after ``health`` by runs that have them, so
runs without keep their columns. Values worked out from the runtime's rules (docs/containers.md): a server asked
to stop exits after its ``stop_time`` (2 s here); an exec is dockerd's exec path (100 ms on an idle host) and then
its command (1 s of wall time); API calls are free.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from dsim.domain.health import PROBE_EXEC
from dsim.reports.outputs import write_jobs_csv
from dsim.result import JOB_COLUMNS
from tests.components.test_restart_kill_steps import SCENARIO
from tests.helpers import run_text


def jobs_csv(tmp_path: Path, *steps: str) -> list[dict[str, str]]:
    """The rows of jobs.csv written for one job of the restart/kill tests' server and then ``steps``."""
    result = run_text(SCENARIO.format(steps="\n".join(f"      - {step}" for step in steps)))
    write_jobs_csv(result, tmp_path / "jobs.csv")
    return list(csv.DictReader(io.StringIO((tmp_path / "jobs.csv").read_text())))


def test_runs_without_those_steps_keep_their_columns(tmp_path: Path) -> None:
    [row] = jobs_csv(tmp_path, "pause: {container: s}")
    assert tuple(row) == JOB_COLUMNS


def test_exec_commit_and_stop_are_columns_of_their_own(tmp_path: Path) -> None:
    [row] = jobs_csv(tmp_path, "exec: {container: s, duration: 1s}", "commit: {container: s, ref: 'snap:1'}",
                     "stop: {container: s}")
    assert tuple(row) == (*JOB_COLUMNS[:-1], "stop_s", "commit_s", "docker_exec_s", "error")
    assert float(row["docker_exec_s"]) == pytest.approx(PROBE_EXEC.mean + 1.0, abs=1e-6)
    assert float(row["stop_s"]) == pytest.approx(2.0, abs=1e-6)
    assert float(row["commit_s"]) > 0
    # the job's time is its phases': create, start, the exec, the commit and the stop one after another
    spent = sum(float(row[f"{phase}_s"]) for phase in ("create", "start", "docker_exec", "commit", "stop"))
    assert float(row["end_s"]) == pytest.approx(spent, abs=1e-5)
