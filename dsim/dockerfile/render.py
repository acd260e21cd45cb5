"""Human-readable and JSON views of a :class:`~dsim.dockerfile.plan_types.BuildPlan` (``dsim dockerfile plan``).

Both views use one vocabulary: an *instruction* is any line of the Dockerfile; a *build step* is an instruction
that creates a filesystem layer (RUN, COPY, ADD, WORKDIR other than "/"). Counts called "build steps" count only
those, as everywhere else in dsim.
"""

from __future__ import annotations

from typing import Any

from dsim.dockerfile.plan_types import BuildPlan, Mount, Stage, Step

__all__ = ["plan_to_json", "render_plan"]

_TEXT_WIDTH = 100


def _one_line(text: str, width: int = _TEXT_WIDTH) -> str:
    """The first line of ``text``, shortened to ``width``; heredoc bodies and long commands stay readable."""
    lines = text.splitlines() or [""]
    first = " ".join(lines[0].split())
    more = len(lines) > 1
    if len(first) > width:
        first, more = first[: width - 1].rstrip(), True
    return first + (" …" if more else "")


def render_plan(plan: BuildPlan) -> str:
    """The plan as text: header, global ARGs, then each stage with its instructions, marking build steps."""
    needed = set(plan.needed)
    order = {stage_index: position for position, stage_index in enumerate(plan.needed)}
    out: list[str] = []
    header = f"Dockerfile {plan.filename}"
    extras = [f"platform {plan.platform}"]
    if plan.syntax:
        extras.append(f"syntax {plan.syntax}")
    if plan.escape != "\\":
        extras.append(f"escape {plan.escape}")
    out.append(f"{header} ({', '.join(extras)})")
    target = plan.stages[plan.target_index]
    built = ", ".join(plan.stages[i].ref for i in plan.needed)
    out.append(f"Target: stage {target.ref} (index {target.index}); BuildKit builds {len(plan.needed)} of "
               f"{len(plan.stages)} stages, in this order: {built}")
    out.append(f"Build steps (layer-making: RUN, COPY, ADD, WORKDIR other than /): {plan.build_step_count()} in the "
               f"stages built, {plan.build_step_count(range(len(plan.stages)))} in the whole file")
    if plan.args_before_from:
        shown = ", ".join(a.name if a.value is None else f"{a.name}={a.value}" for a in plan.args_before_from)
        out.append(f"ARGs before the first FROM: {shown}")
    if plan.build_args:
        out.append("Build args: " + ", ".join(f"{k}={v}" for k, v in plan.build_args))
    for stage in plan.stages:
        out.append("")
        out.extend(_render_stage(stage, stage.index in needed, order.get(stage.index)))
    for warning in plan.warnings:
        out.append(f"warning: {warning}")
    return "\n".join(out) + "\n"


def _render_stage(stage: Stage, needed: bool, position: int | None) -> list[str]:
    status = f"built #{position + 1}" if needed and position is not None else "not needed for the target"
    if stage.base_is_stage:
        base = f"stage {stage.base}"
    elif stage.base.lower() == "scratch":
        base = "scratch (empty)"
    else:
        base = f"image {stage.base}"
    count = len(stage.build_steps)
    lines = [f"Stage {stage.index} {stage.name or '(unnamed)'}: FROM {base}"
             + (f" --platform={stage.platform}" if stage.platform else "")
             + f"  [line {stage.line}; {count} build step{'' if count == 1 else 's'}; {status}]"]
    if stage.depends_on:
        lines.append(f"  needs stages: {', '.join(stage.depends_on)}")
    if stage.onbuild:
        lines.append(f"  ONBUILD triggers for stages built on it: {len(stage.onbuild)}")
    if not stage.steps:
        lines.append("  (no instructions)")
        return lines
    lines.append(f"  {'#':>3} {'line':>5}  {'instruction':<11} {'layer':<6} {'needs':<14} text")
    for step in stage.steps:
        layer = f"step {step.build_step}" if step.build_step is not None else "-"
        needs = ",".join(step.depends_on) or "-"
        prefix = f"(ONBUILD of {step.onbuild_from}) " if step.onbuild_from else ""
        lines.append(f"  {step.index:>3} {step.line:>5}  {step.instruction:<11} {layer:<6} {needs:<14} "
                     f"{prefix}{_one_line(step.text)}")
    return lines


def _mount_json(mount: Mount) -> dict[str, Any]:
    return {
        "type": mount.type,
        "target": mount.target,
        "source": mount.source,
        "from": mount.from_stage,
        "from_is_stage": mount.from_is_stage,
        "id": mount.id,
        "readonly": mount.readonly,
        "options": [[k, v] for k, v in mount.options],
    }


def _step_json(step: Step) -> dict[str, Any]:
    """Common keys first, then the keys of the instruction's kind; the key order is fixed per kind."""
    out: dict[str, Any] = {
        "index": step.index,
        "line": step.line,
        "end_line": step.end_line,
        "instruction": step.instruction,
        "creates_layer": step.creates_layer,
        "build_step": step.build_step,
        "text": step.text,
        "flags": list(step.flags),
        "depends_on": list(step.depends_on),
        "args_used": list(step.args_used),
        "onbuild_from": step.onbuild_from,
        "workdir": step.workdir,
    }
    if step.instruction in ("COPY", "ADD"):
        out.update({
            "sources": list(step.sources),
            "dest": step.dest,
            "from": step.from_stage,
            "from_is_stage": step.from_is_stage,
            "chown": step.chown,
            "chmod": step.chmod,
            "link": step.link,
            "heredoc": step.heredoc,
        })
    elif step.instruction == "RUN":
        out.update({
            "command": step.command,
            "exec_form": step.exec_form,
            "heredoc": step.heredoc,
            "mounts": [_mount_json(m) for m in step.mounts],
            "network": step.network,
            "security": step.security,
        })
    elif step.instruction == "ARG":
        out.update({"args_defined": list(step.args_defined), "values": [[k, v] for k, v in step.pairs]})
    elif step.instruction in ("ENV", "LABEL"):
        out.update({"pairs": [[k, v] for k, v in step.pairs]})
    elif step.instruction != "WORKDIR":
        out.update({"words": list(step.words)})
    return out


def plan_to_json(plan: BuildPlan) -> dict[str, Any]:
    """The plan as JSON-serialisable data with a stable key order (for ``dsim dockerfile plan --json``)."""
    return {
        "file": plan.filename,
        "syntax": plan.syntax,
        "escape": plan.escape,
        "platform": plan.platform,
        "target": plan.target,
        "target_index": plan.target_index,
        "needed_stages": list(plan.needed),
        "build_steps": plan.build_step_count(),
        "build_steps_all_stages": plan.build_step_count(range(len(plan.stages))),
        "build_args": {k: v for k, v in plan.build_args},
        "args_before_from": [
            {"name": a.name, "default": a.default, "value": a.value, "line": a.line} for a in plan.args_before_from
        ],
        "stages": [
            {
                "index": s.index,
                "name": s.name,
                "ref": s.ref,
                "line": s.line,
                "text": s.text,
                "base": s.base,
                "base_is_stage": s.base_is_stage,
                "platform": s.platform,
                "needed": s.index in plan.needed,
                "depends_on": list(s.depends_on),
                "from_args_used": list(s.from_args_used),
                "onbuild": list(s.onbuild),
                "build_steps": len(s.build_steps),
                "steps": [_step_json(step) for step in s.steps],
            }
            for s in plan.stages
        ],
        "warnings": list(plan.warnings),
    }
