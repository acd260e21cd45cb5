"""``dsim serve`` driven by Debian's docker-compose 1.29 (the Python one, speaking the Engine API through the
docker SDK; no Docker engine involved), as test_docker_cli.py drives it with the docker CLI.

The project (``-p demo``): ``db`` (redis, a named volume ``data`` at /data, on networks ``default`` and
``back``, a healthcheck every 2 s), ``web`` (nginx, ``-p 8080:80``, on ``back`` and ``default``, starts when
``db`` is healthy: ``condition: service_healthy``) and ``job`` (alpine printing a line then sleeping, starts
after ``web``). The images are preloaded on the host, so no pull happens. Every test has its own fresh
server (the ``server`` fixture, with the project directory written but nothing created); the tests marked
``usefixtures("up")`` start with the project already ``up -d`` there, the others run their own compose
commands from scratch, so each test runs alone and in any order.

Worked out by hand from the rules:
- Compose names things ``<project>_<name>``: networks demo_default and demo_back, volume demo_data,
  containers demo_<service>_1; it creates the networks and the volume before any container, and creates and
  starts the containers in dependency order (db, web, job): depends_on is client-side.
- db's check ``redis-cli ping`` is a program dsim does not know: it exits 0, so the first probe passes; with
  no start period the first probe runs one interval (2 s) after the start, so db is healthy 2 simulated
  seconds after it started, and web, waiting for it, starts at least 2 s later: on the API's clock (wall
  time, simulated seconds divided by --speed) at least 2/SPEED s after db.
- ``docker-compose stop``: SIGTERM, then SIGKILL at compose's 10 s timeout. redis and nginx exit on TERM
  (exit 0); job's ``sh -c`` is PID 1 without a TERM handler, so it is killed at the timeout: Exit 137.
- ``down`` removes the containers and the project's networks; named volumes stay (only ``down -v`` removes
  them).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from tests.serve.test_docker_cli import ServeProcess, docker

COMPOSE = shutil.which("docker-compose")
SPEED = 20.0

SCENARIO = """\
name: compose-test
hosts:
  docker:
    nic: 10Gbps
    daemon: {api_service_time: 0s}
    storage: {write_rate: inf}
    preloaded: ['redis:alpine', 'nginx:alpine', 'alpine:3.24']
"""

PROJECT = """\
services:
  db:
    image: redis:alpine
    volumes: [data:/data]
    networks: [default, back]
    healthcheck:
      test: ["CMD", "redis-cli", "ping"]
      interval: 2s
  web:
    image: nginx:alpine
    ports: ["8080:80"]
    networks: [back, default]
    depends_on:
      db: {condition: service_healthy}
  job:
    image: alpine:3.24
    command: sh -c 'echo hello from job; sleep 100000'
    depends_on: [web]
volumes:
  data: {}
networks:
  back:
    labels: {tier: back}
"""

pytestmark = pytest.mark.skipif(COMPOSE is None or shutil.which("docker") is None,
                                reason="docker-compose 1.29 and the docker CLI are not installed here (.ci/run "
                                       "installs Debian's docker-compose and docker client; no engine is needed)")


def _compose_v1() -> None:
    """Skip unless the installed docker-compose is the Python 1.x (Debian 12's 1.29.2; Debian 13 packages
    Compose v2, whose output and names differ)."""
    assert COMPOSE is not None
    version = subprocess.run([COMPOSE, "version", "--short"], capture_output=True, text=True, timeout=60).stdout
    if not version.startswith("1."):
        pytest.skip(f"these tests follow docker-compose 1.x; {COMPOSE} is {version.strip() or 'unknown'}")


@pytest.fixture(scope="module")
def compose_v1() -> None:
    """The version check, once for the module (it skips every test when compose is not 1.x)."""
    _compose_v1()


@pytest.fixture
def server(compose_v1: None, tmp_path: Path) -> Iterator[ServeProcess]:
    """A fresh ``dsim serve`` for this test alone, with the project's directory (``app``) written; nothing created."""
    proc = ServeProcess(tmp_path, speed=SPEED, scenario=SCENARIO)
    (proc.tmp / "app").mkdir()
    (proc.tmp / "app" / "docker-compose.yml").write_text(PROJECT)
    yield proc
    proc.stop()


