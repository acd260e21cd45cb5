"""Build plans: what BuildKit would build from a Dockerfile, stage by stage and step by step.

A plan is static: it needs no daemon and no registry. It applies BuildKit's rules for stages (``FROM ... AS``),
global ``ARG`` before the first ``FROM``, variable substitution, ``COPY --from``, ``RUN --mount``, heredocs and
``ONBUILD`` triggers of a stage used as a base, and marks which instructions create filesystem layers: RUN, COPY,
ADD, and WORKDIR other than ``/``. Only those are *build steps* in dsim's counts and charts; every other
instruction changes image metadata only.

What a static plan cannot know: the environment, working directory and ONBUILD triggers stored in an external base
image's config. Variables that such an image may define are therefore left as written (``$GOPATH``) instead of
being expanded to empty, a relative WORKDIR on such an image is taken relative to ``/``, and only triggers of stages
of the same file are run.

This module is the entry point (:func:`make_plan`); the pieces live in :mod:`~dsim.dockerfile.plan_types` (the
data), :mod:`~dsim.dockerfile.planner` (one instruction at a time), :mod:`~dsim.dockerfile.stage_graph` (which
stages, in what order) and the small modules they use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from dsim.dockerfile.grammar import KNOWN_INSTRUCTIONS, STAGE_NAME_RE
from dsim.dockerfile.instruction_text import trigger_text
from dsim.dockerfile.parse import Instruction, directives, parse_dockerfile
from dsim.dockerfile.plan_types import (
    DEFAULT_PLATFORM,
    LAYER_INSTRUCTIONS,
    ArgDef,
    BuildPlan,
    Mount,
    Stage,
    Step,
    platform_args,
)
from dsim.dockerfile.planner import Planner, unknown_instruction
from dsim.dockerfile.scope import StageDraft
from dsim.dockerfile.stage_graph import check_cycles, needed_stages
from dsim.errors import ScenarioError

__all__ = [
    "ArgDef",
    "BuildPlan",
    "DEFAULT_PLATFORM",
    "LAYER_INSTRUCTIONS",
    "Mount",
    "Stage",
    "Step",
    "make_plan",
    "needed_stages",
    "platform_args",
]


def make_plan(text: str, *, filename: str = "Dockerfile", build_args: Mapping[str, str] | None = None,
              target: str | None = None, platform: str = DEFAULT_PLATFORM) -> BuildPlan:
    """Plan a build of ``text`` for ``target`` (default: the last stage) with ``build_args`` and ``platform``.

    Raises :class:`ScenarioError` (file and line) for what BuildKit rejects before running anything: parse errors,
    unknown instructions or flags, a blank or invalid base image, bad substitutions, unknown targets, stage cycles.
    """
    instructions = parse_dockerfile(text, filename=filename)
    direct = directives(text)
    planner = Planner(filename, build_args or {}, platform, direct.escape)
    global_arg_ins, drafts = _split_stages(planner, instructions)

    planner.stage_refs = [d.ref for d in drafts]
    for d in drafts:
        if d.name is not None:
            if d.name in planner.names_final:
                planner.warnings.append(f"line {d.from_ins.start_line}: duplicate stage name {d.name!r}")
            planner.names_final[d.name] = d.index

    meta = platform_args(platform)
    args_before_from = planner.global_args(global_arg_ins, meta)
    _plan_stages(planner, drafts, meta)

    stages = tuple(_freeze(d) for d in drafts)
    target_index = _target_index(stages, target, filename)
    plan = BuildPlan(filename=filename, stages=stages, target=stages[target_index].ref, target_index=target_index,
                     needed=(), args_before_from=args_before_from, build_args=tuple(sorted(planner.build_args.items())),
                     platform=platform, escape=direct.escape, syntax=direct.syntax, warnings=tuple(planner.warnings))
    check_cycles(plan)
    return replace(plan, needed=tuple(needed_stages(plan, target_index)))


def _split_stages(planner: Planner, instructions: Sequence[Instruction]) -> tuple[list[Instruction],
                                                                                  list[StageDraft]]:
    """The global ARGs before the first FROM, and one draft per FROM holding the instructions up to the next."""
    global_arg_ins: list[Instruction] = []
    drafts: list[StageDraft] = []
    for ins in instructions:
        if ins.cmd == "FROM":
            drafts.append(StageDraft(len(drafts), _stage_name(planner, ins), ins))
        elif not drafts:
            if ins.cmd != "ARG":
                if ins.cmd not in KNOWN_INSTRUCTIONS:
                    raise planner.error(unknown_instruction(ins.cmd), ins.start_line)
                raise planner.error(f"{ins.cmd}: no build stage in current context (instructions other than ARG "
                                    "must follow a FROM)", ins.start_line)
            global_arg_ins.append(ins)
        else:
            drafts[-1].body.append(ins)
    if not drafts:
        raise planner.error("dockerfile contains no stages to build (no FROM)", instructions[-1].start_line)
    return global_arg_ins, drafts


def _plan_stages(planner: Planner, drafts: Sequence[StageDraft], meta: Mapping[str, str]) -> None:
    """Plan every stage in file order: a FROM sees only the stage names defined before it."""
    names_so_far: dict[str, int] = {}
    for d in drafts:
        planner.from_line(d, meta, names_so_far)
        if d.name is not None:
            names_so_far[d.name] = d.index
        scope = planner.stage_scope(d, drafts)
        planner.trigger_steps(d, drafts, scope, meta)
        for ins in d.body:
            d.steps.append(planner.step(d, ins, scope, meta))
        d.scope = scope


def _stage_name(planner: Planner, ins: Instruction) -> str | None:
    """The ``AS name`` of a FROM (lower-cased, as BuildKit stores it), validated."""
    if len(ins.value) == 3 and ins.value[1].lower() == "as":
        name = ins.value[2].lower()
        if not STAGE_NAME_RE.match(name):
            raise planner.error(f"invalid name for build stage: {ins.value[2]!r}, name can't start with a number or "
                                "contain symbols", ins.start_line)
        return name
    if len(ins.value) != 1:
        raise planner.error("FROM requires either one or three arguments", ins.start_line)
    return None


def _target_index(stages: Sequence[Stage], target: str | None, filename: str) -> int:
    """The last stage by default, else the last stage named ``target`` (case-insensitive)."""
    if target is None:
        return len(stages) - 1
    target_index = -1
    for s in stages:
        if s.name is not None and s.name == target.lower():
            target_index = s.index
    if target_index < 0:
        names = ", ".join(s.name for s in stages if s.name) or "none"
        raise ScenarioError(f"target stage {target!r} could not be found (stages: {names})", file=filename)
    return target_index


def _freeze(d: StageDraft) -> Stage:
    """Number the build steps and collect the stage's dependencies."""
    steps: list[Step] = []
    ordinal = 0
    for s in d.steps:
        number = None
        if s.creates_layer:
            ordinal += 1
            number = ordinal
        steps.append(replace(s, build_step=number))
    deps: list[str] = []
    if d.base_stage is not None:
        deps.append(d.base if d.base else str(d.base_stage))
    for s in steps:
        deps.extend(s.depends_on)
    return Stage(index=d.index, name=d.name, base=d.base, base_is_stage=d.base_stage is not None,
                 base_stage=d.base_stage, platform=d.platform, line=d.from_ins.start_line, text=d.text,
                 steps=tuple(steps), onbuild=tuple(trigger_text(t) for t in d.triggers),
                 from_args_used=d.from_args_used, depends_on=tuple(dict.fromkeys(deps)))
