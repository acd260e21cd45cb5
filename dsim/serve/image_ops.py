"""Image verbs beyond pull/push/build, on the daemon's store (simulation thread): ``docker history``,
``docker system df``, the prunes, ``docker save``/``docker load`` and Docker Hub's push authorization.

What each returns is the Engine API 1.50 shape (``HistoryResponseItem``, ``SystemDataUsageResponse``,
``ImageDeleteResponseItem``...). Sizes are the model's: an image's unpacked layers, the build cache's records,
containers' writable layers.

``docker save`` writes a real docker-archive (moby ``image/tarexport``, the OCI layout Docker 25+ writes:
``oci-layout``, ``index.json``, ``manifest.json``, ``repositories``, ``blobs/sha256/...``) that the CLI and
``docker load`` accept. Layer contents are simulated, so a layer blob is a small tar holding one file,
``.dsim-layer.json``, that records the layer's digest and sizes; the config's ``rootfs.diff_ids`` are these
blobs' digests, so the archive is self-consistent. Filling layers with their real sizes of zeros would make a
``docker save`` of python:3.11 a 1 GB transfer of nothing: the sizes are carried as data instead, and
``docker load`` restores the image with its original layers, digests and sizes.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
import time
from collections.abc import Generator, Iterable
from typing import TYPE_CHECKING, Any

from dsim.components.container import CREATED, EXITED
from dsim.components.errors import ApiError, StreamError
from dsim.domain.images import ImageInfo, LayerInfo
from dsim.domain.refs import HUB, normalise, split_ref
from dsim.serve import images as refs
from dsim.serve.image_config import familiar_tags
from dsim.serve.objects import volume_view

if TYPE_CHECKING:
    from dsim.components.build_cache import BuildCache, CacheRecord
    from dsim.serve.engine import Engine

#: Docker Hub's answer to a push the credentials do not allow (an anonymous one, or into another namespace).
PUSH_DENIED = "denied: requested access to the resource is denied"
LAYER_FILE = ".dsim-layer.json"


# ---------------------------------------------------------------------------------------------- history


def history(engine: Engine, image: ImageInfo) -> list[dict[str, Any]]:
    """``GET /images/{name}/history``: one row per history entry, newest first; a layer-making entry shows its
    layer's unpacked size; the top row carries the image ID and its tags, the rest ``<missing>`` (as for any
    pulled image: their intermediate images are not local)."""
    config = refs.config_for(engine.image_configs, image)
    ident = refs.image_id(image)
    created = int(engine.created(image))
    layers = list(image.layers)
    rows: list[dict[str, Any]] = []
    for entry in config.history:
        size = 0
        if not entry.empty_layer and layers:
            size = int(layers.pop(0).uncompressed)
        rows.append({"Id": "<missing>", "Created": int(entry.created) if entry.created else created,
                     "CreatedBy": entry.created_by, "Tags": None, "Size": size, "Comment": entry.comment})
    for layer in layers:  # layers no history line names (older catalog entries)
        rows.append({"Id": "<missing>", "Created": created, "CreatedBy": "", "Tags": None,
                     "Size": int(layer.uncompressed), "Comment": ""})
    rows.reverse()
    if rows:
        tags = [t.ref for t in engine.local_images().values() if refs.image_id(t) == ident]
        rows[0]["Id"] = ident
        rows[0]["Tags"] = familiar_tags(tags) or None
    return rows


# ---------------------------------------------------------------------------------------------- system df


def _by_id(engine: Engine) -> dict[str, list[ImageInfo]]:
    groups: dict[str, list[ImageInfo]] = {}
    for image in engine.local_images().values():
        groups.setdefault(refs.image_id(image), []).append(image)
    return groups


def _cache_records(engine: Engine) -> list[tuple[CacheRecord, BuildCache]]:
    builder = engine.daemon.builder
    if builder is None:
        return []
    return [(record, cache) for cache in (builder.classic_cache, builder.cache) for record in cache.records.values()]


def _iso(stamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(stamp)) + f".{int(stamp % 1 * 1e9):09d}Z"


def system_df(engine: Engine) -> dict[str, Any]:
    """``GET /system/df``: images (with the bytes they share with others), containers (writable layers),
    volumes (their bytes on the disk and users, components/storage.py) and the build cache's records."""
    engine.sync()
    groups = _by_id(engine)
    users: dict[str, int] = {}
    for layer_image in (image for tags in groups.values() for image in tags[:1]):
        for layer in layer_image.layers:
            users[layer.chain_id] = users.get(layer.chain_id, 0) + 1
    images = []
    unique: dict[str, float] = {}
    for ident, tags in groups.items():
        summary = engine.image_summary(ident, tags)
        summary["SharedSize"] = int(sum(layer.uncompressed for layer in tags[0].layers if users[layer.chain_id] > 1))
        images.append(summary)
        unique.update({layer.chain_id: layer.uncompressed for layer in tags[0].layers})
    containers = []
    for served in engine.containers.values():
        summary = engine.summary(served)
        summary["SizeRw"] = int(engine.daemon.store.container_layer(served.container.id))
        summary["SizeRootFs"] = summary["SizeRw"] + int(served.image.uncompressed)
        containers.append(summary)
    cache = [{"ID": record.key[7:32], "Parent": "", "Parents": [], "Type": "regular",
              "Description": f"[{record.stage or 'stage-0'}] {record.instruction}".strip(),
              "InUse": record.in_use > 0, "Shared": False, "Size": int(record.size),
              "CreatedAt": _iso(engine.epoch(record.created)), "LastUsedAt": _iso(engine.epoch(record.last_used)),
              "UsageCount": 1} for record, _ in _cache_records(engine)]
    return {"LayersSize": int(sum(unique.values())), "Images": sorted(images, key=lambda s: -s["Created"]),
            "Containers": containers, "BuildCache": cache,
            "Volumes": [volume_view(engine, volume) for volume in engine.daemon.runtime.storage.volumes.values()]}