@pytest.fixture
def up(server: ServeProcess) -> None:
    """The test's server with the project ``up -d`` (what test_up_creates_... checks in detail)."""
    result = compose(server, "up", "-d")
    assert result.returncode == 0, result.stderr


def compose(server: ServeProcess, *args: str, timeout: float = 120,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    assert COMPOSE is not None
    environment = {**os.environ, "DOCKER_HOST": server.address, "DOCKER_CONFIG": str(server.tmp / "docker-config"),
                   "COMPOSE_INTERACTIVE_NO_CLI": "1"}
    for name in ("DOCKER_CONTEXT", "COMPOSE_PROJECT_NAME", "COMPOSE_FILE", "COMPOSE_API_VERSION"):
        environment.pop(name, None)
    environment.update(env or {})
    return subprocess.run([COMPOSE, "-p", "demo", "--ansi", "never", *args], capture_output=True, text=True,
                          timeout=timeout, env=environment, cwd=server.tmp / "app")


def _inspect(server: ServeProcess, kind: str, name: str, fmt: str) -> str:
    result = docker(server, kind, "inspect", "--format", fmt, name)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _stamp(text: str) -> float:
    """An RFC 3339 time with nanoseconds as Unix seconds (to the microsecond)."""
    return datetime.fromisoformat(text[:26] + "+00:00").timestamp()


def test_up_creates_networks_and_volume_then_containers_in_dependency_order(server: ServeProcess) -> None:
    result = compose(server, "up", "-d")
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    wanted = ['Creating network "demo_default" with the default driver',
              'Creating network "demo_back" with the default driver',
              'Creating volume "demo_data" with default driver',
              "Creating demo_db_1 ... done", "Creating demo_web_1 ... done", "Creating demo_job_1 ... done"]
    positions = [next(i for i, line in enumerate(lines) if line.strip() == want) for want in wanted]
    assert positions == sorted(positions), result.stderr
    # the labels Compose finds its objects by
    labels = json.loads(_inspect(server, "network", "demo_back", "{{json .Labels}}"))
    assert {k: labels[k] for k in ("com.docker.compose.project", "com.docker.compose.network", "tier")} == \
        {"com.docker.compose.project": "demo", "com.docker.compose.network": "back", "tier": "back"}
    volume = json.loads(_inspect(server, "volume", "demo_data", "{{json .Labels}}"))
    assert volume["com.docker.compose.volume"] == "data" and volume["com.docker.compose.project"] == "demo"
    # web waited for db's first passing probe, one interval (2 s simulated) after db started
    db_started = _stamp(_inspect(server, "container", "demo_db_1", "{{.State.StartedAt}}"))
    web_started = _stamp(_inspect(server, "container", "demo_web_1", "{{.State.StartedAt}}"))
    job_started = _stamp(_inspect(server, "container", "demo_job_1", "{{.State.StartedAt}}"))
    assert web_started - db_started >= 2.0 / SPEED - 1e-6
    assert job_started >= web_started
    assert _inspect(server, "container", "demo_db_1", "{{.State.Health.Status}}") == "healthy"
    # the service's name is an alias on each of its networks (Compose connects it so)
    aliases = json.loads(_inspect(server, "container", "demo_web_1", "{{json .NetworkSettings.Networks}}"))
    assert sorted(aliases) == ["demo_back", "demo_default"]
    assert all("web" in endpoint["Aliases"] and "web" in endpoint["DNSNames"] for endpoint in aliases.values())


@pytest.mark.usefixtures("up")
def test_a_second_up_finds_everything_up_to_date(server: ServeProcess) -> None:
    result = compose(server, "up", "-d")
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr  # labels and options compared equal
    for name in ("demo_db_1", "demo_web_1", "demo_job_1"):
        assert f"{name} is up-to-date" in result.stderr


@pytest.mark.usefixtures("up")
def test_ps_lists_the_services(server: ServeProcess) -> None:
    result = compose(server, "ps")
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line for line in result.stdout.splitlines()[2:] if line.strip()}
    assert sorted(rows) == ["demo_db_1", "demo_job_1", "demo_web_1"]
    assert "Up (healthy)" in rows["demo_db_1"]
    assert "0.0.0.0:8080->80/tcp" in rows["demo_web_1"]
    assert re.search(r"\bUp\b", rows["demo_job_1"])


