"""What an image says about the containers made from it: its config (Cmd, Entrypoint, Env, ExposedPorts,
Labels, WorkingDir, User, Volumes, StopSignal) and its history, as ``docker image inspect`` and ``docker
history`` show them.

Catalog images carry theirs in ``dsim/scenarios/catalog/real-images.json`` (read from each image's
docker-library/repo-info page: Entrypoint, Default Command and the Dockerfile history). A built image's config
is its base's, changed by the Dockerfile's instructions in order, as the classic builder's dispatchers do
(moby ``builder/dockerfile/dispatchers.go``): ENV appends or replaces ``KEY=value``, CMD and ENTRYPOINT replace
(ENTRYPOINT also clears an inherited CMD), EXPOSE and VOLUME add, LABEL sets, WORKDIR resolves against the
previous one, USER, STOPSIGNAL and SHELL replace. ARG values substitute into later instructions.

The image ID is derived from content, as Docker's is: the digest of the image's manifest, whose config
descriptor is the digest of the config JSON (config, rootfs diff IDs, history). Timestamps are left out of the
digested document, so a rebuild whose steps all come from the cache gives the same ID, as dockerd's cache
reuse does, and a tag never changes it.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

from dsim.dockerfile.expand import ExpansionError, expand_word
from dsim.dockerfile.parse import Instruction, parse_dockerfile
from dsim.domain.images import ImageInfo
from dsim.domain.refs import normalise, split_ref
from dsim.serve import commands

#: Instructions that make a layer (the rest only change the config: Docker marks them ``empty_layer``).
LAYER_INSTRUCTIONS = frozenset({"RUN", "COPY", "ADD", "WORKDIR"})

#: Instructions that only change the config.
METADATA_INSTRUCTIONS = frozenset({"ENV", "ARG", "LABEL", "CMD", "ENTRYPOINT", "EXPOSE", "VOLUME", "USER",
                                   "STOPSIGNAL", "SHELL", "HEALTHCHECK", "ONBUILD", "WORKDIR"})

#: Linux images' default PATH, which the builders set when a Dockerfile sets none (moby ``oci.DefaultPathEnv``;
#: BuildKit's dockerfile frontend adds it to every image config, so the catalog pages' ENV lines omit it).
DEFAULT_PATH = f"PATH={commands.DEFAULT_PATH}"


@dataclass(frozen=True)
class HistoryEntry:
    """One line of ``docker history``: the instruction that made it, whether it added a layer, when."""

    created_by: str
    empty_layer: bool
    created: float | None = None  # Unix time; None: the image's own date
    comment: str = ""  # BuildKit marks its lines "buildkit.dockerfile.v0"; the legacy builder leaves it empty


@dataclass(frozen=True)
class ImageConfig:
    """An image's config (moby's ``container.Config`` subset an image carries) and its history."""

    cmd: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    env: tuple[str, ...] = ()
    exposed_ports: tuple[str, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    working_dir: str = ""
    user: str = ""
    volumes: tuple[str, ...] = ()
    stop_signal: str = ""
    shell: tuple[str, ...] = ()
    history: tuple[HistoryEntry, ...] = ()
    #: ``docker commit -a`` and ``-m``: the image's Author and Comment (empty for pulled and built images)
    author: str = ""
    comment: str = ""

    def api(self) -> dict[str, Any]:
        """The Engine API's ImageConfig (``Config`` of ``GET /images/{name}/json``)."""
        out: dict[str, Any] = {
            "User": self.user,
            "ExposedPorts": {port: {} for port in self.exposed_ports} or None,
            "Env": list(self.env),
            "Cmd": list(self.cmd) if self.cmd is not None else None,
            "Volumes": {path: {} for path in self.volumes} or None,
            "WorkingDir": self.working_dir,
            "Entrypoint": list(self.entrypoint) if self.entrypoint is not None else None,
            "OnBuild": None,
            "Labels": dict(self.labels) or None,
        }
        if self.stop_signal:
            out["StopSignal"] = self.stop_signal
        if self.shell:
            out["Shell"] = list(self.shell)
        return out

    def document(self, diff_ids: Sequence[str]) -> dict[str, Any]:
        """The image config JSON (OCI image spec ``config``), without timestamps (see the module docstring)."""
        return {
            "architecture": "amd64",
            "os": "linux",
            "config": self.api(),
            "rootfs": {"type": "layers", "diff_ids": list(diff_ids)},
            "history": [{"created_by": h.created_by, **({"empty_layer": True} if h.empty_layer else {})}
                        for h in self.history],
        } | ({"author": self.author} if self.author else {}) | ({"comment": self.comment} if self.comment else {})


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def content_id(config: ImageConfig, image: ImageInfo) -> str:
    """The image ID: the digest of its manifest (containerd image store), which names the config blob by its
    digest and every layer by digest and size. Same content, same ID, whatever the tag."""
    config_blob = _canonical(config.document([layer.chain_id for layer in image.layers]))
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": "sha256:" + hashlib.sha256(config_blob).hexdigest(), "size": len(config_blob)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer.digest,
                    "size": int(layer.size)} for layer in image.layers],
    }
    return "sha256:" + hashlib.sha256(_canonical(manifest)).hexdigest()


