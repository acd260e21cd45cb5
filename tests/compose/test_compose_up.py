"""docker compose up -d: objects first, dependency order, health gating, replicas (components/compose.py).

Expectations by hand from the rules in docs/compose.md and the host of tests/compose/helpers.py (no API
time, create 60 ms, start 504 ms: mount 20 + netns 10 + runc 454 + exec 20). A health check's probes
(moby daemon/health.go): the first one interval after the start; while in the start period, every
start_interval instead; each probe takes the exec's 100 ms (the helper host's runtime.probe_exec, all
waiting) and the next one comes an interval after it ended; a probe ending at or after the service's
readiness (x-dsim time_to_healthy) succeeds. Compose polls a waited-for dependency on a 500 ms ticker
started when the dependent begins to wait.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from dsim.api import load_scenario, simulate
from dsim.components.compose import go_duration
from tests.compose.helpers import run, scenario_text, spans
from tests.helpers import within

CHAIN = """
name: p
services:
  web:
    image: nginx:1.25
    depends_on: [app]
  app:
    image: redis:7.4
    depends_on:
      db: {condition: service_healthy}
  db:
    image: postgres:16
    healthcheck: {test: ["CMD", "pg_isready"], interval: 1300ms}
    x-dsim: {time_to_healthy: 2s}
