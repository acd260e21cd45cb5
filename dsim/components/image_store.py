"""A daemon's content-addressed image store: blobs by digest, unpacked layers by chain ID, tags.

As in containerd's store, a layer is identified by digest and shared by every image that lists it;
a layer whose chain ID is present is "Already exists"; one download per blob and one unpack per chain
at a time, however many pulls want it (the content-ingest lock keyed by digest).
"""

from __future__ import annotations

import simpy

from dsim.scenarios.resolve import ImageInfo, LayerInfo


class DiskFull(Exception):
    """The host's disk cannot hold what a pull would write."""


class ImageStore:
    def __init__(self, env: simpy.Environment, disk: float) -> None:
        self.env = env
        self.disk = disk
        self.blobs: dict[str, float] = {}
        self.chains: dict[str, float] = {}
        self.images: dict[str, ImageInfo] = {}
        self.downloading: dict[str, simpy.Event] = {}
        self.unpacking: dict[str, simpy.Event] = {}
        self.disk_used = 0.0

    def preload(self, image: ImageInfo) -> None:
        """Present at time 0: blobs and unpacked layers, tagged."""
        for layer in image.layers:
            self.add_blob(layer)
            self.add_chain(layer)
        self.images[image.ref] = image

    def has_image(self, ref: str) -> bool:
        return ref in self.images

    def complete(self, image: ImageInfo) -> bool:
        return all(layer.chain_id in self.chains for layer in image.layers)

    def _charge(self, nbytes: float) -> None:
        if self.disk_used + nbytes > self.disk:
            raise DiskFull(f"no space left on device (disk {self.disk:.0f} B, used {self.disk_used:.0f} B)")
        self.disk_used += nbytes

    def add_blob(self, layer: LayerInfo) -> None:
        if layer.digest not in self.blobs:
            self._charge(layer.size)
            self.blobs[layer.digest] = layer.size

    def add_chain(self, layer: LayerInfo) -> None:
        if layer.chain_id not in self.chains:
            self._charge(layer.uncompressed)
            self.chains[layer.chain_id] = layer.uncompressed

    def tag(self, image: ImageInfo) -> None:
        self.images[image.ref] = image
