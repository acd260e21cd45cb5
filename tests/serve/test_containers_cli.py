"""Everyday container commands of the real docker CLI against ``dsim serve``: foreground runs that end,
attach with input, logs, events, exec, top, stats, pause, rename, signals, and bodies that must not
corrupt state. Each test uses its own containers (the module's server is shared, the images come from
the built-in catalog through Docker Hub). Expectations are the rules of dsim/serve/commands.py and the
kernel model applied by hand, written beside each assertion.
"""

from __future__ import annotations

import contextlib
import json
import os
import pty
import re
import select
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime

import pytest

from tests.serve.spec import get
from tests.serve.test_docker_cli import DOCKER, SCENARIO, ServeProcess, docker, needs_cli

SPEED = 20.0

pytestmark = needs_cli


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    proc = ServeProcess(tmp_path_factory.mktemp("serve-containers"), speed=SPEED, scenario=SCENARIO)
    assert docker(proc, "pull", "alpine").returncode == 0
    assert docker(proc, "pull", "nginx").returncode == 0
    yield proc
    proc.stop()


def names(server: ServeProcess) -> list[str]:
    return docker(server, "ps", "-a", "--format", "{{.Names}}").stdout.split()


def in_terminal(server: ServeProcess, args: list[str], typed: list[bytes], timeout: float = 30) -> tuple[bytes, int]:
    """The CLI in a pseudo-terminal (``-it`` needs one): each input is typed once the prompt shows."""
    assert DOCKER is not None
    env = {**os.environ, "DOCKER_HOST": server.address, "DOCKER_CONFIG": str(server.tmp / "docker-config")}
    pid, fd = pty.fork()
    if pid == 0:  # the child: the CLI on the terminal
        os.execve(DOCKER, [DOCKER, *args], env)
    out, deadline, pending = b"", time.monotonic() + timeout, list(typed)
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            with contextlib.suppress(OSError):
                out += os.read(fd, 4096)
        if pending and out.endswith(b"# "):
            os.write(fd, pending.pop(0))
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return out, os.waitstatus_to_exitcode(status)
    os.kill(pid, 9)
    raise AssertionError(f"the CLI did not end: {out!r}")


# ---------------------------------------------------------------------------------------------- run


def test_foreground_echo_prints_and_rm_removes(server: ServeProcess) -> None:
    result = docker(server, "run", "--rm", "--name", "fg-echo", "alpine", "echo", "hi")
    assert (result.returncode, result.stdout) == (0, "hi\n")  # echo: prints its words, exits 0
    assert "fg-echo" not in names(server)  # --rm: AutoRemove once it exited


def test_foreground_exit_code_and_streams(server: ServeProcess) -> None:
    assert docker(server, "run", "--rm", "alpine", "sh", "-c", "exit 3").returncode == 3
    began = time.monotonic()
    result = docker(server, "run", "--name", "fg-streams", "alpine", "sh", "-c", "echo a; sleep 2; echo b >&2")
    assert (result.returncode, result.stdout, result.stderr) == (0, "a\n", "b\n")
    assert time.monotonic() - began >= 2 / SPEED  # the sleep took 2 simulated seconds
    status = docker(server, "ps", "-a", "--filter", "name=fg-streams", "--format", "{{.Status}}").stdout
    assert status.startswith("Exited (0)")


def test_piped_input_feeds_the_shell(server: ServeProcess) -> None:
    assert DOCKER is not None
    env = {**os.environ, "DOCKER_HOST": server.address, "DOCKER_CONFIG": str(server.tmp / "docker-config")}
    result = subprocess.run([DOCKER, "run", "-i", "--rm", "alpine", "sh"], input="echo piped\nexit 4\n",
                            capture_output=True, text=True, timeout=60, env=env)
    assert (result.returncode, result.stdout) == (4, "piped\n")


def test_interactive_shell_in_a_terminal(server: ServeProcess) -> None:
    out, code = in_terminal(server, ["run", "-it", "--rm", "alpine", "sh"], [b"echo hi there\r", b"exit 5\r"])
    assert b"hi there\r\n" in out and out.startswith(b"/ # ")
    assert code == 5


def test_a_loop_typed_over_lines_in_a_terminal(server: ServeProcess) -> None:
    """ash's PS2 ``> `` before each line of a command not complete yet; the loop runs once it is."""
    out, code = in_terminal(server, ["run", "-it", "--rm", "alpine", "sh"],
                            [b"for i in 1 2\rdo echo n$i\rdone\r", b"exit\r"])
    assert b"for i in 1 2\r\n> do echo n$i\r\n> done\r\nn1\r\nn2\r\n/ # " in out
    assert code == 0


def test_published_port_zero_allocates_one(server: ServeProcess) -> None:
    assert docker(server, "run", "-d", "--name", "port0", "-p", "0:80", "nginx").returncode == 0
    ports = docker(server, "ps", "--filter", "name=port0", "--format", "{{.Ports}}").stdout
    found = re.search(r"0\.0\.0\.0:(\d+)->80/tcp", ports)
    assert found and 49153 <= int(found.group(1)) <= 65535  # the ephemeral range
    assert docker(server, "rm", "-f", "port0").returncode == 0


