"""``docker build`` on one daemon: BuildKit (the default since Engine 23.0) or the legacy builder.

Cache semantics as BuildKit's (docker-facts.md: Build). A step's cache key digests its operation with its
parent's result: RUN its command text with the environment it runs in (every ARG in scope counts, so a
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
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Generator, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import simpy

from dsim.components.build_cache import (
    BuildCache,
    CacheDir,
    CacheManifest,
    CacheMounts,
    CacheRecord,
    RegistryCaches,
    RemoteRecord,
)
from dsim.components.errors import ApiError
from dsim.components.host import Kernel
from dsim.components.image_store import DiskFull, ImageStore
from dsim.components.network import Network
from dsim.components.pull import Puller
from dsim.components.push import Pusher
from dsim.components.registry import RegistryError, RegistryServer
from dsim.domain.build_context import included, match_source
from dsim.domain.builds import MOUNT_NEEDS_BUILDKIT, BuildContext, BuildSpec, ColdWarm, StepSpec, op_digest_text
from dsim.domain.hosts import HostSpec
from dsim.domain.images import DEFAULT_UNCOMPRESSED_RATIO, ImageInfo, LayerInfo
from dsim.domain.refs import normalise, push_registry, sha256, split_ref
from dsim.errors import SimulationError
from dsim.records import Recorder, SpanKind

#: The legacy builder's and BuildKit's share of the host disk a build cache may use by default
#: (dockerd's BuildKit GC keeps about 10% of disk, docker-facts.md: Build).
DEFAULT_BUILD_CACHE_SHARE = 0.10


# ---------------------------------------------------------------- the client's working copy

class WorkingCopy:
    """A job's copy of a build context on the client: each file's size and content digest. Every job
    checks out the scenario's context afresh (same digests everywhere, as a CI checkout of one commit);
    ``edit`` gives files new content, seen only by this job."""

    def __init__(self, name: str, spec: BuildContext, job: int) -> None:
        self.name = name
        self.spec = spec
        self.job = job
        self.sizes: dict[str, float] = dict(spec.files)
        self.digests = {path: sha256(f"context\x00{name}\x00{path}\x00{size}") for path, size in self.sizes.items()}
        self.edits = 0
        self._included = included(self.sizes, spec.dockerignore)
        #: daemon host -> the files (path -> digest) BuildKit holds from an earlier sync of this copy
        self.synced: dict[str, dict[str, str]] = {}

    def edit(self, paths: Iterable[str]) -> None:
        for path in paths:
            self.edits += 1
            self.digests[path] = sha256(f"context\x00{self.name}\x00{path}\x00job {self.job}\x00edit {self.edits}")

    @property
    def included(self) -> dict[str, float]:
        """What the CLI sends: every file ``.dockerignore`` does not exclude."""
        return self._included

    def select(self, sources: Iterable[str]) -> list[str]:
        chosen: set[str] = set()
        for source in sources:
            chosen.update(match_source(source, self._included))
        return sorted(chosen)

    def checksum(self, paths: Iterable[str]) -> str:
        """BuildKit's content checksum of the files a step reads (content, not mtime)."""
        return sha256(op_digest_text([[path, self.digests[path]] for path in sorted(paths)]))


EMPTY_CONTEXT = BuildContext({})


# ---------------------------------------------------------------- results

@dataclass(frozen=True)
class StepResult:
    """A snapshot: what dependent keys digest (``identity``) and its layers, base image first."""

    identity: str
    layers: tuple[LayerInfo, ...]
    own_bytes: float = 0.0  # bytes this stage's own steps wrote (the default size of a COPY --from it)


@dataclass
class _Done:
    """A step's outcome inside one build, for cache export."""

    step: StepSpec
    key: str
    result: StepResult
    how: str  # local | shared | remote | miss | no-cache


@dataclass
class _Session:
    """One build: its spec, the job, the events its steps wait on, where missing layers can come from."""

    spec: BuildSpec
    copy: WorkingCopy
    job: int
    client: str
    rng: random.Random
    builder: str
    stage_done: dict[int, simpy.Event] = field(default_factory=dict)
    images: dict[str, simpy.Event] = field(default_factory=dict)  # base ref -> event with its ImageInfo
    origins: dict[str, ImageInfo] = field(default_factory=dict)  # layer digest -> image to fetch it from
    imported: dict[str, tuple[RemoteRecord, ImageInfo]] = field(default_factory=dict)
    held: list[CacheRecord] = field(default_factory=list)
    done: list[_Done] = field(default_factory=list)
    context_ready: simpy.Event | None = None
    imports_done: simpy.Event | None = None
    slots: simpy.Resource | None = None
    pin_ref: str = ""
    pins: list[ImageInfo] = field(default_factory=list)


