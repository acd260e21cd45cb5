"""docker compose down: containers stopped and removed in reverse dependency order, then the project's
networks; named volumes only with -v (components/compose.py; docs/compose.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.compose.helpers import run, spans

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