# ---------------------------------------------------------------------------------------------- prune


def forget_image(engine: Engine, ident: str) -> None:
    """A deleted image's config, build time and files go with it, as dockerd deletes its config (a build or a
    commit of the same content later records them again)."""
    engine.built.pop(ident, None)
    engine.image_configs.built.pop(ident, None)
    engine.image_files.pop(ident, None)
    engine.image_nodes.pop(ident, None)


def prune_images(engine: Engine, *, dangling_only: bool) -> dict[str, Any]:
    """``POST /images/prune``: images no container uses (any state); by default only dangling ones (``-a``
    sends ``dangling=false``: every unused image). Their layers no other image or the build cache holds leave
    the disk, as ``docker rmi`` does."""
    engine.sync()
    store = engine.daemon.store
    used = {refs.image_id(served.image) for served in engine.containers.values()}
    deleted: list[dict[str, str]] = []
    before = store.disk_used
    for ident, tags in _by_id(engine).items():
        named = familiar_tags(t.ref for t in tags)
        if ident in used or (dangling_only and named):
            continue
        for image in tags:
            store.untag(image.ref)
        deleted += [{"Untagged": refs.familiar(ref)} for ref in named]
        deleted.append({"Deleted": ident})
        deleted += [{"Deleted": chain} for chain in store.delete(tags[0])]
        forget_image(engine, ident)
    return {"ImagesDeleted": deleted or None, "SpaceReclaimed": int(round(before - store.disk_used))}


def prune_build_cache(engine: Engine) -> dict[str, Any]:
    """``POST /build/prune``: every cache record no running build holds (both builders' caches)."""
    store = engine.daemon.store
    before = store.disk_used
    ids: list[str] = []
    for record, cache in _cache_records(engine):
        if record.in_use == 0:
            cache.drop(record)
            ids.append(record.key[7:32])
    return {"CachesDeleted": ids or None, "SpaceReclaimed": int(round(before - store.disk_used))}


def stopped_containers(engine: Engine) -> list[Any]:
    """The containers ``docker container prune`` removes: created or exited ones."""
    engine.sync()
    return [served for served in engine.containers.values() if served.container.state in (CREATED, EXITED)]


# ---------------------------------------------------------------------------------------------- login and push


def decode_auth(header: str | None) -> dict[str, Any]:
    """The ``X-Registry-Auth`` header: base64url JSON of the credentials the CLI stored at ``docker login``."""
    if not header:
        return {}
    try:
        padded = header + "=" * (-len(header) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError):
        return {}
    return value if isinstance(value, dict) else {}


