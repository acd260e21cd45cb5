"""``docker diff`` over HTTP with file paths: labels declare a run's files (``dsim.writes=PATH=SIZE,...``),
``GET /containers/{id}/changes`` lists them as overlay2's native diff does (dsim/domain/layer_files.py): the
copied-up file alone, each added file with its parent directory, sorted by path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dsim.serve.server import Server, serve_scenario
from tests.serve import spec
from tests.serve.test_compose_api import SCENARIO, SLEEP, _create, _until


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    path: Path = tmp_path_factory.mktemp("changes") / "scenario.yaml"
    path.write_text(SCENARIO)
    server = Server(serve_scenario(path), port=0, speed=100.0)
    server.start()
    base = server.address.replace("tcp://", "http://") + "/v1.50"
    try:
        _create(base, "web", {"Image": "alpine:3.24", "Cmd": SLEEP,
                              "Labels": {"dsim.writes": "/run/app.pid=10B,/var/log/app/out.log=1MB",
                                         "dsim.copy_up": "/etc/app.conf=2KB"}}, start=True)
        yield base
    finally:
        server.stop()


def test_changes_list_the_declared_files_with_their_directories(url: str) -> None:
    changes = _until(lambda: spec.get(url, "/containers/web/changes")[1])
    assert changes == [{"Path": "/etc/app.conf", "Kind": 0},
                       {"Path": "/run", "Kind": 0}, {"Path": "/run/app.pid", "Kind": 1},
                       {"Path": "/var/log/app", "Kind": 0}, {"Path": "/var/log/app/out.log", "Kind": 1}]


def test_a_bad_path_label_is_a_400(url: str) -> None:
    status, body = spec.get(url, "/containers/create?name=bad", "POST",
                            {"Image": "alpine:3.24", "Cmd": SLEEP, "Labels": {"dsim.writes": "/a=1MB,/a/b=1MB"}})
    assert status == 400
    assert "'/a/b' is inside '/a'" in body["message"]
