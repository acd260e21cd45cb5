"""``POST /build`` from request to image: the classic builder's failures, the built image's config and its
content ID, around the daemon's Builder (which does the work and takes the time).

Failures are found from the plan before the build runs, in the order the legacy builder meets them (file
order, every stage up to the target): a COPY/ADD whose context source is missing or ``.dockerignore``d, or a
RUN whose command certainly fails (``false``, ``exit N``, or a list ending in them). The Builder then runs the
Dockerfile up to that instruction (the steps before it take their modelled time and fill the cache, as they
do in dockerd) and the stream ends with dockerd's message:
``COPY failed: file not found in build context or excluded by .dockerignore: stat x: file does not exist``
(moby ``builder/dockerfile/copy.go``) or ``The command '/bin/sh -c false' returned a non-zero code: 1``
(moby ``builder/dockerfile/dispatchers.go``), whose code the CLI exits with. The failing command itself is
taken as instant (``false`` and ``exit`` are).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Generator
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any

from dsim.components.errors import ApiError, StreamError
from dsim.dockerfile.parse import Instruction
from dsim.domain.build_context import included, match_source
from dsim.domain.builds import BuildSpec
from dsim.domain.images import ImageInfo
from dsim.domain.refs import canonical, normalise
from dsim.serve import images as refs
from dsim.serve.build import BuildWatch, Context, build_options, read_context, run_container_id, working_copy
from dsim.serve.commands import Context as ProcessContext
from dsim.serve.commands import Program, interpret
from dsim.serve.filters import query_flag
from dsim.serve.image_config import ImageConfig, RunEnvironment, built_config, content_id

if TYPE_CHECKING:
    from dsim.serve.engine import Engine
    from dsim.serve.handler import EngineHandler

#: A shell command that certainly fails, and its exit status: ``false``, ``exit N``, or a list ending in one
#: (``make && false``, ``set -e; exit 2``) or starting with ``false &&``.
_FAILS = re.compile(r"^(?:(?:.*(?:&&|;)\s*)?(?:/bin/)?(false|exit\s+(\d+))\s*;?|(?:/bin/)?false\s*&&.*)$", re.S)


class BuildFailure(StreamError):
    """The classic builder stopped at an instruction; ``code`` is what the CLI exits with."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(500, message)
        self.code = code


def exit_status(command: str) -> int | None:
    """The exit status of a RUN's shell command when it certainly fails, else None (it succeeds)."""
    found = _FAILS.match(command.strip())
    if found is None:
        return None
    if found.group(2) is not None:
        code = int(found.group(2)) % 256
        return code or None
    return 1


def first_failure(spec: BuildSpec, context: Context, watch: BuildWatch) -> tuple[int, str, int] | None:
    """(index of the failing instruction, dockerd's message, exit code) for the first step the legacy builder
    fails, else None."""
    files = included(context.files, context.dockerignore)
    by_line = {ins.start_line: i for i, ins in enumerate(watch.instructions)}
    found: list[tuple[int, str, int]] = []
    for index in spec.classic_stages:
        for step in spec.stages[index].steps:
            where = by_line.get(step.line)
            if where is None:
                continue
            missing = next((s for s in step.sources if not match_source(s, files)), None)
            if missing is not None and step.instruction in ("COPY", "ADD"):
                found.append((where, "COPY failed: file not found in build context or excluded by .dockerignore: "
                                     f"stat {missing}: file does not exist", 1))
                break
            ins = watch.instructions[where]
            if step.instruction == "RUN" and not ins.flags:
                argv = list(ins.value) if ins.json else ["/bin/sh", "-c", " ".join(ins.value)]
                code = exit_status(argv[-1]) if not ins.json else (1 if argv[:1] == ["false"] else None)
                if code is not None:
                    found.append((where, f"The command '{' '.join(argv)}' returned a non-zero code: {code}", code))
                    break
    return min(found) if found else None


