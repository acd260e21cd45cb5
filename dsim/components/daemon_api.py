"""The Engine API's verbs on one daemon: the one way in for every client.

Each verb is a SimPy generator: first the API front (``Daemon.api``: a worker and ``api_service_time``, the
``queue`` phase), then the component doing the work (pull pipeline, push path, builder, container runtime,
image store). A scenario's simulated docker CLI (``client.py``) and ``dsim serve``'s HTTP face
(``serve/engine.py``) both call them; neither reads the components' tables.

``phase``: the subject of the verb's phase span (``pull``, ``create``, ``start``, ...: from the moment a
worker took the call to the end of the operation, as the outputs attribute time); ``""`` names the span
after what the verb made (the container, the built image); None records no phase span. Recording it here
rather than in the caller keeps the caller's generator out of the chain each of the operation's events
passes through (a scenario's large runs spend their time there).
"""

from __future__ import annotations

import math
import random
import re
from collections import Counter
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import simpy

from dsim.components import freezer
from dsim.components.container import RESTARTING, RUNNING, Container
from dsim.components.errors import ApiError
from dsim.components.image_store import DANGLING, DiskFull
from dsim.components.layer_work import cpu_seconds, tar_entries
from dsim.domain.builds import BuildSpec
from dsim.domain.containers import ContainerSpec
from dsim.domain.images import DEFAULT_UNCOMPRESSED_RATIO, ImageInfo, LayerInfo
from dsim.domain.refs import canonical, normalise, push_registry, reference_order, sha256, split_ref
from dsim.domain.steps import ExecStep
from dsim.records import Recorder, SpanKind

#: the span kinds recorded on every job's path, read once (records.py: a kind read from its class is slow)
_PULL, _CREATE, _START, _RM = SpanKind.PULL, SpanKind.CREATE, SpanKind.START, SpanKind.RM

if TYPE_CHECKING:
    from dsim.components.builder import Builder, WorkingCopy
    from dsim.components.cpu import CpuTask
    from dsim.components.image_store import ImageStore
    from dsim.components.pull import Puller
    from dsim.components.push import Pusher
    from dsim.components.runtime import ContainerRuntime
    from dsim.domain.hosts import HostSpec

_ID_PREFIX = re.compile(r"[0-9a-f]{4,64}")


@dataclass(frozen=True)
class ImageDeletion:
    """What ``docker rmi`` removed: the reference untagged; the image ID when the image itself went (no
    other tag names it, no container uses it); the chain IDs of the unpacked layers that left the disk, top
    layer first (moby daemon/images/image_delete.go lists them after the image)."""

    untagged: tuple[str, ...]  # several when the image was deleted by its ID
    deleted: str | None
    layers: tuple[str, ...]
    image: str  # the image's ID, deleted or not (the untag events' actor)

    def response(self) -> list[dict[str, str]]:
        """The API's answer: ``Untagged`` for each reference, then ``Deleted`` for the image and each layer."""
        out = [{"Untagged": ref} for ref in self.untagged]
        if self.deleted is not None:
            out += [{"Deleted": self.deleted}, *({"Deleted": chain} for chain in self.layers)]
        return out


def _digest_refs_left(removed: str, refs: list[str]) -> list[str]:
    """The references by digest (``alpine@sha256:...``) that go with tag ``removed``, the last tag of its
    repository on the image: moby daemon/images/image_delete.go removes "the only remaining references to the
    same repository" when they are digest references; none when ``removed`` is itself one."""
    if "@" in removed:
        return []
    repo = split_ref(removed)[0]
    same = [ref for ref in refs if ref != removed and not ref.startswith(DANGLING) and split_ref(ref)[0] == repo]
    return [] if any("@" not in ref for ref in same) else same


class ImageInUse(ApiError):
    """409: the last reference of an image a container uses (dockerd's message; ``container`` so a face can
    name it by its own ID)."""

    def __init__(self, name: str, container: Container, image_id: str, message: str = "") -> None:
        super().__init__(409, message or f"conflict: unable to remove repository reference \"{name}\" (must force) "
                                         f"- container {container.id} is using its referenced image {image_id[7:19]}")
        self.name = name
        self.container = container
        self.image_id = image_id