@pytest.mark.usefixtures("up")
def test_docker_ps_filters_by_network_and_volume(server: ServeProcess) -> None:
    def names(*filters: str) -> list[str]:
        args = [arg for value in filters for arg in ("--filter", value)]
        result = docker(server, "ps", "-a", *args, "--format", "{{.Names}}")
        assert result.returncode == 0, result.stderr
        return sorted(result.stdout.split())

    assert names("network=demo_back") == ["demo_db_1", "demo_web_1"]
    assert names("network=demo_default") == ["demo_db_1", "demo_job_1", "demo_web_1"]
    assert names("network=bridge") == []
    assert names("volume=demo_data") == ["demo_db_1"]
    assert names("volume=/data") == ["demo_db_1"]        # by destination too
    assert names("label=com.docker.compose.service=job") == ["demo_job_1"]


@pytest.mark.usefixtures("up")
def test_logs_show_each_service_output(server: ServeProcess) -> None:
    result = compose(server, "logs", "job")
    assert result.returncode == 0, result.stderr
    assert re.search(r"^job_1\s+\| hello from job$", result.stdout, re.M), result.stdout


@pytest.mark.usefixtures("up")
def test_services_reach_each_other_by_name_on_the_networks_they_share(server: ServeProcess) -> None:
    """job is on default only, db on default and back: ping db answers with db's address on default (Compose's
    service-name alias, the embedded DNS); db's address on back does not (the networks are isolated)."""
    on_default = _inspect(server, "container", "demo_db_1", "{{.NetworkSettings.Networks.demo_default.IPAddress}}")
    on_back = _inspect(server, "container", "demo_db_1", "{{.NetworkSettings.Networks.demo_back.IPAddress}}")
    named = compose(server, "exec", "-T", "job", "ping", "-c", "1", "db")
    assert named.returncode == 0, named.stderr
    assert named.stdout.startswith(f"PING db ({on_default}): 56 data bytes\n64 bytes from {on_default}: seq=0")
    isolated = compose(server, "exec", "-T", "job", "ping", "-c", "1", "-W", "1", on_back)
    assert isolated.returncode == 1
    assert "1 packets transmitted, 0 packets received, 100% packet loss" in isolated.stdout


@pytest.mark.usefixtures("up")
def test_stop_then_start(server: ServeProcess) -> None:
    stopped = compose(server, "stop")
    assert stopped.returncode == 0, stopped.stderr
    result = compose(server, "ps")
    rows = {line.split()[0]: line for line in result.stdout.splitlines()[2:] if line.strip()}
    assert "Exit 0" in rows["demo_db_1"] and "Exit 0" in rows["demo_web_1"]
    assert "Exit 137" in rows["demo_job_1"]          # PID 1 ignores SIGTERM: killed at the 10 s timeout
    started = compose(server, "start")
    assert started.returncode == 0, started.stderr
    up = compose(server, "ps")
    assert up.stdout.count(" Up") == 3, up.stdout


def test_run_without_the_cli_prints_the_output_of_the_streams_the_container_attaches(server: ServeProcess) -> None:
    """``run`` with COMPOSE_INTERACTIVE_NO_CLI=1 (set by ``compose()``) goes through dockerpty, which attaches the
    streams the container's ``Config.AttachStdout``/``AttachStderr`` name; compose 1.29's one-off container is
    not detached, so the docker SDK's ContainerConfig (docker/types/containers.py) asks for both, and stdin
    (``stdin_open`` defaults to true for ``run``); ``-T``: no tty.
    sh prints a line on each stream and exits 4: compose exits with that code (and logs it as its error)."""
    (server.tmp / "app" / "oneoff.yml").write_text(
        "services:\n  once:\n    image: alpine:3.24\n    command: sh -c 'echo out line; echo err line >&2; exit 4'\n")
    result = compose(server, "-f", "oneoff.yml", "run", "-T", "--rm", "once")
    assert result.returncode == 4, result.stderr
    assert result.stdout == "out line\n"
    assert "err line\n" in result.stderr
    assert docker(server, "ps", "-a", "--filter", "label=com.docker.compose.oneoff=True", "-q").stdout == ""  # --rm


def _change_job(server: ServeProcess) -> None:
    """Changes job's command in the project, so that the next ``up`` recreates job."""
    (server.tmp / "app" / "docker-compose.yml").write_text(PROJECT.replace("hello from job", "hello again"))


