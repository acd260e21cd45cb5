"""A sweep killed with SIGKILL at any moment keeps every run it had committed, stores no run twice, and
``--resume`` finishes it with exactly the results of a sweep that was never interrupted.

The sweep runs as a real subprocess (in its own process group, so the kill takes its worker processes
too); it is killed again and again at growing delays, so kills land before the first run, between runs
and during commits, until one resume gets to the end.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from dsim.cli import app
from tests.sweep.test_sweep_cli import SLEEPY

#: 1,500 sleeping jobs: a run takes tens of milliseconds, so 24 runs span about a second or two.
SCENARIO = SLEEPY.replace("burst: 1}", "burst: 1500}")
ARGS = ("--vary", "hosts.box.cpus=1,2", "-n", "12", "--no-charts", "-q")


def stored(path: Path) -> int:
    if not path.exists():
        return 0
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        return int(db.execute("SELECT COUNT(*) FROM runs").fetchone()[0])
    except sqlite3.OperationalError:  # the schema is not there yet
        return 0
    finally:
        db.close()


def check_store(path: Path) -> int:
    db = sqlite3.connect(path, timeout=10)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        if not db.execute("SELECT name FROM sqlite_master WHERE name = 'runs'").fetchall():
            return 0  # killed between creating the file and committing its schema: resume creates it
        total, distinct = db.execute(
            "SELECT COUNT(*), COUNT(DISTINCT variant || '/' || replication) FROM runs").fetchone()
        assert total == distinct
        return int(total)
    finally:
        db.close()


def test_sigkill_at_any_moment_then_resume(tmp_path: Path) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(SCENARIO)
    out = tmp_path / "killed"
    store = out / "sweep.sqlite"
    command = [sys.executable, "-m", "dsim", "sweep", str(scenario), "--out", str(out), "--workers", "2", *ARGS]
    jitter = random.Random(7)
    # Kill points: during start-up (nothing stored yet), then after 1, 4 and 6 more runs are stored plus
    # 0-30 ms, which lands between runs, while workers run, or while a commit is being written.
    for number, more in enumerate((None, 1, 4, 6)):
        proc = subprocess.Popen([*command, *(["--resume"] if number else [])], start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        before = stored(store)
        deadline = time.monotonic() + 120
        if more is None:
            time.sleep(0.3)
        else:
            while stored(store) < before + more and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.005)
            time.sleep(jitter.uniform(0, 0.03))
        seen = stored(store)
        assert proc.poll() is None, "the sweep ended before it could be killed"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        after = check_store(store) if store.exists() else 0
        assert after >= seen, f"a committed run was lost: {seen} seen before the kill, {after} after"
    assert 0 < check_store(store) < 24
    done = subprocess.run([*command, "--resume"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert check_store(store) == 24

    reference = tmp_path / "reference"
    result = CliRunner().invoke(app, ["sweep", str(scenario), "--out", str(reference), "--workers", "1", *ARGS])
    assert result.exit_code == 0, result.output
    for name in ("sweep.csv", "runs.csv", "sweep.html"):
        assert (out / name).read_bytes() == (reference / name).read_bytes(), name


def test_kill_before_anything_is_stored_leaves_a_usable_directory(tmp_path: Path) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(SCENARIO)
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "dsim", "sweep", str(scenario), "--out", str(out), *ARGS],
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not (out / "sweep.sqlite").exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    result = CliRunner().invoke(app, ["sweep", str(scenario), "--out", str(out), "--resume", "--workers", "1", *ARGS])
    assert result.exit_code == 0, result.output
    assert check_store(out / "sweep.sqlite") == 24
