"""Readiness and health probes as work (components/health.py, moby daemon/health.go).

The schedule: the first probe one interval after the start, the next one interval after each probe's
result (start_interval while starting inside the start period); a success is healthy, `retries` failures in
a row outside the start period are unhealthy. Readiness: `startup_cpu` CPU-seconds on the host's
processor-sharing scheduler (and `time_to_healthy`, the later of the two). Each probe: the runtime's
`probe_exec` (100 ms by default, 0.37 of it CPU), then the command's `probe_cpu` under `timeout`.
"""

from __future__ import annotations

import pytest

from tests.helpers import run_text, within

#: every start-path cost zero, so a container's process starts at its arrival (Docker 28's endpoint rule left out)
ZERO = "{create: 0s, mount: 0s, netns: 0s, start: 0s, exec: 0s, probe_exec: PROBE}"
NO_RULE = "{endpoint_rules: 0}"


def scenario(check: str, *, cpus: int = 4, probe_exec: str = "0s", busy: bool = False, wait: bool = False) -> str:
    runtime = ZERO.replace("PROBE", probe_exec)
    busy_workload = """
  busy:
    arrival: {times: [0s]}
    steps: [{run: {image: nginx, cpu_time: 100s}}]""" if busy else ""
    return f"""
name: t
seed: 1
hosts:
  h: {{cpus: {cpus}, daemon: {{api_service_time: 0s, workers: 1000}}, preloaded: [nginx], runtime: {runtime},
      networking: {NO_RULE}}}
workloads:
  w:
    arrival: {{times: [0s]}}
    steps: [{{run: {{image: nginx, name: api, detach: true, wait: {str(wait).lower()}, healthcheck: {check}}}}}]
{busy_workload}
"""


def health(result):  # type: ignore[no-untyped-def]
    [span] = [s for s in result.spans_of("health") if s.subject == "api"]
    return span


@pytest.mark.parametrize(
    ("check", "decided", "status", "unhealthy_at"),
    [
        # defaults: the first probe at 30 s succeeds (ready at 12 s)
        ("{time_to_healthy: 12s}", 30.0, "healthy", None),
        # start period 60 s, probes every start_interval 5 s while starting: 5, 10, 15 -> healthy at 15 s
        ("{start_period: 60s, time_to_healthy: 12s}", 15.0, "healthy", None),
        # interval 1 s, never ready: failures at 1, 2, 3 -> unhealthy at 3 s
        ("{interval: 1s, time_to_healthy: inf}", 3.0, "unhealthy", 3.0),
        # interval 2 s, start period 5 s, start_interval 1 s: failures at 1-4 s are inside the start period and
        # do not count; the probe at 5 s is not (5 < 5 is false), so failures at 5, 7, 9 -> unhealthy at 9 s;
        # ready at 12 s -> healthy at the probe at 13 s (11 still fails)
        ("{interval: 2s, start_period: 5s, start_interval: 1s, time_to_healthy: 12s}", 13.0, "healthy", 9.0),
    ],
)
def test_probe_schedule_with_instant_probes(check: str, decided: float, status: str,
                                            unhealthy_at: float | None) -> None:
    span = health(run_text(scenario(check)))
    assert (span.end, span.attrs["status"]) == (pytest.approx(decided), status)
    assert span.attrs["unhealthy_at"] == (None if unhealthy_at is None else pytest.approx(unhealthy_at))


def test_startup_cpu_on_a_busy_core_makes_it_ready_later_and_probes_cost_their_exec() -> None:
    """1 core, one other CPU-bound process: the startup work (2 CPU-s) runs at half a core, done at 4 s.
    interval 5 s: the first probe at 5 s; its exec (100 ms, 37 ms of it CPU) shares the core with the busy
    process: 2 x 0.037 = 0.074 s, then 0.063 s of waiting -> healthy at 5.137 s."""
    result = run_text(scenario("{interval: 5s, startup_cpu: 2s}", cpus=1, probe_exec="100ms", busy=True))
    [startup] = result.spans_of("startup")
    assert (startup.start, startup.end, startup.attrs["cpu_seconds"]) == (0.0, pytest.approx(4.0), 2.0)
    span = health(result)
    assert (span.end, span.attrs["status"]) == (pytest.approx(5.0 + 2 * 0.037 + 0.063), "healthy")
    probe = min(result.spans_of("health_probe"), key=lambda s: s.start)
    assert (probe.start, probe.attrs["exit_code"]) == (5.0, 0)


def test_startup_work_alone_takes_its_cpu_time_at_the_containers_cores() -> None:
    """Idle 4-core host, one thread: 2 CPU-s of startup take 2 s; interval 1 s, instant probes: the probes at
    1 and 2 s... the one at 2 s finds it ready (ready at 2, a probe at or after readiness passes) -> 2 s."""
    result = run_text(scenario("{interval: 1s, startup_cpu: 2s}"))
    assert health(result).end == pytest.approx(2.0)


def test_time_to_healthy_and_startup_work_the_later_counts() -> None:
    """startup 1 CPU-s (done at 1 s) and time_to_healthy 3 s: ready at 3 s; probes every 1 s -> healthy at 3 s.
    The other way round (startup 3 s, time_to_healthy 1 s): ready at 3 s as well."""
    for check in ("{interval: 1s, startup_cpu: 1s, time_to_healthy: 3s}",
                  "{interval: 1s, startup_cpu: 3s, time_to_healthy: 1s}"):
        assert health(run_text(scenario(check))).end == pytest.approx(3.0)