"""


def test_networks_and_volumes_come_before_any_container(tmp_path: Path) -> None:
    result = run(tmp_path, """
        services:
          db: {image: postgres:16, volumes: ["data:/var/lib/postgresql/data"], networks: [back]}
          web: {image: nginx:1.25}
        networks: {back: {}}
        volumes: {data: {}}
    """)
    [job] = result.jobs
    assert job.status == "completed", job.error
    objects = spans(result, "compose_object")
    # project name from the folder (app); the default network because web declares none
    assert [(s.subject, s.attrs["object"], s.attrs["action"]) for s in objects] == [
        ("app_back", "network", "create"), ("app_default", "network", "create"), ("app_data", "volume", "create")]
    first_create = min(s.start for s in spans(result, "create"))
    assert max(s.end for s in objects) <= first_create
    assert {s.subject for s in spans(result, "create")} == {"app-db-1", "app-web-1"}


def test_dependency_order_and_the_health_wait(tmp_path: Path) -> None:
    result = run(tmp_path, CHAIN)
    [job] = result.jobs
    assert job.status == "completed", job.error
    # created in a dependency order (db, app, web: each after its dependency's containers exist), started so too
    assert [s.subject for s in spans(result, "create")] == ["p-db-1", "p-app-1", "p-web-1"]
    assert [s.subject for s in spans(result, "start")] == ["p-db-1", "p-app-1", "p-web-1"]
    # db's probes at 1.3 s (ends 1.4, fails) and 1.4 + 1.3 = 2.7 s after its start (interval 1.3 s, no start
    # period); ready at 2 s: healthy when it ends, 2.8 s. app waits from the same moment; ticks at 0.5, 1.0, ...
    # the 6th (3.0 s) sees healthy.
    [health] = [s for s in spans(result, "health") if s.subject == "p-db-1"]
    assert health.end - health.start == pytest.approx(2.8)
    [wait] = spans(result, "compose_wait")
    assert wait.subject == "app" and wait.attrs["polls"] == 6
    assert wait.start == pytest.approx(health.start)
    assert wait.end - wait.start == pytest.approx(3.0)
    # app starts right after (504 ms), then web (service_started: no wait): up -d ends 3.0 + 2 x 0.504 s
    # after db was running
    [up] = spans(result, "compose")
    assert up.end - health.start == pytest.approx(3.0 + 2 * 0.504)


def test_start_period_probes_every_start_interval(tmp_path: Path) -> None:
    # start_period 4 s, start_interval 1.3 s: probes at 1.3 (ends 1.4) and 2.7 (ends 2.8), failures that do
    # not count; the next 1.3 s after that (2.8 s is inside the start period), at 4.1 s, ends at 4.2 s and
    # finds it ready (3.5 s): healthy at 4.2 s; the first tick at or after that is the 9th (4.5 s).
    result = run(tmp_path, CHAIN.replace("interval: 1300ms}", "start_period: 4s, start_interval: 1300ms}")
                 .replace("time_to_healthy: 2s", "time_to_healthy: 3500ms"))
    [health] = [s for s in spans(result, "health") if s.subject == "p-db-1"]
    assert health.end - health.start == pytest.approx(4.2)
    [wait] = spans(result, "compose_wait")
    assert (wait.attrs["polls"], wait.end - wait.start) == (9, pytest.approx(4.5))


def test_docker_defaults_without_interval(tmp_path: Path) -> None:
    # Docker's defaults: interval 30 s, no start period: the first probe 30 s after the start decides when
    # its exec ends, 30.1 s; the tick at or after that is the 61st (30.5 s)
    result = run(tmp_path, CHAIN.replace(", interval: 1300ms", ""))
    [wait] = spans(result, "compose_wait")
    assert (wait.attrs["polls"], wait.end - wait.start) == (61, pytest.approx(30.5))


def test_an_unhealthy_dependency_fails_the_up(tmp_path: Path) -> None:
    # never ready: probes at 1.2, 2.5, 3.8 s (each 100 ms, the next 1.2 s after) fail; the 3rd failure in a
    # row (retries 3) makes it unhealthy at 3.9 s; the tick at 4.0 s sees it and compose stops with its error;
    # web never starts
    result = run(tmp_path, CHAIN.replace("interval: 1300ms", "interval: 1200ms")
                 .replace("time_to_healthy: 2s", "time_to_healthy: inf"))
    [job] = result.jobs
    assert job.status == "failed"
    assert job.error == "dependency failed to start: container p-db-1 is unhealthy"
    [health] = [s for s in spans(result, "health") if s.subject == "p-db-1"]
    assert job.end_s - health.start == pytest.approx(4.0)
    assert [s.subject for s in spans(result, "start")] == ["p-db-1"]


def test_service_healthy_without_a_healthcheck_is_compose_s_error(tmp_path: Path) -> None:
    result = run(tmp_path, CHAIN.replace('    healthcheck: {test: ["CMD", "pg_isready"], interval: 1300ms}\n', ""))
    [job] = result.jobs
    assert job.error == "dependency failed to start: container p-db-1 has no healthcheck configured"


def test_completed_successfully_waits_for_exit_zero(tmp_path: Path) -> None:
    compose = """
        name: p
        services:
          app:
            image: redis:7.4
            depends_on:
              migrate: {condition: service_completed_successfully}
          migrate:
            image: postgres:16
            x-dsim: {duration: 2200ms, exit_code: CODE}
    """
    # migrate runs 2.2 s after its start; the first tick at or after is the 5th (2.5 s)
    result = run(tmp_path, compose.replace("CODE", "0"))
    [job] = result.jobs
    assert job.status == "completed", job.error
    [wait] = spans(result, "compose_wait")
    assert (wait.attrs["polls"], wait.end - wait.start) == (5, pytest.approx(2.5))
    failed = run(tmp_path, compose.replace("CODE", "3"))
    assert failed.jobs[0].error == 'service "migrate" didn\'t complete successfully: exit 3'


def test_waiting_for_a_service_that_never_completes_ends_the_run_unfinished(tmp_path: Path) -> None:
    """compose polls a dependency that never exits for good; once nothing else can happen (its healthcheck
    settled healthy) a run without `until` ends there, the job unfinished, rather than polling forever."""
    compose = """
        name: p
        services:
          app:
            image: redis:7.4
            depends_on:
              migrate: {condition: service_completed_successfully}
          migrate:
            image: postgres:16
            healthcheck: {test: ["CMD", "pg_isready"], interval: 1s}
    """
    with within(30):
        result = run(tmp_path, compose)
    assert (result.jobs, result.summary()["jobs"]["unfinished"]) == ([], 1)
    assert [s.subject for s in spans(result, "start")] == ["p-migrate-1"]


def test_two_services_polling_for_services_that_never_complete_end_the_run_unfinished(tmp_path: Path) -> None:
    """Two services wait for two services that never exit, each on its own 500 ms ticker: each poller's ticks
    and inspects are background, so neither keeps the other one polling (before, each did, forever). Both
    begin to wait once their dependencies have started; the later one stops at its first poll, 500 ms after,
    the other at its next tick: the run ends within 1 s of the last start."""
    compose = """
        name: p
        services:
          app1:
            image: redis:7.4
            depends_on:
              migrate1: {condition: service_completed_successfully}
          app2:
            image: redis:7.4
            depends_on:
              migrate2: {condition: service_completed_successfully}
          migrate1: {image: postgres:16}
          migrate2: {image: postgres:16}
    """
    with within(30):
        result = run(tmp_path, compose)
    assert (result.jobs, result.summary()["jobs"]["unfinished"]) == ([], 1)
    starts = spans(result, "start")
    assert [s.subject for s in starts] == ["p-migrate1-1", "p-migrate2-1"]
    ends = {s.end for s in spans(result, "process")}  # the servers run until the run's end
    assert len(ends) == 1 and max(s.end for s in starts) + 0.5 <= ends.pop() <= max(s.end for s in starts) + 1.0


def test_two_projects_polling_for_services_that_never_complete_end_the_run_unfinished(tmp_path: Path) -> None:
    """The same with two projects, one `up` each, the second 300 ms after the first: the run ends, both jobs
    unfinished, within 1 s of the later project's start of its dependency."""
    compose = """
        name: NAME
        services:
          app:
            image: redis:7.4
            depends_on:
              migrate: {condition: service_completed_successfully}
          migrate: {image: postgres:16}
    """
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "compose.yaml").write_text(textwrap.dedent(compose).replace("NAME", name))
    text = scenario_text(["compose: {file: one/compose.yaml, action: up}"])
    text += ("  w2:\n    arrival: {times: [300ms]}\n    placement: h\n    steps:\n"
             "      - compose: {file: two/compose.yaml, action: up}\n")
    (tmp_path / "scenario.yaml").write_text(text)
    with within(30):
        result = simulate(load_scenario(tmp_path / "scenario.yaml"))
    assert (result.jobs, result.summary()["jobs"]["unfinished"]) == ([], 2)
    starts = spans(result, "start")
    assert [s.subject for s in starts] == ["one-migrate-1", "two-migrate-1"]
    ends = {s.end for s in spans(result, "process")}
    assert len(ends) == 1 and starts[1].end + 0.5 <= ends.pop() <= starts[1].end + 1.0


