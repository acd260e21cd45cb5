"""``dsim sweep`` end to end on a scenario whose answer is known by hand.

SLEEPY: one job that sleeps ``exponential(mean=M)``; its makespan is one exponential sample, so a
variant's mean over n replications estimates M (standard error M / sqrt(n)), and since every variant uses
the same seeds (derived from the scenario seed and the replication index only) and an exponential sample
is mean x -ln(1 - U), the mean=20s variant's makespan is exactly twice the mean=10s one's, run by run.
"""

from __future__ import annotations

import csv
import json
import math
import textwrap
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from dsim.cli import app
from tests.helpers import ROOT

runner = CliRunner()

SLEEPY = textwrap.dedent("""\
    name: sleepy
    seed: 3
    hosts:
      box: {count: 1}
    workloads:
      w:
        arrival: {burst: 1}
        steps:
          - sleep: exponential(mean=10s)
    """)
SLEEP_AXIS = "workloads.w.steps[0].sleep=exponential(mean=10s),exponential(mean=20s)"
T975_4 = 2.7764  # t(0.975, 4 dof), from the table


def write_scenario(tmp_path: Path, text: str = SLEEPY) -> Path:
    path = tmp_path / "sleepy.yaml"
    path.write_text(text)
    return path


def sweep(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["sweep", *args])
    return result.exit_code, result.stdout, result.stderr


def rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.open()))


def test_grid_replications_and_intervals(tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path)
    out = tmp_path / "out"
    code, stdout, stderr = sweep(str(scenario), "--vary", SLEEP_AXIS, "-n", "5", "--workers", "1", "--out", str(out))
    assert code == 0, stderr
    assert "10 runs executed, 0 reused" in stdout
    variants = rows(out / "sweep.csv")
    runs = rows(out / "runs.csv")
    assert [v[SLEEP_AXIS.split("=")[0]] for v in variants] == ["exponential(mean=10s)", "exponential(mean=20s)"]
    assert len(runs) == 10
    for variant in variants:
        values = [float(r["makespan_s"]) for r in runs if r["variant"] == variant["variant"]]
        mean = sum(values) / 5
        sd = math.sqrt(sum((v - mean) ** 2 for v in values) / 4)
        half = T975_4 * sd / math.sqrt(5)
        assert float(variant["replications"]) == 5
        assert float(variant["makespan_s.mean"]) == pytest.approx(mean, abs=2e-6)
        # the table's t has 5 digits: the half-widths agree to 1e-4 relative
        assert mean - float(variant["makespan_s.ci95_low"]) == pytest.approx(half, rel=1e-4)
        assert float(variant["makespan_s.ci95_high"]) - mean == pytest.approx(half, rel=1e-4)
    # common random numbers: the same seeds in both variants, so every mean=20s sample is twice its twin
    by_variant = {v: [float(r["makespan_s"]) for r in runs if r["variant"] == v] for v in ("0", "1")}
    for ten, twenty in zip(by_variant["0"], by_variant["1"], strict=True):
        assert twenty == pytest.approx(2 * ten, abs=2e-6)
    # default metrics: makespan and the p50/p95 of the phases that have samples (only `job` here)
    assert [m for m in variants[0] if m.endswith(".mean")] == [
        "makespan_s.mean", "phases.job.p50_s.mean", "phases.job.p95_s.mean"]
    charts = sorted(p.name for p in (out / "charts").iterdir())
    assert len(charts) == 3 and all(name.endswith("-vs-workloads.w.steps_0_.sleep.png") for name in charts)
    page = (out / "sweep.html").read_text()
    assert page.count("data:image/png;base64,") == 3 and "exponential(mean=20s)" in page