# ---------------------------------------------------------------------------------------------- the catalog


@cache
def _catalog_entries() -> dict[str, dict[str, Any]]:
    raw = json.loads(resources.files("dsim.scenarios").joinpath("catalog/real-images.json").read_text())
    entries: dict[str, dict[str, Any]] = raw["images"]
    return entries


def _tuple(value: Any) -> tuple[str, ...] | None:
    return None if value is None else tuple(str(item) for item in value)


def _date(text: Any) -> float | None:
    """An entry's ``date`` (``2026-09-17T20:37:20Z ...``) as Unix time: the time of each of its history lines
    (the pages give per-line times; the catalog keeps the image's)."""
    try:
        return datetime.strptime(str(text or "")[:20], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


def _history_entry(item: str | dict[str, Any]) -> HistoryEntry:
    """A catalog history line: its text (a layer if its instruction makes one), or an object saying so."""
    text = item if isinstance(item, str) else str(item["created_by"])
    empty = text.split(" ", 1)[0] not in LAYER_INSTRUCTIONS
    if isinstance(item, dict) and "empty_layer" in item:
        empty = bool(item["empty_layer"])
    # a BuildKit line: a layer step marked "# buildkit", or a Dockerfile metadata instruction
    buildkit = text.rstrip().endswith("# buildkit") or (empty and text.split(" ", 1)[0] in METADATA_INSTRUCTIONS)
    return HistoryEntry(text, empty, comment="buildkit.dockerfile.v0" if buildkit else "")


def _classic_line(text: str) -> str:
    """A legacy-built image's history line as dockerd wrote it, from its repo-info page's line, which leaves out
    the shell: ``RUN x`` was ``/bin/sh -c x``; ``ADD``, ``COPY`` and ``WORKDIR`` were ``/bin/sh -c #(nop) ADD ...``
    (one argument), every other instruction ``/bin/sh -c #(nop)  CMD ...`` (two: moby
    daemon/builder/dockerfile/internals.go ``withCmdCommentString``, ``withCmdComment``)."""
    word, _, rest = text.partition(" ")
    if word == "RUN":
        return f"/bin/sh -c {rest}"
    return f"/bin/sh -c #(nop) {text}" if word in LAYER_INSTRUCTIONS else f"/bin/sh -c #(nop)  {text}"


def catalog_config(entry_ref: str) -> ImageConfig:
    """The config and history a catalog entry records (its repo-info page); an empty config if it has none."""
    entry = _catalog_entries().get(entry_ref, {})
    raw = entry.get("config") or {}
    built = _date(entry.get("date"))
    classic = entry.get("history_builder") == "classic"  # built by the legacy builder: no BuildKit comments
    history = tuple(replace(line, created=built, comment="", created_by=_classic_line(line.created_by)) if classic
                    else replace(line, created=built) for line in map(_history_entry, entry.get("history") or ()))
    if not history:  # older entries: one line per layer, the step inferred where the entry says it
        history = tuple(HistoryEntry(str(layer.get("step_inferred") or ""), False, built)
                        for layer in entry.get("layers", ()))
    env = tuple(raw.get("Env") or ())
    if not any(item.startswith("PATH=") for item in env):  # the builder sets the default PATH when none is set
        env = (DEFAULT_PATH, *env)
    return ImageConfig(
        cmd=_tuple(raw.get("Cmd")), entrypoint=_tuple(raw.get("Entrypoint")), env=env,
        exposed_ports=tuple(raw.get("ExposedPorts") or ()), labels=tuple(sorted((raw.get("Labels") or {}).items())),
        working_dir=str(raw.get("WorkingDir") or ""), user=str(raw.get("User") or ""),
        volumes=tuple(raw.get("Volumes") or ()), stop_signal=str(raw.get("StopSignal") or ""), history=history)


# ---------------------------------------------------------------------------------------------- builds


@dataclass
class _Scope:
    """The state a stage's instructions change, while they are applied."""

    config: ImageConfig
    args: dict[str, str] = field(default_factory=dict)  # the ARGs this stage declared, with their values
    history: list[HistoryEntry] = field(default_factory=list)
    #: ``--build-arg`` values, and the global ARGs' (before the first FROM): an ARG the stage declares takes
    #: the first, else for a name without a default the second; neither is in scope undeclared
    given: Mapping[str, str] = field(default_factory=dict)
    meta: Mapping[str, str] = field(default_factory=dict)
    #: the hash a COPY/ADD of these context sources names (context_sums.ContextSums.source_hash), if known
    sources: Callable[[list[str]], str | None] | None = None

    def env_map(self) -> dict[str, str]:
        env = dict(self.args)
        for item in self.config.env:
            key, _, value = item.partition("=")
            env[key] = value
        return env

    def expand(self, word: str) -> str:
        try:
            return expand_word(word, self.env_map(), keep_unset=lambda _name: False).text
        except ExpansionError:
            return word


@dataclass(frozen=True)
class RunEnvironment:
    """What a RUN runs in: the stage's ENV then its ARGs the ENV does not set (moby's builder appends the build
    arguments to the run config's Env), its WORKDIR, USER and SHELL."""

    env: tuple[str, ...]
    workdir: str
    user: str
    shell: tuple[str, ...]


def merged_env(first: Iterable[str], then: Iterable[str]) -> tuple[str, ...]:
    """``NAME=value`` lists merged as dockerd merges a request's Env with its image's (moby daemon/commit.go,
    ``merge``): every item of ``first``, then those of ``then`` whose name ``first`` does not set."""
    kept = tuple(first)
    names = {item.partition("=")[0] for item in kept}
    return kept + tuple(item for item in then if item.partition("=")[0] not in names)


def _run_environment(scope: _Scope) -> RunEnvironment:
    config = scope.config
    env = merged_env(config.env, (f"{key}={value}" for key, value in scope.args.items()))
    return RunEnvironment(env, config.working_dir or "/", config.user, config.shell or ("/bin/sh", "-c"))


def _set_env(env: tuple[str, ...], key: str, value: str) -> tuple[str, ...]:
    items = [item for item in env if item.partition("=")[0] != key]
    position = next((i for i, item in enumerate(env) if item.partition("=")[0] == key), len(items))
    items.insert(position, f"{key}={value}")
    return tuple(items)


def _exec_or_shell(ins: Instruction, scope: _Scope) -> tuple[str, ...]:
    """A CMD/ENTRYPOINT's argv: the JSON form as written, the shell form through the stage's shell."""
    if ins.json:
        return tuple(ins.value)
    shell = scope.config.shell or ("/bin/sh", "-c")
    return (*shell, " ".join(ins.value))


def _created_by(ins: Instruction, scope: _Scope) -> str:
    """The history line the classic builder writes: ``/bin/sh -c #(nop)  CMD [...]`` for metadata (ENV, LABEL,
    EXPOSE, ... too: two spaces), ``/bin/sh -c #(nop) COPY ...`` for COPY, ADD and WORKDIR, ``/bin/sh -c
    <command>`` for RUN (moby ``daemon/builder/dockerfile/dispatchers.go``, ``internals.go``)."""
    shell = " ".join(scope.config.shell or ("/bin/sh", "-c"))
    if ins.cmd == "RUN":
        return " ".join(ins.value) if ins.json else f"{shell} {' '.join(ins.value)}"
    if ins.cmd in ("COPY", "ADD"):
        return f"{shell} #(nop) {_copy_comment(ins, scope)}"
    if ins.cmd in ("CMD", "ENTRYPOINT"):
        argv = _exec_or_shell(ins, scope)
        return f"{shell} #(nop)  {ins.cmd} [{' '.join(json.dumps(a) for a in argv)}]"
    if ins.cmd == "WORKDIR":
        return f"{shell} #(nop) WORKDIR {scope.config.working_dir}"
    return f"{shell} #(nop)  {ins.original.strip()}"  # withCmdComment: "#(nop) " and the comment, two arguments


def _copy_comment(ins: Instruction, scope: _Scope) -> str:
    """A COPY/ADD's comment as ``performCopy`` writes it: ``COPY [--chown=<spec> ]<source hash> in <dest> ``, the
    hash the context's (context_sums.py); the instruction's words when it has none here (a ``--from`` source, a
    URL, a source the context lacks), as for the simulated contexts of scenarios."""
    flags = dict(flag.lstrip("-").partition("=")[::2] for flag in ins.flags)
    words = [scope.expand(word) for word in ins.value]
    source = scope.sources(words[:-1]) if scope.sources is not None and "from" not in flags and words else None
    if source is None:
        return f"{ins.cmd} {' '.join(ins.value)}"
    chown = f"--chown={scope.expand(flags['chown'])} " if flags.get("chown") else ""
    return f"{ins.cmd} {chown}{source} in {words[-1]} "


def _apply(ins: Instruction, scope: _Scope) -> None:
    """One instruction's effect on the config (moby's dispatchers)."""
    config = scope.config
    name = ins.cmd
    if name == "ENV":
        env = config.env
        for key, value in ins.pairs:
            env = _set_env(env, scope.expand(key), scope.expand(value))
        config = replace(config, env=env)
    elif name == "ARG":  # in scope from here to the stage's end (Dockerfile reference, "Scope")
        for word in ins.value:
            key, sep, value = word.partition("=")
            if key in scope.given:
                scope.args[key] = scope.given[key]
            elif sep:
                scope.args[key] = scope.expand(value)
            elif key in scope.meta:
                scope.args[key] = scope.meta[key]
    elif name == "LABEL":
        labels = dict(config.labels)
        for key, value in ins.pairs:
            labels[scope.expand(key).strip('"')] = scope.expand(value)
        config = replace(config, labels=tuple(sorted(labels.items())))
    elif name == "CMD":
        config = replace(config, cmd=_exec_or_shell(ins, scope))
    elif name == "ENTRYPOINT":  # an inherited CMD is dropped (moby: "Entrypoint ... resets Cmd")
        config = replace(config, entrypoint=_exec_or_shell(ins, scope), cmd=None)
    elif name == "EXPOSE":
        ports = list(config.exposed_ports)
        for word in ins.value:
            port = scope.expand(word)
            port = port if "/" in port else f"{port}/tcp"
            if port not in ports:
                ports.append(port)
        config = replace(config, exposed_ports=tuple(ports))
    elif name == "VOLUME":
        volumes = list(config.volumes)
        volumes += [scope.expand(v) for v in ins.value if scope.expand(v) not in volumes]
        config = replace(config, volumes=tuple(volumes))
    elif name == "WORKDIR":
        target = scope.expand(ins.value[0]) if ins.value else "/"
        config = replace(config, working_dir=posixpath.normpath(posixpath.join(config.working_dir or "/", target)))
    elif name == "USER":
        config = replace(config, user=scope.expand(ins.value[0]) if ins.value else "")
    elif name == "STOPSIGNAL":
        config = replace(config, stop_signal=scope.expand(ins.value[0]) if ins.value else "")
    elif name == "SHELL":
        config = replace(config, shell=tuple(ins.value))
    scope.config = config


def stage_instructions(instructions: Sequence[Instruction], target: str | None) -> list[list[Instruction]]:
    """The Dockerfile's stages (each starting with its FROM), up to ``target`` (a stage name) or all."""
    stages: list[list[Instruction]] = []
    for ins in instructions:
        if ins.cmd == "FROM":
            stages.append([ins])
        elif stages:
            stages[-1].append(ins)
    if target is not None:
        for i, stage in enumerate(stages):
            words = stage[0].value
            if len(words) == 3 and words[1].lower() == "as" and words[2].lower() == target.lower():
                return stages[: i + 1]
    return stages


def built_config(instructions: Sequence[Instruction], bases: Mapping[str, ImageConfig], *,
                 target: str | None = None, build_args: Mapping[str, str] | None = None,
                 created: float | None = None, visit: Callable[[Instruction, RunEnvironment], None] | None = None,
                 sources: Callable[[list[str]], str | None] | None = None) -> ImageConfig:
    """The config of the image a Dockerfile builds: the target stage's base config (``bases`` by the FROM's
    normalised reference, or an earlier stage's), changed by each of its instructions; the history is the
    base's, then one entry per instruction of the stage (``created`` at the build's time). ``visit`` sees each
    instruction of the stages built, its FROM first, with what a RUN there would run in; ``sources`` gives the
    hash a COPY/ADD's history line names for its context sources."""
    given = dict(build_args or {})
    global_args: dict[str, str] = {}
    for ins in instructions:  # ARGs before the first FROM: usable in FROM lines, and inside a stage redeclared
        if ins.cmd == "FROM":
            break
        if ins.cmd == "ARG":
            for word in ins.value:
                key, sep, value = word.partition("=")
                if key in given or sep:
                    global_args[key] = given.get(key, value)
    done: dict[str, ImageConfig] = {}
    config = ImageConfig()
    for index, stage in enumerate(stage_instructions(instructions, target)):
        words = stage[0].value
        base_name = _Scope(ImageConfig(), dict(global_args)).expand(words[0]) if words else "scratch"
        if base_name.lower() in done:
            config = done[base_name.lower()]
        elif base_name.lower() == "scratch":
            config = ImageConfig()
        else:
            config = bases.get(normalise(base_name), ImageConfig(env=(DEFAULT_PATH,)))
            if not config.env:
                config = replace(config, env=(DEFAULT_PATH,))
        scope = _Scope(config, {}, list(config.history), given, global_args, sources)
        if visit is not None:
            visit(stage[0], _run_environment(scope))
        for ins in stage[1:]:
            if visit is not None:
                visit(ins, _run_environment(scope))
            _apply(ins, scope)
            if ins.cmd != "ARG":
                scope.history.append(HistoryEntry(_created_by(ins, scope), ins.cmd not in LAYER_INSTRUCTIONS, created))
        config = replace(scope.config, history=tuple(scope.history))
        done[str(index)] = config
        if len(words) == 3 and words[1].lower() == "as":
            done[words[2].lower()] = config
    return config


class ImageConfigs:
    """The configs of the images built on one engine, by image ID (catalog images' come from the catalog)."""

    def __init__(self) -> None:
        self.built: dict[str, ImageConfig] = {}
        #: The legacy builder's cache of metadata steps: keys of the ones committed (build.BuildWatch).
        self.metadata_keys: set[str] = set()

    def remember(self, image_id: str, config: ImageConfig) -> None:
        self.built[image_id] = config

    def of(self, image: ImageInfo, image_id: str, catalog_entry: str | None) -> ImageConfig:
        """The config of a local image: built here, else its catalog entry's, else empty."""
        built = self.built.get(image_id)
        if built is not None:
            return built
        if catalog_entry is not None:
            return catalog_config(catalog_entry)
        return ImageConfig(history=tuple(HistoryEntry("", False) for _ in image.layers))


def familiar_tags(refs_: Iterable[str]) -> list[str]:
    """The references an image is tagged with, as the API lists them (dangling ``<none>@`` names and references by
    digest, which are RepoDigests, left out)."""
    return [ref for ref in refs_ if "@" not in ref]


def repository_of(ref: str) -> str:
    return split_ref(ref)[0]


#: what ``docker commit --change`` accepts (moby builder/dockerfile: ``validCommitCommands``)
COMMIT_CHANGES = frozenset({"CMD", "ENTRYPOINT", "ENV", "EXPOSE", "HEALTHCHECK", "LABEL", "ONBUILD", "STOPSIGNAL",
                            "USER", "VOLUME", "WORKDIR"})


def committed_config(base: ImageConfig, container: Mapping[str, Any], overrides: Mapping[str, Any],
                     changes: Sequence[str]) -> ImageConfig:
    """The config ``docker commit`` gives its image (moby daemon/commit.go): the container's own (its image's
    completed by its create request: the effective command, Env, labels, ports, WORKDIR, USER), the request's
    config over it, then each ``--change`` applied as a Dockerfile instruction. ValueError names a change
    that is not allowed, in dockerd's words."""
    given_entry = container.get("Entrypoint")
    cmd = container.get("Cmd") or (None if given_entry else base.cmd)
    labels = dict(base.labels) | dict(container.get("Labels") or {})
    ports = list(base.exposed_ports) + [p for p in container.get("ExposedPorts") or {} if p not in base.exposed_ports]
    config = replace(base, cmd=tuple(cmd) if cmd else None,
                     entrypoint=tuple(given_entry) if given_entry else base.entrypoint,
                     env=tuple(container.get("Env") or base.env), labels=tuple(sorted(labels.items())),
                     exposed_ports=tuple(ports), working_dir=container.get("WorkingDir") or base.working_dir,
                     user=container.get("User") or base.user)
    config = replace(
        config, env=merged_env(overrides.get("Env") or (), config.env),
        cmd=tuple(overrides["Cmd"]) if overrides.get("Cmd") else config.cmd,
        entrypoint=tuple(overrides["Entrypoint"]) if overrides.get("Entrypoint") else config.entrypoint,
        working_dir=overrides.get("WorkingDir") or config.working_dir, user=overrides.get("User") or config.user)
    if not changes:
        return config
    scope = _Scope(config)
    for ins in parse_dockerfile("FROM scratch\n" + "\n".join(changes) + "\n")[1:]:
        if ins.cmd not in COMMIT_CHANGES:
            raise ValueError(f"{ins.cmd.lower()} is not a valid change command")
        _apply(ins, scope)
    return scope.config


def with_image_defaults(body: dict[str, Any], image: ImageConfig) -> dict[str, Any]:
    """The create request's config completed from the image's as dockerd merges them (moby daemon/commit.go,
    ``merge``): the request's Env, then each of the image's variables it does not set; the image's WorkingDir
    and User where the request gives none; the request's Volumes and the image's (``VOLUME``: each gets an
    anonymous volume unless a mount covers it, objects.container_options). What inspect shows and what the
    process sees."""
    env = list(merged_env(body.get("Env") or (), image.env))
    volumes = {**(body.get("Volumes") or {}), **{path: {} for path in image.volumes}}
    return {**body, "Env": env or None, "WorkingDir": body.get("WorkingDir") or image.working_dir or None,
            "User": body.get("User") or image.user or None, "Volumes": volumes or None}
