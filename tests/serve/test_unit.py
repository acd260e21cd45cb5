"""``dsim serve`` pieces without the docker CLI: the real-time clock, Docker's formatting rules, the build
context reader's safety, and HTTP behaviour (negotiation, limits, errors, /wait) on an in-process server.
"""

from __future__ import annotations

import http.client
import io
import json
import socket
import tarfile
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
import simpy

from dsim.components.errors import ApiError
from dsim.serve.build import read_context
from dsim.serve.clock import SimLoop
from dsim.serve.engine import human_duration
from dsim.serve.images import catalog_image
from dsim.serve.progress import human_size, progress_bar
from dsim.serve.server import Server, is_loopback, serve_scenario
from tests.serve.test_docker_cli import SCENARIO

# ---------------------------------------------------------------------------------------------- the clock


def test_simulated_time_runs_speed_times_faster_than_the_wall_clock() -> None:
    """A 4 s timeout at speed 20 ends 4/20 = 0.2 s of wall time after the loop starts (never earlier; the
    upper bound only allows for a loaded machine)."""
    env = simpy.Environment()
    seen: list[tuple[float, float]] = []

    def sleeper() -> Generator[Any, Any, None]:
        yield env.timeout(4.0)
        seen.append((env.now, time.monotonic()))

    env.process(sleeper())
    loop = SimLoop(env, speed=20.0)
    began = time.monotonic()
    loop.start()
    try:
        deadline = began + 5
        while not seen and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        end = loop.stop()
    assert seen, "the timeout never fired"
    sim_at, wall_at = seen[0]
    assert sim_at == 4.0
    assert 0.2 * 0.95 <= wall_at - began < 0.2 + 1.0
    assert end >= 4.0  # the clock was advanced to the moment of the stop


def test_an_operation_starts_at_the_simulated_time_of_its_request() -> None:
    """Submitted 0.3 s of wall time after the start at speed 10, an operation begins at about 3 simulated
    seconds (the loop had no event to wake it: it must still place the request in time)."""
    env = simpy.Environment()
    loop = SimLoop(env, speed=10.0)
    loop.start()
    try:
        time.sleep(0.3)

        def op() -> Generator[Any, Any, float]:
            yield env.timeout(1.0)
            return env.now

        finished = loop.start_process(op).result(timeout=5)
    finally:
        loop.stop()
    assert 3.0 * 0.95 + 1.0 <= finished < 3.0 + 1.0 + 5.0


def test_a_failing_operation_hands_its_error_to_the_caller() -> None:
    env = simpy.Environment()
    loop = SimLoop(env, speed=100.0)
    loop.start()
    try:
        def op() -> Generator[Any, Any, None]:
            yield env.timeout(1.0)
            raise ApiError(409, "conflict")

        with pytest.raises(ApiError, match="conflict"):
            loop.start_process(op).result(timeout=5)
        assert loop.call(lambda: 41 + 1) == 42  # and the loop goes on
    finally:
        loop.stop()


# ---------------------------------------------------------------------------------------------- formatting

