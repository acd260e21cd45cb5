"""``dsim sweep --goal/--cost``: which variants meet a target with 95% confidence, and the cheapest.

The end-to-end case is worked out by hand: N runners with 2 job slots each take 12 jobs of exactly 10 s
arriving together, in ceil(12 / 2N) waves of 10 s (tests/test_job_slots.py checks the waves). Job times
are 10 s for the first wave, 20 s for the second, ...; p95 by linear interpolation over 12 sorted job
times sits between the 11th and 12th values, which both lie in the last wave: p95 = 10 x waves.
N = 1: 6 waves, p95 60 s; N = 2: 3 waves, 30 s; N = 3: 2 waves, 20 s; N = 4: 2 waves, 20 s. Constant
sleeps give every replication the same value, so every interval has zero width.
"""

from __future__ import annotations

import csv
import html
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dsim.cli import app
from dsim.errors import UsageError
from dsim.sweep.goal import Goal, Price, parse_goal, parse_price, quantity, variant_cost
from dsim.sweep.stats import Estimate

runner = CliRunner()

SLOTTED = textwrap.dedent("""\
    name: slotted
    hosts:
      runner: {count: 1, job_slots: 2}
    workloads:
      ci:
        arrival: {burst: 12}
        steps:
          - sleep: 10s
    """)


def _sweep(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    scenario = tmp_path / "slotted.yaml"
    scenario.write_text(SLOTTED)
    result = runner.invoke(app, ["sweep", str(scenario), "--vary", "hosts.runner.count=1,2,3,4", "-n", "2",
                                 "-j", "1", "--no-charts", "--out", str(tmp_path / "out"), *args])
    return result.exit_code, result.stdout, result.stderr


def test_the_cheapest_variant_meeting_the_goal_is_named(tmp_path: Path) -> None:
    code, stdout, stderr = _sweep(tmp_path, "--goal", "phases.job.p95_s <= 20")
    assert code == 0, stderr
    rows = list(csv.DictReader((tmp_path / "out" / "sweep.csv").open()))
    assert [r["phases.job.p95_s.mean"] for r in rows] == ["60.0", "30.0", "20.0", "20.0"]
    assert [(r["cost"], r["goal"]) for r in rows] == [("1.0", "missed"), ("2.0", "missed"), ("3.0", "met"),
                                                       ("4.0", "met")]
    sentence = ("Cheapest configuration meeting phases.job.p95_s <= 20 with 95% confidence: variant 2 "
                "(hosts.runner.count=3), cost 3 (cost = number of hosts (no --cost given)): "
                "phases.job.p95_s = 20 [95% CI 20, 20].")
    assert " ".join(stdout.split()).endswith(sentence + f" 8 runs executed, 0 reused from the store; results in "
                                             f"{tmp_path / 'out'}/")
    assert html.escape(sentence) in (tmp_path / "out" / "sweep.html").read_text()


def test_prices_rank_by_cost_and_a_goal_none_meets_says_so(tmp_path: Path) -> None:
    code, stdout, _ = _sweep(tmp_path, "--goal", "phases.job.p95_s < 20", "--cost", "hosts.runner.count=2.5")
    assert code == 0
    assert "No variant meets phases.job.p95_s < 20 with 95% confidence." in " ".join(stdout.split())
    rows = list(csv.DictReader((tmp_path / "out" / "sweep.csv").open()))
    assert [r["cost"] for r in rows] == ["2.5", "5.0", "7.5", "10.0"]


def _estimate(mean: float, half: float | None) -> Estimate:
    return Estimate(5 if half is not None else 1, mean, None if half is None else 1.0, half)


def test_a_goal_is_met_only_when_the_whole_interval_meets_it() -> None:
    ceiling = Goal("phases.job.p95_s", "<=", 600.0)
    assert ceiling.verdict(_estimate(500, 100)) == "met"  # upper bound 600 <= 600
    assert ceiling.verdict(_estimate(500, 101)) == "uncertain"  # upper bound 601
    assert ceiling.verdict(_estimate(601, 0)) == "missed"
    assert ceiling.verdict(_estimate(600, None)) == "met"  # one replication: the mean decides
    floor = Goal("jobs.completed", ">=", 190.0)
    assert floor.verdict(_estimate(200, 10)) == "met"  # lower bound 190
    assert floor.verdict(_estimate(195, 10)) == "uncertain"
    assert Goal("m", "<", 5.0).verdict(_estimate(4, 1)) == "uncertain"  # upper bound 5 is not < 5


def test_goals_and_prices_parse_with_units_and_reject_nonsense() -> None:
    assert parse_goal("phases.job.p95_s <= 10m") == Goal("phases.job.p95_s", "<=", 600.0)
    assert parse_goal("registries.hub.bytes_sent<2GB") == Goal("registries.hub.bytes_sent", "<", 2e9)
    with pytest.raises(UsageError, match=r"^--goal: expected METRIC OP TARGET"):
        parse_goal("phases.job.p95_s = 3")
    with pytest.raises(UsageError, match=r"^--goal: expected METRIC OP TARGET"):  # was "target '=': invalid ..."
        parse_goal("makespan_s <= ")
    with pytest.raises(UsageError, match=r"^--cost hosts.runner.count: price 'x' is not a number"):
        parse_price("hosts.runner.count=x")
    with pytest.raises(UsageError, match=r"price must be a finite number >= 0"):
        parse_price("hosts.runner.count=-1")


def test_quantities_are_priced_per_gbps_gib_and_hour() -> None:
    assert quantity("10Gbps", "p") == pytest.approx(10.0)
    assert quantity("2GiB", "p") == pytest.approx(2.0)
    assert quantity("90m", "p") == pytest.approx(1.5)
    assert quantity(40, "p") == 40.0


def test_cost_reads_the_variant_then_the_scenario_and_defaults_to_host_count() -> None:
    from dsim.scenarios.overrides import Override

    data = {"hosts": {"a": {"count": 3}, "b": {}}, "registries": {"r": {"bandwidth": "1Gbps"}}}
    varied = (Override("registries.r.bandwidth", "10Gbps", "--vary"),)
    assert variant_cost((), (), data, ()) == 4.0  # 3 + 1 (a group without count is one host)
    assert variant_cost(varied, (), data, (Price("registries.r.bandwidth", 2.0),)) == pytest.approx(20.0)
    assert variant_cost((), (), data, (Price("registries.r.bandwidth", 2.0),)) == pytest.approx(2.0)
    with pytest.raises(UsageError, match="is not set in the scenario"):
        variant_cost((), (), data, (Price("hosts.a.memory", 1.0),))


def test_bad_goals_exit_2_with_one_line(tmp_path: Path) -> None:
    code, _, stderr = _sweep(tmp_path, "--cost", "hosts.runner.count=1")
    assert code == 2
    assert stderr.strip() == "dsim: error: --cost: prices rank the variants that meet a goal: give --goal too"
    code, _, stderr = _sweep(tmp_path, "--goal", "phases.job.p95_s <= 1", "--cost", "hosts.runner.memory=1")
    assert code == 2 and stderr.strip() == ("dsim: error: --cost hosts.runner.memory: is not set in the scenario, "
                                            "its --set or the grid: give it a value to price")
    assert not (tmp_path / "out" / "sweep.sqlite").exists()  # refused before any run
    code, _, stderr = _sweep(tmp_path, "--goal", "phases.jb.p95_s <= 1")
    assert code == 2 and "did you mean 'phases.job.p95_s'" in stderr


def test_a_sweep_file_goal_error_names_its_position(tmp_path: Path) -> None:
    (tmp_path / "slotted.yaml").write_text(SLOTTED)
    spec = tmp_path / "s.sweep.yaml"
    spec.write_text("scenario: slotted.yaml\ngoal:\n  - phases.job.p95_s <== 3\n")
    result = runner.invoke(app, ["sweep", str(spec), "--out", str(tmp_path / "o"), "-q"])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"dsim: error: {spec}:3:5: goal[0]: expected METRIC OP TARGET"), result.stderr


