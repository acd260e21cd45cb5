"""Same scenario and seed: byte-identical outputs, in this process and in another; another seed differs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from dsim.cli import app
from tests.helpers import ROOT

SCENARIO = ROOT / "scenarios" / "ci-burst.yaml"
FILES = ("jobs.csv", "spans.csv")


def run_into(out: Path, *extra: str) -> None:
    result = CliRunner().invoke(app, ["run", str(SCENARIO), "--out", str(out), "--quiet", "--no-charts", *extra])
    assert result.exit_code == 0, result.output


def summary_without_wall(out: Path) -> dict[str, object]:
    summary = json.loads((out / "summary.json").read_text())
    summary.pop("wall_s")
    return summary


def test_same_seed_gives_identical_files(tmp_path: Path) -> None:
    run_into(tmp_path / "a")
    run_into(tmp_path / "b")
    for name in FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert summary_without_wall(tmp_path / "a") == summary_without_wall(tmp_path / "b")


def test_identical_in_another_process_with_another_hash_seed(tmp_path: Path) -> None:
    run_into(tmp_path / "here")
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    cmd = [sys.executable, "-m", "dsim", "run", str(SCENARIO), "--out", str(tmp_path / "there"), "--quiet",
           "--no-charts"]
    subprocess.run(cmd, check=True, env=env, capture_output=True)
    for name in FILES:
        assert (tmp_path / "here" / name).read_bytes() == (tmp_path / "there" / name).read_bytes(), name
    assert summary_without_wall(tmp_path / "here") == summary_without_wall(tmp_path / "there")


def test_another_seed_changes_the_samples(tmp_path: Path) -> None:
    run_into(tmp_path / "a")
    run_into(tmp_path / "b", "--seed", "7")
    assert (tmp_path / "a" / "jobs.csv").read_bytes() != (tmp_path / "b" / "jobs.csv").read_bytes()
    assert summary_without_wall(tmp_path / "a")["phases"] != summary_without_wall(tmp_path / "b")["phases"]
