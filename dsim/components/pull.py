"""The pull pipeline of one daemon, as containerd's image store runs it (docs/real-docker.md: Pull).

Resolve the tag (mirrors first for Docker Hub images, falling back to the next endpoint when one fails),
skip layers whose chain is present ("Already exists"), fetch missing blobs through the daemon-wide
download slots in layer order (one download per blob however many pulls want it, each attempt trying
the endpoints in order, Docker's retries with backoff between attempts), and unpack strictly in layer
order, one layer at a time, while later downloads go on.

Lazy pulling (eStargz style, ``images.<ref>.lazy`` or a host ``snapshotter: stargz``): after the
manifest, each layer's table of contents and its prefetch share are fetched (all layers at once, by the
snapshotter, outside dockerd's download slots); the image is then usable and the rest of every layer is
fetched in the background.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Generator, Mapping
from typing import Any

import simpy

from dsim.components.connections import ConnectionPool
from dsim.components.cpu_group import Cpu
from dsim.components.disk import Disk, host_disk, unmount_sync
from dsim.components.errors import ApiError, StreamError
from dsim.components.host import CpuTask
from dsim.components.image_catalog import ImageCatalog
from dsim.components.image_store import DiskFull, Download, ImageStore, Unpack
from dsim.components.layer_events import LayerEvent, LayerEvents, LayerProgress, PullBegan
from dsim.components.layer_work import Stages, cpu_seconds, inflate_into, unpack_stages
from dsim.components.registry import RegistryError, RegistryServer, Served
from dsim.components.workers import UNLIMITED, Lock
from dsim.domain.hosts import HostSpec
from dsim.domain.images import ImageInfo, LayerInfo
from dsim.progress_words import ALREADY_EXISTS, LayerLines, LayerStage, layer_lines, recorded, stage_of
from dsim.records import Recorder, SpanKind

#: the span kinds recorded on every job's path, read once (records.py: a kind read from its class is slow)
_PULL_IMAGE, _PULL_LAYER = SpanKind.PULL_IMAGE, SpanKind.PULL_LAYER
#: and on every pulled layer's
_DOWNLOAD, _UNPACK = SpanKind.DOWNLOAD, SpanKind.UNPACK

#: Wait between download attempts: attempt x 5 s (moby daemon/internal/distribution/xfer/download.go).
RETRY_BACKOFF_S = 5.0


class ImageTransfer:
    """What one daemon's image transfers (its :class:`Puller` and ``push.Pusher``) work with: the host, its image
    store, the registries, the scenario's images (read-only) and the recorder."""

    def __init__(self, env: simpy.Environment, host: str, spec: HostSpec, store: ImageStore,
                 registries: dict[str, RegistryServer], images: Mapping[str, ImageInfo], recorder: Recorder) -> None:
        self.env = env
        self.host = host
        self.spec = spec
        self.store = store
        self.registries = registries
        self.images = images
        self.recorder = recorder


