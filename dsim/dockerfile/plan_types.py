"""The frozen data of a build plan: ARGs, mounts, steps, stages and the plan itself.

Only data and lookups live here, so that the planner, the stage graph and the views of a plan
(:mod:`dsim.dockerfile.render`, :mod:`dsim.scenarios.builds`) can share them without importing one another.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from dsim.errors import ScenarioError

__all__ = [
    "ArgDef",
    "BuildPlan",
    "DEFAULT_PLATFORM",
    "LAYER_INSTRUCTIONS",
    "Mount",
    "Stage",
    "Step",
    "platform_args",
    "stage_index",
]

#: The platform BuildKit builds for when none is asked for (a linux/amd64 daemon).
DEFAULT_PLATFORM = "linux/amd64"
#: Instructions that always create a filesystem layer; WORKDIR does too unless its path resolves to "/".
LAYER_INSTRUCTIONS = frozenset({"RUN", "COPY", "ADD"})


@dataclass(frozen=True)
class ArgDef:
    """One ARG: its default as written and the value BuildKit uses (``None``: declared but unset)."""

    name: str
    default: str | None
    value: str | None
    line: int


@dataclass(frozen=True)
class Mount:
    """One ``RUN --mount``: type, target, source, and the stage or image it mounts from (``from=``)."""

    type: str
    target: str | None
    source: str | None
    from_stage: str | None
    from_is_stage: bool
    id: str | None
    readonly: bool
    options: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Step:
    """One instruction of a stage after substitution.

    ``creates_layer`` marks the build steps (RUN, COPY, ADD, WORKDIR other than "/"); ``build_step`` is its 1-based
    number among them in the stage. ``args_used`` lists the ARGs the step uses in BuildKit's cache sense: the ones
    its substitutions read and, for RUN, every ARG in scope (they are in the command's environment).
    ``depends_on`` names the stages (by :attr:`Stage.ref`) the step reads from: ``COPY --from`` and
    ``RUN --mount from=``. ``onbuild_from`` is set when the step is an ONBUILD trigger of the base stage.
    ``workdir`` is the working directory the step runs in (for WORKDIR: the directory it sets), which RUN's cache
    key and COPY's relative destinations depend on.
    """

    stage: int
    index: int
    instruction: str
    text: str
    creates_layer: bool
    line: int
    end_line: int
    build_step: int | None = None
    flags: tuple[str, ...] = ()
    words: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    dest: str | None = None
    from_stage: str | None = None
    from_is_stage: bool = False
    chown: str | None = None
    chmod: str | None = None
    link: bool = False
    command: str | None = None
    exec_form: bool = False
    mounts: tuple[Mount, ...] = ()
    network: str | None = None
    security: str | None = None
    heredoc: bool = False
    heredocs: tuple[tuple[str, str], ...] = ()
    pairs: tuple[tuple[str, str | None], ...] = ()
    args_defined: tuple[str, ...] = ()
    args_used: tuple[str, ...] = ()
    workdir: str | None = None
    depends_on: tuple[str, ...] = ()
    onbuild_from: str | None = None


@dataclass(frozen=True)
class Stage:
    """One ``FROM`` and its steps. ``base`` is the image reference after substitution or another stage's name."""

    index: int
    name: str | None
    base: str
    base_is_stage: bool
    base_stage: int | None
    platform: str | None
    line: int
    text: str
    steps: tuple[Step, ...]
    onbuild: tuple[str, ...] = ()
    from_args_used: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        """How other instructions refer to the stage: its name, or its index when it has none."""
        return self.name if self.name is not None else str(self.index)

    @property
    def build_steps(self) -> tuple[Step, ...]:
        """The layer-making steps of the stage (RUN, COPY, ADD, WORKDIR other than "/")."""
        return tuple(s for s in self.steps if s.creates_layer)


@dataclass(frozen=True)
class BuildPlan:
    """A whole Dockerfile as BuildKit would build it for ``target`` (default: the last stage)."""

    filename: str
    stages: tuple[Stage, ...]
    target: str
    target_index: int
    needed: tuple[int, ...]
    args_before_from: tuple[ArgDef, ...]
    build_args: tuple[tuple[str, str], ...] = ()
    platform: str = DEFAULT_PLATFORM
    escape: str = "\\"
    syntax: str | None = None
    warnings: tuple[str, ...] = ()

    def stage(self, ref: str | int) -> Stage:
        """The stage named ``ref`` (case-insensitive) or with index ``ref``."""
        return self.stages[stage_index(self, ref)]

    def build_step_count(self, stages: Iterable[int] | None = None) -> int:
        """Layer-making steps in ``stages`` (default: the stages BuildKit builds for the target)."""
        chosen = self.needed if stages is None else tuple(stages)
        return sum(len(self.stages[i].build_steps) for i in chosen)


def platform_args(platform: str = DEFAULT_PLATFORM, build_platform: str | None = None) -> dict[str, str]:
    """BuildKit's automatic platform ARGs, defined in the global scope (usable in FROM without declaring them)."""
    out: dict[str, str] = {}
    for prefix, value in (("BUILD", build_platform or platform), ("TARGET", platform)):
        parts = value.split("/")
        out[prefix + "PLATFORM"] = value
        out[prefix + "OS"] = parts[0]
        out[prefix + "ARCH"] = parts[1] if len(parts) > 1 else ""
        out[prefix + "VARIANT"] = parts[2] if len(parts) > 2 else ""
    return out


def stage_index(plan: BuildPlan, ref: str | int) -> int:
    """The index of the stage ``ref`` names: the last stage of that name (as ``--from`` resolves), else an index."""
    if isinstance(ref, int):
        if 0 <= ref < len(plan.stages):
            return ref
        raise ScenarioError(f"invalid stage index {ref}", file=plan.filename)
    index: int | None = None
    for stage in plan.stages:
        if stage.name is not None and stage.name == ref.lower():
            index = stage.index
    if index is None and ref.isdigit() and int(ref) < len(plan.stages):
        index = int(ref)
    if index is None:
        names = ", ".join(s.name for s in plan.stages if s.name) or "none"
        raise ScenarioError(f"target stage {ref!r} could not be found (stages: {names})", file=plan.filename)
    return index
