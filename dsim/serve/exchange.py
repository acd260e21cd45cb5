"""One HTTP/1.1 request and its response on a connection, over h11 (python-hyper's sans-IO HTTP/1.1).

h11 parses the request (request line, headers, ``Content-Length`` and chunked bodies, strictly: a chunk
size such as ``-1`` is a protocol error) and frames the response; this module moves the bytes between it
and the socket, applies dsim serve's limits while the body streams in, and hands the connection over raw
when a handler switches protocols (``101 UPGRADED``, the hijack ``docker attach`` asks for with
``Upgrade: tcp``). A worker thread owns an exchange; the server's shutdown may end it from another thread
(``terminate``), so every write holds the connection's lock.
"""

from __future__ import annotations

import bz2
import contextlib
import json
import lzma
import socket
import threading
import zlib
from collections.abc import Callable
from email.message import Message
from http import HTTPStatus
from typing import Any, Protocol

import h11
from h11 import MIGHT_SWITCH_PROTOCOL  # type: ignore[attr-defined]  # public, missing from its __all__

from dsim.components.errors import ApiError

#: Bytes asked of the socket per read.
RECV = 65536
#: Output a decompressor may produce per step while a compressed body is measured.
_INFLATE_STEP = 1 << 16


class Peer(Protocol):
    """What an exchange needs of its connection (dsim.serve.http.Connection)."""

    sock: socket.socket
    h11: h11.Connection
    lock: threading.Lock


