"""One ``docker build`` in progress: what its steps produce and wait on, shared by the builder's parts."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import simpy

from dsim.components.build_cache import CacheRecord, RemoteRecord
from dsim.components.working_copy import WorkingCopy
from dsim.domain.builds import BuildSpec, StepSpec
from dsim.domain.images import ImageInfo, LayerInfo


@dataclass(frozen=True)
class StepResult:
    """A snapshot: what dependent keys digest (``identity``) and its layers, base image first."""

    identity: str
    layers: tuple[LayerInfo, ...]
    own_bytes: float = 0.0  # bytes this stage's own steps wrote (the default size of a COPY --from it)


@dataclass
class StepDone:
    """A step's outcome inside one build, for cache export."""

    step: StepSpec
    key: str
    result: StepResult
    how: str  # local | shared | remote | miss | no-cache


@dataclass
class BuildSession:
    """One build: its spec, the job, the events its steps wait on, where missing layers can come from."""

    spec: BuildSpec
    copy: WorkingCopy
    job: int
    client: str
    rng: random.Random
    builder: str
    stage_done: dict[int, simpy.Event] = field(default_factory=dict)
    images: dict[str, simpy.Event] = field(default_factory=dict)  # base ref -> event with its ImageInfo
    origins: dict[str, ImageInfo] = field(default_factory=dict)  # layer digest -> image to fetch it from
    imported: dict[str, tuple[RemoteRecord, ImageInfo]] = field(default_factory=dict)
    held: list[CacheRecord] = field(default_factory=list)
    done: list[StepDone] = field(default_factory=list)
    context_ready: simpy.Event | None = None
    imports_done: simpy.Event | None = None
    slots: simpy.Resource | None = None
    pin_ref: str = ""
    pins: list[ImageInfo] = field(default_factory=list)


class BuildFailed(Exception):
    """An error handed from one of a build's processes to whatever waits for it. SimPy re-creates a failed
    event's exception from its args for each waiter, so the original travels inside, intact."""

    @property
    def error(self) -> BaseException:
        inner: BaseException = self.args[0]
        return inner
