"""A run's results folder is written whole (dsim/reports/outdir.py, docs/reports.md "Output files"):
staged beside --out and renamed into place, never mixed with another run's files, never left with stale
files of an earlier run, and a folder dsim did not write is refused, not emptied."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

import dsim
from dsim.cli import app
from dsim.errors import SimulationError, UsageError
from dsim.reports.outdir import check_out_dir, write_whole
from dsim.reports.outputs import summary_json
from tests.helpers import output_files

ROOT = Path(__file__).resolve().parents[2]

#: two hosts pull a 10 MB image once each, then sleep a random while (so two seeds give different files)
SMALL = textwrap.dedent("""\
    name: small
    seed: 1
    registries:
      reg: {bandwidth: 1Gbps}
    images:
      app:1: {registry: reg, layers: [10MB]}
    hosts:
      box: {count: 2, nic: 1Gbps}
    workloads:
      w:
        arrival: {burst: 2}
        steps:
          - pull: app:1
          - sleep: exponential(mean=10s)
    """)


def scenario(tmp_path: Path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(SMALL)
    return path


def writer(names: dict[str, str]):  # type: ignore[no-untyped-def]
    def write(staging: Path) -> list[Path]:
        paths = []
        for name, text in names.items():
            (staging / name).write_text(text)
            paths.append(staging / name)
        return paths
    return write


def test_a_reused_out_keeps_no_stale_file_of_the_previous_run(tmp_path: Path) -> None:
    """An earlier run's folder with charts and trace, then a run with --no-charts --no-trace: charts/,
    report.html and trace.json go (the earlier folder is laid out by hand: drawing charts is slow)."""
    out = tmp_path / "out"
    (out / "charts").mkdir(parents=True)
    for name in ("summary.json", "jobs.csv", "spans.csv", "report.html", "trace.json", "charts/timeline.png"):
        (out / name).write_text("earlier run")
    result = CliRunner().invoke(app, ["run", str(scenario(tmp_path)), "-o", str(out), "--quiet", "--no-charts",
                                      "--no-trace"])
    assert result.exit_code == 0, result.output
    assert sorted(path.name for path in out.iterdir()) == ["jobs.csv", "spans.csv", "summary.json"]
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".")] == []  # no staging left


def test_an_interleaved_second_write_never_mixes_with_the_first(tmp_path: Path) -> None:
    """Run B finishes while run A is still writing: the folder is B's, then A's whole; never a mix."""
    out = tmp_path / "out"

    def run_a(staging: Path) -> list[Path]:
        (staging / "summary.json").write_text("A")
        write_whole(out, writer({"summary.json": "B", "trace.json": "B"}))  # B lands meanwhile
        assert files_of_text(out) == {"summary.json": "B", "trace.json": "B"}
        (staging / "jobs.csv").write_text("A")
        return [staging / "summary.json", staging / "jobs.csv"]

    written = write_whole(out, run_a)
    assert files_of_text(out) == {"summary.json": "A", "jobs.csv": "A"}  # last writer wins, B's trace gone
    assert written == [out / "summary.json", out / "jobs.csv"]
    assert [path.name for path in tmp_path.iterdir()] == ["out"]


def files_of_text(directory: Path) -> dict[str, str]:
    return {path.name: path.read_text() for path in directory.iterdir()}


def test_a_failed_write_leaves_the_previous_results_untouched(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_whole(out, writer({"summary.json": "old"}))

    def broken(staging: Path) -> list[Path]:
        (staging / "summary.json").write_text("new")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_whole(out, broken)
    assert files_of_text(out) == {"summary.json": "old"}
    assert [path.name for path in tmp_path.iterdir()] == ["out"]


def test_two_concurrent_runs_into_one_folder_leave_one_whole_run(tmp_path: Path) -> None:
    """Two `dsim run` of different seeds into one --out at once: both succeed (last writer wins), and the
    folder holds exactly the files of one of them (compared with each seed run alone)."""
    path = scenario(tmp_path)
    alone = {}
    for seed in (1, 2):
        dsim.run(dsim.load_scenario(path), seed=seed, out=tmp_path / f"alone{seed}", charts=False)
        alone[seed] = output_files(tmp_path / f"alone{seed}")
    assert alone[1] != alone[2]
    shared = tmp_path / "shared"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-m", "dsim", "run", str(path), "-o", str(shared), "--seed", str(seed),
                               "--quiet", "--no-charts"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for seed in (1, 2)]
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=120)
        assert (proc.returncode, stdout, stderr) == (0, "", "")
    assert output_files(shared) in (alone[1], alone[2])
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_files_dsim_did_not_write_stay_and_its_own_are_replaced(tmp_path: Path) -> None:
    """A log the caller redirected into --out (as `dsim run ... -o D --json > D/stdout.json` does) and notes
    stay byte for byte; dsim's own summary.json is replaced, and a report of an earlier run with charts
    goes when this run writes none."""
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    (out / "summary.json").write_text("{}")
    (out / "report.html").write_text("old")
    result = CliRunner().invoke(app, ["run", str(scenario(tmp_path)), "-o", str(out), "--quiet", "--no-charts",
                                      "--no-trace"])
    assert result.exit_code == 0, result.output
    assert sorted(path.name for path in out.iterdir()) == ["jobs.csv", "notes.txt", "spans.csv", "summary.json"]
    assert (out / "notes.txt").read_text() == "keep me"
    assert json.loads((out / "summary.json").read_text())["jobs"]["total"] >= 1


def test_a_charts_folder_with_a_foreign_file_is_refused_and_kept(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "charts").mkdir(parents=True)
    (out / "charts" / "my-notes.md").write_text("mine")
    with pytest.raises(UsageError, match="its charts/ holds something dsim did not write"):
        check_out_dir(out)
    assert (out / "charts" / "my-notes.md").read_text() == "mine"


def test_an_empty_folder_is_filled(tmp_path: Path) -> None:
    out = tmp_path / "empty"
    out.mkdir()
    write_whole(out, writer({"summary.json": "x"}))
    assert files_of_text(out) == {"summary.json": "x"}


def test_summary_json_refuses_non_finite_figures_and_names_the_first() -> None:
    summary = {"scenario": "t", "phases": {"pull": {"mean_s": math.inf, "p50_s": math.nan}}}
    with pytest.raises(SimulationError) as caught:
        summary_json(summary)
    assert str(caught.value) == "summary.json: phases.pull.mean_s (inf) is not a finite number; no file written"
    assert caught.value.exit_code == 1


def test_a_non_finite_summary_fails_the_run_with_one_line_and_no_files(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from dsim.result import SimResult

    original = SimResult.summary

    def infinite(self: SimResult) -> dict[str, object]:
        summary = original(self)
        summary["makespan_s"] = math.inf
        return summary

    monkeypatch.setattr(SimResult, "summary", infinite)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(scenario(tmp_path)), "-o", str(out), "--quiet"])
    assert result.exit_code == 1
    assert result.stderr == "dsim: error: summary.json: makespan_s (inf) is not a finite number; no file written\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small.yaml"]  # neither out nor a staging folder
