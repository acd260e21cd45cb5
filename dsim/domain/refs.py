"""Image references as the docker CLI reads them, and the digests dsim derives from them.

A scenario's references are normalised once when it is loaded; these functions are also what
``dsim serve`` uses on the references its API calls name.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Mapping
from typing import Protocol

#: dsim's name for Docker Hub, the registry of every reference that names no other.
HUB = "hub"


class _HasRegistry(Protocol):
    @property
    def registry(self) -> str: ...


def sha256(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def split_ref(ref: str) -> tuple[str, str]:
    """(repository, tag) of a reference; the tag defaults to ``latest``; a registry port is not a tag."""
    ref = ref.strip()
    if "@" in ref:
        ref = ref.split("@", 1)[0]
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > slash:
        return ref[:colon], ref[colon + 1 :]
    return ref, "latest"


@functools.lru_cache(maxsize=4096)
def normalise(ref: str) -> str:
    """``nginx``, ``docker.io/library/nginx`` -> ``nginx:latest``, as the docker CLI normalises names."""
    repo, tag = split_ref(ref)
    for prefix in ("docker.io/", "index.docker.io/", "registry-1.docker.io/"):
        if repo.startswith(prefix):
            repo = repo[len(prefix) :]
    if repo.startswith("library/"):
        repo = repo[len("library/") :]
    return f"{repo}:{tag}"


def canonical(ref: str) -> str:
    """``normalise`` that keeps a digest: ``docker.io/library/alpine@sha256:...`` -> ``alpine@sha256:...``, the
    name dockerd's reference store keeps a pull by digest under (a tag written beside the digest is dropped:
    the digest says what is pulled); a reference without a digest is ``normalise``'s."""
    repo, at, digest = ref.partition("@")
    if not at:
        return normalise(ref)
    return normalise(repo).rpartition(":")[0] + "@" + digest


def reference_order(ref: str) -> str:
    """A reference as moby's reference store sorts them (daemon/internal/refstore/store.go ``lexicalRefs``: by
    the full name, ``docker.io/library/alpine:latest`` before ``docker.io/library/alpine@sha256:...``)."""
    first = ref.split("/", 1)[0]
    if "/" in ref and ("." in first or ":" in first or first == "localhost"):
        return ref
    return f"docker.io/{ref}" if "/" in ref.partition("@")[0] else f"docker.io/library/{ref}"


def chain_ids(digests: list[str]) -> list[str]:
    """OCI chain IDs: ChainID(L0) = DiffID(L0); ChainID(Ln) = sha256(ChainID(Ln-1) + ' ' + DiffID(Ln))."""
    chains: list[str] = []
    for digest in digests:
        chains.append(digest if not chains else sha256(f"{chains[-1]} {digest}"))
    return chains


def push_registry(ref: str, registries: Iterable[str], images: Mapping[str, _HasRegistry]) -> str:
    """Where ``docker push REF`` goes: the registry its first component names (``local/app:1``), else the
    registry of the scenario image of that name, else Docker Hub. Mirrors are never pushed to."""
    first = ref.split("/", 1)[0]
    if "/" in ref and first in registries:
        return first
    known = images.get(normalise(ref))
    return known.registry if known is not None else HUB
