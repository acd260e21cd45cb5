"""Containers on one host: create (writable layer), start (netns under the kernel lock, ports, runc),
the container's process, wait, stop (SIGTERM, SIGKILL at the timeout) and remove.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Generator
from typing import Any, cast

import simpy

from dsim.components.container import CREATED, EXITED, REMOVED, RUNNING, Container, ContainerSpec
from dsim.components.errors import ApiError
from dsim.components.host import Kernel, PortInUse
from dsim.components.image_store import ImageStore
from dsim.recorder import Recorder
from dsim.scenarios.model import HostGroup

#: Exit code of a process killed by SIGKILL (128 + 9).
SIGKILL_EXIT = 137


class ContainerRuntime:
    """The daemon's container side on one host."""

    def __init__(self, env: simpy.Environment, host: str, spec: HostGroup, kernel: Kernel, store: ImageStore,
                 recorder: Recorder, rng: random.Random) -> None:
        self.env = env
        self.host = host
        self.spec = spec
        self.kernel = kernel
        self.store = store
        self.recorder = recorder
        self.rng = rng
        self.containers: dict[str, Container] = {}
        self._ids = itertools.count(1)


    def create(self, spec: ContainerSpec, *, job: int) -> Generator[Any, Any, Container]:
        """``POST /containers/create``: 404 when the image is not local; else mount a writable layer."""
        image = self.store.images.get(spec.image)
        if image is None:
            raise ApiError(404, f"No such image: {spec.image}")
        number = next(self._ids)
        container_id = f"{self.host}-{number:06d}"
        name = spec.name or f"{self.host}-c{number}"
        if name in self.containers:
            other = self.containers[name]
            raise ApiError(409, f'Conflict. The container name "/{name}" is already in use by container '
                                f'"{other.id}". You have to remove (or rename) that container to be able to '
                                f'reuse that name.')
        yield self.env.timeout(self.spec.runtime.create.sample(self.rng))
        container = Container(container_id, name, image, spec)
        self.containers[name] = container
        return container

    def start(self, container: Container, *, job: int) -> Generator[Any, Any, None]:
        """Network sandbox under the kernel lock, port bindings, then runc create + start."""
        if container.state == RUNNING:
            return
        with self.kernel.netns_lock.request() as lock:
            yield lock
            yield self.env.timeout(self.spec.runtime.netns.sample(self.rng))
        for mapping in container.spec.ports:
            host_port = mapping.split(":")[0] if ":" in mapping else mapping
            try:
                self.kernel.bind(host_port.split("/")[0], container.name)
            except PortInUse:
                self.kernel.unbind(container.name)
                raise ApiError(500, "failed to set up container networking: driver failed programming external "
                                    f"connectivity on endpoint {container.name} ({container.id}): Bind for "
                                    f"0.0.0.0:{host_port.split('/')[0]} failed: port is already allocated") from None
        yield self.env.timeout(self.spec.runtime.start.sample(self.rng))
        container.state = RUNNING
        container.started_at = self.env.now
        container.exited = self.env.event()
        container.stop_requested = self.env.event()
        self.kernel.reserve(container.cpu_demand, container.spec.memory or 0.0)
        container.process = self.env.process(self._live(container))

    def _live(self, container: Container) -> Generator[Any, Any, None]:
        """The container's process: runs for its duration, or until stopped (SIGTERM, SIGKILL at timeout)."""
        assert container.stop_requested is not None and container.exited is not None
        duration = container.spec.duration
        events = [container.stop_requested]
        if not math.isinf(duration):
            events.append(self.env.timeout(duration))
        yield self.env.any_of(events)
        exit_code = 0
        if container.stop_requested.triggered:
            timeout = cast(float, container.stop_requested.value)
            grace = container.spec.stop_time
            yield self.env.timeout(min(grace, timeout))
            exit_code = SIGKILL_EXIT if grace > timeout else 0
        self.kernel.release(container.cpu_demand, container.spec.memory or 0.0)
        container.state = EXITED
        container.exit_code = exit_code
        container.exited.succeed(exit_code)

    def wait(self, container: Container) -> Generator[Any, Any, int]:
        """``POST /containers/{id}/wait``: returns the exit code."""
        if container.state != RUNNING:
            return container.exit_code or 0
        assert container.exited is not None
        code: int = yield container.exited
        return code

    def stop(self, container: Container, timeout: float, *, job: int) -> Generator[Any, Any, None]:
        """``docker stop``: SIGTERM, SIGKILL after ``timeout``."""
        if container.state != RUNNING:
            return
        assert container.stop_requested is not None and container.exited is not None
        if not container.stop_requested.triggered:
            container.stop_requested.succeed(timeout)
        yield container.exited

    def remove(self, container: Container, *, job: int) -> None:
        """``docker rm``: refused while running, as Docker does without ``-f``."""
        if container.state == RUNNING:
            raise ApiError(409, f"cannot remove container \"/{container.name}\": container is running: stop the "
                                "container before removing or force remove")
        self.kernel.unbind(container.name)
        container.state = REMOVED
        del self.containers[container.name]

    def ps(self) -> list[Container]:
        return [c for c in self.containers.values() if c.state in (CREATED, RUNNING, EXITED)]
