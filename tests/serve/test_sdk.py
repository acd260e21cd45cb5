"""``dsim serve`` driven by the Python docker SDK (docker-py): its version negotiation (an unversioned
``GET /version``), ``containers.run``/``list``, ``images.build``/``list``, and the raw pull stream.

The progress check uses the scenario of tests/serve/test_docker_cli.py: ``localhost:5000/app:1`` is 100 MB at
10 MB/s, 10 simulated seconds; at speed 5 that is 2 s of wall time, so the stream is polled about 20
times and must show ``Downloading`` with a byte count that grows and stays below the layer's size until
the layer is complete.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.serve.test_docker_cli import ServeProcess

if TYPE_CHECKING:
    import docker
else:
    docker = pytest.importorskip(
        "docker", reason="the Python docker SDK is a test dependency (pip install -e '.[test]')"
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    proc = ServeProcess(tmp_path_factory.mktemp("serve-sdk"), speed=5.0)
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def client(server: ServeProcess) -> Iterator[docker.DockerClient]:
    sdk = docker.DockerClient(base_url=server.address, version="auto", timeout=60)
    yield sdk
    sdk.close()


def test_sdk_negotiates_the_api_version(client: docker.DockerClient) -> None:
    assert client.api.api_version == "1.50"
    assert client.version()["ApiVersion"] == "1.50"
    assert client.ping() is True


def test_pull_stream_reports_growing_byte_counts(client: docker.DockerClient) -> None:
    lines = list(client.api.pull("localhost:5000/app", tag="1", stream=True, decode=True))
    downloading = [line["progressDetail"] for line in lines if line.get("status") == "Downloading"]
    total = 100_000_000
    currents = [detail["current"] for detail in downloading]
    assert all(detail["total"] == total for detail in downloading)
    assert any(0 < current < total for current in currents)
    partial = [current for current in currents if current < total]
    assert partial == sorted(partial)  # never goes backwards
    statuses = [line.get("status", "") for line in lines]
    assert statuses.index("Pull complete") > max(i for i, s in enumerate(statuses) if s == "Downloading") - 1
    assert statuses[-1] == "Status: Downloaded newer image for localhost:5000/app:1"
    assert statuses[-2].startswith("Digest: sha256:")


def test_containers_run_and_list(client: docker.DockerClient) -> None:
    container = client.containers.run("nginx", detach=True, name="sdkweb", ports={"80/tcp": 8081})
    assert container.name == "sdkweb"
    container.reload()  # the SDK inspected it between create and start, as with a real engine
    assert container.status == "running"
    assert container.ports == {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8081"}]}
    listed = client.containers.list()
    assert [c.name for c in listed] == ["sdkweb"]
    assert container.image.tags == ["nginx:latest"]
    container.stop(timeout=1)
    container.reload()
    assert container.status == "exited"
    assert client.containers.list() == []
    assert [c.name for c in client.containers.list(all=True)] == ["sdkweb"]
    container.remove()
    with pytest.raises(docker.errors.NotFound):
        client.containers.get("sdkweb")


def _context(files: dict[str, str]) -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer


def test_images_build_and_list(client: docker.DockerClient, tmp_path: Path) -> None:
    context = _context({"Dockerfile": "FROM alpine\nCOPY hello.txt /\nCMD [\"cat\", \"/hello.txt\"]\n",
                        "hello.txt": "hello\n"})
    image, logs = client.images.build(fileobj=context, custom_context=True, tag="sdk:1")
    streamed = "".join(entry.get("stream", "") for entry in logs)
    assert "Step 1/3 : FROM alpine" in streamed
    assert f"Successfully built {image.short_id.removeprefix('sha256:')}" in streamed
    assert image.tags == ["sdk:1"]
    tags = {tag for listed in client.images.list() for tag in listed.tags}
    assert {"sdk:1", "alpine:latest"} <= tags


def test_sdk_errors_are_docker_errors(client: docker.DockerClient) -> None:
    with pytest.raises(docker.errors.NotFound) as raised:
        client.images.pull("dsim-no-such-image", tag="latest")
    assert "pull access denied for dsim-no-such-image" in str(raised.value)
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get("dsim-no-such-image")


def test_containers_run_in_the_foreground_returns_the_output(client: docker.DockerClient) -> None:
    # containers.run without detach: create, start, wait, then logs (which reads inspect's HostConfig.LogConfig)
    assert client.containers.run("alpine", "echo hi", remove=True) == b"hi\n"
    with pytest.raises(docker.errors.ContainerError) as raised:
        client.containers.run("alpine", ["sh", "-c", "echo oops >&2; exit 3"], remove=True)
    assert raised.value.exit_status == 3 and b"oops" in raised.value.stderr
    assert [c.name for c in client.containers.list(all=True) if c.image.tags == ["alpine:latest"]] == []


def test_exec_stats_pause_rename_and_events(client: docker.DockerClient) -> None:
    import time

    since = int(time.time()) - 1
    container = client.containers.run("alpine", "sleep 1000", detach=True, name="sdkbox",
                                      labels={"dsim.memory_usage": "30MB"})
    assert container.exec_run("echo hello") == (0, b"hello\n")
    assert container.exec_run(["sh", "-c", "exit 6"]).exit_code == 6
    stats = container.stats(stream=False)
    assert stats["memory_stats"]["usage"] == 30_000_000  # the workload's modelled memory, 30 MB
    samples = container.stats(stream=True, decode=True)
    first, second = next(samples), next(samples)  # one per simulated second
    assert first["memory_stats"]["usage"] == second["memory_stats"]["usage"] == 30_000_000
    assert second["precpu_stats"] == first["cpu_stats"]
    samples.close()
    container.pause()
    container.reload()
    assert container.status == "paused"
    container.unpause()
    container.rename("sdkbox2")
    container.reload()
    assert container.name == "sdkbox2"
    container.remove(force=True)
    until = int(time.time()) + 1
    actions = [event["Action"] for event in client.events(since=since, until=until, decode=True,
                                                          filters={"container": container.id})]
    assert actions[:2] == ["create", "start"]
    assert {"exec_create: echo hello", "exec_start: echo hello", "pause", "unpause", "rename", "kill", "die",
            "destroy"} <= set(actions)


def test_put_archive_and_get_archive(client: docker.DockerClient) -> None:
    """``docker cp`` the SDK's way (dsim/serve/archive.py): ``put_archive`` unpacks a tar into a directory,
    ``get_archive`` answers a tar (gzip-encoded, as requests accepts: copy.go writeCompressedResponse; the SDK
    hands the raw bytes over, tarfile reads either) and the path's stat."""
    container = client.containers.run("alpine", "sleep 1000", detach=True, name="sdkcp")
    try:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            info = tarfile.TarInfo("conf/app.ini")
            info.size, info.mode = 6, 0o600
            archive.addfile(info, io.BytesIO(b"[app]\n"))
        assert container.put_archive("/etc", buffer.getvalue()) is True
        assert container.exec_run("cat /etc/conf/app.ini") == (0, b"[app]\n")
        chunks, stat = container.get_archive("/etc/conf")
        assert (stat["name"], stat["mode"] & 0o777, stat["mode"] >> 31) == ("conf", 0o755, 1)  # Go's ModeDir
        with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as archive:
            assert archive.getnames() == ["conf", "conf/app.ini"]
            member = archive.getmember("conf/app.ini")
            handle = archive.extractfile(member)
            assert member.mode == 0o600 and handle is not None and handle.read() == b"[app]\n"
        # moby names the container as the request did: the SDK asks by ID
        with pytest.raises(docker.errors.NotFound, match=f"Could not find the file /nope in container {container.id}"):
            container.get_archive("/nope")
        with pytest.raises(docker.errors.APIError, match="extraction point is not a directory"):
            container.put_archive("/etc/conf/app.ini", buffer.getvalue())
    finally:
        container.remove(force=True)