def test_means_estimate_the_exponential_mean(tmp_path: Path) -> None:
    """40 replications of Exp(mean 10s): the mean is within 4 standard errors (4 x 10 / sqrt 40 = 6.3 s)
    of 10 s, and the t interval's half-width is near t(0.975, 39) x 10 / sqrt(40) = 3.2 s (the sample sd
    of 40 exponentials is within a factor 2 of 10 s with overwhelming probability)."""
    out = tmp_path / "out"
    code, _, stderr = sweep(str(write_scenario(tmp_path)), "-n", "40", "--out", str(out), "--no-charts", "-q")
    assert code == 0, stderr
    (row,) = rows(out / "sweep.csv")
    mean = float(row["makespan_s.mean"])
    half = float(row["makespan_s.ci95_high"]) - mean
    assert abs(mean - 10.0) < 6.3
    assert 1.6 < half < 6.4


def test_replication_0_is_dsim_run_with_the_same_overrides(tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path)
    out = tmp_path / "out"
    code, _, stderr = sweep(str(scenario), "--vary", SLEEP_AXIS, "-n", "2", "--out", str(out), "--no-charts", "-q")
    assert code == 0, stderr
    first = next(r for r in rows(out / "runs.csv") if r["variant"] == "1" and r["replication"] == "0")
    assert first["seed"] == "3"
    result = runner.invoke(app, ["run", str(scenario), "--json", "--no-charts", "--out", str(tmp_path / "run"),
                                 "--set", "workloads.w.steps[0].sleep=exponential(mean=20s)"])
    assert result.exit_code == 0, result.output
    assert float(first["makespan_s"]) == json.loads(result.stdout)["makespan_s"]


def test_executors_give_identical_files(tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path)
    for workers in ("1", "2"):
        code, _, stderr = sweep(str(scenario), "--vary", SLEEP_AXIS, "--vary", "hosts.box.cpus=2,4", "-n", "3",
                                "--workers", workers, "--out", str(tmp_path / workers), "-q")
        assert code == 0, stderr
    for name in ("sweep.csv", "runs.csv", "sweep.html", "charts/makespan_s-vs-hosts.box.cpus.png"):
        assert (tmp_path / "1" / name).read_bytes() == (tmp_path / "2" / name).read_bytes(), name


def test_resume_reuses_stored_runs_and_adds_replications(tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path)
    out = tmp_path / "out"
    base = [str(scenario), "--vary", SLEEP_AXIS, "--out", str(out), "--no-charts", "--workers", "1"]
    assert sweep(*base, "-n", "2")[0] == 0
    before = (out / "runs.csv").read_text()
    code, _, stderr = sweep(*base, "-n", "2")
    assert code == 2 and "4 runs of this scenario are stored already: pass --resume" in stderr
    code, stdout, _ = sweep(*base, "-n", "2", "--resume")
    assert code == 0 and "0 runs executed, 4 reused" in stdout
    assert (out / "runs.csv").read_text() == before
    code, stdout, _ = sweep(*base, "-n", "3", "--resume")
    assert code == 0 and "2 runs executed, 4 reused" in stdout
    assert len(rows(out / "runs.csv")) == 6


def test_a_store_of_another_scenario_is_refused(tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path)
    out = tmp_path / "out"
    assert sweep(str(scenario), "-n", "1", "--out", str(out), "--no-charts", "-q")[0] == 0
    scenario.write_text(SLEEPY.replace("seed: 3", "seed: 4"))
    code, _, stderr = sweep(str(scenario), "-n", "1", "--out", str(out), "--resume", "-q")
    assert code == 2
    assert "sweep.sqlite: this store holds runs of another scenario ('sleepy'" in stderr
    code, _, stderr = sweep(str(scenario), "-n", "1", "--out", str(out), "--resume", "-q", "--set", "seed=3")
    assert code == 0, stderr  # with the old seed set back it is the same scenario data again


def test_bad_input_exits_2_naming_the_option(tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path)
    out = str(tmp_path / "out")
    code, _, stderr = sweep(str(scenario), "--vary", "hosts.box.nic=1Gbps,1 Gbit", "--out", out)
    assert code == 2
    assert stderr.strip() == ("dsim: error: --vary hosts.box.nic=1 Gbit: hosts.box.nic: invalid rate '1 Gbit' "
                              "(expected e.g. 1Gbps, 125MB/s)")
    assert not (tmp_path / "out").exists()  # every variant is validated before anything runs or is stored
    code, _, stderr = sweep(str(scenario), "--workers", "2", "--dask", "tcp://127.0.0.1:1", "--out", out)
    assert code == 2 and "--workers or --dask, not both" in stderr
    code, _, stderr = sweep(str(scenario), "--vary", "seed=1,2", "--set", "seed=5", "--out", out)
    assert code == 2 and "seed is both fixed (--set) and varied (--vary)" in stderr
    code, _, stderr = sweep(str(scenario), "--metric", "phases.jb.p50_s", "-n", "1", "--out", out, "-q")
    assert code == 2 and "did you mean 'phases.job.p50_s'" in stderr


