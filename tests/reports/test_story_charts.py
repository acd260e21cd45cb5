"""Each comparing scenario gets a picture that answers it, showing every workload: density for container vs
VM vs microVM, container state lanes for OOM kills and restarts, the first job's sequence diagram."""

from __future__ import annotations

from pathlib import Path

from dsim.api import load_scenario, simulate
from dsim.reports.charts import write_charts
from dsim.reports.charts.stories import container_states, density
from dsim.reports.context import ScenarioInfo
from dsim.reports.style import keeping_figures
from tests.helpers import ROOT, run_text


def _legend(fig) -> list[str]:  # type: ignore[no-untyped-def]
    return [text.get_text() for ax in fig.axes if ax.get_legend() for text in ax.get_legend().get_texts()]


def test_density_draws_every_workload_with_its_peak(tmp_path: Path) -> None:
    result = simulate(load_scenario(ROOT / "scenarios" / "vm-vs-container.yaml"))
    with keeping_figures() as figures:
        chart = density(result, tmp_path / "d.png")
    assert chart is not None and (tmp_path / "d.png").stat().st_size > 0
    labels = _legend(figures[0])
    runs = result.summary()["workloads"]
    assert [label.split(" ")[0] for label in labels] == list(runs)
    for label, workload in zip(labels, runs.values(), strict=True):
        # in this scenario a sandbox ends only when the OOM killer takes it: at the end runs - kills are up,
        # and the peak lies between that and the number that started
        peak = int(label.rsplit("peak ", 1)[1].rstrip(")"))
        started, killed = workload["containers"]["runs"], workload["containers"]["oom_killed"]
        assert started - killed <= peak <= started


def test_container_states_mark_each_oom_kill(tmp_path: Path) -> None:
    result = simulate(load_scenario(ROOT / "scenarios" / "oom.yaml"))
    with keeping_figures() as figures:
        chart = container_states(result, tmp_path / "s.png")
    assert chart is not None
    kills = sum(w["containers"]["oom_killed"] for w in result.summary()["workloads"].values())
    crosses = [line for ax in figures[0].axes for line in ax.lines
               if line.get_marker() == "X" and len(list(line.get_xdata()))]  # type: ignore[arg-type]
    assert len(crosses) == kills and f"({kills} kills drawn)" in chart.caption


def test_no_story_chart_where_there_is_no_story(tmp_path: Path) -> None:
    quiet = run_text("name: q\nhosts: {box: {}}\nworkloads: {w: {arrival: {burst: 1}, steps: [{sleep: 1s}]}}\n")
    assert container_states(quiet, tmp_path / "s.png") is None and density(quiet, tmp_path / "d.png") is None


def test_the_report_has_the_sequence_diagram(tmp_path: Path) -> None:
    resolved = load_scenario(ROOT / "scenarios" / "hello-nginx.yaml")
    made = write_charts(simulate(resolved), tmp_path, ScenarioInfo.from_resolved(resolved))
    assert "sequence" in [chart.name for chart in made] and (tmp_path / "charts" / "sequence.png").exists()