def run_programs(engine: Engine, watch: BuildWatch, build_args: dict[str, str],
                 target: str | None = None) -> tuple[dict[int, Program], dict[str, bytes]]:
    """Each RUN's process by its line, read by commands.py's rules in its build environment (the stage's ENV
    and ARGs, WORKDIR, USER, SHELL: image_config.RunEnvironment) and its stage's files (its base's: a committed
    or built image's, or an earlier stage's; then what each RUN before wrote), and the files of the stage the
    image is (``target``, else the last). Their time is the build model's."""
    programs: dict[int, Program] = {}
    stages: dict[str, dict[str, bytes]] = {}  # by index and by name, as a FROM names an earlier stage
    current: dict[str, bytes] = {}
    numbers = itertools.count()

    def visit(ins: Instruction, where: RunEnvironment) -> None:
        nonlocal current
        if ins.cmd == "FROM":
            base = ins.value[0].lower() if ins.value else "scratch"
            image = watch.bases.get(canonical(base)) if base not in stages and base != "scratch" else None
            inherited = stages.get(base) or (engine.image_files.get(refs.image_id(image), {}) if image else {})
            current = dict(inherited)
            stages[str(next(numbers))] = current
            if len(ins.value) == 3 and ins.value[1].lower() == "as":
                stages[ins.value[2].lower()] = current
        elif ins.cmd == "RUN" and not ins.flags:
            argv = list(ins.value) if ins.json else [*where.shell, " ".join(ins.value)]
            context = ProcessContext(hostname=run_container_id(watch.job, ins.start_line), env=where.env,
                                     workdir=where.workdir, user=where.user or "root",
                                     files=tuple(current.items()))
            programs[ins.start_line] = program = interpret(argv, context)
            current.update(program.files)

    built_config(watch.instructions, _base_configs(engine, watch), build_args=build_args, target=target,
                 visit=visit)
    return programs, current


def run_output(engine: Engine, watch: BuildWatch, build_args: dict[str, str], ins: Instruction, cid: str) -> list[str]:
    """What a RUN prints in the classic builder's stream (intermediate container ``cid``), its standard output
    and error together (run_programs)."""
    program = run_programs(engine, watch, build_args)[0].get(ins.start_line)
    return [write.data.decode(errors="replace") for write in program.output] if program is not None else []


def truncated(text: str, line: int) -> str:
    """The Dockerfile up to (not including) the instruction starting at ``line``."""
    return "".join(text.splitlines(keepends=True)[: line - 1])


def _base_configs(engine: Engine, watch: BuildWatch) -> dict[str, ImageConfig]:
    configs: dict[str, ImageConfig] = {}
    for ref, image in watch.bases.items():
        configs[ref] = engine.image_configs.of(image, refs.image_id(image), refs.catalog_ref(image.ref))
    return configs


def finish(engine: Engine, image: ImageInfo, tags: list[str], watch: BuildWatch, previous: dict[str, ImageInfo],
           *, target: str | None, build_args: dict[str, str],
           sources: Callable[[list[str]], str | None] | None = None) -> ImageInfo:
    """The built image under its content ID: its config from the base's and the Dockerfile's, every tag (or a
    dangling ``<none>``) naming it; an image a tag named before and nothing names now stays, dangling."""
    store = engine.daemon.store
    config = built_config(watch.instructions, _base_configs(engine, watch), target=target, build_args=build_args,
                          created=engine.epoch(engine.env.now), sources=sources)
    ident = content_id(config, image)
    engine.image_configs.remember(ident, config)
    files = run_programs(engine, watch, build_args, target)[1]
    if files:  # what its RUNs wrote, for the commands of its containers (commands.py)
        engine.image_files[ident] = files
    engine.built.setdefault(ident, engine.env.now)
    if not tags:
        if store.has_image(image.ref):
            store.untag(image.ref)
        named = [ref for ref, other in store.images().items() if refs.image_id(other) == ident]
        result = replace(image, manifest_digest=ident, ref=f"<none>@{ident[7:19]}")
        if not named:
            store.tag(result)
        return result
    for ref, other in list(store.images().items()):  # an untagged build of the same content is named now
        if ref.startswith("<none>") and refs.image_id(other) == ident:
            store.untag(ref)
    result = image
    for tag in tags:
        tagged = engine.daemon.tag_image(replace(image, manifest_digest=ident), tag, reidentified=True)
        result = tagged if tag == tags[0] else result
    for old in previous.values():
        old_id = refs.image_id(old)
        if old_id != ident and not any(refs.image_id(o) == old_id for o in store.images().values()):
            store.tag(replace(old, ref=f"<none>@{old_id[7:19]}"))
    return result


