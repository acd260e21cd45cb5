"""``docker top CONTAINER [ps OPTIONS]`` (dsim/serve/top.py) with the real docker CLI. dockerd (moby
daemon/top_unix.go) runs the host's ``ps ARGS -qPIDS`` and keeps the header's words and the rows of the
container's PIDs; the titles below are procps-ng 4.0's (``ps -ef``, ``ps aux``, ``ps -o pid,comm``... on a
host), the refusals dockerd's own or the first line of procps's stderr. The rows are the container's process
(its PID as inspect shows it, its command) and its running execs."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from dsim.components.errors import ApiError
from dsim.serve.top import Proc, parse_ps_output, ps_output
from tests.serve.test_docker_cli import ServeProcess, docker, needs_cli

SCENARIO = """\
name: serve-top
hosts:
  docker:
    daemon: {api_service_time: 0s}
    storage: {write_rate: inf}
    preloaded: ["alpine:3.24"]
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    proc = ServeProcess(tmp_path_factory.mktemp("serve-top"), speed=100.0, scenario=SCENARIO)
    yield proc
    proc.stop()


def _table(server: ServeProcess, *args: str) -> list[list[str]]:
    shown = docker(server, "top", *args)
    assert shown.returncode == 0, shown.stderr
    return [line.split() for line in shown.stdout.splitlines()]


@needs_cli
def test_top_with_ps_options(server: ServeProcess) -> None:
    assert docker(server, "run", "-d", "--name", "tops", "alpine:3.24", "sleep", "100000").returncode == 0
    pid = docker(server, "inspect", "-f", "{{.State.Pid}}", "tops").stdout.strip()
    default = _table(server, "tops")  # ps -ef
    assert default[0] == ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
    assert [default[1][0], default[1][1], default[1][-2:]] == ["root", pid, ["sleep", "100000"]]
    assert _table(server, "tops", "-ef") == default
    aux = _table(server, "tops", "aux")
    assert aux[0] == ["USER", "PID", "%CPU", "%MEM", "VSZ", "RSS", "TTY", "STAT", "START", "TIME", "COMMAND"]
    assert aux[1][1] == pid and aux[1][-3:] == ["0:00", "sleep", "100000"]  # BSD TIME: minutes:seconds
    assert _table(server, "tops", "-e") == [["PID", "TTY", "TIME", "CMD"], [pid, "?", "00:00:00", "sleep"]]
    assert _table(server, "tops", "-o", "pid,comm") == [["PID", "COMMAND"], [pid, "sleep"]]
    assert _table(server, "tops", "-eo", "pid,args") == [["PID", "COMMAND"], [pid, "sleep", "100000"]]
    assert _table(server, "tops", "-o", "pid=PID,tty=T") == [["PID", "T"], [pid, "?"]]  # pid may be titled PID
    assert docker(server, "exec", "-d", "tops", "sleep", "5000").returncode == 0
    rows = _table(server, "tops", "-o", "pid,args")[1:]
    assert rows[0] == [pid, "sleep", "100000"] and rows[1][1:] == ["sleep", "5000"] and len(rows) == 2
    # dockerd logs a container's top event after each listing (LogContainerEvent(ctr, events.ActionTop))
    assert _top_events(server, "tops") == 8
    docker(server, "rm", "-f", "tops")


def _top_events(server: ServeProcess, name: str) -> int:
    until = int(time.time()) + 1  # the last listing's event is stamped at the daemon's latest instant
    shown = docker(server, "events", "--since", "0", "--until", str(until), "--filter", f"container={name}",
                   "--filter", "event=top", "--format", "{{.Action}}")
    return len(shown.stdout.splitlines())


@needs_cli
@pytest.mark.parametrize(("args", "said"), [
    (["-o", "user=PID"], 'specifying "user=PID" is not allowed'),  # dockerd's validatePSArgs
    (["-o", "comm"], "Couldn't find PID field in ps output"),  # dockerd's parsePSOutput
    (["-o", "pid,bogus"], 'ps: error: unknown user-defined format specifier "bogus"'),
    (["-Y"], "ps: error: unsupported SysV option"),
    (["y"], "ps: error: unsupported option (BSD syntax)"),
    (["aux", "-o", "pid"], "ps: error: conflicting format options"),
    (["-l"], 'ps option "-l" of docker top is not modelled by dsim serve'),
])
def test_what_ps_or_dockerd_refuse(server: ServeProcess, args: list[str], said: str) -> None:
    assert docker(server, "run", "-d", "--name", "topbad", "alpine:3.24", "sleep", "100000").returncode == 0
    refused = docker(server, "top", "topbad", *args)
    docker(server, "rm", "-f", "topbad")
    assert refused.returncode != 0
    assert refused.stderr.strip() == f"Error response from daemon: {said}"
    assert _top_events(server, "topbad") == 0  # no listing, no event


def test_overhanging_words_join_the_last_column_as_dockerd_parses_them() -> None:
    """A value of several words before the last column (lstart) shifts the row: dockerd splits each line at
    blanks and joins what is beyond the titles' number into the last one (moby appendProcess2ProcList)."""
    proc = Proc(7, 6, ["sleep", "9"], started=0.0, cpu=0.0, rss=0, tty="?")
    listed = parse_ps_output(ps_output("-o pid,lstart,comm", [proc], now=10.0, memory=1 << 30), {7})
    assert listed["Titles"] == ["PID", "STARTED", "COMMAND"]
    row = listed["Processes"][0]
    assert len(row) == 3 and row[0] == "7" and row[2].endswith(" sleep")
    assert parse_ps_output(ps_output("-e", [proc], now=10.0, memory=1 << 30), {8})["Processes"] == []
    with pytest.raises(ApiError, match="Unexpected pid 'sleep'"):  # comm's empty title: no header word for it
        parse_ps_output(ps_output("-o comm=,pid", [proc], now=10.0, memory=1 << 30), {7})
