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
"""

from __future__ import annotations

import csv
import json
import posixpath
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from dsim.dockerfile.expand import Expansion, ExpansionError, expand_word
from dsim.dockerfile.parse import Instruction, arguments_text, directives, parse_dockerfile
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

#: The platform BuildKit builds for when none is asked for (a linux/amd64 daemon).
DEFAULT_PLATFORM = "linux/amd64"
#: Instructions that always create a filesystem layer; WORKDIR does too unless its path resolves to "/".
LAYER_INSTRUCTIONS = frozenset({"RUN", "COPY", "ADD"})
#: The PATH BuildKit puts into a Linux stage whose image defines none (a ``scratch`` stage).
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

_KNOWN_INSTRUCTIONS = frozenset({
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL", "MAINTAINER",
    "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
})
#: Instructions whose arguments BuildKit passes through variable substitution.
_EXPANDING = frozenset({"ADD", "COPY", "ENV", "EXPOSE", "LABEL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR"})
# flag name -> kind ("string", "bool" or "list"), per instruction, as BuildKit's instruction parser accepts them
_FLAGS: dict[str, dict[str, str]] = {
    "FROM": {"platform": "string"},
    "RUN": {"mount": "list", "network": "string", "security": "string", "device": "list"},
    "COPY": {"from": "string", "chown": "string", "chmod": "string", "link": "bool", "parents": "bool",
             "exclude": "list"},
    "ADD": {"chown": "string", "chmod": "string", "link": "bool", "keep-git-dir": "bool", "checksum": "string",
            "exclude": "list", "unpack": "bool"},
    "HEALTHCHECK": {"interval": "string", "timeout": "string", "start-period": "string", "start-interval": "string",
                    "retries": "string"},
}
_STAGE_NAME_RE = re.compile(r"^[a-z][a-z0-9\-_.]*$")
_MOUNT_TYPES = ("bind", "cache", "tmpfs", "secret", "ssh")
_SHARING_MODES = ("shared", "private", "locked")  # a cache mount's sharing=; BuildKit's default is shared
_MOUNT_KEYS = {"type": "type", "from": "from", "source": "source", "src": "source", "target": "target",
               "dst": "target", "destination": "target", "readonly": "readonly", "ro": "readonly",
               "readwrite": "readwrite", "rw": "readwrite", "id": "id", "sharing": "sharing", "mode": "mode",
               "uid": "uid", "gid": "gid", "required": "required", "size": "size", "env": "env"}

# Docker image references (distribution/reference grammar): [domain/]path[:tag][@digest]
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_REFERENCE_RE = re.compile(
    rf"^(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
    r"(?::[\w][\w.-]{0,127})?"
    r"(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$"
)


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
        return self.stages[_stage_index(self, ref)]

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


# --- scope of one stage --------------------------------------------------------------------------------------------


@dataclass
class _Scope:
    """Variables visible inside a stage: ENV values and ARG values, and which ARGs are declared."""

    escape: str
    env: dict[str, str] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    declared: list[str] = field(default_factory=list)
    image_env_unknown: bool = False
    workdir: str = "/"

    def copy(self) -> _Scope:
        return _Scope(self.escape, dict(self.env), dict(self.kinds), list(self.declared), self.image_env_unknown,
                      self.workdir)

    def expand(self, word: str) -> Expansion:
        """Substitute variables in one word; names a base image may define stay literal when unknown."""
        declared = set(self.declared)
        keep = (lambda name: name not in declared) if self.image_env_unknown else None
        return expand_word(word, self.env, escape=self.escape, keep_unset=keep)

    def arg_uses(self, names: Iterable[str]) -> set[str]:
        """The names among ``names`` that refer to an ARG (not to an ENV of the same name)."""
        return {n for n in names if n in self.declared and self.kinds.get(n) != "env"}


@dataclass
class _StageDraft:
    """A stage being assembled; turned into a frozen :class:`Stage` at the end."""

    index: int
    name: str | None
    from_ins: Instruction
    base: str = ""
    base_stage: int | None = None
    platform: str | None = None
    text: str = ""
    from_args_used: tuple[str, ...] = ()
    body: list[Instruction] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    triggers: list[Instruction] = field(default_factory=list)
    scope: _Scope | None = None


class _Planner:
    """Builds a :class:`BuildPlan`; holds what every step needs (file name, stage names, build args)."""

    def __init__(self, filename: str, build_args: Mapping[str, str], platform: str, escape: str) -> None:
        self.filename = filename
        self.build_args = dict(build_args)
        self.platform = platform
        self.escape = escape
        self.names_final: dict[str, int] = {}
        self.stage_refs: list[str] = []
        self.global_names: set[str] = set()
        self.warnings: list[str] = []

    def error(self, message: str, line: int | None) -> ScenarioError:
        return ScenarioError(message, file=self.filename, line=line)

    # -- flags ----------------------------------------------------------------------------------------------------

    def flags(self, ins: Instruction, cmd: str, scope: _Scope | None,
              meta: Mapping[str, str] | None = None) -> tuple[dict[str, list[str]], tuple[str, ...]]:
        """Parse ``--name[=value]`` flags the way BuildKit's flag parser accepts them; values are substituted."""
        allowed = _FLAGS.get(cmd, {})
        values: dict[str, list[str]] = {}
        shown: list[str] = []
        for raw in ins.flags:
            if not raw.startswith("--"):
                raise self.error(f"{cmd}: invalid flag {raw!r}", ins.start_line)
            name, eq, value = raw[2:].partition("=")
            kind = allowed.get(name)
            if kind is None:
                raise self.error(f"{cmd}: unknown flag: {name}", ins.start_line)
            if kind == "bool":
                value = value.lower() if eq else "true"
                if value not in ("true", "false"):
                    raise self.error(f"{cmd}: expecting boolean value for flag {name}, not: {value}", ins.start_line)
            elif not eq:
                raise self.error(f"{cmd}: missing a value on flag: --{name}", ins.start_line)
            elif name not in ("from", "mount"):
                value = self.expand(value, scope, meta, ins.start_line)
            if kind != "list" and name in values:
                raise self.error(f"{cmd}: duplicate flag specified: --{name}", ins.start_line)
            values.setdefault(name, []).append(value)
            shown.append(f"--{name}={value}" if eq or kind != "bool" else f"--{name}")
        return values, tuple(shown)

    def expand(self, word: str, scope: _Scope | None, meta: Mapping[str, str] | None, line: int) -> str:
        try:
            if scope is not None:
                return scope.expand(word).text
            return expand_word(word, meta or {}, escape=self.escape).text
        except ExpansionError as exc:
            raise self.error(f"failed to process {word!r}: {exc}", line) from None

    def expand_with_uses(self, word: str, scope: _Scope, line: int, uses: set[str]) -> str:
        try:
            result = scope.expand(word)
        except ExpansionError as exc:
            raise self.error(f"failed to process {word!r}: {exc}", line) from None
        uses |= scope.arg_uses(result.referenced)
        return result.text

    # -- global scope and FROM ------------------------------------------------------------------------------------

    def global_args(self, args: Sequence[Instruction], meta: dict[str, str]) -> tuple[ArgDef, ...]:
        """Evaluate ARGs before the first FROM: build args win, defaults may use earlier global ARGs."""
        out: list[ArgDef] = []
        for ins in args:
            for name, default in self.arg_tokens(ins):
                if name in self.build_args:
                    value: str | None = self.build_args[name]
                elif default is not None:
                    value = self.expand(default, None, meta, ins.start_line)
                else:
                    value = None
                if value is not None:
                    meta[name] = value
                out.append(ArgDef(name, default, value, ins.start_line))
                self.global_names.add(name)
        return tuple(out)

    def arg_tokens(self, ins: Instruction) -> list[tuple[str, str | None]]:
        if not ins.value or ins.value == ("",):
            raise self.error("ARG requires at least one argument", ins.start_line)
        tokens: list[tuple[str, str | None]] = []
        for token in ins.value:
            name, eq, default = token.partition("=")
            if not name:
                raise self.error("ARG names can not be blank", ins.start_line)
            tokens.append((name, default if eq else None))
        return tokens

    def from_line(self, draft: _StageDraft, meta: Mapping[str, str], names_so_far: Mapping[str, int]) -> None:
        """Resolve a FROM: substitute global ARGs, then match an earlier stage's name or validate an image ref."""
        ins = draft.from_ins
        flags, _ = self.flags(ins, "FROM", None, meta)
        raw_platform = next((f.partition("=")[2] for f in ins.flags if f.startswith("--platform=")), "")
        raw_base = ins.value[0]
        try:
            result = expand_word(raw_base, meta, escape=self.escape)
        except ExpansionError as exc:
            raise self.error(f"failed to process {raw_base!r}: {exc}", ins.start_line) from None
        used = set(result.matched)
        base = result.text
        if base == "":
            raise self.error(f"base name ({raw_base}) should not be blank", ins.start_line)
        for name in sorted(result.unmatched - self.global_names):
            self.warnings.append(f"line {ins.start_line}: FROM uses {name!r}, which is no ARG before the first FROM "
                                 "(expands to empty)")
        platform = None
        if "platform" in flags:
            pres = expand_word(raw_platform, meta, escape=self.escape)
            used |= pres.matched
            platform = flags["platform"][0]
            if platform == "":
                raise self.error(f"empty platform value from expression {raw_platform}", ins.start_line)
        draft.base = base
        draft.platform = platform
        draft.from_args_used = tuple(sorted(used))
        if base in names_so_far:
            draft.base_stage = names_so_far[base]
        elif base.lower() != "scratch" and not _REFERENCE_RE.match(base):
            raise self.error(f"failed to parse stage name {base!r}: invalid reference format", ins.start_line)
        parts = ["FROM"]
        if platform is not None:
            parts.append(f"--platform={platform}")
        parts.append(base)
        if draft.name is not None:
            parts += ["AS", draft.name]
        draft.text = " ".join(parts)

    def stage_scope(self, draft: _StageDraft, drafts: Sequence[_StageDraft]) -> _Scope:
        """The scope a stage starts with: its base stage's final scope, or an empty one for an image."""
        if draft.base_stage is not None:
            parent = drafts[draft.base_stage].scope
            assert parent is not None
            return parent.copy()
        if draft.base.lower() == "scratch":
            return _Scope(self.escape, env={"PATH": DEFAULT_PATH}, kinds={"PATH": "env"})
        return _Scope(self.escape, image_env_unknown=True)

    # -- steps ----------------------------------------------------------------------------------------------------

    def step(self, draft: _StageDraft, ins: Instruction, scope: _Scope, meta: Mapping[str, str],
             onbuild_from: str | None = None) -> Step:
        """Turn one instruction into a :class:`Step`, updating the stage's scope (ENV, ARG, WORKDIR)."""
        cmd = ins.cmd
        line = ins.start_line
        if cmd not in _KNOWN_INSTRUCTIONS:
            raise self.error(f"unknown instruction: {cmd}", line)
        if cmd == "FROM":
            raise self.error("FROM isn't allowed as an ONBUILD trigger", line)
        flag_values, shown_flags = self.flags(ins, cmd, scope)
        common: dict[str, Any] = {"stage": draft.index, "index": len(draft.steps), "instruction": cmd, "line": line,
                                  "end_line": ins.end_line, "flags": shown_flags, "onbuild_from": onbuild_from,
                                  "workdir": scope.workdir}
        uses: set[str] = set()
        if cmd in ("COPY", "ADD"):
            return self.copy_step(draft, ins, scope, flag_values, shown_flags, common, uses)
        if cmd == "RUN":
            return self.run_step(draft, ins, scope, flag_values, shown_flags, common)
        if cmd == "ARG":
            return self.arg_step(ins, scope, meta, common)
        if cmd in ("ENV", "LABEL"):
            expanded = [(self.expand_with_uses(k, scope, line, uses), self.expand_with_uses(v, scope, line, uses))
                        for k, v in ins.pairs]
            if cmd == "ENV":
                for key, value in expanded:
                    scope.env[key] = value
                    scope.kinds[key] = "env"
            text = cmd + " " + " ".join(f"{k}={_show(v)}" for k, v in expanded)
            return Step(**common, text=text, creates_layer=False, words=tuple(w for kv in expanded for w in kv),
                        pairs=tuple(expanded), args_used=tuple(sorted(uses)))
        if cmd == "WORKDIR":
            if len(ins.value) != 1:
                raise self.error("WORKDIR requires exactly one argument", line)
            path = self.expand_with_uses(ins.value[0], scope, line, uses)
            scope.workdir = _resolve_workdir(scope.workdir, path)
            creates = scope.workdir != "/"
            common["workdir"] = scope.workdir
            return Step(**common, text=f"WORKDIR {path}", creates_layer=creates, words=(path,),
                        args_used=tuple(sorted(uses)))
        if cmd == "ONBUILD":
            sub = ins.sub
            if sub is None:
                raise self.error("ONBUILD requires at least one argument", line)
            if sub.cmd == "ONBUILD":
                raise self.error("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed", line)
            if sub.cmd in ("FROM", "MAINTAINER"):
                raise self.error(f"{sub.cmd} isn't allowed as an ONBUILD trigger", line)
            draft.triggers.append(sub)
            return Step(**common, text="ONBUILD " + _trigger_text(sub), creates_layer=False)
        if cmd in _EXPANDING:
            words = tuple(self.expand_with_uses(w, scope, line, uses) for w in ins.value)
            return Step(**common, text=_join(cmd, shown_flags, words, ins.json), creates_layer=False, words=words,
                        args_used=tuple(sorted(uses)))
        rest = arguments_text(ins)
        return Step(**common, text=_join(cmd, shown_flags, (rest,), False), creates_layer=False, words=ins.value)

    def arg_step(self, ins: Instruction, scope: _Scope, meta: Mapping[str, str], common: dict[str, Any]) -> Step:
        """ARG in a stage: a build arg wins, then the default, then the global ARG of the same name."""
        pairs: list[tuple[str, str | None]] = []
        uses: set[str] = set()
        for name, default in self.arg_tokens(ins):
            value: str | None
            if name in self.build_args:
                value = self.build_args[name]
            elif default is not None:
                value = self.expand_with_uses(default, scope, ins.start_line, uses)
            else:
                value = meta.get(name)
            if value is not None:
                scope.env[name] = value
                scope.kinds[name] = "arg"
            if name not in scope.declared:
                scope.declared.append(name)
            pairs.append((name, value))
        text = "ARG " + " ".join(n if v is None else f"{n}={_show(v)}" for n, v in pairs)
        return Step(**common, text=text, creates_layer=False, pairs=tuple(pairs),
                    args_defined=tuple(n for n, _ in pairs), args_used=tuple(sorted(uses)))

    def copy_step(self, draft: _StageDraft, ins: Instruction, scope: _Scope, flags: dict[str, list[str]],
                  shown: tuple[str, ...], common: dict[str, Any], uses: set[str]) -> Step:
        """COPY/ADD: sources and destination after substitution, and the stage or image of ``--from``."""
        cmd = ins.cmd
        line = ins.start_line
        if len(ins.value) < 2:
            raise self.error(f"{cmd} requires at least two arguments, but only one was provided. "
                             "Destination could not be determined", line)
        heredoc_names = {h.name for h in ins.heredocs}
        words: list[str] = []
        for word in ins.value:
            if ins.heredocs and _heredoc_name(word) in heredoc_names:
                words.append(word)
            else:
                words.append(self.expand_with_uses(word, scope, line, uses))
        if ins.heredocs and _heredoc_name(ins.value[-1]) in heredoc_names:
            raise self.error(f"{cmd} cannot accept a heredoc as a destination", line)
        from_stage: str | None = None
        from_is_stage = False
        depends: tuple[str, ...] = ()
        if "from" in flags:
            from_stage, from_is_stage = self.resolve_from(flags["from"][0], draft.index, line)
            if from_is_stage:
                depends = (from_stage,)
        chown = flags.get("chown", [None])[0]
        chmod = flags.get("chmod", [None])[0]
        link = flags.get("link", ["false"])[0] == "true"
        return Step(**common, text=_join(cmd, shown, tuple(words), ins.json), creates_layer=True,
                    words=tuple(words), sources=tuple(words[:-1]), dest=words[-1], from_stage=from_stage,
                    from_is_stage=from_is_stage, chown=chown, chmod=chmod, link=link,
                    heredoc=bool(ins.heredocs), heredocs=tuple((h.name, h.content) for h in ins.heredocs),
                    args_used=tuple(sorted(uses)), depends_on=depends)

    def resolve_from(self, value: str, current: int, line: int) -> tuple[str, bool]:
        """``COPY --from``: a stage index, a stage name (any stage of the file), or else an image reference."""
        if expand_word(value, {}, escape=self.escape).text != value:
            raise self.error("variable expansion is not supported for --from, define a new stage with FROM using "
                             "ARG from global scope as a workaround", line)
        if re.fullmatch(r"[+-]?[0-9]+", value):
            index = int(value)
            if not 0 <= index < len(self.stage_refs):
                raise self.error(f"invalid stage index {index}", line)
        else:
            named = self.names_final.get(value.lower())
            if named is None:
                if not _REFERENCE_RE.match(value):
                    raise self.error(f"--from={value}: not a stage of this file nor a valid image reference", line)
                return value, False
            index = named
        if index == current:
            raise self.error(f"circular dependency detected on stage: {self.stage_refs[index]}", line)
        return self.stage_refs[index], True

    def run_step(self, draft: _StageDraft, ins: Instruction, scope: _Scope, flags: dict[str, list[str]],
                 shown: tuple[str, ...], common: dict[str, Any]) -> Step:
        """RUN: command text (heredoc bodies included), mounts and the ARGs in the command's environment."""
        line = ins.start_line
        mounts = tuple(self.mount(raw, scope, line) for raw in flags.get("mount", []))
        shown = tuple(f if not f.startswith("--mount=") else "--mount=" + _mount_text(m)
                      for f, m in zip(shown, _align_mounts(shown, mounts), strict=True))
        common = {**common, "flags": shown}
        if ins.heredocs:
            if len(ins.value) == 1 and len(ins.heredocs) == 1 and _heredoc_name(ins.value[0]) == ins.heredocs[0].name:
                command = ins.heredocs[0].content
            else:
                command = ins.value[0] if ins.value else ""
                for h in ins.heredocs:
                    command += "\n" + h.content + h.name
        elif ins.json:
            command = json.dumps(list(ins.value), ensure_ascii=False)
        else:
            command = ins.value[0] if ins.value else ""
        if not command.strip() and not ins.json:
            raise self.error("RUN requires at least one argument", line)
        depends = tuple(dict.fromkeys(m.from_stage for m in mounts if m.from_is_stage and m.from_stage))
        text = _join("RUN", shown, (arguments_text(ins),), False)
        return Step(**common, text=text, creates_layer=True, words=ins.value, command=command,
                    exec_form=ins.json, mounts=mounts, network=flags.get("network", [None])[0],
                    security=flags.get("security", [None])[0], heredoc=bool(ins.heredocs),
                    heredocs=tuple((h.name, h.content) for h in ins.heredocs),
                    args_used=tuple(scope.declared), depends_on=depends)

    def mount(self, raw: str, scope: _Scope, line: int) -> Mount:
        """Parse one ``--mount`` value (CSV of key=value) as BuildKit does; values other than from= are substituted."""
        try:
            fields = next(csv.reader([raw]))
        except (csv.Error, StopIteration):
            raise self.error(f"failed to parse csv mounts: {raw!r}", line) from None
        mtype = "bind"
        values: dict[str, str] = {}
        options: list[tuple[str, str]] = []
        readonly: bool | None = None
        for item in fields:
            key, eq, value = item.partition("=")
            key = key.lower()
            canonical = _MOUNT_KEYS.get(key)
            if canonical is None:
                raise self.error(f"unexpected key '{key}' in '{item}'", line)
            if not eq:
                if canonical == "readonly":
                    readonly = True
                elif canonical == "readwrite":
                    readonly = False
                elif canonical == "required" and mtype in ("secret", "ssh"):
                    pass
                else:
                    raise self.error(f"invalid field '{item}' must be a key=value pair", line)
                options.append((canonical, "true"))
                continue
            if canonical == "from":
                if re.search(r"\$.", value):
                    raise self.error("'from' doesn't support variable expansion, define alias stage instead", line)
            else:
                value = self.expand(value, scope, None, line)
            if canonical == "type":
                mtype = value.lower()
                if mtype not in _MOUNT_TYPES:
                    raise self.error(f"unsupported mount type {value!r}", line)
            elif canonical == "sharing" and value.lower() not in _SHARING_MODES:
                raise self.error(f"unsupported sharing value {value!r}", line)
            elif canonical in ("readonly", "readwrite"):
                if value.lower() not in ("true", "false", "1", "0", "t", "f"):
                    raise self.error(f"invalid value for {key}: {value}", line)
                flag = value.lower() in ("true", "1", "t")
                readonly = flag if canonical == "readonly" else not flag
            values[canonical] = value
            options.append((canonical, value))
        if "sharing" in values and mtype != "cache":
            raise self.error(f"invalid cache sharing set for {mtype} mount", line)
        if readonly is None:
            readonly = mtype not in ("cache", "tmpfs")
        target = values.get("target")
        if mtype in ("bind", "cache", "tmpfs"):
            # BuildKit mounts a relative (or missing) target under the working directory; "/" is refused
            target = _resolve_workdir(scope.workdir, target or "")
            if target == "/":
                raise self.error(f"invalid mount target {target!r}", line)
        from_value = values.get("from") or None
        from_is_stage = False
        if from_value is not None and mtype != "tmpfs":
            index = self.names_final.get(from_value.lower())
            if index is not None:
                from_value, from_is_stage = self.stage_refs[index], True
        mount_id = values.get("id") or (target if mtype == "cache" else None)
        return Mount(mtype, target, values.get("source"), from_value, from_is_stage, mount_id,
                     readonly, tuple(options))

    # -- ONBUILD triggers of a base stage -------------------------------------------------------------------------

    def trigger_steps(self, draft: _StageDraft, drafts: Sequence[_StageDraft], scope: _Scope,
                      meta: Mapping[str, str]) -> None:
        """Run the base stage's ONBUILD triggers first, in the child's scope, as BuildKit does."""
        if draft.base_stage is None:
            return
        parent = drafts[draft.base_stage]
        for trigger in parent.triggers:
            draft.steps.append(self.step(draft, trigger, scope, meta, onbuild_from=parent_ref(parent)))