def test_a_crash_loop_beside_a_wait_that_never_ends_stops_and_so_does_the_wait(tmp_path: Path) -> None:
    """app waits for migrate, which never exits; crashy (restart always) fails 1 s after each start. Its
    backoffs kept compose polling, and compose's polls kept it restarting, forever; now the loop, which can
    only be stopped, stops at its first backoff (polls are all else left), then compose at its next tick."""
    compose = """
        name: p
        services:
          app:
            image: redis:7.4
            depends_on:
              migrate: {condition: service_completed_successfully}
          migrate: {image: postgres:16}
          crashy:
            image: nginx:1.25
            restart: always
            x-dsim: {duration: 1s, exit_code: 1}
    """
    with within(30):
        result = run(tmp_path, compose)
    assert (result.jobs, result.summary()["jobs"]["unfinished"]) == ([], 1)
    [start] = [s for s in spans(result, "start") if s.subject == "p-crashy-1"]
    [backoff] = spans(result, "restarting")
    assert (backoff.start, backoff.end) == (pytest.approx(start.end + 1.0), pytest.approx(start.end + 1.1))


def test_a_crash_loop_awaited_to_run_goes_on_beside_a_wait_that_never_ends(tmp_path: Path) -> None:
    """Project one's `up --wait` polls for crashy (restart always, 300 ms runs) to be running; project two
    waits for a service that never exits. crashy's restarts can end one's wait, so its loop goes on beside
    the polls until a poll finds it running (one completes); then it stops at its next backoff, and two's
    wait, all else left, stops too (two unfinished). Before, two's polls and crashy's loop kept each other
    going forever."""
    one = """
        name: one
        services:
          crashy:
            image: redis:7.4
            restart: always
            x-dsim: {duration: 300ms, exit_code: 1}
    """
    two = """
        name: two
        services:
          app:
            image: redis:7.4
            depends_on:
              migrate: {condition: service_completed_successfully}
          migrate: {image: postgres:16}
    """
    for name, text in (("one", one), ("two", two)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "compose.yaml").write_text(textwrap.dedent(text))
    text = scenario_text(["compose: {file: one/compose.yaml, action: up, wait: true}"])
    text += ("  w2:\n    arrival: {times: [0s]}\n    placement: h\n    steps:\n"
             "      - compose: {file: two/compose.yaml, action: up}\n")
    (tmp_path / "scenario.yaml").write_text(text)
    with within(30):
        result = simulate(load_scenario(tmp_path / "scenario.yaml"))
    [job] = result.jobs
    assert (job.workload, job.status, result.summary()["jobs"]["unfinished"]) == ("w", "completed", 1)
    backoffs = spans(result, "restarting")
    assert backoffs and backoffs[0].end < job.end_s  # it ran again before the poll that found it running
    [last] = [s for s in backoffs if s.end > job.end_s]  # then one backoff more, and it stopped
    [wait] = spans(result, "compose_wait")
    assert wait.subject == "one" and wait.end == job.end_s