class _Failed(Exception):
    """An error handed from one of a build's processes to whatever waits for it. SimPy re-creates a failed
    event's exception from its args for each waiter, so the original travels inside, intact."""

    @property
    def error(self) -> BaseException:
        inner: BaseException = self.args[0]
        return inner


_T = TypeVar("_T")


def _first_match(patterns: Mapping[str, _T], text: str) -> _T | None:
    for pattern, dist in patterns.items():
        if re.search(pattern, text):
            return dist
    return None


class Builder:
    """The build side of one dockerd."""

    def __init__(self, env: simpy.Environment, host: str, spec: HostSpec, kernel: Kernel, store: ImageStore,
                 puller: Puller, network: Network, registries: dict[str, RegistryServer], caches: RegistryCaches,
                 recorder: Recorder, rng: random.Random, *, pusher: Pusher | None = None,
                 contexts: Mapping[str, BuildContext] | None = None) -> None:
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
        self.pusher = pusher
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
        self._builds = 0

    # ------------------------------------------------------------ entry

    def build(self, spec: BuildSpec, copy: WorkingCopy | None, *, job: int,
              client: str | None = None) -> Generator[Any, Any, ImageInfo]:
        """``docker build``: returns the image, tagged in the store when the build has a tag."""
        self._builds += 1
        session = _Session(spec, copy or WorkingCopy("", EMPTY_CONTEXT, job), job, client or self.host, self.rng,
                           spec.options.builder, pin_ref=f"<build {self.host} {self._builds}>")
        try:
            if spec.options.builder == "classic":
                image = yield from self._classic(session)
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

    def _buildkit(self, s: _Session) -> Generator[Any, Any, ImageInfo]:
        spec = s.spec
        opts = spec.options
        # "[internal] load build definition from Dockerfile" and "[internal] load .dockerignore"
        yield from self._send(s, spec.text_bytes, "load build definition", files=1)
        s.slots = simpy.Resource(self.env, opts.max_parallelism) if opts.max_parallelism else None
        s.imports_done = self.env.event()
        self._spawn(self._imports(s), s.imports_done)
        s.context_ready = self.env.event()
        self._spawn(self._sync_context(s), s.context_ready)
        for ref in spec.base_images(spec.needed):
            s.images[ref] = self.env.event()
            self._spawn(self._metadata(s, ref), s.images[ref])
        for index in spec.needed:
            s.stage_done[index] = self.env.event()
        for index in spec.needed:
            self._spawn(self._stage(s, index), s.stage_done[index])
        try:
            final: StepResult = yield s.stage_done[spec.target]
        except _Failed as failed:
            raise failed.error from None
        image = yield from self._export(s, final)
        for done in s.done:  # imported records whose layers came down become local cache records
            layer = done.result.layers[-1]
            if done.how == "remote" and done.key not in self.cache.records and self.store.has_layer(layer.chain_id):
                self.cache.add(CacheRecord(done.key, done.result.identity, layer, self.env.now, self.env.now,
                                           done.step.stage_name, done.step.instruction))
        if opts.cache_to is not None:
            yield from self._export_cache(s)
        self.cache.gc(job=s.job)
        return image

    def _spawn(self, work: Generator[Any, Any, Any], done: simpy.Event) -> None:
        """Run ``work`` as a process of its own; ``done`` gets its value or its error. The error is defused
        there: whatever waits on ``done`` (the build, a dependent stage) raises it; nothing else does."""
        def run() -> Generator[Any, Any, None]:
            try:
                value = yield from work
            except Exception as err:  # handed on to whoever waits for `done`
                done.fail(err if isinstance(err, _Failed) else _Failed(err))
                done.defused = True
                return
            done.succeed(value)

        self.env.process(run())

    def _send(self, s: _Session, nbytes: float, what: str, *, files: int) -> Generator[Any, Any, None]:
        """Bytes from the client's host to the daemon's through the network (instant on one host)."""
        began = self.env.now
        if s.client != self.host:
            yield self.env.timeout(self.network.rtt(s.client, self.host))
        yield self.network.transfer(s.client, self.host, nbytes)
        self.recorder.span(SpanKind.BUILD_CONTEXT, what, began, self.env.now, host=self.host, job=s.job,
                           bytes=nbytes, files=files, client=s.client, builder=s.builder)

    def _sync_context(self, s: _Session) -> Generator[Any, Any, None]:
        """"[internal] load build context": BuildKit's one local source follows only the paths the needed
        stages' COPY steps name, and diff-copies: files it holds with the same content are not resent."""
        paths = s.copy.select(s.spec.context_paths) if s.spec.context_paths else []
        held = s.copy.synced.setdefault(self.host, {})
        send = [path for path in paths if held.get(path) != s.copy.digests[path]]
        yield from self._send(s, sum(s.copy.sizes[path] for path in send), "load build context", files=len(send))
        for path in send:
            held[path] = s.copy.digests[path]

    def _metadata(self, s: _Session, ref: str) -> Generator[Any, Any, ImageInfo]:
        """"[internal] load metadata for REF": an image the store has is used as is; else its tag is
        resolved at the registry (manifest and config), its layers fetched only when needed."""
        local = self.store.image(ref)
        image = local if local is not None else self.puller.image(ref)
        if local is None and not self.store.complete(image):
            yield from self.puller.resolve(image, job=s.job)
        for layer in image.layers:
            s.origins.setdefault(layer.digest, image)
        return image

    def _imports(self, s: _Session) -> Generator[Any, Any, None]:
        """``--cache-from``: fetch each cache manifest (a missing one is a warning, as in BuildKit)."""
        for ref in s.spec.options.cache_from:
            began = self.env.now
            registry, repository, tag = self._cache_ref(ref)
            registry_name = registry.name
            norm = normalise(ref)
            manifest = self.caches.get(registry_name, norm)
            found = manifest is not None
            try:
                yield from registry.request(self.host, f"HEAD /v2/{repository}/manifests/{tag}", job=s.job,
                                            status=200 if found else 404)
                if found:
                    yield from registry.request(self.host, f"GET /v2/{repository}/manifests/{tag}", job=s.job)
                    yield from registry.request(self.host, f"GET /v2/{repository}/blobs/cache-config", job=s.job)
            except RegistryError:
                found = False
            records = 0
            if found:
                assert manifest is not None
                source = ImageInfo(norm, registry_name, repository, tag, (), "gzip", sha256(f"cache {norm}"))
                for key, record in manifest.records.items():
                    s.imported.setdefault(key, (record, source))
                records = len(manifest.records)
            self.recorder.span(SpanKind.CACHE_IMPORT, norm, began, self.env.now, host=self.host, job=s.job,
                               registry=registry_name, found=found, records=records)

    def _cache_ref(self, ref: str) -> tuple[RegistryServer, str, str]:
        """(registry, repository, tag) of a cache reference, as a push of it would address them."""
        if self.pusher is not None:
            return self.pusher.target(normalise(ref))
        repository, tag = split_ref(normalise(ref))
        return self.registries[push_registry(ref, self.registries, {})], repository, tag

    def _stage(self, s: _Session, index: int) -> Generator[Any, Any, StepResult]:
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
            result = yield from self._step(s, step, result)
        return result

    def _inputs(self, s: _Session, step: StepSpec) -> Generator[Any, Any, tuple[list[Any], list[StepResult],
                                                                               ImageInfo | None, list[str]]]:
        """What a step's key digests besides its parent: source stages, an image, context files."""
        deps: list[StepResult] = []
        for index in step.from_stages:
            deps.append((yield s.stage_done[index]))
        image: ImageInfo | None = None
        if step.from_image is not None:
            image = yield s.images[step.from_image]
        paths: list[str] = []
        parts: list[Any] = [dep.identity for dep in deps]
        if image is not None:
            parts.append(image.manifest_digest)
        if step.uses_context:
            assert s.context_ready is not None
            yield s.context_ready
            paths = s.copy.select(step.sources)
            parts.append(s.copy.checksum(paths))
        return parts, deps, image, paths

    def _key(self, s: _Session, step: StepSpec, parent: StepResult, parts: list[Any]) -> str:
        return sha256(op_digest_text([s.builder, parent.identity, step.instruction, step.op, parts]))

    def _forced(self, s: _Session, step: StepSpec) -> bool:
        opts = s.spec.options
        return opts.no_cache or step.stage_name in opts.no_cache_filter

    def _step(self, s: _Session, step: StepSpec, parent: StepResult) -> Generator[Any, Any, StepResult]:
        parts, deps, image, paths = yield from self._inputs(s, step)
        if s.imports_done is not None:
            yield s.imports_done
        asked = self.env.now
        key = self._key(s, step, parent, parts)
        cache = self.classic_cache if s.builder == "classic" else self.cache
        forced = self._forced(s, step)
        how = ""
        record: CacheRecord | None = None
        if not forced:
            record = cache.lookup(key)
            if record is not None and not self.store.has_layer(record.layer.chain_id):
                record = None  # its snapshot is gone (image GC): BuildKit would not find it either
            if record is not None:
                how = "local"
            elif key in cache.running and s.builder == "buildkit":
                try:
                    record = yield cache.running[key]
                    how = "shared"
                except _Failed:  # the build running it failed: run it here
                    record = None
            elif key in s.imported:
                remote, source = s.imported[key]
                layer = remote.layer
                s.origins.setdefault(layer.digest, source)
                # the cache manifest tells the daemon where the blob lives: a push finds it there
                self.store.remember_source(layer.digest, source.registry, source.repository)
                result = StepResult(remote.result, (*parent.layers, layer), parent.own_bytes + layer.uncompressed)
                self._span(s, step, key, asked, cached=True, how="remote", nbytes=layer.uncompressed)
                s.done.append(_Done(step, key, result, "remote"))
                self._pin(s, result)
                return result
        if record is not None:
            cache.hold([record])
            s.held.append(record)
            result = StepResult(record.result, (*parent.layers, record.layer),
                                parent.own_bytes + record.layer.uncompressed)
            self._span(s, step, key, asked, cached=True, how=how, nbytes=record.layer.uncompressed)
            s.done.append(_Done(step, key, result, how))
            self._pin(s, result)
            return result
        result = yield from self._execute(s, step, key, parent, deps, image, paths, forced, cache, asked)
        return result

    def _execute(self, s: _Session, step: StepSpec, key: str, parent: StepResult, deps: list[StepResult],
                 image: ImageInfo | None, paths: list[str], forced: bool, cache: BuildCache,
                 asked: float) -> Generator[Any, Any, StepResult]:
        """Run a step: its inputs' layers present, a parallelism slot, CPU for RUN, disk writes for COPY."""
        running: simpy.Event | None = None
        if not forced and s.builder == "buildkit":
            running = cache.running[key] = self.env.event()
        try:
            yield from self._materialize(s, parent.layers)
            for dep in deps:
                yield from self._materialize(s, dep.layers)
            if image is not None:
                yield from self._materialize(s, image.layers)
            if s.slots is not None:
                with s.slots.request() as slot:
                    yield slot
                    began = self.env.now
                    nbytes, mounted = yield from self._work(s, step, deps, paths)
            else:
                began = self.env.now
                nbytes, mounted = yield from self._work(s, step, deps, paths)
            # COPY, ADD and WORKDIR produce what their inputs determine; a RUN's output is new content every
            # time it runs (timestamps, fetched packages), so whatever reads it (COPY --from) misses after it reruns
            identity = key if step.instruction != "RUN" else sha256(f"{key}\x00ran\x00{s.pin_ref}\x00{self.env.now!r}")
            digest = sha256(f"layer\x00{identity}")
            parent_chain = parent.layers[-1].chain_id if parent.layers else None
            chain = digest if parent_chain is None else sha256(f"{parent_chain} {digest}")
            layer = LayerInfo(len(parent.layers), digest, chain, nbytes / DEFAULT_UNCOMPRESSED_RATIO, nbytes,
                              local=True)
            self.store.add_chain(layer)
            record = CacheRecord(key, identity, layer, self.env.now, self.env.now, step.stage_name, step.instruction)
            cache.add(record)
            cache.hold([record])
            s.held.append(record)
        except BaseException as err:
            if running is not None:
                del cache.running[key]
                running.fail(_Failed(err))
                running.defused = True
            raise
        if running is not None:
            del cache.running[key]
            running.succeed(record)
        result = StepResult(identity, (*parent.layers, layer), parent.own_bytes + nbytes)
        how = "no-cache" if forced else "miss"
        self._span(s, step, key, asked, cached=False, how=how, nbytes=nbytes, began=began, **mounted)
        s.done.append(_Done(step, key, result, how))
        self._pin(s, result)
        return result

    def _work(self, s: _Session, step: StepSpec, deps: list[StepResult],
              paths: list[str]) -> Generator[Any, Any, tuple[float, dict[str, Any]]]:
        """The step's own work; returns the bytes its layer holds and what its span adds (a RUN's cache mounts)."""
        opts = s.spec.options
        sized = _first_match(opts.layer_sizes, step.text)
        if step.instruction == "RUN":
            mounted: dict[str, Any] = {}
            held: list[CacheDir] = []
            finished = False
            try:
                if step.cache_mounts:  # BuildKit's only: the legacy builder refuses --mount (_classic)
                    asked = self.env.now
                    for mount in step.cache_mounts:
                        held.append((yield from self.mounts.acquire(mount.key, mount.sharing)))
                    # which directories held an earlier run's files when this RUN started, and how long it
                    # waited for sharing=locked directories other builds held
                    mounted = {"mounts": {d.key: "warm" if d.warm else "cold" for d in held},
                               "mount_wait": self.env.now - asked}
                warm = bool(held) and all(d.warm for d in held)
                timed = _first_match(opts.run_times, step.text) or opts.default_run_time
                if isinstance(timed, ColdWarm):
                    timed = timed.warm if warm else timed.cold
                duration = timed.sample(s.rng)
                nbytes = (sized or opts.default_layer_size).sample(s.rng)
                cpus = opts.run_cpus
                task = self.kernel.cpu.run(duration * cpus, cpus)
                yield task.done
                finished = True
            finally:
                for directory in held:
                    self.mounts.release(directory, finished=finished)
            return nbytes, mounted
        if step.instruction == "WORKDIR":
            return 0.0, {}  # a directory entry
        if paths:
            nbytes = sum(s.copy.sizes[path] for path in paths)
        elif sized is not None:
            nbytes = sized.sample(s.rng)
        elif deps:
            nbytes = sum(dep.own_bytes for dep in deps)
        else:
            nbytes = opts.default_layer_size.sample(s.rng)
        rate = self.spec.storage.write_rate
        if nbytes > 0 and not math.isinf(rate):
            yield self.env.timeout(nbytes / rate)
        return nbytes, {}

    def _materialize(self, s: _Session, layers: tuple[LayerInfo, ...]) -> Generator[Any, Any, None]:
        """Make a snapshot's layers present: base-image and imported-cache layers are fetched (in order,
        through the download slots) the first time a step that runs, or the exported image, needs them."""
        missing = [layer for layer in layers if not self.store.has_layer(layer.chain_id)]
        if not missing:
            return
        groups: list[tuple[ImageInfo, list[LayerInfo]]] = []
        for layer in missing:
            origin = s.origins.get(layer.digest)
            if origin is None:
                raise SimulationError(f"build on {self.host}: layer {layer.digest[:19]} is neither present nor "
                                      "fetchable (removed while a build needed it)")
            if groups and groups[-1][0] is origin:
                groups[-1][1].append(layer)
            else:
                groups.append((origin, [layer]))
        for origin, group in groups:
            yield from self.puller.fetch_layers(origin, group, job=s.job)

    def _pin(self, s: _Session, result: StepResult) -> None:
        """Keep a running build's snapshots out of image GC's reach."""
        if result.layers:
            pinned = ImageInfo(s.pin_ref, "", s.pin_ref, "", result.layers, "gzip", result.identity)
            self.store.pin(pinned)
            s.pins.append(pinned)

    def _span(self, s: _Session, step: StepSpec, key: str, asked: float, *, cached: bool, how: str,
              nbytes: float, began: float | None = None, **extra: Any) -> None:
        self.recorder.span(SpanKind.BUILD_STEP, step.text, asked, self.env.now, host=self.host, job=s.job,
                           stage=step.stage_name, instruction=step.instruction, cached=cached, cache=how,
                           builder=s.builder, key=key[7:19], line=step.line, bytes=nbytes,
                           began=began if began is not None else asked, **extra)

    # ------------------------------------------------------------ export

    def _export(self, s: _Session, final: StepResult) -> Generator[Any, Any, ImageInfo]:
        """"exporting to image": every layer of the result present, then tagged (a build without a tag
        leaves a dangling image, named here by its identity)."""
        started = self.env.now
        yield from self._materialize(s, final.layers)
        tag = s.spec.options.tag
        ref = normalise(tag) if tag is not None else f"<none>@{final.identity[7:19]}"
        repository, name = split_ref(ref)
        registry = push_registry(tag, self.registries, {}) if tag is not None else ""
        image = ImageInfo(ref, registry, repository, name, final.layers, "gzip",
                          sha256(f"manifest {ref} {final.identity}"))
        self.store.tag(image)
        self.recorder.span(SpanKind.BUILD_EXPORT, ref, started, self.env.now, host=self.host, job=s.job,
                           layers=len(final.layers), builder=s.builder,
                           bytes=sum(layer.uncompressed for layer in final.layers))
        return image

    def _export_cache(self, s: _Session) -> Generator[Any, Any, None]:
        """``--cache-to type=registry``: upload the records' layers the registry lacks, then the cache
        manifest. ``min`` exports the final image's chain, ``max`` every step of every built stage."""
        opts = s.spec.options
        assert opts.cache_to is not None
        began = self.env.now
        registry, repository, tag = self._cache_ref(opts.cache_to.ref)
        registry_name = registry.name
        norm = normalise(opts.cache_to.ref)
        target = s.spec.stages[s.spec.target]
        chain_stages = {target.index}
        stage = target
        while stage.base_stage is not None:
            chain_stages.add(stage.base_stage)
            stage = s.spec.stages[stage.base_stage]
        chosen = [d for d in s.done if opts.cache_to.mode == "max" or d.step.stage in chain_stages]
        records: dict[str, RemoteRecord] = {}
        layers: list[LayerInfo] = []
        for done in chosen:
            layer = done.result.layers[-1]
            # in the registry the layer is a compressed blob: whoever imports it downloads, never gzips it
            records[done.key] = RemoteRecord(done.key, done.result.identity, replace(layer, local=False),
                                             done.step.stage_name, done.step.instruction)
            layers.append(layer)
        uploaded = yield from self._upload(s, registry, repository, layers)
        yield from registry.request(self.host, f"PUT /v2/{repository}/manifests/{tag}", job=s.job)
        self.caches.put(CacheManifest(norm, registry_name, records, self.env.now))
        self.recorder.span(SpanKind.CACHE_EXPORT, norm, began, self.env.now, host=self.host, job=s.job,
                           registry=registry_name, mode=opts.cache_to.mode, records=len(records), bytes=uploaded)

    def _upload(self, s: _Session, registry: RegistryServer, repository: str,
                layers: list[LayerInfo]) -> Generator[Any, Any, float]:
        """Blobs through the push path (existence check, upload slots, gzip of local layers)."""
        if self.pusher is None:
            raise SimulationError("cache export needs the daemon's push path")
        uploaded: float = yield from self.pusher.push_blobs(registry, repository, layers, job=s.job)
        return uploaded

    # ------------------------------------------------------------ the legacy builder

    def _classic(self, s: _Session) -> Generator[Any, Any, ImageInfo]:
        """Send the whole context ("Sending build context to Docker daemon"), then every stage up to the
        target in order, one step at a time; a base image is pulled as ``docker pull`` would."""
        spec = s.spec
        files = s.copy.included
        yield from self._send(s, spec.text_bytes + sum(files.values()), "Sending build context to Docker daemon",
                              files=len(files) + 1)
        s.context_ready = self.env.event()
        s.context_ready.succeed()
        results: dict[int, StepResult] = {}
        for index in spec.classic_stages:
            stage = spec.stages[index]
            if stage.base_stage is not None:
                base = StepResult(results[stage.base_stage].identity, results[stage.base_stage].layers)
            elif stage.base_image is not None:
                image = yield from self._classic_image(s, stage.base_image)
                base = StepResult(f"image {image.manifest_digest}", image.layers)
            else:
                base = StepResult("scratch", ())
            result = base
            for step in stage.steps:
                if step.from_image is not None and step.from_image not in s.images:
                    image = yield from self._classic_image(s, step.from_image)
                    s.images[step.from_image] = self.env.event()
                    s.images[step.from_image].succeed(image)
                for dep in step.from_stages:
                    s.stage_done[dep] = self.env.event()
                    s.stage_done[dep].succeed(results[dep])
                if step.mounts:  # reached only through `dsim serve` (a scenario's check refuses it before time 0)
                    raise ApiError(400, MOUNT_NEEDS_BUILDKIT)
                result = yield from self._step(s, step, result)
            results[index] = result
        image = yield from self._export(s, results[spec.target])
        return image

    def _classic_image(self, s: _Session, ref: str) -> Generator[Any, Any, ImageInfo]:
        """The legacy builder uses a local image as is and pulls one it lacks, as ``docker pull`` does."""
        local = self.store.image(ref)
        if local is not None:
            return local
        yield from self.puller.pull(ref, job=s.job)
        return self.store.image(ref) or self.puller.image(ref)