def parent_ref(draft: _StageDraft) -> str:
    return draft.name if draft.name is not None else str(draft.index)


# --- helpers -------------------------------------------------------------------------------------------------------


def _heredoc_name(word: str) -> str | None:
    """The name of a heredoc marker (``<<EOF``, ``<<-EOF``, ``<<"EOF"``), or None for an ordinary word."""
    match = re.match(r"^<<-?(['\"]?)([^'\"]+)\1$", word)
    return match.group(2) if match else None


def _show(value: str) -> str:
    """A value as it reads in an instruction: quoted when it is empty or holds whitespace or quotes."""
    if value == "" or re.search(r"[\s\"']", value):
        return json.dumps(value, ensure_ascii=False)
    return value


def _join(cmd: str, flags: Sequence[str], words: Sequence[str], json_form: bool) -> str:
    parts = [cmd, *flags]
    if json_form:
        parts.append(json.dumps(list(words), ensure_ascii=False))
    else:
        parts += [w for w in words if w != ""]
    return " ".join(parts)


def _trigger_text(sub: Instruction) -> str:
    return _join(sub.cmd, sub.flags, (arguments_text(sub),), False)


def _align_mounts(shown: Sequence[str], mounts: Sequence[Mount]) -> list[Mount | None]:
    """Pair each shown flag with its mount (None for other flags), in order."""
    it = iter(mounts)
    return [next(it) if f.startswith("--mount=") else None for f in shown]


