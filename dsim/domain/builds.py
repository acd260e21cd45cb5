"""Build steps planned before time 0: each ``build`` step's stages and layer-making steps with the operation
text their cache keys digest (made by dsim/scenarios/builds.py from dsim.dockerfile's plan), the options
the builder honours, and the build contexts on the client."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from dsim.distributions import Distribution

#: dockerd's legacy builder on a RUN with --mount, since Docker 20.10.6 (moby/moby#42197; before, it ignored
#: the flag): the build stops at that step
MOUNT_NEEDS_BUILDKIT = ("the --mount option requires BuildKit. Refer to https://docs.docker.com/go/buildkit/ to "
                        "learn how to build images with BuildKit enabled")


def op_digest_text(parts: object) -> str:
    """A canonical text of an operation's parts, for hashing into a cache key."""
    return json.dumps(parts, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class BuildContext:
    """A build context on the client: files (path -> bytes) and the ``.dockerignore`` lines the CLI applies."""

    files: Mapping[str, float]
    dockerignore: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ColdWarm:
    """A RUN's duration by the state of its cache mounts: ``cold`` when one is empty, ``warm`` when every
    one holds an earlier RUN's files (scenario format: ``{cold: D, warm: D}``)."""

    cold: Distribution
    warm: Distribution


#: a RUN's duration: one distribution, or cold/warm by its cache mounts' state
RunTime = Distribution | ColdWarm


@dataclass(frozen=True, slots=True)
class CacheExport:
    """``--cache-to type=registry,ref=REF,mode=MODE``."""

    ref: str
    mode: str  # min | max


@dataclass(frozen=True, slots=True)
class BuildOptions:
    """What ``docker build`` is asked for, and the model's costs of its steps (regex -> value mappings are
    searched in an instruction's text, first match wins)."""

    builder: str  # buildkit | classic
    context: str | None
    context_from: str | None
    tag: str | None
    run_times: Mapping[str, RunTime]
    default_run_time: RunTime
    run_cpus: float
    layer_sizes: Mapping[str, Distribution]
    default_layer_size: Distribution
    no_cache: bool
    no_cache_filter: tuple[str, ...]
    cache_from: tuple[str, ...]
    cache_to: CacheExport | None
    max_parallelism: int | None


@dataclass(frozen=True, slots=True)
class CacheMountSpec:
    """One ``RUN --mount=type=cache``: the cache directory's identity on the builder (``id``, defaulting to the
    target; with ``from=`` BuildKit keys it on the source too) and its ``sharing`` mode."""

    key: str
    sharing: str = "shared"  # shared | private | locked


@dataclass(frozen=True, slots=True)
class StepSpec:
    """One layer-making instruction of a stage."""

    stage: int
    stage_name: str
    position: int
    instruction: str  # RUN | COPY | ADD | WORKDIR
    text: str  # as written (continuations joined): spans, run_times and layer_sizes patterns see this
    line: int
    op: str  # the operation as its cache key digests it (command with env/user/cwd, or dest and flags)
    sources: tuple[str, ...] = ()  # context paths it reads (COPY/ADD, RUN --mount=type=bind)
    from_stages: tuple[int, ...] = ()  # COPY --from=<stage>, RUN --mount=...,from=<stage>
    from_image: str | None = None  # COPY --from=<image> (normalised reference)
    url: bool = False  # ADD <url>
    cache_mounts: tuple[CacheMountSpec, ...] = ()  # RUN --mount=type=cache, as written (one per id)
    mounts: int = 0  # RUN --mount flags of any type (the legacy builder refuses them)

    @property
    def uses_context(self) -> bool:
        return bool(self.sources)


@dataclass(frozen=True, slots=True)
class StageSpec:
    index: int
    name: str  # its AS name, else its index
    base_image: str | None  # normalised reference; None for scratch or a stage
    base_stage: int | None
    steps: tuple[StepSpec, ...]
    line: int = 0
    #: the metadata-only instructions (ENV, LABEL, ARG, CMD, ...) as (build steps before it, its text): the
    #: legacy builder creates and commits a container for each of them too (build_classic.py)
    metadata: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True)
class BuildSpec:
    """Everything one ``build`` step needs at run time."""

    dockerfile: str  # as shown in messages: the path as written, or '<inline>'
    text_bytes: int
    stages: tuple[StageSpec, ...]
    target: int
    needed: tuple[int, ...]  # BuildKit: the stages the target needs, dependencies first
    options: BuildOptions
    context_paths: tuple[str, ...]  # BuildKit's FollowPaths: every context source of the needed stages

    @property
    def classic_stages(self) -> tuple[int, ...]:
        """The legacy builder builds every stage up to the target, in order."""
        return tuple(range(self.target + 1))

    def base_images(self, stages: tuple[int, ...]) -> list[str]:
        refs: list[str] = []
        for index in stages:
            stage = self.stages[index]
            for ref in (stage.base_image, *(step.from_image for step in stage.steps)):
                if ref is not None and ref not in refs:
                    refs.append(ref)
        return refs
