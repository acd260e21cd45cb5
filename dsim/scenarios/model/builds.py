"""``docker build`` steps: the Dockerfile, context, run times and layer sizes, cache import and export."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import BeforeValidator, Discriminator, Field, Tag, model_validator

from dsim.distributions import constant
from dsim.scenarios.fields import FiniteDurationDist, FiniteSize, FiniteSizeDist
from dsim.scenarios.model.base import PositiveInt, Strict


def _regex_keys(value: Mapping[str, object], field: str) -> None:
    for pattern in value:
        try:
            re.compile(pattern)
        except re.error as err:
            raise ValueError(f"{field}: invalid regular expression {pattern!r}: {err}") from None


class BuildContextSpec(Strict):
    """A build context on the client: files (path -> bytes) and the ``.dockerignore`` the CLI applies."""

    files: dict[str, FiniteSize] = Field(default_factory=dict, description="path relative to the context root -> bytes")
    dockerignore: list[str] = Field(
        default_factory=list, description=".dockerignore lines (moby/patternmatcher: *, ?, **, ! re-includes)"
    )


class CacheTo(Strict):
    """``--cache-to type=registry,ref=REF,mode=MODE``: export the build's cache records to a registry."""

    ref: str = Field(description="the cache manifest's reference, e.g. local/app:buildcache")
    mode: Literal["min", "max"] = Field(
        "min", description="min (BuildKit's default): only the final image's layers; max: every step's layer"
    )


class CacheMountRunTime(Strict):
    """A RUN's duration by the state of its cache mounts (``RUN --mount=type=cache``): ``cold`` when a cache
    directory it mounts is empty (its id never used on this daemon, or a fresh ``sharing=private`` copy),
    ``warm`` when every one holds what an earlier RUN left there. A RUN without cache mounts is always cold."""

    cold: FiniteDurationDist = Field(
        description="on an idle host with an empty cache (a first build: everything fetched)")
    warm: FiniteDurationDist = Field(
        description="on an idle host when every cache mount is warm (an earlier RUN with that id finished on this "
        "daemon)",
    )


def _run_time_kind(value: object) -> str:
    """The union member's tag: its class name (so error paths name the field the user wrote)."""
    return "CacheMountRunTime" if isinstance(value, (dict, CacheMountRunTime)) else "Distribution"


#: a RUN's duration: a duration or distribution, or ``{cold: ..., warm: ...}`` by its cache mounts' state
RunTime = Annotated[
    Annotated[FiniteDurationDist, Tag("Distribution")] | Annotated[CacheMountRunTime, Tag("CacheMountRunTime")],
    Discriminator(_run_time_kind),
]


class BuildStep(Strict):
    """``docker build``: a Dockerfile (a path relative to the scenario file, or inline) over a context."""

    dockerfile: str | None = Field(None, description="path relative to the scenario file")
    dockerfile_text: str | None = Field(None, description="the Dockerfile inline")
    context: str | None = Field(None, description="a name under contexts:; omit for an empty context")
    context_from: str | None = Field(
        None, description="host where the context lives (the CLI talks to this job's daemon remotely); default the "
        "job's own host: a local transfer that costs no network time",
    )
    tag: str | None = Field(None, description="-t: the image reference; a first component naming a registry "
                                              "(local/app:1) places it in that registry for push")
    builder: Literal["buildkit", "classic"] = Field(
        "buildkit", description="buildkit (Docker's default since Engine 23.0) or the legacy builder"
    )
    target: str | None = Field(None, description="--target: the stage to build; default the last one")
    build_args: dict[str, Annotated[str, BeforeValidator(str)]] = Field(
        default_factory=dict, description="--build-arg NAME=VALUE"
    )
    run_times: dict[str, RunTime] = Field(
        default_factory=dict, description="regex searched in a RUN instruction's text -> its duration on an idle "
        "host (first match wins); or {cold: D, warm: D}: cold the first time, warm once its cache mounts "
        "(RUN --mount=type=cache) hold an earlier run's files",
    )
    default_run_time: RunTime = Field(
        constant(1.0), description="a RUN no run_times pattern matches (1s: a model default, not a Docker figure); "
        "also takes {cold: D, warm: D}"
    )
    run_cpus: float = Field(
        1.0, gt=0, allow_inf_nan=False, description="cores a RUN keeps busy (1: pip, apt-get, npm are mostly one "
        "process; raise it for parallel compiles); RUN steps share the host's CPUs with everything else running there",
    )
    layer_sizes: dict[str, FiniteSizeDist] = Field(
        default_factory=dict, description="regex searched in an instruction's text -> the layer's (uncompressed) "
        "bytes; COPY/ADD from the context always write the bytes they copy",
    )
    default_layer_size: FiniteSizeDist = Field(
        constant(0.0), description="a RUN (or COPY --from an image) no layer_sizes pattern matches (0B). A RUN of "
        "0 bytes changed no file: the legacy builder's image gets no layer for it, BuildKit's the 32-byte empty "
        "layer 4f4fb700 (docs/build.md)"
    )
    no_cache: bool = Field(False, description="--no-cache: every step runs")
    no_cache_filter: list[str] = Field(default_factory=list, description="--no-cache-filter: these stages run")
    cache_from: list[str] = Field(
        default_factory=list, description="--cache-from type=registry,ref=REF: import cache records from a registry"
    )
    cache_to: CacheTo | None = Field(None, description="--cache-to type=registry: export cache records")
    max_parallelism: PositiveInt | None = Field(
        None, description="steps this build executes at once (BuildKit's max-parallelism; dockerd sets none)"
    )

    @model_validator(mode="after")
    def _check(self) -> BuildStep:
        if (self.dockerfile is None) == (self.dockerfile_text is None):
            raise ValueError("a build has exactly one of dockerfile, dockerfile_text")
        _regex_keys(self.run_times, "run_times")
        _regex_keys(self.layer_sizes, "layer_sizes")
        if self.builder == "classic":
            unsupported = [name for name in ("no_cache_filter", "cache_from", "cache_to", "max_parallelism")
                           if getattr(self, name)]
            if unsupported:
                raise ValueError(f"{', '.join(unsupported)}: not supported by the classic builder (BuildKit only)")
        return self


class EditStep(Strict):
    """Change files of the job's copy of a build context: each gets new content (a new content digest)."""

    context: str
    files: list[str] = Field(min_length=1, description="paths in the context")