def _mount_text(mount: Mount | None) -> str:
    if mount is None:
        return ""
    return ",".join(k if v == "true" and k in ("readonly", "readwrite", "required") else f"{k}={v}"
                    for k, v in mount.options)


def _resolve_workdir(current: str, path: str) -> str:
    """WORKDIR resolution: relative to the current directory; Windows drive letters and separators normalised."""
    p = path
    if re.match(r"^[A-Za-z]:", p):
        p = p[2:]
    p = p.replace("\\", "/")
    if not p.startswith("/"):
        p = posixpath.join(current or "/", p)
    out = posixpath.normpath(p)
    return "/" if out in ("", ".", "//") else out


def _stage_index(plan: BuildPlan, ref: str | int) -> int:
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


def _stage_deps(stage: Stage, stages: Sequence[Stage]) -> list[int]:
    """Indices of the stages ``stage`` needs: its base stage, then what its steps copy or mount from.

    A name used twice resolves like BuildKit: FROM sees the stages defined so far, ``--from`` the last one.
    """
    refs = {s.ref: s.index for s in stages}
    deps = [] if stage.base_stage is None else [stage.base_stage]
    deps += [refs[r] for step in stage.steps for r in step.depends_on if r in refs]
    return list(dict.fromkeys(deps))


# --- public entry points -------------------------------------------------------------------------------------------