class Puller(ImageTransfer):
    """Pulls images into one host's store."""

    def __init__(self, env: simpy.Environment, host: str, spec: HostSpec, store: ImageStore,
                 registries: dict[str, RegistryServer], images: Mapping[str, ImageInfo], recorder: Recorder,
                 rng: random.Random, *, cpu: Cpu | None = None, unpack_cpu: Cpu | None = None,
                 disk: Disk | None = None) -> None:
        super().__init__(env, host, spec, store, registries, images, recorder)
        self.rng = rng
        #: the host's processor-sharing scheduler as dockerd sees it, where a download's reader decrypts and
        #: digests (None: an idle host's rate)
        self.cpu = cpu
        #: as the unpacking daemon sees it (containerd under its store, dockerd under graphdriver; default ``cpu``)
        self.unpack_cpu = unpack_cpu if unpack_cpu is not None else cpu
        #: Docker's filesystem with the page cache, where blobs and unpacked files go (disk.py)
        self.disk = disk or host_disk(env, spec, lambda: spec.memory)
        #: what a pull can name: the scenario's images, those pushed during the run, a face's fallback
        self.catalog = ImageCatalog(images, registries)
        #: observers of the layers' progress stages (dsim serve's progress stream)
        self.events = LayerEvents()
        #: called with (job, image) as each pull ends well, whoever asked for it (``docker pull``, a legacy
        #: build's base): dsim serve logs dockerd's ``image pull`` event there (moby
        #: daemon/internal/distribution/pull.go logs it in ``Pull``, which both go through) and stores a pull by
        #: tag's digest reference (dsim/serve/images.py ``store_pull_digests``)
        self.pulled: list[Callable[[int, ImageInfo], None]] = []
        #: SimPy Resource's queue without its events while a slot is free (workers.py)
        self.download_slots = Lock(env, spec.daemon.max_concurrent_downloads or UNLIMITED)
        self._endpoints: dict[str, tuple[RegistryServer, ...]] = {}  # by registry name (wired before time 0)
        #: layers mounted lazily and not yet local, by chain ID: the prefetch mounting each, which a pull that
        #: needs the layer meanwhile waits for instead of fetching it again (stargz-snapshotter resolves a layer
        #: once per digest; containerd's unpacker then finds the chain committed:
        #: https://github.com/containerd/containerd/blob/main/core/unpack/unpacker.go)
        self._mounting: dict[str, simpy.Process] = {}

    # ------------------------------------------------------------ lookups

    def image(self, ref: str) -> ImageInfo:
        """The scenario's image, else one pushed to a registry during the run (or the catalog's fallback
        finds); 404 as the registry says."""
        image = self.catalog.image(ref)
        if image is None:
            raise ApiError(404, f"manifest for {ref} not found: manifest unknown: manifest unknown")
        return image

    def endpoints(self, image: ImageInfo) -> tuple[RegistryServer, ...]:
        """Mirrors of the image's registry in the daemon's order, then the registry itself."""
        found = self._endpoints.get(image.registry)
        if found is None:
            own = self.registries[image.registry]
            mirrors = [self.registries[name] for name in self.spec.daemon.registry_mirrors]
            found = self._endpoints[image.registry] = (*(m for m in mirrors if m.upstream is own), own)
        return found

    def progress(self, layer: LayerInfo, compression: str) -> LayerProgress:
        """Where a layer stands on this daemon now (for an observer that arrives while it moves; later
        changes are published to ``events``)."""
        store = self.store
        record = store.download(layer)
        unpack = store.unpack(layer.chain_id)
        stage = stage_of(unpacked=store.has_layer(layer.chain_id), unpacking=unpack is not None,
                         blob_present=store.has_blob(layer.digest), downloading=record is not None,
                         download_began=record.began if record is not None else None)
        return LayerProgress(stage, record.began if record is not None else None,
                             unpack.began if unpack is not None else None,
                             self.unpack_time(layer, compression) if unpack is not None else 0.0,
                             tuple(note for _, note in record.notes) if record is not None else ())

    def lazy(self, image: ImageInfo) -> bool:
        return image.lazy or self.spec.snapshotter == "stargz"

    # ------------------------------------------------------------ pull

    def pull(self, ref: str, *, job: int) -> Generator[Any, Any, None]:
        """``docker pull``: resolve, download missing blobs through the slots, unpack in order, tag."""
        image = self.image(ref)
        endpoints = self.endpoints(image)
        started = self.env.now
        lazy = self.lazy(image)
        up_to_date = self.store.complete(image) or (lazy and self.store.lazily_fetching(ref))
        if self.events.observers:
            has_layer = self.store.has_layer
            self.events.publish(PullBegan(job, image, up_to_date, frozenset(
                layer.chain_id for layer in image.layers if has_layer(layer.chain_id))))
        self.store.pin(image)
        fetcher = ConnectionPool()  # containerd's fetcher: its own HTTP client (components/connections.py)
        try:
            yield from self._resolve(endpoints, image, job, up_to_date, fetcher)
            if up_to_date:
                self.store.tag(image)
                self.recorder.span(_PULL_IMAGE, ref, started, self.env.now, host=self.host, job=job,
                                   status="Image is up to date", bytes=0)
            else:
                needed = self.store.needed_bytes(image)
                if self.store.gc is not None:
                    self.store.make_room(needed, job=job)
                if lazy:
                    yield from self._lazy_pull(image, endpoints, job, started, fetcher)
                else:
                    yield from self._full_pull(image, endpoints, job, started, fetcher)
        finally:
            self.store.unpin(image)
        for pulled in self.pulled:
            pulled(job, image)

    def resolve(self, image: ImageInfo, *, job: int) -> Generator[Any, Any, None]:
        """BuildKit's "load metadata for REF" (builder.py): resolve the tag and fetch manifest and config,
        no layers; a build fetches those with ``fetch_layers`` when a step needs them."""
        yield from self._resolve(self.endpoints(image), image, job, False, ConnectionPool())

    def fetch_layers(self, image: ImageInfo, layers: list[LayerInfo], *, job: int) -> Generator[Any, Any, None]:
        """Layers of ``image`` a build needs (a base image's, or a registry cache's for ``--cache-from``):
        missing blobs through the download slots, shared with any pull fetching them, unpacked in order."""
        started = self.env.now
        fetches = self._start_fetches(image, layers, self.endpoints(image), job, ConnectionPool())
        yield from self._unpack_in_order(image, fetches, job, started, build=True)

    def _start_fetches(self, image: ImageInfo, layers: list[LayerInfo], endpoints: tuple[RegistryServer, ...],
                       job: int, pool: ConnectionPool) -> tuple[list[LayerInfo], set[str], dict[str, Any]]:
        """Start (or join) the downloads of the layers whose chain is missing: (missing, shared, records)."""
        has_layer = self.store.has_layer
        missing = [layer for layer in layers if not has_layer(layer.chain_id)]
        # "Waiting" on a download another pull on this daemon has under way: shared, not fetched twice
        download = self.store.download
        shared = {layer.digest for layer in missing if download(layer) is not None}
        records = {layer.digest: self._blob(layer, image, endpoints, job, pool) for layer in missing}
        return missing, shared, records

    def _unpack_in_order(self, image: ImageInfo, fetches: tuple[list[LayerInfo], set[str], dict[str, Any]],
                         job: int, since: float, **attrs: Any) -> Generator[Any, Any, None]:
        """Unpack the missing layers strictly in order, each once its blob is in: "Pull complete"."""
        missing, shared, records = fetches
        store = self.store
        for layer in missing:
            record = records[layer.digest]
            try:
                # an event already processed (a blob in before this pull reached its layer; SimPy would hand a
                # success straight back) is not yielded: no round trip through every delegating generator
                if record is not None and (record.done.callbacks is not None or not record.done.ok):
                    yield record.done
                running = store.unpack(layer.chain_id)
                if running is not None and not store.has_layer(layer.chain_id):
                    # another pull is extracting it: wait for that one (``_unpack`` without its generator)
                    if running.done.callbacks is not None or not running.done.ok:
                        yield running.done
                    unpack: Unpack | None = running
                else:
                    unpack = yield from self._unpack(layer, image, job)
            except (RegistryError, DiskFull) as err:
                raise StreamError(500, str(err)) from None
            self.recorder.span(_PULL_LAYER, layer.digest, since, self.env.now, host=self.host, job=job,
                               image=image.ref, status="Pull complete", shared=layer.digest in shared,
                               progress=self._progress(since, record, unpack), **attrs)

    def _resolve(self, endpoints: tuple[RegistryServer, ...], image: ImageInfo, job: int,
                 up_to_date: bool, fetcher: ConnectionPool) -> Generator[Any, Any, None]:
        """Try each endpoint in order; a failing mirror falls back to the next, the last one's error fails.
        The resolver has an HTTP client of its own; the manifest comes through the fetcher's."""
        resolver = ConnectionPool()
        for i, endpoint in enumerate(endpoints):
            try:
                yield from endpoint.resolve(self.host, image, job=job, have_manifest=up_to_date, pool=resolver,
                                            fetch=fetcher)
                return
            except RegistryError as err:
                if i == len(endpoints) - 1:
                    raise ApiError(err.status or 500, str(err)) from None
                self.recorder.span(SpanKind.FALLBACK, endpoint.name, self.env.now, self.env.now, host=self.host,
                                   job=job, registry=endpoint.name, error=str(err))

    def _full_pull(self, image: ImageInfo, endpoints: tuple[RegistryServer, ...], job: int,
                   started: float, pool: ConnectionPool) -> Generator[Any, Any, None]:
        listed = self.env.now  # the manifest is in: each layer shows "Pulling fs layer" (or "Already exists")
        fetches = self._start_fetches(image, list(image.layers), endpoints, job, pool)
        missing = fetches[0]
        for layer in image.layers:
            if self.store.has_layer(layer.chain_id) and layer not in missing:
                self.recorder.span(_PULL_LAYER, layer.digest, listed, listed, host=self.host, job=job,
                                   image=image.ref, status=ALREADY_EXISTS,
                                   progress=recorded([(listed, ALREADY_EXISTS)]))
        yield from self._unpack_in_order(image, fetches, job, listed)
        self.store.tag(image)
        self.recorder.span(_PULL_IMAGE, image.ref, started, self.env.now, host=self.host, job=job,
                           status="Downloaded newer image", bytes=sum(layer.size for layer in missing))

    def _progress(self, started: float, record: Download | None, unpack: Unpack | None) -> tuple[Any, ...]:
        """Docker's progress words for one layer of one pull, with the time each was shown: recorded as the
        times they derive from (``LayerLines.compact``), the words made when read (progress_words.LayerLines)."""
        extracted = unpack.began if unpack is not None else None
        if record is None:
            return LayerLines.compact(started, self.env.now, None, None, (), extracted)
        began = record.began if record.began is not None else started
        ended = record.ended if record.ended is not None else self.env.now
        return LayerLines.compact(started, self.env.now, began, ended, tuple(record.notes), extracted)

    def _blob(self, layer: LayerInfo, image: ImageInfo, endpoints: tuple[RegistryServer, ...],
              job: int, pool: ConnectionPool) -> Download | None:
        """The download of a blob on this daemon, started if nobody has; None when the blob is present (in
        containerd's store: the graphdriver store's blobs are its transfers' temporary files, ``download``)."""
        if self.store.keeps_blobs and self.store.has_blob(layer.digest):
            return None
        record = self.store.download(layer)
        if record is not None:
            return record  # "Waiting": another pull on this daemon is fetching it
        record = Download(self.env.event(), self.env.now)
        self.store.begin_download(layer, record)
        if self.events.observers:
            self.events.publish(LayerEvent(layer, LayerStage.WAITING, self.env.now))
        self.env.process(self._download(layer, image, endpoints, job, record, pool))
        return record

    def _fetch_once(self, layer: LayerInfo, endpoints: tuple[RegistryServer, ...],
                    job: int, pool: ConnectionPool) -> Generator[Any, Any, tuple[Served, CpuTask | None]]:
        """One attempt: each endpoint in order (containerd's resolver tries its hosts in turn), each try with the
        CPU work of reading what it sends (``_receive``, stopped if the try fails). Returns who served the blob
        and that work."""
        error: RegistryError | None = None
        for endpoint in endpoints:
            work = self._receive(layer.size, endpoint)
            try:
                served: Served = yield from endpoint.fetch_blob(self.host, layer, job=job, pool=pool)
                return served, work
            except BaseException as err:
                if work is not None and self.cpu is not None:
                    self.cpu.cancel(work)
                if not isinstance(err, RegistryError):
                    raise
                error = err
        assert error is not None
        raise error

    def _download(self, layer: LayerInfo, image: ImageInfo, endpoints: tuple[RegistryServer, ...], job: int,
                  record: Download, pool: ConnectionPool) -> Generator[Any, Any, None]:
        """Take a download slot (FIFO, so layer order), fetch with Docker's retries, free the slot."""
        attempts = self.spec.daemon.max_download_attempts
        done = record.done
        try:
            with self.download_slots.request() as slot:
                if slot.callbacks is not None:  # a free slot is taken with an event already processed: no wait
                    yield slot
                record.began = began = self.env.now
                if self.events.observers:
                    self.events.publish(LayerEvent(layer, LayerStage.DOWNLOADING, began))
                for attempt in range(1, attempts + 1):
                    fetched, mark = self.env.now, self.disk.mark()
                    try:
                        served, reading = yield from self._fetch_once(layer, endpoints, job, pool)
                        break
                    except RegistryError:
                        if attempt == attempts:
                            raise
                        delay = RETRY_BACKOFF_S * attempt
                        record.notes.append((self.env.now, f"Retrying in {delay:g} seconds"))
                        if self.events.observers:
                            self.events.publish(LayerEvent(layer, LayerStage.DOWNLOADING, self.env.now,
                                                           note=record.notes[-1][1]))
                        yield self.env.timeout(delay)
                if reading is not None and not reading.done.processed:
                    yield reading.done  # the last bytes decrypted and hashed
                # containerd's content store writes the blob as it comes (at the fetch's mean rate: disk.py, stream)
                # and fsyncs it as it commits it, inside the fetch's slot; moby's graphdriver pull writes it to a
                # temporary file it never syncs and deletes once the layer is registered (distribution/pull_v2.go):
                # the kernel drops a deleted file's dirty pages unwritten, so its bytes are left out
                if self.spec.daemon.image_store == "containerd":
                    yield from self.disk.committed(layer.size, fetched, mark)
            self.store.add_blob(layer)
        except (RegistryError, DiskFull) as err:
            self.store.end_download(layer, failed=True)
            done.fail(err)
            done.defused = True
            return
        self.store.end_download(layer)
        record.ended = self.env.now
        if self.events.observers:
            self.events.publish(LayerEvent(layer, LayerStage.DOWNLOADED, record.ended))
        self.store.remember_source(layer.digest, image.registry, image.repository)
        self.recorder.span(_DOWNLOAD, layer.digest, began, self.env.now, host=self.host, job=job,
                           registry=served.registry, bytes=layer.size, slot_wait=began - record.asked,
                           attempts=attempt, cache=served.cache, peer_bytes=served.peer_bytes)
        done.succeed()

    def _receive(self, nbytes: float, endpoint: RegistryServer) -> CpuTask | None:
        """What reading a blob costs the goroutine that reads it, on one core beside the transfer: its TLS records
        decrypted when the endpoint speaks https (``tls_rate``: the response body is read through crypto/tls in
        the reader's goroutine), its bytes taken from the socket and written into the blob's file
        (``receive_rate``) and its sha256 as it is written (``hash_rate``: containerd's content writer hashes
        every byte it writes, content/local/writer.go ``Write``; moby's graphdriver pull its verifier,
        distribution/pull_v2.go ``digest.Verifier``). The download ends when both the bytes and this work are
        done, so a busy host's cores, or a link faster than the rates together, bound it. None when free."""
        storage = self.spec.storage
        work = cpu_seconds(nbytes, storage.hash_rate) + cpu_seconds(nbytes, storage.receive_rate) + (
            cpu_seconds(nbytes, storage.tls_rate) if endpoint.decrypts else 0.0)
        if self.cpu is None or work <= 0.0:
            return None
        return self.cpu.run(work, 1.0)

    def unpack_stages(self, layer: LayerInfo, compression: str, share: float = 1.0, *,
                      applied: bool = True) -> Stages:
        """The CPU work of unpacking ``share`` of a layer on this host (layer_work.py ``unpack_stages``)."""
        files = None if layer.files is None else share * layer.files
        return unpack_stages(self.spec.storage, share * layer.uncompressed, compression, applied=applied, files=files)

    def unpack_time(self, layer: LayerInfo, compression: str, share: float = 1.0, *, applied: bool = True) -> float:
        """On an idle host with room in the page cache (the files go into memory; writeback follows, disk.py):
        the longest stage of :meth:`unpack_stages` when the host has cores for all of them at once, else their
        work over its cores; without a page cache (``dirty_ratio`` 0) the writes stream alongside, so the disk's
        time is a bound too."""
        storage = self.spec.storage
        nbytes = share * layer.uncompressed
        stages = self.unpack_stages(layer, compression, share, applied=applied)
        longest = max(work / cores for work, cores in stages)
        wanted = sum(cores for work, cores in stages if work > 0)
        cpus = self.spec.cpus
        if wanted > cpus:
            longest = max(longest, sum(work for work, _ in stages) / cpus)
        if storage.dirty.ratio == 0 and not math.isinf(storage.write_rate):
            longest = max(longest, nbytes / storage.write_rate)
        return longest

    def _inflate(self, layer: LayerInfo, compression: str, share: float = 1.0, *,
                 applied: bool = True) -> Generator[Any, Any, None]:
        """Unpack ``share`` of a layer into its snapshot (docs/distribution.md: Unpack as CPU work).

        Its stages (:meth:`unpack_stages`: the inflate and the apply of the tar stream) are CPU work on the
        host's processor-sharing scheduler, each at no more than its cores, so they slow down when containers,
        builds or other unpacks share the cores. The files go into the page cache (disk.py) as they are
        inflated, at the stages' mean pace (worked out when the last ends: the cores' share may change
        meanwhile), so they count, and age, from when each was written, and the writeback they call for runs
        while the unpack goes on; past the kernel's setpoint the writer is held back, from the stages' end, for
        what the disk has not written back by then. On an idle host this is the fluid writer's time: the
        longest stage, or the wait from when the dirty bytes reach the setpoint, whichever ends later."""
        if self.unpack_cpu is None:
            yield self.env.timeout(self.unpack_time(layer, compression, share, applied=applied))
            return
        stages = self.unpack_stages(layer, compression, share, applied=applied)
        yield from inflate_into(self.env, self.unpack_cpu, self.disk, stages, share * layer.uncompressed)

    @property
    def _applies_through_a_mount(self) -> bool:
        """moby's graphdriver store with overlay2's naive diff applies a layer through its mounted overlay (moby
        ``daemon/graphdriver/fsdiff.go``, ``NaiveDiffDriver.ApplyDiff``: ``driver.Get``, the untar, a deferred
        ``driver.Put``), so each layer on a parent ends with an unmount, which syncs (overlay2's ``Get`` of a base
        layer returns its directory unmounted). The containerd store, and overlay2's native diff, untar into the
        layer's directory with no mount."""
        return self.spec.daemon.image_store == "graphdriver" and self.spec.storage.overlay_diff == "naive"

    def _unpack(self, layer: LayerInfo, image: ImageInfo, job: int) -> Generator[Any, Any, Unpack | None]:
        """Apply one layer onto its parent's snapshot (None when it is there already). One unpack per chain ID
        at a time: ``_unpack_in_order`` waits for another pull's instead of calling this."""
        if self.store.has_layer(layer.chain_id):
            return None
        record = Unpack(self.env.event(), self.env.now)
        self.store.begin_unpack(layer.chain_id, record)
        duration = self.unpack_time(layer, image.compression)
        if self.events.observers:
            self.events.publish(LayerEvent(layer, LayerStage.EXTRACTING, record.began, duration=duration))
        yield from self._inflate(layer, image.compression)
        if layer.index > 0 and self._applies_through_a_mount:
            yield from unmount_sync(self.disk, self.recorder, layer.digest, host=self.host, job=job, at="apply")
        self.store.end_unpack(layer.chain_id)
        try:
            self.store.add_chain(layer)
        except DiskFull as err:
            self.store.unpacked(layer)
            record.done.fail(err)
            record.done.defused = True
            raise
        self.store.unpacked(layer)  # the graphdriver store deletes the blob's temporary file
        self.recorder.span(_UNPACK, layer.digest, record.began, self.env.now, host=self.host, job=job,
                           bytes=layer.uncompressed)
        if self.events.observers:
            self.events.publish(LayerEvent(layer, LayerStage.COMPLETE, self.env.now))
        record.done.succeed()
        return record

    # ------------------------------------------------------------ lazy pulling

    def _range(self, layer: LayerInfo, nbytes: float, endpoints: tuple[RegistryServer, ...], job: int,
               part: str, pool: ConnectionPool) -> Generator[Any, Any, None]:
        """Fetch ``nbytes`` of a layer with range GETs, Docker's retries between attempts."""
        attempts = self.spec.daemon.max_download_attempts
        began = self.env.now
        for attempt in range(1, attempts + 1):
            error: RegistryError | None = None
            for endpoint in endpoints:
                try:
                    served = yield from endpoint.fetch_range(self.host, layer, nbytes, job=job, part=part, pool=pool)
                    self.recorder.span(_DOWNLOAD, layer.digest, began, self.env.now, host=self.host, job=job,
                                       registry=served.registry, bytes=nbytes, slot_wait=0.0, attempts=attempt,
                                       cache=None, peer_bytes=served.peer_bytes, lazy=part)
                    return
                except RegistryError as err:
                    error = err
            assert error is not None
            if attempt == attempts:
                raise error
            yield self.env.timeout(RETRY_BACKOFF_S * attempt)

    def _prefetch(self, layer: LayerInfo, image: ImageInfo, endpoints: tuple[RegistryServer, ...],
                  job: int, pool: ConnectionPool) -> Generator[Any, Any, RegistryError | None]:
        """Mount a remote layer: its prefetch share (the landmark files), decompressed into the cache.
        Returns the error of its last attempt instead of raising (the layers run side by side)."""
        started = self.env.now
        try:
            yield from self._range(layer, image.prefetch * layer.size, endpoints, job, "prefetch", pool)
        except RegistryError as err:
            return err
        extract = self.env.now
        yield from self._inflate(layer, image.compression, image.prefetch, applied=False)
        self.recorder.span(_PULL_LAYER, layer.digest, started, self.env.now, host=self.host, job=job,
                           image=image.ref, status="Pull complete", lazy=True,
                           progress=recorded(layer_lines(started, self.env.now, fetch_began=started,
                                                         extract_began=extract)))
        return None

    def _lazy_pull(self, image: ImageInfo, endpoints: tuple[RegistryServer, ...], job: int,
                   started: float, pool: ConnectionPool) -> Generator[Any, Any, None]:
        """Mount the missing layers from their prefetch (joining a mount another pull has under way), tag the
        image, and fetch the rest of the layers this pull mounted in the background."""
        missing = [layer for layer in image.layers if not self.store.has_layer(layer.chain_id)]
        mounting = self._mounting
        joined = {layer.chain_id for layer in missing if layer.chain_id in mounting}
        own = [layer for layer in missing if layer.chain_id not in joined]
        for layer in own:
            mounting[layer.chain_id] = self.env.process(self._prefetch(layer, image, endpoints, job, pool))
        prefetches = [mounting[layer.chain_id] for layer in missing]
        yield self.env.all_of(prefetches)
        failed = next((prefetch.value for prefetch in prefetches if prefetch.value is not None), None)
        if failed is not None:
            for layer in own:  # a later pull mounts them again
                mounting.pop(layer.chain_id, None)
            raise StreamError(500, str(failed))
        for layer in missing:
            if layer.chain_id in joined:
                self.recorder.span(_PULL_LAYER, layer.digest, started, self.env.now, host=self.host, job=job,
                                   image=image.ref, status="Pull complete", lazy=True, shared=True,
                                   progress=recorded(layer_lines(started, self.env.now)))
        self.store.tag(image)
        self.recorder.span(_PULL_IMAGE, image.ref, started, self.env.now, host=self.host, job=job,
                           status="Downloaded newer image", lazy=True,
                           bytes=sum(image.prefetch * layer.size for layer in own))
        if own:  # the layers it joined are fetched by the pulls that mounted them
            self.store.begin_lazy(image.ref)
            self.env.process(self._background(image, own, endpoints, job, pool))

    def _rest(self, layer: LayerInfo, image: ImageInfo, endpoints: tuple[RegistryServer, ...],
              job: int, pool: ConnectionPool) -> Generator[Any, Any, RegistryError | None]:
        try:
            yield from self._range(layer, (1 - image.prefetch) * layer.size, endpoints, job, "background", pool)
        except RegistryError as err:
            return err
        yield from self._inflate(layer, image.compression, 1 - image.prefetch, applied=False)
        return None

    def _background(self, image: ImageInfo, missing: list[LayerInfo], endpoints: tuple[RegistryServer, ...], job: int,
                    pool: ConnectionPool) -> Generator[Any, Any, None]:
        """The rest of the layers this pull mounted, while the container runs; then they count as local (and on
        disk), and a later pull that needs them no longer waits for their mount."""
        self.store.pin(image)
        began = self.env.now
        rest = [self.env.process(self._rest(layer, image, endpoints, job, pool)) for layer in missing]
        status = "complete"
        try:
            yield self.env.all_of(rest)
            for part in rest:
                if part.value is not None:
                    raise part.value
            for layer in missing:
                self.store.keep_blob(layer)
                self.store.add_chain(layer)
                self.store.remember_source(layer.digest, image.registry, image.repository)
        except (RegistryError, DiskFull) as err:
            status = str(err)
        finally:
            self.store.unpin(image)
            self.store.end_lazy(image.ref)
            for layer in missing:
                self._mounting.pop(layer.chain_id, None)
        self.recorder.span(SpanKind.LAZY_FETCH, image.ref, began, self.env.now, host=self.host, job=job, status=status,
                           bytes=sum((1 - image.prefetch) * layer.size for layer in missing))
