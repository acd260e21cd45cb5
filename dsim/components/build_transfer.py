"""What the client sends the daemon for a build: the Dockerfile, and the build context BuildKit syncs (only
the files its COPY steps name, not those it holds from an earlier sync) or the legacy builder receives whole.

The daemon lands what it receives as it arrives: BuildKit's file sync writes each file into the local
source's snapshot and hashes its content for the cache keys of the COPY steps that read it (fsutil's
receiver with a content hasher); the legacy builder extracts the context tar and hashes every file
(tarsum). Both are the same work: ``bytes / hash_rate`` on one core and the bytes written to the disk,
alongside the transfer (layer_work.py)."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from dsim.components.build_session import BuildSession
from dsim.components.layer_work import LayerWork
from dsim.components.network import Network
from dsim.records import Recorder, SpanKind


class ContextTransfer:
    """Transfers from a build's client host to the daemon's host, recorded as build-context spans."""

    def __init__(self, env: simpy.Environment, host: str, network: Network, recorder: Recorder,
                 work: LayerWork) -> None:
        self.env = env
        self.work = work
        self.host = host
        self.network = network
        self.recorder = recorder

    def send(self, s: BuildSession, nbytes: float, what: str, *, files: int,
             landed: float = 0.0) -> Generator[Any, Any, None]:
        """Bytes from the client's host to the daemon's through the network (instant on one host), hashed
        and written on the daemon's host as they arrive (``landed`` of them: the context files; the
        Dockerfile's few KB are read in memory): done when the slowest of the three is."""
        began = self.env.now
        if s.client != self.host:
            yield self.env.timeout(self.network.rtt(s.client, self.host))
        sent = self.network.transfer(s.client, self.host, nbytes)
        if landed > 0:
            yield self.env.all_of([sent, self.env.process(self.work.hash_and_write(landed))])
        else:
            yield sent
        self.recorder.span(SpanKind.BUILD_CONTEXT, what, began, self.env.now, host=self.host, job=s.job,
                           bytes=nbytes, files=files, client=s.client, builder=s.builder)

    def sync_context(self, s: BuildSession) -> Generator[Any, Any, None]:
        """"[internal] load build context": BuildKit's one local source follows only the paths the needed
        stages' COPY steps name, and diff-copies: files it holds with the same content are not resent."""
        paths = s.copy.select(s.spec.context_paths) if s.spec.context_paths else []
        held = s.copy.synced.setdefault(self.host, {})
        send = [path for path in paths if held.get(path) != s.copy.digests[path]]
        nbytes = sum(s.copy.sizes[path] for path in send)
        yield from self.send(s, nbytes, "load build context", files=len(send), landed=nbytes)
        for path in send:
            held[path] = s.copy.digests[path]
