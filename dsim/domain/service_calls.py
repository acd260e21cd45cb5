"""Service calls between containers (docs/networks-storage.md: Traffic between containers): what a
container's process asks of another container, as the model runs it (components/service_calls.py)."""

from __future__ import annotations

from dataclasses import dataclass

from dsim.distributions import Distribution, constant


@dataclass(frozen=True, slots=True)
class CallSpec:
    """``requests`` round trips to ``to`` over at most ``concurrency`` keep-alive connections: each sends
    ``request`` bytes, the server works ``server_cpu`` CPU-seconds on its host and makes its own ``calls``
    (per request, in order), then answers ``response`` bytes. ``to``: a container name or network alias
    (the embedded DNS of a user-defined network), or ``HOST:PORT`` (a port published on a host)."""

    to: str
    requests: int = 1
    concurrency: int = 1
    request: float = 0.0
    response: float = 0.0
    #: CPU-seconds of each request on the server, sampled per request
    server_cpu: Distribution = constant(0.0)
    calls: tuple[CallSpec, ...] = ()

    @property
    def host_port(self) -> tuple[str, int] | None:
        """``(host, port)`` when ``to`` is ``HOST:PORT``, else None (a name for DNS)."""
        host, colon, port = self.to.rpartition(":")
        return (host, int(port)) if colon and port.isdigit() else None
