"""Issue 17: the sweep's bounds: workers capped at the cores and the runs, workers below 1 refused in one
line, a grid above grid.MAX_RUNS refused before anything is built, and stores that are not dsim stores
(empty, garbage, another schema, damaged) refused in one line naming the file (exit 2)."""

from __future__ import annotations

import sqlite3
import textwrap
from pathlib import Path

import pytest

from dsim.sweep import executors
from dsim.sweep.executors import ProcessExecutor, SerialExecutor, make_executor
from dsim.sweep.grid import MAX_RUNS
from tests.sweep.test_sweep_cli import SLEEP_AXIS, sweep, write_scenario


def test_workers_are_capped_at_the_runs_and_the_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(executors, "available_cores", lambda: 64)
    two_runs = make_executor(workers=100000, dask=None, runs=2)
    assert isinstance(two_runs, ProcessExecutor) and two_runs.workers == 2
    assert two_runs.description == "2 local worker processes (--workers 100000 capped at 2 runs)"
    many_runs = make_executor(workers=100000, dask=None, runs=1000)
    assert isinstance(many_runs, ProcessExecutor) and many_runs.workers == 64
    assert many_runs.description == "64 local worker processes (--workers 100000 capped at 64 cores)"
    default = make_executor(workers=None, dask=None, runs=3)
    assert isinstance(default, ProcessExecutor) and default.workers == 3
    assert default.description == "3 local worker processes"  # no cap to report: the user chose nothing
    one_run = make_executor(workers=8, dask=None, runs=1)
    assert isinstance(one_run, SerialExecutor)
    assert one_run.description == "1 worker (this process) (--workers 8 capped at 1 runs)"


def test_100000_workers_for_2_runs_finishes(tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path)
    code, _, stderr = sweep(str(scenario), "-n", "2", "--workers", "100000", "--out", str(tmp_path / "o"),
                            "--no-charts", "-q")
    assert code == 0, stderr
    assert (tmp_path / "o" / "sweep.csv").exists()


@pytest.mark.parametrize(("option", "value", "line"), [
    ("--workers", "0", "dsim: error: --workers: must be at least 1, got 0"),
    ("-j", "0", "dsim: error: --workers: must be at least 1, got 0"),
    ("--workers", "-3", "dsim: error: --workers: must be at least 1, got -3"),
    ("-n", "0", "dsim: error: --replications: must be at least 1, got 0"),
])
def test_counts_below_1_are_one_line(tmp_path: Path, option: str, value: str, line: str) -> None:
    code, stdout, stderr = sweep(str(write_scenario(tmp_path)), option, value, "--out", str(tmp_path / "o"))
    assert (code, stdout, stderr) == (2, "", line + "\n")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(("where", "problem"), [
    ("a-file", "exists and is not a folder"),
    ("a-file/sub", "{tmp}/a-file is not a folder"),
])
def test_an_out_that_cannot_be_a_folder_is_one_line_before_any_run(tmp_path: Path, where: str, problem: str) -> None:
    (tmp_path / "a-file").write_text("mine\n")
    out = tmp_path / where
    code, stdout, stderr = sweep(str(write_scenario(tmp_path)), "--vary", SLEEP_AXIS, "--out", str(out))
    assert (code, stdout, stderr) == (2, "", f"dsim: error: --out {out}: {problem.format(tmp=tmp_path)}\n")
    assert (tmp_path / "a-file").read_text() == "mine\n"


def test_a_grid_above_the_limit_is_refused_before_it_is_built(tmp_path: Path) -> None:
    scenario = str(write_scenario(tmp_path))
    seeds = ",".join(map(str, range(1001)))
    cpus = ",".join(map(str, range(1, 1001)))
    code, _, stderr = sweep(scenario, "--vary", f"seed={seeds}", "--vary", f"hosts.box.cpus={cpus}", "-n", "1",
                            "--out", str(tmp_path / "o"))
    assert code == 2
    assert stderr == (f"dsim: error: --vary hosts.box.cpus: the grid is 1001 x 1000 variants x 1 replications = "
                      f"1001000 runs, more than the {MAX_RUNS} a sweep may have (docs/sweeps.md)\n")
    code, _, stderr = sweep(scenario, "--vary", f"seed={seeds}", "--vary", SLEEP_AXIS, "-n", "1000",
                            "--out", str(tmp_path / "o"))
    assert code == 2 and "1001 x 2 variants x 1000 replications = 2002000 runs" in stderr
    code, _, stderr = sweep(scenario, "-n", str(MAX_RUNS + 1), "--out", str(tmp_path / "o"))
    assert stderr == (f"dsim: error: --replications: {MAX_RUNS + 1} replications is more than the {MAX_RUNS} "
                      "runs a sweep may have (docs/sweeps.md)\n")
    assert not (tmp_path / "o").exists()