def test_inspect_keeps_the_streams_the_create_request_names(server: ServeProcess) -> None:
    """dockerd keeps the request's Config as given. The CLI's request attaches stdout and stderr unless ``-a``
    names others (docker/cli cli/command/container/opts.go); ``-i`` adds stdin, OpenStdin and StdinOnce, ``-t``
    Tty; ``run -d`` attaches nothing and clears StdinOnce (run.go) but keeps OpenStdin."""
    fmt = "{{.Config.AttachStdin}} {{.Config.AttachStdout}} {{.Config.AttachStderr}} {{.Config.OpenStdin}} " \
          "{{.Config.StdinOnce}} {{.Config.Tty}}"
    shown = {}
    for name, args in (("att-plain", ["create"]), ("att-i", ["create", "-i"]), ("att-t", ["create", "-t"]),
                       ("att-a", ["create", "-a", "stdout"]), ("att-d", ["run", "-d", "-i"])):
        assert docker(server, *args, "--name", name, "alpine", "true").returncode == 0
        shown[name] = docker(server, "inspect", "--format", fmt, name).stdout.split()
    assert shown == {"att-plain": ["false", "true", "true", "false", "false", "false"],
                     "att-i": ["true", "true", "true", "true", "true", "false"],
                     "att-t": ["false", "true", "true", "false", "false", "true"],
                     "att-a": ["false", "true", "false", "false", "false", "false"],
                     "att-d": ["false", "false", "false", "true", "false", "false"]}
    assert docker(server, "rm", "-f", *shown).returncode == 0


# ---------------------------------------------------------------------------------------------- logs


def _wait_for_log(server: ServeProcess, name: str, text: str) -> None:
    deadline = time.monotonic() + 20
    while text not in docker(server, "logs", name).stdout:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_logs_tail_timestamps_and_follow(server: ServeProcess) -> None:
    assert docker(server, "run", "-d", "--name", "lg", "alpine", "sh", "-c",
                  "echo one; sleep 1; echo two; sleep 100000").returncode == 0
    _wait_for_log(server, "lg", "two")
    assert docker(server, "logs", "lg").stdout == "one\ntwo\n"
    assert docker(server, "logs", "--tail", "1", "lg").stdout == "two\n"
    stamped = docker(server, "logs", "-t", "lg").stdout.splitlines()
    times = [datetime.fromisoformat(line.split(" ")[0].replace("Z", "+00:00")[:26] + "+00:00") for line in stamped]
    # one simulated second apart, shown on the wall clock: 1 / SPEED seconds
    assert (times[1] - times[0]).total_seconds() == pytest.approx(1 / SPEED, abs=2e-6)
    assert DOCKER is not None
    env = {**os.environ, "DOCKER_HOST": server.address, "DOCKER_CONFIG": str(server.tmp / "docker-config")}
    follow = subprocess.Popen([DOCKER, "logs", "-f", "lg"], stdout=subprocess.PIPE, text=True, env=env)
    time.sleep(0.5)
    # sleep is PID 1 without a SIGTERM handler: stop -t 0 kills it at once (137), and follow ends
    assert docker(server, "stop", "-t", "0", "lg").returncode == 0
    out, _ = follow.communicate(timeout=20)
    assert out == "one\ntwo\n"
    status = docker(server, "ps", "-a", "--filter", "name=lg", "--format", "{{.Status}}").stdout
    assert status.startswith("Exited (137)")


# ---------------------------------------------------------------------------------------------- events


def test_events_tell_what_the_daemon_did(server: ServeProcess) -> None:
    since = int(time.time()) - 1
    assert docker(server, "run", "--name", "ev", "alpine", "sh", "-c", "exit 2").returncode == 2
    assert docker(server, "rm", "ev").returncode == 0
    until = int(time.time()) + 1
    result = docker(server, "events", "--since", str(since), "--until", str(until), "--filter", "container=ev",
                    "--format", "{{.Type}} {{.Action}} {{index .Actor.Attributes \"exitCode\"}}")
    lines = [line.strip() for line in result.stdout.splitlines()]
    # container=ev matches the events whose actor is named ev (moby's fuzzyMatchName): the container's own
    assert lines == ["container create", "container start", "container die 2", "container destroy"]
    network = docker(server, "events", "--since", str(since), "--until", str(until), "--filter", "type=network",
                     "--format", "{{.Action}} {{.Actor.Attributes.name}}").stdout.splitlines()
    assert network[-2:] == ["connect bridge", "disconnect bridge"]  # the default bridge, as ev started and died
    bad = docker(server, "events", "--filter", "colour=red", "--until", str(until))
    assert "invalid filter 'colour'" in bad.stderr


