"""Restart policies with moby's backoff, exit codes, failure probability and health checks.

moby daemon/restartmanager: each exit advances the wait (100 ms, doubling, capped at 1 min; back to
100 ms after a run of >= 10 s); on-failure:N restarts a non-zero exit while fewer than N restarts were
made. moby daemon/health.go: probes one interval apart (start_interval while starting inside the start
period); the first success is healthy; `retries` failures in a row outside the start period, unhealthy
(the schedule's cases: tests/components/test_health.py; probes cost nothing on this file's host).
"""

from __future__ import annotations

import math

import pytest

from dsim.components.container import RestartManager
from tests.helpers import run_text, within

#: every start-path cost zero (Docker 28's endpoint rule left out)
ZERO = "{create: 0s, mount: 0s, netns: 0s, start: 0s, exec: 0s, probe_exec: 0s}"
NO_RULE = "{endpoint_rules: 0}"


def scenario(steps: str, *, burst: int = 1, seed: int = 1) -> str:
    return f"""
name: t
seed: {seed}
hosts:
  h: {{cpus: 4, daemon: {{api_service_time: 0s, workers: 1000}}, preloaded: [nginx], runtime: {ZERO},
      networking: {NO_RULE}}}
workloads:
  w:
    arrival: {{burst: {burst}}}
    steps: {steps}
"""


def processes(result):  # type: ignore[no-untyped-def]
    return sorted(result.spans_of("process"), key=lambda s: s.start)


def test_four_one_second_runs_with_on_failure_3_end_at_4_7_s() -> None:
    """Runs of 1 s exiting 1, zero start costs: run 1 0-1 s, wait 0.1; run 2 1.1-2.1, wait 0.2; run 3
    2.3-3.3, wait 0.4; run 4 3.7-4.7; then 3 restarts were made, so on-failure:3 gives up at 4.7 s."""
    steps = "[{run: {image: nginx, duration: 1s, exit_code: 1, restart: 'on-failure:3', detach: true}}, {sleep: 1m}]"
    result = run_text(scenario(steps))
    runs = [(round(s.start, 9), round(s.end, 9)) for s in processes(result)]
    assert runs == [(0, 1), (1.1, 2.1), (2.3, 3.3), (3.7, 4.7)]
    waits = [s.attrs["delay"] for s in sorted(result.spans_of("restarting"), key=lambda s: s.start)]
    assert waits == pytest.approx([0.1, 0.2, 0.4])
    assert result.summary()["containers"]["restarts"] == 3


def test_a_detached_process_written_to_exit_at_once_crash_loops() -> None:
    """`docker run -d --restart on-failure:3 alpine false`: a written `duration: 0s` is a process that exits at
    once, not a server (only a detached run without any duration runs until stopped): runs at 0, 0.1, 0.3 and
    0.7 s, each exiting 1 at once, then on-failure:3 gives up."""
    steps = "[{run: {image: nginx, duration: 0s, exit_code: 1, restart: 'on-failure:3', detach: true}}, {sleep: 1m}]"
    result = run_text(scenario(steps))
    runs = [(round(s.start, 9), round(s.end, 9), s.attrs["exit_code"]) for s in processes(result)]
    assert runs == [(0, 0, 1), (0.1, 0.1, 1), (0.3, 0.3, 1), (0.7, 0.7, 1)]
    assert result.summary()["containers"]["restarts"] == 3


def test_backoff_doubles_to_the_one_minute_cap_and_resets_after_ten_seconds() -> None:
    manager = RestartManager("always")
    delays = [manager.should_restart(1, False, 0.5)[1] for _ in range(12)]
    assert delays == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 51.2, 60.0, 60.0])
    assert manager.should_restart(0, False, 10.0) == (True, pytest.approx(0.1))  # ran >= 10 s: reset
    assert manager.should_restart(0, False, 9.9) == (True, pytest.approx(0.2))


def test_policies_decide_on_exit_code_and_manual_stop() -> None:
    assert RestartManager("no").should_restart(1, False, 1)[0] is False
    assert RestartManager("on-failure").should_restart(0, False, 1)[0] is False
    assert RestartManager("on-failure").should_restart(1, False, 1)[0] is True
    assert RestartManager("always").should_restart(0, False, 1)[0] is True
    assert RestartManager("unless-stopped").should_restart(0, True, 1)[0] is False
    # on-failure without N never gives up
    unlimited = RestartManager("on-failure")
    assert all(unlimited.should_restart(1, False, 1)[0] for _ in range(100))


