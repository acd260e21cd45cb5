"""``--cache-from`` and ``--cache-to type=registry``: a build's cache records fetched from, and exported to,
a registry as a cache manifest (BuildKit's registry cache exporter)."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import replace
from typing import Any

import simpy

from dsim.components.build_cache import CacheManifest, RegistryCaches, RemoteRecord
from dsim.components.build_session import BuildSession
from dsim.components.errors import ApiError
from dsim.components.push import Pusher
from dsim.components.registry import RegistryError, RegistryServer
from dsim.domain.images import ImageInfo, LayerInfo
from dsim.domain.refs import normalise, push_registry, sha256, split_ref
from dsim.errors import SimulationError
from dsim.records import Recorder, SpanKind


class CacheExchange:
    """One daemon's side of registry cache import and export."""

    def __init__(self, env: simpy.Environment, host: str, registries: dict[str, RegistryServer],
                 caches: RegistryCaches, recorder: Recorder, pusher: Pusher | None) -> None:
        self.env = env
        self.host = host
        self.registries = registries
        self.caches = caches
        self.recorder = recorder
        self.pusher = pusher

    def import_cache(self, s: BuildSession) -> Generator[Any, Any, None]:
        """``--cache-from``: fetch each cache manifest (a missing one is a warning, as in BuildKit)."""
        for ref in s.spec.options.cache_from:
            began = self.env.now
            registry, repository, tag = self._cache_ref(ref)
            registry_name = registry.name
            norm = normalise(ref)
            manifest = self.caches.get(registry_name, norm)
            found = manifest is not None
            try:
                yield from registry.request(self.host, f"HEAD /v2/{repository}/manifests/{tag}", job=s.job,
                                            status=200 if found else 404)
                if found:
                    yield from registry.request(self.host, f"GET /v2/{repository}/manifests/{tag}", job=s.job)
                    yield from registry.request(self.host, f"GET /v2/{repository}/blobs/cache-config", job=s.job)
            except RegistryError:
                found = False
            records = 0
            if found:
                assert manifest is not None
                source = ImageInfo(norm, registry_name, repository, tag, (), "gzip", sha256(f"cache {norm}"))
                for key, record in manifest.records.items():
                    s.imported.setdefault(key, (record, source))
                records = len(manifest.records)
            self.recorder.span(SpanKind.CACHE_IMPORT, norm, began, self.env.now, host=self.host, job=s.job,
                               registry=registry_name, found=found, records=records)

    def _cache_ref(self, ref: str) -> tuple[RegistryServer, str, str]:
        """(registry, repository, tag) of a cache reference, as a push of it would address them."""
        if self.pusher is not None:
            return self.pusher.target(normalise(ref))
        repository, tag = split_ref(normalise(ref))
        return self.registries[push_registry(ref, self.registries, {})], repository, tag

    def export_cache(self, s: BuildSession) -> Generator[Any, Any, None]:
        """``--cache-to type=registry``: upload the records' layers the registry lacks, then the cache
        manifest. ``min`` exports the final image's chain, ``max`` every step of every built stage."""
        opts = s.spec.options
        assert opts.cache_to is not None
        began = self.env.now
        registry, repository, tag = self._cache_ref(opts.cache_to.ref)
        registry_name = registry.name
        norm = normalise(opts.cache_to.ref)
        target = s.spec.stages[s.spec.target]
        chain_stages = {target.index}
        stage = target
        while stage.base_stage is not None:
            chain_stages.add(stage.base_stage)
            stage = s.spec.stages[stage.base_stage]
        chosen = [d for d in s.done if opts.cache_to.mode == "max" or d.step.stage in chain_stages]
        records: dict[str, RemoteRecord] = {}
        layers: list[LayerInfo] = []
        for done in chosen:
            layer = done.result.layers[-1]
            # in the registry the layer is a compressed blob: whoever imports it downloads, never gzips it
            records[done.key] = RemoteRecord(done.key, done.result.identity, replace(layer, local=False),
                                             done.step.stage_name, done.step.instruction)
            layers.append(layer)
        uploaded = yield from self._upload(s, registry, repository, layers)
        try:
            yield from registry.request(self.host, f"PUT /v2/{repository}/manifests/{tag}", job=s.job)
        except RegistryError as err:  # the build fails with the registry's error, as a push's blobs do
            raise ApiError(err.status or 500, str(err)) from None
        self.caches.put(CacheManifest(norm, registry_name, records, self.env.now))
        self.recorder.span(SpanKind.CACHE_EXPORT, norm, began, self.env.now, host=self.host, job=s.job,
                           registry=registry_name, mode=opts.cache_to.mode, records=len(records), bytes=uploaded)

    def _upload(self, s: BuildSession, registry: RegistryServer, repository: str,
                layers: list[LayerInfo]) -> Generator[Any, Any, float]:
        """Blobs through the push path (existence check, upload slots, gzip of local layers)."""
        if self.pusher is None:
            raise SimulationError("cache export needs the daemon's push path")
        uploaded: float = yield from self.pusher.push_blobs(registry, repository, layers, job=s.job)
        return uploaded
