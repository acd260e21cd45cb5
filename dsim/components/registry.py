"""A registry: each request pays the path's round trip plus the registry's own latency; blobs stream
through the network model from the registry's node; token auth and per-client pull limits as Docker Hub.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator
from typing import Any

import simpy

from dsim.components.network import Network
from dsim.recorder import Recorder
from dsim.scenarios.model import Registry
from dsim.scenarios.resolve import ImageInfo, LayerInfo

#: Docker Hub's answer to a manifest GET over the pull limit (docker-facts.md: Registries).
RATE_LIMIT_MESSAGE = (
    "toomanyrequests: You have reached your pull rate limit. You may increase the limit by authenticating "
    "and upgrading: https://www.docker.com/increase-rate-limit"
)


class RegistryError(Exception):
    """A request the registry refused; the message is the one Docker prints."""


class RegistryServer:
    def __init__(self, env: simpy.Environment, name: str, spec: Registry, network: Network,
                 recorder: Recorder) -> None:
        self.env = env
        self.name = name
        self.spec = spec
        self.network = network
        self.recorder = recorder
        self._pulls: dict[str, deque[float]] = {}

    def request(self, client: str, what: str, *, job: int, status: int = 200) -> Generator[Any, Any, None]:
        """One HTTP request/response with no body worth counting: round trip plus registry latency."""
        start = self.env.now
        yield self.env.timeout(self.network.rtt(client, self.name) + self.spec.latency)
        self.recorder.span("request", what, start, self.env.now, host=client, job=job, registry=self.name,
                           status=status)

    def _over_limit(self, client: str) -> bool:
        """Sliding window of manifest GETs per client host."""
        limit = self.spec.rate_limit
        if limit is None:
            return False
        window = self._pulls.setdefault(client, deque())
        while window and window[0] <= self.env.now - limit.per:
            window.popleft()
        if len(window) >= limit.pulls:
            return True
        window.append(self.env.now)
        return False

    def resolve(self, client: str, image: ImageInfo, *, job: int, have_manifest: bool) -> Generator[Any, Any, None]:
        """HEAD the tag, fetch a token when ``auth: token``, GET manifest and config unless already local.

        An unchanged tag that is already local costs only the HEAD (+ token) and does not count toward
        the pull limit (docker-facts.md: Pull 8).
        """
        manifest = f"/v2/{image.repository}/manifests/{image.tag}"
        if self.spec.auth == "token":
            yield from self.request(client, f"HEAD {manifest}", job=job, status=401)
            yield from self.request(client, "GET token", job=job)
        yield from self.request(client, f"HEAD {manifest}", job=job)
        if have_manifest:
            return
        if self._over_limit(client):
            yield from self.request(client, f"GET {manifest}", job=job, status=429)
            raise RegistryError(RATE_LIMIT_MESSAGE)
        yield from self.request(client, f"GET {manifest}", job=job)
        yield from self.request(client, f"GET /v2/{image.repository}/blobs/config", job=job)

    def fetch_blob(self, client: str, layer: LayerInfo, *, job: int) -> Generator[Any, Any, None]:
        """GET the blob: the request's round trip, then its bytes through the network."""
        yield from self.request(client, f"GET blob {layer.digest[7:19]}", job=job)
        yield self.network.transfer(self.name, client, layer.size)
