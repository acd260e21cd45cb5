"""Request bodies with wrong types never reach the model: every one is a 201 (a body dockerd accepts too) or
dockerd's 400, never a 500, and the container list stays readable for everyone (dsim/serve/bodies.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from dsim.components.errors import ApiError
from dsim.serve.bodies import ContainerCreate, ExecCreate, parse
from tests.serve.spec import get

#: values of every JSON type, one of which is wrong for each field
WRONG: list[Any] = [5, -1, 1.5, "x", "", True, None, [], [5], {}, {"a": 5}]
FIELDS = ["Image", "Cmd", "Entrypoint", "Env", "Labels", "ExposedPorts", "Tty", "OpenStdin", "WorkingDir", "User",
          "HostConfig"]
HOST_FIELDS = ["PortBindings", "PublishAllPorts", "RestartPolicy", "AutoRemove", "NanoCpus", "Memory", "Binds"]


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    from dsim.serve.server import Server, serve_scenario

    server = Server(serve_scenario(None), port=0, speed=200.0)
    server.start()
    base = server.address.replace("tcp://", "http://") + "/v1.50"
    assert get(base, "/images/create?fromImage=alpine&tag=latest", "POST")[0] == 200
    yield base
    server.stop()


def test_go_decoder_messages() -> None:
    with pytest.raises(ApiError) as raised:
        parse(ContainerCreate, {"Image": "alpine", "Cmd": 5}, "ContainerConfigWrapper")
    assert (raised.value.status, str(raised.value)) == (
        400, "json: cannot unmarshal number into Go struct field ContainerConfigWrapper.Cmd of type string")
    with pytest.raises(ApiError) as raised:
        parse(ContainerCreate, {"Image": "nginx", "HostConfig": {"PortBindings": {"80/tcp": [{"HostPort": "99999"}]}}},
              "ContainerConfigWrapper")
    assert str(raised.value) == 'invalid port specification: "99999"'
    with pytest.raises(ApiError):
        parse(ExecCreate, {"Cmd": "echo hi"}, "ExecConfig")  # exec's Cmd is a list, never a string
    # a string Cmd is a StrSlice of one word, as dockerd reads it
    assert parse(ContainerCreate, {"Image": "alpine", "Cmd": "true"}, "ContainerConfigWrapper").Cmd == "true"


@pytest.mark.parametrize("field", FIELDS + [f"HostConfig.{name}" for name in HOST_FIELDS])
def test_wrong_types_are_400_never_500(url: str, field: str) -> None:
    for value in WRONG:
        body: dict[str, Any] = {"Image": "alpine", "Cmd": ["true"]}
        if field.startswith("HostConfig."):
            body["HostConfig"] = {field.split(".", 1)[1]: value}
        else:
            body[field] = value
        status, answer = get(url, "/containers/create", "POST", body)
        assert status in (201, 400, 404), (field, value, status, answer)  # 404: an Image of "" or "x"
        if status == 201:
            assert get(url, f"/containers/{answer['Id']}", "DELETE")[0] == 204
    status, listed = get(url, "/containers/json?all=1")
    assert status == 200 and isinstance(listed, list)
