"""Job slots (hosts.<group>.job_slots): a host runs at most that many jobs; the rest wait in one FIFO queue.

Every expectation is worked out by hand from the rule: a job that finds no candidate host with a free slot
waits; the first slot freed on one of its candidates goes to the oldest waiting job; the wait is a ``slot``
span from arrival to dispatch, and the job's own time runs from its arrival (the wait included).
"""

from __future__ import annotations

from dsim.records import SpanKind
from dsim.reports.outputs import write_jobs_csv
from tests.helpers import run_text

SLEEPERS = """
name: slots
hosts:
  runner: {{count: {count}, job_slots: {slots}}}
workloads:
  ci:
    arrival: {{burst: {jobs}, at: 0s}}
    placement: {placement}
    steps:
      - sleep: 10s
"""


def _run(count: int, slots: int, jobs: int, placement: str = "round-robin"):  # type: ignore[no-untyped-def]
    return run_text(SLEEPERS.format(count=count, slots=slots, jobs=jobs, placement=placement))


def test_two_slots_run_four_ten_second_jobs_in_two_waves() -> None:
    # jobs 1, 2 run 0-10 s; 3 and 4 wait for the slots freed at 10 s and run 10-20 s.
    result = _run(count=1, slots=2, jobs=4)
    ends = {end.job: end.end - end.arrival for end in result.job_ends}
    assert ends == {1: 10.0, 2: 10.0, 3: 20.0, 4: 20.0}
    waits = {span.job: (span.start, span.end) for span in result.spans_of(SpanKind.SLOT)}
    assert waits == {3: (0.0, 10.0), 4: (0.0, 10.0)}
    assert result.makespan_s == 20.0
    assert result.summary()["phases"]["slot"]["count"] == 2


def test_n_jobs_on_h_hosts_of_s_slots_take_ceil_n_over_hs_waves() -> None:
    # 3 hosts x 2 slots = 6 at once; 20 jobs of 10 s: ceil(20 / 6) = 4 waves, makespan 40 s; the jobs of
    # wave k (0-based) wait 10k s: 6 wait 10 s, 6 wait 20 s, 2 wait 30 s; 6 + 6 + 2 = 14 waits in all.
    result = _run(count=3, slots=2, jobs=20)
    assert result.makespan_s == 40.0
    waits = sorted(span.duration for span in result.spans_of(SpanKind.SLOT))
    assert waits == [10.0] * 6 + [20.0] * 6 + [30.0] * 2
    per_host: dict[str, int] = {}
    for end in result.job_ends:
        per_host[end.host] = per_host.get(end.host, 0) + 1
    assert sorted(per_host.values()) == [6, 7, 7]  # 20 jobs over 3 hosts, at most 2 at a time each


def test_a_host_never_runs_more_jobs_than_its_slots() -> None:
    result = _run(count=2, slots=3, jobs=17, placement="least-loaded")
    for host in ("runner-1", "runner-2"):
        edges = sorted([(e.arrival + _wait(result, e.job), 1) for e in result.job_ends if e.host == host]
                       + [(e.end, -1) for e in result.job_ends if e.host == host])
        running = peak = 0
        for _, step in edges:  # an end (-1) sorts before a start (+1) at the same time
            running += step
            peak = max(peak, running)
        assert peak == 3


def _wait(result, job: int) -> float:  # type: ignore[no-untyped-def]
    return next((s.duration for s in result.spans_of(SpanKind.SLOT) if s.job == job), 0.0)


def test_the_oldest_waiting_job_gets_the_freed_slot() -> None:
    # one slot: jobs run strictly in arrival (job number) order, each 10 s after the previous
    result = _run(count=1, slots=1, jobs=5)
    assert [(e.job, e.end) for e in sorted(result.job_ends, key=lambda e: e.end)] == [
        (1, 10.0), (2, 20.0), (3, 30.0), (4, 40.0), (5, 50.0)]


def test_the_slot_column_appears_only_when_a_job_waited(tmp_path) -> None:  # type: ignore[no-untyped-def]
    waited, free = _run(count=1, slots=1, jobs=2), _run(count=1, slots=2, jobs=2)
    write_jobs_csv(waited, tmp_path / "a.csv")
    write_jobs_csv(free, tmp_path / "b.csv")
    header_a = (tmp_path / "a.csv").read_text().splitlines()[0].split(",")
    header_b = (tmp_path / "b.csv").read_text().splitlines()[0].split(",")
    assert header_a[6:8] == ["slot_s", "queue_s"] and "slot_s" not in header_b
    assert (tmp_path / "a.csv").read_text().splitlines()[2].split(",")[6] == "10.000000"  # job 2 waited 10 s
    assert "slot" not in free.summary()["phases"]


def test_a_freed_slot_goes_to_the_oldest_job_of_every_workload_that_may_run_there() -> None:
    # x and y have one slot each. Jobs 1 and 2 (anywhere) run 0-10 s on x and y. Job 3 (only on x) arrives at
    # 1 s and job 4 (anywhere) at 2 s; both wait. At 10 s x's slot goes to job 3, the oldest of the jobs that
    # may run on x though it waits in another queue than job 4, and y's to job 4: both end at 20 s. (Were x's
    # slot given to job 4, job 3 would wait for x until 20 s and end at 30 s.)
    result = run_text("""
name: two-queues
hosts:
  x: {count: 1, job_slots: 1}
  y: {count: 1, job_slots: 1}
workloads:
  first:
    arrival: {burst: 2, at: 0s}
    placement: round-robin
    steps: [{sleep: 10s}]
  only-x:
    arrival: {times: [1s]}
    placement: x
    steps: [{sleep: 10s}]
  later:
    arrival: {times: [2s]}
    placement: round-robin
    steps: [{sleep: 10s}]
""")
    ends = {(end.workload, end.host): end.end for end in result.job_ends}
    assert ends[("only-x", "x")] == 20.0
    assert ends[("later", "y")] == 20.0
    assert sorted(ends.values()) == [10.0, 10.0, 20.0, 20.0]
