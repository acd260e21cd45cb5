"""``docker push`` on one daemon, as moby's push path does it (docs/real-docker.md: Push).

Per layer, inside one of the daemon-wide upload slots (``max_concurrent_uploads``, default 5):

1. If the daemon remembers the blob in the target repository (moby's v2 metadata: the repositories each
   blob was pulled from or pushed to), HEAD it there: ``Layer already exists``.
2. Else try cross-repository mounts from other repositories of the same registry it remembers
   (``POST .../blobs/uploads/?mount=<digest>&from=<repo>``): 201 is ``Mounted from <repo>``, 202 falls
   through. A blob known only from other registries gets an existence check in the target repository.
3. Else upload it (POST, PATCH with the bytes through the network, PUT): ``Pushed``. A layer with no blob in
   the store is gzipped while it uploads: one built locally (``LayerInfo.local``; under the containerd image
   store BuildKit's export already compressed it into one: builder.py), and under moby's graphdriver store,
   which keeps no blob, every layer it uploads, pulled ones too (moby ``distribution/push_v2.go``,
   ``uploadUsingSession``: the layer's ``TarStream`` through ``compress``). The deflate is CPU work on one
   core of the host's processor-sharing scheduler (Go's compress/gzip,
   one goroutine per layer; ``uncompressed / compress_rate`` CPU-seconds, about 32 MiB/s of input,
   moby#28732), competing with containers, builds and unpacks; its stream runs no faster than an idle core's
   deflate, and the upload ends when both the bytes and the deflate are done. On an idle host that is the same
   time as a stream capped at the gzip rate. The HTTP client's writer costs the bytes it sends (``send_rate``, with
   TLS's ``tls_rate``) and, under the containerd store, containerd the blob's reads it serves (``blob_read_rate``):
   Docker 28.5.2's figures (docs/distribution.md, Push).

How many mount tries and HEADs a layer gets depends on its size (<= 100 KiB: 1 and 1; <= 10 MiB: 3 and 1;
larger: 4 and 3). Failed attempts retry after attempt x 5 s, five attempts in all (moby
distribution/xfer/upload.go: maxUploadAttempts). One upload per (registry, repository, blob) at a time on a
daemon, however many pushes want it. Then the manifest is PUT. A blob the daemon has never pushed or
pulled, and which is not local-only, is uploaded again even if the registry holds it, as Docker does.
Mirrors are never pushed to; a pull-through cache refuses pushes.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Mapping
from typing import Any

import simpy

from dsim.components.connections import ConnectionPool
from dsim.components.cpu_group import Cpu
from dsim.components.errors import ApiError, StreamError
from dsim.components.host import CpuTask
from dsim.components.image_store import ImageStore
from dsim.components.layer_work import cpu_seconds
from dsim.components.pull import ImageTransfer
from dsim.components.registry import RegistryError, RegistryServer
from dsim.components.workers import UNLIMITED, Lock
from dsim.domain.hosts import HostSpec
from dsim.domain.images import ImageInfo, LayerInfo
from dsim.domain.refs import push_registry, split_ref
from dsim.records import Recorder, SpanKind

#: moby distribution/xfer/upload.go: five attempts, waiting attempt x 5 s between them.
MAX_UPLOAD_ATTEMPTS = 5
RETRY_BACKOFF_S = 5.0


def checks_for(size: float) -> tuple[int, int]:
    """(mount tries, existence checks) moby allows a layer of ``size`` bytes (push_v2.go)."""
    if size <= 100 * 2**10:
        return 1, 1
    if size <= 10 * 2**20:
        return 3, 1
    return 4, 3


class Pusher(ImageTransfer):
    """Pushes images from one host's store."""

    def __init__(self, env: simpy.Environment, host: str, spec: HostSpec, store: ImageStore,
                 registries: dict[str, RegistryServer], images: Mapping[str, ImageInfo], recorder: Recorder, *,
                 cpu: Cpu | None = None, store_cpu: Cpu | None = None) -> None:
        super().__init__(env, host, spec, store, registries, images, recorder)
        #: the host's cores as dockerd's, where a layer's gzip and the upload's writer run (None: an idle core's rate,
        #: a cap on the stream, and nothing else costs)
        self.cpu = cpu
        #: containerd's, which serves the containerd store's blobs to the pusher (default ``cpu``)
        self.store_cpu = store_cpu if store_cpu is not None else cpu
        self.upload_slots = Lock(env, spec.daemon.max_concurrent_uploads or UNLIMITED)  # workers.py: as a Resource
        self._uploading: dict[tuple[str, str, str], simpy.Process] = {}

    def target(self, ref: str) -> tuple[RegistryServer, str, str]:
        """(registry, repository, tag) a push of ``ref`` goes to."""
        registry = self.registries[push_registry(ref, self.registries, self.images)]
        repository, tag = split_ref(ref)
        prefix = registry.name + "/"
        if repository.startswith(prefix):
            repository = repository[len(prefix):]
        return registry, repository, tag

    def push(self, ref: str, *, job: int) -> Generator[Any, Any, None]:
        """``docker push REF``: every layer through the upload slots, then the manifest."""
        image = self.store.image(ref)
        registry, repository, tag = self.target(ref)
        if image is None:
            raise ApiError(404, f"An image does not exist locally with the tag: {split_ref(ref)[0]}")
        if registry.is_cache:
            raise ApiError(405, "unsupported: The operation is unsupported.")
        started = self.env.now
        self.store.pin(image)
        pool = ConnectionPool()  # containerd's pusher: one HTTP client per push (components/connections.py)
        try:
            yield from self._authorize(registry, repository, job, pool)
            layers = list({layer.digest: layer for layer in image.layers}.values())
            statuses = yield from self._push_layers(registry, repository, layers, job, pool)
            manifest = f"PUT /v2/{repository}/manifests/{tag}"
            yield from self._with_retries(lambda: registry.request(self.host, manifest, job=job, status=201,
                                                                   pool=pool))
            pushed = ImageInfo(ref, registry.name, repository, tag, image.layers, image.compression,
                               image.manifest_digest, lazy=image.lazy, prefetch=image.prefetch)
            registry.accept_manifest(pushed)
        finally:
            self.store.unpin(image)
        self.recorder.span(SpanKind.PUSH_IMAGE, ref, started, self.env.now, host=self.host, job=job,
                           registry=registry.name, layers=len(layers),
                           pushed=statuses.count("Pushed"), existing=statuses.count("Layer already exists"),
                           mounted=sum(1 for status in statuses if status.startswith("Mounted from")))

    def push_blobs(self, registry: RegistryServer, repository: str, layers: list[LayerInfo], *,
                   job: int) -> Generator[Any, Any, float]:
        """Blobs without an image manifest: a build's ``--cache-to`` (build_cache_io.py). Each layer takes the same
        path as in a push (existence check, mounts, upload slots, gzip of local layers); returns the bytes
        uploaded. The caller PUTs its own manifest."""
        if registry.is_cache:
            raise ApiError(405, "unsupported: The operation is unsupported.")
        pool = ConnectionPool()
        yield from self._authorize(registry, repository, job, pool)
        unique = list({layer.digest: layer for layer in layers}.values())
        statuses = yield from self._push_layers(registry, repository, unique, job, pool)
        return sum(layer.size for layer, status in zip(unique, statuses, strict=True) if status == "Pushed")

    def _authorize(self, registry: RegistryServer, repository: str, job: int,
                   pool: ConnectionPool) -> Generator[Any, Any, None]:
        """With ``auth: token``: the 401 and a token from the registry's token server (a host of its own, or the
        registry's with ``token_host: registry``)."""
        try:
            if registry.spec.auth == "token":
                yield from registry.request(self.host, f"POST /v2/{repository}/blobs/uploads/", job=job, status=401,
                                            pool=pool)
                yield from registry.request(self.host, "GET token", job=job, pool=pool, server=registry.token_server)
        except RegistryError as err:
            raise ApiError(err.status or 500, str(err)) from None

    def _push_layers(self, registry: RegistryServer, repository: str, layers: list[LayerInfo],
                     job: int, pool: ConnectionPool) -> Generator[Any, Any, list[str]]:
        uploads = [self._upload(registry, repository, layer, job, pool) for layer in layers]
        statuses: list[str] = []
        failure: RegistryError | None = None
        for upload in uploads:  # wait for every layer, as moby's upload manager does, then report
            outcome = yield upload
            if isinstance(outcome, RegistryError):
                failure = failure or outcome
            else:
                statuses.append(outcome)
        if failure is not None:
            raise StreamError(500, str(failure))
        return statuses

    def _with_retries(self, attempt: Any) -> Generator[Any, Any, Any]:
        for number in range(1, MAX_UPLOAD_ATTEMPTS + 1):
            try:
                return (yield from attempt())
            except RegistryError as err:
                if number == MAX_UPLOAD_ATTEMPTS:
                    raise StreamError(500, str(err)) from None
                yield self.env.timeout(RETRY_BACKOFF_S * number)
        return None  # pragma: no cover - the loop returns or raises

    def _upload(self, registry: RegistryServer, repository: str, layer: LayerInfo, job: int,
                pool: ConnectionPool) -> simpy.Process:
        """The push of one layer on this daemon, started if no push is already sending it."""
        key = (registry.name, repository, layer.digest)
        running = self._uploading.get(key)
        if running is not None and running.is_alive:
            return running
        process = self.env.process(self._push_layer(registry, repository, layer, job, pool))
        self._uploading[key] = process
        return process

    def _push_layer(self, registry: RegistryServer, repository: str, layer: LayerInfo,
                    job: int, pool: ConnectionPool) -> Generator[Any, Any, str | RegistryError]:
        """The layer's status word, or the error of its last attempt (returned, not raised: every push
        sharing this upload reads it)."""
        asked = self.env.now
        progress: list[list[Any]] = [[round(asked, 6), "Preparing"]]
        try:
            with self.upload_slots.request() as slot:
                yield slot
                began = self.env.now
                if began > asked:
                    progress.append([round(asked, 6), "Waiting"])
                for attempt in range(1, MAX_UPLOAD_ATTEMPTS + 1):
                    try:
                        status = yield from self._try_layer(registry, repository, layer, job, progress, pool)
                        break
                    except RegistryError as err:
                        if attempt == MAX_UPLOAD_ATTEMPTS:
                            return err
                        delay = RETRY_BACKOFF_S * attempt
                        progress.append([round(self.env.now, 6), f"Retrying in {delay:g} seconds"])
                        yield self.env.timeout(delay)
        finally:
            self._uploading.pop((registry.name, repository, layer.digest), None)
        progress.append([round(self.env.now, 6), status])
        self.store.remember_source(layer.digest, registry.name, repository)
        self.recorder.span(SpanKind.PUSH_LAYER, layer.digest, asked, self.env.now, host=self.host, job=job,
                           registry=registry.name, repository=repository, status=status, progress=progress,
                           slot_wait=began - asked)
        return status

    def _try_layer(self, registry: RegistryServer, repository: str, layer: LayerInfo, job: int,
                   progress: list[list[Any]], pool: ConnectionPool) -> Generator[Any, Any, str]:
        digest = layer.digest
        short = digest[7:19]
        known = self.store.sources_of(digest)
        mounts, heads = checks_for(layer.size)
        if (registry.name, repository) in known:
            exists = registry.has_blob(repository, digest)
            yield from registry.request(self.host, f"HEAD /v2/{repository}/blobs/{short}", job=job,
                                        status=200 if exists else 404, pool=pool)
            heads -= 1
            if exists:
                return "Layer already exists"
        candidates = sorted(repo for reg, repo in known if reg == registry.name and repo != repository)[:mounts]
        for source in candidates:
            mounted = registry.has_blob(source, digest)
            yield from registry.request(self.host, f"POST /v2/{repository}/blobs/uploads/?mount={short}&from={source}",
                                        job=job, status=201 if mounted else 202, pool=pool)
            if mounted:
                registry.accept_blob(repository, digest)
                return f"Mounted from {source}"
        if known and not candidates and heads > 0 and (registry.name, repository) not in known:
            exists = registry.has_blob(repository, digest)
            yield from registry.request(self.host, f"HEAD /v2/{repository}/blobs/{short}", job=job,
                                        status=200 if exists else 404, pool=pool)
            if exists:
                return "Layer already exists"
        yield from registry.request(self.host, f"POST /v2/{repository}/blobs/uploads/", job=job, status=202,
                                    pool=pool, hold=True)
        progress.append([round(self.env.now, 6), "Pushing"])
        began = self.env.now
        cap = math.inf
        rate = self.spec.storage.compress_rate
        gzip = self.gzips(layer)
        if gzip and layer.size > 0:  # (a layer of a byte or two compresses to 0 estimated bytes: no stream to pace)
            cores = self.spec.storage.compress_cores  # compressed bytes out of gzip on idle cores per second
            cap = rate * cores * layer.size / layer.uncompressed
        try:
            if registry.connections is None:
                yield from self._send(registry, layer, cap, gzip)
            else:
                with registry.connections.request() as connection:
                    yield connection
                    yield from self._send(registry, layer, cap, gzip)
        finally:
            registry.release(pool, registry.name)  # the PATCH's connection: the body is sent
        self.recorder.span(SpanKind.UPLOAD, digest, began, self.env.now, host=self.host, job=job,
                           registry=registry.name, bytes=layer.size, compressed_here=gzip)
        yield from registry.request(self.host, f"PUT /v2/{repository}/blobs/uploads/?digest={short}", job=job,
                                    status=201, pool=pool)
        registry.accept_blob(repository, digest)
        return "Pushed"

    def gzips(self, layer: LayerInfo) -> bool:
        """Whether the push compresses this layer itself: gzip not disabled, and no blob of it in the store (under
        the containerd image store a pulled layer's blob is kept and BuildKit's export already wrote a built
        one's: builder.py ``_compress_layers``), either because it was built here or because the store keeps no
        blobs (moby's graphdriver store: only the unpacked layer, compressed again at every upload)."""
        return ((layer.local or not self.store.keeps_blobs) and not math.isinf(self.spec.storage.compress_rate)
                and layer.uncompressed > 0 and not self.store.has_blob(layer.digest))

    def _send(self, registry: RegistryServer, layer: LayerInfo, cap: float, gzip: bool) -> Generator[Any, Any, None]:
        """The PATCH body: the bytes through the network and the CPU work of ``_send_work``, each on its daemon's
        cores beside the others. The stream cannot outrun any of them: done when all are."""
        sent = self.network_transfer(registry, layer.size, cap)
        work = self._send_work(registry, layer, gzip)
        if not work:
            yield sent
            return
        try:
            yield self.env.all_of([sent, *(task.done for _, task in work)])
        except BaseException:
            for cpu, task in work:  # the upload failed or was interrupted: the work stops with it
                cpu.cancel(task)
            raise

    def _send_work(self, registry: RegistryServer, layer: LayerInfo, gzip: bool) -> list[tuple[Cpu, CpuTask]]:
        """The CPU tasks an upload's bytes cost, each with the cores it runs on: the deflate of a layer the push
        compresses (``gzip``: Go's compress/gzip in a goroutine of its own writing into a pipe, moby
        distribution/push_v2.go ``compress``); the HTTP client's writer, which reads that pipe or the blob and writes
        the body into the socket (``send_rate``), encrypting its TLS records to an https registry (``tls_rate``);
        and under the containerd store, containerd serving the blob's bytes through its content API
        (``blob_read_rate``; a layer compressed here is read from its files instead). docs/distribution.md, Push."""
        cpu, store_cpu = self.cpu, self.store_cpu
        if cpu is None or store_cpu is None:
            return []
        storage = self.spec.storage
        work = []
        if gzip:
            work.append((cpu, cpu.run(layer.uncompressed / storage.compress_rate, storage.compress_cores)))
        writer = cpu_seconds(layer.size, storage.send_rate) + (
            cpu_seconds(layer.size, storage.tls_rate) if registry.spec.tls else 0.0)
        if writer > 0.0:
            work.append((cpu, cpu.run(writer, 1.0)))
        served = cpu_seconds(layer.size, storage.blob_read_rate) if self.store.keeps_blobs and not gzip else 0.0
        if served > 0.0:
            work.append((store_cpu, store_cpu.run(served, 1.0)))
        return work

    def network_transfer(self, registry: RegistryServer, nbytes: float, cap: float) -> simpy.Event:
        return registry.network.transfer(self.host, registry.name, nbytes, cap)
