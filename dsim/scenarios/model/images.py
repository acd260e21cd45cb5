"""Images: layers (compressed and unpacked sizes), base images, compression, lazy pulling."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, WithJsonSchema

from dsim.domain.images import DEFAULT_UNCOMPRESSED_RATIO
from dsim.scenarios.fields import FiniteSize
from dsim.scenarios.model.base import Count, Strict


class Layer(Strict):
    """One layer blob: compressed size on the wire, uncompressed size on disk."""

    size: FiniteSize
    uncompressed: FiniteSize | None = Field(
        None, description=f"default: size x {DEFAULT_UNCOMPRESSED_RATIO} (gzip/zstd), in whole bytes")
    files: Count | None = Field(
        None, description="entries of the layer's tar (files, directories, links): each costs the unpack's "
        "applier storage.apply_per_file of CPU. Default: uncompressed / the host's storage.file_size")


def _layer(value: object) -> object:
    return value if isinstance(value, dict | Layer) else {"size": value}


LayerSpec = Annotated[
    Layer,
    BeforeValidator(_layer),
    WithJsonSchema({"anyOf": [
        {"type": "string", "description": "compressed size, e.g. 211MB"}, {"type": "number", "minimum": 0},
        {"type": "object", "required": ["size"], "additionalProperties": False,
         "properties": {"size": {"type": ["string", "number"]}, "uncompressed": {"type": ["string", "number"]},
                        "files": {"type": "integer", "minimum": 0}}},
    ]}),
]


class Image(Strict):
    """An image: its registry and layers bottom first; ``from`` shares a base image's layers by digest."""

    registry: str | None = Field(None, description="default: the scenario's Docker Hub registry")
    from_: str | None = Field(None, alias="from", description="base image: its layers come first, same digests")
    layers: list[LayerSpec] = Field(default_factory=list, description="compressed sizes, bottom first")
    compression: Literal["gzip", "zstd", "none"] = "gzip"
    lazy: bool = Field(
        False, description="what-if: lazily pullable (eStargz / SOCI / Nydus style): a container starts once the "
        "manifest and the prefetch share are local; the rest is fetched in the background while it runs",
    )
    prefetch: float = Field(
        0.064, ge=0, le=1, description="share of each layer fetched before a lazily pulled container starts "
        "(Harter et al., Slacker, FAST'16: containers read 6.4% of the image data they pull)",
    )


def layer_uncompressed(layer: Layer, compression: str) -> float:
    """Bytes a layer takes once unpacked; estimated from the ratio, a whole number of bytes."""
    if layer.uncompressed is not None:
        return layer.uncompressed
    return layer.size if compression == "none" else float(round(layer.size * DEFAULT_UNCOMPRESSED_RATIO))