class BodyMeter:
    """Counts the uncompressed size of a body sent gzip-, bzip2- or xz-compressed (the formats a build
    context may take) while it streams in, so a small body that inflates past ``limit`` is refused at the
    first byte beyond it, without keeping what it inflates to."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.inflated = 0
        self._head = b""
        self._new: Callable[[], Any] | None = None
        self._decoder: Any = None

    def feed(self, data: bytes) -> None:
        if self._decoder is None:
            self._head += data
            if len(self._head) < 6:
                return
            self._new = _decompressor_for(self._head)
            if self._new is None:
                self.feed = self._ignore  # type: ignore[method-assign]  # plain bodies: the byte count is the limit
                return
            self._decoder = self._new()
            data, self._head = self._head, b""
        try:
            self._inflate(data)
        except (zlib.error, OSError, EOFError, lzma.LZMAError, ValueError):
            self.feed = self._ignore  # type: ignore[method-assign]  # corrupt: the reader reports it

    def _ignore(self, data: bytes) -> None:
        return None

    def _inflate(self, data: bytes) -> None:
        decoder = self._decoder
        while True:
            if hasattr(decoder, "unconsumed_tail"):  # zlib's: input it did not take yet waits there
                out = decoder.decompress(data, _INFLATE_STEP)
                data = decoder.unconsumed_tail
                more = bool(data)
            else:
                out = decoder.decompress(data, _INFLATE_STEP)
                data = b""
                more = not decoder.needs_input and not decoder.eof
            self.inflated += len(out)
            if self.inflated > self.limit:
                raise ApiError(413, f"request body exceeds dsim serve's limit of {self.limit} bytes once "
                                    f"decompressed")
            if decoder.eof and decoder.unused_data and self._new is not None:  # another member follows
                data = decoder.unused_data
                decoder = self._decoder = self._new()
                continue
            if not more:
                return


def _decompressor_for(head: bytes) -> Callable[[], Any] | None:
    if head.startswith(b"\x1f\x8b"):
        return lambda: zlib.decompressobj(16 + zlib.MAX_WBITS)
    if head.startswith(b"BZh"):
        return bz2.BZ2Decompressor
    if head.startswith(b"\xfd7zXZ\x00"):
        return lzma.LZMADecompressor
    return None


class Exchange:
    """A request received and the response being sent (both through the connection's h11 state)."""

    def __init__(self, peer: Peer, request: h11.Request) -> None:
        self.peer = peer
        self.method = request.method.decode("ascii")
        self.target = request.target.decode("latin-1")
        self.http_version = request.http_version.decode("ascii")
        self.headers = Message()
        for name, value in request.headers.raw_items():
            self.headers[name.decode("latin-1")] = value.decode("latin-1")
        self.body_done = False
        self.close = False  # the connection cannot carry another request after this one
        self.started = False  # the response head was sent (or is pending)
        self.done = False  # the response is complete
        self.hijacked = False
        self.terminated = False  # ended by the server's shutdown: the handler's further writes fail
        self.chunked = False
        self.content_type = ""
        self._pending = b""  # bytes h11 made that are not sent yet (sent before the call returns)
        self._raw_in = b""  # after a hijack: bytes the client sent beyond the request
        self._limit: int | None = None  # while read_body reads: its limit, and the bytes received so far
        self._received = 0

    # ------------------------------------------------------------------ reading the request body

    def _recv(self) -> bytes:
        try:
            return self.peer.sock.recv(RECV)
        except TimeoutError:
            self.close = True
            raise ApiError(408, "timed out reading the request body") from None

    def _event(self) -> Any:
        conn = self.peer.h11
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as err:
                self.close = True
                raise ApiError(400, f"malformed request: {err}") from None
            if event is not h11.NEED_DATA:
                return event
            if self._limit is not None and self._received + self.announced() > self._limit:
                self._too_large(self._limit)  # a chunk announced past the limit: refused before its bytes
            if conn.they_are_waiting_for_100_continue:
                self._send(conn.send(h11.InformationalResponse(status_code=100, headers=[])) or b"")
            conn.receive_data(self._recv())

    def read_some(self) -> bytes:
        """The next piece of the request body; b"" at its end."""
        while not self.body_done:
            event = self._event()
            if isinstance(event, h11.Data):
                if event.data:
                    return bytes(event.data)
                continue
            self.body_done = True  # EndOfMessage (ConnectionClosed cannot come before it)
        return b""

    def announced(self) -> int:
        """Bytes the client has announced but not sent yet: the rest of the current chunk (h11's chunk reader
        keeps it; without it, 0 and the limit applies as the bytes arrive)."""
        reader = getattr(self.peer.h11, "_reader", None)
        remaining = getattr(reader, "_bytes_in_chunk", 0)
        return remaining if isinstance(remaining, int) else 0

    def read_body(self, limit: int) -> bytes:
        """The whole body, refused (413, then the connection closes) past ``limit`` bytes, counted as sent
        and, for a compressed body, as it inflates; refused from the declared length or the announced
        chunk size before the bytes are read."""
        return self.body_stream(limit).read()

    def body_stream(self, limit: int) -> BodyStream:
        """The body as a file read as it arrives, under the limits of ``read_body``."""
        declared = self.headers.get("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            self._too_large(limit)
        return BodyStream(self, limit)

    def _too_large(self, limit: int) -> None:
        self.close = True
        raise ApiError(413, f"request body exceeds dsim serve's limit of {limit} bytes")

    def drain(self, limit: int) -> bool:
        """Read and drop what is left of the request body (up to ``limit`` bytes): True if it ended."""
        total = 0
        try:
            while piece := self.read_some():
                total += len(piece)
                if total > limit:
                    return False
        except (ApiError, OSError):
            return False
        return True

    def read_raw(self, size: int) -> bytes:
        """After a hijack: the client's bytes (those that came with the request first)."""
        if self._raw_in:
            data, self._raw_in = self._raw_in[:size], self._raw_in[size:]
            return data
        return self.peer.sock.recv(size)

    # ------------------------------------------------------------------ writing the response

    def _send(self, data: bytes) -> None:
        """Send all of ``data``; a client that is gone or stopped reading (the I/O timeout) is a broken pipe,
        which the handler unwinds from quietly."""
        if not data:
            return
        try:
            self.peer.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close = True
            raise
        except OSError as err:
            self.close = True
            raise BrokenPipeError(f"the client stopped reading: {err}") from None

    def respond(self, status: int, reason: str, headers: list[tuple[str, str]]) -> None:
        """Send the response head. ``101``, or a response with neither ``Content-Length`` nor
        ``Transfer-Encoding`` (a raw stream ending at the close, as dockerd writes an attach or exec
        without ``Upgrade``), hands the connection over raw."""
        with self.peer.lock:
            if self.terminated:
                raise BrokenPipeError("dsim serve is stopping")
            if self.started:
                raise RuntimeError(f"a second response ({status}) to one request")
            self.started = True
            if self.close and status != 101:  # the request could not be read whole: say the connection ends
                headers = [*headers, ("Connection", "close")]
            if status == 101:
                self._switch(reason, headers)
                return
            framed = any(name.lower() in ("content-length", "transfer-encoding") for name, _ in headers)
            if not framed and status >= 200 and status not in (204, 304) and self.method != "HEAD":
                self._hijack(_raw_head(status, reason, headers))
                return
            conn = self.peer.h11
            encoded = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]
            self._pending = conn.send(h11.Response(status_code=status, headers=encoded, reason=reason.encode()))
            for name, value in headers:
                low = name.lower()
                if low == "content-type":
                    self.content_type = value
                elif low == "transfer-encoding" and "chunked" in value.lower():
                    self.chunked = True
                elif low == "connection" and "close" in value.lower():
                    self.close = True
            if conn.our_state is h11.SEND_BODY and (
                    self.method == "HEAD" or status in (204, 304) or
                    any(name.lower() == "content-length" and value.strip() == "0" for name, value in headers)):
                self._pending += conn.send(h11.EndOfMessage()) or b""
            if conn.our_state is not h11.SEND_BODY:
                self.done = True
            self._flush_locked()  # the head goes now: the handler may use the socket itself next

    def _switch(self, reason: str, headers: list[tuple[str, str]]) -> None:
        """``101``: the connection leaves HTTP; its bytes belong to the handler from now on."""
        conn = self.peer.h11
        while not self.body_done:  # the request must be complete before a protocol switch
            self.read_some()
        encoded = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]
        if conn.their_state is MIGHT_SWITCH_PROTOCOL:
            self._hijack(conn.send(h11.InformationalResponse(status_code=101, headers=encoded,
                                                             reason=reason.encode())) or b"")
        else:  # no ``Upgrade`` asked for (an older client): dockerd hijacks the connection all the same
            self._hijack(_raw_head(101, reason, headers))

    def _hijack(self, head: bytes) -> None:
        """Send ``head`` and leave HTTP: from now on the handler's bytes go raw both ways, until the close."""
        self._raw_in = self.peer.h11.trailing_data[0] if self.body_done else b""
        self.hijacked = self.done = self.close = True
        self._send(head)
        self.peer.sock.settimeout(None)  # no deadlines on a hijacked connection (dockerd sets none): it lasts
        # as long as the process; the server's stop ends it (terminate shuts the socket down)

    def write(self, data: bytes) -> None:
        """Body bytes (framed by h11: a chunk of a chunked response), or raw bytes after a hijack."""
        with self.peer.lock:
            if self.terminated:
                raise BrokenPipeError("dsim serve is stopping")
            if self.hijacked:
                self._send(bytes(data))
                return
            if not self.started:
                raise RuntimeError("response body written before its head")
            if not data or (self.done and self.method == "HEAD"):
                return  # HEAD: the body is left out, as for GET's headers
            conn = self.peer.h11
            out = self._pending + (conn.send(h11.Data(data=bytes(data))) or b"")
            self._pending = b""
            self._send(out)

    def end(self) -> None:
        """End a response whose length was not declared (the terminating chunk)."""
        with self.peer.lock:
            if self.terminated:
                raise BrokenPipeError("dsim serve is stopping")
            self._end_locked()

    def _end_locked(self) -> None:
        conn = self.peer.h11
        if self.started and not self.done and conn.our_state is h11.SEND_BODY:
            self._pending += conn.send(h11.EndOfMessage()) or b""
            self.done = True
        self._flush_locked()

    def flush(self) -> None:
        with self.peer.lock:
            if not self.terminated:
                self._flush_locked()

    def _flush_locked(self) -> None:
        out, self._pending = self._pending, b""
        self._send(out)

    def finish(self) -> None:
        """After the handler: a response with a declared length must be complete; one never begun is a 500."""
        with self.peer.lock:
            if self.terminated or self.hijacked:
                self.close = True
                return
            if not self.started:
                if not self.close:  # a handler that neither answered nor gave the connection up: a bug
                    self._pending = error_response(self.peer.h11, 500, "dsim serve: the request got no answer")
                    self.started = self.done = True
                    self._flush_locked()
                self.close = True
                return
            if not self.done:
                if self.chunked:  # a stream the handler left open (it stopped writing): cut, not completed
                    self.close = True
                else:
                    try:
                        self._end_locked()
                    except h11.LocalProtocolError:  # fewer bytes than its Content-Length said
                        self.close = True
                        return
            self._flush_locked()

    def terminate(self, message: str) -> None:
        """The server is stopping: end this exchange well-formed, whatever the handler is doing. Not begun:
        a 503. A JSON stream under way: its last line is Docker's error message (the CLI prints it), then
        the terminating chunk. Anything else is cut. The handler's further writes raise BrokenPipeError."""
        with self.peer.lock:
            if self.terminated:
                return
            self.terminated = True
            self.close = True
            conn = self.peer.h11
            try:
                if not self.started:
                    body = (json.dumps({"message": message}) + "\n").encode()
                    out = conn.send(h11.Response(status_code=503, reason=b"Service Unavailable", headers=[
                        (b"Content-Type", b"application/json"), (b"Content-Length", str(len(body)).encode()),
                        (b"Connection", b"close")])) or b""
                    out += (conn.send(h11.Data(data=body)) or b"") + (conn.send(h11.EndOfMessage()) or b"")
                    self.started = self.done = True
                    self._send(out)
                elif (not self.done and not self.hijacked and conn.our_state is h11.SEND_BODY and self.chunked
                      and self.content_type.startswith("application/json")):
                    line = json.dumps({"errorDetail": {"message": message}, "error": message}) + "\r\n"
                    self._pending += conn.send(h11.Data(data=line.encode())) or b""
                    self._end_locked()
            except (OSError, h11.LocalProtocolError):
                pass
        self.peer_shutdown()

    def peer_shutdown(self) -> None:
        with contextlib.suppress(OSError):
            self.peer.sock.shutdown(socket.SHUT_RDWR)


