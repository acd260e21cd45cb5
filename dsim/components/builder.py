"""``docker build`` on one daemon: BuildKit (the default since Engine 23.0) or the legacy builder.

Cache semantics as BuildKit's (docs/real-docker.md: Build). A step's cache key digests its operation with
its parent's result: RUN its command text with the environment it runs in (every ARG in scope counts, so a
changed build arg misses at the first RUN after it), COPY/ADD the content digests of the context files
they copy after ``.dockerignore``, ``COPY --from`` the source stage's result. A key that misses executes
and its result is new, so every later key of the chain misses too: the cascade needs no rule of its own.
Layers built here get digests derived from their keys.

BuildKit builds only the stages the target needs, every step as soon as its inputs are ready (independent
stages run concurrently, at most ``max_parallelism`` steps at once), transfers only the context files its
COPY steps name (one "load build context" sync; files it already holds from an earlier build of the
same working copy are not sent again), fetches base-image and imported-cache layers only when a step
that runs or the exported image needs them, runs identical steps of concurrent builds once, and keeps
its cache under a size limit by GC. The legacy builder first sends the whole context, then builds every
stage up to the target in order, one step at a time, pulling base images as ``docker pull`` does.

The parts live in their own modules: the client's working copy (working_copy.py), what the client sends
(build_transfer.py), one build's state (build_session.py), a step's key, cache hit or execution
(build_steps.py), registry cache import and export (build_cache_io.py) and the legacy builder
(build_classic.py). This module orchestrates a BuildKit build and exports its image.
"""

from __future__ import annotations

import math
import random
from collections.abc import Generator, Mapping
from typing import Any

import simpy

from dsim.components.build_cache import BuildCache, CacheMounts, CacheRecord, RegistryCaches
from dsim.components.build_cache_io import CacheExchange
from dsim.components.build_classic import ClassicBuild
from dsim.components.build_session import BuildFailed, BuildSession, StepResult
from dsim.components.build_steps import StepRunner
from dsim.components.build_transfer import ContextTransfer
from dsim.components.disk import Disk, host_disk
from dsim.components.errors import ApiError
from dsim.components.host import Kernel
from dsim.components.image_store import DiskFull, ImageStore
from dsim.components.layer_work import LayerWork, cpu_seconds, inflate_into, unpack_stages
from dsim.components.network import Network
from dsim.components.pull import Puller
from dsim.components.push import Pusher
from dsim.components.registry import RegistryServer
from dsim.components.working_copy import EMPTY_CONTEXT, WorkingCopy
from dsim.domain.builds import BuildContext, BuildSpec
from dsim.domain.hosts import HostSpec
from dsim.domain.images import ImageInfo, LayerInfo
from dsim.domain.refs import normalise, push_registry, sha256, split_ref
from dsim.records import Recorder, SpanKind

__all__ = ["DEFAULT_BUILD_CACHE_SHARE", "EMPTY_CONTEXT", "Builder", "StepResult", "WorkingCopy"]

#: The legacy builder's and BuildKit's share of the host disk a build cache may use by default
#: (dockerd's BuildKit GC keeps about 10% of disk, docs/real-docker.md: Build).
DEFAULT_BUILD_CACHE_SHARE = 0.10


def image_layers(chain: tuple[LayerInfo, ...], builder: str) -> tuple[LayerInfo, ...]:
    """The layers of a built image: its snapshot chain, less the empty diffs (a RUN that changed no file) with the
    legacy builder, whose commits add no layer for them (moby ``image/image.go`` ``NewChildImage`` under the
    graphdriver store, ``daemon/containerd/image_commit.go`` ``createDiff`` under containerd's). BuildKit keeps
    them: each snapshot of the chain is exported as a blob, an empty one as the well-known 32-byte empty gzip
    layer ``4f4fb700...`` (buildkit ``exporter/containerimage/writer.go`` ``normalizeLayersAndHistory`` has not
    dropped it since v0.11; official images carry it, docs/catalog.md)."""
    if builder == "buildkit":
        return chain
    return tuple(layer for layer in chain if not layer.empty)