@pytest.mark.parametrize(
    ("entries", "said"),
    [
        # each was blamed on an option the user never typed (--metric, --cost) with no position
        ("metrics: [makespan_s, nosuch.metric]\n", "3:23: metrics[1]: 'nosuch.metric' is not a number in summary.json"),
        ('goal: ["nosuch <= 5"]\n', "3:8: goal[0]: 'nosuch' is not a number in summary.json"),
        ('goal: ["makespan_s <= 5"]\ncost: {hosts.runner.memory: 1}\n',
         "4:29: cost.hosts.runner.memory: is not set in the scenario, its --set or the grid: give it a value to price"),
    ],
)
def test_a_sweep_file_metric_or_price_error_names_its_position(tmp_path: Path, entries: str, said: str) -> None:
    (tmp_path / "slotted.yaml").write_text(SLOTTED)
    spec = tmp_path / "s.sweep.yaml"
    spec.write_text("scenario: slotted.yaml\nreplications: 1\n" + entries)
    result = runner.invoke(app, ["sweep", str(spec), "--out", str(tmp_path / "o"), "-q", "--no-charts"])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"dsim: error: {spec}:{said}"), result.stderr


def test_a_file_named_as_a_sweep_without_its_scenario_says_so(tmp_path: Path) -> None:
    """x.sweep.yaml without `scenario:` was read as a scenario ("missing required field 'name'")."""
    spec = tmp_path / "x.sweep.yaml"
    spec.write_text("grid: {hosts.runner.count: [1, 2]}\nreplications: 1\n")
    result = runner.invoke(app, ["sweep", str(spec), "--out", str(tmp_path / "o"), "-q"])
    assert (result.exit_code, result.stderr) == (2, f"dsim: error: {spec}:1:1: missing required field 'scenario'\n")
