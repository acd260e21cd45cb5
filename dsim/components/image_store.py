"""A daemon's content-addressed image store: blobs by digest, unpacked layers by chain ID, tags, disk.

As in containerd's store, a layer is identified by digest and shared by every image that lists it; a
layer whose chain ID is present is "Already exists"; one download per blob and one unpack per chain at a
time, however many pulls want it (the content-ingest lock keyed by digest).

Disk: compressed blobs plus unpacked layers count against the host's ``disk``. dockerd never removes
images by itself, so a write that does not fit fails with ``no space left on device``. With a ``gc``
policy (kubelet's image GC), a pull that would take use above ``high`` first removes the least recently
used images no container uses, down to ``low``; content no remaining image references goes with them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import simpy

from dsim.domain.hosts import ImageGcSpec
from dsim.domain.images import ImageInfo, LayerInfo
from dsim.records import Recorder, SpanKind

CONTENT = "/var/lib/containerd/io.containerd.content.v1.content"
SNAPSHOTS = "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots"


class DiskFull(Exception):
    """The host's disk cannot hold a write; the message is the one Docker prints."""


@dataclass
class Download:
    """A blob fetch on this daemon, shared by every pull that wants the blob ("Waiting" for it)."""

    done: simpy.Event
    asked: float
    began: float | None = None  # took a download slot: "Downloading"
    ended: float | None = None  # "Verifying Checksum", "Download complete"
    notes: list[tuple[float, str]] = field(default_factory=list)  # "Retrying in 5 seconds", ...


@dataclass
class Unpack:
    """A layer being applied onto its parent's snapshot ("Extracting")."""

    done: simpy.Event
    began: float