def needed_stages(plan: BuildPlan, target: str | int | None = None) -> list[int]:
    """The stages BuildKit builds for ``target``: the closure of its base, ``COPY --from`` and ``--mount from=``.

    Returned in dependency order (every stage after the stages it needs; ties by position in the file). BuildKit
    refuses to copy from a stage defined after the one copying, so that is an error here too.
    """
    start = plan.target_index if target is None else _stage_index(plan, target)
    seen: set[int] = set()
    todo = [start]
    while todo:
        i = todo.pop()
        if i in seen:
            continue
        seen.add(i)
        todo.extend(_stage_deps(plan.stages[i], plan.stages))
    for i in sorted(seen):
        stage = plan.stages[i]
        for step in stage.steps:
            for dep in step.depends_on:
                j = plan.stage(dep).index
                if j > i:
                    raise ScenarioError(f"cannot copy from stage {dep!r}, it needs to be defined before current "
                                        f"stage {stage.ref!r}", file=plan.filename, line=step.line)
    order: list[int] = []
    placed: set[int] = set()
    while len(order) < len(seen):
        ready = [i for i in sorted(seen - placed)
                 if all(d in placed for d in _stage_deps(plan.stages[i], plan.stages))]
        if not ready:
            cycle = ", ".join(plan.stages[i].ref for i in sorted(seen - placed))
            raise ScenarioError(f"circular dependency detected on stages: {cycle}", file=plan.filename)
        order.append(ready[0])
        placed.add(ready[0])
    return order