def test_stop_and_restart_log_the_events_of_dockerds_stop(server: ServeProcess) -> None:
    """moby v28 daemon/stop.go containerStop: the stop signal (kill event, with its number), and if the process
    has not exited when the timeout passes, Kill: SIGKILL (kill, signal 9: daemon/kill.go), then die and stop.
    The stop signal is the container's, else its image's (nginx's STOPSIGNAL SIGQUIT, 3: container.go
    StopSignal). daemon/restart.go: containerStop when it runs, then containerStart (start), then restart.
    sleep is PID 1 without a SIGTERM handler: killed at the timeout, 137; nginx exits on its stop signal: 0."""
    since = int(time.time()) - 1
    assert docker(server, "run", "-d", "--name", "stopped-ev", "alpine", "sleep", "1000").returncode == 0
    assert docker(server, "stop", "-t", "1", "stopped-ev").returncode == 0
    assert docker(server, "restart", "stopped-ev").returncode == 0        # not running: no stop
    assert docker(server, "restart", "-t", "0", "stopped-ev").returncode == 0
    assert docker(server, "run", "-d", "--name", "quit-ev", "nginx").returncode == 0
    assert docker(server, "stop", "quit-ev").returncode == 0
    until = int(time.time()) + 1
    fmt = "{{.Action}} {{.TimeNano}} {{index .Actor.Attributes \"signal\"}}{{index .Actor.Attributes \"exitCode\"}}"

    def events(name: str) -> list[list[str]]:
        result = docker(server, "events", "--since", str(since), "--until", str(until), "--filter", "type=container",
                        "--filter", f"container={name}", "--format", fmt)
        return [line.replace("<no value>", "").split() for line in result.stdout.splitlines()]

    seen = events("stopped-ev")
    assert [[e[0], *e[2:]] for e in seen] == [
        ["create"], ["start"], ["kill", "15"], ["kill", "9"], ["die", "137"], ["stop"],
        ["start"], ["restart"],
        ["kill", "15"], ["kill", "9"], ["die", "137"], ["stop"], ["start"], ["restart"]]
    # the SIGKILL one simulated second after the SIGTERM: 1 / SPEED on the API's clock
    assert (int(seen[3][1]) - int(seen[2][1])) / 1e9 == pytest.approx(1 / SPEED, abs=2e-3)
    assert [[e[0], *e[2:]] for e in events("quit-ev")] == [["create"], ["start"], ["kill", "3"], ["die", "0"],
                                                            ["stop"]]
    assert docker(server, "inspect", "--format", "{{.Config.StopSignal}}", "quit-ev").stdout.strip() == "SIGQUIT"
    assert docker(server, "rm", "-f", "stopped-ev", "quit-ev").returncode == 0


# ---------------------------------------------------------------------------------------------- exec, top


def test_exec_and_top(server: ServeProcess) -> None:
    assert docker(server, "run", "-d", "--name", "ex", "alpine", "sleep", "100000").returncode == 0
    assert docker(server, "exec", "ex", "echo", "hello").stdout == "hello\n"
    assert docker(server, "exec", "ex", "sh", "-c", "exit 7").returncode == 7
    assert DOCKER is not None
    env = {**os.environ, "DOCKER_HOST": server.address, "DOCKER_CONFIG": str(server.tmp / "docker-config")}
    piped = subprocess.run([DOCKER, "exec", "-i", "ex", "sh"], input="echo in\n", capture_output=True, text=True,
                           timeout=60, env=env)
    assert piped.stdout == "in\n"
    top = docker(server, "top", "ex").stdout.splitlines()
    assert top[0].split() == ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
    assert top[1].endswith("sleep 100000") and len(top) == 2  # the process alone: the execs have ended
    assert docker(server, "rm", "-f", "ex").returncode == 0
    stopped = docker(server, "exec", "nope-no-such", "true")
    assert "No such container: nope-no-such" in stopped.stderr


def test_the_execs_of_an_exited_container_are_gone(server: ServeProcess) -> None:
    # dockerd unregisters a container's execs when its process exits (Cleanup): inspecting one answers 404
    # from then on, and execs made later (in any container) get new IDs.
    import urllib.error
    import urllib.request

    def call(path: str, body: dict[str, object] | None = None) -> tuple[int, dict[str, object]]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{server.url}/v1.50{path}", data=data, method="POST" if data else "GET",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"{}")

    assert docker(server, "run", "-d", "--name", "exg", "alpine", "sleep", "100000").returncode == 0
    status, made = call("/containers/exg/exec", {"Cmd": ["echo", "x"]})
    assert status == 201
    assert call(f"/exec/{made['Id']}/json")[0] == 200
    assert docker(server, "kill", "exg").returncode == 0
    status, answer = call(f"/exec/{made['Id']}/json")
    assert status == 404 and "No such exec instance" in str(answer.get("message"))
    assert docker(server, "start", "exg").returncode == 0
    assert call("/containers/exg/exec", {"Cmd": ["echo", "y"]})[1]["Id"] != made["Id"]
    assert docker(server, "rm", "-f", "exg").returncode == 0


# ---------------------------------------------------------------------------------------------- stats, pause


def _cpu_percent(server: ServeProcess, name: str) -> str:
    return docker(server, "stats", "--no-stream", "--format", "{{.CPUPerc}}", name).stdout.strip()


