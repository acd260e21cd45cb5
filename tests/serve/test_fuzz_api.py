"""A fuzz test of ``dsim serve``'s API: every route of the router (dsim.serve.handler.ROUTES) with random and
wrongly typed JSON bodies, query strings and headers, plus raw bytes that are no HTTP at all.

The contract, for every request: an answer whose status is not 500 (a bug in dsim answers 500; wrong input
must be a 4xx, what dsim does not simulate a 501, a busy or stopping server a 503), whose head arrives
within ``ANSWER_S`` (streams that last as long as a process, like ``/wait`` and ``attach``, owe only their
head), and no error that names a Python exception in a stream. Over the whole run: the server's resident
memory grows by less than ``MEMORY_GROWTH_KB`` (every body is under the 1 MiB JSON limit and one request
is in flight at a time, so anything near that is a leak) and its stderr has no traceback.

Examples are derandomized (the same sequence on every run, so CI is stable); ``DSIM_FUZZ_EXAMPLES`` runs
more of them by hand.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import socket
import string
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from dsim.serve.handler import ROUTES
from tests.serve.test_docker_cli import ServeProcess

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc for memory")

EXAMPLES = int(os.environ.get("DSIM_FUZZ_EXAMPLES", "400"))
ANSWER_S = 10.0
MEMORY_GROWTH_KB = 64 << 10
#: Answers that name a Python exception: what the handler writes for a bug (``dsim serve: TypeError: ...``).
BUG = re.compile(rb"dsim serve: [A-Z]\w*(Error|Exception|Interrupt)\b")
#: Endpoints that stream for as long as the process or the session lasts: only their head is owed at once.
STREAMING = re.compile(r"/(wait|attach|events|logs|stats)\b")

#: Scenario: Docker Hub's catalog and a fast host, at high speed, so operations the fuzz starts end soon.
SCENARIO = """\
name: fuzz
hosts:
  docker: {nic: 10Gbps, daemon: {api_service_time: 0s}, storage: {write_rate: inf}}
"""

QUERY_KEYS = ["fromImage", "fromSrc", "tag", "repo", "t", "force", "noprune", "signal", "all", "filters", "limit",
              "size", "condition", "name", "q", "dockerfile", "buildargs", "version", "nocache", "target", "stream",
              "stdout", "stderr", "stdin", "logs", "follow", "tail", "since", "until", "timestamps", "v", "link",
              "ps_args", "one-shot", "detachKeys", "platform", "labels", "cpuquota", "memory", "rm", "pull",
              "shmsize", "networkmode", "cachefrom", "outputs", "digests", "shared-size", "changes", "container"]
BODY_KEYS = ["Image", "Cmd", "Entrypoint", "Env", "Labels", "ExposedPorts", "HostConfig", "PortBindings",
             "RestartPolicy", "Name", "MaximumRetryCount", "NanoCpus", "Memory", "AutoRemove", "HostPort", "HostIp",
             "Tty", "OpenStdin", "AttachStdout", "User", "WorkingDir", "StopSignal", "StopTimeout", "Healthcheck",
             "NetworkingConfig", "EndpointsConfig", "Binds", "Mounts", "Volumes", "Hostname", "Domainname",
             "username", "password", "serveraddress", "Driver", "Options", "AttachStdin", "AttachStderr",
             "Privileged", "Init", "Detach", "DetachKeys"]
HEADER_NAMES = ["Content-Type", "X-Registry-Auth", "X-Registry-Config", "Accept", "Upgrade", "Connection",
                "Expect", "User-Agent", "Content-Encoding", "X-Custom"]
KNOWN_IDS = ["fuzzbox", "alpine", "nginx:latest", "busybox", "sha256:" + "0" * 64]

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=False),
                    st.text(max_size=20))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.one_of(st.sampled_from(BODY_KEYS), st.text(max_size=8)),
                                                 inner, max_size=5)), max_leaves=20)
#: Bodies: a container config naming a real image with fields of any type, JSON of the API's field names
#: with values of any type, any JSON, or bytes that are no JSON.
bodies = st.one_of(
    st.builds(lambda fields, image: json.dumps({**fields, "Image": image}).encode(),
              st.dictionaries(st.sampled_from(BODY_KEYS), json_values, max_size=4),
              st.sampled_from(["alpine", "alpine:latest", "nginx"])),
    st.dictionaries(st.sampled_from(BODY_KEYS), json_values, max_size=6).map(lambda v: json.dumps(v).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=200),
    st.just(b""),
)
query_values = st.one_of(st.text(max_size=30), st.integers(-2**40, 2**40).map(str), json_values.map(json.dumps),
                         st.sampled_from(["1", "true", "0", "false", "-1", "1e400", "nan"]))
header_values = st.text(alphabet=string.ascii_letters + string.digits + " =+/:;,-_.{}\"", max_size=60)
path_ids = st.one_of(st.sampled_from(KNOWN_IDS), st.sampled_from(KNOWN_IDS),  # half of them name what exists
                     st.text(alphabet=string.ascii_letters + string.digits + "-_.:/@", min_size=1, max_size=30))


def route_path(pattern: re.Pattern[str], ident: str) -> str:
    """A concrete path of a route's pattern: each named group replaced by ``ident``."""
    text = pattern.pattern.strip("^$")
    return re.sub(r"\(\?P<\w+>[^)]*\)", quote(ident, safe=":@/"), text)