def hub_push_denied(engine: Engine, ref: str, auth: dict[str, Any]) -> bool:
    """Docker Hub refuses a push without credentials, and into a namespace that is not the user's (official
    ``library/`` images included): ``denied: requested access to the resource is denied``."""
    norm = normalise(ref)
    repo, _ = split_ref(norm)
    first = repo.split("/", 1)[0]
    if refs.registry_host(norm) is not None or ("/" in repo and first in engine.world.registries):
        return False  # a scenario registry: its own auth model applies
    if HUB not in engine.world.registries:
        return False
    user = str(auth.get("username") or "")
    return not user or "/" not in repo or first != user


def refuse_push(engine: Engine, job: int) -> Generator[Any, Any, None]:
    """Hub's refusal: the push's token request (push scope) is answered without it, after one round trip."""
    hub = engine.world.registries.get(HUB)
    if hub is not None:
        yield from hub.request(engine.host, "GET token", job=job, status=401)
    raise StreamError(403, PUSH_DENIED)


# ---------------------------------------------------------------------------------------------- save and load


def _add(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0
    archive.addfile(info, io.BytesIO(data))


def _layer_blob(layer: LayerInfo) -> bytes:
    """A layer's stand-in tar: one small file with the layer's identity and sizes."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as layer_tar:
        _add(layer_tar, LAYER_FILE, json.dumps({"digest": layer.digest, "chain_id": layer.chain_id,
                                                "size": layer.size, "uncompressed": layer.uncompressed}).encode())
    return buffer.getvalue()


def _layer_meta(layer: LayerInfo) -> dict[str, Any]:
    """A layer's simulated identity and sizes in a saved image's config (its tar entries when known)."""
    meta: dict[str, Any] = {"digest": layer.digest, "chain_id": layer.chain_id, "size": layer.size,
                            "uncompressed": layer.uncompressed}
    if layer.files is not None:
        meta["files"] = layer.files
    return meta


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _save_one(engine: Engine, name: str, blobs: dict[str, bytes]) -> tuple[dict[str, Any], dict[str, Any], str | None]:
    """One image's blobs (config, layers, OCI manifest) into ``blobs``; its manifest.json and index.json
    entries and the tag it is saved under (None for an image named by ID)."""
    image = engine.find_image(name)
    if image is None:
        raise ApiError(404, f"No such image: {name}")
    config = refs.config_for(engine.image_configs, image)
    layer_blobs = [_layer_blob(layer) for layer in image.layers]
    diff_ids = [_digest(blob) for blob in layer_blobs]
    document = config.document(diff_ids)
    document["created"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(engine.created(image)))
    document["dsim"] = {"id": refs.image_id(image), "registry": image.registry,
                        "layers": [_layer_meta(layer) for layer in image.layers]}
    config_blob = json.dumps(document, sort_keys=True).encode()
    blobs[_digest(config_blob)] = config_blob
    blobs.update(zip(diff_ids, layer_blobs, strict=True))
    named = not name.startswith("sha256:") and engine.daemon.store.has_image(normalise(name))
    tagged = image.ref if named else None
    entry = {"Config": f"blobs/sha256/{_digest(config_blob)[7:]}",
             "RepoTags": [refs.familiar(tagged)] if tagged else None,
             "Layers": [f"blobs/sha256/{d[7:]}" for d in diff_ids]}
    oci = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                      "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                 "digest": _digest(config_blob), "size": len(config_blob)},
                      "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d,
                                  "size": len(b)} for d, b in zip(diff_ids, layer_blobs, strict=True)]}).encode()
    blobs[_digest(oci)] = oci
    index = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": _digest(oci), "size": len(oci),
             **({"annotations": {"io.containerd.image.name": tagged}} if tagged else {})}
    return entry, index, tagged


def save(engine: Engine, names: Iterable[str]) -> bytes:
    """``GET /images/get``: a docker-archive of the named images (tags as named; an ID saves untagged)."""
    blobs: dict[str, bytes] = {}
    manifest: list[dict[str, Any]] = []
    index: list[dict[str, Any]] = []
    repositories: dict[str, dict[str, str]] = {}
    for name in names:
        entry, described, tagged = _save_one(engine, name, blobs)
        manifest.append(entry)
        index.append(described)
        if tagged:
            repo, tag = split_ref(tagged)
            image = engine.find_image(name)
            repositories.setdefault(repo, {})[tag] = refs.image_id(image)[7:] if image is not None else ""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for digest, blob in sorted(blobs.items()):
            _add(archive, f"blobs/sha256/{digest[7:]}", blob)
        _add(archive, "index.json", json.dumps({"schemaVersion": 2, "manifests": index,
                                                "mediaType": "application/vnd.oci.image.index.v1+json"}).encode())
        _add(archive, "manifest.json", json.dumps(manifest).encode())
        _add(archive, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        if repositories:
            _add(archive, "repositories", json.dumps(repositories).encode())
    return buffer.getvalue()


def _member(archive: tarfile.TarFile, name: str) -> bytes:
    try:
        handle = archive.extractfile(name.lstrip("/"))
    except KeyError:
        raise ApiError(500, f"failed to load image: open {name}: no such file or directory") from None
    return handle.read() if handle is not None else b""


def load(engine: Engine, data: bytes) -> list[str]:
    """``POST /images/load``: the archive's images into the store (their layers as blobs and unpacked
    layers, on the host's disk); the lines ``docker load`` prints."""
    try:
        archive = tarfile.open(fileobj=io.BytesIO(data), mode="r:*")  # noqa: SIM115 - closed below
    except (tarfile.TarError, EOFError, OSError) as err:
        raise ApiError(400, f"failed to load image: {err}") from None
    lines: list[str] = []
    with archive:
        try:
            manifest = json.loads(_member(archive, "manifest.json"))
            for item in manifest:
                config = json.loads(_member(archive, str(item["Config"])))
                lines += _restore(engine, config, item.get("RepoTags") or [])
        except (ValueError, KeyError, TypeError, tarfile.TarError) as err:
            raise ApiError(500, f"failed to load image: invalid archive: {err}") from None
    return lines


def _restore(engine: Engine, config: dict[str, Any], tags: list[str]) -> list[str]:
    """One image of an archive back in the store; archives dsim did not write carry no layer sizes: refused."""
    meta = config.get("dsim")
    if not isinstance(meta, dict):
        raise ApiError(501, "dsim serve loads archives written by dsim serve's docker save only (their layers "
                            "carry the simulated sizes)")
    layers = tuple(LayerInfo(i, str(layer["digest"]), str(layer["chain_id"]), float(layer["size"]),
                             float(layer["uncompressed"]),
                             files=float(layer["files"]) if layer.get("files") is not None else None)
                   for i, layer in enumerate(meta["layers"]))
    ident = str(meta["id"])
    store = engine.daemon.store
    names = [normalise(tag) for tag in tags] or [f"<none>@{ident[7:19]}"]
    for layer in layers:
        store.keep_blob(layer)
        store.add_chain(layer)
    lines = []
    for name in names:
        repo, tag = split_ref(name) if not name.startswith("<none>") else (name, "")
        store.tag(ImageInfo(name, str(meta.get("registry") or HUB), repo, tag, layers, "gzip", ident))
        lines.append(f"Loaded image: {refs.familiar(name)}" if tag else f"Loaded image ID: {ident}")
    return lines


def digest_image(engine: Engine, norm: str) -> ImageInfo | None:
    """The image ``repo@digest`` names at its registry, under that reference (``refs.by_digest_ref``): that
    repository's image whose manifest or index digest it is (the scenario's, those pushed, the built-in
    catalog's); None when no registry has it. The daemon's image catalog asks this of a digest reference (a pull
    by digest, a legacy build's ``FROM repo@digest``) and registers what it finds with its registry."""
    repo, _, digest = norm.partition("@")
    known = [*engine.daemon.puller.catalog.images.values(),
             *(m for registry in engine.world.registries.values() for m in registry.manifests.values())]
    found = refs.by_digest(normalise(repo).rpartition(":")[0], digest, known)
    return None if found is None else refs.by_digest_ref(found, digest)


def by_digest(engine: Engine, repo: str, digest: str) -> str:
    """The reference ``docker pull REPO@DIGEST`` fetches (``repo@digest``), found by ``digest_image`` and served
    by its registry from then on; else a registry's 404."""
    name = normalise(repo).rpartition(":")[0]
    image = engine.daemon.puller.catalog.image(f"{name}@{digest}")
    if image is None:
        raise ApiError(404, f"manifest for {name}@{digest} not found: manifest unknown: manifest unknown")
    return image.ref