class ImageStore:
    def __init__(self, env: simpy.Environment, disk: float, *, gc: ImageGcSpec | None = None, host: str = "",
                 recorder: Recorder | None = None, in_use: Callable[[], Iterable[str]] = tuple) -> None:
        """``in_use``: the images containers use right now (the host's runtime, asked when GC runs): an image
        with an existing container is "in use" and never collected."""
        self.env = env
        self.disk = disk
        self.gc = gc
        self.host = host
        self.recorder = recorder
        self.blobs: dict[str, float] = {}
        self.chains: dict[str, float] = {}
        self.images: dict[str, ImageInfo] = {}
        self.last_used: dict[str, float] = {}
        self.downloading: dict[str, Download] = {}
        self.unpacking: dict[str, Unpack] = {}
        #: Images being pulled or pushed right now: their content is never collected.
        self.pinned: dict[str, list[ImageInfo]] = {}
        #: Lazily pulled images still fetching in the background: ref -> event at the last byte.
        self.lazy: dict[str, simpy.Event] = {}
        #: Where this daemon has seen each blob: (registry, repository) pairs, as moby's v2 metadata service
        #: remembers them; a push uses them for existence checks and cross-repository mounts.
        self.sources: dict[str, set[tuple[str, str]]] = {}
        #: Writable layers of containers (runtime.py): bytes per container ID, on the same disk.
        self.container_layers: dict[str, float] = {}
        #: Unpacked layers the build cache holds (hold_chain / release_chain): never collected with images.
        self.held: dict[str, int] = {}
        self.disk_used = 0.0
        self._in_use = in_use

    # ------------------------------------------------------------ queries

    def has_image(self, ref: str) -> bool:
        return ref in self.images

    def complete(self, image: ImageInfo) -> bool:
        chains = self.chains
        for layer in image.layers:  # noqa: SIM110 (a loop costs less than all() of a generator; every pull asks)
            if layer.chain_id not in chains:
                return False
        return True

    def needed_bytes(self, image: ImageInfo) -> float:
        """Disk a pull of ``image`` will write: missing blobs plus missing unpacked layers."""
        total = 0.0
        for layer in image.layers:
            if layer.chain_id in self.chains:
                continue
            if layer.digest not in self.blobs and layer.digest not in self.downloading:
                total += layer.size
            if layer.chain_id not in self.unpacking:
                total += layer.uncompressed
        return total

    # ------------------------------------------------------------ content

    def preload(self, image: ImageInfo) -> None:
        """Present at time 0: blobs and unpacked layers, tagged."""
        for layer in image.layers:
            self.add_blob(layer)
            self.add_chain(layer)
            self.remember_source(layer.digest, image.registry, image.repository)  # as if pulled from there
        self.tag(image)

    def _charge(self, nbytes: float, path: str) -> None:
        if self.disk_used + nbytes > self.disk:
            raise DiskFull(f"write {path}: no space left on device")
        self.disk_used += nbytes

    def add_blob(self, layer: LayerInfo) -> None:
        if layer.digest not in self.blobs:
            self._charge(layer.size, f"{CONTENT}/ingest/{layer.digest[7:]}/data")
            self.blobs[layer.digest] = layer.size

    def add_chain(self, layer: LayerInfo) -> None:
        if layer.chain_id not in self.chains:
            try:
                self._charge(layer.uncompressed, f"{SNAPSHOTS}/{len(self.chains) + 1}/fs")
            except DiskFull as err:
                raise DiskFull(f"failed to extract layer {layer.digest}: {err}") from None
            self.chains[layer.chain_id] = layer.uncompressed

    def tag(self, image: ImageInfo) -> None:
        self.images[image.ref] = image
        self.last_used[image.ref] = self.env.now

    def touch(self, ref: str) -> None:
        """An image was used (a container created from it): it becomes the most recently used."""
        if ref in self.images:
            self.last_used[ref] = self.env.now

    def add_container_layer(self, container_id: str, nbytes: float) -> None:
        """A container's writable layer grows by ``nbytes`` (its new files and copied-up image files)."""
        if nbytes <= 0:
            return
        self._charge(nbytes, f"{SNAPSHOTS}/{container_id}/fs")
        self.container_layers[container_id] = self.container_layers.get(container_id, 0.0) + nbytes

    def remove_container_layer(self, container_id: str) -> None:
        """``docker rm``: the writable layer's bytes are freed."""
        self.disk_used -= self.container_layers.pop(container_id, 0.0)

    def remember_source(self, digest: str, registry: str, repository: str) -> None:
        self.sources.setdefault(digest, set()).add((registry, repository))

    def pin(self, image: ImageInfo) -> None:
        self.pinned.setdefault(image.ref, []).append(image)

    def unpin(self, image: ImageInfo) -> None:
        held = self.pinned.get(image.ref)
        if held:
            held.pop()
            if not held:
                del self.pinned[image.ref]

    # ------------------------------------------------------------ garbage collection

    def make_room(self, nbytes: float, *, job: int = -1) -> float:
        """kubelet's image GC before a pull of ``nbytes``: if use would pass ``high``, remove least recently
        used images no container uses (and no pull or push holds) until use plus ``nbytes`` is at most
        ``low``, then sweep content no image references. Returns the bytes freed."""
        gc = self.gc
        if gc is None or nbytes <= 0 or self.disk_used + nbytes <= gc.high * self.disk:
            return 0.0
        started = self.disk_used
        keep = set(self._in_use()) | set(self.pinned)
        order = {ref: i for i, ref in enumerate(self.images)}
        candidates = sorted((ref for ref in self.images if ref not in keep),
                            key=lambda ref: (self.last_used.get(ref, 0.0), order[ref]))
        target = gc.low * self.disk - nbytes
        removed: list[str] = []
        for ref in candidates:
            if self.disk_used <= target:
                break
            removed.append(ref)
            self._remove(ref)
        freed = started - self.disk_used
        if self.recorder is not None:
            self.recorder.span(SpanKind.GC, self.host, self.env.now, self.env.now, host=self.host, job=job,
                               removed=removed, freed=round(freed), needed=round(nbytes))
        return freed

    def _live(self) -> tuple[set[str], set[str]]:
        """Digests and chain IDs that tagged, pinned or lazily fetching images reference."""
        live = [*self.images.values(), *(image for held in self.pinned.values() for image in held)]
        return ({layer.digest for image in live for layer in image.layers},
                {layer.chain_id for image in live for layer in image.layers})

    def _remove(self, ref: str) -> None:
        """Untag an image; its blobs and unpacked layers go unless another image or the build cache holds them."""
        image = self.images.pop(ref)
        self.last_used.pop(ref, None)
        digests, chains = self._live()
        for layer in image.layers:
            if layer.digest in self.blobs and layer.digest not in digests and layer.digest not in self.downloading:
                self.disk_used -= self.blobs.pop(layer.digest)
                self.sources.pop(layer.digest, None)
            chain = layer.chain_id
            if (chain in self.chains and chain not in chains and chain not in self.unpacking
                    and not self.held.get(chain)):
                self.disk_used -= self.chains.pop(chain)

    def hold_chain(self, chain_id: str) -> None:
        """The build cache keeps this unpacked layer: image GC leaves it on disk."""
        self.held[chain_id] = self.held.get(chain_id, 0) + 1

    def release_chain(self, chain_id: str) -> None:
        """The build cache dropped a layer: it leaves the disk unless an image still uses it (or another hold)."""
        count = self.held.get(chain_id, 0) - 1
        if count > 0:
            self.held[chain_id] = count
            return
        self.held.pop(chain_id, None)
        if chain_id in self.chains and chain_id not in self.unpacking and chain_id not in self._live()[1]:
            self.disk_used -= self.chains.pop(chain_id)
