"""The compose timeline chart (dsim/reports/charts/compose.py): drawn for a run with a compose up, its
lanes in the order compose works (objects, pulls, containers), absent from runs without compose."""

from __future__ import annotations

from pathlib import Path

from dsim.reports.charts import write_charts
from dsim.reports.charts.compose import lanes
from tests.compose.helpers import run

COMPOSE = """
name: p
services:
  web: {image: nginx:1.25, depends_on: {db: {condition: service_healthy}}}
  db:
    image: postgres:16
    healthcheck: {test: ["CMD", "true"], interval: 1s}
"""


def test_lanes_show_pull_create_wait_start_and_health(tmp_path: Path) -> None:
    result = run(tmp_path, COMPOSE, preloaded="redis:7.4")
    [up] = list(result.spans_of("compose"))
    by_lane = lanes(result, up.job, up.host, up.start, up.end + 10)
    assert set(by_lane) == {"network p_default", "pull nginx:1.25", "pull postgres:16", "p-db-1", "p-web-1"}
    assert set(by_lane["p-db-1"]) == {"create", "start", "health: starting", "healthy"}
    assert set(by_lane["p-web-1"]) == {"create", "waiting", "start"}
    # db healthy at its first probe (1 s, ready at once; its exec ends at 1.1 s); web waited until the 3rd
    # tick (1.5 s)
    [(wait_start, wait_end)] = by_lane["p-web-1"]["waiting"]
    assert round(wait_end - wait_start, 9) == 1.5


def test_the_chart_is_drawn_only_for_compose_runs(tmp_path: Path) -> None:
    result = run(tmp_path, COMPOSE)
    names = [chart.name for chart in write_charts(result, tmp_path / "out")]
    assert "compose_timeline" in names and (tmp_path / "out" / "charts" / "compose_timeline.png").is_file()
    (tmp_path / "plain").mkdir()
    other = run(tmp_path / "plain", COMPOSE, ["sleep: 1s"])  # the same file, no compose step
    assert "compose_timeline" not in [chart.name for chart in write_charts(other, tmp_path / "out2")]
