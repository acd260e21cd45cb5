"""The container endpoints that stream: attach (the hijacked connection of a foreground ``docker run``) and
logs (``docker logs``, ``--follow``, ``--tail``, ``--timestamps``, ``--since``/``--until``).

A mixin of ``handler.EngineHandler`` (HTTP thread): every look at the model is a ``call`` into the
simulation thread; the stream is written as simulated time reaches each line (polled a few times a second
of wall time). Without a TTY the lines travel in the multiplexed format, with one raw (``logs.frame``).
"""

from __future__ import annotations

import contextlib
import functools
import json
import socket
import threading
import time
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

from dsim.serve import bodies, events, shapes
from dsim.serve.filters import query_flag
from dsim.serve.logs import LogLine, frame, parse_time, rfc3339

if TYPE_CHECKING:
    from dsim.serve.server import ServeState
    from dsim.serve.views import Served

#: How often a stream looks for new output (wall seconds).
POLL_S = 0.05
#: How long a container's ``die`` waits for its attached streams to drain (wall seconds): moby's
#: handleContainerExit (daemon/monitor.go) waits up to 2 s for the stdio copiers before it logs ``die``.
DRAIN_WAIT_S = 2.0


class OpenAttaches:
    """The attach streams still writing, per container (HTTP threads): dockerd logs a container's ``die``
    only after its attached streams are drained, so a client that follows both (docker-compose 1.29's log
    printer drops a container at ``die``) reads every line before the event."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[str, int] = {}

    @contextlib.contextmanager
    def streaming(self, container_id: str) -> Generator[None, None, None]:
        with self._lock:
            self._open[container_id] = self._open.get(container_id, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                left = self._open[container_id] - 1
                if left:
                    self._open[container_id] = left
                else:
                    del self._open[container_id]

    def draining(self, container_id: str) -> bool:
        with self._lock:
            return container_id in self._open


class ContainerStreams:
    """``POST /containers/{id}/attach`` and ``GET /containers/{id}/logs``."""

    state: ServeState
    headers: Any
    rfile: Any
    wfile: Any
    close_connection: bool
    connection: socket.socket

    def call(self, task: Callable[[], Any]) -> Any:
        raise NotImplementedError

    def send_response(self, code: int, message: str | None = None) -> None:
        raise NotImplementedError

    def send_header(self, keyword: str, value: str) -> None:
        raise NotImplementedError

    def end_headers(self) -> None:
        raise NotImplementedError

    def _common_headers(self) -> None:
        raise NotImplementedError

    def begin_stream(self, content_type: str = "application/json") -> None:
        raise NotImplementedError

    def chunk(self, data: bytes) -> None:
        raise NotImplementedError

    def end_stream(self) -> None:
        raise NotImplementedError

    def send_empty(self, status: int) -> None:
        raise NotImplementedError

    def send_json(self, status: int, value: Any) -> None:
        raise NotImplementedError

    def read_json(self) -> dict[str, Any]:
        raise NotImplementedError

    def operation(self, kind: str, subject: str, body: Any) -> Any:
        raise NotImplementedError

    # ------------------------------------------------------------------ attach

    def api_attach(self, query: dict[str, list[str]], id: str) -> None:  # noqa: A002
        """``docker run`` in the foreground (and ``docker attach``): the connection is hijacked; the process's
        output is written as it happens and the stream ends when its run ends (the CLI then reads the exit
        code from /wait). With ``stdin=1`` what the client sends is the process's standard input."""
        engine = self.state.engine
        served: Served = self.call(lambda: engine.find(id))
        target: int = self.call(lambda: engine.attach_target(served))
        tty = bool(served.config.get("Tty"))
        wanted = {1: query_flag(query, "stdout"), 2: query_flag(query, "stderr")}
        self._upgrade(tty)
        reader: threading.Thread | None = None
        if query_flag(query, "stdin") and served.config.get("OpenStdin"):
            reader = self._start_reader(lambda data: engine.feed(served, data))
        skip = 0
        if not query_flag(query, "logs"):  # attached to a running process: what it writes from now on
            skip = len(self.call(lambda: engine.run_output(served, target))[0])
        with self.state.attaches.streaming(served.id):
            self._pump(lambda: engine.run_output(served, target), tty, wanted, skip)
            self.close_connection = True
            self._hang_up(reader)

    def _upgrade(self, tty: bool) -> None:
        """The hijack: 101 UPGRADED, then the connection carries the process's streams."""
        self.send_response(101, "UPGRADED")
        self._common_headers()
        self.send_header("Content-Type", "application/vnd.docker.raw-stream" if tty else
                         "application/vnd.docker.multiplexed-stream")
        self.send_header("Connection", "Upgrade")
        self.send_header("Upgrade", "tcp")
        self.end_headers()
        self.wfile.flush()

    def _pump(self, output: Callable[[], tuple[list[LogLine], bool]], tty: bool, wanted: dict[int, bool],
              sent: int = 0) -> None:
        """Write a process's lines (after the first ``sent``) as simulated time reaches them, until it is
        over."""
        while not self.state.stopping.is_set():
            lines, over = self.call(output)
            data = b"".join(frame(line.stream, line.data, tty) for line in lines[sent:] if wanted.get(line.stream))
            sent = len(lines)
            if data:
                self.wfile.write(data)
                self.wfile.flush()
            if over:
                break
            time.sleep(POLL_S)

    def _start_reader(self, feed: Callable[[bytes | None], None]) -> threading.Thread:
        reader = threading.Thread(target=self._read_stdin, args=(feed,), name="dsim-stdin", daemon=True)
        reader.start()
        return reader

    def _hang_up(self, reader: threading.Thread | None) -> None:
        """End of the stream: the client sees end of file (and, with a TTY, stops reading its terminal);
        the reader of its input is released before the connection is closed (a read in progress would
        otherwise hold the connection's buffer)."""
        time.sleep(0.05)  # let the CLI read the last bytes before the close
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_WR)
        if reader is not None:
            reader.join(timeout=1.0)
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            reader.join(timeout=1.0)

    def _read_stdin(self, feed: Callable[[bytes | None], None]) -> None:
        """The client's input, handed to the process as it comes; None at its end (CloseWrite)."""
        while True:
            try:
                data = self.rfile.read1(4096)
            except (OSError, ValueError):
                data = b""
            with contextlib.suppress(Exception):
                self.call(functools.partial(feed, data or None))
            if not data:
                return

    # ------------------------------------------------------------------ exec

    def api_exec_start(self, query: dict[str, list[str]], id: str) -> None:  # noqa: A002
        """``POST /exec/{id}/start``: detached, 200 at once; else the connection carries the command's
        streams (hijacked when the client asks for the upgrade, as the CLI and the SDK do)."""
        engine = self.state.engine
        options = bodies.parse(bodies.ExecStart, self.read_json(), "ExecStartCheck")
        made = self.call(lambda: engine.find_exec(id))

        def body(job: int, phase: str | None) -> Generator[Any, Any, Any]:
            yield from engine.exec_run(made, job)

        future = self.operation("exec", made.served.name, body)
        if options.Detach:
            self.send_empty(200)
            return
        config = made.config
        tty = config.Tty
        wanted = {1: config.AttachStdout or not config.AttachStderr, 2: config.AttachStderr}
        if "upgrade" in (self.headers.get("Connection") or "").lower():
            self._upgrade(tty)
        else:
            self.send_response(200)
            self._common_headers()
            self.send_header("Content-Type", "application/vnd.docker.raw-stream" if tty else
                             "application/vnd.docker.multiplexed-stream")
            self.end_headers()
        reader = self._start_reader(lambda data: engine.exec_feed(made, data)) if config.AttachStdin else None
        self._pump(lambda: engine.exec_output(made), tty, wanted)
        with contextlib.suppress(Exception):
            future.result(timeout=5)
        self.close_connection = True
        self._hang_up(reader)

    # ------------------------------------------------------------------ stats

    def api_stats(self, query: dict[str, list[str]], id: str) -> None:  # noqa: A002
        """``docker stats``: a sample of the kernel model every simulated second (``stream``, the default),
        or one with the sample a second before it (``stream=0``; ``one-shot=1``: without that wait)."""
        engine = self.state.engine
        served: Served = self.call(lambda: engine.find(id))
        stream = (query.get("stream") or ["1"])[-1].lower() not in ("0", "false", "no")
        one_shot = query_flag(query, "one-shot")
        previous = self.call(lambda: engine.stats(served, None))
        if not stream:
            if not one_shot:
                self._sleep_simulated(1.0)
                previous = self.call(lambda: engine.stats(served, previous))
            self.send_json(200, previous)
            return
        self.begin_stream()
        while not self.state.stopping.is_set():
            self._sleep_simulated(1.0)
            sample = self.call(functools.partial(engine.stats, served, previous))
            self.chunk(json.dumps(sample).encode() + b"\n")
            previous = sample
            if served.removed:
                break
        self.end_stream()

    def _sleep_simulated(self, seconds: float) -> None:
        time.sleep(self.state.loop.wall_delay(seconds))

    # ------------------------------------------------------------------ logs

    def api_logs(self, query: dict[str, list[str]], id: str) -> None:  # noqa: A002
        """``docker logs``: every run's output (json-file keeps it across restarts), filtered and formatted as
        dockerd does; ``follow`` streams new lines until the container stops."""
        engine = self.state.engine
        served: Served = self.call(lambda: engine.find(id))
        wanted = {1: query_flag(query, "stdout"), 2: query_flag(query, "stderr")}
        from dsim.serve.handler import HttpError
        if not any(wanted.values()):
            raise HttpError(400, "Bad parameters: you must choose at least one stream")
        if not shapes.readable_logs(served.host_config):  # --log-driver none, syslog, ... (moby logger.go)
            raise HttpError(501, "configured logging driver does not support reading")
        tty = bool(served.config.get("Tty"))
        now_epoch = engine.epoch(engine.clock())
        since = parse_time((query.get("since") or [""])[-1], now_epoch)
        until = parse_time((query.get("until") or [""])[-1], now_epoch)
        tail_text = (query.get("tail") or ["all"])[-1]
        tail = int(tail_text) if tail_text.lstrip("-").isdigit() and int(tail_text) >= 0 else None
        stamps = query_flag(query, "timestamps")
        follow = query_flag(query, "follow") and until is None

        def keep(line: LogLine) -> bool:
            stamp = engine.epoch(line.at)
            return bool(wanted.get(line.stream)) and (since is None or stamp >= since) and (
                until is None or stamp <= until)

        def render(lines: list[LogLine]) -> bytes:
            out = []
            for line in lines:
                data = (rfc3339(engine.epoch(line.at)) + " ").encode() + line.data if stamps else line.data
                out.append(frame(line.stream, data, tty))
            return b"".join(out)

        lines, running = self.call(lambda: engine.log_lines(served))
        shown = [line for line in lines if keep(line)]
        if tail is not None:
            shown = shown[len(shown) - tail:] if tail else []
        self.begin_stream("application/vnd.docker.raw-stream" if tty else "application/vnd.docker.multiplexed-stream")
        self.chunk(render(shown))
        sent = len(lines)
        while follow and running and not self.state.stopping.is_set():
            time.sleep(POLL_S)
            lines, running = self.call(lambda: engine.log_lines(served))
            self.chunk(render([line for line in lines[sent:] if keep(line)]))
            sent = len(lines)
        self.end_stream()

    # ------------------------------------------------------------------ events

    def api_events(self, query: dict[str, list[str]]) -> None:
        """``docker events``: the events since ``since`` (none of the past without it), then live ones until
        ``until`` (forever without it), as NDJSON EventMessages."""
        engine = self.state.engine
        filters = events.parse_filters((query.get("filters") or [""])[-1])
        now_epoch = engine.epoch(engine.clock())
        since = parse_time((query.get("since") or [""])[-1], now_epoch)
        until = parse_time((query.get("until") or [""])[-1], now_epoch)
        index = 0 if since is not None else self.call(lambda: engine.events.count)

        def keep(event: events.Event) -> bool:
            stamp = engine.epoch(event.at)
            return (since is None or stamp >= since) and (until is None or stamp <= until) and events.matches(
                event, filters)

        self.begin_stream()
        held_since: float | None = None
        while True:
            found, index = self.call(functools.partial(_take, engine.events, index))
            held = next((k for k, event in enumerate(found) if self._draining(event)), None)
            if held is not None and (held_since is None or time.monotonic() - held_since < DRAIN_WAIT_S):
                held_since = held_since if held_since is not None else time.monotonic()
                index -= len(found) - held
                found = found[:held]
            else:
                held_since = None
            lines = [json.dumps(events.message(event, engine.epoch)).encode() + b"\n" for event in found if keep(event)]
            self.chunk(b"".join(lines))
            if self.state.stopping.is_set() or (until is not None and engine.epoch(engine.clock()) > until):
                break
            time.sleep(POLL_S)
        self.end_stream()


    def _draining(self, event: events.Event) -> bool:
        """A container's ``die`` while its attached streams still write (held back until they are done)."""
        return event.type == "container" and event.action == "die" and self.state.attaches.draining(event.actor)


def _take(log: events.EventLog, position: int) -> tuple[list[events.Event], int]:
    """The events after ``position`` and the new position (simulation thread)."""
    return log.since(position), log.count
