"""The legacy builder: the whole context sent first, then every stage up to the target in order, one
step at a time, base images pulled as ``docker pull`` does.

Every instruction that misses the cache is a container (moby ``builder/dockerfile``: ``probeAndCreate``,
then ``commitContainer``): created, for RUN run, committed as an image and removed, the metadata-only
ones (ENV, LABEL, ARG, CMD, EXPOSE, ...) too (moby#23321). BuildKit runs no container for them. A hit costs
nothing here (the cache probe); after the first miss of a stage's chain every later instruction misses.
The costs of a build step's container are in ``StepRunner`` (build_steps.py, ``classic_container``)."""

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
                                      "Sending build context to Docker daemon", files=len(files) + 1)
        s.context_ready = self.env.event()
        s.context_ready.succeed()
        results: dict[int, StepResult] = {}
        missed: dict[int, bool] = {}  # per stage: did an instruction of its chain miss the cache
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
            miss = forced or (stage.base_stage is not None and missed[stage.base_stage])
            for position, step in enumerate(stage.steps):
                if miss:
                    yield from self._metadata(s, stage.metadata_at.count(position))
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
                miss = miss or s.done[-1].how in ("miss", "no-cache")
            if miss:
                yield from self._metadata(s, stage.metadata_at.count(len(stage.steps)))
            results[index] = result
            missed[index] = miss
        image = yield from self.export(s, results[spec.target])
        return image

    def _metadata(self, s: BuildSession, count: int) -> Generator[Any, Any, None]:
        """``count`` metadata-only instructions after a miss: each one a container created and committed."""
        for _ in range(count):
            yield from self.steps.classic_container(s, 0.0)

    def _classic_image(self, s: BuildSession, ref: str) -> Generator[Any, Any, ImageInfo]:
        """The legacy builder uses a local image as is and pulls one it lacks, as ``docker pull`` does."""
        local = self.store.image(ref)
        if local is not None:
            return local
        yield from self.puller.pull(ref, job=s.job)
        return self.store.image(ref) or self.puller.image(ref)