def test_sweep_file(tmp_path: Path) -> None:
    write_scenario(tmp_path)
    spec = tmp_path / "s.sweep.yaml"
    spec.write_text(textwrap.dedent("""\
        scenario: sleepy.yaml
        replications: 2
        set: {hosts.box.cpus: 2}
        grid:
          workloads.w.steps[0].sleep: [1s, 2s]
        metrics: [makespan_s]
        """))
    out = tmp_path / "out"
    code, _, stderr = sweep(str(spec), "--out", str(out), "-q")
    assert code == 0, stderr
    # constant sleeps: the makespan is the sleep itself, with a zero-width interval
    assert [(r["makespan_s.mean"], r["makespan_s.ci95_low"], r["makespan_s.ci95_high"])
            for r in rows(out / "sweep.csv")] == [("1.0", "1.0", "1.0"), ("2.0", "2.0", "2.0")]
    spec.write_text(spec.read_text().replace("[1s, 2s]", "[1s, 2 seconds]"))
    code, _, stderr = sweep(str(spec), "--out", str(tmp_path / "bad"), "-q")
    assert code == 2
    assert stderr.startswith(f"dsim: error: {spec}:5:36: workloads.w.steps[0].sleep: "), stderr
    spec.write_text(spec.read_text().replace("replications:", "replication:"))
    code, _, stderr = sweep(str(spec), "--out", str(tmp_path / "bad"), "-q")
    assert code == 2 and f"{spec}:2:1" in stderr and "did you mean 'replications'" in stderr


def test_the_example_sweep_file_runs(tmp_path: Path) -> None:
    """scenarios/sweeps/ci-capacity.sweep.yaml: at 1 Gbps the registry binds, so a runner's pull is at least
    N runners x 981 MB / 125 MB/s (157 s for 20 runners, 314 s for 40), and 10 Gbps beats 1 Gbps. (p95:
    with 4 job slots per runner only the first 4N jobs pull, the jobs that waited find the image there; at
    least 80 of 200 pull, so the p95 is a real pull.) Costs: 0.384 per runner and 0.5 per Gbps."""
    out = tmp_path / "out"
    code, _, stderr = sweep(str(ROOT / "scenarios" / "sweeps" / "ci-capacity.sweep.yaml"), "--out", str(out),
                            "-q", "--no-charts", "-n", "2")
    assert code == 0, stderr
    table = {(r["registries.registry.bandwidth"], r["hosts.runner.count"]): r for r in rows(out / "sweep.csv")}
    assert len(table) == 8
    image = sum([48, 24, 64, 211, 6, 20, 3, 310, 45, 250]) * 1e6
    for count in (20, 40):
        slow = float(table[("1Gbps", str(count))]["phases.pull.p95_s.mean"])
        assert slow >= count * image / 125e6
        assert float(table[("10Gbps", str(count))]["phases.pull.p95_s.mean"]) < slow
        assert float(table[("10Gbps", str(count))]["cost"]) == pytest.approx(0.384 * count + 0.5 * 10)
    assert {row["goal"] for row in table.values()} <= {"met", "uncertain", "missed"}


def test_progress_bar_shows_runs_and_eta() -> None:
    from dsim.cli.sweep import _Progress

    buffer = StringIO()
    console = Console(file=buffer, force_terminal=True, width=100)
    with _Progress(console, enabled=True, description="2 workers") as bar:
        bar.start(1, 4)
        bar.update(4, 4)
    text = buffer.getvalue()
    assert "4/4" in text and "ETA" in text and "2 workers" in text
