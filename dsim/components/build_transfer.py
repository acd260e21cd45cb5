"""What the client sends the daemon for a build: the Dockerfile, and the build context BuildKit syncs (only
the files its COPY steps name, not those it holds from an earlier sync) or the legacy builder receives whole."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from dsim.components.build_session import BuildSession
from dsim.components.network import Network
from dsim.records import Recorder, SpanKind


class ContextTransfer:
    """Transfers from a build's client host to the daemon's host, recorded as build-context spans."""

    def __init__(self, env: simpy.Environment, host: str, network: Network, recorder: Recorder) -> None:
        self.env = env
        self.host = host
        self.network = network
        self.recorder = recorder

    def send(self, s: BuildSession, nbytes: float, what: str, *, files: int) -> Generator[Any, Any, None]:
        """Bytes from the client's host to the daemon's through the network (instant on one host)."""
        began = self.env.now
        if s.client != self.host:
            yield self.env.timeout(self.network.rtt(s.client, self.host))
        yield self.network.transfer(s.client, self.host, nbytes)
        self.recorder.span(SpanKind.BUILD_CONTEXT, what, began, self.env.now, host=self.host, job=s.job,
                           bytes=nbytes, files=files, client=s.client, builder=s.builder)

    def sync_context(self, s: BuildSession) -> Generator[Any, Any, None]:
        """"[internal] load build context": BuildKit's one local source follows only the paths the needed
        stages' COPY steps name, and diff-copies: files it holds with the same content are not resent."""
        paths = s.copy.select(s.spec.context_paths) if s.spec.context_paths else []
        held = s.copy.synced.setdefault(self.host, {})
        send = [path for path in paths if held.get(path) != s.copy.digests[path]]
        yield from self.send(s, sum(s.copy.sizes[path] for path in send), "load build context", files=len(send))
        for path in send:
            held[path] = s.copy.digests[path]
