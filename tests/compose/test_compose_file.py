"""Reading compose files: the Compose Specification's schema, the keys dsim models, one-line errors that
point into the compose file (dsim/scenarios/compose_file.py), exit 2 from the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from dsim.api import load_scenario
from dsim.cli import app
from dsim.domain.compose import COMPLETED, HEALTHY, STARTED, ComposeStep, Dependency
from dsim.errors import ScenarioError
from tests.compose.helpers import write

runner = CliRunner()


def _error(tmp_path: Path, compose: str) -> ScenarioError:
    path = write(tmp_path, compose)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    return caught.value


def _project(tmp_path: Path, compose: str) -> ComposeStep:
    step = load_scenario(write(tmp_path, compose)).workloads["w"].steps[0]
    assert isinstance(step, ComposeStep)
    return step


def test_short_and_long_depends_on_and_the_defaults(tmp_path: Path) -> None:
    step = _project(tmp_path, """
        services:
          web:
            image: nginx:1.25
            depends_on: [api]
            ports: ["8080:80", 443, {target: 53, published: 5353, protocol: udp}]
          api:
            image: redis:7.4
            depends_on:
              db: {condition: service_healthy}
              init: {condition: service_completed_successfully, required: false}
          db:
            image: postgres:16
            healthcheck: {test: "pg_isready"}
            restart: no
          init: {image: postgres:16}
    """)
    project = step.project
    assert project.name == "app"  # the compose file's folder
    assert [s.name for s in project.services] == ["db", "init", "api", "web"]
    assert project.service("web").depends_on == (Dependency("api", STARTED),)
    assert project.service("api").depends_on == (Dependency("db", HEALTHY), Dependency("init", COMPLETED, False))
    assert project.service("web").container.ports == ("8080:80", "443", "5353:53/udp")
    db = project.service("db")
    # Docker's defaults (docs.docker.com/reference/dockerfile/#healthcheck): interval 30 s, retries 3, start
    # period 0; start interval 5 s (Engine 25+); `restart: no` unquoted (YAML 1.1 false) is the policy "no"
    check = db.container.healthcheck
    assert check is not None and (check.interval, check.retries, check.start_period, check.start_interval) == (
        30.0, 3, 0.0, 5.0)
    assert db.container.restart == "no"
    assert db.container.until_stopped
    assert db.container_names("app") == ("app-db-1",)
    assert [n.decl.name for n in project.networks] == ["app_default"]


def test_an_unmodelled_key_is_reported_where_it_is_written(tmp_path: Path) -> None:
    err = _error(tmp_path, """
        services:
          web:
            image: nginx:1.25
            privileged: true
    """)
    assert err.file is not None and err.file.endswith("app/compose.yaml")
    assert (err.line, err.column, err.field) == (5, 5, "services.web.privileged")
    assert "dsim does not model the Compose key 'privileged'" in err.message


def test_extension_keys_are_free(tmp_path: Path) -> None:
    step = _project(tmp_path, """
        x-common: {anything: [1, 2]}
        services:
          web: {image: nginx:1.25, x-note: hello}
    """)
    assert [s.name for s in step.project.services] == ["web"]


def test_a_value_the_specification_refuses(tmp_path: Path) -> None:
    err = _error(tmp_path, """
        services:
          web:
            image: nginx:1.25
            depends_on:
              db: {condition: service_ready}
          db: {image: postgres:16}
    """)
    assert (err.line, err.field) == (6, "services.web.depends_on.db.condition")
    assert "service_ready" in err.message


def test_a_key_the_specification_does_not_know(tmp_path: Path) -> None:
    err = _error(tmp_path, """
        services:
          web: {imag: nginx:1.25}
    """)
    assert (err.line, err.column, err.field) == (3, 9, "services.web.imag")
    assert err.message == "unknown key 'imag' in the Compose Specification (did you mean 'image'?)"


@pytest.mark.parametrize(("compose", "message"), [
    ("services:\n  web: {image: nginx:1.25, depends_on: [db]}\n",
     'service "web" depends on undefined service "db": invalid compose project'),
    ("services:\n  a: {image: nginx:1.25, depends_on: [b]}\n  b: {image: nginx:1.25, depends_on: [a]}\n",
     "dependency cycle detected: a -> b -> a"),
    ("services:\n  db: {image: postgres:16, volumes: ['data:/d']}\n",
     'service "db" refers to undefined volume data: invalid compose project'),
    ("services:\n  web: {image: nginx:1.25, networks: [front]}\n",
     'service "web" refers to undefined network front: invalid compose project'),
    ("services:\n  web: {build: {context: ., no_cache: true}}\n", "dsim does not model the Compose key 'no_cache'"),
])
def test_compose_rules(tmp_path: Path, compose: str, message: str) -> None:
    assert message in _error(tmp_path, compose).message


def test_cli_prints_one_line_and_exits_2(tmp_path: Path) -> None:
    path = write(tmp_path, "services:\n  web:\n    image: nginx:1.25\n    cap_add: [NET_ADMIN]\n")
    result = runner.invoke(app, ["run", str(path), "--quiet", "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    shown = tmp_path / "app" / "compose.yaml"
    assert result.stderr.strip() == (f"dsim: error: {shown}:4:5: services.web.cap_add: dsim does not model the "
                                     "Compose key 'cap_add' (docs/compose.md lists what it models; x- keys are free)")


def test_a_missing_compose_file_names_the_step(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    from tests.compose.helpers import scenario_text

    path.write_text(scenario_text(["compose: {file: nowhere/compose.yaml}"]))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert caught.value.field == "workloads.w.steps[0].compose.file"
    assert "no such compose file" in caught.value.message


PROFILED = """
    services:
      web: {image: nginx:1.25, depends_on: {cache: {condition: service_started, required: false}}}
      cache: {image: redis:7.4, profiles: [perf]}
      debug: {image: nginx:1.25, profiles: [debug, tools]}
"""


@pytest.mark.parametrize(("profiles", "services"), [
    ("[]", ["web"]), ("[perf]", ["web", "cache"]), ("[tools]", ["web", "debug"]), ("['*']", ["web", "cache", "debug"]),
])
def test_profiles_enable_their_services(tmp_path: Path, profiles: str, services: list[str]) -> None:
    path = write(tmp_path, PROFILED, [f"compose: {{file: app/compose.yaml, action: up, profiles: {profiles}}}"])
    step = load_scenario(path).workloads["w"].steps[0]
    assert isinstance(step, ComposeStep)
    assert sorted(s.name for s in step.project.services) == sorted(services)
    web = step.project.service("web")
    # web's optional dependency on a disabled cache is dropped (compose-go's graph)
    assert [d.service for d in web.depends_on] == (["cache"] if "cache" in services else [])


def test_a_required_dependency_on_a_disabled_service_is_composes_error(tmp_path: Path) -> None:
    err = _error(tmp_path, PROFILED.replace("required: false", "required: true"))
    assert (err.line, err.field) == (3, "services.web.depends_on")
    assert err.message == 'service "cache" is required by "web" but is disabled. Can be enabled by profiles [perf]'
