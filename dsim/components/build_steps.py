"""A build step: its cache key from its inputs, then a cache hit (local, shared with a concurrent build,
or imported from a registry) or its execution: RUN on the host's CPUs with its cache mounts, COPY/ADD
writing the bytes they copy. Layers a step needs are fetched the first time a step that runs needs them."""

from __future__ import annotations

import re
from collections.abc import Generator, Mapping
from typing import Any, TypeVar

import simpy

from dsim.components.build_cache import BuildCache, CacheDir, CacheMounts, CacheRecord
from dsim.components.build_session import BuildFailed, BuildSession, StepDone, StepResult
from dsim.components.build_solver import SolverOverhead
from dsim.components.host import Kernel
from dsim.components.image_store import ImageStore
from dsim.components.layer_work import LayerWork
from dsim.components.mounts import overlay_mount_cost
from dsim.components.pull import Puller
from dsim.domain.builds import ColdWarm, StepSpec, op_digest_text
from dsim.domain.hosts import HostSpec
from dsim.domain.images import (
    DEFAULT_UNCOMPRESSED_RATIO,
    EMPTY_LAYER_DIGEST,
    EMPTY_LAYER_SIZE,
    EMPTY_LAYER_UNCOMPRESSED,
    ImageInfo,
    LayerInfo,
)
from dsim.domain.refs import sha256
from dsim.errors import SimulationError
from dsim.records import Recorder, SpanKind

_T = TypeVar("_T")

#: the instructions that copy files: the legacy builder's ``performCopy`` (no container since Docker 17.07)
_FILE_COPIES = frozenset({"COPY", "ADD"})
#: the build steps BuildKit's Dockerfile frontend makes FileOps (``llb.Copy``, ``llb.Mkdir``)
_FILE_OPS = frozenset({"COPY", "ADD", "WORKDIR"})


def _first_match(patterns: Mapping[str, _T], text: str) -> _T | None:
    for pattern, dist in patterns.items():
        if re.search(pattern, text):
            return dist
    return None