@st.composite
def requests(draw: st.DrawFn) -> bytes:
    method, pattern, _ = draw(st.sampled_from(ROUTES))
    path = route_path(pattern, draw(path_ids))
    prefix = draw(st.sampled_from(["/v1.50", "/v1.24", "/v1.41", ""]))
    query = "&".join(f"{quote(draw(st.one_of(st.sampled_from(QUERY_KEYS), st.text(max_size=6))))}="
                     f"{quote(draw(query_values))}" for _ in range(draw(st.integers(0, 4))))
    body = draw(bodies)
    headers = [(name, draw(header_values)) for name in draw(st.lists(st.sampled_from(HEADER_NAMES), max_size=3,
                                                                     unique=True))]
    if not any(name == "Content-Type" for name, _ in headers):
        headers.append(("Content-Type", draw(st.sampled_from(["application/json", "application/x-tar", "text/plain"]))))
    head = f"{method} {prefix}{path}{'?' + query if query else ''} HTTP/1.1\r\nHost: fuzz\r\n"
    head += "".join(f"{name}: {value.strip()}\r\n" for name, value in headers if value.strip())
    if draw(st.booleans()):
        framed = f"Content-Length: {len(body)}\r\n\r\n".encode() + body
    else:
        framed = b"Transfer-Encoding: chunked\r\n\r\n" + (f"{len(body):x}\r\n".encode() + body + b"\r\n"
                                                          if body else b"") + b"0\r\n\r\n"
    return head.encode() + b"Connection: close\r\n" + framed


def exchange(server: ServeProcess, data: bytes) -> tuple[int, bytes]:
    """Send ``data``; the status and what came within ANSWER_S (a stream's head only: it may last)."""
    host, port = server.address.removeprefix("tcp://").rsplit(":", 1)
    deadline = time.monotonic() + ANSWER_S
    with socket.create_connection((host, int(port)), timeout=ANSWER_S) as sock:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)  # all is sent: a head left incomplete is not waited for
        except OSError:
            pass  # the server answered (and closed) before taking the whole body
        answer = b""
        while time.monotonic() < deadline:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                piece = sock.recv(65536)
            except TimeoutError:
                break
            except ConnectionResetError:
                break
            if not piece:
                break
            answer += piece
            if b"\r\n\r\n" in answer and STREAMING.search(data.split(b"\r\n", 1)[0].decode("latin-1")):
                break
    if not answer:
        return 0, answer
    match = re.match(rb"HTTP/1\.[01] (\d{3}) ", answer)
    assert match, f"no HTTP answer to {data[:300]!r}: {answer[:300]!r}"
    return int(match.group(1)), answer


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise KeyError("VmRSS")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    proc = ServeProcess(tmp_path_factory.mktemp("fuzz"), speed=1000.0, scenario=SCENARIO,
                        extra=("--client-timeout", "5s"))
    # a real container for the IDs the fuzz names: pulled, created, running
    exchange(proc, b"POST /v1.50/images/create?fromImage=alpine&tag=latest HTTP/1.1\r\nHost: x\r\n"
                   b"Connection: close\r\nContent-Length: 0\r\n\r\n")
    config = json.dumps({"Image": "alpine", "Labels": {"dsim.duration": "1h"}}).encode()
    status, _ = exchange(proc, b"POST /v1.50/containers/create?name=fuzzbox HTTP/1.1\r\nHost: x\r\nConnection: close"
                               b"\r\nContent-Type: application/json\r\nContent-Length: "
                               + str(len(config)).encode() + b"\r\n\r\n" + config)
    assert status == 201
    yield proc
    _, err = proc.stop()
    assert "Traceback" not in err, err


@pytest.fixture(scope="module")
def baseline(server: ServeProcess) -> int:
    return rss_kb(server.proc.pid)


def check(server: ServeProcess, data: bytes) -> None:
    assert server.proc.poll() is None, "the server died"
    status, answer = exchange(server, data)
    assert status != 0, f"no answer within {ANSWER_S} s to {data[:300]!r}"
    assert status != 500, f"500 for {data[:400]!r}: {answer[:600]!r}"
    assert not BUG.search(answer), f"a Python error for {data[:400]!r}: {answer[:600]!r}"


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=requests())
def test_every_route_answers_random_requests_without_a_500(server: ServeProcess, baseline: int, data: bytes) -> None:
    check(server, data)