def test_stats_pause_and_unpause(server: ServeProcess) -> None:
    # 30 MB of modelled memory under a 64 MiB limit: 30e6 / 2**20 = 28.61 MiB, 30e6 / 2**26 = 44.70 %
    assert docker(server, "run", "-d", "--name", "st", "-m", "64m", "--cpus", "1", "-l", "dsim.cpu_time=1000s",
                  "-l", "dsim.memory_usage=30MB", "alpine").returncode == 0
    usage = docker(server, "stats", "--no-stream", "--format", "{{.MemUsage}} {{.MemPerc}}", "st").stdout.strip()
    assert usage == "28.61MiB / 64MiB 44.70%"
    # one task capped at 1 core on 4 idle cores: it runs at 1 core, which docker shows as 100 %
    assert _cpu_percent(server, "st") == "100.00%"
    assert docker(server, "pause", "st").returncode == 0
    assert "(Paused)" in docker(server, "ps", "--filter", "name=st", "--format", "{{.Status}}").stdout
    assert _cpu_percent(server, "st") == "0.00%"  # frozen: its work is off the scheduler
    assert "is paused" in docker(server, "exec", "st", "true").stderr
    assert docker(server, "unpause", "st").returncode == 0
    assert _cpu_percent(server, "st") == "100.00%"
    assert docker(server, "rm", "-f", "st").returncode == 0


# ---------------------------------------------------------------------------------------------- rename, signals


def test_rename(server: ServeProcess) -> None:
    assert docker(server, "create", "--name", "old1", "alpine").returncode == 0
    assert docker(server, "create", "--name", "taken", "alpine").returncode == 0
    assert docker(server, "rename", "old1", "new1").returncode == 0
    assert "new1" in names(server) and "old1" not in names(server)
    clash = docker(server, "rename", "new1", "taken")
    assert 'Conflict. The container name "/taken" is already in use' in clash.stderr
    assert docker(server, "rm", "new1", "taken").returncode == 0


def test_kill_and_rm_force_end_the_process_with_137(server: ServeProcess) -> None:
    """SIGKILL cannot be caught: nginx, which exits 0 on SIGTERM (the test below), dies with 128 + 9 = 137 after
    ``docker kill``, and so does the process ``docker rm -f`` kills (its die event says so)."""
    assert docker(server, "run", "-d", "--name", "killed", "nginx").returncode == 0
    assert docker(server, "kill", "killed").returncode == 0
    assert docker(server, "wait", "killed").stdout.strip() == "137"
    assert docker(server, "inspect", "--format", "{{.State.ExitCode}} {{.State.OOMKilled}}", "killed").stdout.split() \
        == ["137", "false"]
    since = int(time.time()) - 1
    assert docker(server, "run", "-d", "--name", "forced", "nginx").returncode == 0
    assert docker(server, "rm", "-f", "forced", "killed").returncode == 0
    until = int(time.time()) + 1
    died = docker(server, "events", "--since", str(since), "--until", str(until), "--filter", "container=forced",
                  "--filter", "event=die", "--format", "{{index .Actor.Attributes \"exitCode\"}}")
    assert died.stdout.split() == ["137"]


def test_signals_and_stop_without_a_timeout(server: ServeProcess) -> None:
    assert docker(server, "run", "-d", "--name", "sig", "nginx").returncode == 0
    assert docker(server, "kill", "-s", "HUP", "sig").returncode == 0  # nginx reloads its configuration
    assert "Invalid signal: FOO" in docker(server, "kill", "-s", "FOO", "sig").stderr
    status = docker(server, "ps", "--filter", "name=sig", "--format", "{{.Status}}").stdout
    assert status.startswith("Up")
    stop = docker(server, "stop", "-t", "-1", "sig")  # waits for the process: nginx exits on SIGTERM
    assert stop.returncode == 0, stop.stderr
    status = docker(server, "ps", "-a", "--filter", "name=sig", "--format", "{{.Status}}").stdout
    assert status.startswith("Exited (0)")
    assert docker(server, "rm", "sig").returncode == 0


def test_init_passes_signals_on_to_a_process_without_handlers(server: ServeProcess) -> None:
    """``--init``: tini is PID 1 and passes signals on; sleep has no handlers, so SIGTERM's default action ends
    it at once and tini exits 128 + 15 = 143 (without --init sleep is PID 1 and ignores SIGTERM: killed at the
    timeout, 137); SIGHUP's default action ends it too (129); SIGWINCH's is to ignore it."""
    for name in ("tini-term", "tini-hup", "tini-winch"):
        assert docker(server, "run", "-d", "--init", "--name", name, "alpine", "sleep", "300").returncode == 0
    assert docker(server, "inspect", "--format", "{{.HostConfig.Init}}", "tini-term").stdout.strip() == "true"
    assert docker(server, "stop", "-t", "600", "tini-term").returncode == 0  # returns at once, not after 600 s
    assert docker(server, "wait", "tini-term").stdout.strip() == "143"
    assert docker(server, "kill", "-s", "HUP", "tini-hup").returncode == 0
    assert docker(server, "wait", "tini-hup").stdout.strip() == "129"
    assert docker(server, "kill", "-s", "WINCH", "tini-winch").returncode == 0
    status = docker(server, "ps", "--filter", "name=tini-winch", "--format", "{{.Status}}").stdout
    assert status.startswith("Up")
    assert docker(server, "rm", "-f", "tini-term", "tini-hup", "tini-winch").returncode == 0


# ---------------------------------------------------------------------------------------------- bad input


