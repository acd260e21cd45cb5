"""docker compose down: containers stopped and removed in reverse dependency order, then the project's
networks; named volumes only with -v (components/compose.py; docs/compose.md)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from dsim.api import load_scenario, simulate
from dsim.errors import ScenarioError
from tests.compose.helpers import run, spans, write

APP = """
name: p
services:
  web: {image: nginx:1.25, depends_on: [db], stop_grace_period: 2s, x-dsim: {stop_time: 5s}}
  db: {image: postgres:16, volumes: ["data:/var/lib/postgresql/data"], x-dsim: {stop_time: 300ms}}
volumes:
  data: {}
"""
UP = "compose: {file: app/compose.yaml, action: up}"
DOWN = "compose: {file: app/compose.yaml, action: down}"
DOWN_V = "compose: {file: app/compose.yaml, action: down, volumes: true}"


def test_down_removes_containers_in_reverse_order_then_networks(tmp_path: Path) -> None:
    result = run(tmp_path, APP, [UP, "sleep: 5s", DOWN])
    [job] = result.jobs
    assert job.status == "completed", job.error
    stops = {s.subject: s for s in spans(result, "stop")}
    # web depends on db: web goes first. Its process takes 5 s to exit after SIGTERM, over its 2 s
    # stop_grace_period: SIGKILL at 2 s. db's stop begins after web is removed and takes 0.3 s.
    assert stops["p-web-1"].end - stops["p-web-1"].start == pytest.approx(2.0)
    assert stops["p-db-1"].start >= stops["p-web-1"].end
    assert stops["p-db-1"].end - stops["p-db-1"].start == pytest.approx(0.3)
    assert [s.subject for s in spans(result, "rm")] == ["p-web-1", "p-db-1"]
    removed = [(s.subject, s.attrs["object"]) for s in spans(result, "compose_object") if s.attrs["action"] == "remove"]
    assert removed == [("p_default", "network")]  # the volume stays without -v
    assert min(s.start for s in spans(result, "compose_object") if s.attrs["action"] == "remove") \
        >= max(s.end for s in spans(result, "rm"))


def test_down_v_removes_the_named_volumes_and_up_again_recreates(tmp_path: Path) -> None:
    result = run(tmp_path, APP, [UP, DOWN_V, UP])
    [job] = result.jobs
    assert job.status == "completed", job.error
    actions = [(s.subject, s.attrs["action"]) for s in result.spans_of("compose_object")]  # in record order
    assert actions == [("p_default", "create"), ("p_data", "create"), ("p_default", "remove"),
                       ("p_data", "remove"), ("p_default", "create"), ("p_data", "create")]
    # the second up creates both containers again under the same names
    assert [s.subject for s in spans(result, "create")] == ["p-db-1", "p-web-1", "p-db-1", "p-web-1"]


def test_up_twice_leaves_running_containers_alone(tmp_path: Path) -> None:
    # compose converges: the second up finds the network and volume (inspect: exists) and both containers
    # running, so it creates and starts nothing
    result = run(tmp_path, APP, [UP, UP])
    assert [s.attrs["action"] for s in spans(result, "compose_object")] == ["create", "create", "exists", "exists"]
    assert len(spans(result, "create")) == 2 and len(spans(result, "start")) == 2


VERSIONED = """
name: p
services:
  web: {image: "nginx:${TAG}", stop_grace_period: 2s, x-dsim: {stop_time: 300ms}}
  db: {image: postgres:16}
