"""The request handler's view of an exchange: the surface of the stdlib's ``BaseHTTPRequestHandler`` that
dsim.serve.handler is written against (``command``, ``path``, ``headers``, ``send_response``/
``send_header``/``end_headers``, ``wfile``, ``rfile``, ``close_connection``), carried by h11 instead.

``RequestAdapter`` comes first in the handler class's bases (``serving_class``), so its methods replace
the stdlib's, and the handler's own body reader and chunk writers (``read_body``, ``chunk``,
``end_stream``), which framed HTTP by hand: h11 frames and parses, this layer applies the limits.
"""

from __future__ import annotations

import email.utils
import time
from typing import Any

from dsim.serve.exchange import BodyStream, Exchange


class BodyReader:
    """``rfile``: the request body as h11 decoded it; after a hijack, the client's raw bytes."""

    def __init__(self, exchange: Exchange) -> None:
        self._exchange = exchange
        self._buffer = b""

    def _fill(self) -> bool:
        piece = self._exchange.read_raw(65536) if self._exchange.hijacked else self._exchange.read_some()
        self._buffer += piece
        return bool(piece)

    def read(self, size: int = -1) -> bytes:
        while (size < 0 or len(self._buffer) < size) and self._fill():
            pass
        if size < 0:
            data, self._buffer = self._buffer, b""
        else:
            data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def read1(self, size: int = -1) -> bytes:
        """What is at hand, or one read's worth (at most ``size`` bytes); b"" at the end."""
        if not self._buffer:
            self._fill()
        end = len(self._buffer) if size < 0 else size
        data, self._buffer = self._buffer[:end], self._buffer[end:]
        return data

    def readline(self, limit: int = -1) -> bytes:
        while b"\n" not in self._buffer and (limit < 0 or len(self._buffer) < limit) and self._fill():
            pass
        end = self._buffer.find(b"\n") + 1 or len(self._buffer)
        if limit >= 0:
            end = min(end, limit)
        data, self._buffer = self._buffer[:end], self._buffer[end:]
        return data


class BodyWriter:
    """``wfile``: body bytes of the response (framed by h11), raw bytes after a hijack."""

    def __init__(self, exchange: Exchange) -> None:
        self._exchange = exchange

    def write(self, data: bytes) -> int:
        self._exchange.write(data)
        return len(data)

    def flush(self) -> None:
        self._exchange.flush()


class RequestAdapter:
    """The handler surface over an Exchange (see the module's docstring)."""

    exchange: Exchange
    command: str
    path: str
    request_version: str
    requestline: str
    headers: Any
    rfile: BodyReader
    wfile: BodyWriter
    close_connection: bool
    client_address: Any
    connection: Any
    request: Any
    server_version: str
    sys_version: str

    def adapt(self, exchange: Exchange, client_address: Any) -> None:
        self.exchange = exchange
        self.command = exchange.method
        self.path = exchange.target
        self.request_version = f"HTTP/{exchange.http_version}"
        self.requestline = f"{exchange.method} {exchange.target} {self.request_version}"
        self.headers = exchange.headers
        self.rfile = BodyReader(exchange)
        self.wfile = BodyWriter(exchange)
        self.close_connection = False
        self.client_address = client_address
        self.connection = self.request = exchange.peer.sock  # the stdlib's names for the client's socket
        self._status = 0
        self._reason = ""
        self._headers: list[tuple[str, str]] = []

    # ------------------------------------------------------------------ the stdlib's response primitives

    def send_response(self, code: int, message: str | None = None) -> None:
        self.log_request(code)  # type: ignore[attr-defined]  # BaseHTTPRequestHandler's, via the handler
        self._status = code
        self._reason = message if message is not None else _REASONS.get(code, "")
        self._headers = [("Server", f"{self.server_version} {self.sys_version}".strip()),
                         ("Date", email.utils.formatdate(time.time(), usegmt=True))]

    def send_response_only(self, code: int, message: str | None = None) -> None:
        self._status = code
        self._reason = message if message is not None else _REASONS.get(code, "")
        self._headers = []

    def send_header(self, keyword: str, value: str) -> None:
        self._headers.append((keyword, str(value)))
        if keyword.lower() == "connection" and str(value).lower() == "close":
            self.close_connection = True

    def end_headers(self) -> None:
        self.exchange.respond(self._status, self._reason, self._headers)

    def flush_headers(self) -> None:
        self.exchange.flush()

    # ------------------------------------------------------------------ the handler's framing, done by h11

    def chunk(self, data: bytes) -> None:
        if data:
            self.exchange.write(data)
            self.exchange.flush()

    def end_stream(self) -> None:
        self.exchange.end()

    def read_body(self, limit: int) -> bytes:
        """The request body, refused with 413 past ``limit`` bytes, counted as sent and, compressed, as it
        inflates (dsim.serve.exchange.Exchange.read_body)."""
        return self.exchange.read_body(limit)

    def body_stream(self, limit: int) -> BodyStream:
        """The request body as a file read as it arrives, under the limits of ``read_body`` (a build
        context can be read by ``tarfile.open(fileobj=..., mode="r|*")`` without holding it whole)."""
        return self.exchange.body_stream(limit)


_REASONS = {100: "Continue", 101: "Switching Protocols", 200: "OK", 201: "Created", 204: "No Content",
            304: "Not Modified", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
            405: "Method Not Allowed", 408: "Request Timeout", 409: "Conflict", 413: "Payload Too Large",
            500: "Internal Server Error", 501: "Not Implemented", 503: "Service Unavailable"}


def serving_class(handler: type, state: Any) -> type[RequestAdapter]:
    """The class that handles requests: the adapter, then the handler (its routes and API logic)."""
    return type("Handler", (RequestAdapter, handler), {"state": state})


def run_request(handler_class: type[RequestAdapter], exchange: Exchange, client_address: Any) -> None:
    """Handle one request with a fresh handler instance (the stdlib's ``do_<METHOD>`` convention; the
    stdlib's ``__init__``, which would read the request itself, is not run)."""
    handler = object.__new__(handler_class)
    handler.adapt(exchange, client_address)
    method = getattr(handler, f"do_{exchange.method}", None)
    if method is None:
        handler.send_response(404)
        body = b'{"message":"page not found"}\n'
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
        return
    method()
    if handler.close_connection:
        exchange.close = True
