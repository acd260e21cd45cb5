"""dsim serve's HTTP/1.1 server: sockets, threads and limits around h11 (dsim.serve.exchange).

One I/O thread accepts connections and reads request heads for all of them at once (``selectors``): a
connection costs a thread only while one of its requests is being handled, so clients that send half a
request, or keep idle connections open, hold no thread. A complete head goes to a bounded pool of worker
threads (``max_requests``); a request beyond it is answered ``503`` at once, never queued into a hang.
Limits (docs/serve.md: Limits): open connections (``max_connections``, beyond which the server stops
accepting and the kernel's listen queue holds the rest, as Go's ``netutil.LimitListener`` does), a
deadline for a request head (``header_timeout``, also how long an idle keep-alive connection is kept),
a timeout for each read and write while a request is handled (``io_timeout``), and the largest request
head (``max_header_bytes``, Go's ``http.DefaultMaxHeaderBytes``: 1 MiB). The listen queue is the
system's ``somaxconn``, as Go's listeners ask for (dockerd's).
"""

from __future__ import annotations

import contextlib
import os
import queue
import selectors
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import h11

from dsim.serve.exchange import Exchange, error_response


def somaxconn() -> int:
    """The kernel's cap on a listen queue (Go's listeners ask for it: net/sock_linux.go)."""
    try:
        with open("/proc/sys/net/core/somaxconn") as handle:
            return max(128, int(handle.read().strip()))
    except (OSError, ValueError):
        return 4096


def default_max_connections() -> int:
    """1000, or fewer if the process may not open that many files (each connection is one)."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, OSError, ValueError):
        return 1000
    if soft == resource.RLIM_INFINITY:
        return 1000
    return max(16, min(1000, soft - 64))


@dataclass(frozen=True)
class Limits:
    """The server's limits (docs/serve.md: Limits)."""

    max_connections: int = 1000
    max_requests: int = 256
    header_timeout: float = 60.0
    io_timeout: float = 60.0
    max_header_bytes: int = 1 << 20
    max_drain: int = 1 << 20  # an unread request body up to this is read and dropped to keep the connection
    backlog: int = field(default_factory=somaxconn)


class Connection:
    """A client connection: its socket, its h11 state, and a lock for writers."""

    def __init__(self, sock: socket.socket, peer: str | tuple[str, int], limits: Limits) -> None:
        self.sock = sock
        self.peer = peer
        self.h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=limits.max_header_bytes)
        self.lock = threading.Lock()
        self.deadline = time.monotonic() + limits.header_timeout
        self.exchange: Exchange | None = None


#: What the server runs for each request (in a worker thread).
App = Callable[[Exchange, Connection], None]


