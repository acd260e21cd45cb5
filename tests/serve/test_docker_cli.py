"""``dsim serve`` driven by the real docker CLI (the client alone; no Docker engine is involved).

A server is started as a subprocess (``python -m dsim serve``) on a free loopback port with the scenario
below; each test runs docker commands against it and checks what the CLI prints, then the session's
``--out`` files are checked after a SIGTERM. Tests that read or change what earlier commands left (a first
pull, a port taken, a container to stop, the session's files) start a server of their own (``fresh``) and make
that state themselves; the others share the module's, with names of their own, so every test passes alone and in
any order.

The scenario makes one pull's duration exact by hand: ``localhost:5000/app:1`` is one uncompressed layer
of 100 MB in a registry with 80 Mbps (10 MB/s) of egress, no latency, no auth; the host's NIC (10 Gbps) and
its disk (``write_rate: inf``) never bind and the API front costs nothing. So the pull is the transfer,
100e6 B / 10e6 B/s = 10.0 s (the reader's work beside it, shorter), then the unpack: no inflate, the apply: the
digest of the layer's tar stream at dsim's default 448.62 MB/s, its bytes at the containerd store's 555 MB/s and
its 5,000 entries of 20 KB at 113 us (docs/distribution.md, What a pull's bytes cost), 0.223 + 0.180 + 0.565 s:
10.968 s of simulated time, whatever the wall clock did.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from dsim.domain.hosts import APPLY_PER_FILE, APPLY_RATE
from dsim.domain.hosts import SHA256_AVX2 as HASH

DOCKER = shutil.which("docker")
SPEED = 20.0

SCENARIO = """\
name: serve-test
description: a host, Docker Hub (the catalog) and a local registry for push
registries:
  localhost:5000: {bandwidth: 80Mbps, latency: 0s, auth: none}
images:
  localhost:5000/app:1: {layers: [100MB], compression: none}
hosts:
  docker:
    nic: 10Gbps
    daemon: {api_service_time: 0s}
    storage: {write_rate: inf}