def make_plan(text: str, *, filename: str = "Dockerfile", build_args: Mapping[str, str] | None = None,
              target: str | None = None, platform: str = DEFAULT_PLATFORM) -> BuildPlan:
    """Plan a build of ``text`` for ``target`` (default: the last stage) with ``build_args`` and ``platform``.

    Raises :class:`ScenarioError` (file and line) for what BuildKit rejects before running anything: parse errors,
    unknown instructions or flags, a blank or invalid base image, bad substitutions, unknown targets, stage cycles.
    """
    instructions = parse_dockerfile(text, filename=filename)
    direct = directives(text)
    planner = _Planner(filename, build_args or {}, platform, direct.escape)

    global_arg_ins: list[Instruction] = []
    drafts: list[_StageDraft] = []
    for ins in instructions:
        if ins.cmd == "FROM":
            drafts.append(_StageDraft(len(drafts), _stage_name(planner, ins), ins))
        elif not drafts:
            if ins.cmd != "ARG":
                if ins.cmd not in _KNOWN_INSTRUCTIONS:
                    raise planner.error(f"unknown instruction: {ins.cmd}", ins.start_line)
                raise planner.error(f"{ins.cmd}: no build stage in current context (instructions other than ARG "
                                    "must follow a FROM)", ins.start_line)
            global_arg_ins.append(ins)
        else:
            drafts[-1].body.append(ins)
    if not drafts:
        raise planner.error("dockerfile contains no stages to build (no FROM)", instructions[-1].start_line)

    planner.stage_refs = [parent_ref(d) for d in drafts]
    for d in drafts:
        if d.name is not None:
            if d.name in planner.names_final:
                planner.warnings.append(f"line {d.from_ins.start_line}: duplicate stage name {d.name!r}")
            planner.names_final[d.name] = d.index

    meta = platform_args(platform)
    args_before_from = planner.global_args(global_arg_ins, meta)

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

    stages = tuple(_freeze(d) for d in drafts)
    if target is None:
        target_index = len(stages) - 1
    else:
        target_index = -1
        for s in stages:
            if s.name is not None and s.name == target.lower():
                target_index = s.index
        if target_index < 0:
            names = ", ".join(s.name for s in stages if s.name) or "none"
            raise ScenarioError(f"target stage {target!r} could not be found (stages: {names})", file=filename)

    plan = BuildPlan(filename=filename, stages=stages, target=stages[target_index].ref, target_index=target_index,
                     needed=(), args_before_from=args_before_from, build_args=tuple(sorted(planner.build_args.items())),
                     platform=platform, escape=direct.escape, syntax=direct.syntax, warnings=tuple(planner.warnings))
    _check_cycles(plan)
    return replace(plan, needed=tuple(needed_stages(plan, target_index)))