class BodyStream:
    """A request body as a readable file (``read``), pulled from the connection as it is read, refused
    with 413 past its limit in bytes sent or, compressed, in bytes it inflates to (BodyMeter)."""

    def __init__(self, exchange: Exchange, limit: int) -> None:
        self._exchange = exchange
        self._limit = limit
        self._meter = BodyMeter(limit)
        self._buffer = b""
        exchange._limit, exchange._received = limit, 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        parts = [self._buffer]
        held = len(self._buffer)
        while size < 0 or held < size:
            piece = self._next()
            if not piece:
                break
            parts.append(piece)
            held += len(piece)
        data = b"".join(parts)
        if size < 0:
            self._buffer = b""
            return data
        self._buffer = data[size:]
        return data[:size]

    def _next(self) -> bytes:
        exchange = self._exchange
        try:
            piece = exchange.read_some()
            exchange._received += len(piece)
            if exchange._received > self._limit:
                exchange._too_large(self._limit)
            self._meter.feed(piece)
        except BaseException:
            exchange._limit = None
            raise
        if not piece:
            exchange._limit = None
        return piece


def _raw_head(status: int, reason: str, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}"] + [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def error_response(conn: h11.Connection, status: int, message: str) -> bytes:
    """A JSON error answer (Docker's ``{"message": ...}``) that closes the connection, as bytes to send."""
    body = (json.dumps({"message": message}) + "\n").encode()
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = ""
    try:
        return ((conn.send(h11.Response(status_code=status, reason=reason.encode(), headers=[
            (b"Content-Type", b"application/json"), (b"Content-Length", str(len(body)).encode()),
            (b"Connection", b"close")])) or b"") + (conn.send(h11.Data(data=body)) or b"")
                + (conn.send(h11.EndOfMessage()) or b""))
    except h11.LocalProtocolError:  # no request line was understood: h11 will not frame an answer
        return (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                f"Connection: close\r\n\r\n").encode() + body
