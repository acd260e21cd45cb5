"""What a daemon's pulls can name: the images a reference resolves to, without changing the scenario.

The scenario's images come first (the SimSpec's read-only mapping), then images pushed to a registry during
the run (the registries' manifests). A face may add a fallback for names neither knows: ``dsim serve`` looks
them up in dsim's built-in catalog of real Docker Hub images on first use; what the fallback finds is
registered with its registry (``accept_manifest``), so every later lookup, on any daemon, finds it there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from dsim.components.registry import RegistryServer
from dsim.domain.images import ImageInfo

Fallback = Callable[[str], ImageInfo | None]


class ImageCatalog:
    """Image lookup by normalised reference for one daemon."""

    def __init__(self, images: Mapping[str, ImageInfo], registries: Mapping[str, RegistryServer]) -> None:
        self.images = images
        self._registries = registries
        self._fallback: Fallback | None = None

    def set_fallback(self, fallback: Fallback | None) -> None:
        """Where names nobody knows are looked up (it returns None for those it does not know either)."""
        self._fallback = fallback

    def image(self, ref: str) -> ImageInfo | None:
        """The image ``ref`` names: the scenario's, one pushed during the run, else the fallback's."""
        image = self.images.get(ref)
        if image is not None:
            return image
        for registry in self._registries.values():
            image = registry.manifests.get(ref)
            if image is not None:
                return image
        if self._fallback is None:
            return None
        image = self._fallback(ref)
        if image is not None:
            home = self._registries.get(image.registry)
            if home is None:  # the fallback names a registry this world does not have
                return None
            home.accept_manifest(image)
        return image