def _stage_name(planner: _Planner, ins: Instruction) -> str | None:
    """The ``AS name`` of a FROM (lower-cased, as BuildKit stores it), validated."""
    if len(ins.value) == 3 and ins.value[1].lower() == "as":
        name = ins.value[2].lower()
        if not _STAGE_NAME_RE.match(name):
            raise planner.error(f"invalid name for build stage: {ins.value[2]!r}, name can't start with a number or "
                                "contain symbols", ins.start_line)
        return name
    if len(ins.value) != 1:
        raise planner.error("FROM requires either one or three arguments", ins.start_line)
    return None


def _freeze(d: _StageDraft) -> Stage:
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
                 steps=tuple(steps), onbuild=tuple(_trigger_text(t) for t in d.triggers),
                 from_args_used=d.from_args_used, depends_on=tuple(dict.fromkeys(deps)))


def _check_cycles(plan: BuildPlan) -> None:
    """BuildKit rejects any dependency cycle between stages, needed by the target or not."""
    state: dict[int, int] = {}

    def visit(i: int, path: list[int]) -> None:
        state[i] = 1
        for j in _stage_deps(plan.stages[i], plan.stages):
            if state.get(j) == 1:
                cycle = " -> ".join(plan.stages[k].ref for k in [*path[path.index(j):], j]) if j in path else ""
                raise ScenarioError(f"circular dependency detected on stage: {plan.stages[j].ref} ({cycle})",
                                    file=plan.filename, line=plan.stages[i].line)
            if state.get(j) is None:
                visit(j, [*path, j])
        state[i] = 2

    for stage in plan.stages:
        if stage.index not in state:
            visit(stage.index, [stage.index])