class StepRunner:
    """Resolves and runs the steps of one daemon's builds against its build caches."""

    def __init__(self, env: simpy.Environment, host: str, spec: HostSpec, kernel: Kernel, store: ImageStore,
                 puller: Puller, recorder: Recorder, *, cache: BuildCache, classic_cache: BuildCache,
                 mounts: CacheMounts, work: LayerWork) -> None:
        self.env = env
        self.host = host
        self.spec = spec
        self.kernel = kernel
        self.store = store
        self.puller = puller
        self.recorder = recorder
        self.cache = cache
        self.classic_cache = classic_cache
        self.mounts = mounts
        #: hashing, diff walks and layer writes on this host's cores and disk
        self.work = work
        #: BuildKit's per-vertex solver work (cache key, lookup) on this host's cores
        self.solver = SolverOverhead(kernel.dockerd, spec.daemon.buildkit_vertex)

    def _inputs(self, s: BuildSession,
                step: StepSpec) -> Generator[Any, Any, tuple[list[Any], list[StepResult], ImageInfo | None, list[str]]]:
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

    def _key(self, s: BuildSession, step: StepSpec, parent: StepResult, parts: list[Any]) -> str:
        return sha256(op_digest_text([s.builder, parent.identity, step.instruction, step.op, parts]))

    def _forced(self, s: BuildSession, step: StepSpec) -> bool:
        opts = s.spec.options
        return opts.no_cache or step.stage_name in opts.no_cache_filter

    def step(self, s: BuildSession, step: StepSpec, parent: StepResult) -> Generator[Any, Any, StepResult]:
        parts, deps, image, paths = yield from self._inputs(s, step)
        if s.imports_done is not None:
            yield s.imports_done
        asked = self.env.now
        if s.builder == "buildkit":
            yield from self.solver.vertex(s.rng)  # load, key and look up the vertex: cached or not
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
                except BuildFailed:  # the build running it failed: run it here
                    record = None
            elif key in s.imported:
                remote, source = s.imported[key]
                layer = remote.layer
                s.origins.setdefault(layer.digest, source)
                # the cache manifest tells the daemon where the blob lives: a push finds it there
                self.store.remember_source(layer.digest, source.registry, source.repository)
                result = StepResult(remote.result, (*parent.layers, layer), parent.own_bytes + layer.uncompressed)
                self._span(s, step, key, asked, cached=True, how="remote", nbytes=layer.uncompressed)
                s.done.append(StepDone(step, key, result, "remote"))
                self.pin(s, result)
                return result
        if record is not None:
            cache.hold([record])
            s.held.append(record)
            result = StepResult(record.result, (*parent.layers, record.layer),
                                parent.own_bytes + record.layer.uncompressed)
            self._span(s, step, key, asked, cached=True, how=how, nbytes=record.layer.uncompressed)
            s.done.append(StepDone(step, key, result, how))
            self.pin(s, result)
            return result
        result = yield from self._execute(s, step, key, parent, deps, image, paths, forced, cache, asked)
        return result

    def _execute(self, s: BuildSession, step: StepSpec, key: str, parent: StepResult, deps: list[StepResult],
                 image: ImageInfo | None, paths: list[str], forced: bool, cache: BuildCache,
                 asked: float) -> Generator[Any, Any, StepResult]:
        """Run a step: its inputs' layers present, a parallelism slot, CPU for RUN, disk writes for COPY."""
        running: simpy.Event | None = None
        if not forced and s.builder == "buildkit":
            running = cache.running[key] = self.env.event()
        try:
            yield from self.materialize(s, parent.layers)
            for dep in deps:
                yield from self.materialize(s, dep.layers)
            if image is not None:
                yield from self.materialize(s, image.layers)
            if s.slots is not None:  # BuildKit's max_parallelism (the legacy builder takes none)
                with s.slots.request() as slot:
                    yield slot
                    began = self.env.now
                    nbytes, mounted = yield from self._buildkit(s, step, deps, paths, parent)
            else:
                began = self.env.now
                if s.builder == "classic":
                    nbytes, mounted = yield from self._classic(s, step, deps, paths, parent)
                else:
                    nbytes, mounted = yield from self._buildkit(s, step, deps, paths, parent)
            # COPY, ADD and WORKDIR produce what their inputs determine; a RUN's output is new content every
            # time it runs (timestamps, fetched packages), so whatever reads it (COPY --from) misses after it reruns
            identity = key if step.instruction != "RUN" else sha256(f"{key}\x00ran\x00{s.pin_ref}\x00{self.env.now!r}")
            digest = sha256(f"layer\x00{identity}")
            compressed = float(round(nbytes / DEFAULT_UNCOMPRESSED_RATIO))  # an estimate, of whole bytes
            unpacked = nbytes
            empty = step.instruction == "RUN" and nbytes <= 0
            if empty and s.builder == "buildkit":  # its snapshot exported as the empty layer (builder.image_layers)
                digest, compressed, unpacked = EMPTY_LAYER_DIGEST, EMPTY_LAYER_SIZE, EMPTY_LAYER_UNCOMPRESSED
            parent_chain = parent.layers[-1].chain_id if parent.layers else None
            chain = digest if parent_chain is None else sha256(f"{parent_chain} {digest}")
            # a COPY or ADD of context files makes one tar entry a file; other steps' entries are estimated
            files = float(len(paths)) if paths and not empty else None
            layer = LayerInfo(len(parent.layers), digest, chain, compressed, unpacked, local=True, empty=empty,
                              files=files)
            self.store.add_chain(layer)
            if s.builder == "classic" and self._containerd_store and nbytes > 0:
                self.store.add_blob(layer)  # the commit's diff, in containerd's content store
            record = CacheRecord(key, identity, layer, self.env.now, self.env.now, step.stage_name, step.instruction)
            cache.add(record)
            cache.hold([record])
            s.held.append(record)
        except BaseException as err:
            if running is not None:
                _done_running(cache, key, running)
                running.fail(BuildFailed(err))
                running.defused = True
            raise
        if running is not None:
            _done_running(cache, key, running)
            running.succeed(record)
        result = StepResult(identity, (*parent.layers, layer), parent.own_bytes + nbytes)
        how = "no-cache" if forced else "miss"
        self._span(s, step, key, asked, cached=False, how=how, nbytes=nbytes, began=began, **mounted)
        s.done.append(StepDone(step, key, result, how))
        self.pin(s, result)
        return result

    def _classic(self, s: BuildSession, step: StepSpec, deps: list[StepResult], paths: list[str],
                 parent: StepResult) -> Generator[Any, Any, tuple[float, dict[str, Any]]]:
        """A legacy-builder step that missed: COPY and ADD in a bare layer (``classic_copy``), unless the daemon
        is older than Docker 17.07; every other step in a container created, run and committed."""
        if step.instruction in _FILE_COPIES and self.spec.daemon.classic_copy == "layer":
            return (yield from self.classic_copy(s, step, deps, paths, parent))
        yield self.env.timeout(self.spec.runtime.create.sample(s.rng))  # the step's container
        yield from self.work.syncfs()  # its init layer mounted and unmounted
        nbytes, mounted = yield from self._work(s, step, deps, paths)
        # Docker 1.3-1.9's COPY/ADD container (runContextCommand) holds its rootfs mounted from the copy to after
        # the commit, whose own mount is then nested: the one unmount, after the commit, is the same
        yield from self.classic_commit(s, nbytes, parent, container=True)
        return nbytes, mounted

    def classic_copy(self, s: BuildSession, step: StepSpec, deps: list[StepResult], paths: list[str],
                     parent: StepResult) -> Generator[Any, Any, tuple[float, dict[str, Any]]]:
        """The legacy builder's COPY/ADD since Docker 17.07 (moby ``builder/dockerfile/internals.go``,
        ``performCopy``): no container and no init layer. A read-write layer is created on the parent image and
        mounted (``imgMount.NewRWLayer()``: the cost of a container's rootfs mount, ``runtime.mount`` grown by
        the image's depth), the files are copied into it, ``exportImage`` commits it (``classic_commit``: the
        diff walked with naive diff, its tar digested while written again as a layer, the image recorded), and
        only then the deferred ``rwLayer.Release()`` unmounts it: the overlay's unmount syncs the filesystem
        once, after the copy's and the commit's writes. On ``scratch`` the layer has no lower layer, so overlay2
        mounts nothing (``Get`` returns its directory): no mount, no sync."""
        layered = bool(parent.layers)
        if layered:
            runtime = self.spec.runtime
            yield self.env.timeout(overlay_mount_cost(runtime.mount.sample(s.rng), len(parent.layers),
                                                      runtime.overlay))
        nbytes, mounted = yield from self._work(s, step, deps, paths)
        if self._containerd_store:  # rwlayer.Commit unmounts the layer before its diff (image_builder.go)
            if layered:
                yield from self.work.syncfs()
            yield from self.classic_commit(s, nbytes, parent, container=False)
            return nbytes, mounted
        yield from self.classic_commit(s, nbytes, parent, container=False)
        if layered:
            yield from self.work.syncfs()  # rwLayer.Release(): the overlay unmounted
        return nbytes, mounted

    @property
    def _containerd_store(self) -> bool:
        return self.spec.daemon.image_store == "containerd"

    def _buildkit(self, s: BuildSession, step: StepSpec, deps: list[StepResult], paths: list[str],
                  parent: StepResult) -> Generator[Any, Any, tuple[float, dict[str, Any]]]:
        """A BuildKit step that missed. COPY, ADD and WORKDIR are FileOps (moby/buildkit
        ``solver/llbsolver/file/backend.go``): each action mounts the step's new snapshot (``LocalMounter``),
        writes into it and unmounts it, and unmounting a snapshot on a parent (an overlay with an upper
        directory; dockerd's snapshotter adapter: overlay2 ``Get``/``Put``) syncs the filesystem. A snapshot with
        no parent (``FROM scratch``) is a plain directory: no mount, no sync."""
        nbytes, mounted = yield from self._work(s, step, deps, paths)
        if step.instruction in _FILE_OPS and parent.layers:
            yield from self.work.syncfs()
        return nbytes, mounted

    def _work(self, s: BuildSession, step: StepSpec, deps: list[StepResult],
              paths: list[str]) -> Generator[Any, Any, tuple[float, dict[str, Any]]]:
        """The step's own work; returns the bytes its layer holds and what its span adds (a RUN's cache mounts)."""
        opts = s.spec.options
        sized = _first_match(opts.layer_sizes, step.text)
        if step.instruction == "RUN":
            mounted: dict[str, Any] = {}
            held: list[CacheDir] = []
            finished = False
            try:
                if step.cache_mounts:  # BuildKit's only: the legacy builder refuses --mount (build_classic.py)
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
                yield from self.work.syncfs()  # the RUN's rootfs unmounted after its process exits
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
        if nbytes > 0:
            yield self.work.disk.write(nbytes)  # through the host's page cache (disk.py)
        return nbytes, {}

    def classic_container(self, s: BuildSession, parent: StepResult) -> Generator[Any, Any, None]:
        """A legacy-builder metadata instruction's whole container: created, then committed with an empty
        diff (``classic_commit``)."""
        yield self.env.timeout(self.spec.runtime.create.sample(s.rng))
        yield from self.work.syncfs()  # its init layer mounted and unmounted
        yield from self.classic_commit(s, 0.0, parent, container=True)

    def classic_commit(self, s: BuildSession, nbytes: float, parent: StepResult, *,
                       container: bool) -> Generator[Any, Any, None]:
        """The legacy builder's commit of a step's container, or of a COPY's bare layer, on ``parent``'s image
        (layer_work.py): with naive overlay diff, a walk of both whole trees (growing with the image); then the
        diff's tar (``nbytes``) digested while it is written again as a new layer; then the image recorded and
        the container removed, or the layer released (``daemon.classic_commit``: no source splits it).

        A container's commit (moby ``daemon/images/image_commit.go``: ``CommitImage``, ``exportContainerRw``)
        mounts its read-write layer, stopped or never started, so overlay2 mounts it, and unmounts it when the
        diff's stream is closed, deferred until the image is recorded: that unmount syncs the filesystem,
        after the commit's writes. A bare layer's commit (``rwLayer.Commit``, ``daemon/images/image_builder.go``)
        closes its stream before the image is recorded, on a layer ``classic_copy`` keeps mounted. Closing a
        naive diff waits for the clock's next whole second after the diff began (``naive_diff_close``); a
        container's diff is always against its init layer, a bare layer's only on an image (``FROM scratch``:
        a plain tar, no wait). The removal (``Removing intermediate container``) comes after the unmount, at
        the instruction's end, but is inside the same 140 ms. BuildKit commits its snapshot in place.

        With the containerd image store (moby ``daemon/containerd/image_commit.go``, ``image_builder.go``)
        containerd's walking differ makes the diff as a gzip blob (layer_work.py ``containerd_diff``: both trees
        walked, whatever the overlay diff); a container's is then applied into a new snapshot (``apply``), a
        bare layer's snapshot is committed in place. No naive-diff wait, and its mounts are read-only."""
        if self._containerd_store:
            yield from self.work.containerd_diff(sum(layer.uncompressed for layer in parent.layers), nbytes)
            if container:
                yield from self.work.apply(nbytes)
            yield self.env.timeout(self.spec.daemon.classic_commit.sample(s.rng))
            return
        started = self.env.now  # NaiveDiffDriver.Diff's startTime
        yield from self.work.diff_walk(sum(layer.uncompressed for layer in parent.layers), nbytes)
        yield from self.work.hash_and_write(nbytes)
        if container:
            yield self.env.timeout(self.spec.daemon.classic_commit.sample(s.rng))
            yield from self.work.naive_diff_close(started)  # the deferred rwTar.Close()
            yield from self.work.syncfs()  # then rwlayer.Unmount(): the overlay unmounted
        else:
            if parent.layers:
                yield from self.work.naive_diff_close(started)  # Commit's deferred stream.Close()
            yield self.env.timeout(self.spec.daemon.classic_commit.sample(s.rng))

    def materialize(self, s: BuildSession, layers: tuple[LayerInfo, ...]) -> Generator[Any, Any, None]:
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

    def pin(self, s: BuildSession, result: StepResult) -> None:
        """Keep a running build's snapshots out of image GC's reach."""
        if result.layers:
            pinned = ImageInfo(s.pin_ref, "", s.pin_ref, "", result.layers, "gzip", result.identity)
            self.store.pin(pinned)
            s.pins.append(pinned)

    def _span(self, s: BuildSession, step: StepSpec, key: str, asked: float, *, cached: bool, how: str,
              nbytes: float, began: float | None = None, **extra: Any) -> None:
        self.recorder.span(SpanKind.BUILD_STEP, step.text, asked, self.env.now, host=self.host, job=s.job,
                           stage=step.stage_name, instruction=step.instruction, cached=cached, cache=how,
                           builder=s.builder, key=key[7:19], line=step.line, bytes=nbytes,
                           began=began if began is not None else asked, **extra)


def _done_running(cache: BuildCache, key: str, running: simpy.Event) -> None:
    """The step this build ran is no longer running here, unless another build runs it now: when a shared run
    fails, every build that waited for it runs the step itself, and the last to start is the one found."""
    if cache.running.get(key) is running:
        del cache.running[key]