"""


class ServeProcess:
    """``dsim serve`` in a subprocess on a free loopback port; stopped with SIGTERM."""

    def __init__(self, tmp: Path, speed: float = SPEED, scenario: str = SCENARIO, extra: tuple[str, ...] = (),
                 out: bool = True) -> None:
        """``out``: with ``--out`` (the session's files, every record kept), else without (few records kept)."""
        self.tmp = tmp
        self.out = tmp / "out"
        path = tmp / "scenario.yaml"
        path.write_text(scenario)
        files = ["--out", str(self.out), "--no-charts"] if out else []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dsim", "serve", "--scenario", str(path), "--port", "0", "--speed", str(speed),
             *files, *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.address = ""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            found = re.search(r"export DOCKER_HOST=(\S+)", line)
            if found:
                self.address = found.group(1)
                break
        if not self.address:
            self.proc.kill()
            raise RuntimeError(f"dsim serve did not start: {self.proc.stderr.read() if self.proc.stderr else ''}")
        self.url = self.address.replace("tcp://", "http://")

    def stop(self) -> tuple[str, str]:
        """SIGTERM, as Ctrl-C would; returns the rest of stdout and stderr."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            out, err = self.proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
        return out, err


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    proc = ServeProcess(tmp_path_factory.mktemp("serve"))
    yield proc
    proc.stop()


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[ServeProcess]:
    """A server of this test's own: nothing pulled, run or recorded before the test."""
    (tmp_path / "serve").mkdir()
    proc = ServeProcess(tmp_path / "serve")
    yield proc
    proc.stop()


def docker(server: ServeProcess, *args: str, env: dict[str, str] | None = None,
           timeout: float = 120) -> subprocess.CompletedProcess[str]:
    assert DOCKER is not None
    environment = {**os.environ, "DOCKER_HOST": server.address, "DOCKER_CONFIG": str(server.tmp / "docker-config"),
                   **(env or {})}
    environment.pop("DOCKER_CONTEXT", None)
    return subprocess.run([DOCKER, *args], capture_output=True, text=True, timeout=timeout, env=environment)


needs_cli = pytest.mark.skipif(DOCKER is None, reason="the docker CLI is not installed here (.ci/run installs "
                                                      "Debian's docker client; no engine is needed)")


@needs_cli
def test_version_negotiates_and_names_the_simulated_engine(server: ServeProcess) -> None:
    result = docker(server, "version", "--format", "{{.Server.Version}} {{.Server.APIVersion}} {{.Server.Os}}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["28.2.2", "1.50", "linux"]
    plain = docker(server, "version")
    assert "dsim serve" in plain.stdout


@needs_cli
def test_info_describes_the_scenario_host(server: ServeProcess) -> None:
    result = docker(server, "info", "--format", "{{.Name}} {{.NCPU}} {{.OSType}} {{.ServerVersion}}")
    assert result.returncode == 0, result.stderr
    # the scenario's host 'docker' with HostGroup's default cpus (4)
    assert result.stdout.split() == ["docker", "4", "linux", "28.2.2"]


@needs_cli
def test_pull_from_the_catalog_prints_docker_progress(fresh: ServeProcess) -> None:
    server = fresh
    result = docker(server, "pull", "nginx")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "latest: Pulling from library/nginx" in out
    # the catalog's nginx:latest has 7 layers; each is announced and completes
    assert out.count(": Pulling fs layer") == 7
    assert out.count(": Pull complete") == 7
    assert re.search(r"^Digest: sha256:[0-9a-f]{64}$", out, re.M)
    assert "Status: Downloaded newer image for nginx:latest" in out
    again = docker(server, "pull", "nginx")
    assert "Status: Image is up to date for nginx:latest" in again.stdout


@needs_cli
def test_images_lists_the_pulled_image(server: ServeProcess) -> None:
    assert docker(server, "pull", "-q", "nginx").returncode == 0
    result = docker(server, "images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}")
    assert result.returncode == 0, result.stderr
    assert re.search(r"^nginx:latest [0-9a-f]{12}$", result.stdout, re.M)


@needs_cli
def test_run_publishes_a_port_and_ps_shows_it(fresh: ServeProcess) -> None:
    result = docker(fresh, "run", "-d", "-p", "8080:80", "--name", "web", "nginx")
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"[0-9a-f]{64}\n", result.stdout)
    ps = docker(fresh, "ps")
    assert "0.0.0.0:8080->80/tcp" in ps.stdout
    line = next(line for line in ps.stdout.splitlines() if line.endswith(" web"))
    assert "Up " in line and "nginx" in line


def _web_and_web2(server: ServeProcess) -> subprocess.CompletedProcess[str]:
    """``web`` running with port 8080 published, then ``web2`` asking for the same port: web2's run."""
    assert docker(server, "run", "-d", "-p", "8080:80", "--name", "web", "nginx").returncode == 0
    return docker(server, "run", "-d", "-p", "8080:80", "--name", "web2", "nginx")


@needs_cli
def test_second_container_on_the_same_port_fails_as_docker_does(fresh: ServeProcess) -> None:
    result = _web_and_web2(fresh)
    assert result.returncode == 125
    created = docker(fresh, "inspect", "--format", "{{.Id}} {{.State.Status}}", "web2").stdout.split()
    assert created[1] == "created"  # a port conflict fails start; the container stays Created
    expected = (f"Error response from daemon: failed to set up container networking: driver failed programming "
                f"external connectivity on endpoint web2 ({created[0]}): Bind for 0.0.0.0:8080 failed: port is "
                f"already allocated")
    assert expected in result.stderr


@needs_cli
def test_stop_and_rm(fresh: ServeProcess) -> None:
    server = fresh
    assert _web_and_web2(server).returncode == 125  # web2 stays Created
    busy = docker(server, "rm", "web")
    assert busy.returncode != 0
    assert 'cannot remove container "/web": container is running' in busy.stderr
    assert docker(server, "stop", "web").stdout.strip() == "web"
    listed = docker(server, "ps", "-a", "--format", "{{.Names}} {{.Status}}").stdout
    assert re.search(r"^web Exited \(0\) ", listed, re.M)
    removed = docker(server, "rm", "web", "web2")
    assert removed.returncode == 0, removed.stderr
    assert docker(server, "ps", "-a", "-q").stdout.strip() == ""


@needs_cli
def test_run_of_a_missing_image_pulls_it_first(server: ServeProcess) -> None:
    result = docker(server, "run", "-d", "--name", "cache", "redis")
    assert result.returncode == 0, result.stderr
    assert "Unable to find image 'redis:latest' locally" in result.stderr
    assert "Status: Downloaded newer image for redis:latest" in result.stderr
    assert docker(server, "rm", "-f", "cache").returncode == 0


@needs_cli
def test_unknown_image_is_denied_as_docker_hub_denies_it(server: ServeProcess) -> None:
    result = docker(server, "pull", "dsim-no-such-image")
    assert result.returncode == 1
    assert ("Error response from daemon: pull access denied for dsim-no-such-image, repository does not exist or "
            "may require 'docker login': denied: requested access to the resource is denied") in result.stderr
    run = docker(server, "run", "-d", "dsim-no-such-image")
    assert run.returncode == 125
    assert "Unable to find image 'dsim-no-such-image:latest' locally" in run.stderr
    assert "pull access denied for dsim-no-such-image" in run.stderr


@needs_cli
def test_pull_from_a_scenario_registry_takes_the_modelled_time(fresh: ServeProcess) -> None:
    """100 MB at the registry's 10 MB/s: 10 simulated seconds (module docstring), about 10/SPEED s of wall."""
    server = fresh
    began = time.monotonic()
    result = docker(server, "pull", "localhost:5000/app:1")
    wall = time.monotonic() - began
    assert result.returncode == 0, result.stderr
    assert "1: Pulling from app" in result.stdout
    assert "Status: Downloaded newer image for localhost:5000/app:1" in result.stdout
    assert wall >= 10.0 / SPEED * 0.9  # the real-time clock held the CLI for the simulated transfer


def _context(tmp_path: Path, files: dict[str, str]) -> Path:
    """A build context directory holding ``files`` (name -> text)."""
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    for name, text in files.items():
        (ctx / name).write_text(text)
    return ctx


@needs_cli
def test_legacy_build_streams_steps_and_tags(server: ServeProcess, tmp_path: Path) -> None:
    ctx = _context(tmp_path, {"Dockerfile": "FROM nginx\nCOPY index.html /usr/share/nginx/html/\nRUN echo hello\n",
                              "index.html": "<h1>dsim</h1>\n"})
    result = docker(server, "build", "-t", "demo:1", str(ctx), env={"DOCKER_BUILDKIT": "0"})
    assert result.returncode == 0, result.stderr
    out = result.stdout
    steps = re.findall(r"^Step (\d)/3 : (.*)$", out, re.M)
    assert steps == [("1", "FROM nginx"), ("2", "COPY index.html /usr/share/nginx/html/"), ("3", "RUN echo hello")]
    assert " ---> Running in " in out
    built = re.search(r"^Successfully built ([0-9a-f]{12})$", out, re.M)
    assert built
    assert out.split("Successfully built")[0].rstrip().endswith(f" ---> {built.group(1)}")  # the last step's
    assert "Successfully tagged demo:1" in out
    images = docker(server, "images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").stdout
    assert f"demo:1 {built.group(1)}" in images
    again = docker(server, "build", "-t", "demo:1", str(ctx), env={"DOCKER_BUILDKIT": "0"}).stdout
    assert again.count(" ---> Using cache") == 2  # COPY and RUN: same content, same command


@needs_cli
def test_push_to_the_scenario_registry(server: ServeProcess, tmp_path: Path) -> None:
    ctx = _context(tmp_path, {"Dockerfile": "FROM nginx\nCOPY page.html /usr/share/nginx/html/\n",
                              "page.html": "<h1>pushed</h1>\n"})
    built = docker(server, "build", "-t", "pushed:1", str(ctx), env={"DOCKER_BUILDKIT": "0"})
    assert built.returncode == 0, built.stderr
    assert docker(server, "tag", "pushed:1", "localhost:5000/pushed:1").returncode == 0
    result = docker(server, "push", "localhost:5000/pushed:1")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "The push refers to repository [localhost:5000/pushed]" in out
    assert ": Pushed" in out
    assert re.search(r"^1: digest: sha256:[0-9a-f]{64} size: \d+$", out, re.M)
    # what was pushed is now in the registry: a pull of it is up to date
    pulled = docker(server, "pull", "localhost:5000/pushed:1")
    assert "Status: Image is up to date for localhost:5000/pushed:1" in pulled.stdout


@needs_cli
def test_unknown_endpoint_and_container_errors_are_docker_style(server: ServeProcess) -> None:
    missing = docker(server, "stop", "nope")
    assert "Error response from daemon: No such container: nope" in missing.stderr
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(server.url + "/v1.50/swarm", timeout=10)
    assert raised.value.code == 501
    assert json.loads(raised.value.read())["message"] == "dsim serve does not simulate GET /swarm"


@needs_cli
def test_sigterm_writes_the_session_as_dsim_run_would(fresh: ServeProcess) -> None:
    """A session (the scenario registry's pull, a port conflict, a denied pull), then SIGTERM: its --out files."""
    server = fresh
    assert docker(server, "pull", "localhost:5000/app:1").returncode == 0
    assert _web_and_web2(server).returncode == 125
    assert docker(server, "pull", "dsim-no-such-image").returncode == 1
    out, err = server.stop()
    assert server.proc.returncode == 0, err
    summary = json.loads((server.out / "summary.json").read_text())
    assert summary["scenario"] == "serve-test"
    with (server.out / "jobs.csv").open() as handle:
        jobs = list(csv.DictReader(handle))
    assert summary["jobs"]["total"] == len(jobs)
    pulls = [job for job in jobs if job["workload"] == "pull" and job["status"] == "completed"]
    app = [job for job in pulls if float(job["pull_s"]) > 5]
    # exactly one pull moved the 100 MB of localhost:5000/app:1: 10.0 s and its digest by hand (module docstring)
    assert len(app) == 1
    apply = 100e6 / HASH + 100e6 / APPLY_RATE["containerd"] + 100e6 / 20e3 * APPLY_PER_FILE["containerd"]
    assert float(app[0]["pull_s"]) == pytest.approx(10.0 + apply, abs=1e-6)
    failed = [job for job in jobs if job["status"] == "failed"]
    assert any("port is already allocated" in job["error"] for job in failed)
    assert any("pull access denied" in job["error"] for job in failed)


@needs_cli
def test_unix_socket(tmp_path: Path) -> None:
    """--unix: the CLI reaches the same API over a Unix socket (removed again when the server stops)."""
    from dsim.serve.server import Server, serve_scenario

    path = tmp_path / "dsim.sock"
    server = Server(serve_scenario(None), unix=path, speed=50.0)
    server.start()
    try:
        env = {**os.environ, "DOCKER_HOST": f"unix://{path}", "DOCKER_CONFIG": str(tmp_path / "cfg")}
        assert DOCKER is not None
        result = subprocess.run([DOCKER, "info", "--format", "{{.Name}} {{.Images}}"], capture_output=True,
                                text=True, timeout=60, env=env)
    finally:
        server.stop()
    assert result.stdout.split() == ["docker", "0"], result.stderr
    assert not path.exists()
