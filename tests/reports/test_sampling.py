"""The job timeline's sample draws some of every workload on every host group (the VM timeline of
vm-vs-container used to show only the containers' host)."""

from __future__ import annotations

from dsim.records import JobEnd, Span, SpanKind
from dsim.reports.charts.sampling import fair_shares, sample_rows, slowest_pulls
from dsim.result import SimResult


def test_fair_shares_water_fill_smallest_first() -> None:
    """105 rows over strata of 5, 100 and 100 jobs: the 5 take all theirs (5 < 105/3), the other two split
    the 100 left, 50 each. Over 3 rows, 4 strata still get one each (the note says it is a sample)."""
    assert fair_shares([5, 100, 100], 105) == [5, 50, 50]
    assert fair_shares([100, 100, 100], 240) == [80, 80, 80]
    assert fair_shares([0, 7], 240) == [0, 7]
    assert fair_shares([10, 10, 10, 10], 3) == [1, 1, 1, 1]


def test_every_workload_is_sampled() -> None:
    """vm-vs-container's shape: 600 jobs of each of 3 workloads, each on its own host, 240 rows: the
    first host alone has 600 jobs, so a sample by host would show it only; by stratum each gets 80."""
    rows = [(host, i * 0.05, n * 600 + i + 1) for n, host in enumerate(("containers", "vms", "microvms"))
            for i in range(600)]
    workload = {job: ("c", "v", "m")[(job - 1) // 600] for _, _, job in rows}
    shown, note = sample_rows(rows, 240, workload.__getitem__, lambda host: host)
    counts = {w: sum(1 for _, _, job in shown if workload[job] == w) for w in "cvm"}
    assert counts == {"c": 80, "v": 80, "m": 80}
    assert shown == [row for row in rows if row in shown]  # the order given is kept
    assert "240 of 1,800 jobs" in note and "3 of 3 hosts" in note


def test_a_small_host_group_is_drawn_whole() -> None:
    """One workload, 50 runners with 20 jobs each (1,000) and one builder with 10: the builder's stratum
    is smaller than its share, so all 10 are drawn; the runners get the other 230 rows, as whole hosts
    of 20 jobs: 230 // 20 = 11 runners, 220 rows."""
    rows = [(f"runner-{h}", float(i), h * 100 + i) for h in range(1, 51) for i in range(20)]
    rows += [("builder", float(i), 10_000 + i) for i in range(10)]
    shown, _ = sample_rows(rows, 240, lambda job: "ci", lambda host: host.split("-")[0])
    builder = [row for row in shown if row[0] == "builder"]
    runners = {row[0] for row in shown if row[0] != "builder"}
    assert len(builder) == 10 and len(runners) == 11 and len(shown) == 230


def test_small_runs_are_drawn_whole() -> None:
    rows = [(f"h-{i % 3}", 0.0, i) for i in range(200)]
    assert sample_rows(rows, 240, lambda job: "w", lambda host: "h") == (rows, "")


def _pulls_result(pulls: list[tuple[int, str, str, float, int]]) -> SimResult:
    """(job, workload, host, duration, bytes) -> a result with one pull_image span and one end per job."""
    spans = [Span(SpanKind.PULL_IMAGE, "img", host, 0.0, took, job, {"bytes": size})
             for job, _, host, took, size in pulls]
    ends = [JobEnd(job, workload, host, 0.0, took, "completed", "") for job, workload, host, took, _ in pulls]
    return SimResult(scenario="s", seed=0, spans=spans, job_ends=ends, expected_jobs=len(ends), registries=(),
                     hosts={}, events=0, wall_s=0.0, makespan_s=60.0, horizon_s=60.0)


def test_the_pull_waterfall_takes_the_slowest_pull_of_each_workload() -> None:
    """a: 10 s and 30 s -> job 2; b: 20 s twice -> the lower job number, 3; job 5's 60 s pull downloaded
    nothing (the image was there): not a waterfall. Slowest first."""
    result = _pulls_result([(1, "a", "h-1", 10.0, 5), (2, "a", "h-2", 30.0, 5), (3, "b", "h-1", 20.0, 5),
                            (4, "b", "h-2", 20.0, 5), (5, "a", "h-1", 60.0, 0)])
    assert slowest_pulls(result, lambda host: "h") == [("a", 2), ("b", 3)]


def test_one_workload_on_two_host_groups_gets_a_pull_of_each_group() -> None:
    result = _pulls_result([(1, "ci", "fast-1", 5.0, 5), (2, "ci", "slow-1", 50.0, 5), (3, "ci", "fast-2", 8.0, 5)])
    assert slowest_pulls(result, lambda host: host.split("-")[0]) == [("slow", 2), ("fast", 3)]
