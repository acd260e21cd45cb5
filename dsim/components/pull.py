"""The pull pipeline of one daemon, as containerd's image store runs it (docker-facts.md: Pull).

Resolve the tag at the registry, skip layers whose chain is present ("Already exists"), fetch missing
blobs through the daemon-wide download slots in layer order (one download per blob however many pulls
want it), and unpack strictly in layer order, one layer at a time, while later downloads go on.
"""

from __future__ import annotations

import math
import random
from collections.abc import Generator
from typing import Any

import simpy

from dsim.components.errors import ApiError
from dsim.components.image_store import DiskFull, ImageStore
from dsim.components.registry import RegistryError, RegistryServer
from dsim.recorder import Recorder
from dsim.scenarios.model import HostGroup
from dsim.scenarios.resolve import ImageInfo, LayerInfo

#: Wait between download attempts: attempt x 5 s (moby daemon/internal/distribution/xfer/download.go).
RETRY_BACKOFF_S = 5.0


class Puller:
    """Pulls images into one host's store."""

    def __init__(self, env: simpy.Environment, host: str, spec: HostGroup, store: ImageStore,
                 registries: dict[str, RegistryServer], images: dict[str, ImageInfo], recorder: Recorder,
                 rng: random.Random) -> None:
        self.env = env
        self.host = host
        self.spec = spec
        self.store = store
        self.registries = registries
        self.images = images
        self.recorder = recorder
        self.rng = rng
        self.download_slots = simpy.Resource(env, capacity=spec.daemon.max_concurrent_downloads)


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
        # "Waiting": another pull on this daemon is already fetching the blob; this pull shares it.
        shared = {layer.digest for layer in missing if layer.digest in self.store.downloading}
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
                               image=ref, status="Pull complete", shared=layer.digest in shared)
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