@pytest.mark.usefixtures("up")
def test_recreate_at_api_1_50_fails_as_against_docker_25_and_later(server: ServeProcess) -> None:
    """A changed service is recreated; compose 1.29 reads the image's ``ContainerConfig``, which dockerd stops
    sending from API 1.45 on (moby image_routes.go), and compose negotiates the server's 1.50: KeyError, as
    docker/compose#11742 reports against Docker 25+."""
    _change_job(server)
    result = compose(server, "up", "-d")
    assert result.returncode != 0
    assert "KeyError: 'ContainerConfig'" in result.stderr


@pytest.mark.usefixtures("up")
def test_recreate_works_with_an_api_version_below_1_45(server: ServeProcess) -> None:
    """The workaround for docker/compose#11742, after the failure above: that attempt had stopped job and renamed
    it to ``<id>_demo_job_1`` before the KeyError; at 1.44 compose recreates it (and removes the renamed one)."""
    _change_job(server)
    assert compose(server, "up", "-d").returncode != 0         # the failed attempt at 1.50, as in the test above
    result = compose(server, "up", "-d", env={"COMPOSE_API_VERSION": "1.44"})
    assert result.returncode == 0, result.stderr
    assert "Recreating" in result.stderr and "demo_job_1 ... done" in result.stderr
    names = docker(server, "ps", "-a", "--filter", "label=com.docker.compose.service=job", "--format", "{{.Names}}")
    assert names.stdout.split() == ["demo_job_1"]           # the old container was removed
    logs = compose(server, "logs", "job")
    assert re.search(r"^job_1\s+\| hello again$", logs.stdout, re.M), logs.stdout


@pytest.mark.usefixtures("up")
def test_down_removes_containers_and_networks_and_keeps_the_volume(server: ServeProcess) -> None:
    result = compose(server, "down")
    assert result.returncode == 0, result.stderr
    assert "Removing network demo_default" in result.stderr and "Removing network demo_back" in result.stderr
    assert docker(server, "ps", "-a", "-q").stdout.strip() == ""
    networks = docker(server, "network", "ls", "--format", "{{.Name}}").stdout.split()
    assert sorted(networks) == ["bridge", "host", "none"]
    assert docker(server, "volume", "ls", "--format", "{{.Name}}").stdout.split() == ["demo_data"]


ATTACHED = """\
services:
  one:
    image: alpine:3.24
    command: sh -c 'echo first; sleep 2; echo second; exit 3'
  two:
    image: alpine:3.24
    command: echo two
"""


def test_up_in_the_foreground_follows_output_until_every_container_exits(server: ServeProcess) -> None:
    """``up`` without ``-d`` attaches to both: two prints and exits 0; one prints, sleeps 2 s, prints and
    exits 3. ``--exit-code-from one`` exits with one's code."""
    (server.tmp / "app" / "attached.yml").write_text(ATTACHED)
    result = compose(server, "-f", "attached.yml", "up")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for line in (r"two_1\s+\| two", r"one_1\s+\| first", r"one_1\s+\| second", r"demo_two_1 exited with code 0",
                 r"demo_one_1 exited with code 3"):
        assert re.search(f"^{line}$", out, re.M), out
    assert out.index("first") < out.index("second") < out.index("demo_one_1 exited with code 3")
    again = compose(server, "-f", "attached.yml", "up", "--exit-code-from", "one")
    assert again.returncode == 3, again.stderr
    assert compose(server, "-f", "attached.yml", "down").returncode == 0


UNHEALTHY = """\
services:
  db:
    image: alpine:3.24
    command: sleep 1000
    healthcheck: {test: ["CMD-SHELL", "exit 1"], interval: 1s, retries: 2}
  web:
    image: alpine:3.24
    command: sleep 1000
    depends_on: {db: {condition: service_healthy}}
"""


def test_a_dependency_that_turns_unhealthy_fails_the_up(server: ServeProcess) -> None:
    """db's probe fails every second; the second failure (2 s) makes it unhealthy; compose, waiting for it to
    be healthy, gives up on web with its error and exit status 1; web is never created."""
    (server.tmp / "app" / "unhealthy.yml").write_text(UNHEALTHY)
    result = compose(server, "-f", "unhealthy.yml", "up", "-d")
    assert result.returncode == 1
    db = _inspect(server, "container", "demo_db_1", "{{.Id}} {{.State.Health.Status}}").split()
    assert db[1] == "unhealthy"
    assert f'ERROR: for web  Container "{db[0][:12]}" is unhealthy.' in result.stderr
    assert docker(server, "ps", "-a", "--filter", "name=demo_web_1", "-q").stdout.strip() == ""
    assert compose(server, "-f", "unhealthy.yml", "down").returncode == 0


