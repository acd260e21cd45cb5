"""The one run path (dsim/run.py): the API, ``dsim run``, sweep runs and ``dsim serve`` all end through it.

HELLO: one host pulls a 10 MB image from a 1 Gbps registry once; its expected answer is worked out by hand
in the test that uses it.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

import dsim
from dsim.cli import app
from tests.helpers import ROOT, output_files

HELLO = textwrap.dedent("""\
    # One pull of a 10 MB image.
    name: hello
    seed: 7
    registries:
      reg: {bandwidth: 1Gbps}
    images:
      app:1: {registry: reg, layers: [10MB]}
    hosts:
      box: {count: 1, nic: 1Gbps}
    workloads:
      w:
        arrival: {burst: 2}
        steps:
          - pull: app:1
          - sleep: exponential(mean=10s)
    """)

#: what ``dsim run`` writes with charts and trace (README "Outputs"); charts/ holds the PNGs
RUN_FILES = {"summary.json", "jobs.csv", "spans.csv", "charts", "report.html", "trace.json"}


def write_hello(tmp_path: Path) -> Path:
    path = tmp_path / "hello.yaml"
    path.write_text(HELLO)
    return path


def without_wall(summary: dict[str, object]) -> dict[str, object]:
    return {key: value for key, value in summary.items() if key != "wall_s"}


def test_run_returns_a_result_and_writes_nothing_without_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    monkeypatch.chdir(tmp_path)
    result = dsim.run(dsim.load_scenario(write_hello(tmp_path)))
    assert isinstance(result, dsim.SimResult)
    assert (result.scenario, result.seed, result.expected_jobs) == ("hello", 7, 2)
    assert len(result.job_ends) == 2
    assert [path.name for path in tmp_path.iterdir()] == ["hello.yaml"]  # no results/ appeared


def test_run_leaves_the_collector_as_it_found_it(tmp_path: Path) -> None:
    """The GC tuning is entered by the run path and left when it returns (dsim/gc_tuning.py)."""
    before = gc.get_threshold()
    dsim.run(dsim.load_scenario(write_hello(tmp_path)))
    assert gc.get_threshold() == before


def test_run_with_out_writes_every_file_and_only_those_asked_for(tmp_path: Path) -> None:
    resolved = dsim.load_scenario(write_hello(tmp_path))
    dsim.run(resolved, out=tmp_path / "all")
    assert {path.name for path in (tmp_path / "all").iterdir()} == RUN_FILES
    assert list((tmp_path / "all" / "charts").glob("*.png"))
    dsim.run(resolved, out=tmp_path / "data", charts=False, trace=False)
    assert {path.name for path in (tmp_path / "data").iterdir()} == {"summary.json", "jobs.csv", "spans.csv"}
    jobs = (tmp_path / "data" / "jobs.csv").read_text().splitlines()
    assert len(jobs) == 1 + 2  # a header and the burst's two jobs


@pytest.mark.parametrize(("chosen", "files"), [
    ("jobs", {"summary.json", "jobs.csv"}),
    ("spans,trace", {"summary.json", "spans.csv", "trace.json"}),
    ("charts", {"summary.json", "charts", "report.html"}),
    ("all", RUN_FILES),
])
def test_outputs_chooses_the_files_besides_the_summary(tmp_path: Path, chosen: str, files: set[str]) -> None:
    path = write_hello(tmp_path)
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "out"), "--quiet",
                                      "--outputs", chosen])
    assert result.exit_code == 0, result.output
    assert {p.name for p in (tmp_path / "out").iterdir()} == files


def test_outputs_files_are_those_of_a_run_with_every_output(tmp_path: Path) -> None:
    path = write_hello(tmp_path)
    for name, chosen in (("all", "all"), ("some", "jobs,trace")):
        result = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / name), "-q", "--outputs", chosen])
        assert result.exit_code == 0, result.output
    every, some = output_files(tmp_path / "all"), output_files(tmp_path / "some")
    assert some == {name: every[name] for name in ("summary.json", "jobs.csv", "trace.json")}


def test_an_unknown_output_is_one_line_exit_2(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "dsim", "run", str(write_hello(tmp_path)), "--outputs", "jobs,pdf"],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr == ("dsim: error: --outputs: unknown output 'pdf' (choose from jobs, spans, charts, trace, "
                           "or all)\n")


def test_cli_run_and_api_run_write_identical_files(tmp_path: Path) -> None:
    from dsim.reports.context import ScenarioInfo

    path = write_hello(tmp_path)
    cli = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "cli"), "--quiet"])
    assert cli.exit_code == 0, cli.output
    resolved = dsim.load_scenario(path)
    dsim.run(resolved, out=tmp_path / "api", scenario_info=ScenarioInfo.from_resolved(resolved, path))
    written = output_files(tmp_path / "cli")
    assert {name.split("/")[0] for name in written} == RUN_FILES
    assert written == output_files(tmp_path / "api")


def test_seed_override_changes_the_run_and_is_kept_in_the_result(tmp_path: Path) -> None:
    resolved = dsim.load_scenario(write_hello(tmp_path))
    assert dsim.run(resolved).seed == 7
    assert dsim.run(resolved, seed=8).seed == 8
    # the sleep is exponential: another seed, another makespan
    assert dsim.run(resolved, seed=8).makespan_s != dsim.run(resolved).makespan_s


def test_a_sweep_run_gives_the_summary_of_dsim_run_with_its_seed(tmp_path: Path) -> None:
    from dsim.run import run_summarised
    from dsim.scenarios.yamlpos import load_yaml
    from dsim.sweep.grid import replication_seed
    from dsim.sweep.worker import RunTask, run_task

    data, _ = load_yaml(HELLO, filename="hello.yaml")
    seed = replication_seed(7, 2)
    task = RunTask(data, hashlib.sha256(HELLO.encode()).hexdigest(), "hello.yaml", (), "base", 2, seed)
    swept = run_task(task)
    assert (swept.replication, swept.seed) == (2, seed)
    resolved = dsim.load_scenario(write_hello(tmp_path))
    assert swept.summary["seed"] == seed
    assert without_wall(swept.summary) == without_wall(run_summarised(resolved, seed=seed)[1])
    assert without_wall(swept.summary) == without_wall(dsim.run(resolved, seed=seed).summary())


def test_simulate_is_the_run_path_under_its_first_name(tmp_path: Path) -> None:
    from dsim import api

    assert api.simulate is api.run is dsim.run
    # dsim.simulate (the notebook API) also takes a file and overrides, and goes through dsim.run
    path = write_hello(tmp_path)
    resolved = dsim.load_scenario(path)
    assert without_wall(dsim.simulate(path, seed=3).summary()) == without_wall(dsim.run(resolved, seed=3).summary())


def test_importing_the_module_keeps_dsim_run_the_function() -> None:
    """``dsim.run`` is both a module and the function it defines: the package binds the function."""
    import dsim.run  # noqa: F401 - the import under test

    assert callable(dsim.run)
    assert sys.modules["dsim.run"].run is dsim.run


def test_the_group_boundary_turns_a_surprise_into_one_line_and_exit_1(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """No command wraps itself: the boundary on the ``dsim`` group holds for ``app`` invoked directly."""

    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("surprise")

    monkeypatch.setattr(sys.modules["dsim.run"], "run_summarised", broken)
    result = CliRunner().invoke(app, ["run", str(write_hello(tmp_path)), "--quiet"])
    assert result.exit_code == 1
    assert result.stderr == "dsim: error: simulation failed: ZeroDivisionError: surprise\n"


def test_the_boundary_covers_sub_commands_and_their_usage_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(app, ["dockerfile", "plan", str(tmp_path / "Dockerfile")])
    assert missing.exit_code == 2
    assert missing.stderr.startswith("dsim: error: ") and missing.stderr.count("\n") == 1
    unknown = runner.invoke(app, ["run", "--no-such-option"])
    assert unknown.exit_code == 2
    assert unknown.stderr == "dsim: error: No such option: --no-such-option (see 'dsim run --help')\n"


def test_a_served_session_writes_the_files_of_a_run(tmp_path: Path) -> None:
    """``dsim serve --out`` ends through the same writer as ``dsim run``: the same set of files."""
    from dsim.run import LINK_SAMPLE_S, save_outputs
    from dsim.serve.server import Server, serve_scenario

    server = Server(serve_scenario(None), port=0, speed=100.0, link_samples=LINK_SAMPLE_S)
    server.start()
    result = server.stop()
    summary = save_outputs(result, tmp_path / "served")
    assert {path.name for path in (tmp_path / "served").iterdir()} == RUN_FILES
    assert summary["jobs"]["total"] == 0  # no request came
    assert json.loads((tmp_path / "served" / "summary.json").read_text()) == summary