class Builder:
    """The build side of one dockerd."""

    def __init__(self, env: simpy.Environment, host: str, spec: HostSpec, kernel: Kernel, store: ImageStore,
                 puller: Puller, network: Network, registries: dict[str, RegistryServer], caches: RegistryCaches,
                 recorder: Recorder, rng: random.Random, *, pusher: Pusher | None = None,
                 contexts: Mapping[str, BuildContext] | None = None, disk: Disk | None = None) -> None:
        self.env = env
        self.host = host
        self.spec = spec
        self.kernel = kernel
        self.store = store
        self.puller = puller
        self.network = network
        self.registries = registries
        self.caches = caches
        self.recorder = recorder
        self.rng = rng
        #: context name -> the scenario's build context (client.py makes each job's working copy from it)
        self.contexts: Mapping[str, BuildContext] = contexts or {}
        daemon = spec.daemon
        limit = daemon.build_cache_limit
        if limit is None:
            limit = DEFAULT_BUILD_CACHE_SHARE * spec.disk
        self.cache = BuildCache(env, host, store, recorder, limit=limit)
        #: the legacy builder's cache: intermediate images, outside BuildKit's GC
        self.classic_cache = BuildCache(env, host, store, recorder, limit=math.inf)
        #: BuildKit's cache-mount directories (RUN --mount=type=cache), by id: they outlive builds
        self.mounts = CacheMounts(env)
        #: hashing and layer writes on the host's cores and disk (``disk``: the one containers write to)
        self.work = LayerWork(env, spec.storage, kernel.dockerd, disk or host_disk(env, spec, kernel.free_memory),
                              store_cpu=kernel.containerd if spec.daemon.image_store == "containerd" else None)
        self.transfer = ContextTransfer(env, host, network, recorder, self.work)
        self.steps = StepRunner(env, host, spec, kernel, store, puller, recorder, cache=self.cache,
                                classic_cache=self.classic_cache, mounts=self.mounts, work=self.work)
        self.cache_io = CacheExchange(env, host, registries, caches, recorder, pusher)
        self.classic = ClassicBuild(env, store, puller, self.transfer, self.steps, self._export)
        self._builds = 0
        #: blobs BuildKit's export is compressing now, by digest (containerd store): one at a time per blob
        self._compressing: dict[str, simpy.Process] = {}
        #: built layers being unpacked into the image store's snapshotter after their export, by digest: one unpack
        #: per layer (a later export finds its blob and skips it)
        self._unpacking: dict[str, simpy.Process] = {}

    @property
    def pusher(self) -> Pusher | None:
        """The daemon's push path, which cache export uploads through (None: export is refused)."""
        return self.cache_io.pusher

    @pusher.setter
    def pusher(self, pusher: Pusher | None) -> None:
        self.cache_io.pusher = pusher

    # ------------------------------------------------------------ entry

    def build(self, spec: BuildSpec, copy: WorkingCopy | None, *, job: int,
              client: str | None = None) -> Generator[Any, Any, ImageInfo]:
        """``docker build``: returns the image, tagged in the store when the build has a tag."""
        self._builds += 1
        session = BuildSession(spec, copy or WorkingCopy("", EMPTY_CONTEXT, job), job, client or self.host,
                               self.rng, spec.options.builder, pin_ref=f"<build {self.host} {self._builds}>")
        try:
            if spec.options.builder == "classic":
                image = yield from self.classic.build(session)
            else:
                image = yield from self._buildkit(session)
        except DiskFull as err:
            raise ApiError(500, str(err)) from None
        finally:
            self.cache.release(session.held)
            for pinned in session.pins:
                self.store.unpin(pinned)
        return image

    # ------------------------------------------------------------ BuildKit

    def _buildkit(self, s: BuildSession) -> Generator[Any, Any, ImageInfo]:
        spec = s.spec
        opts = spec.options
        # "[internal] load build definition from Dockerfile" and "[internal] load .dockerignore"
        yield from self.transfer.send(s, spec.text_bytes, "load build definition", files=1)
        s.slots = simpy.Resource(self.env, opts.max_parallelism) if opts.max_parallelism else None
        s.imports_done = self.env.event()
        self._spawn(self.cache_io.import_cache(s), s.imports_done)
        s.context_ready = self.env.event()
        self._spawn(self.transfer.sync_context(s), s.context_ready)
        for ref in spec.base_images(spec.needed):
            s.images[ref] = self.env.event()
            self._spawn(self._metadata(s, ref), s.images[ref])
        for index in spec.needed:
            s.stage_done[index] = self.env.event()
        for index in spec.needed:
            self._spawn(self._stage(s, index), s.stage_done[index])
        try:
            final: StepResult = yield s.stage_done[spec.target]
        except BuildFailed as failed:
            raise failed.error from None
        image = yield from self._export(s, final)
        for done in s.done:  # imported records whose layers came down become local cache records
            layer = done.result.layers[-1]
            if done.how == "remote" and done.key not in self.cache.records and self.store.has_layer(layer.chain_id):
                self.cache.add(CacheRecord(done.key, done.result.identity, layer, self.env.now, self.env.now,
                                           done.step.stage_name, done.step.instruction))
        if opts.cache_to is not None:
            yield from self.cache_io.export_cache(s)
        self.cache.gc(job=s.job)
        return image

    def _spawn(self, work: Generator[Any, Any, Any], done: simpy.Event) -> None:
        """Run ``work`` as a process of its own; ``done`` gets its value or its error. The error is defused
        there: whatever waits on ``done`` (the build, a dependent stage) raises it; nothing else does."""
        def run() -> Generator[Any, Any, None]:
            try:
                value = yield from work
            except Exception as err:  # handed on to whoever waits for `done`
                done.fail(err if isinstance(err, BuildFailed) else BuildFailed(err))
                done.defused = True
                return
            done.succeed(value)

        self.env.process(run())

    def _metadata(self, s: BuildSession, ref: str) -> Generator[Any, Any, ImageInfo]:
        """"[internal] load metadata for REF": an image the store has is used as is; else its tag is
        resolved at the registry (manifest and config), its layers fetched only when needed."""
        local = self.store.image(ref)
        image = local if local is not None else self.puller.image(ref)
        if local is None and not self.store.complete(image):
            yield from self.puller.resolve(image, job=s.job)
        for layer in image.layers:
            s.origins.setdefault(layer.digest, image)
        return image

    def _stage(self, s: BuildSession, index: int) -> Generator[Any, Any, StepResult]:
        """One stage: its base, then each step in order, each as soon as its inputs are ready."""
        stage = s.spec.stages[index]
        if stage.base_stage is not None:
            base: StepResult = yield s.stage_done[stage.base_stage]
            base = StepResult(base.identity, base.layers, 0.0)
        elif stage.base_image is not None:
            image: ImageInfo = yield s.images[stage.base_image]
            base = StepResult(f"image {image.manifest_digest}", image.layers)
        else:
            base = StepResult("scratch", ())
        result = base
        for step in stage.steps:
            result = yield from self.steps.step(s, step, result)
        return result

    # ------------------------------------------------------------ export

    def _export(self, s: BuildSession, final: StepResult) -> Generator[Any, Any, ImageInfo]:
        """"exporting to image": every layer of the result present, BuildKit's new layers exported into the image
        store (compressed into blobs under the containerd store, registered in the layer store under graphdriver),
        then tagged (a build without a tag leaves a dangling image, named here by its identity)."""
        started = self.env.now
        yield from self.steps.materialize(s, final.layers)
        if s.builder == "buildkit":
            if self.spec.daemon.image_store == "containerd":
                yield from self._compress_layers(final)
            else:
                yield from self._ensure_layers(final)
        tag = s.spec.options.tag
        ref = normalise(tag) if tag is not None else f"<none>@{final.identity[7:19]}"
        repository, name = split_ref(ref)
        registry = push_registry(tag, self.registries, {}) if tag is not None else ""
        layers = image_layers(final.layers, s.builder)
        image = ImageInfo(ref, registry, repository, name, layers, "gzip", sha256(f"manifest {ref} {final.identity}"))
        self.store.tag(image)
        self.recorder.span(SpanKind.BUILD_EXPORT, ref, started, self.env.now, host=self.host, job=s.job,
                           layers=len(layers), builder=s.builder, bytes=sum(layer.uncompressed for layer in layers))
        return image

    def _ensure_layers(self, final: StepResult) -> Generator[Any, Any, None]:
        """BuildKit's export into dockerd's layer store under the graphdriver image store (moby builder-next
        ``EnsureLayer``; the layers are compressed only when pushed): every built layer
        of the image not registered yet is diffed against its parent (a naive diff walks both trees) and its
        tar checksummed (``ChecksumForGraphID``), the whole chain at once (one goroutine per layer), then
        registered in place: no second write, unlike the legacy builder's commit. A naive diff of a layer on a
        parent waits, at its close, for the next whole second after it began (``LayerWork.naive_diff_close``):
        the diffs begin together, so the export waits once, for the latest of them."""
        started = self.env.now
        tasks: list[simpy.Event] = []
        below = 0.0
        on_parent = False
        for index, layer in enumerate(final.layers):
            if layer.local and self.store.register(layer.chain_id):
                work = self.work.walk_seconds(below, layer.uncompressed)
                work += cpu_seconds(layer.uncompressed, self.spec.storage.hash_rate)
                tasks.append(self.kernel.dockerd.run(work, 1.0).done)
                on_parent = on_parent or index > 0
            below += layer.uncompressed
        if tasks:
            yield self.env.all_of(tasks)
        if on_parent:
            yield from self.work.naive_diff_close(started)

    def _compress_layers(self, final: StepResult) -> Generator[Any, Any, None]:
        """BuildKit's export into containerd's content store (dockerd's containerd worker, moby
        ``builder/builder-next/controller.go`` ``newSnapshotterController``): every built layer without a blob yet
        is diffed from its snapshot's upper directory (no tree walk, no naive-diff wait), gzipped and written as a
        blob (BuildKit ``cache/blobs.go`` ``computeBlobChain``: one goroutine per layer, so they compress at once;
        ``util/compression/gzip.go``: Go's compress/gzip, the compressor a push uses). A push then uploads the blob
        as it is (push.py ``gzips``)."""
        todo = list({layer.digest: layer for layer in final.layers
                     if layer.local and not self.store.has_blob(layer.digest)}.values())
        if not todo:
            return
        blobs: list[simpy.Process] = []
        for layer in todo:  # a blob another export is making now is waited for, not made twice
            running = self._compressing.get(layer.digest)
            if running is None or not running.is_alive:
                running = self._compressing[layer.digest] = self.env.process(self._blob(layer))
            blobs.append(running)
        yield self.env.all_of(blobs)
        for blob in blobs:
            if isinstance(blob.value, DiskFull):
                raise blob.value
        # "unpacking to REF": the image exporter unpacks the image into the store's snapshotter (BuildKit
        # exporter/containerimage ``unpack``, containerd's unpacker: each layer not there yet, in chain order)
        for layer in todo:
            running = self._unpacking.get(layer.digest)
            if running is None or not running.is_alive:
                running = self._unpacking[layer.digest] = self.env.process(self._unpack(layer))
            yield running

    def _unpack(self, layer: LayerInfo) -> Generator[Any, Any, None]:
        """A built layer's blob applied into the image store's snapshotter, as a pulled one is (pull.py ``unpack``):
        the inflate beside the digest of the tar stream, containerd's CPU, and its files written into the page
        cache. Docker 28.5.2 with the containerd store took 1.4-1.5 s here for a 264 MB layer of shared libraries
        (docs/build.md, "BuildKit's export under the containerd image store")."""
        stages = unpack_stages(self.spec.storage, layer.uncompressed, "gzip", files=layer.files)
        try:
            yield from inflate_into(self.env, self.kernel.containerd, self.work.disk, stages, layer.uncompressed)
        finally:
            self._unpacking.pop(layer.digest, None)

    def _blob(self, layer: LayerInfo) -> Generator[Any, Any, DiskFull | None]:
        """One layer's blob: the deflate, the digest of the compressed stream and of the tar (the DiffID),
        ``uncompressed / compress_rate + (uncompressed + compressed) / hash_rate`` CPU-seconds on up to
        ``compress_cores``; the blob written as it comes and fsynced when containerd commits it (``content/local/
        writer.go`` ``Commit``), as a pulled blob is (pull.py ``_download``). Returns the error of a full disk
        (each layer's process hands it to the export, which raises the first)."""
        storage = self.spec.storage
        disk = self.work.disk
        began, mark = self.env.now, disk.mark()
        work = (cpu_seconds(layer.uncompressed, storage.compress_rate)
                + cpu_seconds(layer.uncompressed, storage.hash_rate) + cpu_seconds(layer.size, storage.hash_rate))
        if work > 0:
            yield self.kernel.dockerd.run(work, storage.compress_cores).done
        yield from disk.committed(layer.size, began, mark)
        try:
            self.store.add_blob(layer)
        except DiskFull as err:
            return err
        finally:
            self._compressing.pop(layer.digest, None)
        return None