def test_the_attached_run_returns_at_the_first_exit_while_restarts_go_on() -> None:
    """docker run (attached) waits for the next exit only: the job fails at 1 s with the exit code, and
    the container keeps restarting (on-failure:2) in the background while another job runs: 3 runs in all.
    Alone, the simulation ends with its last job and nothing restarts after that: 1 run."""
    steps = "[{run: {image: nginx, duration: 1s, exit_code: 3, restart: 'on-failure:2', name: c}}]"
    alone = run_text(scenario(steps))
    [job] = alone.jobs
    assert (job.end_s, job.error) == (pytest.approx(1.0), "container c exited with code 3")
    assert len(processes(alone)) == 1
    other = "\n  other: {arrival: {burst: 1}, steps: [{sleep: 10s}]}"
    result = run_text(scenario(steps) + other)
    assert [round(s.start, 9) for s in processes(result)] == [0, 1.1, 2.3]


def test_stop_cancels_an_always_restart_loop() -> None:
    """restart: always, runs of 2 s exiting 0. Runs 0-2, 2.1-4.1, 4.3-6.3, 6.7-8.7; docker stop at 8 s hits
    the fourth run, which exits on SIGTERM at once: no fifth run."""
    steps = ("[{run: {image: nginx, duration: 2s, restart: always, detach: true}}, {sleep: 8s}, {stop: {}},"
             " {sleep: 100s}]")
    result = run_text(scenario(steps))
    runs = [(round(s.start, 9), round(s.end, 9)) for s in processes(result)]
    assert runs == [(0, 2), (2.1, 4.1), (4.3, 6.3), (6.7, 8)]


def test_a_run_of_ten_seconds_resets_the_backoff() -> None:
    """unless-stopped, runs of 10 s: every wait is the first one, 100 ms."""
    steps = "[{run: {image: nginx, duration: 10s, restart: unless-stopped, detach: true}}, {sleep: 50s}]"
    waits = [s.attrs["delay"] for s in run_text(scenario(steps)).spans_of("restarting")]
    assert len(waits) == 4 and waits == pytest.approx([0.1] * 4)  # runs end at 10, 20.1, 30.2, 40.3


def test_fail_probability_fails_that_share_of_runs() -> None:
    """400 one-second runs with fail_probability 0.25: failures are Binomial(400, 0.25), mean 100, sd
    sqrt(400 x 0.25 x 0.75) = 8.7; checked within 4 sd, for three seeds."""
    steps = "[{run: {image: nginx, duration: 1s, fail_probability: 0.25}}]"
    for seed in (1, 2, 3):
        result = run_text(scenario(steps, burst=400, seed=seed))
        failed = sum(1 for job in result.jobs if job.status == "failed")
        assert abs(failed - 100) <= 4 * math.sqrt(400 * 0.25 * 0.75)
        assert {job.error for job in result.jobs if job.error} <= {f"container h-c{i} exited with code 1"
                                                                   for i in range(1, 401)}


def test_health_is_a_phase_and_wait_ends_the_step_when_healthy() -> None:
    """--wait: the step ends at the first successful probe (interval 2 s, ready after 5 s -> 6 s)."""
    steps = ("[{run: {image: nginx, detach: true, wait: true, healthcheck: {interval: 2s, time_to_healthy: 5s}}},"
             " {ps: {}}]")
    result = run_text(scenario(steps))
    [job] = result.jobs
    assert job.end_s == pytest.approx(6.0)
    assert job.phases["health"] == pytest.approx(6.0)
    assert result.summary()["phases"]["health"]["count"] == 1
    [ps] = result.spans_of("ps")
    assert ps.attrs["containers"] == ["h-c1 Up (healthy)"]


def test_wait_fails_when_the_container_turns_unhealthy() -> None:
    steps = ("[{run: {image: nginx, detach: true, wait: true, name: api, "
             "healthcheck: {interval: 1s, retries: 3, time_to_healthy: inf}}}]")
    [job] = run_text(scenario(steps)).jobs
    assert (job.end_s, job.status, job.error) == (pytest.approx(3.0), "failed", "container api is unhealthy")


