"""The legacy builder: the whole context sent first, then every stage up to the target in order, one
step at a time, base images pulled as ``docker pull`` does.

Every instruction that misses the cache is a container (moby ``builder/dockerfile``: ``probeAndCreate``,
then ``commitContainer``): created, for RUN run, committed as an image and removed, the metadata-only
ones (ENV, LABEL, ARG, CMD, EXPOSE, ...) too (moby#23321); COPY and ADD excepted since Docker 17.07,
which copy into a bare layer (build_steps.py, ``classic_copy``). BuildKit runs no container for them. A
metadata instruction's cache key is its parent image and its text: it hits when this daemon committed the
same text on the same parent before (a hit costs nothing here: the cache probe); after a RUN reruns its
result is new, so every later instruction misses. The costs of a container are in ``StepRunner``
(build_steps.py, ``classic_container``)."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import simpy

from dsim.components.build_session import BuildSession, StepResult
from dsim.components.build_steps import StepRunner
from dsim.components.build_transfer import ContextTransfer
from dsim.components.errors import ApiError
from dsim.components.image_store import ImageStore
from dsim.components.pull import Puller
from dsim.domain.builds import MOUNT_NEEDS_BUILDKIT
from dsim.domain.images import ImageInfo

#: exports a build's final snapshot as an image (Builder's "exporting to image")
Export = Callable[[BuildSession, StepResult], Generator[Any, Any, ImageInfo]]


class ClassicBuild:
    """``DOCKER_BUILDKIT=0 docker build`` on one daemon (its cache: the daemon's classic build cache)."""

    def __init__(self, env: simpy.Environment, store: ImageStore, puller: Puller, transfer: ContextTransfer,
                 steps: StepRunner, export: Export) -> None:
        #: (parent result, instruction) of the metadata instructions committed on this daemon
        self.committed: set[tuple[str, str]] = set()
        self.env = env
        self.store = store
        self.puller = puller
        self.transfer = transfer
        self.steps = steps
        self.export = export

    def build(self, s: BuildSession) -> Generator[Any, Any, ImageInfo]:
        """Send the whole context ("Sending build context to Docker daemon"), then every stage up to the
        target in order, one step at a time; a base image is pulled as ``docker pull`` would."""
        spec = s.spec
        files = s.copy.included
        yield from self.transfer.send(s, spec.text_bytes + sum(files.values()),
                                      "Sending build context to Docker daemon", files=len(files) + 1,
                                      landed=sum(files.values()))
        s.context_ready = self.env.event()
        s.context_ready.succeed()
        results: dict[int, StepResult] = {}
        forced = spec.options.no_cache
        for index in spec.classic_stages:
            stage = spec.stages[index]
            if stage.base_stage is not None:
                base = StepResult(results[stage.base_stage].identity, results[stage.base_stage].layers)
            elif stage.base_image is not None:
                image = yield from self._classic_image(s, stage.base_image)
                base = StepResult(f"image {image.manifest_digest}", image.layers)
            else:
                base = StepResult("scratch", ())
            result = base
            for position, step in enumerate(stage.steps):
                yield from self._metadata(s, stage.metadata, position, result, forced)
                if step.from_image is not None and step.from_image not in s.images:
                    image = yield from self._classic_image(s, step.from_image)
                    s.images[step.from_image] = self.env.event()
                    s.images[step.from_image].succeed(image)
                for dep in step.from_stages:
                    s.stage_done[dep] = self.env.event()
                    s.stage_done[dep].succeed(results[dep])
                if step.mounts:  # reached only through `dsim serve` (a scenario's check refuses it before time 0)
                    raise ApiError(400, MOUNT_NEEDS_BUILDKIT)
                result = yield from self.steps.step(s, step, result)
            yield from self._metadata(s, stage.metadata, len(stage.steps), result, forced)
            results[index] = result
        image = yield from self.export(s, results[spec.target])
        return image

    def _metadata(self, s: BuildSession, metadata: tuple[tuple[int, str], ...], position: int, parent: StepResult,
                  forced: bool) -> Generator[Any, Any, None]:
        """The metadata instructions before build step ``position``: each that misses (a new parent, a new
        text, or ``no_cache``) is a container created and committed; after a miss the rest of the run miss."""
        for at, text in metadata:
            if at != position:
                continue
            key = (parent.identity, text)
            if forced or key not in self.committed:
                forced = True  # the committed image is new: what follows it on this parent misses too
                self.committed.add(key)
                yield from self.steps.classic_container(s, parent)

    def _classic_image(self, s: BuildSession, ref: str) -> Generator[Any, Any, ImageInfo]:
        """The legacy builder uses a local image as is and pulls one it lacks, as ``docker pull`` does."""
        local = self.store.image(ref)
        if local is not None:
            return local
        yield from self.puller.pull(ref, job=s.job)
        return self.store.image(ref) or self.puller.image(ref)
