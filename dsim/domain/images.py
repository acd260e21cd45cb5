"""Images as the daemons and registries hold them: layers with digests and chain IDs, sizes in bytes."""

from __future__ import annotations

import functools
from dataclasses import dataclass

#: Uncompressed / compressed size when a layer does not say: the median of the 16 real images in
#: dsim/scenarios/catalog/real-images.json (2.2-2.9x, median 2.7).
DEFAULT_UNCOMPRESSED_RATIO = 2.7
#: The empty layer every image tool writes alike: a tar of nothing (its two 512-byte end blocks, 1,024 bytes)
#: gzipped into 32 bytes, so its digest is the same everywhere (BuildKit's ``exptypes.EmptyGZLayer``; the
#: catalog's redis, httpd and golang images carry it).
EMPTY_LAYER_DIGEST = "sha256:4f4fb700ef54461cfa02571ae0db9a0dc1e0cdb5577484a6d75e68dc38e8acc1"
EMPTY_LAYER_SIZE, EMPTY_LAYER_UNCOMPRESSED = 32.0, 1024.0


@dataclass(frozen=True, slots=True)
class LayerInfo:
    index: int
    digest: str
    chain_id: str
    size: float
    uncompressed: float
    #: Built on this host and not yet compressed: a push gzips it (StorageSpec.compress_rate) while uploading.
    local: bool = False
    #: Its tar's entries, where known (a scenario's ``files``); else bytes / the host's ``storage.file_size``.
    files: float | None = None
    #: A build step's empty diff (a RUN that changed no file): a snapshot in the build's chain that the legacy
    #: builder's commits leave out of the image (dsim/components/builder.py, ``image_layers``).
    empty: bool = False


@dataclass(frozen=True)
class ImageInfo:
    """An image by its normalised reference; ``registry`` is the scenario registry it comes from."""

    ref: str
    registry: str
    repository: str
    tag: str
    layers: tuple[LayerInfo, ...]
    compression: str
    manifest_digest: str
    #: Lazily pullable (eStargz style) and the share of each layer prefetched before a container starts.
    lazy: bool = False
    prefetch: float = 0.064

    @property
    def size(self) -> float:
        return sum(layer.size for layer in self.layers)

    @functools.cached_property
    def uncompressed(self) -> float:
        """Bytes of the unpacked layers (what a container of this image reads into the page cache)."""
        return sum(layer.uncompressed for layer in self.layers)
