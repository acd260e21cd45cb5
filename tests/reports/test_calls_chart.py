"""The service call chart: one panel per container called, in the order a request meets them, one CDF per
calling workload, with the count of calls worked out from the scenario and the workload that answered."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

from dsim.reports.charts import write_charts
from dsim.reports.charts.calls import call_latency
from dsim.reports.style import keeping_figures
from tests.helpers import run_text
from tests.reports.legend_checks import legends_over_data

#: `client` sends 4 requests to web; each makes 2 queries to db (8 in all) and web answers after them.
#: Both servers are containers of workload `servers` on the same host (names resolve on network `n`).
CHAIN = """\
    name: chain
    hosts:
      box: {cpus: 2, preloaded: ["alpine:3.20"], networks: {n: {}}}
    workloads:
      servers:
        arrival: {times: [0s]}
        steps:
          - run: {image: "alpine:3.20", name: db, detach: true, network: n}
          - run: {image: "alpine:3.20", name: web, detach: true, network: n}
      client:
        arrival: {times: [5s]}
        steps:
          - run:
              image: "alpine:3.20"
              network: n
              calls:
                - to: web
                  requests: 4
                  server_cpu: 2ms
                  calls: [{to: db, requests: 2, server_cpu: 1ms}]
    """


def _legend(ax) -> list[str]:  # type: ignore[no-untyped-def]
    return [text.get_text() for text in ax.get_legend().get_texts()]


def test_one_panel_per_tier_and_one_line_per_calling_workload(tmp_path: Path) -> None:
    result = run_text(CHAIN)
    with keeping_figures() as figures:
        chart = call_latency(result, tmp_path / "calls.png")
    (fig,) = figures
    try:
        assert chart is not None and chart.name == "calls" and (tmp_path / "calls.png").stat().st_size > 0
        web, db = fig.axes
        # web is called first (the client's request opens before web's queries): its panel is on top
        assert web.get_title() == "calls to web (answered by servers on box)"
        assert db.get_title() == "calls to db (answered by servers on box)"
        # the client made the 4 requests; web (a container of `servers`) made the 2 x 4 = 8 queries
        assert [label.split(";")[0] for label in _legend(web)] == ["client (n=4"]
        assert [label.split(";")[0] for label in _legend(db)] == ["servers (n=8"]
        # each web request waits for its own 2 ms of CPU and its 2 queries (1 ms each, one after another):
        # no request answers in under 4 ms, so every point of web's CDF lies at or beyond 4 ms
        (line,) = web.get_lines()
        assert min(float(x) for x in line.get_xdata()) >= 0.004  # type: ignore[union-attr,arg-type]
        assert legends_over_data(fig) == []
    finally:
        plt.close(fig)


def test_no_calls_no_chart(tmp_path: Path) -> None:
    quiet = run_text("name: q\nhosts: {box: {}}\nworkloads: {w: {arrival: {burst: 1}, steps: [{sleep: 1s}]}}\n")
    assert call_latency(quiet, tmp_path / "c.png") is None
    assert "calls" not in [chart.name for chart in write_charts(quiet, tmp_path)]
