"""Build steps resolved before time 0: each ``build`` step's Dockerfile read (relative to the scenario
file) and planned by ``dsim.dockerfile``, its stages, layer-making steps, context sources and base images
checked, and everything the builder needs at run time frozen into a BuildSpec.

Only layer-making instructions (RUN, COPY, ADD, WORKDIR other than ``/``) are build steps; metadata
instructions (ENV, ARG, USER, SHELL, ...) still shape the cache keys of the RUN steps after them, as
BuildKit's ExecOp digest covers the command, its environment, working directory and user.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from dsim.dockerfile.plan import BuildPlan, make_plan
from dsim.dockerfile.plan import Step as PlanStep
from dsim.dockerfile.read import UnreadableDockerfile, read_dockerfile
from dsim.domain.build_context import included, match_source, not_found_message
from dsim.domain.builds import (
    MOUNT_NEEDS_BUILDKIT,
    BuildOptions,
    BuildSpec,
    CacheMountSpec,
    StageSpec,
    StepSpec,
    op_digest_text,
)
from dsim.domain.problems import FieldPath, ReferenceProblem
from dsim.domain.refs import HUB, normalise
from dsim.errors import ScenarioError
from dsim.scenarios.model import BuildContextSpec, BuildStep, Scenario
from dsim.scenarios.problems import dotted
from dsim.scenarios.problems import unknown as unknown_name
from dsim.scenarios.to_domain import build_options


def check_sources(spec: BuildSpec, context: BuildContextSpec | None, path: FieldPath) -> None:
    """Every context source of the stages a build runs must select at least one file after .dockerignore;
    BuildKit fails the build otherwise. Checked before time 0 (edits change content, never the file list)."""
    files = included(context.files, context.dockerignore) if context is not None else {}
    stages = spec.needed if spec.options.builder == "buildkit" else spec.classic_stages
    for index in stages:
        for step in spec.stages[index].steps:
            for source in step.sources:
                if not match_source(source, files):
                    raise ReferenceProblem(path, f"{spec.dockerfile}:{step.line}: {step.instruction}: "
                                                 f"{not_found_message(source)}")


def check_classic(spec: BuildSpec, path: FieldPath) -> None:
    """The legacy builder refuses ``RUN --mount`` in the stages it builds (every stage up to the target)."""
    if spec.options.builder != "classic":
        return
    for index in spec.classic_stages:
        for step in spec.stages[index].steps:
            if step.mounts:
                raise ReferenceProblem((*path, "builder"),
                                       f"{spec.dockerfile}:{step.line}: {step.instruction}: {MOUNT_NEEDS_BUILDKIT}")


def inside_folder(written: str, base_dir: Path | None, path: FieldPath) -> Path:
    """The file a scenario's path names, relative to the scenario's folder (inline text: the working
    directory), symlinks resolved; a path leading outside that folder is refused before anything is read."""
    folder = (base_dir if base_dir is not None else Path.cwd()).resolve()
    full = Path(os.path.normpath(folder / written))  # an absolute ``written`` replaces ``folder``
    try:
        real = full.resolve()
    except (OSError, RuntimeError):  # a symlink loop
        raise ReferenceProblem(path, f"cannot resolve '{written}'") from None
    if not real.is_relative_to(folder):
        raise ReferenceProblem(path, f"'{written}' is outside the scenario's folder ({folder}); a scenario reads "
                                     "files only from its own folder and below")
    return full


def dockerfile_text(step: BuildStep, base_dir: Path | None, path: FieldPath) -> tuple[str, str]:
    """(display name, text) of a build step's Dockerfile; a path is relative to the scenario file and must
    stay inside its folder (dsim.dockerfile.read checks the file itself: regular, at most 1 MiB, UTF-8)."""
    if step.dockerfile_text is not None:
        return "<inline Dockerfile>", step.dockerfile_text
    assert step.dockerfile is not None
    field = (*path, "dockerfile")
    written = Path(step.dockerfile)
    full = inside_folder(step.dockerfile, base_dir, field)
    shown = written if written.is_absolute() or base_dir is None else base_dir / written
    try:
        return str(shown), read_dockerfile(full)
    except UnreadableDockerfile as err:
        raise ReferenceProblem(field, f"cannot read Dockerfile '{shown}': {err.message}") from None


def context_spec(scenario: Scenario, name: str | None) -> BuildContextSpec | None:
    return None if name is None else scenario.contexts.get(name)


# ---------------------------------------------------------------- from a BuildPlan to a BuildSpec

_URL = re.compile(r"^(https?://|git@|git://)")


def _is_heredoc_word(word: str, heredocs: tuple[tuple[str, str], ...]) -> bool:
    names = {name for name, _ in heredocs}
    match = re.match(r"^<<-?(['\"]?)([^'\"]+)\1$", word)
    return match is not None and match.group(2) in names


def spec_from_plan(plan: BuildPlan, options: BuildOptions, dockerfile: str, text_bytes: int) -> BuildSpec:
    """Freeze a plan into what the builder runs: per stage its base and its layer-making steps, each with the
    operation text its cache key digests. A RUN's operation covers what BuildKit's ExecOp digest covers:
    the command, its environment (every ENV, and every ARG in scope: the miss of a changed ARG happens at
    the first RUN after it), working directory, user, shell, mounts and network mode."""
    refs = {stage.ref: stage.index for stage in plan.stages}
    ends: dict[int, tuple[dict[str, str], str, tuple[str, ...], str]] = {}
    stages: list[StageSpec] = []
    for stage in plan.stages:
        if stage.base_stage is not None:
            env, user, shell, cwd = ends[stage.base_stage]
            env = dict(env)
        else:
            env, user, shell, cwd = {}, "", ("/bin/sh", "-c"), "/"
        base_image = None
        if stage.base_stage is None and stage.base.lower() != "scratch":
            base_image = normalise(stage.base)
        steps: list[StepSpec] = []
        metadata: list[tuple[int, str]] = []
        for step in stage.steps:
            if step.instruction == "ENV":
                env.update({key: value or "" for key, value in step.pairs})
            elif step.instruction == "ARG":
                env.update({name: value for name, value in step.pairs if value is not None})
            elif step.instruction == "USER" and step.words:
                user = step.words[0]
            elif step.instruction == "SHELL" and step.words:
                shell = tuple(step.words)
            elif step.instruction == "WORKDIR" and step.workdir is not None:
                cwd = step.workdir
            if not step.creates_layer:
                metadata.append((len(steps), step.text))
                continue
            steps.append(_step_spec(stage.index, stage.ref, len(steps), step, refs, env, user, shell, cwd))
        ends[stage.index] = (env, user, shell, cwd)
        stages.append(StageSpec(stage.index, stage.ref, base_image, stage.base_stage, tuple(steps), stage.line,
                                tuple(metadata)))
    paths: dict[str, None] = {}
    for index in plan.needed:
        for spec_step in stages[index].steps:
            paths.update(dict.fromkeys(spec_step.sources))
    return BuildSpec(dockerfile, text_bytes, tuple(stages), plan.target_index, tuple(plan.needed), options,
                     tuple(paths))


def _step_spec(stage: int, stage_ref: str, position: int, step: PlanStep, refs: dict[str, int],
               env: dict[str, str], user: str, shell: tuple[str, ...], cwd: str) -> StepSpec:
    from_stages: list[int] = []
    from_image: str | None = None
    sources: list[str] = []
    cache_mounts: list[CacheMountSpec] = []
    url = False
    if step.instruction in ("COPY", "ADD"):
        if step.from_stage is not None and step.from_is_stage:
            from_stages.append(refs[step.from_stage])
        elif step.from_stage is not None:
            from_image = normalise(step.from_stage)
        else:
            for word in step.sources:
                if _is_heredoc_word(word, step.heredocs):
                    continue
                if step.instruction == "ADD" and _URL.match(word):
                    url = True
                    continue
                sources.append(word)
        op = op_digest_text([step.instruction, step.dest, cwd, step.chown, step.chmod, step.link,
                             list(step.sources), step.from_stage, list(step.heredocs)])
    elif step.instruction == "RUN":
        mounts = []
        for mount in step.mounts:
            mounts.append([mount.type, mount.target, mount.source, mount.from_stage, mount.id])
            if mount.type == "cache" and mount.id is not None:
                key = mount.id if mount.from_stage is None else f"{mount.id}:{mount.from_stage}"
                sharing = dict(mount.options).get("sharing", "shared").lower()
                if key not in {m.key for m in cache_mounts}:
                    cache_mounts.append(CacheMountSpec(key, sharing))
            if mount.type != "bind":
                continue
            if mount.from_stage is not None and mount.from_is_stage:
                from_stages.append(refs[mount.from_stage])
            elif mount.from_stage is not None:
                from_image = from_image or normalise(mount.from_stage)
            else:
                sources.append(mount.source or ".")
        op = op_digest_text(["RUN", step.command, step.exec_form, list(shell), sorted(env.items()), cwd,
                             user, mounts, step.network, step.security])
    else:
        op = op_digest_text([step.instruction, cwd])
    return StepSpec(stage, stage_ref, position, step.instruction, step.text, step.line, op, tuple(sources),
                    tuple(dict.fromkeys(from_stages)), from_image, url, tuple(cache_mounts), len(step.mounts))


# ---------------------------------------------------------------- before time 0

@dataclass(frozen=True)
class ResolvedBuilds:
    """Every build step of a scenario, planned; the images they name; the tags they produce."""

    specs: dict[tuple[str, int], BuildSpec]
    images: dict[str, FieldPath]  # base and COPY --from images -> where first named
    tags: frozenset[str]  # normalised tags of built images: pull/run/FROM of these resolve at run time
    registries: set[str]  # registries cache refs need (Docker Hub when a ref names no scenario registry)

    def used_images(self, used: dict[str, FieldPath], scenario: Scenario) -> dict[str, FieldPath]:
        """The images to resolve before time 0: those steps name and builds start from, except images
        this scenario builds (unless also declared under images:): those exist once built."""
        declared = {normalise(ref) for ref in scenario.images}
        out = {ref: path for ref, path in used.items() if ref not in self.tags or ref in declared}
        for ref, path in self.images.items():
            if ref not in self.tags or ref in declared:
                out.setdefault(ref, path)
        return out


def resolve_builds(scenario: Scenario, base_dir: Path | None, hosts: Iterable[str]) -> ResolvedBuilds:
    """Read and plan every build step's Dockerfile; check contexts, hosts, stages and COPY sources.

    A Dockerfile error is a ScenarioError naming the Dockerfile and its line (and the step's field)."""
    host_names = set(hosts)
    specs: dict[tuple[str, int], BuildSpec] = {}
    images: dict[str, FieldPath] = {}
    tags: set[str] = set()
    for name, workload in scenario.workloads.items():
        for i, step in enumerate(workload.steps):
            path: FieldPath = ("workloads", name, "steps", i, step.kind)
            if step.edit is not None:
                context = scenario.contexts.get(step.edit.context)
                if context is None:
                    raise ReferenceProblem((*path, "context"),
                                           unknown_name("context", step.edit.context, scenario.contexts))
                for j, file in enumerate(step.edit.files):
                    if file not in context.files:
                        raise ReferenceProblem((*path, "files", j), f"context '{step.edit.context}' has no file "
                                                                    f"'{file}'")
            build = step.build
            if build is None:
                continue
            if build.context is not None and build.context not in scenario.contexts:
                raise ReferenceProblem((*path, "context"), unknown_name("context", build.context, scenario.contexts))
            if build.context_from is not None and build.context_from not in host_names:
                raise ReferenceProblem((*path, "context_from"),
                                       unknown_name("host", build.context_from, sorted(host_names)))
            shown, text = dockerfile_text(build, base_dir, path)
            try:
                spec = plan_build(build, shown, text, path)
            except ScenarioError as err:
                if err.line is not None and build.dockerfile_text is not None:  # the scenario's own text
                    raise ReferenceProblem((*path, "dockerfile_text"),
                                           f"line {err.line} of the Dockerfile: {err.message}") from None
                if err.line is not None and not (err.field or "").endswith(".target"):
                    raise  # names the Dockerfile and its line
                # nothing in the Dockerfile to point at: point at the scenario's field instead
                which = (err.field or "").rsplit(".", 1)[-1]
                message = err.message if which == "target" else f"{shown}: {err.message}"
                raise ReferenceProblem((*path, which), message) from None
            for j, stage_name in enumerate(build.no_cache_filter):
                if stage_name.lower() not in {stage.name for stage in spec.stages}:
                    raise ReferenceProblem((*path, "no_cache_filter", j),
                                           unknown_name("stage", stage_name, [s.name for s in spec.stages]))
            check_sources(spec, context_spec(scenario, build.context), path)
            check_classic(spec, path)
            stages = spec.needed if build.builder == "buildkit" else spec.classic_stages
            for ref in spec.base_images(stages):
                images.setdefault(ref, path)
            if build.tag is not None:
                tags.add(normalise(build.tag))
            specs[(name, i)] = spec
    registries: set[str] = set()
    for workload in scenario.workloads.values():
        for step in workload.steps:
            if step.build is None:
                continue
            refs = [*step.build.cache_from, *([step.build.cache_to.ref] if step.build.cache_to else [])]
            for ref in refs:
                first = ref.split("/", 1)[0]
                registries.add(first if "/" in ref and first in scenario.registries else HUB)
    return ResolvedBuilds(specs, images, frozenset(tags), registries)


def plan_build(build: BuildStep, shown: str, text: str, path: FieldPath) -> BuildSpec:
    """make_plan with the step's build args and target; its errors name the Dockerfile, line and field."""
    try:
        plan = make_plan(text, filename=shown, build_args=build.build_args, target=build.target)
    except ScenarioError as err:
        which = "target" if build.target is not None and "target stage" in err.message else (
            "dockerfile_text" if build.dockerfile_text is not None else "dockerfile")
        raise ScenarioError(err.message, file=err.file, line=err.line, column=err.column,
                            field=dotted((*path, which))) from None
    return spec_from_plan(plan, build_options(build), shown, len(text.encode()))
