"""``dsim serve``'s legacy builder and ``RUN --mount``: since Docker 20.10.6 (moby/moby#42197) dockerd's
legacy builder stops at such a step with ``the --mount option requires BuildKit. ...`` inside the build's
stream (HTTP 200, the steps before it already done), and the CLI prints it and exits 1."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from dsim.domain.builds import MOUNT_NEEDS_BUILDKIT
from dsim.serve.server import Server, serve_scenario
from tests.serve.test_docker_cli import SCENARIO
from tests.serve.test_unit import _tar, request

DOCKERFILE = b"FROM scratch\nWORKDIR /src\nRUN --mount=type=cache,target=/root/.cache make\nWORKDIR /out\n"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    path = tmp_path_factory.mktemp("mounts") / "scenario.yaml"
    path.write_text(SCENARIO)
    server = Server(serve_scenario(path), port=0, speed=50.0)
    server.start()
    yield server
    server.stop()


def test_the_legacy_builder_stops_at_a_run_with_mount(served: Server) -> None:
    status, _, body = request(served, "POST", "/v1.50/build?t=mounts:1", _tar([("Dockerfile", DOCKERFILE)]),
                              {"Content-Type": "application/x-tar"})
    assert status == 200
    messages = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
    streamed = "".join(m.get("stream", "") for m in messages)
    assert "Step 1/4 : FROM scratch" in streamed
    assert "Step 2/4 : WORKDIR /src" in streamed
    assert "Step 3/4 : RUN --mount=type=cache,target=/root/.cache make" in streamed  # printed, then the error
    assert "Step 4/4" not in streamed and "Successfully built" not in streamed
    assert messages[-1]["errorDetail"]["message"] == MOUNT_NEEDS_BUILDKIT
    _, _, images = request(served, "GET", "/v1.50/images/json")
    assert not any("mounts:1" in (image.get("RepoTags") or []) for image in json.loads(images))