def test_replicas_are_created_together_and_started_in_turn(tmp_path: Path) -> None:
    result = run(tmp_path, """
        name: p
        services:
          web: {image: nginx:1.25, deploy: {replicas: 3}}
    """)
    creates = spans(result, "create")
    assert [s.subject for s in creates] == ["p-web-1", "p-web-2", "p-web-3"]
    # together: all three creates run at once (60 ms each, no lock held in this host)
    assert {round(s.start, 9) for s in creates} == {round(creates[0].start, 9)}
    starts = spans(result, "start")
    assert [s.subject for s in starts] == ["p-web-1", "p-web-2", "p-web-3"]
    # one after the other: each begins when the previous one ended
    for before, after in zip(starts, starts[1:], strict=False):
        assert after.start == pytest.approx(before.end)


def test_a_diamond_is_ordered_topologically(tmp_path: Path) -> None:
    result = run(tmp_path, """
        name: p
        services:
          a: {image: nginx:1.25, depends_on: [b, c]}
          b: {image: nginx:1.25, depends_on: [d]}
          c: {image: nginx:1.25, depends_on: [d]}
          d: {image: nginx:1.25}
    """)
    order = [s.subject for s in spans(result, "start")]
    # d first, a last; b and c once d has started (in any order between them)
    assert order[0] == "p-d-1" and order[-1] == "p-a-1" and set(order[1:3]) == {"p-b-1", "p-c-1"}


def test_cold_images_are_pulled_at_once(tmp_path: Path) -> None:
    result = run(tmp_path, CHAIN, preloaded="redis:7.4")
    pulls = spans(result, "pull")
    assert sorted(s.subject for s in pulls) == ["nginx:1.25", "postgres:16"]  # redis:7.4 is local
    assert pulls[0].start == pytest.approx(pulls[1].start)  # in parallel, not one after the other
    assert max(s.end for s in pulls) <= min(s.start for s in spans(result, "create"))


WAITED = """
name: p
services:
  web: {image: nginx:1.25}
  db:
    image: postgres:16
    healthcheck: {test: ["CMD", "true"], interval: 1s}
    x-dsim: {time_to_healthy: 2500ms}
"""


def test_up_wait_returns_once_every_service_runs_or_is_healthy(tmp_path: Path) -> None:
    """up --wait: web (no healthcheck) counts once running, db once healthy. db's probes come 1 s apart (each
    100 ms of exec, the next 1 s after it ends): at 1, 2.1, 3.2 s after its start; the third, past its 2.5 s to
    ready, makes it healthy at 3.3 s. The wait polls every 500 ms from the end of the starts."""
    result = run(tmp_path, WAITED, ["compose: {file: app/compose.yaml, action: up, wait: true}"])
    [job] = result.jobs
    assert job.status == "completed", job.error
    [up] = result.spans_of("compose")
    [wait] = [s for s in result.spans_of("compose_wait") if s.subject == "p"]
    db_start = next(s for s in spans(result, "start") if s.subject == "p-db-1")
    healthy = db_start.end + 3.3
    ticks = -(-(healthy - wait.start) // 0.5)  # the first tick at or after db turned healthy
    assert wait.end == pytest.approx(wait.start + ticks * 0.5)
    assert wait.attrs["polls"] == ticks
    assert up.end == pytest.approx(wait.end)
    assert wait.attrs["conditions"] == ["web:running_or_healthy", "db:running_or_healthy"]


def test_up_wait_timeout_is_composes_error(tmp_path: Path) -> None:
    step = "compose: {file: app/compose.yaml, action: up, wait: true, wait_timeout: 2s}"
    [job] = run(tmp_path, WAITED, [step]).jobs
    assert (job.status, job.error) == ("failed", "application not healthy after 2s")


def test_up_wait_fails_on_an_unhealthy_service(tmp_path: Path) -> None:
    unhealthy = WAITED.replace("time_to_healthy: 2500ms", "time_to_healthy: inf").replace(
        "interval: 1s}", "interval: 1s, retries: 2}")
    [job] = run(tmp_path, unhealthy, ["compose: {file: app/compose.yaml, action: up, wait: true}"]).jobs
    assert (job.status, job.error) == ("failed", "dependency failed to start: container p-db-1 is unhealthy")


@pytest.mark.parametrize(("seconds", "text"), [(2, "2s"), (90, "1m30s"), (1.5, "1.5s"), (7200, "2h0m0s"),
                                               (0.5, "500ms"), (0.0015, "1.5ms"), (0, "0s")])
def test_durations_print_as_go_prints_them(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text
