"""A client's HTTP connections to registries: which requests open a new connection and pay its handshake.

containerd's resolver (the client of Docker's default image store) builds its HTTP client for each
resolve and for each fetch or push: a fresh ``http.Transport`` with keep-alive on (containerd
``core/remotes/docker/config/hosts.go``, ``ConfigureHosts``). Within one such transport a finished request
leaves its connection idle for the next request to the same server host; Go keeps at most 2 idle
connections per host (``net/http`` ``DefaultMaxIdleConnsPerHost``), and concurrent requests each need a
connection of their own. A new connection costs ``handshake_rtts`` round trips (TCP, then TLS) before the
request's own round trip. The token server and a blob CDN are other hosts: connections of their own.
"""

from __future__ import annotations

#: Go's net/http keeps at most this many idle connections per server host (DefaultMaxIdleConnsPerHost).
MAX_IDLE_PER_HOST = 2


class ConnectionPool:
    """Idle keep-alive connections of one HTTP transport, per server host (a registry, its token server,
    its CDN). Nothing in it is timed: a request asks :meth:`take` whether it reuses a connection (no
    handshake) and hands it back with :meth:`give` when its response, body included, is read."""

    __slots__ = ("idle",)

    def __init__(self) -> None:
        self.idle: dict[str, int] = {}

    def take(self, server: str) -> bool:
        """True if an idle connection to ``server`` is reused; False if a new one is opened."""
        idle = self.idle.get(server, 0)
        if idle:
            self.idle[server] = idle - 1
            return True
        return False

    def give(self, server: str) -> None:
        """A finished request's connection goes idle; beyond the per-host limit it is closed."""
        idle = self.idle.get(server, 0)
        if idle < MAX_IDLE_PER_HOST:
            self.idle[server] = idle + 1
