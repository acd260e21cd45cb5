"""``--dask``: a real Dask scheduler and two worker processes on loopback give the very same files as the
local executors (every run's inputs travel with its task; seeds never depend on the worker)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dsim.cli import app
from tests.sweep.test_sweep_cli import SLEEP_AXIS, SLEEPY

distributed = pytest.importorskip("distributed", reason="the dask extra is part of the test extra")

ARGS = ("--vary", SLEEP_AXIS, "--vary", "hosts.box.cpus=1,2", "-n", "3", "-q", "--metric", "makespan_s",
        "--metric", "phases.job.p95_s")


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       dashboard_address=None, silence_logs=40)
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


def test_dask_gives_the_same_files_as_local_workers(tmp_path: Path, scheduler: str) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(SLEEPY.replace("burst: 1}", "burst: 20}"))
    runner = CliRunner()
    for name, executor in (("dask", ["--dask", scheduler]), ("local", ["--workers", "2"])):
        result = runner.invoke(app, ["sweep", str(scenario), "--out", str(tmp_path / name), *executor, *ARGS])
        assert result.exit_code == 0, result.output
    for name in ("sweep.csv", "runs.csv", "sweep.html", "charts/makespan_s-vs-hosts.box.cpus.png"):
        assert (tmp_path / "dask" / name).read_bytes() == (tmp_path / "local" / name).read_bytes(), name


def test_dask_resume(tmp_path: Path, scheduler: str) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(SLEEPY)
    runner = CliRunner()
    out = str(tmp_path / "out")
    first = runner.invoke(app, ["sweep", str(scenario), "--out", out, "--dask", scheduler, "-n", "2", "-q"])
    assert first.exit_code == 0, first.output
    result = runner.invoke(app, ["sweep", str(scenario), "--out", out, "--dask", scheduler, "-n", "3", "--resume"])
    assert result.exit_code == 0, result.output
    assert "1 runs executed, 2 reused" in result.stdout


def test_without_a_scheduler_the_error_is_one_line(tmp_path: Path) -> None:
    from dsim.errors import DsimError
    from dsim.sweep.executors import DaskExecutor

    with pytest.raises(DsimError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        DaskExecutor("tcp://127.0.0.1:9", timeout=1.0)
