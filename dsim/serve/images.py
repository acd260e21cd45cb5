"""Image references as the Engine API sees them: names the docker CLI sends, resolved at request time.

A running ``dsim serve`` can be asked for any image, not just those its scenario names, so references are
resolved on demand: the scenario's images first, then images pushed to a scenario registry during the
session, then dsim's built-in catalog (real Docker Hub manifests, ``dsim/scenarios/catalog``) served by
the ``hub`` registry. The daemon's image catalog (dsim/components/image_catalog.py) asks
:func:`catalog_image` for a name it does not know; the image is built exactly as the scenario resolver would
have built it (same digests, chain IDs, sizes) and Docker Hub serves it from then on; the scenario itself is
never changed. Anything else does not exist, and fails the way Docker fails for it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cache
from importlib import resources

from dsim.components.daemon import Daemon
from dsim.domain.images import ImageInfo, LayerInfo
from dsim.domain.refs import HUB, canonical, chain_ids, normalise, reference_order, split_ref
from dsim.scenarios.catalog import catalog
from dsim.serve.image_config import ImageConfig, ImageConfigs, catalog_config

#: The command and ports of the catalog's images, from their Dockerfiles on Docker Hub (docker-library):
#: shown by ``docker ps`` (COMMAND) and used by ``-P``. Entrypoint, Cmd, ExposedPorts.
IMAGE_CONFIG: dict[str, tuple[list[str], list[str], list[str]]] = {
    "nginx": (["/docker-entrypoint.sh"], ["nginx", "-g", "daemon off;"], ["80/tcp"]),
    "redis": (["docker-entrypoint.sh"], ["redis-server"], ["6379/tcp"]),
    "postgres": (["docker-entrypoint.sh"], ["postgres"], ["5432/tcp"]),
    "alpine": ([], ["/bin/sh"], []),
    "ubuntu": ([], ["/bin/bash"], []),
    "debian": ([], ["bash"], []),
    "python": ([], ["python3"], []),
    "node": (["docker-entrypoint.sh"], ["node"], []),
    "golang": ([], ["bash"], []),
}


def familiar(ref: str) -> str:
    """``nginx:latest`` (``alpine@sha256:...``) as the CLI prints it; refs of other registries keep their
    registry part."""
    return canonical(ref)


def registry_host(ref: str) -> str | None:
    """The registry host a reference names (``localhost:5000/demo``, ``ghcr.io/x/y``), None for Docker Hub."""
    repo, _ = split_ref(normalise(ref))
    first, sep, _ = repo.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first
    return None


def remote_path(image: ImageInfo) -> str:
    """The repository path inside its registry, as ``Pulling from`` shows it (``library/nginx``)."""
    repo = image.repository
    if image.registry == HUB and "/" not in repo:
        return f"library/{repo}"
    prefix = image.registry + "/"
    return repo[len(prefix):] if repo.startswith(prefix) else repo


def image_id(image: ImageInfo) -> str:
    """The image ID (containerd image store: the manifest digest, as ``docker images`` shows it)."""
    if image.manifest_digest:
        return image.manifest_digest
    text = image.ref + " " + " ".join(layer.chain_id for layer in image.layers)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


@cache
def _index_digests() -> dict[str, str]:
    """Catalog images' index digests by their linux/amd64 manifest digest (the entries' ``index_digest``)."""
    raw = json.loads(resources.files("dsim.scenarios").joinpath("catalog/real-images.json").read_text())
    return {entry["manifest_digest"]: entry["index_digest"] for entry in raw["images"].values()
            if entry.get("index_digest") and entry.get("manifest_digest")}


def pull_digest(image: ImageInfo) -> str:
    """The digest a reference resolves to, as ``Digest:`` and ``RepoDigests`` show it: that of a pull by digest
    (``by_digest_ref``), else a multi-platform catalog image's index (the tag points at it; the platform's
    manifest is fetched after), else the manifest."""
    if is_digest_ref(image.ref):
        return image.tag
    return _index_digests().get(image.manifest_digest, image.manifest_digest)


def is_digest_ref(ref: str) -> bool:
    """``alpine@sha256:...``: a reference by digest (dockerd's reference store keeps a pull by digest so, with
    no tag), not a dangling ``<none>@`` name."""
    return "@" in ref and not ref.startswith("<none>")


def by_digest_ref(image: ImageInfo, digest: str) -> ImageInfo:
    """``image`` as ``docker pull REPO@DIGEST`` names it: ref ``repo@digest`` and the digest in the place of the
    tag, so the registry is asked for ``/v2/<repo>/manifests/<digest>`` (moby daemon/internal/distribution/
    pull_v2.go ``pullTag``: a Canonical reference's digest, not a tag, selects the manifest)."""
    repo = split_ref(image.ref)[0]
    return replace(image, ref=f"{repo}@{digest}", tag=digest)


def store_pull_digests(daemon: Daemon) -> None:
    """Every pull by tag the daemon completes stores, beside the tag, the digest reference of the digest the
    registry gave for it (``pull_digest``): a ``docker pull``'s, a ``docker run``'s or compose's of a missing
    image (all through ``POST /images/create``) and a legacy build's ``FROM`` base alike, an up-to-date pull too
    (github.com/moby/moby distribution/pull_v2.go ``pullTag`` calls ``addDigestReference`` for each;
    daemon/images/image_builder.go ``pullForBuilder`` pulls through it). A host's preloaded images stand for
    images pulled by tag before time 0, so they carry theirs from the start (docs/serve.md)."""
    def pulled(job: int, image: ImageInfo) -> None:
        if not is_digest_ref(image.ref):  # a pull by digest stores that reference only (pullTag's Canonical)
            daemon.add_digest_reference(image.ref, pull_digest(image))

    daemon.puller.pulled.append(pulled)
    for ref in daemon.puller.spec.preloaded:
        if (image := daemon.store.image(ref)) is not None:
            pulled(-1, image)


def repo_digests(tags: Iterable[ImageInfo]) -> list[str]:
    """An image's ``RepoDigests``: the digest references stored for it (a pull by digest's, those a pull by tag
    or a push added: moby daemon/images/image_list.go lists the reference store's Canonical references), not
    one made up for each tag (``docker tag alpine mine`` adds none; a build has none until pushed)."""
    return [familiar(t.ref) for t in by_reference(tags) if is_digest_ref(t.ref)]


def by_reference(tags: Iterable[ImageInfo]) -> list[ImageInfo]:
    """An image's references in the order the API lists them (RepoTags, RepoDigests, ``docker rmi``'s Untagged):
    the reference store's (``reference_order``)."""
    return sorted(tags, key=lambda t: reference_order(t.ref))


def progress_id(image: ImageInfo) -> str:
    """The ID of a pull's ``Pulling from`` line: the tag, or a pull by digest's whole reference
    (``docker.io/library/alpine@sha256:...``: pull_v2.go's ``tagOrDigest`` is the Canonical's ``String()``)."""
    return f"{qualified(image.repository)}@{image.tag}" if is_digest_ref(image.ref) else image.tag


def short_id(image: ImageInfo) -> str:
    return image_id(image)[7:19]


def config_of(ref: str) -> tuple[list[str], list[str], list[str]]:
    """(Entrypoint, Cmd, ExposedPorts) of a known image: its catalog entry's config, else its repository's
    (IMAGE_CONFIG), else an empty config."""
    entry = catalog_ref(normalise(ref))
    if entry is not None:
        config = catalog_config(entry)
        if config.cmd is not None or config.entrypoint is not None:
            return list(config.entrypoint or ()), list(config.cmd or ()), list(config.exposed_ports)
    repo, _ = split_ref(normalise(ref))
    return IMAGE_CONFIG.get(repo, ([], [], []))


def config_for(configs: ImageConfigs, image: ImageInfo) -> ImageConfig:
    """A local image's config: built on this engine (``configs``), else its catalog entry's, else empty; an
    image of a scenario's ``images:`` (no Dockerfile) gets its repository's command (IMAGE_CONFIG)."""
    ident = image_id(image)
    entry = catalog_ref(image.ref)
    if entry is None or catalog()[entry].manifest_digest != image.manifest_digest:
        entry = next((ref for ref, known in catalog().items()
                      if image.manifest_digest and known.manifest_digest == image.manifest_digest), None)
    config = configs.of(image, ident, entry)
    if config.cmd is None and config.entrypoint is None and ident not in configs.built:
        entrypoint, cmd, exposed = IMAGE_CONFIG.get(split_ref(image.ref)[0], ([], [], []))
        config = replace(config, entrypoint=tuple(entrypoint) or None, cmd=tuple(cmd) or None,
                         exposed_ports=tuple(exposed))
    return config


@dataclass(frozen=True)
class Missing:
    """Why a reference does not resolve: Docker's message and HTTP status."""

    status: int
    message: str


def catalog_ref(norm: str) -> str | None:
    """The catalog entry a normalised reference names. ``repo:latest`` of a repository whose ``latest`` the
    catalog does not list stands for the catalog's first (newest) tag of that repository, as Hub's
    ``latest`` is an alias of a release tag."""
    entries = catalog()
    if norm in entries:
        return norm
    repo, tag = split_ref(norm)
    if tag != "latest":
        return None
    for ref in entries:
        if split_ref(ref)[0] == repo:
            return ref
    return None


def catalog_image(norm: str) -> ImageInfo | None:
    """The ImageInfo of a catalog image under the name it was asked for, built as the scenario resolver
    builds catalog images (dsim/scenarios/resolve.py)."""
    entry_ref = catalog_ref(norm)
    if entry_ref is None:
        return None
    entry = catalog()[entry_ref]
    digests = [layer.digest for layer in entry.layers]
    layers = tuple(
        LayerInfo(i, layer.digest, chain, layer.size, layer.uncompressed)
        for i, (layer, chain) in enumerate(zip(entry.layers, chain_ids(digests), strict=True))
    )
    repo, tag = split_ref(norm)
    return ImageInfo(norm, HUB, repo, tag, layers, "gzip", entry.manifest_digest)


@cache
def _catalog_dates() -> dict[str, float]:
    """Build dates of the catalog's images (the ``date`` its sources give), as Unix timestamps."""
    raw = json.loads(resources.files("dsim.scenarios").joinpath("catalog/real-images.json").read_text())
    dates: dict[str, float] = {}
    for ref, entry in raw["images"].items():
        text = str(entry.get("date") or "")[:20]
        try:
            dates[ref] = datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
        except ValueError:
            continue
    return dates


def catalog_created(image: ImageInfo) -> float | None:
    """When a catalog image was built (Unix time), under any tag (``docker tag alpine:3.24 myalp:1`` is the
    same image, built the same day); None for other images."""
    entry = catalog_ref(image.ref)
    if entry is None or catalog()[entry].manifest_digest != image.manifest_digest:
        entry = next((ref for ref, known in catalog().items()
                      if image.manifest_digest and known.manifest_digest == image.manifest_digest), None)
    return None if entry is None else _catalog_dates().get(entry)


def catalog_repositories() -> frozenset[str]:
    """The Docker Hub repositories the built-in catalog knows (``nginx``, ``python``, ...)."""
    return frozenset(split_ref(ref)[0] for ref in catalog())


def denied(ref: str) -> Missing:
    """Docker Hub's answer to a name the catalog does not have, as the CLI prints it: a tag the catalog does not
    list of a repository it knows is ``manifest unknown`` (the registry's MANIFEST_UNKNOWN code, moby
    ``distribution/errors.go``); any other repository does not exist (or is private): ``pull access denied``
    (Hub answers 401 to the anonymous token's request, which dockerd reports so)."""
    norm = normalise(ref)
    repo, _ = split_ref(norm)
    if repo in catalog_repositories():  # a digest names itself (``alpine@sha256:...``: FamiliarString)
        return Missing(404, f"manifest for {canonical(ref)} not found: manifest unknown: manifest unknown")
    return Missing(404, f"pull access denied for {repo}, repository does not exist or may require 'docker login': "
                        "denied: requested access to the resource is denied")


def no_such_host(host: str) -> Missing:
    """A registry host that is not part of the simulated world: dockerd cannot resolve its name."""
    return Missing(500, f'Get "https://{host}/v2/": dial tcp: lookup {host}: no such host')


def qualified(ref: str) -> str:
    """The repository as ``The push refers to repository [...]`` names it (``docker.io/library/demo``)."""
    repo, _ = split_ref(normalise(ref))
    if registry_host(repo) is not None:
        return repo
    return f"docker.io/{repo}" if "/" in repo else f"docker.io/library/{repo}"


def manifest_size(image: ImageInfo) -> int:
    """Bytes of the image's manifest as a registry stores it (OCI image manifest, Docker's 3-space indent)."""
    layer_type = "application/vnd.oci.image.layer.v1.tar+gzip"
    document = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        # the config blob's own size is not modelled: a typical image config's, for the digest line only
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": image_id(image), "size": 7023},
        "layers": [{"mediaType": layer_type, "digest": layer.digest, "size": int(layer.size)}
                   for layer in image.layers],
    }
    return len(json.dumps(document, indent=3))


def by_digest(repo: str, digest: str, known: Iterable[ImageInfo]) -> ImageInfo | None:
    """The image of repository ``repo`` (normalised, no tag) whose manifest or index digest is ``digest``:
    among ``known`` (the scenario's and pushed images) and the built-in catalog's tags of that repository.
    What ``docker pull REPO@DIGEST`` fetches (a registry's manifest; local images are found by their stored
    digest references instead)."""
    candidates = [image for image in known if split_ref(image.ref)[0] == repo]
    candidates += [image for ref in catalog() if split_ref(ref)[0] == repo
                   if (image := catalog_image(ref)) is not None]
    return next((image for image in candidates if digest in (image.manifest_digest, pull_digest(image))), None)