"""


def test_up_with_a_changed_service_recreates_its_container_only(tmp_path: Path) -> None:
    """The second up's web has another image: compose's recreateContainer. The new container is created under a
    temporary name while the old one still serves, then the old one stops (its 0.3 s to exit on SIGTERM, inside
    the 2 s grace) and is removed, the new one takes the name and starts. db, unchanged, is left alone."""
    first, second = (f"compose: {{file: app/compose.yaml, action: up, env: {{TAG: '{tag}'}}}}"
                     for tag in ("1.25", "latest"))
    result = run(tmp_path, VERSIONED, [first, "sleep: 5s", second],
                 preloaded="nginx:1.25, nginx:latest, postgres:16")
    [job] = result.jobs
    assert job.status == "completed", job.error
    creates = spans(result, "create")
    [new] = [s.subject for s in creates][2:]  # created under compose's temporary name: the old one's ID, its name
    assert new.endswith("_p-web-1") and new != "p-web-1"
    recreate = next(s for s in result.spans_of("compose_object") if s.attrs["action"] == "recreate")
    assert (recreate.subject, recreate.attrs["object"]) == ("p-web-1", "container")
    stop = next(s for s in spans(result, "stop") if s.start >= recreate.start)
    rm = next(s for s in spans(result, "rm") if s.start >= recreate.start)
    assert creates[2].start == pytest.approx(recreate.start)  # created first: the old one still runs
    assert stop.start == pytest.approx(creates[2].end)
    assert stop.end - stop.start == pytest.approx(0.3)
    assert rm.start == pytest.approx(stop.end)
    new_start = [s for s in spans(result, "start") if s.subject == "p-web-1"][-1]
    assert new_start.start >= recreate.end
    assert new_start.end - new_start.start == pytest.approx(0.504)
    assert len([s for s in spans(result, "start") if s.subject == "p-db-1"]) == 1  # not recreated, not restarted
    assert [s.subject for s in spans(result, "pull")] == []  # both images were local


def test_a_second_up_of_an_unchanged_project_recreates_nothing(tmp_path: Path) -> None:
    up = "compose: {file: app/compose.yaml, action: up, env: {TAG: '1.25'}}"
    result = run(tmp_path, VERSIONED, [up, up])
    assert [s.attrs["action"] for s in result.spans_of("compose_object")] == ["create", "exists"]
    assert len(spans(result, "create")) == 2 and spans(result, "stop") == []
    assert "downtime" not in result.phases  # no container replaced: jobs.csv keeps its columns


CONFIGURED = """
name: p
services:
  web:
    image: nginx:1.25
    environment: ENVIRONMENT
    command: ["nginx", "-g", "daemon off;"]
