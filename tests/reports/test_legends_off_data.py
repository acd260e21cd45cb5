"""Legends sit off the data: the compare page's CDFs and the sweep's charts, checked on the drawn Figure
(each legend's box against every axes' data area), not on pixels."""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib.pyplot as plt

from dsim.notebook import sweep_grid
from dsim.reports.compare import Run, cdf_chart
from dsim.reports.style import keeping_figures
from dsim.sweep.report import draw_chart
from tests.reports.legend_checks import legends_over_data


def _run(label: str, scale: float) -> Run:
    # latencies spread over the whole axis, so the curves reach the lower right and the upper left: a
    # legend anywhere inside the axes would cover some of them
    values = [scale * (k + 1) for k in range(200)]
    return Run(label=label, path=Path(label), summary={},
               samples={"pull": values, "start": [v / 10 for v in values], "build": [], "job": values})


def test_compare_cdf_legends_are_beside_the_panels(tmp_path: Path) -> None:
    with keeping_figures() as figures:
        cdf_chart([_run("before", 1.0), _run("after-a-long-label", 0.5)], tmp_path / "cdf.png")
    try:
        (fig,) = figures
        assert sum(ax.get_legend() is not None for ax in fig.axes) == 3  # pull, start, job
        assert legends_over_data(fig) == []
    finally:
        plt.close(figures[0])


SCENARIO = textwrap.dedent("""\
    name: slotted
    hosts:
      runner: {count: 1, job_slots: 2}
    workloads:
      ci:
        arrival: {burst: 4}
        steps:
          - sleep: 10s
    """)


def test_sweep_chart_legend_with_a_goal_is_off_the_lines(tmp_path: Path) -> None:
    scenario = tmp_path / "slotted.yaml"
    scenario.write_text(SCENARIO)
    # two axes (one line per value of the other) and a goal line: the legend has three entries
    result = sweep_grid(scenario, vary={"hosts.runner.count": [1, 2], "hosts.runner.job_slots": [1, 2]},
                        replications=1, metrics=["phases.job.p95_s"], goals=["phases.job.p95_s <= 20"])
    axis = result.spec.axes[0]
    fig = draw_chart(result, "phases.job.p95_s", axis)
    try:
        legend = fig.axes[0].get_legend()
        assert legend is not None and len(legend.get_texts()) == 3
        assert legends_over_data(fig) == []
    finally:
        plt.close(fig)
