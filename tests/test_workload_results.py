"""Per-workload results (summary.json ``workloads.<name>``, the terminal's and the report's Workloads table).

Expectations by hand: a workload's phases are its own jobs' samples, never pooled with another's.
"""

from __future__ import annotations

from dsim.api import load_scenario, simulate
from dsim.reports.table import summary_tables
from dsim.workload_results import failure_cause, workload_rows
from tests.helpers import ROOT, run_text

TWO = """
name: two
hosts:
  box: {}
workloads:
  fast:
    arrival: {burst: 2}
    steps: [{sleep: 1s}]
  slow:
    arrival: {burst: 3}
    steps: [{sleep: 5s}]
"""


def test_each_workload_reports_its_own_jobs_not_the_pool() -> None:
    summary = run_text(TWO).summary()
    # pooled: job times [1, 1, 5, 5, 5]: p50 5 s, a value no "fast" job had
    assert summary["phases"]["job"]["p50_s"] == 5.0
    fast, slow = summary["workloads"]["fast"], summary["workloads"]["slow"]
    assert fast["jobs"] == {"total": 2, "completed": 2, "failed": 0, "unfinished": 0}
    assert slow["jobs"]["total"] == 3
    assert (fast["phases"]["job"]["p50_s"], fast["phases"]["job"]["count"]) == (1.0, 2)
    assert (slow["phases"]["job"]["p95_s"], slow["phases"]["job"]["count"]) == (5.0, 3)
    assert list(fast["phases"]) == ["job"]  # sleeps make no API call: no queue, pull or start rows
    assert fast["failures"] == {} and fast["containers"] == {"runs": 0, "restarts": 0, "oom_killed": 0}


def test_the_workloads_table_puts_workloads_side_by_side() -> None:
    header, rows = workload_rows(run_text(TWO).summary())
    assert header == ("", "fast", "slow")
    assert rows[0] == ("jobs ended", "2", "3")
    assert ("job p50/p95 (s)", "1/1", "5/5") in rows


def test_a_port_conflict_is_counted_against_the_workload_that_hit_it() -> None:
    # scenarios/port-conflict.yaml: bob's container asks for host port 8080 while alice's holds it
    summary = simulate(load_scenario(ROOT / "scenarios" / "port-conflict.yaml")).summary()
    assert summary["workloads"]["bob"]["failures"] == {"port_conflict": 1}
    assert all(w["failures"] == {} for name, w in summary["workloads"].items() if name != "bob")


def test_failure_causes_from_the_docker_clis_messages() -> None:
    assert failure_cause("Error response from daemon: toomanyrequests: You have reached your pull rate limit. "
                         "You may increase the limit by authenticating and upgrading: "
                         "https://www.docker.com/increase-rate-limit") == "rate_limited"
    assert failure_cause("Error response from daemon: driver failed programming external connectivity on "
                         "endpoint bob: Bind for 0.0.0.0:8080 failed: port is already allocated") == "port_conflict"
    assert failure_cause("write /var/lib/docker/tmp/x: no space left on device") == "no_space"
    assert failure_cause("something else") == "other"


def test_one_workload_prints_no_workloads_table() -> None:
    from rich.console import Console

    one = run_text("name: one\nhosts: {box: {}}\nworkloads: {w: {arrival: {burst: 1}, steps: [{sleep: 1s}]}}\n")
    console = Console(record=True, width=100)
    console.print(summary_tables(one.summary()))
    assert "Workloads" not in console.export_text()
    console = Console(record=True, width=100)
    console.print(summary_tables(run_text(TWO).summary()))
    assert "Workloads" in console.export_text()


def test_latency_cdfs_draw_one_line_per_workload(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from dsim.reports.charts import latency_cdfs
    from dsim.reports.charts.workloads import samples_by_workload

    result = run_text(TWO)
    chart = latency_cdfs(result, tmp_path / "cdf.png")
    assert chart.title == "Latency distributions by workload" and (tmp_path / "cdf.png").stat().st_size > 0
    assert samples_by_workload(result) == {"job": {"fast": [1.0, 1.0], "slow": [5.0, 5.0, 5.0]}}
