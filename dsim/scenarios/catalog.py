"""dsim's built-in images: real Docker Hub manifests (linux/amd64) with every layer's digest and size.

The data is ``catalog/real-images.json`` (from docker-library/repo-info, each entry names its source).
Per-layer uncompressed sizes are not published; each layer gets the image's uncompressed/compressed
ratio (``docker images`` size over the sum of blob sizes), so the image total is right.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

from dsim.domain.images import DEFAULT_UNCOMPRESSED_RATIO


@dataclass(frozen=True)
class CatalogLayer:
    digest: str
    size: int
    uncompressed: float


@dataclass(frozen=True)
class CatalogImage:
    ref: str
    layers: tuple[CatalogLayer, ...]
    manifest_digest: str
    source: str


@cache
def catalog() -> dict[str, CatalogImage]:
    """Every built-in image by its normalised reference (``nginx:latest``)."""
    raw = json.loads(resources.files("dsim.scenarios").joinpath("catalog/real-images.json").read_text())
    images: dict[str, CatalogImage] = {}
    for ref, entry in raw["images"].items():
        compressed = sum(layer["size"] for layer in entry["layers"])
        total = entry.get("uncompressed_total") or compressed * DEFAULT_UNCOMPRESSED_RATIO
        ratio = total / compressed if compressed else 1.0
        layers = tuple(
            CatalogLayer(layer["digest"], int(layer["size"]), float(round(layer["size"] * ratio)))  # whole bytes
            for layer in entry["layers"]
        )
        images[ref] = CatalogImage(ref, layers, entry.get("manifest_digest", ""), entry.get("source", ""))
    return images


def lookup(ref: str) -> CatalogImage | None:
    """The built-in image for a normalised reference, or None."""
    return catalog().get(ref)
