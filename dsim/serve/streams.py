"""The container endpoints that stream: attach (the hijacked connection of a foreground ``docker run``) and
logs (``docker logs``, ``--follow``, ``--tail``, ``--timestamps``, ``--since``/``--until``).

A mixin of ``handler.EngineHandler`` (HTTP thread): every look at the model is a ``call`` into the
simulation thread; the stream is written as simulated time reaches each line (polled a few times a second
of wall time). Without a TTY the lines travel in the multiplexed format, with one raw (``logs.frame``).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dsim.serve.filters import query_flag
from dsim.serve.logs import LogLine, frame, parse_time, rfc3339

if TYPE_CHECKING:
    from dsim.serve.server import ServeState
    from dsim.serve.views import Served

#: How often a stream looks for new output (wall seconds).
POLL_S = 0.05


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
        self.send_response(101, "UPGRADED")
        self._common_headers()
        self.send_header("Content-Type", "application/vnd.docker.raw-stream" if tty else
                         "application/vnd.docker.multiplexed-stream")
        self.send_header("Connection", "Upgrade")
        self.send_header("Upgrade", "tcp")
        self.end_headers()
        self.wfile.flush()
        reader: threading.Thread | None = None
        if query_flag(query, "stdin") and served.config.get("OpenStdin"):
            reader = threading.Thread(target=self._read_stdin, args=(served,), name="dsim-stdin", daemon=True)
            reader.start()
        sent = 0
        while not self.state.stopping.is_set():
            lines, over = self.call(lambda: engine.run_output(served, target))
            data = b"".join(frame(line.stream, line.data, tty) for line in lines[sent:] if wanted.get(line.stream))
            sent = len(lines)
            if data:
                self.wfile.write(data)
                self.wfile.flush()
            if over:
                break
            time.sleep(POLL_S)
        self.close_connection = True
        self._hang_up(reader)

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

    def _read_stdin(self, served: Served) -> None:
        """The client's input, handed to the process as it comes; None at its end (CloseWrite)."""
        engine = self.state.engine
        while True:
            try:
                data = self.rfile.read1(4096)
            except (OSError, ValueError):
                data = b""
            with contextlib.suppress(Exception):
                self.call(lambda d=data or None: engine.feed(served, d))  # type: ignore[misc]
            if not data:
                return

    # ------------------------------------------------------------------ logs

    def api_logs(self, query: dict[str, list[str]], id: str) -> None:  # noqa: A002
        """``docker logs``: every run's output (json-file keeps it across restarts), filtered and formatted as
        dockerd does; ``follow`` streams new lines until the container stops."""
        engine = self.state.engine
        served: Served = self.call(lambda: engine.find(id))
        wanted = {1: query_flag(query, "stdout"), 2: query_flag(query, "stderr")}
        if not any(wanted.values()):
            from dsim.serve.handler import HttpError
            raise HttpError(400, "Bad parameters: you must choose at least one stream")
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