def test_a_sweep_file_grid_above_the_limit_names_its_position(tmp_path: Path) -> None:
    write_scenario(tmp_path)
    spec = tmp_path / "big.sweep.yaml"
    spec.write_text(textwrap.dedent(f"""\
        scenario: sleepy.yaml
        replications: 11
        grid:
          seed: [{", ".join(map(str, range(1000)))}]
          hosts.box.cpus: [{", ".join(map(str, range(1, 101)))}]
        """))
    code, _, stderr = sweep(str(spec), "--out", str(tmp_path / "o"))
    assert code == 2
    assert stderr == (f"dsim: error: {spec}:5:3: grid.hosts.box.cpus: the grid is 1000 x 100 variants x 11 "
                      f"replications = 1100000 runs, more than the {MAX_RUNS} a sweep may have (docs/sweeps.md)\n")
    spec.write_text(f"scenario: sleepy.yaml\nreplications: {MAX_RUNS + 1}\n")
    code, _, stderr = sweep(str(spec), "--out", str(tmp_path / "o"))
    assert stderr == (f"dsim: error: {spec}:2:1: replications: {MAX_RUNS + 1} replications is more than the "
                      f"{MAX_RUNS} runs a sweep may have (docs/sweeps.md)\n")


def store_at(tmp_path: Path, make: str) -> Path:
    """An --out directory whose sweep.sqlite is ``make``: empty, garbage, other-schema or other-tables."""
    out = tmp_path / "o"
    out.mkdir()
    path = out / "sweep.sqlite"
    if make == "empty":
        path.write_bytes(b"")
    elif make == "garbage":
        path.write_bytes(bytes(range(256)) * 16)
    else:
        db = sqlite3.connect(path)
        if make == "other-schema":
            db.execute("CREATE TABLE meta (x)")
            db.execute("CREATE TABLE runs (y)")
        else:
            db.execute("CREATE TABLE foo (x)")
        db.commit()
        db.close()
    return out


@pytest.mark.parametrize(("make", "problem"), [
    ("empty", "an empty file (0 bytes), not a dsim sweep store; delete it or choose another --out"),
    ("garbage", "not a dsim sweep store, or a damaged one (file is not a database); choose another --out"),
    ("other-schema", "not a dsim sweep store (its meta table has columns x, not key, value); choose another --out"),
    ("other-tables", "not a dsim sweep store (it has other tables); choose another --out"),
])
@pytest.mark.parametrize("resume", [False, True])
def test_a_store_that_is_not_a_dsim_store_is_one_line(tmp_path: Path, make: str, problem: str,
                                                      resume: bool) -> None:
    out = store_at(tmp_path, make)
    before = (out / "sweep.sqlite").read_bytes()
    code, stdout, stderr = sweep(str(write_scenario(tmp_path)), "-n", "1", "--workers", "1", "--out", str(out),
                                 *(["--resume"] if resume else []))
    assert (code, stdout, stderr) == (2, "", f"dsim: error: {out / 'sweep.sqlite'}: {problem}\n")
    assert (out / "sweep.sqlite").read_bytes() == before  # left as it was


def test_a_damaged_store_is_one_line(tmp_path: Path) -> None:
    scenario = str(write_scenario(tmp_path))
    out = tmp_path / "o"
    assert sweep(scenario, "-n", "3", "--workers", "1", "--out", str(out), "--no-charts", "-q")[0] == 0
    path = out / "sweep.sqlite"
    data = path.read_bytes()
    assert len(data) > 4096  # the header page, then the tables' pages
    path.write_bytes(data[:4096] + b"\xff" * (len(data) - 4096))  # keep SQLite's header, spoil every page
    code, stdout, stderr = sweep(scenario, "-n", "3", "--workers", "1", "--out", str(out), "--resume")
    assert (code, stdout, stderr) == (2, "", f"dsim: error: {path}: not a dsim sweep store, or a damaged one "
                                             "(database disk image is malformed); choose another --out\n")