def test_a_crash_loop_beside_a_job_that_never_ends_stops_when_nothing_else_can_happen() -> None:
    """One job starts a crash loop (restart always) and ends; another `docker run`s a process that never exits,
    so it never ends and the last job never has: the loop alone is left, and nothing waits for a restarting
    container, so a run without `until` ends at its next backoff instead of restarting it forever."""
    with within(30):
        result = run_text(f"""
            name: t
            hosts:
              h: {{daemon: {{api_service_time: 0s}}, preloaded: [nginx], runtime: {ZERO},
      networking: {NO_RULE}}}
            workloads:
              crash:
                arrival: {{times: [0s]}}
                steps: [{{run: {{image: nginx, name: crashy, detach: true, duration: 1s, exit_code: 1,
                                 restart: always}}}}]
              forever:
                arrival: {{times: [0s]}}
                steps: [{{run: {{image: nginx, duration: inf}}}}]
        """)
    assert [(job.workload, job.status) for job in result.jobs] == [("crash", "completed")]
    assert result.summary()["jobs"]["unfinished"] == 1
    [backoff] = result.spans_of("restarting")  # the first backoff, 100 ms after the exit at 1 s
    assert (backoff.start, backoff.end) == (pytest.approx(1.0), pytest.approx(1.1))


@pytest.mark.parametrize("work", ["duration", "cpu_time"])
def test_two_crash_loops_whose_runs_overlap_stop_once_nothing_else_can_happen(work: str) -> None:
    """Two crash loops (restart always, 12 s runs: each backoff back to 100 ms) beside a job that never ends:
    a runs 0-12, b 6-18, so at a's first backoff (12.1) b's first run is under way (a job's run: it keeps the
    run going) and a restarts (12.1-24.1); at b's (18.1) all else is a's restarted run, which no job waits
    for: b stops; a stops at its next backoff (24.2), left alone. Before, each loop's run kept the other one
    restarting forever. The same with 12 CPU-seconds on a core each (4 cores: no sharing), where a's
    restarted run is work on the host's CPU scheduler."""
    with within(30):
        result = run_text(f"""
            name: t
            hosts:
              h: {{cpus: 4, daemon: {{api_service_time: 0s}}, preloaded: [nginx], runtime: {ZERO},
      networking: {NO_RULE}}}
            workloads:
              a:
                arrival: {{times: [0s]}}
                steps: [{{run: {{image: nginx, name: a, detach: true, {work}: 12s, exit_code: 1,
                                 restart: always}}}}]
              b:
                arrival: {{times: [6s]}}
                steps: [{{run: {{image: nginx, name: b, detach: true, {work}: 12s, exit_code: 1,
                                 restart: always}}}}]
              forever:
                arrival: {{times: [0s]}}
                steps: [{{run: {{image: nginx, duration: inf}}}}]
        """)
    assert sorted((job.workload, job.status) for job in result.jobs) == [("a", "completed"), ("b", "completed")]
    assert result.summary()["jobs"]["unfinished"] == 1
    backoffs = sorted((s.subject, s.start, s.end) for s in result.spans_of("restarting"))
    assert backoffs == [("a", 12.0, pytest.approx(12.1)), ("a", pytest.approx(24.1), pytest.approx(24.2)),
                        ("b", 18.0, pytest.approx(18.1))]


def test_a_crash_loop_with_a_pending_healthcheck_stops_when_nothing_else_can_happen() -> None:
    """A crash loop (2 s runs) whose healthcheck waits for a readiness 100 s away: each exit leaves the
    readiness timer queued with nobody waiting for it, which no longer counts as something left to happen;
    beside a job that never ends the loop stops at its first backoff (2-2.1 s)."""
    with within(30):
        result = run_text(f"""
            name: t
            hosts:
              h: {{daemon: {{api_service_time: 0s}}, preloaded: [nginx], runtime: {ZERO},
      networking: {NO_RULE}}}
            workloads:
              crash:
                arrival: {{times: [0s]}}
                steps: [{{run: {{image: nginx, name: crashy, detach: true, duration: 2s, exit_code: 1,
                                 restart: always, healthcheck: {{interval: 1s, time_to_healthy: 100s}}}}}}]
              forever:
                arrival: {{times: [0s]}}
                steps: [{{run: {{image: nginx, duration: inf}}}}]
        """)
    assert result.summary()["jobs"]["unfinished"] == 1
    assert [(s.start, s.end) for s in result.spans_of("restarting")] == [(2.0, pytest.approx(2.1))]
    assert len([s for s in result.spans_of("process") if s.subject == "crashy"]) == 1