"""


@pytest.mark.parametrize(("first", "second", "recreated"), [
    ("'{A: 1, B: x}'", "'[A=1, B=x]'", False),  # compose-go: a list of KEY=VALUE and a mapping are one environment
    ("'{A: 1}'", "'{A: 2}'", True),  # another value: another configuration
    ("'{A: 1}'", "'{A: 1, B: x}'", True),
])
def test_a_changed_environment_recreates_the_container(tmp_path: Path, first: str, second: str,
                                                       recreated: bool) -> None:
    """Two files of one project (-p p), the second with the environment changed or not: compose's config hash
    decides; the command, the same in both, does not."""
    compose = [CONFIGURED.replace("ENVIRONMENT", value.strip("'")) for value in (first, second)]
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "other.yaml").write_text(compose[1])
    steps = [UP, "compose: {file: app/other.yaml, action: up, project: p}"]
    result = run(tmp_path, compose[0], steps)
    [job] = result.jobs
    assert job.status == "completed", job.error
    recreates = [s for s in result.spans_of("compose_object") if s.attrs.get("object") == "container"]
    assert len(recreates) == (1 if recreated else 0)
    assert len(spans(result, "create")) == (2 if recreated else 1)


def test_an_image_rebuilt_under_the_same_tag_recreates_its_containers(tmp_path: Path) -> None:
    """docker build -t corp/web:latest, then up again: the reference is the same, the image is not (compose
    compares the container's image digest with the tag's): web is recreated, db is not."""
    compose = """
    name: p
    services:
      web: {image: corp/web:latest}
      db: {image: postgres:16}
    """
    build = ('build: {dockerfile_text: "FROM nginx:1.25\\nRUN touch /changed\\n", tag: corp/web:latest, '
             'default_run_time: 1s, default_layer_size: 1MB}')
    path = write(tmp_path, compose, [UP, build, UP], preloaded="nginx:1.25, postgres:16")
    text = path.read_text().replace("hosts:", "images:\n  corp/web:latest: {from: nginx:1.25, layers: [10MB]}\n"
                                             "hosts:", 1).replace("preloaded: [", "preloaded: [corp/web:latest, ", 1)
    path.write_text(text)
    result = simulate(load_scenario(path))
    [job] = result.jobs
    assert job.status == "completed", job.error
    recreated = [s.subject for s in result.spans_of("compose_object") if s.attrs.get("object") == "container"]
    assert recreated == ["p-web-1"]


def test_dependents_with_restart_true_are_stopped_before_the_dependency_is_recreated(tmp_path: Path) -> None:
    """db's environment changes: db is recreated; web (depends_on db, restart: true) is stopped first (its
    0.5 s to exit) and started again after db; api (depends_on db without restart) is left running."""
    compose = """
    name: p
    services:
      web: {image: nginx:1.25, depends_on: {db: {condition: service_started, restart: true}},
            x-dsim: {stop_time: 500ms}}
      api: {image: nginx:1.25, depends_on: [db]}
      db: {image: postgres:16, environment: {V: "VALUE"}}
    """
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "other.yaml").write_text(textwrap.dedent(compose).replace("VALUE", "2"))
    result = run(tmp_path, compose.replace("VALUE", "1"),
                 [UP, "compose: {file: app/other.yaml, action: up, project: p}"])
    [job] = result.jobs
    assert job.status == "completed", job.error
    [recreate] = [s for s in result.spans_of("compose_object") if s.attrs.get("object") == "container"]
    assert recreate.subject == "p-db-1"
    stops = {s.subject: s for s in spans(result, "stop")}
    assert set(stops) == {"p-web-1", "p-db-1"}
    assert stops["p-web-1"].end - stops["p-web-1"].start == pytest.approx(0.5)  # its exit (the API is free here)
    assert stops["p-web-1"].end <= stops["p-db-1"].start
    # both out of service from their stop to their start again: web, which compose stopped for db, and db
    downs = {s.subject: s for s in result.spans_of("downtime")}
    assert set(downs) == {"p-web-1", "p-db-1"}
    assert downs["p-web-1"].start == pytest.approx(stops["p-web-1"].start)
    assert downs["p-db-1"].start == pytest.approx(stops["p-db-1"].start)
    starts = [s.subject for s in spans(result, "start")]
    assert starts.count("p-web-1") == 2 and starts.count("p-api-1") == 1
    second = [s for s in spans(result, "start") if s.start >= recreate.start]
    assert [s.subject for s in second] == ["p-db-1", "p-web-1"]


@pytest.mark.parametrize(("recreate", "recreated"), [("always", ["p-db-1", "p-web-1"]), ("never", [])])
def test_force_recreate_and_no_recreate(tmp_path: Path, recreate: str, recreated: list[str]) -> None:
    """--force-recreate recreates every existing container, changed or not; --no-recreate none, even a changed
    one (web's image here)."""
    first = "compose: {file: app/compose.yaml, action: up, env: {TAG: '1.25'}}"
    second = f"compose: {{file: app/compose.yaml, action: up, env: {{TAG: latest}}, recreate: {recreate}}}"
    result = run(tmp_path, VERSIONED, [first, second], preloaded="nginx:1.25, nginx:latest, postgres:16")
    [job] = result.jobs
    assert job.status == "completed", job.error
    done = sorted(s.subject for s in result.spans_of("compose_object") if s.attrs.get("object") == "container")
    assert done == recreated


LIFECYCLE = """
name: p
services:
  web: {image: nginx:1.25, depends_on: {db: {condition: service_healthy, restart: true}},
        x-dsim: {stop_time: 200ms}}
  api: {image: nginx:1.25, depends_on: [db], x-dsim: {stop_time: 100ms}}
  db:
    image: postgres:16
    healthcheck: {test: ["CMD", "true"], interval: 1s}
    x-dsim: {stop_time: 300ms}
"""


def _step(action: str) -> str:
    return f"compose: {{file: app/compose.yaml, action: {action}}}"


def test_stop_goes_in_reverse_dependency_order_and_start_in_dependency_order(tmp_path: Path) -> None:
    """stop: web and api (nothing depends on them) together, then db once both are down; no container is removed.
    start: db, then api (started condition) and web, which waits for db's health again (its first probe 1 s
    after db's start, then compose's next 500 ms tick)."""
    result = run(tmp_path, LIFECYCLE, [UP, "sleep: 5s", _step("stop"), _step("start")])
    [job] = result.jobs
    assert job.status == "completed", job.error
    stops = {s.subject: s for s in spans(result, "stop")}
    assert {name: round(s.end - s.start, 9) for name, s in stops.items()} == {
        "p-web-1": 0.2, "p-api-1": 0.1, "p-db-1": 0.3}
    assert stops["p-web-1"].start == stops["p-api-1"].start
    assert stops["p-db-1"].start == pytest.approx(stops["p-web-1"].end)  # after the slower of the two
    assert spans(result, "rm") == [] and len(spans(result, "create")) == 3
    restarted = [s for s in spans(result, "start") if s.start >= stops["p-db-1"].end]
    assert [s.subject for s in restarted][0] == "p-db-1" and {s.subject for s in restarted} == {
        "p-db-1", "p-api-1", "p-web-1"}
    web = next(s for s in restarted if s.subject == "p-web-1")
    db = restarted[0]
    # db's first probe 1 s after its start ends at 1.1 s: healthy; web's wait began at db's start's end and sees
    # it at compose's 3rd tick (1.5 s)
    assert web.start == pytest.approx(db.end + 1.5)


def test_restart_follows_only_the_restart_true_dependencies(tmp_path: Path) -> None:
    """restart: web's dependency on db (restart: true) orders it after db, which it waits for healthy again; api
    (its dependency without restart) is restarted at once with db. Each restart: the stop, then the start."""
    result = run(tmp_path, LIFECYCLE, [UP, "sleep: 5s", _step("restart")])
    [job] = result.jobs
    assert job.status == "completed", job.error
    [up, restart] = [s for s in result.spans_of("compose")]
    assert restart.attrs["action"] == "restart"
    stops = {s.subject: s for s in spans(result, "stop")}
    assert stops["p-db-1"].start == pytest.approx(stops["p-api-1"].start) == pytest.approx(restart.start)
    # a restart is downtime from its call to the start's end: the stop, then a start of 504 ms whose netns step
    # queues 7 ms for the rtnl lock behind the exit's interface return (held from the teardown's 5 commits' end,
    # 10 ms after the exit, for 17 ms; the start asks 20 ms after it, once mounted)
    downs = {s.subject: s.end - s.start for s in result.spans_of("downtime")}
    assert set(downs) == {"p-db-1", "p-api-1", "p-web-1"}
    assert downs["p-api-1"] == pytest.approx(0.1 + 0.504 + (5 * 0.002 + 0.017 - 0.020))
    db_start = next(s for s in spans(result, "start") if s.subject == "p-db-1" and s.start > up.end)
    assert db_start.start == pytest.approx(stops["p-db-1"].end)
    assert stops["p-web-1"].start >= db_start.end + 1.0  # after db is healthy again (its probe 1 s after start)
    assert restart.end == pytest.approx(max(s.end for s in spans(result, "start")))


def test_start_without_containers_is_composes_error(tmp_path: Path) -> None:
    [job] = run(tmp_path, LIFECYCLE, [_step("start")]).jobs
    assert (job.status, job.error) == ("failed", "no containers to start")


def test_up_scale_creates_and_removes_replicas(tmp_path: Path) -> None:
    """up --scale web=3 then web=1: two more containers, then the two highest-numbered stopped and removed
    (compose's ensureService), web-1 left alone; a name the project lacks is compose's error."""
    compose = "name: p\nservices:\n  web: {image: nginx:1.25, x-dsim: {stop_time: 100ms}}\n"
    steps = ["compose: {file: app/compose.yaml, action: up, scale: {web: 3}}",
             "compose: {file: app/compose.yaml, action: up, scale: {web: 1}}"]
    result = run(tmp_path, compose, steps)
    [job] = result.jobs
    assert job.status == "completed", job.error
    assert [s.subject for s in spans(result, "create")] == ["p-web-1", "p-web-2", "p-web-3"]
    assert sorted(s.subject for s in spans(result, "rm")) == ["p-web-2", "p-web-3"]
    assert [s.end - s.start for s in spans(result, "stop")] == [pytest.approx(0.1)] * 2
    (tmp_path / "bad").mkdir()
    with pytest.raises(ScenarioError) as caught:
        load_scenario(write(tmp_path / "bad", compose, ["compose: {file: app/compose.yaml, scale: {db: 2}}"]))
    assert (caught.value.field, caught.value.message) == ("workloads.w.steps[0].compose.scale.db",
                                                          "no such service: db")