def test_each_probe_costs_its_exec_and_the_next_waits_an_interval_after_it() -> None:
    """probe_exec 100 ms, interval 2 s, ready at 5 s: probes begin at 2, then 2.1 + 2 = 4.1 (fails, ready at
    5), then 4.2 + 2 = 6.2, which ends at 6.3 healthy (probes never overlap: the interval runs from a result)."""
    result = run_text(scenario("{interval: 2s, time_to_healthy: 5s}", probe_exec="100ms", wait=True))
    probes = sorted(result.spans_of("health_probe"), key=lambda s: s.start)
    assert [(p.start, p.end, p.attrs["exit_code"]) for p in probes[:3]] == [
        (2.0, pytest.approx(2.1), 1), (pytest.approx(4.1), pytest.approx(4.2), 1),
        (pytest.approx(6.2), pytest.approx(6.3), 0)]
    [job] = result.jobs
    assert job.end_s == pytest.approx(6.3)


def test_a_probe_slower_than_its_timeout_fails_and_counts() -> None:
    """probe_cpu 2 s against timeout 1 s (ready at once): interval 1 s, retries 2. Probe 1 at 1 s: exec ends
    1.1 s, command killed at 2.1 s (exit -1); probe 2 at 2.1 + 1 = 3.1 s: exec 3.2, killed at 4.2 s: the
    second failure in a row -> unhealthy at 4.2 s; `wait` fails the job then."""
    result = run_text(scenario("{interval: 1s, retries: 2, timeout: 1s, probe_cpu: 2s}", probe_exec="100ms",
                               wait=True))
    probes = sorted(result.spans_of("health_probe"), key=lambda s: s.start)
    assert [(p.start, p.end, p.attrs["exit_code"]) for p in probes[:2]] == [
        (1.0, pytest.approx(2.1), -1), (pytest.approx(3.1), pytest.approx(4.2), -1)]
    span = health(result)
    assert span.attrs["status"] == "unhealthy" and span.attrs["unhealthy_at"] == pytest.approx(4.2)
    [job] = result.jobs
    assert (job.status, job.error, job.end_s) == ("failed", "container api is unhealthy", pytest.approx(4.2))


def test_a_probe_within_its_timeout_passes_after_its_command() -> None:
    """probe_cpu 0.5 s, timeout 1 s, ready at once, interval 1 s: 1 + 0.1 + 0.5 -> healthy at 1.6 s."""
    result = run_text(scenario("{interval: 1s, timeout: 1s, probe_cpu: 500ms}", probe_exec="100ms"))
    assert health(result).end == pytest.approx(1.6)


def test_a_busy_host_stretches_the_probe_past_its_timeout() -> None:
    """1 core, one CPU-bound process: probe_cpu 0.6 s runs at half a core, 1.2 s > timeout 1 s: killed.
    Probe at 1 s (exec instant): killed at 2 s; retries 1 -> unhealthy at 2 s, though the process is ready.
    Every probe fails so while the busy process runs (100 CPU-s at half the core, plus the probes' share)."""
    result = run_text(scenario("{interval: 1s, retries: 1, timeout: 1s, probe_cpu: 600ms}", cpus=1, busy=True))
    first = min(result.spans_of("health_probe"), key=lambda s: s.start)
    assert (first.start, first.end, first.attrs["exit_code"]) == (1.0, pytest.approx(2.0), -1)
    span = health(result)
    assert span.attrs["unhealthy_at"] == pytest.approx(2.0)
    [busy] = [s for s in result.spans_of("process") if s.subject != "api"]
    assert span.end > busy.end  # healthy only once the busy process has ended


def test_startup_writes_share_the_disk() -> None:
    """Two containers each write 100 MB at startup (after 1 CPU-s each, on 4 idle cores: both at 1 s) on a
    100 MB/s disk: processor sharing gives each 50 MB/s, both done at 1 + 2 = 3 s; instant probes every 2 s
    (2 fails) -> both healthy at 4 s."""
    check = "{interval: 2s, startup_cpu: 1s, startup_io: 100MB}"
    # no page cache: the writes go at the disk's pace
    text = scenario(check).replace("preloaded: [nginx]",
                                   "preloaded: [nginx], storage: {write_rate: 100MB/s, dirty_ratio: 0}")
    text = text.replace("steps: [{run: {image: nginx, name: api,",
                        "steps: [{run: {image: nginx, name: other, detach: true, healthcheck: " + check + "}}, "
                        "{run: {image: nginx, name: api,")
    result = run_text(text)
    startups = sorted(result.spans_of("startup"), key=lambda s: s.subject)
    assert [(s.subject, s.end, s.attrs["io_bytes"]) for s in startups] == [
        ("api", pytest.approx(3.0), 100e6), ("other", pytest.approx(3.0), 100e6)]
    assert {s.subject: s.end for s in result.spans_of("health")} == {"api": pytest.approx(4.0),
                                                                     "other": pytest.approx(4.0)}


def test_an_endless_attached_run_with_a_healthcheck_ends_the_run_unfinished() -> None:
    """`docker run` of a process that never exits never returns, so its job never ends; once the container is
    healthy nothing else can happen, and a run without `until` ends there (its probes no longer keep it going
    forever), the job unfinished."""
    runtime = ZERO.replace("PROBE", "0s")
    with within(30):
        result = run_text(f"""
            name: t
            hosts:
              h: {{preloaded: [nginx], runtime: {runtime},
      networking: {NO_RULE}}}
            workloads:
              w:
                arrival: {{times: [0s]}}
                steps: [{{run: {{image: nginx, name: api, duration: inf, healthcheck: {{interval: 1s}}}}}}]
        """)
    assert (result.jobs, result.summary()["jobs"]["unfinished"]) == ([], 1)
    # healthy at the first probe, 1 s after the start (two API calls of 2 ms each before it)
    assert (health(result).end, health(result).attrs["status"]) == (pytest.approx(1.004), "healthy")
