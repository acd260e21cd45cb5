"""A container's output as dockerd keeps it: every run's writes, stamped with simulated time.

The json-file log driver stores one message per line with its time and stream
(https://docs.docker.com/engine/logging/drivers/json-file/); ``docker logs`` and attach read them back.
A run's writes come from its Program (``commands.py``: known in advance, each at an offset from the
run's start) or, for an interactive shell, as the session answers its input; a write is visible once
simulated time has reached it, and never after the run ended (a stopped ``sh -c 'sleep 5; echo late'``
never printed ``late``).

Streams: without a TTY each message travels in the multiplexed format (an 8-byte header: the stream, 3
zero bytes, the payload's length as a big-endian uint32; https://docs.docker.com/reference/api/engine/
version/v1.50/#tag/Container/operation/ContainerAttach); with a TTY the bytes are sent raw.
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass, field, replace

from dsim.serve.shell_state import Repeat, Write


@dataclass(frozen=True)
class LogLine:
    """One message: its simulated time, stream (1 stdout, 2 stderr) and bytes (one line, or its tail)."""

    at: float
    stream: int
    data: bytes


@dataclass
class RunLog:
    """One run of the process: when it started and ended, what it writes."""

    start: float
    writes: list[Write] = field(default_factory=list)
    end: float | None = None
    #: a line the process goes on writing while it runs (``ping`` without a count)
    repeat: Repeat | None = None

    def lines(self, now: float) -> list[LogLine]:
        limit = now if self.end is None else min(now, self.end)
        out: list[LogLine] = []
        writes = self.writes if self.repeat is None else sorted(
            [*self.writes, *self.repeat.writes(limit - self.start)], key=lambda write: write.at)
        for write in writes:
            at = self.start + write.at
            if at > limit + 1e-9:
                continue
            out += [LogLine(at, write.stream, part) for part in write.data.splitlines(keepends=True)]
        return out


class ProcessLog:
    """Every run's output of one container, oldest first."""

    def __init__(self) -> None:
        self.runs: list[RunLog] = []

    def begin(self, start: float, writes: tuple[Write, ...] | list[Write], repeat: Repeat | None = None) -> RunLog:
        run = RunLog(start, list(writes), repeat=repeat)
        self.runs.append(run)
        return run

    def lines(self, now: float) -> list[LogLine]:
        out = [line for run in self.runs for line in run.lines(now)]
        out.sort(key=lambda line: line.at)
        return out


def frame(stream: int, data: bytes, tty: bool) -> bytes:
    """One message on an attach or logs stream: raw with a TTY, else with the multiplexed header."""
    if tty or not data:
        return data
    return struct.pack(">BxxxL", stream, len(data)) + data


def rfc3339(epoch: float) -> str:
    """Docker's log timestamps (RFC 3339 with nanoseconds, UTC): ``2025-01-02T03:04:05.123456789Z``."""
    whole = int(epoch // 1)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{int(round((epoch - whole) * 1e9)) % 10**9:09d}Z"


def parse_time(value: str, now_epoch: float) -> float | None:
    """``since``/``until`` as the API takes them: Unix seconds (with a fraction); empty is none. A
    negative or unparseable value is none too (the CLI sends Unix times it computed itself)."""
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if number >= 0 else now_epoch + number


def through_terminal(writes: list[Write], repeat: Repeat | None) -> tuple[list[Write], Repeat | None]:
    """What a process writes as a terminal (``-t``) carries it: each newline a carriage return and a newline
    (the pty's ONLCR, termios(3)), which ``docker run -t`` and ``docker logs`` then show."""
    crlf = [Write(w.at, w.stream, w.data.replace(b"\n", b"\r\n")) for w in writes]
    return crlf, (None if repeat is None else replace(repeat, line=repeat.line.replace("\n", "\r\n")))
