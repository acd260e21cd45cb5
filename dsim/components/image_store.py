"""A daemon's content-addressed image store: blobs by digest, unpacked layers by chain ID, tags, disk.

As in containerd's store, a layer is identified by digest and shared by every image that lists it; a
layer whose chain ID is present is "Already exists"; one download per blob and one unpack per chain at a
time, however many pulls want it (the content-ingest lock keyed by digest; moby's graphdriver store shares a
download only on the same layer chain, ``_transfer``).

Disk: compressed blobs plus unpacked layers count against the host's ``disk``. moby's graphdriver store
(``keeps_blobs=False``) keeps no compressed blob: a pull writes each blob to a temporary file and deletes it once
its layer is registered (moby ``distribution/pull_v2.go``), so a blob counts only until its unpack ends. dockerd
never removes images by itself, so a write that does not fit fails with ``no space left on device``. With a ``gc``
policy (kubelet's image GC), a pull that would take use above ``high`` first removes the least recently
used images no container uses, down to ``low``; content no remaining image references goes with them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

import simpy

from dsim.domain.hosts import ImageGcSpec
from dsim.domain.images import ImageInfo, LayerInfo
from dsim.records import Recorder, SpanKind

CONTENT = "/var/lib/containerd/io.containerd.content.v1.content"
SNAPSHOTS = "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots"


#: the ref prefix of a dangling image (an untagged build's, or one a newer pull or build of its tag replaced)
DANGLING = "<none>@"


def image_key(image: ImageInfo) -> str:
    """What tells images apart: the manifest digest (the image ID, as ``docker images`` shows it)."""
    return image.manifest_digest or image.ref


def dangling_ref(image: ImageInfo) -> str:
    """The name of ``image`` once no tag names it: ``<none>@`` and the ID's first 12 hex digits."""
    return DANGLING + image_key(image).removeprefix("sha256:")[:12]


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
                 recorder: Recorder | None = None, in_use: Callable[[], Iterable[str]] = tuple,
                 keeps_blobs: bool = True) -> None:
        """``in_use``: the images containers use right now (the host's runtime, asked when GC runs): an image
        with an existing container is "in use" and never collected. ``keeps_blobs``: containerd's content store
        keeps every pulled blob beside its unpacked layer; moby's graphdriver store (False) keeps none."""
        self.env = env
        self.keeps_blobs = keeps_blobs
        self.disk = disk
        self.gc = gc
        self.host = host
        self.recorder = recorder
        self._blobs: dict[str, float] = {}
        self._chains: dict[str, float] = {}
        self._images: dict[str, ImageInfo] = {}
        self._last_used: dict[str, float] = {}
        self._downloading: dict[str, Download] = {}
        self._unpacking: dict[str, Unpack] = {}
        #: Images being pulled or pushed right now: their content is never collected.
        self._pinned: dict[str, list[ImageInfo]] = {}
        #: Lazily pulled images still fetching in the background: ref -> event at the last byte.
        #: lazily pulled images whose background fetches are under way: how many, by reference
        self._lazy: dict[str, int] = {}
        #: Where this daemon has seen each blob: (registry, repository) pairs, as moby's v2 metadata service
        #: remembers them; a push uses them for existence checks and cross-repository mounts.
        self._sources: dict[str, set[tuple[str, str]]] = {}
        #: the digest each unpacked layer was made from, and how many unpacked layers each digest has: a digest's
        #: sources are forgotten once neither its blob nor a layer of it is here (a built layer has no blob)
        self._chain_digest: dict[str, str] = {}
        self._digest_chains: dict[str, int] = {}
        #: chain IDs of built layers BuildKit's export has registered in dockerd's layer store (builder.py)
        self._registered: set[str] = set()
        #: Writable layers of containers (runtime.py): bytes per container ID, on the same disk.
        self._container_layers: dict[str, float] = {}
        #: Volumes (storage.py): bytes per volume name, on the same disk; image GC never removes them.
        self._volumes: dict[str, float] = {}
        #: Unpacked layers the build cache holds (hold_chain / release_chain): never collected with images.
        self._held: dict[str, int] = {}
        #: How many tagged or dangling images list each digest and chain ID (one count per listing): the content
        #: a sweep must keep, counted as images come and go so a removal need not rescan them all. Pinned images
        #: (a pull's, a push's, a build's) are not counted: every pull pins its image and a sweep is rare, so a
        #: sweep reads the few pinned ones instead (``_pinned_content``).
        self._digest_refs: dict[str, int] = {}
        self._chain_refs: dict[str, int] = {}
        #: how many refs name each image (by ``image_key``): the last gone by a re-tag, the image dangles
        self._names: dict[str, int] = {}
        self.disk_used = 0.0
        self._in_use = in_use

    # ------------------------------------------------------------ queries

    def has_image(self, ref: str) -> bool:
        return ref in self._images

    def image(self, ref: str) -> ImageInfo | None:
        """The image tagged ``ref`` here, if any."""
        return self._images.get(ref)

    def images(self) -> Mapping[str, ImageInfo]:
        """Every tagged image by reference, in tagging order (a read-only view)."""
        return MappingProxyType(self._images)

    def tagged_at(self, ref: str) -> float:
        """When ``ref`` was last tagged or used (0 if unknown)."""
        return self._last_used.get(ref, 0.0)

    def has_layer(self, chain_id: str) -> bool:
        """The layer of this chain ID is unpacked here."""
        return chain_id in self._chains

    def has_blob(self, digest: str) -> bool:
        return digest in self._blobs

    def sources_of(self, digest: str) -> frozenset[tuple[str, str]]:
        """(registry, repository) pairs this daemon has seen the blob in."""
        return frozenset(self._sources.get(digest, ()))

    def complete(self, image: ImageInfo) -> bool:
        chains = self._chains
        for layer in image.layers:  # noqa: SIM110 (a loop costs less than all() of a generator; every pull asks)
            if layer.chain_id not in chains:
                return False
        return True

    def needed_bytes(self, image: ImageInfo) -> float:
        """Disk a pull of ``image`` will write: missing blobs plus missing unpacked layers."""
        total = 0.0
        for layer in image.layers:
            if layer.chain_id in self._chains:
                continue
            if layer.digest not in self._blobs and self.download(layer) is None:
                total += layer.size
            if layer.chain_id not in self._unpacking:
                total += layer.uncompressed
        return total

    # ------------------------------------------------------------ content

    def preload(self, image: ImageInfo) -> None:
        """Present at time 0: blobs and unpacked layers, tagged."""
        for layer in image.layers:
            self.keep_blob(layer)
            self.add_chain(layer)
            self.remember_source(layer.digest, image.registry, image.repository)  # as if pulled from there
        self.tag(image)

    def _charge(self, nbytes: float, path: str) -> None:
        if self.disk_used + nbytes > self.disk:
            raise DiskFull(f"write {path}: no space left on device")
        self.disk_used += nbytes

    def add_blob(self, layer: LayerInfo) -> None:
        if layer.digest not in self._blobs:
            self._charge(layer.size, f"{CONTENT}/ingest/{layer.digest[7:]}/data")
            self._blobs[layer.digest] = layer.size

    def keep_blob(self, layer: LayerInfo) -> None:
        """The blob of a layer that is present unpacked (preloaded, loaded, fetched lazily), where the store keeps
        blobs: the graphdriver store has only the unpacked layer."""
        if self.keeps_blobs:
            self.add_blob(layer)

    def unpacked(self, layer: LayerInfo) -> None:
        """A pulled layer is registered (or failed to be): the graphdriver store deletes the blob's temporary file
        (moby ``distribution/pull_v2.go``: the download's ``tmpFile`` removed once the layer is in the layer
        store), and the layer's transfer, download and registration, is over."""
        if self.keeps_blobs:
            return
        if layer.digest in self._blobs:
            self.disk_used -= self._blobs.pop(layer.digest)
        self._downloading.pop(self._transfer(layer), None)

    def add_chain(self, layer: LayerInfo) -> None:
        if layer.chain_id not in self._chains:
            try:
                self._charge(layer.uncompressed, f"{SNAPSHOTS}/{len(self._chains) + 1}/fs")
            except DiskFull as err:
                raise DiskFull(f"failed to extract layer {layer.digest}: {err}") from None
            self._chains[layer.chain_id] = layer.uncompressed
            self._chain_digest[layer.chain_id] = layer.digest
            self._digest_chains[layer.digest] = self._digest_chains.get(layer.digest, 0) + 1

    def register(self, chain_id: str) -> bool:
        """BuildKit's export registers a built layer in dockerd's layer store: True the first time, False when
        it is registered already. A layer that left the disk is no longer registered (made again, it is again)."""
        if chain_id in self._registered:
            return False
        self._registered.add(chain_id)
        return True

    def _drop_chain(self, chain_id: str) -> None:
        self.disk_used -= self._chains.pop(chain_id)
        self._registered.discard(chain_id)
        digest = self._chain_digest.pop(chain_id)
        _decrement(self._digest_chains, digest)
        self._forget_sources(digest)

    def _forget_sources(self, digest: str) -> None:
        """Where the blob was seen goes with the last of its content here (its blob, its unpacked layers): a
        long ``dsim serve`` whose build cache prunes built layers would otherwise keep their sources forever."""
        if digest not in self._blobs and digest not in self._digest_chains:
            self._sources.pop(digest, None)

    def tag(self, image: ImageInfo) -> None:
        """Name ``image`` by its ref. The image the ref named before, when no other ref names it, stays as a
        dangling image (``docker images``' ``<none>``) named ``dangling_ref``, with its content and its last
        use: a newer pull or build of a tag leaves the old image on disk until it is removed (image GC
        collects it once no container uses it), as dockerd does. Named again, an image is no longer dangling."""
        ref = image.ref
        old = self._images.get(ref)
        used = self._last_used.get(ref, 0.0)
        self._images[ref] = image
        self._last_used[ref] = self.env.now
        self._move_counts(old, image)
        if old is image:
            return
        self._name(image, 1)
        if not ref.startswith(DANGLING):
            dangling = dangling_ref(image)
            if dangling in self._images and image_key(self._images[dangling]) == image_key(image):
                self.untag(dangling)
        if old is not None and self._name(old, -1) == 0 and image_key(old):
            self.tag(replace(old, ref=dangling_ref(old)))
            self._last_used[dangling_ref(old)] = used

    def reidentify(self, image: ImageInfo) -> None:
        """``image.ref`` names ``image`` now, the image it named known by another ID: dsim serve names a build or
        a commit by its content only after the daemon tagged it. The tag moves without leaving a dangling image
        (a ``<none>`` only dsim's bookkeeping would have made); its content stays."""
        old = self._images.get(image.ref)
        if old is not None and image_key(old) != image_key(image):
            self.untag(image.ref)
        self.tag(image)

    def _name(self, image: ImageInfo, change: int) -> int:
        """Count a ref more (1) or fewer (-1) naming ``image``; returns how many name it now."""
        key = image_key(image)
        count = self._names.get(key, 0) + change
        if count:
            self._names[key] = count
        else:
            self._names.pop(key, None)
        return count

    def touch(self, ref: str) -> None:
        """An image was used (a container created from it): it becomes the most recently used."""
        if ref in self._images:
            self._last_used[ref] = self.env.now

    def container_layer(self, container_id: str) -> float:
        """Bytes of a container's writable layer (``docker ps -s``, ``docker system df``)."""
        return self._container_layers.get(container_id, 0.0)

    def add_container_layer(self, container_id: str, nbytes: float) -> None:
        """A container's writable layer grows by ``nbytes`` (its new files and copied-up image files)."""
        if nbytes <= 0:
            return
        self._charge(nbytes, f"{SNAPSHOTS}/{container_id}/fs")
        self._container_layers[container_id] = self._container_layers.get(container_id, 0.0) + nbytes

    def remove_container_layer(self, container_id: str) -> None:
        """``docker rm``: the writable layer's bytes are freed."""
        self.disk_used -= self._container_layers.pop(container_id, 0.0)

    def add_volume(self, name: str, nbytes: float) -> None:
        """A volume's files grow by ``nbytes`` (components/storage.py): same disk, never collected by GC."""
        if nbytes <= 0:
            return
        self._charge(nbytes, f"/var/lib/docker/volumes/{name}/_data")
        self._volumes[name] = self._volumes.get(name, 0.0) + nbytes

    def remove_volume(self, name: str) -> None:
        """``docker volume rm``: the volume's bytes are freed."""
        self.disk_used -= self._volumes.pop(name, 0.0)

    def remember_source(self, digest: str, registry: str, repository: str) -> None:
        self._sources.setdefault(digest, set()).add((registry, repository))

    # ------------------------------------------------------------ transfers under way (pull.py)

    def _transfer(self, layer: LayerInfo) -> str:
        """What a download is shared by: the blob in containerd's store (its content-ingest lock is keyed by
        digest); the layer chain in moby's graphdriver store, whose download manager keys a transfer by the
        descriptors of the layers up to it (``distribution/xfer/download.go``: identical prefixes only)."""
        return layer.digest if self.keeps_blobs else layer.chain_id

    def download(self, layer: LayerInfo) -> Download | None:
        """The download of this layer's blob under way on this daemon that a pull of it joins, if any."""
        return self._downloading.get(self._transfer(layer))

    def begin_download(self, layer: LayerInfo, record: Download) -> None:
        self._downloading[self._transfer(layer)] = record

    def end_download(self, layer: LayerInfo, *, failed: bool = False) -> None:
        """The blob is in (or its download failed). A graphdriver transfer goes on into the layer's registration,
        and a pull of the same chain joins it until then (``unpacked``)."""
        if failed or self.keeps_blobs:
            del self._downloading[self._transfer(layer)]

    def unpack(self, chain_id: str) -> Unpack | None:
        """The unpack of this chain under way, if any."""
        return self._unpacking.get(chain_id)

    def begin_unpack(self, chain_id: str, record: Unpack) -> None:
        self._unpacking[chain_id] = record

    def end_unpack(self, chain_id: str) -> None:
        del self._unpacking[chain_id]

    def lazily_fetching(self, ref: str) -> bool:
        """A lazily pulled image whose layers are still fetched in the background."""
        return ref in self._lazy

    def begin_lazy(self, ref: str) -> None:
        """A lazy pull of ``ref`` fetches the rest of its layers in the background (pulls of one image that
        joined each other's mounts each count until their own background fetch ends)."""
        self._lazy[ref] = self._lazy.get(ref, 0) + 1

    def end_lazy(self, ref: str) -> None:
        left = self._lazy.pop(ref, 1) - 1
        if left:
            self._lazy[ref] = left

    def pin(self, image: ImageInfo) -> None:
        """A pull, push or build holds ``image``'s content until it unpins it: sweeps keep it."""
        self._pinned.setdefault(image.ref, []).append(image)

    def unpin(self, image: ImageInfo) -> None:
        """Drop the latest pin under ``image.ref`` (which may be another image than ``image``)."""
        held = self._pinned.get(image.ref)
        if held:
            held.pop()
            if not held:
                del self._pinned[image.ref]

    def _pinned_content(self) -> tuple[set[str], set[str]]:
        """The digests and chain IDs pinned images list: what pulls, pushes and builds under way hold."""
        pinned = [image for held in self._pinned.values() for image in held]
        return ({layer.digest for image in pinned for layer in image.layers},
                {layer.chain_id for image in pinned for layer in image.layers})

    # ------------------------------------------------------------ garbage collection

    def make_room(self, nbytes: float, *, job: int = -1) -> float:
        """kubelet's image GC before a pull of ``nbytes``: if use would pass ``high``, remove least recently
        used images no container uses (and no pull or push holds) until use plus ``nbytes`` is at most
        ``low``, then sweep content no image references. Returns the bytes freed."""
        gc = self.gc
        if gc is None or nbytes <= 0 or self.disk_used + nbytes <= gc.high * self.disk:
            return 0.0
        started = self.disk_used
        keep = set(self._in_use()) | set(self._pinned)
        order = {ref: i for i, ref in enumerate(self._images)}
        candidates = sorted((ref for ref in self._images if ref not in keep),
                            key=lambda ref: (self._last_used.get(ref, 0.0), order[ref]))
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

    def _count(self, image: ImageInfo) -> None:
        """``image`` now holds its layers (tagged or kept dangling): sweeps keep them."""
        digests, chains = self._digest_refs, self._chain_refs
        for layer in image.layers:
            digests[layer.digest] = digests.get(layer.digest, 0) + 1
            chains[layer.chain_id] = chains.get(layer.chain_id, 0) + 1

    def _uncount(self, image: ImageInfo) -> None:
        """``image`` no longer holds its layers; one with no count left is no longer live."""
        for layer in image.layers:
            _decrement(self._digest_refs, layer.digest)
            _decrement(self._chain_refs, layer.chain_id)

    def _move_counts(self, old: ImageInfo | None, new: ImageInfo) -> None:
        """A slot (a tag, a dangling key) held ``old`` and now holds ``new``: move the counts."""
        if old is new:
            return
        if old is not None:
            self._uncount(old)
        self._count(new)

    def _recount(self) -> tuple[dict[str, int], dict[str, int]]:
        """The counts of ``_digest_refs`` and ``_chain_refs`` worked out from scratch (tests compare them)."""
        digests: dict[str, int] = {}
        chains: dict[str, int] = {}
        for image in self._images.values():
            for layer in image.layers:
                digests[layer.digest] = digests.get(layer.digest, 0) + 1
                chains[layer.chain_id] = chains.get(layer.chain_id, 0) + 1
        return digests, chains

    def _remove(self, ref: str) -> None:
        """Untag an image; its blobs and unpacked layers go unless another image or the build cache holds them."""
        self._sweep(self.untag(ref))

    def _sweep(self, image: ImageInfo) -> list[str]:
        """Remove the content of an untagged image that nothing else holds. Returns the chain IDs removed,
        bottom layer first."""
        digests, chains = self._digest_refs, self._chain_refs
        pinned_digests, pinned_chains = self._pinned_content()
        removed: list[str] = []
        for layer in image.layers:
            digest = layer.digest
            if (digest in self._blobs and digest not in digests and digest not in pinned_digests
                    and digest not in self._downloading):
                self.disk_used -= self._blobs.pop(digest)
            chain = layer.chain_id
            if (chain in self._chains and chain not in chains and chain not in pinned_chains
                    and chain not in self._unpacking and not self._held.get(chain)):
                self._drop_chain(chain)
                removed.append(chain)
            self._forget_sources(digest)
        return removed

    # ------------------------------------------------------------ docker rmi

    def untag(self, ref: str) -> ImageInfo:
        """Remove the tag ``ref`` (KeyError if absent); the content stays (see :meth:`delete`)."""
        image = self._images.pop(ref)
        self._last_used.pop(ref, None)
        self._uncount(image)
        self._name(image, -1)
        return image

    def tags_of(self, image: ImageInfo) -> list[str]:
        """The references tagged here that name the same image (same manifest digest)."""
        key = image.manifest_digest or image.ref
        return [ref for ref, other in self._images.items() if (other.manifest_digest or other.ref) == key]

    def delete(self, image: ImageInfo) -> list[str]:
        """Delete an untagged image: its layers no other image, pull, push or build cache holds leave the disk
        (unpacked layers and blobs). Returns the chain IDs removed, top layer first, as dockerd lists them
        (moby daemon/images/image_delete.go: the image store's Delete releases the top layer, then its parents)."""
        return self._sweep(image)[::-1]

    def keep_untagged(self, image: ImageInfo) -> None:
        """``docker rmi -f`` of an image a container uses: untagged but kept, dangling (``docker images``'
        ``<none>``, named ``dangling_ref``), its content with it, as a tag moved to a newer image leaves it."""
        self.tag(replace(image, ref=dangling_ref(image)))

    def hold_chain(self, chain_id: str) -> None:
        """The build cache keeps this unpacked layer: image GC leaves it on disk."""
        self._held[chain_id] = self._held.get(chain_id, 0) + 1

    def release_chain(self, chain_id: str) -> None:
        """The build cache dropped a layer: it leaves the disk unless an image still uses it (or another hold)."""
        count = self._held.get(chain_id, 0) - 1
        if count > 0:
            self._held[chain_id] = count
            return
        self._held.pop(chain_id, None)
        if (chain_id in self._chains and chain_id not in self._unpacking and chain_id not in self._chain_refs
                and chain_id not in self._pinned_content()[1]):
            self._drop_chain(chain_id)


def _decrement(counts: dict[str, int], key: str) -> None:
    """One holder fewer of ``key``; the key goes at zero so that ``key in counts`` means "held"."""
    left = counts[key] - 1
    if left:
        counts[key] = left
    else:
        del counts[key]