class HttpServer:
    """Listens on one socket and serves ``app`` under ``limits`` until ``close``."""

    def __init__(self, listener: socket.socket, app: App, limits: Limits, verbose: bool = False) -> None:
        self.listener = listener
        self.app = app
        self.limits = limits
        self.verbose = verbose
        listener.setblocking(False)
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)  # one pending byte is enough to wake the loop: never block on it
        self._lock = threading.Lock()
        self._open = 0  # connections open
        self._busy = 0  # requests being handled (each one a worker)
        self._idle_workers = 0
        self._workers: list[threading.Thread] = []
        self._jobs: queue.SimpleQueue[tuple[Connection, h11.Request]] = queue.SimpleQueue()
        self._returned: queue.SimpleQueue[Connection] = queue.SimpleQueue()
        self._waiting: dict[Connection, float] = {}  # connections whose next request head is awaited
        self._active: set[Connection] = set()  # connections with a request being handled
        self._accepting = True
        self._stopping = False
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ life cycle

    def start(self) -> None:
        self._selector.register(self.listener, selectors.EVENT_READ, None)
        self._selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._thread = threading.Thread(target=self._io_loop, name="dsim-http", daemon=True)
        self._thread.start()

    def stop_accepting(self) -> None:
        """Close the listening socket (new clients are refused) and the connections waiting for a request."""
        with self._lock:
            self._stopping = True
        self._wake()
        if self._thread is not None:
            self._thread.join(5)
        with contextlib.suppress(OSError):
            self.listener.close()

    def active(self) -> int:
        with self._lock:
            return len(self._active)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no request is being handled (True), or ``timeout`` wall seconds (False)."""
        deadline = time.monotonic() + timeout
        while self.active():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True

    def terminate(self, message: str) -> None:
        """End every request still being handled (Exchange.terminate: well-formed, then closed)."""
        with self._lock:
            exchanges = [conn.exchange for conn in self._active if conn.exchange is not None]
        for exchange in exchanges:
            exchange.terminate(message)

    # ------------------------------------------------------------------ the I/O thread

    def _wake(self) -> None:
        """Make the I/O thread look at its queues (from another thread: it sees them anyway after a pass)."""
        if self._thread is not None and threading.get_ident() == self._thread.ident:
            return
        with contextlib.suppress(OSError):  # BlockingIOError: wake-ups are already pending
            self._wake_w.send(b"x")

    def _io_loop(self) -> None:
        last_scan = time.monotonic()
        while True:
            with self._lock:
                stopping = self._stopping
            if stopping:
                self._close_waiting()
                return
            for key, _ in self._selector.select(timeout=0.25):
                if key.data is None:
                    self._accept()
                elif key.data == "wake":
                    with contextlib.suppress(OSError):
                        while self._wake_r.recv(4096):
                            pass
                else:
                    self._readable(key.data)
            self._take_returned()
            self._resume_accepting()
            now = time.monotonic()
            if now - last_scan >= 0.25:
                last_scan = now
                for conn, deadline in list(self._waiting.items()):
                    if deadline <= now:
                        self._timed_out(conn)

    def _accept(self) -> None:
        while self._accepting:
            try:
                sock, peer = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as err:  # out of files, or the like: wait for connections to close
                self._log(f"accept failed: {err}")
                self._pause_accepting()
                return
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setblocking(False)
            conn = Connection(sock, peer, self.limits)
            with self._lock:
                self._open += 1
                full = self._open >= self.limits.max_connections
            self._watch(conn)
            if full:
                self._pause_accepting()

    def _pause_accepting(self) -> None:
        if self._accepting:
            self._accepting = False
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(self.listener)

    def _resume_accepting(self) -> None:
        if not self._accepting:
            with self._lock:
                room = self._open < self.limits.max_connections
            if room:
                self._accepting = True
                self._selector.register(self.listener, selectors.EVENT_READ, None)

    def _watch(self, conn: Connection) -> None:
        conn.deadline = time.monotonic() + self.limits.header_timeout
        self._waiting[conn] = conn.deadline
        self._selector.register(conn.sock, selectors.EVENT_READ, conn)

    def _unwatch(self, conn: Connection) -> None:
        self._waiting.pop(conn, None)
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(conn.sock)

    def _readable(self, conn: Connection) -> None:
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # reset by the client: nothing to answer
            self._unwatch(conn)
            self._close(conn)
            return
        conn.h11.receive_data(data)
        self._next_request(conn)

    def _next_request(self, conn: Connection) -> None:
        """Look for a complete request head in what the connection has sent (I/O thread)."""
        try:
            event = conn.h11.next_event()
        except h11.RemoteProtocolError as err:
            self._unwatch(conn)
            self._answer_and_close(conn, err.error_status_hint, f"malformed request: {err}")
            return
        if event is h11.NEED_DATA:
            if conn not in self._waiting:
                self._watch(conn)
            return
        if isinstance(event, h11.Request):
            self._unwatch(conn)
            self._dispatch(conn, event)
            return
        self._unwatch(conn)  # ConnectionClosed (or PAUSED after an error): the client is gone
        self._close(conn)

    def _timed_out(self, conn: Connection) -> None:
        self._unwatch(conn)
        if conn.h11.their_state is h11.IDLE and not conn.h11.trailing_data[0]:
            self._close(conn)  # an idle keep-alive connection: closed without a word, as Go's IdleTimeout
            return
        self._answer_and_close(conn, 408, "timed out waiting for the request")

    def _answer_and_close(self, conn: Connection, status: int, message: str) -> None:
        """A short answer on a connection no worker holds (blocking, bounded by a short timeout)."""
        data = error_response(conn.h11, status, message)
        try:
            conn.sock.settimeout(1.0)
            conn.sock.sendall(data)
            conn.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        self._close(conn)

    def _dispatch(self, conn: Connection, request: h11.Request) -> None:
        with self._lock:
            busy = self._busy >= self.limits.max_requests or self._stopping
            if not busy:
                self._busy += 1
                self._active.add(conn)
                # An idle worker is taken now, not when it next runs: two requests dispatched before it wakes
                # would otherwise share it, the second waiting behind the first however long that lasts. With
                # none idle, every worker is busy (workers = busy + idle), so a new one stays within the limit.
                spawn = self._idle_workers == 0
                if spawn:
                    worker = threading.Thread(target=self._work, name=f"dsim-http-{len(self._workers)}",
                                              daemon=True)
                    self._workers.append(worker)
                else:
                    self._idle_workers -= 1
        if busy:
            message = ("dsim serve is stopping" if self._stopping else
                       f"dsim serve is busy: {self.limits.max_requests} requests are being handled "
                       "(--max-requests); try again")
            self._answer_and_close(conn, 503, message)
            return
        if spawn:
            worker.start()
        self._jobs.put((conn, request))

    def _take_returned(self) -> None:
        """Connections a worker handed back after a response, to wait for their next request here."""
        while True:
            try:
                conn = self._returned.get_nowait()
            except queue.Empty:
                return
            try:
                conn.sock.setblocking(False)
            except OSError:
                self._close(conn)
                continue
            self._next_request(conn)

    def _close_waiting(self) -> None:
        for conn in list(self._waiting):
            self._unwatch(conn)
            self._close(conn)
        while True:
            try:
                self._close(self._returned.get_nowait())
            except queue.Empty:
                break

    def _close(self, conn: Connection) -> None:
        with contextlib.suppress(OSError):
            conn.sock.close()
        with self._lock:
            self._open -= 1
        self._wake()

    # ------------------------------------------------------------------ workers

    def _work(self) -> None:
        """Handle jobs as long as the process lives (daemon threads). A worker is made for a job; done with it,
        it counts itself idle (``_idle_workers``), and the next dispatch takes it from that count."""
        while True:
            conn, request = self._jobs.get()
            keep = False
            try:
                keep = self._serve(conn, request)
            except BaseException as err:  # never the worker's end (it counts itself idle again below): report, drop
                print(f"dsim serve: internal error on a connection: {type(err).__name__}: {err}", file=sys.stderr)
            finally:
                with self._lock:
                    unread = conn.exchange is not None and not conn.exchange.body_done
                    self._busy -= 1
                    self._active.discard(conn)
                    conn.exchange = None
                    stopping = self._stopping
                    self._idle_workers += 1
                if keep and not stopping:
                    self._returned.put(conn)
                    self._wake()
                else:
                    self._shut(conn, linger=unread)

    def _serve(self, conn: Connection, request: h11.Request) -> bool:
        """Handle requests on ``conn`` while complete ones are at hand; True to keep the connection."""
        conn.sock.settimeout(self.limits.io_timeout)
        while True:
            exchange = Exchange(conn, request)
            with self._lock:
                conn.exchange = exchange
            try:
                self.app(exchange, conn)
                exchange.finish()
            except OSError as err:  # the client went away (reset, broken pipe, timeout): nothing to say
                self._log(f"{exchange.method} {exchange.target}: connection lost ({type(err).__name__})")
                return False
            if exchange.close or not exchange.done:
                return False
            if not exchange.body_done and not exchange.drain(self.limits.max_drain):
                return False
            if conn.h11.our_state is not h11.DONE or conn.h11.their_state is not h11.DONE:
                return False
            try:
                conn.h11.start_next_cycle()
                event = conn.h11.next_event()
            except h11.ProtocolError:
                return False
            if not isinstance(event, h11.Request):
                return event is h11.NEED_DATA  # wait for the next head in the I/O thread
            request = event  # a pipelined request already here

    def _shut(self, conn: Connection, linger: bool) -> None:
        """Close; with ``linger`` (the request body was not all read) so that the client still reads the
        answer: stop sending, read and drop briefly what it still sends, then close (a close with unread
        data would reset the connection and could discard the answer)."""
        try:
            conn.sock.shutdown(socket.SHUT_WR)
            if linger:
                conn.sock.settimeout(0.5)
                deadline = time.monotonic() + 2.0
                dropped = 0
                while time.monotonic() < deadline and dropped < self.limits.max_drain:
                    piece = conn.sock.recv(65536)
                    if not piece:
                        break
                    dropped += len(piece)
        except OSError:
            pass
        self._close(conn)

    def _log(self, text: str) -> None:
        if self.verbose:
            print(f"dsim serve: {text}", file=sys.stderr, flush=True)


def tcp_listener(host: str, port: int, backlog: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return sock


def socket_answers(path: str) -> bool:
    """Whether something accepts connections on the Unix socket ``path`` (a live server)."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(path)
    except OSError:
        return False
    finally:
        probe.close()
    return True


def unix_listener(path: str, backlog: int) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        os.chmod(path, 0o660)  # as dockerd's socket: owner and group
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return sock
