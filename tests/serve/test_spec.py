"""Every JSON answer of ``dsim serve`` against the Engine API 1.50 spec, whole shapes at once (spec.py):
system (ping is text; version, info), images (list, inspect, tag, delete), containers (create, list,
inspect, wait, top, stats, logs' errors, changes of state), exec and events, and the error body."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.serve import spec
from tests.serve.spec import check, get


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    spec.spec()  # skips the module without the spec file
    from dsim.serve.server import Server, serve_scenario

    server = Server(serve_scenario(None), port=0, speed=200.0)
    server.start()
    base = server.address.replace("tcp://", "http://") + "/v1.50"
    status, lines = get(base, "/images/create?fromImage=alpine&tag=latest", "POST")
    assert status == 200
    for line in lines:
        spec.check_definition("CreateImageInfo", line)
    yield base
    server.stop()


def _create(url: str, body: dict[str, Any], name: str) -> str:
    status, created = get(url, f"/containers/create?name={name}", "POST", body)
    assert status == 201, created
    check("POST", "/containers/create", 201, created)
    return str(created["Id"])


def test_system(url: str) -> None:
    with urllib.request.urlopen(url.removesuffix("/v1.50") + "/_ping", timeout=30) as response:
        assert response.headers["Api-Version"] == "1.50"
        check("GET", "/_ping", 200, response.read().decode())
    for path in ("/version", "/info"):
        status, body = get(url, path)
        assert status == 200
        check("GET", path, 200, body)


def test_images(url: str) -> None:
    status, listed = get(url, "/images/json")
    check("GET", "/images/json", 200, listed)
    status, image = get(url, "/images/alpine/json")
    check("GET", "/images/{name}/json", 200, image)
    assert get(url, "/images/alpine/tag?repo=spec&tag=1", "POST")[0] == 201
    status, deleted = get(url, "/images/spec:1", "DELETE")
    assert status == 200
    check("DELETE", "/images/{name}", 200, deleted)


def test_containers_in_every_state(url: str) -> None:
    ident = _create(url, {"Image": "alpine", "Cmd": ["sleep", "100"], "Labels": {"a": "b"},
                          "HostConfig": {"PortBindings": {"80/tcp": [{"HostPort": "0"}]}}}, "spec-sleep")
    for state in ("created", "running", "exited"):
        if state == "running":
            assert get(url, f"/containers/{ident}/start", "POST")[0] == 204
        if state == "exited":
            assert get(url, f"/containers/{ident}/stop?t=0", "POST")[0] == 204
        status, inspected = get(url, f"/containers/{ident}/json")
        assert status == 200 and inspected["State"]["Status"] == state
        check("GET", "/containers/{id}/json", 200, inspected)
        status, listed = get(url, "/containers/json?all=1")
        check("GET", "/containers/json", 200, listed)


def test_wait_and_errors(url: str) -> None:
    ident = _create(url, {"Image": "alpine", "Cmd": ["sh", "-c", "exit 3"]}, "spec-exit")
    assert get(url, f"/containers/{ident}/start", "POST")[0] == 204
    status, waited = get(url, f"/containers/{ident}/wait", "POST")
    assert waited == {"StatusCode": 3, "Error": None} or waited["StatusCode"] == 3
    check("POST", "/containers/{id}/wait", 200, waited)
    status, error = get(url, "/containers/nope/json")
    assert status == 404
    check("GET", "/containers/{id}/json", 404, error)


def test_top_and_stats(url: str) -> None:
    ident = _create(url, {"Image": "alpine", "Cmd": ["sleep", "1000"]}, "spec-top")
    assert get(url, f"/containers/{ident}/start", "POST")[0] == 204
    status, top = get(url, f"/containers/{ident}/top")
    assert status == 200
    check("GET", "/containers/{id}/top", 200, top)
    status, stats = get(url, f"/containers/{ident}/stats?stream=0")
    assert status == 200
    check("GET", "/containers/{id}/stats", 200, stats)


def test_exec(url: str) -> None:
    ident = _create(url, {"Image": "alpine", "Cmd": ["sleep", "1000"]}, "spec-exec")
    assert get(url, f"/containers/{ident}/start", "POST")[0] == 204
    status, made = get(url, f"/containers/{ident}/exec", "POST", {"Cmd": ["sh", "-c", "exit 2"]})
    assert status == 201
    check("POST", "/containers/{id}/exec", 201, made)
    request = urllib.request.Request(f"{url}/exec/{made['Id']}/start", method="POST",
                                     data=json.dumps({"Detach": False}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()
    deadline = time.monotonic() + 10
    while True:
        status, inspected = get(url, f"/exec/{made['Id']}/json")
        if not inspected["Running"] or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    check("GET", "/exec/{id}/json", 200, inspected)
    assert inspected["ExitCode"] == 2


def test_events(url: str) -> None:
    until = int(time.time()) + 1  # timestamps are on the wall clock (views.ApiViews.epoch)
    request = urllib.request.Request(f"{url}/events?since=0&until={until}")
    with urllib.request.urlopen(request, timeout=30) as response:
        lines = [json.loads(line) for line in response.read().splitlines() if line.strip()]
    assert lines
    for line in lines:
        spec.check_definition("EventMessage", line)


def test_build_stream_lines(url: str) -> None:
    """Each line of a legacy build's stream is a BuildInfo."""
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        data = b"FROM alpine\nRUN echo hi\n"
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    request = urllib.request.Request(f"{url}/build?t=spec-build:1", data=buffer.getvalue(), method="POST",
                                     headers={"Content-Type": "application/x-tar"})
    with urllib.request.urlopen(request, timeout=60) as response:
        lines = [json.loads(line) for line in response.read().splitlines() if line.strip()]
    assert any("Successfully built" in line.get("stream", "") for line in lines)
    for line in lines:
        spec.check_definition("BuildInfo", line)


def test_networks_volumes_and_disk_usage(url: str) -> None:
    """The objects' endpoints (serve/objects.py) and the image side's df and history, whole shapes."""
    status, created = get(url, "/networks/create", "POST", {"Name": "spec-net"})
    assert status == 201, created
    check("POST", "/networks/create", 201, created)
    status, listed = get(url, "/networks")
    check("GET", "/networks", 200, listed)
    status, one = get(url, "/networks/spec-net")
    check("GET", "/networks/{id}", 200, one)
    status, volume = get(url, "/volumes/create", "POST", {"Name": "spec-vol"})
    assert status == 201, volume
    check("POST", "/volumes/create", 201, volume)
    status, volumes = get(url, "/volumes")
    check("GET", "/volumes", 200, volumes)
    status, inspected = get(url, "/volumes/spec-vol")
    check("GET", "/volumes/{name}", 200, inspected)
    status, df = get(url, "/system/df")
    assert status == 200 and any(v["Name"] == "spec-vol" for v in df["Volumes"])
    check("GET", "/system/df", 200, df)
    status, history = get(url, "/images/alpine/history")
    # a <missing> row's Tags is null, a nil slice (moby daemon/images/image_history.go fills the first row's
    # only), which the spec's inline schema does not say: the rest of the shape is checked
    assert len(history) > 1 and all(row["Tags"] is None for row in history[1:])
    check("GET", "/images/{name}/history", 200, [row | {"Tags": row["Tags"] or []} for row in history])
    assert get(url, "/volumes/spec-vol", "DELETE")[0] == 204
    assert get(url, "/networks/spec-net", "DELETE")[0] == 204