def single_reference(refs: list[str]) -> bool:
    """moby daemon/images/image_delete.go ``isSingleReference``: at most one tag, and every reference of one
    repository (``alpine:latest`` and ``alpine@sha256:...``, what a pull by tag leaves); False for none."""
    named = [ref for ref in refs if not ref.startswith(DANGLING)]
    if len(named) <= 1:
        return len(named) == 1
    tags = [ref for ref in named if "@" not in ref]
    if len(tags) > 1:
        return False
    digested = {split_ref(ref)[0] for ref in named if "@" in ref}
    return len(digested) == 1 and split_ref((tags or named)[0])[0] in digested


def delete_conflict(image: str, container: Container | None, refs: list[str], *,
                    force: bool) -> ImageInUse | ApiError | None:
    """Why ``docker rmi ID`` may not delete the image (moby daemon/images/image_delete.go
    ``checkImageDeleteConflict``, in its order): a running container using it, whatever ``force``; unless forced,
    references beyond a single one (``isSingleReference``: one tag and that repository's digests), then a stopped
    container."""
    short = image.removeprefix("sha256:")[:12]
    running = container is not None and container.state in (RUNNING, RESTARTING)
    named = [ref for ref in refs if not ref.startswith(DANGLING)]
    if not running and named and not single_reference(named) and not force:
        return ApiError(409, f"conflict: unable to delete {short} (must be forced) - image is referenced in "
                             "multiple repositories")
    if container is not None and (running or not force):
        how, state = ("cannot be forced", "running") if running else ("must be forced", "stopped")
        return ImageInUse(image, container, image, f"conflict: unable to delete {short} ({how}) - image is being "
                                                   f"used by {state} container {container.id}")
    return None


def image_id(image: ImageInfo) -> str:
    """An image's ID: its manifest digest (the containerd image store's ID, as ``docker images`` shows)."""
    return image.manifest_digest or image.ref