def test_put_archive_keeps_an_empty_directory_and_a_link(client: docker.DockerClient) -> None:
    """go-archive createTarFile through the SDK: a directory entry is kept empty with its mode, a symlink
    entry stays a link; ``get_archive`` of the link answers its own stat (Go's ModeSymlink, 1 << 27) with
    ``linkTarget`` resolved (daemon/containerfs_linux.go Stat) and the link as the tar's entry."""
    container = client.containers.run("alpine", "sleep 1000", detach=True, name="sdkcp-links")
    try:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            info = tarfile.TarInfo("empty")
            info.type, info.mode = tarfile.DIRTYPE, 0o700
            archive.addfile(info)
            info = tarfile.TarInfo("l")
            info.type, info.linkname = tarfile.SYMTYPE, "empty"
            archive.addfile(info)
        assert container.put_archive("/srv", buffer.getvalue()) is True
        chunks, stat = container.get_archive("/srv/l")
        assert (stat["name"], stat["mode"], stat["linkTarget"], stat["size"]) == ("l", (1 << 27) | 0o777,
                                                                                  "/srv/empty", 5)
        with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as archive:
            assert [(m.name, m.issym(), m.linkname) for m in archive.getmembers()] == [("l", True, "empty")]
        chunks, stat = container.get_archive("/srv/empty")
        assert stat["mode"] == (1 << 31) | 0o700
        with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as archive:
            assert archive.getnames() == ["empty"]  # the directory alone: nothing under it
    finally:
        container.remove(force=True)
