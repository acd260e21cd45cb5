"""Charts read as people write: plain-word labels, a log axis only for data spanning more than two decades,
hosts in natural order (runner-2 before runner-10), sizes in the scenario's own units."""

from __future__ import annotations

from pathlib import Path

import pytest

from dsim.reports.charts.labels import axis_scale, binary_units, format_binary, metric_label, set_scale
from dsim.reports.html import _host_table
from dsim.reports.style import figure
from dsim.units import format_size


@pytest.mark.parametrize(("path", "words"), [
    ("phases.pull.p50_s", "pull time, median (p50) (s)"),
    ("phases.job.p95_s", "whole job, p95 (s)"),
    ("makespan_s", "makespan (last job ended) (s)"),
    ("hosts.runner.count", "runner hosts (count)"),
    ("registries.registry.bandwidth", "registry: bandwidth"),  # a registry named "registry": said once
    ("registries.hub.bytes_sent", "hub registry: bytes sent"),
    ("workloads.as-vms.phases.start.p50_s", "as-vms workload: start time, median (p50) (s)"),
])
def test_metric_paths_read_as_words(path: str, words: str) -> None:
    assert metric_label(path) == words and "." not in words.replace("(p50)", "")


def test_log_only_past_two_decades() -> None:
    """max / min: 0.5 to 40 s is 80x (1.9 decades): linear; 0.5 to 60 s is 120x (2.08 decades): log; a zero
    among values spanning 4 decades: symlog (log cannot draw 0); all equal: linear."""
    assert axis_scale([0.5, 3.0, 40.0]) == "linear"
    assert axis_scale([0.5, 3.0, 60.0]) == "log"
    assert axis_scale([0.0, 0.06, 600.0]) == "symlog"
    assert axis_scale([0.0, 5.0, 20.0]) == "linear"
    assert axis_scale([0.588, 0.588]) == "linear"


def test_one_value_gets_a_readable_axis(tmp_path: Path) -> None:
    """Three starts of 588 ms each: the axis is widened by 10% either side (0.529 to 0.647), not a span of
    micro-ticks around one value."""
    with figure(4, 3) as (_, ax):
        assert set_scale(ax, [0.588, 0.588, 0.588]) == "linear"
        low, high = ax.get_xlim()
    assert low == pytest.approx(0.5292) and high == pytest.approx(0.6468)


@pytest.mark.parametrize(("values", "scale"), [([0.01, 0.5, 300.0], "log"), ([0.0, 0.01, 300.0], "symlog")])
def test_a_log_axis_is_labelled_in_plain_numbers(values: list[float], scale: str) -> None:
    """Decades as people write seconds (0.01, 0.1, 1, 10, 100), not matplotlib's powers of ten in mathtext
    ($10^{-2}$ ...); the minor ticks stay unlabelled, as matplotlib leaves them on an axis of over two decades."""
    with figure(6, 3) as (fig, ax):
        assert set_scale(ax, values) == scale
        ax.plot(values, [0, 1, 2])
        fig.canvas.draw()
        major = {tick.get_text() for tick in ax.get_xticklabels() if tick.get_text()}
        minor = {tick.get_text() for tick in ax.get_xticklabels(minor=True) if tick.get_text()}
    assert {"0.01", "0.1", "1", "10", "100"} <= major and not any("$" in text for text in major)
    assert not minor


def test_html_host_table_breaks_ties_in_natural_order() -> None:
    """Equal CPU use: runner-2 before runner-10 (a plain string sort puts runner-10 first); a busier host
    still leads."""
    hosts = {name: {"cpu_util": 0.5, "peak_memory_bytes": 0, "disk_used_bytes": 0}
             for name in ("runner-10", "runner-2", "runner-1")}
    hosts["runner-11"] = {"cpu_util": 0.9, "peak_memory_bytes": 0, "disk_used_bytes": 0}
    table = _host_table({"hosts": hosts})
    order = [table.index(f"<td>{name}</td>") for name in ("runner-11", "runner-1", "runner-2", "runner-10")]
    assert order == sorted(order)


def test_html_host_table_leaves_out_memory_nothing_allocated() -> None:
    """No process allocated memory on any host (no run step sets memory_usage): no column of 0B, a note why;
    one host that did brings the column back for every host."""
    idle = {"cpu_util": 0.5, "peak_memory_bytes": 0, "disk_used_bytes": 10**9}
    table = _host_table({"hosts": {"a": idle, "b": dict(idle)}})
    assert "peak memory" not in table.split("</table>")[0] and "<td>0B</td>" not in table
    assert "no run step sets <code>memory_usage</code>" in table
    table = _host_table({"hosts": {"a": idle, "b": {**idle, "peak_memory_bytes": 2 * 10**9}}})
    assert "<th>peak memory</th>" in table and "<td>0B</td>" in table and "memory_usage" not in table


def test_sizes_stay_in_the_scenario_s_units() -> None:
    """32GiB = 34,359,738,368 bytes: '32GiB' for a scenario written in GiB (not docker's 34.4GB)."""
    assert binary_units("hosts: {box: {memory: 32GiB}}\nimages: {a: {size: 512MiB}}")
    assert not binary_units("images: {ci: {size: 1GB}}\nhosts: {r: {disk: 100GB, memory: 16GiB}}")
    assert format_binary(32 * 2**30) == "32GiB" and format_size(32 * 2**30) == "34.4GB"
    table = _host_table({"hosts": {"box": {"cpu_util": 0.1, "peak_memory_bytes": 32 * 2**30, "disk_used_bytes": 0}}},
                        format_binary)
    assert "<td>32GiB</td>" in table


def test_timeline_rows_are_hosts_in_natural_order(tmp_path: Path) -> None:
    """Jobs on runner-10, runner-2 and runner-1: the Gantt's host labels read runner-1, runner-2, runner-10."""
    from dsim.records import JobEnd, Span, SpanKind
    from dsim.reports.charts.jobs import timeline
    from dsim.reports.style import keeping_figures
    from dsim.result import SimResult

    hosts = ("runner-10", "runner-2", "runner-1")
    spans = [Span(SpanKind.RUN, "c", host, 0.0, 5.0, job, {}) for job, host in enumerate(hosts, start=1)]
    ends = [JobEnd(job, "w", host, 0.0, 5.0, "completed", "") for job, host in enumerate(hosts, start=1)]
    result = SimResult(scenario="s", seed=0, spans=spans, job_ends=ends, expected_jobs=3, registries=(), hosts={},
                       events=0, wall_s=0.0, makespan_s=5.0, horizon_s=5.0)
    with keeping_figures() as figures:
        timeline(result, tmp_path / "t.png")
    gantt = figures[0].axes[1]
    assert [t.get_text() for t in gantt.get_yticklabels()] == ["runner-1", "runner-2", "runner-10"]
