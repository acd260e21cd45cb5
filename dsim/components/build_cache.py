"""Build caches: one daemon's BuildKit cache (records by cache key, size limit, GC, steps in flight) and
the cache manifests registries hold for ``--cache-to`` / ``--cache-from`` (docs/real-docker.md: Build).

A record maps a step's cache key to the layer the step produced. Keys chain: a step's key digests its own
operation with its parent's result, so after the first miss every later key of that chain is new (the
cascade) without any special rule. Records of the legacy builder live in a cache of their own: the two
builders never share cache in Docker either.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Iterable
from dataclasses import dataclass, field
from typing import Any

import simpy

from dsim.components.image_store import ImageStore
from dsim.domain.images import LayerInfo
from dsim.records import Recorder, SpanKind


@dataclass
class CacheRecord:
    """What a cache hit gives back: the step's result identity and its layer (digest derived from the key)."""

    key: str
    result: str
    layer: LayerInfo
    created: float
    last_used: float
    stage: str = ""
    instruction: str = ""
    in_use: int = 0

    @property
    def size(self) -> float:
        return self.layer.uncompressed


class BuildCache:
    """One daemon's build cache: records, the steps running now (identical steps run once), GC by size."""

    def __init__(self, env: simpy.Environment, host: str, store: ImageStore, recorder: Recorder, *,
                 limit: float) -> None:
        self.env = env
        self.host = host
        self.store = store
        self.recorder = recorder
        self.limit = limit
        self.records: dict[str, CacheRecord] = {}
        #: cache key -> event that succeeds with the CacheRecord when the build executing that step ends it
        self.running: dict[str, simpy.Event] = {}
        self.size = 0.0

    def lookup(self, key: str) -> CacheRecord | None:
        record = self.records.get(key)
        if record is not None:
            record.last_used = self.env.now
        return record

    def add(self, record: CacheRecord) -> None:
        """Keep a record; its unpacked layer stays on disk (image GC leaves held layers alone)."""
        self.store.hold_chain(record.layer.chain_id)
        old = self.records.get(record.key)
        if old is not None:
            self.size -= old.size
            self.store.release_chain(old.layer.chain_id)
        self.records[record.key] = record
        self.size += record.size

    def drop(self, record: CacheRecord) -> None:
        """``docker builder prune``: the record goes; its layer leaves the disk unless an image uses it."""
        if self.records.get(record.key) is record:
            del self.records[record.key]
            self.size -= record.size
            self.store.release_chain(record.layer.chain_id)

    def hold(self, records: Iterable[CacheRecord]) -> None:
        """A build uses these records until it ends: GC never prunes them meanwhile."""
        for record in records:
            record.in_use += 1

    def release(self, records: Iterable[CacheRecord]) -> None:
        for record in records:
            record.in_use -= 1

    def gc(self, *, job: int) -> None:
        """BuildKit's GC policy in dockerd, run after a build: when the cache is over its limit, prune records
        unused for 60 days first, then any, least recently used first, until it fits (the two rules give one
        order: by last use); records a running build uses are kept. A pruned record's layer leaves the disk
        unless an image still uses it."""
        if self.size <= self.limit:
            return
        started = self.env.now
        candidates = sorted((r for r in self.records.values() if r.in_use == 0), key=lambda r: r.last_used)
        pruned = 0
        freed = 0.0
        for record in candidates:
            if self.size <= self.limit:
                break
            del self.records[record.key]
            self.size -= record.size
            freed += record.size
            pruned += 1
            self.store.release_chain(record.layer.chain_id)
        self.recorder.span(SpanKind.BUILD_GC, self.host, started, self.env.now, host=self.host, job=job,
                           records=pruned, bytes=freed, remaining=self.size)


@dataclass(eq=False)
class CacheDir:
    """One directory of a cache mount (``RUN --mount=type=cache``) on the builder: BuildKit's cache-mount
    record, found by its key (the mount's ``id``, default its target)."""

    key: str
    warm: bool = False  # a RUN that mounted it has finished: it holds what that run left there
    users: int = 0  # RUN steps mounting it now
    shared: bool = False  # mounted by sharing=shared users now: another shared user joins it


class CacheMounts:
    """One builder's cache-mount directories, by key, as BuildKit's mount manager hands them out
    (moby/buildkit solver/llbsolver/mounts/mount.go, getRefCacheDir):

    * ``shared`` joins the directory other shared users of the key have mounted now, seeing it as it is;
    * otherwise (and for ``private`` and ``locked``) the first directory of the key nobody holds is reused;
    * when every directory of the key is held, ``private`` (and ``shared``, when no shared user holds one)
      creates a new, empty one; ``locked`` waits until one is released (BuildKit polls every 100 ms; here the
      release wakes it at once).

    A directory becomes warm when a RUN that mounted it finishes. Directories stay for the daemon's life:
    their contents' size is not modelled, so the build cache's GC never prunes them."""

    def __init__(self, env: simpy.Environment) -> None:
        self.env = env
        self.dirs: dict[str, list[CacheDir]] = {}
        self._released: dict[str, simpy.Event] = {}

    def acquire(self, key: str, sharing: str) -> Generator[Any, Any, CacheDir]:
        dirs = self.dirs.setdefault(key, [])
        while True:
            if sharing == "shared":
                for held in dirs:
                    if held.shared:
                        held.users += 1
                        return held
            free = next((d for d in dirs if d.users == 0), None)
            if free is None and (sharing != "locked" or not dirs):
                free = CacheDir(key)
                dirs.append(free)
            if free is not None:
                free.users = 1
                free.shared = sharing == "shared"
                return free
            released = self._released.get(key)
            if released is None:
                released = self._released[key] = self.env.event()
            yield released

    def release(self, held: CacheDir, *, finished: bool) -> None:
        """The RUN that mounted ``held`` ended; ``finished``: successfully, so the directory is warm now."""
        held.users -= 1
        if finished:
            held.warm = True
        if held.users == 0:
            held.shared = False
            released = self._released.pop(held.key, None)
            if released is not None:
                released.succeed()


@dataclass(frozen=True)
class RemoteRecord:
    """One record of a registry cache manifest: the layer lives in the registry as a blob."""

    key: str
    result: str
    layer: LayerInfo
    stage: str
    instruction: str


@dataclass
class CacheManifest:
    ref: str
    registry: str
    records: dict[str, RemoteRecord] = field(default_factory=dict)
    written: float = math.nan


class RegistryCaches:
    """The cache manifests every registry holds, by (registry, reference): written by ``--cache-to``,
    read by ``--cache-from``. World-wide, like the registries themselves."""

    def __init__(self) -> None:
        self.manifests: dict[tuple[str, str], CacheManifest] = {}

    def get(self, registry: str, ref: str) -> CacheManifest | None:
        return self.manifests.get((registry, ref))

    def put(self, manifest: CacheManifest) -> None:
        self.manifests[(manifest.registry, manifest.ref)] = manifest