SCALED = """\
services:
  web:
    image: nginx:alpine
    ports: ["8181:80"]
"""


def test_a_replica_whose_start_failed_keeps_the_error_and_exit_code_128(server: ServeProcess) -> None:
    """``--scale web=2`` with a fixed host port: both replicas are created and started in parallel, and the start
    of the one that comes second fails on the port the other holds. dockerd keeps the failure in the container's
    state (moby daemon/start.go: SetError, exit code 128, ``exitUnknown``, when none was set; the status stays
    ``created``), and compose 1.29's ps shows a container that is not running as ``Exit <State.ExitCode>``."""
    (server.tmp / "app" / "scaled.yml").write_text(SCALED)
    result = compose(server, "-f", "scaled.yml", "up", "-d", "--scale", "web=2")
    assert result.returncode == 1
    assert "Bind for 0.0.0.0:8181 failed: port is already allocated" in result.stderr
    fmt = "{{.Id}}|{{.State.Status}}|{{.State.ExitCode}}|{{.State.Error}}"
    states = {name: _inspect(server, "container", name, fmt) for name in ("demo_web_1", "demo_web_2")}
    failed = next(name for name, state in states.items() if "|created|" in state)
    running = next(name for name in states if name != failed)
    ident, _, code, error = states[failed].split("|")
    assert code == "128" and states[running].split("|")[1:] == ["running", "0", ""]
    assert error.endswith("Bind for 0.0.0.0:8181 failed: port is already allocated") and f"({ident})" in error
    rows = {line.split()[0]: line for line in compose(server, "-f", "scaled.yml", "ps").stdout.splitlines()[2:]
            if line.strip()}
    assert "Exit 128" in rows[failed] and re.search(r"\bUp\b", rows[running])
    # a start that works clears them (moby container/state.go setRunning): the port is free once the other stops
    assert docker(server, "stop", running).returncode == 0
    assert docker(server, "start", failed).returncode == 0
    assert _inspect(server, "container", failed, "{{.State.ExitCode}}|{{.State.Error}}") == "0|"
    assert compose(server, "-f", "scaled.yml", "down").returncode == 0


MOUNTED = """\
services:
  cache:
    image: redis:alpine
    volumes:
      - /scratch
      - ./conf:/conf:ro
      - data:/data
      - {type: bind, source: ./conf, target: /conf2, read_only: true}
      - {type: volume, source: data, target: /data2}
volumes:
  data: {}
"""


def test_inspect_shows_each_mount_mode_as_the_request_gave_it(server: ServeProcess) -> None:
    """compose 1.29 sends the short syntax as ``Binds`` (``demo_data:/data:rw``, ``/abs/conf:/conf:ro``), the
    long one as ``Mounts`` and a bare target as ``Config.Volumes``. moby's Linux parser keeps a bind string's
    third field as the mount's ``Mode`` and reads ``ro`` in it as read-only; a ``Mounts`` entry has no mode
    (``ReadOnly`` says it); a named local volume without a mode gets ``z`` (setBindModeIfNull), an anonymous
    volume of Config.Volumes none; a bind's propagation defaults to ``rprivate``, a volume has none."""
    (server.tmp / "app" / "conf").mkdir(exist_ok=True)
    (server.tmp / "app" / "mounted.yml").write_text(MOUNTED)
    assert compose(server, "-f", "mounted.yml", "up", "-d").returncode == 0
    mounts = json.loads(_inspect(server, "container", "demo_cache_1", "{{json .Mounts}}"))
    seen = {m["Destination"]: (m["Type"], m["Mode"], m["RW"], m["Propagation"]) for m in mounts}
    assert seen == {"/data": ("volume", "rw", True, ""), "/conf": ("bind", "ro", False, "rprivate"),
                    "/data2": ("volume", "z", True, ""), "/conf2": ("bind", "", False, "rprivate"),
                    "/scratch": ("volume", "", True, "")}
    assert compose(server, "-f", "mounted.yml", "down", "-v").returncode == 0