def digest_bases(spec: BuildSpec, watch: BuildWatch) -> BuildSpec:
    """``FROM repo@digest`` (``repo:tag@digest``: the digest wins) builds on the image of that digest reference:
    the legacy builder looks it up, else pulls it, by that reference (moby daemon/images/image_builder.go
    ``pullForBuilder``: ``reference.TagNameOnly`` keeps a digest), where the scenario planner keeps a tag."""
    froms = [watch.base_of(ins) for ins in watch.instructions if ins.cmd == "FROM"]
    stages = tuple(replace(stage, base_image=base) if stage.base_image is not None and base and "@" in base
                   else stage for stage, base in zip(spec.stages, froms, strict=False))
    return replace(spec, stages=stages) if stages != spec.stages else spec


def api_build(handler: EngineHandler, query: dict[str, list[str]]) -> None:
    """``POST /build`` (legacy builder): read the context, plan, find the first failure, build, finish."""
    from dsim.serve.handler import HttpError

    if (handler.headers.get("Content-Type") or "application/x-tar").split(";")[0].strip() not in (
            "application/x-tar", "application/tar", "application/octet-stream"):
        raise HttpError(400, "Content-Type of a build context must be application/x-tar")
    if (query.get("version") or ["1"])[-1] == "2":
        raise HttpError(501, "dsim serve simulates the legacy builder only (use DOCKER_BUILDKIT=0)")
    data = handler.read_body(handler.state.max_context)
    context = read_context(data, (query.get("dockerfile") or ["Dockerfile"])[-1] or "Dockerfile")
    watch = BuildWatch.of(context.dockerfile, query_flag(query, "q"))
    options = build_options(query, context.dockerfile)
    tags = [normalise(t) for t in query.get("t") or [] if t]
    engine = handler.state.engine
    spec = digest_bases(handler.call(lambda: engine.plan_build(options, context.dockerfile_name,
                                                               context.dockerfile)), watch)
    failure = first_failure(spec, context, watch)
    if failure is not None:  # the Builder runs what comes before the failing instruction
        line = watch.instructions[failure[0]].start_line
        cut = options.model_copy(update={"tag": None, "target": None})
        text = truncated(context.dockerfile, line)
        spec = digest_bases(handler.call(lambda: engine.plan_build(cut, context.dockerfile_name, text)), watch)
        watch.fail_at = failure[0]
    watch.no_cache = options.no_cache
    watch.known_keys = engine.image_configs.metadata_keys
    watch.run_output = partial(run_output, engine, watch, options.build_args)
    watch.with_build_args(options.build_args)

    def body(job: int, phase: str | None) -> Generator[Any, Any, Any]:
        watch.begin(engine.daemon, job, engine.clock)
        previous = {tag: old for tag in tags if (old := engine.daemon.store.image(tag)) is not None}
        try:
            image = yield from engine.build(spec, working_copy(context, job), [] if failure else tags, job, phase,
                                            watch.bases, watch.follow_bases)
        except ApiError as err:  # the classic builder reports failures inside its stream
            raise StreamError(err.status, str(err)) from None
        if failure is not None:
            if engine.daemon.store.has_image(image.ref):
                engine.daemon.store.untag(image.ref)  # what ran stays as cache, no image is made
            watch.failure = (failure[1], failure[2])
            raise BuildFailure(failure[1], failure[2])
        return finish(engine, image, tags, watch, previous, target=options.target, build_args=options.build_args,
                      sources=context.sums.source_hash)

    future = handler.operation("build", tags[0] if tags else "<none>", body)
    handler.stream(future, watch.poll, lambda image: watch.ending(image, tags))
