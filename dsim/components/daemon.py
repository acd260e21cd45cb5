"""dockerd: the API front (a worker pool) in front of the pull pipeline and the container runtime.

Every client request first waits for one of ``workers`` and holds it for ``api_service_time`` (the
``queue`` phase); the operation itself then runs in the pull pipeline (``pull.py``), the push path, the
builder or the container runtime (``runtime.py``). The Engine's verbs (``daemon_api.py``) are the one way
in: a scenario's simulated CLI (``client.py``) and ``dsim serve``'s HTTP face both call them.
"""

from __future__ import annotations

import random
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import simpy

from dsim.components.daemon_api import EngineVerbs, ImageDeletion, ImageInUse
from dsim.components.errors import ApiError
from dsim.components.host import Kernel
from dsim.components.image_store import ImageStore
from dsim.components.object_verbs import ObjectVerbs
from dsim.components.pull import Puller
from dsim.components.push import Pusher
from dsim.components.runtime import ContainerRuntime
from dsim.components.workers import WorkerPool
from dsim.domain.hosts import HostInfo
from dsim.records import Recorder, SpanKind

#: the span kinds recorded on every job's path, read once (records.py: a kind read from its class is slow)
_API = SpanKind.API

if TYPE_CHECKING:
    from dsim.components.builder import Builder

__all__ = ["ApiError", "Daemon", "ImageDeletion", "ImageInUse"]


class Daemon(EngineVerbs, ObjectVerbs):
    """One host's dockerd."""

    def __init__(self, env: simpy.Environment, host: HostInfo, kernel: Kernel, store: ImageStore, recorder: Recorder,
                 rng: random.Random, *, puller: Puller, pusher: Pusher, runtime: ContainerRuntime,
                 builder: Builder) -> None:
        """The pull pipeline, the pusher, the container runtime and the builder are this host's, built by
        world.py on the same kernel and store."""
        self.env = env
        self.host = host.name
        self.spec = host.spec
        self.kernel = kernel
        self.store = store
        self.recorder = recorder
        self.rng = rng
        self.workers = WorkerPool(env, host.spec.daemon.workers)
        self._service_time = host.spec.daemon.api_service_time
        self.puller = puller
        self.pusher = pusher
        self.runtime = runtime
        self.freezer_watchers = []
        #: ``docker build`` (builder.py)
        self.builder = builder

    def api(self, call: str, *, job: int) -> Generator[Any, Any, float]:
        """One API call: wait for a worker (the ``queue`` phase), hold it for ``api_service_time``.
        Returns the time a worker took the call (the end of the queue phase)."""
        env = self.env
        arrived = env.now
        workers = self.workers
        grant = workers.request()  # components/workers.py: no Resource events while a worker is free
        if grant.callbacks is not None:  # a worker taken at once is an event already processed: nothing to wait
            try:
                yield grant
            except BaseException:
                workers.cancel(grant)
                raise
        taken = env.now
        try:
            yield env.timeout(self._service_time.sample(self.rng))
        except GeneratorExit:  # closed unfinished with its discarded world: as SimPy's Request, no release
            raise
        except BaseException:
            workers.release()
            raise
        workers.release()
        self.recorder.span(_API, call, arrived, env.now, host=self.host, job=job, queue=taken - arrived)
        return taken
