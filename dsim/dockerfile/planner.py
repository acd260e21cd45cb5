"""The planner: turns the instructions of a Dockerfile into stages and steps, one instruction at a time.

It applies BuildKit's rules for global ``ARG`` before the first ``FROM``, a stage's ``FROM`` line, variable
substitution (a stage's ENV and ARG scope), flags, ``COPY --from``, ``RUN --mount``, heredocs and the ``ONBUILD``
triggers of a stage used as a base. :func:`dsim.dockerfile.plan.make_plan` drives it over the stages in order.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from dsim.dockerfile.expand import ExpansionError, expand_word
from dsim.dockerfile.grammar import EXPANDING, FLAGS, KNOWN_INSTRUCTIONS, REFERENCE_RE
from dsim.dockerfile.instruction_text import heredoc_name, join_instruction, show_value, trigger_text
from dsim.dockerfile.mounts import align_mounts, mount_text, parse_mount
from dsim.dockerfile.parse import Instruction, arguments_text
from dsim.dockerfile.plan_types import ArgDef, Mount, Step
from dsim.dockerfile.scope import DEFAULT_PATH, Scope, StageDraft, resolve_workdir
from dsim.errors import ScenarioError

__all__ = ["Planner"]


def unknown_instruction(cmd: str) -> str:
    """BuildKit's message, naming the first word only when it looks like a keyword (letters, at most 20):
    a file that is no Dockerfile must not have its contents (a password hash, a key) echoed."""
    if re.fullmatch(r"[A-Z]{1,20}", cmd):
        return f"unknown instruction: {cmd}"
    return "unknown instruction (the line does not start with a Dockerfile keyword)"


class Planner:
    """Builds the stages of a :class:`~dsim.dockerfile.plan_types.BuildPlan`; holds what every step needs (file name,
    stage names, build args) and the warnings met on the way."""

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
        """An error at ``line`` of this Dockerfile, for the caller to raise."""
        return ScenarioError(message, file=self.filename, line=line)

    # -- flags ----------------------------------------------------------------------------------------------------

    def flags(self, ins: Instruction, cmd: str, scope: Scope | None,
              meta: Mapping[str, str] | None = None) -> tuple[dict[str, list[str]], tuple[str, ...]]:
        """Parse ``--name[=value]`` flags the way BuildKit's flag parser accepts them; values are substituted."""
        allowed = FLAGS.get(cmd, {})
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

    def expand(self, word: str, scope: Scope | None, meta: Mapping[str, str] | None, line: int) -> str:
        try:
            if scope is not None:
                return scope.expand(word).text
            return expand_word(word, meta or {}, escape=self.escape).text
        except ExpansionError as exc:
            raise self.error(f"failed to process {word!r}: {exc}", line) from None

    def expand_with_uses(self, word: str, scope: Scope, line: int, uses: set[str]) -> str:
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

    def from_line(self, draft: StageDraft, meta: Mapping[str, str], names_so_far: Mapping[str, int]) -> None:
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
        elif base.lower() != "scratch" and not REFERENCE_RE.match(base):
            raise self.error(f"failed to parse stage name {base!r}: invalid reference format", ins.start_line)
        parts = ["FROM"]
        if platform is not None:
            parts.append(f"--platform={platform}")
        parts.append(base)
        if draft.name is not None:
            parts += ["AS", draft.name]
        draft.text = " ".join(parts)

    def stage_scope(self, draft: StageDraft, drafts: Sequence[StageDraft]) -> Scope:
        """The scope a stage starts with: its base stage's final scope, or an empty one for an image."""
        if draft.base_stage is not None:
            parent = drafts[draft.base_stage].scope
            assert parent is not None
            return parent.copy()
        if draft.base.lower() == "scratch":
            return Scope(self.escape, env={"PATH": DEFAULT_PATH}, kinds={"PATH": "env"})
        return Scope(self.escape, image_env_unknown=True)

    # -- steps ----------------------------------------------------------------------------------------------------

    def step(self, draft: StageDraft, ins: Instruction, scope: Scope, meta: Mapping[str, str],
             onbuild_from: str | None = None) -> Step:
        """Turn one instruction into a :class:`Step`, updating the stage's scope (ENV, ARG, WORKDIR)."""
        cmd = ins.cmd
        line = ins.start_line
        if cmd not in KNOWN_INSTRUCTIONS:
            raise self.error(unknown_instruction(cmd), line)
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
            text = cmd + " " + " ".join(f"{k}={show_value(v)}" for k, v in expanded)
            return Step(**common, text=text, creates_layer=False, words=tuple(w for kv in expanded for w in kv),
                        pairs=tuple(expanded), args_used=tuple(sorted(uses)))
        if cmd == "WORKDIR":
            if len(ins.value) != 1:
                raise self.error("WORKDIR requires exactly one argument", line)
            path = self.expand_with_uses(ins.value[0], scope, line, uses)
            scope.workdir = resolve_workdir(scope.workdir, path)
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
            return Step(**common, text="ONBUILD " + trigger_text(sub), creates_layer=False)
        if cmd in EXPANDING:
            words = tuple(self.expand_with_uses(w, scope, line, uses) for w in ins.value)
            return Step(**common, text=join_instruction(cmd, shown_flags, words, ins.json), creates_layer=False,
                        words=words, args_used=tuple(sorted(uses)))
        rest = arguments_text(ins)
        return Step(**common, text=join_instruction(cmd, shown_flags, (rest,), False), creates_layer=False,
                    words=ins.value)

    def arg_step(self, ins: Instruction, scope: Scope, meta: Mapping[str, str], common: dict[str, Any]) -> Step:
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
        text = "ARG " + " ".join(n if v is None else f"{n}={show_value(v)}" for n, v in pairs)
        return Step(**common, text=text, creates_layer=False, pairs=tuple(pairs),
                    args_defined=tuple(n for n, _ in pairs), args_used=tuple(sorted(uses)))

    def copy_step(self, draft: StageDraft, ins: Instruction, scope: Scope, flags: dict[str, list[str]],
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
            if ins.heredocs and heredoc_name(word) in heredoc_names:
                words.append(word)
            else:
                words.append(self.expand_with_uses(word, scope, line, uses))
        if ins.heredocs and heredoc_name(ins.value[-1]) in heredoc_names:
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
        return Step(**common, text=join_instruction(cmd, shown, tuple(words), ins.json), creates_layer=True,
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
                if not REFERENCE_RE.match(value):
                    raise self.error(f"--from={value}: not a stage of this file nor a valid image reference", line)
                return value, False
            index = named
        if index == current:
            raise self.error(f"circular dependency detected on stage: {self.stage_refs[index]}", line)
        return self.stage_refs[index], True

    def run_step(self, draft: StageDraft, ins: Instruction, scope: Scope, flags: dict[str, list[str]],
                 shown: tuple[str, ...], common: dict[str, Any]) -> Step:
        """RUN: command text (heredoc bodies included), mounts and the ARGs in the command's environment."""
        line = ins.start_line
        mounts = tuple(self.mount(raw, scope, line) for raw in flags.get("mount", []))
        shown = tuple(f if not f.startswith("--mount=") else "--mount=" + mount_text(m)
                      for f, m in zip(shown, align_mounts(shown, mounts), strict=True))
        common = {**common, "flags": shown}
        if ins.heredocs:
            if len(ins.value) == 1 and len(ins.heredocs) == 1 and heredoc_name(ins.value[0]) == ins.heredocs[0].name:
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
        text = join_instruction("RUN", shown, (arguments_text(ins),), False)
        return Step(**common, text=text, creates_layer=True, words=ins.value, command=command,
                    exec_form=ins.json, mounts=mounts, network=flags.get("network", [None])[0],
                    security=flags.get("security", [None])[0], heredoc=bool(ins.heredocs),
                    heredocs=tuple((h.name, h.content) for h in ins.heredocs),
                    args_used=tuple(scope.declared), depends_on=depends)

    def mount(self, raw: str, scope: Scope, line: int) -> Mount:
        """Parse one ``--mount`` value; a ``from=`` naming a stage of the file refers to its last stage of that name."""

        def stage_ref(value: str) -> str | None:
            index = self.names_final.get(value.lower())
            return None if index is None else self.stage_refs[index]

        return parse_mount(raw, workdir=scope.workdir, expand=lambda value: self.expand(value, scope, None, line),
                           stage_ref=stage_ref, error=lambda message: self.error(message, line))

    # -- ONBUILD triggers of a base stage -------------------------------------------------------------------------

    def trigger_steps(self, draft: StageDraft, drafts: Sequence[StageDraft], scope: Scope,
                      meta: Mapping[str, str]) -> None:
        """Run the base stage's ONBUILD triggers first, in the child's scope, as BuildKit does."""
        if draft.base_stage is None:
            return
        parent = drafts[draft.base_stage]
        for trigger in parent.triggers:
            draft.steps.append(self.step(draft, trigger, scope, meta, onbuild_from=parent.ref))