@settings(max_examples=max(20, EXAMPLES // 5), deadline=None, derandomize=True, database=None)
@given(data=st.one_of(st.binary(min_size=1, max_size=300),
                      st.text(max_size=200).map(lambda text: (text + "\r\n\r\n").encode())))
def test_bytes_that_are_no_http_are_refused_without_a_500(server: ServeProcess, data: bytes) -> None:
    status, answer = exchange(server, data)
    assert status != 500, f"500 for {data!r}: {answer[:300]!r}"


#: The container config ``docker run`` sends (the fields dsim reads), each leaf a strategy of its right type.
CONFIG_SHAPE: dict[str, Any] = {
    "Image": st.sampled_from(["alpine", "alpine:latest"]), "Cmd": st.lists(st.text(max_size=8), max_size=3),
    "Entrypoint": st.lists(st.text(max_size=8), max_size=2), "Env": st.lists(st.text(max_size=12), max_size=3),
    "Labels": st.dictionaries(st.sampled_from(["dsim.duration", "dsim.exit_code", "a"]), st.text(max_size=6)),
    "ExposedPorts": st.dictionaries(st.sampled_from(["80/tcp", "53/udp"]), st.just({})),
    "Tty": st.booleans(), "StopTimeout": st.integers(0, 30),
    "HostConfig": {
        "PortBindings": st.dictionaries(st.sampled_from(["80/tcp"]), st.lists(st.fixed_dictionaries(
            {"HostIp": st.just(""), "HostPort": st.sampled_from(["", "8080"])}), max_size=1)),
        "RestartPolicy": {"Name": st.sampled_from(["no", "always"]), "MaximumRetryCount": st.integers(0, 3)},
        "NanoCpus": st.integers(0, 4 * 10**9), "Memory": st.integers(0, 2**32), "AutoRemove": st.booleans(),
        "PublishAllPorts": st.booleans(),
    },
}


@st.composite
def mistyped(draw: st.DrawFn, shape: Any) -> Any:
    """A value of ``shape`` in which any node may be replaced by JSON of another type."""
    if draw(st.integers(0, 5)) == 0:
        return draw(json_values)
    if isinstance(shape, dict):
        return {key: draw(mistyped(value)) for key, value in shape.items() if draw(st.booleans())}
    return draw(shape)


#: Whether the server validates request bodies by typed models (issue 16 item 6: dsim/serve/bodies.py).
TYPED_BODIES = importlib.util.find_spec("dsim.serve.bodies") is not None


@pytest.mark.xfail(not TYPED_BODIES, strict=True, reason="without typed request bodies, wrongly typed fields of a "
                   "container config are 500s (engine.create, the views): issue 16 item 6")
@settings(max_examples=max(20, EXAMPLES // 5), deadline=None, derandomize=True, database=None,
          phases=[Phase.generate],  # no shrinking: the first 500 is the answer, and its request is in the error
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(config=mistyped(CONFIG_SHAPE))
def test_wrongly_typed_container_configs_are_400s(typed_server: ServeProcess, config: Any) -> None:
    """Each config is created, started, listed, inspected and removed; every answer must be a non-500."""
    body = json.dumps(config).encode()
    for method, path, data in (("POST", "/v1.50/containers/create?name=typed", body),
                               ("POST", "/v1.50/containers/typed/start", b""), ("GET", "/v1.50/containers/json", b""),
                               ("GET", "/v1.50/containers/typed/json", b""),
                               ("DELETE", "/v1.50/containers/typed?force=1", b"")):
        check(typed_server, f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: "
                            f"application/json\r\nContent-Length: {len(data)}\r\n\r\n".encode() + data)


@pytest.fixture(scope="module")
def typed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    """A server of its own: a config accepted wrongly can break listings for every later request."""
    proc = ServeProcess(tmp_path_factory.mktemp("fuzz-typed"), speed=1000.0, scenario=SCENARIO,
                        extra=("--client-timeout", "5s"))
    exchange(proc, b"POST /v1.50/images/create?fromImage=alpine&tag=latest HTTP/1.1\r\nHost: x\r\n"
                   b"Connection: close\r\nContent-Length: 0\r\n\r\n")
    yield proc
    proc.stop()


def test_memory_stayed_bounded(server: ServeProcess, baseline: int) -> None:
    """Last in the file: after every example above, resident memory grew by less than MEMORY_GROWTH_KB."""
    assert rss_kb(server.proc.pid) - baseline < MEMORY_GROWTH_KB