class EngineVerbs:
    """The verbs, mixed into ``Daemon`` (which provides the components and the API front)."""

    env: simpy.Environment
    host: str
    store: ImageStore
    puller: Puller
    pusher: Pusher
    runtime: ContainerRuntime
    builder: Builder
    recorder: Recorder
    spec: HostSpec
    rng: random.Random

    #: told of each freeze and thaw of a container, with ``pause`` or ``unpause`` (dsim serve's events)
    freezer_watchers: list[Callable[[Container, str], None]]

    def api(self, call: str, *, job: int) -> Generator[Any, Any, float]:
        raise NotImplementedError

    def _phase(self, kind: SpanKind, subject: str, began: float, job: int) -> None:
        self.recorder.span(kind, subject, began, self.env.now, host=self.host, job=job)

    # ------------------------------------------------------------------ images

    def find_image(self, name: str) -> ImageInfo | None:
        """A local image by reference, full ID, or ID prefix (with or without ``sha256:``). ``REPO@DIGEST``
        (``REPO:TAG@DIGEST``: the digest wins) names the image only through a digest reference stored here, as
        moby's graphdriver image service looks it up (daemon/images/image.go ``GetImage``: the reference store,
        then an ID), not by comparing digests."""
        image = self.store.image(canonical(name))
        if image is not None:
            return image
        text = name.removeprefix("sha256:")
        if _ID_PREFIX.fullmatch(text):
            for candidate in self.store.images().values():
                if image_id(candidate)[7:].startswith(text):
                    return candidate
        return None

    def add_digest_reference(self, ref: str, digest: str) -> None:
        """``repo@digest`` names the image ``ref`` names too: what a pull by tag (the digest the registry gave for
        the tag) and a push (the manifest pushed) store beside the tag (moby daemon/internal/distribution/pull.go
        ``addDigestReference``; RepoDigests lists them). A digest reference already stored is kept, whatever
        image it names: the reference store does not move a digest."""
        image = self.store.image(ref)
        named = f"{split_ref(ref)[0]}@{digest}"
        if image is not None and "@" not in ref and digest and self.store.image(named) is None:
            self.store.tag(replace(image, ref=named, tag=digest))

    def pull(self, ref: str, *, job: int, phase: str | None = None) -> Generator[Any, Any, None]:
        """``POST /images/create``: the pull pipeline (resolve, download, unpack, tag)."""
        began = yield from self.api("pull", job=job)
        yield from self.puller.pull(ref, job=job)
        if phase is not None:
            self._phase(_PULL, phase, began, job)

    def push(self, ref: str, *, job: int, phase: str | None = None) -> Generator[Any, Any, None]:
        """``POST /images/{name}/push``."""
        began = yield from self.api("push", job=job)
        yield from self.pusher.push(ref, job=job)
        if phase is not None:
            self._phase(SpanKind.PUSH, phase, began, job)

    def build(self, spec: BuildSpec, copy: WorkingCopy | None, *, job: int, client: str | None = None,
              phase: str | None = None) -> Generator[Any, Any, ImageInfo]:
        """``POST /build``: the daemon's Builder (``spec``: a planned BuildSpec)."""
        builder = self.builder
        began = yield from self.api("build", job=job)
        image: ImageInfo = yield from builder.build(spec, copy, job=job, client=client)
        if phase is not None:
            self._phase(SpanKind.BUILD, phase or image.ref, began, job)
        return image

    def tag_image(self, image: ImageInfo, ref: str, *, reidentified: bool = False) -> ImageInfo:
        """The same content under another reference (and the registry its name selects); no API call (a
        build's further ``-t`` tags). ``reidentified``: ``ref`` named this image under the ID the daemon gave it
        (ImageStore.reidentify: nothing dangles)."""
        norm = normalise(ref)
        repo, tag = split_ref(norm)
        registry = push_registry(norm, self.puller.registries, self.puller.images)
        tagged = ImageInfo(norm, registry, repo, tag, image.layers, image.compression, image.manifest_digest,
                           lazy=image.lazy, prefetch=image.prefetch)
        if reidentified:
            self.store.reidentify(tagged)
        else:
            self.store.tag(tagged)
        return tagged

    def exec(self, container: Container, command: ExecStep, *, job: int,
             phase: str | None = None) -> Generator[Any, Any, int | None]:
        """``docker exec``: ``POST /containers/{id}/exec`` and ``POST /exec/{id}/start``, each checking that the
        container runs and is not paused (moby daemon/exec.go ``getActiveContainer``: 409s), the runtime's exec
        (execs.py), then, unless ``detach``, the command's end and ``GET /exec/{id}/json``, where the CLI reads
        its exit code. Returns that code (None: detached)."""
        began = yield from self.api("exec create", job=job)
        self._exec_target(container)
        yield from self.api("exec start", job=job)
        self._exec_target(container)
        command_run = yield from self.runtime.exec(container, command)
        code: int | None = None
        if not command.detach:
            code = yield command_run
            yield from self.api("exec inspect", job=job)
        if phase is not None:
            told: dict[str, Any] = {"detach": True} if code is None else {"exit_code": code, "detach": False}
            self.recorder.span(SpanKind.DOCKER_EXEC, phase, began, self.env.now, host=self.host, job=job, **told)
        return code

    @staticmethod
    def _exec_target(container: Container) -> None:
        """dockerd's checks of an exec's container (moby v29.1 daemon/exec.go ``getActiveContainer``)."""
        if container.state != RUNNING:
            raise ApiError(409, f"container {container.id} is not running")
        if container.paused:
            raise ApiError(409, f"Container {container.name} is paused, unpause the container before exec")

    def pause(self, container: Container, *, job: int, phase: str | None = None) -> Generator[Any, Any, None]:
        """``POST /containers/{id}/pause``: the cgroup freezer takes it (freezer.py); 409 unless it runs, or when
        it is paused already (moby v29.1 daemon/pause.go, ``GetRunningTask`` and its own check)."""
        began = yield from self.api("pause", job=job)
        if container.state != RUNNING:
            raise ApiError(409, f"container {container.id} is not running")
        if container.paused:
            raise ApiError(409, f"container {container.id} is already paused")
        self._freeze(container)
        if phase is not None:
            self._phase(SpanKind.PAUSE, phase, began, job)

    def unpause(self, container: Container, *, job: int, phase: str | None = None) -> Generator[Any, Any, None]:
        """``POST /containers/{id}/unpause``: the freezer lets it go; an error unless it is paused (moby v29.1
        daemon/unpause.go: a plain error, so the API answers 500)."""
        began = yield from self.api("unpause", job=job)
        if not container.paused:
            raise ApiError(500, f"Container {container.id} is not paused")
        self._thaw(container)
        if phase is not None:
            self._phase(SpanKind.UNPAUSE, phase, began, job)

    def _freeze(self, container: Container) -> None:
        freezer.freeze(self.env, self.runtime.kernel.cpu, container)
        for watcher in self.freezer_watchers:
            watcher(container, "pause")

    def _thaw(self, container: Container) -> None:
        freezer.thaw(self.env, self.runtime.kernel.cpu, container)
        for watcher in self.freezer_watchers:
            watcher(container, "unpause")

    def commit(self, container: Container, ref: str | None, *, job: int, phase: str | None = None,
               pause: bool = True, recorded: Callable[[ImageInfo], None] | None = None
               ) -> Generator[Any, Any, ImageInfo]:
        """``POST /commit``, the container frozen meanwhile when it runs and ``pause`` (dockerd's default: moby
        daemon/commit.go pauses it and unpauses it once the image is recorded; ``--pause=false`` leaves it
        running: its writes may then land in the layer half made). ``recorded``: told of the image before the
        thaw (dsim serve records the image's config and logs the commit event there, as moby does)."""
        began = yield from self.api("commit", job=job)
        frozen = pause and container.state == RUNNING and not container.paused
        if frozen:
            self._freeze(container)
        try:
            image: ImageInfo = yield from self._commit(container, ref, began, job=job, phase=phase)
            if recorded is not None:
                recorded(image)
        finally:
            if frozen and container.paused:
                self._thaw(container)
        return image

    def _commit(self, container: Container, ref: str | None, began: float, *, job: int,
                phase: str | None) -> Generator[Any, Any, ImageInfo]:
        """``POST /commit``: the container's writable layer becomes a layer on top of its image's, as the legacy
        builder commits a step's container (build_steps.classic_commit): the naive overlay diff walks both
        trees, the diff's tar is digested while written again as a new layer, then the image is recorded, and
        the diff's close (moby ``daemon/images/image_commit.go``, ``exportContainerRw``) waits, with naive diff,
        for the next whole second after the diff began, then unmounts the container's read-write layer: a sync
        unless the container runs (paused or not), whose rootfs stays mounted. With the containerd image store
        (moby ``daemon/containerd/image_commit.go``), containerd's walking differ makes the diff as a gzip blob
        and it is applied into a new snapshot (layer_work.py ``containerd_diff``, ``apply``): no naive-diff
        wait, no sync (its mounts are read-only). An untouched container's diff is empty, and neither store adds
        a layer for it (graphdriver: moby ``image/image.go`` ``NewChildImage``, ``layer.IsEmpty``; containerd:
        ``createDiff`` finds the archive empty); its cost is paid all the same. ``ref`` None: a dangling image.
        ``phase``: a workload's ``commit`` step records its ``commit`` span (the container's name)."""
        written = self.runtime.storage.written(container.id)
        base = container.image
        containerd = self.spec.daemon.image_store == "containerd"
        yield from self._commit_diff(container, written, containerd=containerd)
        digest = sha256(f"commit {container.id} {self.env.now!r}")
        chain = sha256(f"{base.layers[-1].chain_id} {digest}") if base.layers else digest
        compressed = float(round(written / DEFAULT_UNCOMPRESSED_RATIO))  # an estimate, of whole bytes
        layer = LayerInfo(len(base.layers), digest, chain, compressed, written, local=True)
        layers = base.layers if written <= 0 else (*base.layers, layer)  # an empty diff: no layer
        try:
            if layers is not base.layers:
                self.store.add_chain(layer)
                if containerd:
                    self.store.add_blob(layer)  # the diff's blob, in containerd's content store
        except DiskFull as err:
            raise ApiError(500, str(err)) from None
        norm = normalise(ref) if ref is not None else f"<none>@{chain[7:19]}"
        repo, tag = split_ref(norm)
        registry = push_registry(norm, self.puller.registries, self.puller.images) if ref is not None else ""
        image = ImageInfo(norm, registry, repo, tag, layers, base.compression, sha256(f"manifest {norm} {chain}"))
        self.store.tag(image)
        if phase is not None:
            self.recorder.span(SpanKind.COMMIT, phase, began, self.env.now, host=self.host, job=job,
                               image=norm if ref is not None else "",
                               bytes=written if layers is not base.layers else 0.0)
        return image

    def _commit_diff(self, container: Container, written: float, *, containerd: bool) -> Generator[Any, Any, None]:
        """A commit's work on the host (``commit``): containerd's diff and apply, or the graphdriver store's."""
        work = self.builder.work
        base = container.image
        if containerd:
            yield from work.containerd_diff(base.uncompressed, written)
            yield from work.apply(written)
            yield self.env.timeout(self.spec.daemon.classic_commit.sample(self.rng))
            return
        started = self.env.now
        yield from work.diff_walk(base.uncompressed, written)
        yield from work.hash_and_write(written)
        yield self.env.timeout(self.spec.daemon.classic_commit.sample(self.rng))
        yield from work.naive_diff_close(started)
        if container.state != RUNNING:  # mounted for the commit alone: overlay2's Put unmounts it
            yield from work.syncfs()

    def update(self, container: Container, spec: ContainerSpec, *, job: int,
               live: CpuTask | None = None) -> Generator[Any, Any, None]:
        """``docker update``: the container's limits and restart policy from now on (moby daemon/update.go):
        ``spec`` for its later runs, and a running process's CPU cap, weight and memory limit changed at once
        (ContainerRuntime.update; ``live``: its CPU work when not ``container.cpu_task``). A new restart policy
        keeps the restart count and backoff (the restart manager's policy is set)."""
        yield from self.api("update", job=job)
        container.restart_manager.set_policy(spec.restart)
        self.runtime.update(container, spec, live)

    def update_restart(self, container: Container, policy: str, *, job: int) -> Generator[Any, Any, None]:
        """``docker update --restart``: the policy from now on, the restart count and backoff kept (moby
        daemon/update.go sets HostConfig.RestartPolicy and the restart manager's policy)."""
        yield from self.update(container, replace(container.spec, restart=policy), job=job)

    def tag(self, name: str, ref: str, *, job: int) -> Generator[Any, Any, ImageInfo]:
        """``POST /images/{name}/tag``: 404 when ``name`` is not a local image."""
        yield from self.api("tag", job=job)
        image = self.find_image(name)
        if image is None:
            raise ApiError(404, f"No such image: {name}")
        return self.tag_image(image, ref)

    def rmi(self, name: str, *, force: bool = False, job: int) -> Generator[Any, Any, ImageDeletion]:
        """``DELETE /images/{name}``: untag; when no other tag names the image, delete it and the layers no
        other image holds (their blobs and unpacked layers leave the disk). The last tag of an image a
        container uses (any state) is refused with 409 unless ``force``; forced, the tag goes and the image
        stays for the container (dangling), as moby's ImageDelete does."""
        yield from self.api("rmi", job=job)
        image = self.find_image(name)
        if image is None:
            raise ApiError(404, f"No such image: {name}")
        ident = image_id(image)
        users = [c for c in self.runtime.containers.values() if image_id(c.image) == ident]
        user = next((c for c in users if c.state in (RUNNING, RESTARTING)), users[0] if users else None)
        if self.store.image(canonical(name)) is None:  # by its ID: every reference, then the image
            tags = sorted(self.store.tags_of(image), key=reference_order)
            conflict = delete_conflict(ident, user, tags, force=force)
            if conflict is not None:
                raise conflict
            for ref in tags:
                self.store.untag(ref)
            named = tuple(ref for ref in tags if not ref.startswith(DANGLING))
            if user is not None:  # forced, a stopped container's: its content stays with it, the image dangling
                self.store.keep_untagged(image)
                return ImageDeletion(named, None, (), ident)
            return ImageDeletion(named, ident, (yield from self._delete_image(image)), ident)
        refs = self.store.tags_of(image)
        if single_reference(refs) and user is not None and not force:
            raise ImageInUse(name, user, ident)
        gone = (image.ref, *sorted(_digest_refs_left(image.ref, refs), key=reference_order))
        for ref in gone:
            self.store.untag(ref)
        if len(gone) < len(refs):
            return ImageDeletion(gone, None, (), ident)
        if user is not None:
            self.store.keep_untagged(image)
            return ImageDeletion(gone, None, (), ident)
        return ImageDeletion(gone, ident, (yield from self._delete_image(image)), ident)

    def _delete_image(self, image: ImageInfo) -> Generator[Any, Any, tuple[str, ...]]:
        """Delete an untagged image and remove the files of the layers that leave the disk, as the image store's
        daemon does before it answers (graphdriver: dockerd removes each layer's directory; the containerd store:
        its deletion is synchronous, containerd's collector removing the snapshots): every tar entry unlinked,
        ``remove_per_file`` of its CPU and ``remove_wait_per_file`` of waiting, then the layers' bytes freed at
        ``remove_rate`` (docs/distribution.md, Removing an image). Returns the chain IDs removed, top layer first."""
        removed = tuple(self.store.delete(image))
        gone = set(removed)
        storage = self.spec.storage
        leaving = [layer for layer in image.layers if layer.chain_id in gone]
        entries = sum(tar_entries(storage, layer.uncompressed, layer.files) for layer in leaving)
        if entries > 0:
            kernel = self.runtime.kernel
            daemon = kernel.containerd if self.spec.daemon.image_store == "containerd" else kernel.dockerd
            work = entries * storage.remove_per_file
            if work > 0:
                yield daemon.run(work, 1.0).done
            wait = entries * storage.remove_wait_per_file + cpu_seconds(
                sum(layer.uncompressed for layer in leaving), storage.remove_rate)
            if wait > 0:
                yield self.env.timeout(wait)
        return removed

    def images(self, *, job: int) -> Generator[Any, Any, Mapping[str, ImageInfo]]:
        """``GET /images/json``: the store's images by reference (a read-only view)."""
        yield from self.api("images", job=job)
        return self.store.images()

    def inspect_image(self, name: str, *, job: int) -> Generator[Any, Any, ImageInfo]:
        """``GET /images/{name}/json``."""
        yield from self.api("image inspect", job=job)
        image = self.find_image(name)
        if image is None:
            raise ApiError(404, f"No such image: {name}")
        return image

    # ------------------------------------------------------------------ containers

    def create(self, spec: ContainerSpec, *, job: int, phase: str | None = None) -> Generator[Any, Any, Container]:
        """``POST /containers/create``: 404 ``No such image`` when the image is not local (the phase span,
        if asked, is recorded then too, under the image's name: the docker CLI pulls and creates again)."""
        began = yield from self.api("create", job=job)
        try:
            container = yield from self.runtime.create(spec, job=job)
        except ApiError as err:
            if err.status == 404 and phase is not None:
                self._phase(_CREATE, spec.image, began, job)
            raise
        if phase is not None:
            self._phase(_CREATE, phase or container.name, began, job)
        return container

    def start(self, container: Container, *, job: int, phase: str | None = None) -> Generator[Any, Any, bool]:
        """``POST /containers/{id}/start``; False when it was already running (HTTP 304)."""
        began = yield from self.api("start", job=job)
        running = container.state in (RUNNING, RESTARTING)
        yield from self.runtime.start(container, job=job)
        if phase is not None:
            self._phase(_START, phase, began, job)
        return not running

    def stop(self, container: Container, timeout: float, *, job: int,
             phase: str | None = None) -> Generator[Any, Any, bool]:
        """``POST /containers/{id}/stop``: SIGTERM, SIGKILL at ``timeout``; False if it was not running (304)."""
        began = yield from self.api("stop", job=job)
        running = container.state in (RUNNING, RESTARTING)
        yield from self.runtime.stop(container, timeout, job=job)
        if phase is not None:
            self._phase(SpanKind.STOP, phase, began, job)
        return running

    def rename(self, container: Container, name: str, *, job: int) -> Generator[Any, Any, None]:
        """``POST /containers/{id}/rename``: 409 when another container has the name (runtime.rename)."""
        yield from self.api("rename", job=job)
        self.runtime.rename(container, name)

    def restart(self, container: Container, timeout: float, *, job: int, phase: str | None = None,
                stopped: Callable[[], None] | None = None) -> Generator[Any, Any, None]:
        """``POST /containers/{id}/restart``: one call, stop (SIGTERM, SIGKILL at ``timeout``) then start; the
        phase spans, if asked: the stop (from the call) and the start. ``stopped``: told between the two (the
        API's stop event)."""
        began = yield from self.api("restart", job=job)
        yield from self.runtime.stop(container, timeout, job=job)
        if stopped is not None:
            stopped()
        if phase is not None:
            self._phase(SpanKind.STOP, phase, began, job)
        started = self.env.now
        yield from self.runtime.start(container, job=job)
        if phase is not None:
            self._phase(_START, phase, started, job)

    def kill(self, container: Container, signal: str, *, job: int) -> Generator[Any, Any, None]:
        """``POST /containers/{id}/kill``: SIGKILL ends the process at once; another signal asks it to exit,
        which takes its ``stop_time``. Returns without waiting for the exit, as Docker does."""
        yield from self.api("kill", job=job)
        if container.state not in (RUNNING, RESTARTING):
            raise ApiError(409, f"cannot kill container: {container.id}: container {container.id} is not running")
        sig = signal.upper().removeprefix("SIG") or "KILL"
        if sig in ("KILL", "9"):
            self.env.process(self.runtime.kill(container, job=job))
        else:
            self.env.process(self.runtime.stop(container, math.inf, job=job))

    def rm(self, container: Container, *, force: bool = False, job: int, phase: str | None = None,
           volumes: bool = False) -> Generator[Any, Any, None]:
        """``DELETE /containers/{id}``: 409 while running unless ``force`` (then SIGKILL first); ``volumes``
        (``-v``): its anonymous volumes go too."""
        began = yield from self.api("rm", job=job)
        if force and container.state in (RUNNING, RESTARTING):
            yield from self.runtime.kill(container, job=job)
        yield from self.runtime.cleaned(container)  # the exit's teardown (components/teardown.py)
        self.runtime.remove(container, job=job, volumes=volumes)
        if phase is not None:
            self._phase(_RM, phase, began, job)

    def containers(self, *, all: bool = False, job: int,  # noqa: A002 - docker ps --all
                   phase: str | None = None) -> Generator[Any, Any, list[Container]]:
        """``GET /containers/json``: running containers, ``all`` every one. The phase span (``ps``) carries
        what was listed: how many, by state, the first 20 with their status."""
        began = yield from self.api("ps", job=job)
        listed = self.runtime.ps(all=all)
        if phase is not None:
            states = dict(sorted(Counter(c.state for c in listed).items()))
            self.recorder.span(SpanKind.PS, phase, began, self.env.now, host=self.host, job=job,
                               listed=len(listed), states=states,
                               containers=[f"{c.name} {c.status}" for c in listed[:20]])
        return listed

    def inspect_container(self, name: str, *, job: int) -> Generator[Any, Any, Container]:
        """``GET /containers/{id}/json``: by name; 404 as Docker says."""
        yield from self.api("inspect", job=job)
        container = self.runtime.container(name)
        if container is None:
            raise ApiError(404, f"No such container: {name}")
        return container