@pytest.mark.parametrize(("seconds", "text"), [
    # go-units HumanDuration, case by case from its source
    (0.4, "Less than a second"), (1, "1 second"), (2, "2 seconds"), (59.9, "59 seconds"),
    (60, "About a minute"), (119, "About a minute"), (120, "2 minutes"), (3599, "59 minutes"),
    (3600, "About an hour"), (5399, "About an hour"), (5400, "2 hours"), (47 * 3600, "47 hours"),
    (48 * 3600, "2 days"), (14 * 86400, "2 weeks"), (60 * 86400, "2 months"), (730 * 86400, "2 years"),
])
def test_human_duration_is_go_units(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


@pytest.mark.parametrize(("size", "text"), [
    # go-units HumanSize: decimal units, %.4g
    (0, "0B"), (999, "999B"), (1000, "1kB"), (31_400_000, "31.4MB"), (5_243_000, "5.243MB"),
    (10_490_000, "10.49MB"), (1.5e9, "1.5GB"),
])
def test_human_size_is_go_units(size: float, text: str) -> None:
    assert human_size(size) == text


def test_progress_bar_is_jsonmessage_shape() -> None:
    # jsonmessage: percentage = int(50%*100)/2 = 25 '=', '>', 50-25 spaces, "] ", then "%8v" of "5MB"
    assert progress_bar(5_000_000, 10_000_000) == "[" + "=" * 25 + ">" + " " * 25 + "] " + "     5MB" + "/10MB"
    assert progress_bar(10_000_000, 10_000_000) == "[" + "=" * 50 + ">] " + "    10MB" + "/10MB"


# ---------------------------------------------------------------------------------------------- contexts

def _tar(members: list[tarfile.TarInfo | tuple[str, bytes]], mode: str = "w") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as tar:  # type: ignore[call-overload]
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                tar.addfile(member)
            else:
                info = tarfile.TarInfo(member[0])
                info.size = len(member[1])
                tar.addfile(info, io.BytesIO(member[1]))
    return buffer.getvalue()


def test_context_is_read_in_memory_and_paths_are_cleaned() -> None:
    link = tarfile.TarInfo("etc-link")
    link.type = tarfile.SYMTYPE
    link.linkname = "/etc/passwd"
    data = _tar([("Dockerfile", b"FROM alpine\n"), ("../../escape.txt", b"abc"), ("/abs/x", b"12345"), link,
                 (".dockerignore", b"*.log\n")])
    context = read_context(data)
    assert context.dockerfile == "FROM alpine\n"
    assert context.files == {"Dockerfile": 12, "escape.txt": 3, "abs/x": 5, ".dockerignore": 6}
    assert context.dockerignore == ["*.log"]
    assert not Path("escape.txt").exists()


def test_context_compressed_and_custom_dockerfile() -> None:
    data = _tar([("build/app.Dockerfile", b"FROM nginx\n")], mode="w:gz")
    assert read_context(data, "build/app.Dockerfile").dockerfile == "FROM nginx\n"
    with pytest.raises(ApiError, match="Cannot locate specified Dockerfile: Dockerfile"):
        read_context(data)
    with pytest.raises(ApiError) as raised:
        read_context(b"not a tar at all")
    assert raised.value.status == 400


def test_loopback_detection() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert is_loopback("127.8.0.1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.10")


# ---------------------------------------------------------------------------------------------- HTTP

@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    path = tmp_path_factory.mktemp("unit") / "scenario.yaml"
    path.write_text(SCENARIO)
    server = Server(serve_scenario(path), port=0, speed=50.0, max_context=4096)
    server.start()
    yield server
    server.stop()


def request(server: Server, method: str, path: str, body: bytes | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    host, port = server.address.removeprefix("tcp://").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, dict(response.getheaders()), data


def test_ping_answers_head_and_get_with_the_headers_the_cli_reads(served: Server) -> None:
    for method in ("HEAD", "GET"):
        status, headers, body = request(served, method, "/_ping")
        assert status == 200
        assert headers["Api-Version"] == "1.50"
        assert headers["Ostype"] == "linux"
        assert headers["Builder-Version"] == "1"
        assert body == (b"OK" if method == "GET" else b"")


def test_version_unversioned_and_any_supported_prefix(served: Server) -> None:
    for path in ("/version", "/v1.50/version", "/v1.41/version", "/v1.24/version"):
        status, _, body = request(served, "GET", path)
        assert status == 200, path
        assert json.loads(body)["ApiVersion"] == "1.50"


def test_versions_out_of_range_are_refused_as_dockerd_does(served: Server) -> None:
    status, _, body = request(served, "GET", "/v1.99/version")
    assert status == 400
    assert json.loads(body)["message"] == "client version 1.99 is too new. Maximum supported API version is 1.50"
    status, _, body = request(served, "GET", "/v1.12/info")
    assert status == 400
    assert json.loads(body)["message"].startswith("client version 1.12 is too old. Minimum supported API version "
                                                  "is 1.24")


def test_unknown_paths_and_unsimulated_endpoints(served: Server) -> None:
    status, _, body = request(served, "GET", "/v1.50/nope")
    assert (status, json.loads(body)) == (404, {"message": "page not found"})
    status, _, body = request(served, "GET", "/v1.50/containers/abc/export")
    assert status == 501
    assert json.loads(body)["message"] == "dsim serve does not simulate GET /containers/abc/export"
    status, _, body = request(served, "POST", "/v1.50/containers/abc/exec", b'{"Cmd": ["true"]}',
                              {"Content-Type": "application/json"})
    assert (status, json.loads(body)) == (404, {"message": "No such container: abc"})


def _raw(server: Server, data: bytes) -> bytes:
    """Send ``data`` as is and read the answer until the server closes the connection."""
    host, port = server.address.removeprefix("tcp://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(data)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_bodies_over_the_limits_are_refused(served: Server) -> None:
    """Refused from the declared length (or the first chunk's), before the body is read: only the head is
    sent here, so the answer cannot race the upload."""
    answer = _raw(served, b"POST /v1.50/containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                          b"Content-Length: 2097152\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 413")
    assert b"limit of 1048576 bytes" in answer
    answer = _raw(served, b"POST /v1.50/build HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-tar\r\n"
                          b"Transfer-Encoding: chunked\r\n\r\n2000\r\n")
    assert answer.startswith(b"HTTP/1.1 413")
    assert b"limit of 4096 bytes" in answer  # this server's --max-context; the chunk announced 0x2000 = 8192


def test_bad_json_and_missing_image(served: Server) -> None:
    json_type = {"Content-Type": "application/json"}
    status, _, body = request(served, "POST", "/v1.50/containers/create", b"{nope", json_type)
    assert status == 400
    status, _, body = request(served, "POST", "/v1.50/containers/create", json.dumps({"Image": "redis"}).encode(),
                              {"Content-Type": "application/json"})
    assert (status, json.loads(body)) == (404, {"message": "No such image: redis:latest"})


def _raw_wait(server: Server, container: str) -> socket.socket:
    host, port = server.address.removeprefix("tcp://").rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.sendall(f"POST /v1.50/containers/{container}/wait?condition=next-exit HTTP/1.1\r\nHost: x\r\n"
                 "Content-Length: 0\r\n\r\n".encode())
    return sock


def _read_until(sock: socket.socket, marker: bytes, timeout: float) -> bytes:
    sock.settimeout(timeout)
    data = b""
    while marker not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def test_wait_sends_headers_at_once_and_the_exit_code_at_the_exit(served: Server) -> None:
    """A container whose simulated process runs 20 s and exits 3 (labels): the wait's headers come before
    the start (as ``docker run`` needs), the body 20 simulated s (0.4 s of wall at speed 50) after it."""
    status, _, body = request(served, "POST", "/v1.50/images/create?fromImage=alpine&tag=latest")
    assert status == 200, body
    config = {"Image": "alpine", "Labels": {"dsim.duration": "20s", "dsim.exit_code": "3"}}
    status, _, body = request(served, "POST", "/v1.50/containers/create?name=job", json.dumps(config).encode(),
                              {"Content-Type": "application/json"})
    assert status == 201, body
    sock = _raw_wait(served, "job")
    try:
        head = _read_until(sock, b"\r\n\r\n", timeout=5)
        assert head.startswith(b"HTTP/1.1 200")
        began = time.monotonic()
        status, _, _ = request(served, "POST", "/v1.50/containers/job/start")
        assert status == 204
        rest = _read_until(sock, b"}", timeout=30)
        waited = time.monotonic() - began
    finally:
        sock.close()
    assert b'{"StatusCode": 3}' in rest
    assert waited >= 20 / 50 * 0.9
    status, _, body = request(served, "GET", "/v1.50/containers/job/json")
    state = json.loads(body)["State"]
    assert (state["Status"], state["ExitCode"]) == ("exited", 3)
    assert request(served, "DELETE", "/v1.50/containers/job")[0] == 204


def test_default_world_has_docker_hub_and_one_host() -> None:
    resolved = serve_scenario(None)
    assert [host.name for host in resolved.hosts] == ["docker"]
    assert "hub" in resolved.registries
    assert sum(resolved.job_counts.values()) == 0


@pytest.mark.parametrize(("args", "message"), [
    (["--host-name", "nope"], "--host-name: no host 'nope' in the scenario (hosts: docker)"),
    (["--speed", "0"], "--speed must be a positive number"),
    (["--max-context", "12parsecs"], "--max-context: invalid size '12parsecs'"),
])
def test_bad_options_exit_2_before_serving(args: list[str], message: str) -> None:
    from typer.testing import CliRunner

    from dsim.cli import app

    result = CliRunner().invoke(app, ["serve", "--port", "0", *args])
    assert result.exit_code == 2
    assert message in result.output


def test_containers_of_the_scenarios_workloads_are_listed_too(tmp_path: Path) -> None:
    """Same dockerd: a container a workload started at time 0 is in ``docker ps``."""
    path = tmp_path / "scenario.yaml"
    path.write_text("name: bg\nhosts:\n  docker: {nic: 10Gbps}\nworkloads:\n  bg:\n    arrival: {times: [0s]}\n"
                    "    steps:\n      - run: {image: 'alpine:3.24', detach: true, name: background}\n")
    server = Server(serve_scenario(path), port=0, speed=100.0)
    server.start()
    try:
        names: list[str] = []
        deadline = time.monotonic() + 20
        while "/background" not in names and time.monotonic() < deadline:
            status, _, body = request(server, "GET", "/v1.50/containers/json")
            names = [name for entry in json.loads(body) for name in entry["Names"]]
            time.sleep(0.05)
    finally:
        server.stop()
    assert names == ["/background"]


def test_rmi_deletes_the_image_and_gives_its_disk_back(served: Server) -> None:
    """``docker rmi`` of a catalog image nothing else uses: Untagged, the digest reference the pull stored beside
    the tag untagged too (the registry's digest for the tag, redis's index digest: moby pull_v2.go
    addDigestReference, image_delete.go), Deleted (the image ID), then Deleted per layer (chain IDs, top layer
    first, as moby lists them); the disk returns to what it was before the pull. The image's layers are the
    catalog's (same digests and chain IDs as the catalog_image builds)."""
    store = served.world.daemons[served.host].store
    expected = catalog_image("redis:latest")
    assert expected is not None and store.image("redis:latest") is None
    before = served.loop.call(lambda: store.disk_used)
    status, _, body = request(served, "POST", "/v1.50/images/create?fromImage=redis&tag=latest")
    assert status == 200 and b"Downloaded newer image" in body, body
    assert served.loop.call(lambda: store.disk_used) > before
    status, _, body = request(served, "DELETE", "/v1.50/images/redis")
    assert status == 200, body
    index = json.loads((Path(__file__).parents[2] / "dsim" / "scenarios" / "catalog" / "real-images.json")
                       .read_text())["images"]["redis:latest"]["index_digest"]
    assert json.loads(body) == [{"Untagged": "redis:latest"}, {"Untagged": f"redis@{index}"},
                                {"Deleted": expected.manifest_digest},
                                *({"Deleted": layer.chain_id} for layer in reversed(expected.layers))]
    assert served.loop.call(lambda: store.disk_used) == pytest.approx(before)
    status, _, body = request(served, "DELETE", "/v1.50/images/redis")
    assert (status, json.loads(body)) == (404, {"message": "No such image: redis"})


def test_a_saved_layer_keeps_its_tar_entries_when_known() -> None:
    """`docker save` writes each layer's simulated sizes into the image's config, its `files` too when the scenario
    declared them (the unpack's and rmi's costs count them after a `docker load`), and no key otherwise."""
    from dsim.domain.images import LayerInfo
    from dsim.serve.image_ops import _layer_meta

    known = LayerInfo(0, "sha256:a", "sha256:a", 10.0, 27.0, files=7.0)
    assert _layer_meta(known)["files"] == 7.0
    assert "files" not in _layer_meta(LayerInfo(0, "sha256:a", "sha256:a", 10.0, 27.0))