def test_wrong_bodies_get_dockerds_400_and_change_nothing(server: ServeProcess) -> None:
    url = server.url + "/v1.50"
    status, body = get(url, "/containers/create", "POST", {"Image": "alpine", "Cmd": 5})
    assert status == 400 and body["message"].startswith("json: cannot unmarshal number")
    status, body = get(url, "/containers/create", "POST",
                       {"Image": "nginx", "HostConfig": {"PortBindings": {"80/tcp": [{"HostPort": "99999"}]}}})
    assert (status, body["message"]) == (400, 'invalid port specification: "99999"')
    assert docker(server, "ps", "-a").returncode == 0
    assert get(url, "/containers/json?all=1")[0] == 200


def test_concurrent_lifecycle_calls_leave_a_consistent_state(server: ServeProcess) -> None:
    """Twenty threads start, stop and kill the same containers at once: every answer is a documented
    status (never 500), and each container ends in a state its last call explains."""
    url = server.url + "/v1.50"
    for i in range(3):
        assert docker(server, "create", "--name", f"race{i}", "nginx").returncode == 0
    statuses: list[int] = []

    def call(path: str) -> None:
        request = urllib.request.Request(url + path, method="POST", data=b"")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                statuses.append(response.status)
        except urllib.error.HTTPError as err:
            statuses.append(err.code)

    threads = [threading.Thread(target=call, args=(f"/containers/race{i % 3}/start",)) for i in range(12)]
    threads += [threading.Thread(target=call, args=(f"/containers/race{i % 3}/stop?t=1",)) for i in range(4)]
    threads += [threading.Thread(target=call, args=(f"/containers/race{i % 3}/kill?signal=HUP",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert set(statuses) <= {204, 304, 409}, statuses  # 409: a kill of one that was not running
    for i in range(3):  # whatever the order was, a stop and a start now work
        assert docker(server, "start", f"race{i}").returncode == 0
        assert docker(server, "stop", f"race{i}").returncode == 0
        assert docker(server, "rm", f"race{i}").returncode == 0
    listed = json.loads(urllib.request.urlopen(url + "/containers/json?all=1", timeout=30).read())
    assert not any(c["Names"][0].startswith("/race") for c in listed)


def test_time_never_goes_backwards_and_timestamps_stay(server: ServeProcess) -> None:
    """A simulated instant has one Unix time (the wall-clock moment the simulation reached it): an object's
    timestamps are the same at every call, and the daemon's clock only moves forward."""
    assert docker(server, "run", "-d", "--name", "tm", "alpine", "sleep", "100000").returncode == 0
    fields = ("inspect", "--format", "{{.Created}} {{.State.StartedAt}}", "tm")
    first, clock1 = docker(server, *fields).stdout, docker(server, "info", "--format", "{{.SystemTime}}").stdout
    time.sleep(0.3)
    second, clock2 = docker(server, *fields).stdout, docker(server, "info", "--format", "{{.SystemTime}}").stdout
    assert first == second
    assert clock2.strip() > clock1.strip()  # RFC 3339 in UTC with nanoseconds: ordered as text
    assert docker(server, "rm", "-f", "tm").returncode == 0


def test_restart_policy_runs_each_log_and_die(server: ServeProcess) -> None:
    """on-failure:2 with exit 1: the first run and two restarts (moby's restart manager), three times the
    output in the log (json-file keeps it across runs) and three die events."""
    since = int(time.time()) - 1
    assert docker(server, "run", "-d", "--name", "rs", "--restart", "on-failure:2", "alpine", "sh", "-c",
                  "echo try; exit 1").returncode == 0
    deadline = time.monotonic() + 30
    while not docker(server, "ps", "-a", "--filter", "name=rs", "--format", "{{.Status}}").stdout.startswith("Exited"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert docker(server, "logs", "rs").stdout == "try\n" * 3
    until = int(time.time()) + 1
    actions = docker(server, "events", "--since", str(since), "--until", str(until), "--filter", "container=rs",
                     "--filter", "event=die", "--format", "{{.Action}}").stdout.split()
    assert actions == ["die"] * 3
    assert docker(server, "rm", "rs").returncode == 0


def test_a_frozen_process_exits_only_once_thawed(server: ServeProcess) -> None:
    """sleep 30, paused at once for 40 simulated seconds: its time runs out while frozen, and it exits at the
    unpause (the freezer holds it), not at 30 s."""
    assert docker(server, "run", "-d", "--name", "fz", "alpine", "sleep", "30").returncode == 0
    assert docker(server, "pause", "fz").returncode == 0
    time.sleep(40 / SPEED)
    status = docker(server, "ps", "-a", "--filter", "name=fz", "--format", "{{.Status}}").stdout
    assert status.startswith("Up") and "(Paused)" in status
    assert docker(server, "unpause", "fz").returncode == 0
    waited = docker(server, "wait", "fz")
    assert waited.stdout.strip() == "0"
    assert docker(server, "rm", "fz").returncode == 0


def test_update_sets_the_restart_policy_and_resources(server: ServeProcess) -> None:
    """``docker update --restart on-failure:2`` of a process that exits 3 after 2 s: it restarts twice (after the
    backoff's 100 and 200 ms) and stays exited, as moby's restart manager does; a resource changes the limit and
    leaves the policy; a ``--rm`` container's policy is dockerd's 409."""
    assert docker(server, "run", "-d", "--name", "upd", "alpine", "sh", "-c", "sleep 2; exit 3").returncode == 0
    assert docker(server, "update", "--restart", "on-failure:2", "upd").returncode == 0
    policy = docker(server, "inspect", "--format", "{{.HostConfig.RestartPolicy.Name}}:"
                    "{{.HostConfig.RestartPolicy.MaximumRetryCount}}", "upd").stdout.strip()
    assert policy == "on-failure:2"
    capped = docker(server, "update", "--cpus", "1", "upd")  # a resource alone leaves the policy as it is
    assert (capped.returncode, capped.stdout) == (0, "upd\n")
    assert docker(server, "inspect", "--format", "{{.HostConfig.NanoCpus}} {{.HostConfig.RestartPolicy.Name}}",
                  "upd").stdout.split() == ["1000000000", "on-failure"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # 3 runs of 2 s and the backoff: about 6.3 simulated s
        state = docker(server, "inspect", "--format", "{{.RestartCount}} {{.State.Status}}", "upd").stdout.split()
        if state == ["2", "exited"]:
            break
        time.sleep(0.2)
    assert state == ["2", "exited"]
    assert docker(server, "run", "-d", "--rm", "--name", "upd-rm", "alpine", "sleep", "100").returncode == 0
    autoremove = docker(server, "update", "--restart", "always", "upd-rm")
    assert "Restart policy cannot be updated because AutoRemove is enabled" in autoremove.stderr
    assert docker(server, "rm", "-f", "upd", "upd-rm").returncode == 0


def test_rm_force_of_an_rm_container_removes_it_once(server: ServeProcess) -> None:
    """``docker rm -f`` of a running ``--rm`` container: the kill makes it exit, and its own ``--rm`` removal
    leaves it to the request already removing it (moby's removal in progress): one destroy, no error."""
    assert docker(server, "run", "-d", "--rm", "--name", "gone", "alpine", "sleep", "100").returncode == 0
    since = int(time.time()) - 1
    removed = docker(server, "rm", "-f", "gone")
    assert (removed.returncode, removed.stdout.strip()) == (0, "gone"), removed.stderr
    assert "gone" not in names(server)
    destroyed = docker(server, "events", "--since", str(since), "--until", str(int(time.time()) + 1), "--filter",
                       "container=gone", "--filter", "event=destroy", "--format", "{{.Action}}").stdout.split()
    assert destroyed == ["destroy"]


def test_resources_out_of_range_are_dockerds_words(server: ServeProcess) -> None:
    """moby daemon_unix.go: --cpus between 0.01 and the host's CPU count, --memory at least 6 MB."""
    cores = int(docker(server, "info", "--format", "{{.NCPU}}").stdout)
    many = docker(server, "run", "--rm", "--cpus", str(cores + 1), "alpine", "true")
    assert f"range of CPUs is from 0.01 to {cores}.00, as there are only {cores} CPUs available" in many.stderr
    assert many.returncode == 125
    tiny = docker(server, "run", "--rm", "--memory", "1k", "alpine", "true")
    assert "Error response from daemon: Minimum memory limit allowed is 6MB" in tiny.stderr
    assert docker(server, "run", "--rm", "--cpus", str(cores), "alpine", "true").returncode == 0


def test_run_rm_whose_start_fails_is_removed_and_the_cli_exits_125(server: ServeProcess) -> None:
    """moby's start.go removes an AutoRemove container whose start failed; the CLI, waiting for that removal,
    hung before (the container stayed Created). The message names no runtime-internal ID."""
    assert docker(server, "run", "-d", "-p", "9611:80", "--name", "porthold", "nginx").returncode == 0
    result = docker(server, "run", "--rm", "-p", "9611:80", "--name", "portlate", "nginx", timeout=60)
    assert result.returncode == 125
    assert "Bind for 0.0.0.0:9611 failed: port is already allocated" in result.stderr
    assert "docker-0" not in result.stderr
    assert "portlate" not in names(server)
    docker(server, "rm", "-f", "porthold")


def test_start_of_a_paused_container_is_refused(server: ServeProcess) -> None:
    assert docker(server, "run", "-d", "--name", "pausedone", "nginx").returncode == 0
    assert docker(server, "pause", "pausedone").returncode == 0
    result = docker(server, "start", "pausedone")
    assert result.returncode == 1
    assert "Error response from daemon: cannot start a paused container, try unpause instead" in result.stderr
    docker(server, "unpause", "pausedone")
    docker(server, "rm", "-f", "pausedone")


def test_an_empty_entrypoint_runs_the_command_alone(server: ServeProcess) -> None:
    """--entrypoint "" sends [""], which dockerd resets: the command runs without the image's entrypoint."""
    result = docker(server, "run", "--rm", "--entrypoint", "", "alpine", "echo", "empty-ep")
    assert (result.returncode, result.stdout) == (0, "empty-ep\n")


def test_kill_and_rename_errors_name_containers_as_docker_does(server: ServeProcess) -> None:
    assert docker(server, "create", "--name", "killme", "alpine", "true").returncode == 0
    assert docker(server, "create", "--name", "namehold", "alpine", "true").returncode == 0
    ids = {name: docker(server, "inspect", "-f", "{{.Id}}", name).stdout.strip() for name in ("killme", "namehold")}
    killed = docker(server, "kill", "killme")  # the name as typed, then the ID (moby's kill route)
    assert f"cannot kill container: killme: container {ids['killme']} is not running" in killed.stderr
    renamed = docker(server, "rename", "killme", "namehold")  # the ID the API shows, not the runtime's own
    assert f'is already in use by container "{ids["namehold"]}"' in renamed.stderr
    docker(server, "rm", "killme", "namehold")


def test_publish_all_with_p_publishes_a_mapped_port_once(server: ServeProcess) -> None:
    """nginx EXPOSEs 80: with -p 9612:80, -P adds no random port for it (moby daemon/network.go)."""
    assert docker(server, "run", "-d", "-P", "-p", "9612:80", "--name", "pubboth", "nginx").returncode == 0
    assert docker(server, "port", "pubboth").stdout == "80/tcp -> 0.0.0.0:9612\n"
    docker(server, "rm", "-f", "pubboth")


def test_a_prune_filter_dsim_does_not_apply_is_refused_and_removes_nothing(server: ServeProcess) -> None:
    """`--filter until=1h` keeps what was created within the hour; ignoring it pruned exactly those."""
    assert docker(server, "create", "--name", "prunekeep", "alpine", "true").returncode == 0
    result = docker(server, "container", "prune", "-f", "--filter", "until=1h")
    assert result.returncode == 1
    assert ("Error response from daemon: dsim serve does not simulate the 'until' filter of docker container prune "
            "(nothing was removed)") in result.stderr
    assert "prunekeep" in names(server)
    labelled = docker(server, "image", "prune", "-f", "--filter", "label=team=a")
    assert labelled.returncode == 1 and "the 'label' filter of docker image prune" in labelled.stderr
    docker(server, "rm", "prunekeep")


def test_a_network_that_does_not_exist_fails_the_start_not_the_create(server: ServeProcess) -> None:
    """moby's create lets a network be missing (it "might not exist when the container is created"): a 404 from
    create made the CLI say the image was missing and pull it again. The start fails, the container stays."""
    result = docker(server, "run", "--name", "nonet", "--network", "nosuchnet", "alpine", "echo", "hi")
    assert result.returncode == 125
    assert "Unable to find image" not in result.stderr
    assert ("docker: Error response from daemon: failed to set up container networking: network nosuchnet not found"
            in result.stderr)
    assert docker(server, "ps", "-a", "--filter", "name=nonet", "--format", "{{.Status}}").stdout == "Created\n"
    assert docker(server, "network", "create", "nosuchnet").returncode == 0  # made later: the start finds it
    started = docker(server, "start", "-a", "nonet")
    assert (started.returncode, started.stdout) == (0, "hi\n")
    docker(server, "rm", "nonet")
    docker(server, "network", "rm", "nosuchnet")


def test_ps_shows_the_image_id_once_the_name_means_another_image(server: ServeProcess) -> None:
    """moby daemon/list.go refreshImage: the IMAGE column keeps the name while it still means the container's
    image; after the tag moved to another image, the image's ID (the CLI shortens it)."""
    for ref in ("alpine:3.20", "alpine:3.24"):
        assert docker(server, "pull", ref).returncode == 0
    assert docker(server, "tag", "alpine:3.20", "movetag:1").returncode == 0
    old = docker(server, "image", "inspect", "-f", "{{.Id}}", "alpine:3.20").stdout.strip()
    assert docker(server, "create", "--name", "usesmoved", "movetag:1", "true").returncode == 0
    shown = ["ps", "-a", "--filter", "name=usesmoved", "--format", "{{.Image}}"]
    assert docker(server, *shown).stdout == "movetag:1\n"
    assert docker(server, "tag", "alpine:3.24", "movetag:1").returncode == 0
    assert docker(server, *shown).stdout == f"{old[7:19]}\n"
    docker(server, "rm", "usesmoved")


@pytest.mark.parametrize(("options", "said"), [
    (["--restart", "bogus"], "invalid restart policy: unknown policy 'bogus'; use one of 'no', 'always', "
                             "'on-failure', or 'unless-stopped'"),
    (["--mount", "type=bogus,dst=/x"], 'invalid mount config for type "bogus": mount type unknown'),
    (["-v", "bad*name:/x"], 'create bad*name: "bad*name" includes invalid characters for a local volume name, only '
                            '"[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use '
                            "absolute path"),
])
def test_bad_create_options_get_dockerds_words(server: ServeProcess, options: list[str], said: str) -> None:
    """dockerd's messages (api/types/container/hostconfig.go, volume/mounts, volume/local/local.go), not the
    validator's (`Input should be ...`) as before."""
    result = docker(server, "create", *options, "alpine", "true")
    assert result.returncode == 1 and f"Error response from daemon: {said}\n" in result.stderr


def test_log_drivers_an_unknown_one_refused_and_none_unreadable(server: ServeProcess) -> None:
    """moby: an unregistered driver is refused at create (daemon/logger/factory.go); with `none` the container
    runs and inspect says so, but `docker logs` cannot read it (logger.ErrReadLogsNotSupported, a 501)."""
    bogus = docker(server, "create", "--log-driver", "bogus", "alpine", "true")
    assert "Error response from daemon: logger: no log driver named 'bogus' is registered" in bogus.stderr
    run = docker(server, "run", "--name", "nolog", "--log-driver", "none", "alpine", "echo", "hi")
    assert (run.returncode, run.stdout) == (0, "hi\n")  # attached output is not the log
    assert docker(server, "inspect", "-f", "{{.HostConfig.LogConfig.Type}}", "nolog").stdout == "none\n"
    logs = docker(server, "logs", "nolog")
    assert logs.returncode == 1
    assert "Error response from daemon: configured logging driver does not support reading" in logs.stderr
    docker(server, "rm", "nolog")


def test_a_shell_loop_keeps_the_container_running_and_logging(server: ServeProcess) -> None:
    """The tutorials' `while true; do echo tick; sleep 1; done` runs until stopped (it exited at once with no
    output before). At SPEED simulated seconds per second, a wall second holds about SPEED ticks."""
    made = docker(server, "run", "-d", "--name", "ticker", "alpine", "sh", "-c",
                  "while true; do echo tick; sleep 1; done")
    assert made.returncode == 0
    time.sleep(0.5)  # about 10 simulated seconds
    state = docker(server, "inspect", "-f", "{{.State.Status}}", "ticker").stdout
    ticks = docker(server, "logs", "ticker").stdout.splitlines()
    assert state == "running\n" and len(ticks) >= 3 and set(ticks) == {"tick"}
    docker(server, "rm", "-f", "ticker")


@pytest.mark.parametrize(("options", "said"), [
    (["--ipc", "bogus"], "invalid IPC mode: bogus"),
    (["--isolation", "bogus"], "invalid isolation 'bogus' on linux"),
    (["--stop-signal", "BOGUS"], "Invalid signal: BOGUS"),
    (["--cap-add", "BOGUS"], 'unknown capability: "CAP_BOGUS"'),
    (["-m", "10m", "--memory-swap", "8m"], "Minimum memoryswap limit should be larger than memory limit, see usage"),
    (["--oom-score-adj", "5000"], "Invalid value 5000, range for oom score adj is [-1000, 1000]"),
    (["--cpuset-cpus", "99"], "Requested CPUs are not available - requested 99, available: 0-3"),  # 4 CPUs
    (["-v", "rel:/x:zz"], "invalid mode: zz"),
])
def test_options_dockerd_refuses_are_refused(server: ServeProcess, options: list[str], said: str) -> None:
    """moby's checks at create (daemon/daemon_unix.go, oci/caps, volume/mounts); accepted silently before."""
    result = docker(server, "create", *options, "alpine", "true")
    assert result.returncode == 1 and f"Error response from daemon: {said}\n" in result.stderr


def test_options_dockerd_accepts_still_create(server: ServeProcess) -> None:
    made = docker(server, "create", "--cap-add", "NET_ADMIN", "--cap-drop", "ALL", "--ipc", "host", "--stop-signal",
                  "SIGUSR1", "-v", "okvol:/x:ro,z", "--cpuset-cpus", "0-1", "--oom-score-adj", "-500", "alpine", "true")
    assert made.returncode == 0, made.stderr
    docker(server, "rm", made.stdout.strip())


def test_output_through_a_terminal_ends_lines_with_cr_lf(server: ServeProcess) -> None:
    """-t: the pty's ONLCR makes each newline CR LF (the CRLF scripts trip on), in the run and in its logs."""
    assert DOCKER is not None
    env = {**os.environ, "DOCKER_HOST": server.address, "DOCKER_CONFIG": str(server.tmp / "docker-config")}

    def raw(*args: str) -> bytes:  # bytes: text mode would turn CR LF back into LF
        return subprocess.run([DOCKER, *args], capture_output=True, env=env, timeout=60).stdout

    assert raw("run", "-t", "--name", "ttyout", "alpine", "echo", "hi") == b"hi\r\n"
    assert raw("logs", "ttyout") == b"hi\r\n"
    assert raw("run", "--rm", "alpine", "echo", "hi") == b"hi\n"
    docker(server, "rm", "ttyout")


def test_ip_on_a_user_network_with_a_subnet_and_dockerds_refusals(server: ServeProcess) -> None:
    """--ip: that address on a network whose subnet the user gave (it was ignored: the next free one); a second
    container asking for it fails at its start; the default bridge and a network without --subnet refuse it
    at create (moby runconfig/errors.go)."""
    assert docker(server, "network", "create", "--subnet", "10.10.0.0/24", "ipnet").returncode == 0
    assert docker(server, "network", "create", "ipnosub").returncode == 0
    first = docker(server, "run", "-d", "--name", "ipfirst", "--network", "ipnet", "--ip", "10.10.0.50", "nginx")
    assert first.returncode == 0, first.stderr
    shown = docker(server, "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", "ipfirst")
    assert shown.stdout == "10.10.0.50\n"
    taken = docker(server, "run", "--rm", "--network", "ipnet", "--ip", "10.10.0.50", "alpine", "true")
    assert "failed to set up container networking: Address already in use" in taken.stderr
    bridge = docker(server, "create", "--ip", "172.17.0.9", "alpine", "true")
    assert "user specified IP address is supported on user defined networks only" in bridge.stderr
    nosub = docker(server, "create", "--network", "ipnosub", "--ip", "172.30.0.9", "alpine", "true")
    assert "supported only when connecting to networks with user configured subnets" in nosub.stderr
    docker(server, "rm", "-f", "ipfirst")
    docker(server, "network", "rm", "ipnet", "ipnosub")
