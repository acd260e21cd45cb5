"""``extends`` (dsim/scenarios/compose_extends.py): a service merged over its base by compose-go's rules, a chain
of bases, compose-go's errors, and errors in inherited values placed where the base writes them."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from dsim.api import load_scenario
from dsim.domain.compose import ComposeStep
from dsim.errors import ScenarioError
from tests.compose.helpers import write

COMPOSE = """
    services:
      base:
        image: nginx:1.25
        environment: {A: "1", B: "1"}
        ports: ["8080:80"]
        healthcheck: {test: ["CMD", "true"], interval: 2s, retries: 5}
        x-dsim: {stop_time: 2s}
      web:
        extends: base
        environment: [B=2, C=3]
        ports: ["8080:80", "9090:90"]
        healthcheck: {test: ["CMD", "false"]}
        depends_on: [db]
      worker:
        extends: {service: web}
        image: redis:7.4
        depends_on: {cache: {condition: service_started}}
      db: {image: postgres:16}
      cache: {image: redis:7.4}
"""


def _project(tmp_path: Path, compose: str = COMPOSE) -> ComposeStep:
    step = load_scenario(write(tmp_path, textwrap.dedent(compose))).workloads["w"].steps[0]
    assert isinstance(step, ComposeStep)
    return step


def test_a_service_is_merged_over_its_base(tmp_path: Path) -> None:
    project = _project(tmp_path).project
    web = project.service("web").container
    assert web.image == "nginx:1.25"  # inherited
    # environment merged by name, the service's value winning: A from the base, B and C its own
    assert dict(web.settings)["environment"] == '{"A": "1", "B": "2", "C": "3"}'
    assert web.ports == ("8080:80", "9090:90")  # appended, the repeated one kept once
    assert web.healthcheck is not None
    assert (web.healthcheck.interval, web.healthcheck.retries) == (2.0, 5)  # healthcheck merged key by key
    assert web.stop_time.mean == 2.0  # x-dsim inherited too


def test_a_chain_of_bases_and_depends_on_merged_as_mappings(tmp_path: Path) -> None:
    project = _project(tmp_path).project
    worker = project.service("worker")
    assert worker.container.image == "redis:7.4"  # its own
    assert worker.container.ports == ("8080:80", "9090:90")  # through web, from base
    assert sorted(d.service for d in worker.depends_on) == ["cache", "db"]


@pytest.mark.parametrize(("compose", "message", "field"), [
    ("services:\n  a: {image: nginx:1.25, extends: b}\n  b: {image: nginx:1.25, extends: a}\n",
     "Circular reference: a in {f}, extends b in {f}, extends a in {f}", "services.a.extends"),
    ("services:\n  a: {image: nginx:1.25, extends: nowhere}\n",
     'cannot extend service "a" in {f}: service "nowhere" not found', "services.a.extends"),
    ("services:\n  a: {extends: {file: base.yaml, service: b}}\n",
     "dsim reads one compose file per step: extends.file is not modelled (extend a service of this file)",
     "services.a.extends.file"),
])
def test_composes_errors(tmp_path: Path, compose: str, message: str, field: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(write(tmp_path, compose))
    shown = caught.value.file or ""
    assert caught.value.message == message.format(f=shown) and caught.value.field == field


def test_an_error_in_an_inherited_value_points_at_the_base(tmp_path: Path) -> None:
    compose = """
        services:
          base:
            image: nginx:1.25
            container_name: shared
          web:
            extends: base
            deploy: {replicas: 2}
    """
    with pytest.raises(ScenarioError) as caught:
        load_scenario(write(tmp_path, textwrap.dedent(compose)))
    # web's container_name is its base's, with two replicas compose's error: at line 5, where base writes it
    assert (caught.value.field, caught.value.line) == ("services.web.container_name", 5)
