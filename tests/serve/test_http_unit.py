"""dsim serve's HTTP layer without a server: the meter of compressed bodies and the body read as a stream,
over a socket pair with h11 parsing the request as the server does."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import socket
import tarfile
import threading
import time
from typing import Any

import h11
import pytest

from dsim.components.errors import ApiError
from dsim.serve.exchange import BodyMeter, Exchange


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress, lzma.compress])
def test_the_meter_counts_what_a_body_inflates_to(compress: object) -> None:
    """1 MiB of zeros inflates to exactly 1 MiB = 1048576 bytes: within a limit of 1 MiB, not within 1 MiB - 1,
    whatever the pieces it arrives in (here 1000 bytes)."""
    body = compress(bytes(1 << 20))  # type: ignore[operator]
    within = BodyMeter(1 << 20)
    for start in range(0, len(body), 1000):
        within.feed(body[start:start + 1000])
    assert within.inflated == 1 << 20
    over = BodyMeter((1 << 20) - 1)
    with pytest.raises(ApiError) as raised:
        over.feed(body)
    assert raised.value.status == 413


def test_the_meter_follows_concatenated_gzip_members_and_ignores_plain_and_corrupt_bodies() -> None:
    meter = BodyMeter(1000)
    meter.feed(gzip.compress(b"a" * 600) + gzip.compress(b"b" * 300))  # two members: 900 bytes
    assert meter.inflated == 900
    plain = BodyMeter(10)
    plain.feed(b"x" * 100)  # not compressed: the byte count as sent is the limit, applied elsewhere
    assert plain.inflated == 0
    corrupt = BodyMeter(10)
    corrupt.feed(b"\x1f\x8b" + b"\xff" * 100)  # not gzip after all: the reader of the body reports it
    assert corrupt.inflated == 0


class _Peer:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.h11 = h11.Connection(h11.SERVER)
        self.lock = threading.Lock()


def _exchange(request: bytes) -> tuple[Exchange, socket.socket]:
    server, client = socket.socketpair()
    server.settimeout(5)
    client.settimeout(5)
    threading.Thread(target=client.sendall, args=(request,), daemon=True).start()
    peer = _Peer(server)
    while True:
        event = peer.h11.next_event()
        if event is h11.NEED_DATA:
            peer.h11.receive_data(server.recv(65536))
            continue
        assert isinstance(event, h11.Request)
        return Exchange(peer, event), client


def test_a_compressed_context_streams_into_tarfile() -> None:
    """A gzip tar sent chunked is read member by member (``r|*``) as it arrives; the Dockerfile is found."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as archive:
        for name, text in (("Dockerfile", b"FROM alpine\n"), ("data.bin", bytes(100_000))):
            member = tarfile.TarInfo(name)
            member.size = len(text)
            archive.addfile(member, io.BytesIO(text))
    body = raw.getvalue()
    chunked = b"".join(f"{len(body[i:i + 4096]):x}\r\n".encode() + body[i:i + 4096] + b"\r\n"
                       for i in range(0, len(body), 4096)) + b"0\r\n\r\n"
    exchange, client = _exchange(b"POST /build HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked)
    stream = exchange.body_stream(1 << 20)
    with tarfile.open(fileobj=stream, mode="r|*") as archive:  # type: ignore[call-overload]  # read() suffices
        found = {member.name: archive.extractfile(member).read() for member in archive}
    assert found["Dockerfile"] == b"FROM alpine\n"
    assert len(found["data.bin"]) == 100_000
    client.close()


def test_a_stream_past_its_limit_is_refused_while_it_is_read() -> None:
    """Limit 10000: the declared 20000 bytes are refused before any is read."""
    exchange, client = _exchange(b"POST /build HTTP/1.1\r\nHost: x\r\nContent-Length: 20000\r\n\r\n")
    with pytest.raises(ApiError) as raised:
        exchange.body_stream(10_000)
    assert raised.value.status == 413 and exchange.close
    client.close()


def _read_until_close(sock: socket.socket) -> bytes:
    data = b""
    while piece := sock.recv(65536):
        data += piece
    return data


def test_a_response_without_length_is_a_raw_stream_to_the_close() -> None:
    """As dockerd answers an exec start or attach asked without ``Upgrade``: the head, then raw bytes (not
    chunks), ending when the connection closes; the head is on the wire as soon as it is given."""
    exchange, client = _exchange(b"POST /exec/x/start HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    exchange.respond(200, "OK", [("Content-Type", "application/vnd.docker.raw-stream")])
    client.settimeout(2)
    assert client.recv(65536) == b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\n"
    exchange.write(b"\x01\x00\x00\x00\x00\x00\x00\x03hi\n")
    exchange.finish()
    assert exchange.hijacked and exchange.close
    exchange.peer.sock.close()
    assert _read_until_close(client) == b"\x01\x00\x00\x00\x00\x00\x00\x03hi\n"
    client.close()


def test_a_101_hands_over_the_bytes_sent_after_the_request() -> None:
    """``Upgrade: tcp`` (the docker CLI's attach): after the 101 the handler reads what the client sent
    behind the request (its first stdin bytes) and then the socket's."""
    exchange, client = _exchange(b"POST /containers/x/attach?stdin=1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
                                 b"Upgrade: tcp\r\n\r\necho hi\n")
    exchange.respond(101, "UPGRADED", [("Connection", "Upgrade"), ("Upgrade", "tcp")])
    client.settimeout(2)
    head = client.recv(65536)
    assert head.startswith(b"HTTP/1.1 101 UPGRADED\r\n") and head.endswith(b"\r\n\r\n")
    assert exchange.read_raw(100) == b"echo hi\n"
    client.sendall(b"exit\n")
    assert exchange.read_raw(100) == b"exit\n"
    client.close()


class _HeldQueue:
    """A job queue whose ``get`` hands a job over only once ``go`` is set: a worker that took a job but was
    not yet scheduled again, as on a loaded machine."""

    def __init__(self) -> None:
        import queue

        self.inner: queue.SimpleQueue[object] = queue.SimpleQueue()
        self.go = threading.Event()

    def put(self, item: object) -> None:
        self.inner.put(item)

    def get(self) -> object:
        item = self.inner.get()
        self.go.wait(10)
        return item


def _get(port: int, path: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    return sock


def test_two_requests_at_once_get_two_workers_even_before_the_idle_one_wakes() -> None:
    """One worker is idle; a stream that never ends (docker-compose's ``/events``) and a short request (its
    ``/logs``, sent at the same moment by ``docker-compose logs``) arrive before that worker has taken the
    first: the second must get a worker of its own, not wait behind the stream (it waited 60 s for
    docker-compose's timeout when the idle worker was counted free until it ran again)."""
    from dsim.serve.http import HttpServer, Limits, tcp_listener

    release = threading.Event()

    def app(exchange: Exchange, conn: Any) -> None:
        if exchange.target == "/events":  # a stream that lasts until the test ends
            exchange.respond(200, "OK", [("Transfer-Encoding", "chunked")])
            release.wait(10)
            return
        exchange.respond(200, "OK", [("Content-Length", "2")])
        exchange.write(b"ok")

    server = HttpServer(tcp_listener("127.0.0.1", 0, 16), app, Limits())
    port = server.listener.getsockname()[1]
    held = _HeldQueue()
    server._jobs = held  # type: ignore[assignment]
    server.start()
    try:
        held.go.set()
        first = _get(port, "/first")
        assert first.recv(4096).startswith(b"HTTP/1.1 200")  # one worker exists and goes back to idle
        first.close()
        deadline = time.monotonic() + 5
        while server._idle_workers != 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        held.go.clear()
        stream = _get(port, "/events")
        deadline = time.monotonic() + 5
        while server._busy != 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        short = _get(port, "/logs")
        while server._busy != 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        held.go.set()
        short.settimeout(5)
        assert short.recv(4096).startswith(b"HTTP/1.1 200"), "the short request waited behind the stream"
        short.close()
        stream.close()
    finally:
        release.set()
        server.stop_accepting()
