"""Issue 15's "Done when": every example scenario reports per-workload figures, and has a picture that
answers its question (the README catalogue's, drawn by the report's own chart function) that shows every
workload, named in its legend or labels, with the legends off the data."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import matplotlib.pyplot as plt
import pytest

from dsim.api import load_scenario, simulate
from dsim.reports.charts import CHARTS
from dsim.reports.context import ScenarioInfo
from dsim.reports.derive import SpanIndex
from dsim.reports.html import render
from dsim.reports.style import keeping_figures
from tests.helpers import ROOT, load_script
from tests.reports.legend_checks import figure_text, legends_over_data

SCENARIOS = sorted(path.stem for path in (ROOT / "scenarios").glob("*.yaml"))
#: Workloads a picture cannot show, and why.
NOT_DRAWN = {"port-conflict": {"look"}}  # only runs `docker ps -a`: it holds no port (explain shows its table)
#: Pictures that do not name every workload yet (none now; an entry makes its test an expected failure).
NOT_NAMED_YET: set[str] = set()


def _pictures() -> ModuleType:
    return load_script("tools/readme_images.py")


PICTURES: dict[str, tuple[str, str]] = _pictures().PICTURES


def test_every_example_scenario_has_a_catalogue_picture() -> None:
    assert len(SCENARIOS) >= 20
    assert [name for name in SCENARIOS if name not in PICTURES] == []


@pytest.mark.parametrize("name", [pytest.param(name, marks=pytest.mark.xfail(strict=True, reason="not named yet"))
                                  if name in NOT_NAMED_YET else name for name in SCENARIOS])
def test_the_picture_shows_every_workload(name: str, tmp_path: Path) -> None:
    source = ROOT / "scenarios" / f"{name}.yaml"
    resolved = load_scenario(source)
    result = simulate(resolved)
    info = ScenarioInfo.from_resolved(resolved, source)
    summary = result.summary()
    workloads = list(summary["workloads"])
    assert workloads, f"{name}: summary.json has no workloads"
    # the report shows each workload's figures (a table of them when the scenario compares several)
    page = render(result, [], info, summary)
    if len(workloads) > 1:
        table = page.split("<h3>Workloads</h3>", 1)[1].split("<h3>", 1)[0]
        assert all(f"<th>{workload}</th>" in table for workload in workloads), name
    chart_name = PICTURES[name][0]
    with keeping_figures() as figures:
        chart = dict(CHARTS)[chart_name](result, tmp_path / f"{chart_name}.png", info, SpanIndex(result))
    try:
        assert chart is not None, f"{name}: the {chart_name} chart has nothing to show"
        (fig,) = figures
        assert legends_over_data(fig) == [], name
        if len(workloads) > 1:
            text = figure_text(fig)
            missing = [w for w in workloads if w not in text and w not in NOT_DRAWN.get(name, set())]
            assert missing == [], f"{name}: the {chart_name} chart does not name {missing}"
    finally:
        for fig in figures:
            plt.close(fig)
