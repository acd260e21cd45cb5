"""A compose service's ``build:`` planned before time 0, as a build step's is (scenarios/builds.py): the
context directory relative to the compose file (and inside the scenario's folder), its Dockerfile
(``dockerfile``, default ``Dockerfile``, relative to the context, as docker/compose ``dockerFilePath`` joins
them) parsed and planned by dsim.dockerfile (the PyPI ``dockerfile`` package, BuildKit's parser) with the
build ``args`` and ``target``, every COPY source checked against the context's files after its
``.dockerignore``. The image is tagged with the service's image name (``image:``, else
``<project>-<service>``, compose_project.default_image).

The context's files are the directory's regular files with their sizes on disk, and ``x-dsim.files``
(path -> size) beside them or instead of their sizes, so a scenario can say a context is 50 MB without
shipping 50 MB. Errors point into the compose file (``file:line:col``), or name the Dockerfile and its line.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from dsim.dockerfile.plan import make_plan
from dsim.dockerfile.read import UnreadableDockerfile, read_dockerfile
from dsim.domain.builds import BuildContext
from dsim.domain.compose import ComposeProject, ServiceBuild
from dsim.domain.problems import FieldPath, ReferenceProblem
from dsim.errors import ScenarioError
from dsim.scenarios.builds import check_sources, inside_folder, spec_from_plan
from dsim.scenarios.compose_model import Build, Project
from dsim.scenarios.model import BuildContextSpec, BuildStep
from dsim.scenarios.to_domain import build_options
from dsim.scenarios.yaml_positions import Positions, field_path, located_error

#: a context directory's files dsim reads the sizes of (a mistaken context, a home directory, is refused
#: rather than walked whole)
MAX_CONTEXT_FILES = 10_000

_URL_PREFIXES = ("http://", "https://", "git@", "git://", "github.com/")


def _args(build: Build) -> dict[str, str]:
    """``args`` as a mapping or ``KEY=VALUE`` list; a key without a value (or null) takes the Dockerfile's
    default (compose resolves it from the environment, which dsim does not model)."""
    if isinstance(build.args, list):
        pairs = [item.partition("=") for item in build.args]
        return {key: value for key, sep, value in pairs if sep}
    return {key: str(value).lower() if isinstance(value, bool) else str(value)
            for key, value in build.args.items() if value is not None}


def context_files(directory: Path, declared: dict[str, float]) -> BuildContext:
    """The context directory's regular files (POSIX path -> bytes on disk), ``declared`` over them, and its
    ``.dockerignore`` lines (blank lines and ``#`` comments dropped, as the CLI reads it)."""
    files: dict[str, float] = {}
    for root, dirs, names in os.walk(directory):
        dirs.sort()
        for name in sorted(names):
            full = Path(root) / name
            if full.is_file() and not full.is_symlink():
                files[full.relative_to(directory).as_posix()] = float(full.stat().st_size)
                if len(files) > MAX_CONTEXT_FILES:
                    raise ValueError(f"the build context has over {MAX_CONTEXT_FILES:,} files (dsim's limit)")
    files.update(declared)
    ignore_file = directory / ".dockerignore"
    lines: tuple[str, ...] = ()
    if ignore_file.is_file():
        text = ignore_file.read_text(encoding="utf-8", errors="replace")
        lines = tuple(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))
    return BuildContext(files, lines)


def _plan(service: str, build: Build, image: str, compose_file: Path, positions: Positions, shown: str,
          folder: Path) -> ServiceBuild:
    path: FieldPath = ("services", service, "build")
    here = (*path, "context") if positions.locate((*path, "context")) is not None else path
    if build.context.startswith(_URL_PREFIXES):
        raise located_error(f"dsim builds from a directory, not a URL ({build.context!r})", shown, positions, here)
    try:
        directory = inside_folder(str(compose_file.parent / build.context), folder, path)
    except ReferenceProblem as problem:
        raise located_error(problem.message, shown, positions, here) from None
    written = Path(build.context)
    context_shown = os.path.normpath(Path(shown).parent / written) if not written.is_absolute() else build.context
    if not directory.is_dir():
        raise located_error(f"build context '{context_shown}' is not a directory", shown, positions, here)
    where = (*path, "dockerfile") if positions.locate((*path, "dockerfile")) is not None else here
    try:
        dockerfile = inside_folder(str(directory / build.dockerfile), folder, path)
    except ReferenceProblem as problem:
        raise located_error(problem.message, shown, positions, where) from None
    dockerfile_shown = str(Path(context_shown) / build.dockerfile)
    try:
        text = read_dockerfile(dockerfile)
    except UnreadableDockerfile as err:
        raise located_error(f"cannot read Dockerfile '{dockerfile_shown}': {err.message}", shown, positions,
                            where) from None
    try:
        context = context_files(directory, dict(build.x_dsim.files))
    except ValueError as err:
        raise located_error(str(err), shown, positions, here) from None
    extra = build.x_dsim
    # the context's name, which its files' digests (and so the cache keys) hash, relative to the scenario's
    # folder: the same wherever the folder is and however its path was typed
    name = f"compose:{Path(os.path.relpath(directory, folder)).as_posix()}"
    step = BuildStep(dockerfile_text=text, context=name, tag=image, target=build.target,
                     build_args=_args(build), run_times=extra.run_times, default_run_time=extra.default_run_time,
                     run_cpus=extra.run_cpus, layer_sizes=extra.layer_sizes,
                     default_layer_size=extra.default_layer_size)
    try:
        plan = make_plan(text, filename=dockerfile_shown, build_args=step.build_args, target=build.target)
    except ScenarioError as err:
        if err.line is None:  # an unknown target: nothing in the Dockerfile to point at
            raise located_error(err.message, shown, positions, (*path, "target")) from None
        raise ScenarioError(err.message, file=err.file, line=err.line, column=err.column,
                            field=field_path(path)) from None
    spec = spec_from_plan(plan, build_options(step), dockerfile_shown, len(text.encode()))
    try:
        check_sources(spec, BuildContextSpec(files=dict(context.files), dockerignore=list(context.dockerignore)),
                      path)
    except ReferenceProblem as problem:
        raise located_error(problem.message, shown, positions, here) from None
    return ServiceBuild(spec, context, name)


def attach_builds(project: ComposeProject, model: Project, compose_file: Path, positions: Positions,
                  folder: Path | None) -> ComposeProject:
    """``project`` with each service's ``build:`` planned (services without one as they are)."""
    if not any(service.build is not None for service in model.services.values()):
        return project
    root = (folder if folder is not None else compose_file.parent).resolve()
    shown = project.file
    services = []
    for service in project.services:
        written = model.services[service.name].build
        if written is None:
            services.append(service)
            continue
        build = Build(context=written) if isinstance(written, str) else written
        planned = _plan(service.name, build, service.container.image, compose_file, positions, shown, root)
        services.append(dataclasses.replace(service, build=planned))
    return dataclasses.replace(project, services=tuple(services))
