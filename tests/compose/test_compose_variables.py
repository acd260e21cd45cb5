"""``${VAR}`` in compose files (dsim/scenarios/compose_env.py): Compose's substitution rules
(https://docs.docker.com/reference/compose-file/interpolation/), the step's ``env`` over the project's ``.env``,
Compose's casts, and one-line errors at the value."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from dsim.api import load_scenario
from dsim.cli import app
from dsim.domain.compose import ComposeStep
from dsim.errors import ScenarioError
from dsim.scenarios.compose_env import InterpolationError, substitute
from tests.compose.helpers import write

VALUES = {"SET": "v", "EMPTY": ""}


def lookup(name: str) -> str | None:
    return VALUES.get(name)


@pytest.mark.parametrize(("template", "expected"), [
    ("plain", "plain"),
    ("$SET and ${SET}", "v and v"),
    ("${SET:-d} ${EMPTY:-d} ${UNSET:-d}", "v d d"),
    ("${SET-d} ${EMPTY-d} ${UNSET-d}", "v  d"),
    ("${SET:+r} ${EMPTY:+r} ${UNSET:+r}", "r  "),
    ("${SET+r} ${EMPTY+r} ${UNSET+r}", "r r "),
    ("${SET:?m} ${EMPTY?m}", "v "),
    ("${UNSET:-${SET}} ${UNSET:-a-${SET:-x}-b}", "v a-v-b"),
    ("$$SET $${SET} cost: 5$ $1", "$SET ${SET} cost: 5$ $1"),
    ("${UNSET:-a:-b}", "a:-b"),  # the first operator written applies; the rest is the word
])
def test_compose_substitution_rules(template: str, expected: str) -> None:
    assert substitute(template, lookup) == expected


@pytest.mark.parametrize(("template", "message"), [
    ("${UNSET:?give it}", "required variable UNSET is missing a value: give it"),
    ("${EMPTY:?}", "required variable EMPTY is missing a value"),
    ("${UNSET?no ${SET}}", "required variable UNSET is missing a value: no v"),
    ("${SET", "invalid interpolation format '${SET': you may need to escape any $ with another $"),
    ("${1X}", "invalid interpolation format '${1X}'"),
    ("${}", "invalid interpolation format '${}'"),
    ("$UNSET", "variable UNSET is not set (Compose would substitute a blank string and warn)"),
])
def test_what_compose_refuses(template: str, message: str) -> None:
    with pytest.raises(InterpolationError) as caught:
        substitute(template, lookup)
    assert str(caught.value).startswith(message)


COMPOSE = """
    name: ${PROJECT:-shop}
    services:
      web:
        image: nginx:${TAG}
        ports: ["${PORT:-8080}:80"]
        deploy: {replicas: "${REPLICAS:-1}"}
      db:
        image: ${DB_IMAGE:?set DB_IMAGE}
        healthcheck: {test: ["CMD", "true"], retries: "${RETRIES}"}
"""


def _step(tmp_path: Path, env: str = "", dotenv: str | None = None) -> ComposeStep:
    path = write(tmp_path, COMPOSE, [f"compose: {{file: app/compose.yaml, action: up{env}}}"])
    if dotenv is not None:
        (tmp_path / "app" / ".env").write_text(dotenv)
    step = load_scenario(path).workloads["w"].steps[0]
    assert isinstance(step, ComposeStep)
    return step


def test_the_steps_env_over_the_projects_dotenv_and_the_casts(tmp_path: Path) -> None:
    dotenv = ("# the project's defaults\nTAG=1.24\nexport DB_IMAGE='postgres:16'  \nRETRIES=5 # inline comment\n"
              'REPLICAS="2"\nPORT\n')
    step = _step(tmp_path, ", env: {TAG: '1.25'}", dotenv)
    project = step.project
    web, db = (next(s for s in project.services if s.name == name) for name in ("web", "db"))
    assert project.name == "shop"
    assert web.container.image == "nginx:1.25"  # the step's value, not the .env's 1.24
    assert web.container.ports == ("8080:80",)  # PORT alone in .env takes the step's value: none, so unset
    assert web.replicas == 2  # "2" from .env, cast as compose casts deploy.replicas
    assert db.container.image == "postgres:16"
    assert db.container.healthcheck is not None and db.container.healthcheck.retries == 5


def test_dotenv_expands_its_own_keys_and_double_quoted_escapes(tmp_path: Path) -> None:
    dotenv = 'BASE=nginx\nTAG="${V:-1.2}\\x"\nDB_IMAGE=${BASE}\nRETRIES=\'3\'\n'
    step = _step(tmp_path, ", env: {V: '1.25'}", dotenv.replace("\\x", ""))
    web, db = (next(s for s in step.project.services if s.name == name) for name in ("web", "db"))
    assert web.container.image == "nginx:1.25" and db.container.image == "nginx:latest"


def test_an_unset_variable_is_an_error_at_its_value(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as caught:
        _step(tmp_path, ", env: {DB_IMAGE: 'postgres:16', RETRIES: '3'}")
    err = caught.value
    assert err.file is not None and err.file.endswith("app/compose.yaml")
    assert (err.line, err.column, err.field) == (5, 12, "services.web.image")
    assert err.message.startswith("variable TAG is not set")


def test_required_and_cast_errors_in_composes_words(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as caught:
        _step(tmp_path, ", env: {TAG: '1', RETRIES: '3'}")
    assert (caught.value.field, caught.value.message) == (
        "services.db.image", "required variable DB_IMAGE is missing a value: set DB_IMAGE")
    with pytest.raises(ScenarioError) as cast:
        _step(tmp_path, ", env: {TAG: '1', RETRIES: three, DB_IMAGE: postgres:16}")
    assert (cast.value.field, cast.value.message) == (
        "services.db.healthcheck.retries", "failed to cast to expected type: 'three' is not an integer")


def test_a_bad_dotenv_line_names_the_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as caught:
        _step(tmp_path, "", "TAG=1\nBAD KEY=2\n")
    err = caught.value
    assert err.file is not None and err.file.endswith("app/.env")
    assert err.line == 2 and err.message == "unexpected character ' ' in variable name 'BAD KEY=2'"


def test_the_cli_says_it_in_one_line_and_exits_2(tmp_path: Path) -> None:
    path = write(tmp_path, COMPOSE, ["compose: {file: app/compose.yaml, action: up, env: {TAG: '1'}}"])
    result = CliRunner().invoke(app, ["run", str(path), "--quiet", "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert result.stderr.strip() == (f"dsim: error: {tmp_path / 'app' / 'compose.yaml'}:9:12: services.db.image: "
                                     "required variable DB_IMAGE is missing a value: set DB_IMAGE")
