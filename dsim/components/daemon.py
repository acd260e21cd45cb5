"""dockerd: the API front (a worker pool), the pull pipeline, and container create/start/stop/remove.

The pull follows containerd's image store (docker-facts.md: Pull): resolve the tag at the registry,
skip layers whose chain is present ("Already exists"), fetch missing blobs through the daemon-wide
download slots in layer order (one download per blob however many pulls want it), and unpack strictly
in layer order, one layer at a time, while later downloads go on.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Generator
from typing import Any

import simpy

from dsim.components.container import CREATED, EXITED, REMOVED, RUNNING, Container, ContainerSpec
from dsim.components.host import Kernel, PortInUse
from dsim.components.image_store import DiskFull, ImageStore
from dsim.components.registry import RegistryError, RegistryServer
from dsim.recorder import Recorder
from dsim.scenarios.resolve import HostInfo, ImageInfo, LayerInfo

#: Wait between download attempts: attempt x 5 s (moby daemon/internal/distribution/xfer/download.go).
RETRY_BACKOFF_S = 5.0
#: Exit code of a process killed by SIGKILL (128 + 9).
SIGKILL_EXIT = 137


class ApiError(Exception):
    """An error response of the Engine API; ``str()`` is what the CLI prints after 'Error response from daemon: '."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Daemon:
    """One host's dockerd."""

    def __init__(self, env: simpy.Environment, host: HostInfo, kernel: Kernel, store: ImageStore,
                 registries: dict[str, RegistryServer], images: dict[str, ImageInfo], recorder: Recorder,
                 rng: random.Random) -> None:
        self.env = env
        self.host = host.name
        self.spec = host.spec
        self.kernel = kernel
        self.store = store
        self.registries = registries
        self.images = images
        self.recorder = recorder
        self.rng = rng
        self.workers = simpy.Resource(env, capacity=host.spec.daemon.workers)
        self.download_slots = simpy.Resource(env, capacity=host.spec.daemon.max_concurrent_downloads)
        self.containers: dict[str, Container] = {}
        self._ids = itertools.count(1)

    # ------------------------------------------------------------ API front

    def api(self, call: str, *, job: int) -> Generator[Any, Any, float]:
        """One API call: wait for a worker (the ``queue`` phase), hold it for ``api_service_time``."""
        arrived = self.env.now
        with self.workers.request() as request:
            yield request
            wait = self.env.now - arrived
            yield self.env.timeout(self.spec.daemon.api_service_time.sample(self.rng))
        self.recorder.span("api", call, arrived, self.env.now, host=self.host, job=job, queue=wait)
        return wait

    # ------------------------------------------------------------ pull

    def pull(self, ref: str, *, job: int) -> Generator[Any, Any, None]:
        """``docker pull``: resolve, download missing blobs through the slots, unpack in order, tag."""
        image = self.images[ref]
        registry = self.registries[image.registry]
        started = self.env.now
        up_to_date = self.store.complete(image)
        try:
            yield from registry.resolve(self.host, image, job=job, have_manifest=up_to_date)
        except RegistryError as err:
            raise ApiError(500, str(err)) from None
        if up_to_date:
            self.store.tag(image)
            self.recorder.span("pull_image", ref, started, self.env.now, host=self.host, job=job,
                               status="Image is up to date", bytes=0)
            return
        missing = [layer for layer in image.layers if layer.chain_id not in self.store.chains]
        fetched = {layer.digest: self._blob(layer, registry, job) for layer in missing}
        for layer in image.layers:
            if layer.chain_id in self.store.chains and layer not in missing:
                self.recorder.span("pull_layer", layer.digest, started, started, host=self.host, job=job,
                                   image=ref, status="Already exists")
        for layer in missing:
            try:
                yield fetched[layer.digest]
                yield from self._unpack(layer, image, job)
            except (RegistryError, DiskFull) as err:
                raise ApiError(500, str(err)) from None
            self.recorder.span("pull_layer", layer.digest, started, self.env.now, host=self.host, job=job,
                               image=ref, status="Pull complete")
        self.store.tag(image)
        self.recorder.span("pull_image", ref, started, self.env.now, host=self.host, job=job,
                           status="Downloaded newer image", bytes=sum(layer.size for layer in missing))

    def _blob(self, layer: LayerInfo, registry: RegistryServer, job: int) -> simpy.Event:
        """An event that fires when the blob is in the content store; starts its download if nobody has."""
        if layer.digest in self.store.blobs:
            done = self.env.event()
            done.succeed()
            return done
        if layer.digest in self.store.downloading:
            return self.store.downloading[layer.digest]  # "Waiting": another pull is fetching it
        done = self.env.event()
        self.store.downloading[layer.digest] = done
        self.env.process(self._download(layer, registry, job, done))
        return done

    def _download(self, layer: LayerInfo, registry: RegistryServer, job: int,
                  done: simpy.Event) -> Generator[Any, Any, None]:
        """Take a download slot (FIFO, so layer order), fetch with Docker's retries, free the slot."""
        asked = self.env.now
        attempts = self.spec.daemon.max_download_attempts
        try:
            with self.download_slots.request() as slot:
                yield slot
                began = self.env.now
                for attempt in range(1, attempts + 1):
                    try:
                        yield from registry.fetch_blob(self.host, layer, job=job)
                        break
                    except RegistryError:
                        if attempt == attempts:
                            raise
                        yield self.env.timeout(RETRY_BACKOFF_S * attempt)
            self.store.add_blob(layer)
        except (RegistryError, DiskFull) as err:
            del self.store.downloading[layer.digest]
            done.fail(err)
            done.defused = True
            return
        del self.store.downloading[layer.digest]
        self.recorder.span("download", layer.digest, began, self.env.now, host=self.host, job=job,
                           registry=registry.name, bytes=layer.size, slot_wait=began - asked)
        done.succeed()

    def unpack_time(self, layer: LayerInfo, compression: str) -> float:
        """Decompression streams into the file writer, so the slower of the two sets the pace:
        uncompressed / min(decompress_rate[compression], write_rate); ``inf`` disables a cost."""
        storage = self.spec.storage
        decompress = math.inf if compression == "none" else storage.decompress_rate[compression]  # type: ignore[index]
        rate = min(decompress, storage.write_rate)
        return 0.0 if math.isinf(rate) else layer.uncompressed / rate

    def _unpack(self, layer: LayerInfo, image: ImageInfo, job: int) -> Generator[Any, Any, None]:
        """Apply one layer onto its parent's snapshot; one unpack per chain ID at a time."""
        if layer.chain_id in self.store.chains:
            return
        if layer.chain_id in self.store.unpacking:
            yield self.store.unpacking[layer.chain_id]
            return
        done = self.env.event()
        self.store.unpacking[layer.chain_id] = done
        began = self.env.now
        yield self.env.timeout(self.unpack_time(layer, image.compression))
        del self.store.unpacking[layer.chain_id]
        try:
            self.store.add_chain(layer)
        except DiskFull as err:
            done.fail(err)
            done.defused = True
            raise
        self.recorder.span("unpack", layer.digest, began, self.env.now, host=self.host, job=job,
                           bytes=layer.uncompressed)
        done.succeed()

    # ------------------------------------------------------------ containers

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
            timeout: float = container.stop_requested.value
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
