"""Dockerfile parsing through the PyPI package ``dockerfile`` (BuildKit's Go parser), plus BuildKit's ``Node.Dump()``.

The package wraps ``moby/buildkit/frontend/dockerfile/parser`` (v0.12.5), so line joining, heredocs, JSON forms and
the ``# escape`` directive behave exactly as in Docker; dsim does not lex Dockerfiles itself. The package flattens
BuildKit's node tree into ``Command`` tuples and loses a few things on the way; :func:`parse_dockerfile` restores
them from the instruction's own source text where that is possible (see ``DEVIATIONS``):

* the ENV/LABEL separator (``"="`` for ``k=v``, ``""`` for the legacy ``K v`` form) is read back from the source;
* the flags of an ``ONBUILD`` sub-instruction are recovered by parsing the sub-instruction again with the package;
* a JSON-form string holding ``\\u0000`` is cut at the NUL by the package (a C string crosses the boundary); the
  array is decoded again from the source with :mod:`json`, which yields the same strings as Go's ``encoding/json``.

The Go parser's error messages carry no line number; :func:`parse_dockerfile` finds the failing instruction by
parsing growing prefixes of the file with the same package (see :func:`_locate_error`).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import dockerfile as _pkg

from dsim.dockerfile.read import UnreadableDockerfile, read_dockerfile
from dsim.errors import ScenarioError

__all__ = [
    "DEVIATIONS",
    "Directives",
    "Heredoc",
    "Instruction",
    "arguments_text",
    "directives",
    "dump",
    "dump_instruction",
    "go_quote",
    "parse_dockerfile",
    "parse_file",
]

#: Known differences between the package's output and BuildKit's parse tree, and what dsim does about them.
#: Every entry is either repaired here (``repaired: True``) or still visible in :func:`dump` output.
DEVIATIONS: dict[str, dict[str, object]] = {
    "env-label-separator": {
        "repaired": True,
        "what": "ENV/LABEL values come as (key, value) pairs without BuildKit's third field, the separator",
        "fix": "read back from the instruction's source: '=' when the first key is followed by '=', else ''",
    },
    "onbuild-subcommand-flags": {
        "repaired": True,
        "what": "ONBUILD <instruction> --flag ... loses the sub-instruction's flags",
        "fix": "the sub-instruction's source text is parsed again with the package, which keeps its flags",
    },
    "json-nul": {
        "repaired": True,
        "what": "a JSON-form string containing \\u0000 is cut at the NUL (a C string crosses the Go/Python boundary)",
        "fix": "the JSON array is decoded again from the source with Python's json module",
    },
    "literal-nul": {
        "repaired": False,
        "what": "a raw NUL byte anywhere else in an instruction is still truncated by the package",
        "fix": "none; BuildKit's golden cases contain no such byte",
    },
}

_DIRECTIVE_RE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_KNOWN_DIRECTIVES = frozenset({"syntax", "escape", "check"})
_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


@dataclass(frozen=True)
class Heredoc:
    """One here-document of an instruction (``RUN <<EOF``): its name, file descriptor and body."""

    name: str
    content: str
    file_descriptor: int = 0


@dataclass(frozen=True)
class Instruction:
    """One instruction as BuildKit's parser sees it.

    ``cmd`` is upper-case. ``value`` holds the arguments as BuildKit's node chain holds them; for ENV and LABEL it
    holds (key, value) pairs flattened and ``separator`` holds BuildKit's third field. For ONBUILD, ``sub`` is the
    triggered instruction (with its own flags) and ``value`` mirrors ``sub.value``. ``original`` is the logical
    line after continuation joining (heredoc bodies included), as BuildKit keeps it.
    """

    cmd: str
    value: tuple[str, ...]
    flags: tuple[str, ...]
    json: bool
    original: str
    start_line: int
    end_line: int
    heredocs: tuple[Heredoc, ...] = ()
    separator: str | None = None
    sub: Instruction | None = None

    @property
    def pairs(self) -> tuple[tuple[str, str], ...]:
        """(key, value) pairs of an ENV or LABEL instruction (raw, quotes kept)."""
        return tuple(zip(self.value[0::2], self.value[1::2], strict=False))


@dataclass(frozen=True)
class Directives:
    """Parser directives at the top of a Dockerfile (``# syntax=``, ``# escape=``, ``# check=``)."""

    escape: str = "\\"
    syntax: str | None = None
    check: str | None = None


def directives(text: str) -> Directives:
    """Read the parser directives BuildKit honours: ``# key=value`` lines before any other line.

    The first line that is not a known directive (a plain comment, a blank line, an instruction) ends the block,
    which is why ``escape-after-comment`` keeps the default escape. The package applies the same rule internally;
    dsim needs the values for variable substitution (escape) and for reporting (syntax).
    """
    found: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines()):
        line = raw.lstrip("\ufeff") if number == 0 else raw
        match = _DIRECTIVE_RE.match(line.strip())
        if match is None or match.group(1).lower() not in _KNOWN_DIRECTIVES:
            break
        found.setdefault(match.group(1).lower(), match.group(2))
    escape = found.get("escape", "\\")
    return Directives(escape=escape if escape in ("\\", "`") else "\\", syntax=found.get("syntax"),
                      check=found.get("check"))


def parse_file(path: str | Path) -> list[Instruction]:
    """Parse a Dockerfile on disk; errors name ``path``."""
    p = Path(path)
    return parse_dockerfile(read_file(p), filename=str(p))


def read_file(path: Path) -> str:
    """The text of a Dockerfile on disk (dsim.dockerfile.read's checks); errors name ``path``."""
    try:
        return read_dockerfile(path)
    except UnreadableDockerfile as exc:
        raise ScenarioError(f"cannot read Dockerfile: {exc.message}", file=str(path)) from None


def parse_dockerfile(text: str, *, filename: str = "Dockerfile") -> list[Instruction]:
    """Parse ``text`` with BuildKit's parser; a parse error becomes a ScenarioError naming ``filename`` and line."""
    try:
        return list(_parsed(text))
    except _pkg.GoParseError as exc:
        message = str(exc)
        line = _locate_error(text, message)
        if message == "file with no instructions":
            message = "file with no instructions (only blank lines, comments or parser directives)"
        raise ScenarioError(message, file=filename, line=line) from exc


@functools.lru_cache(maxsize=256)
def _parsed(text: str) -> tuple[Instruction, ...]:
    """The instructions of ``text``, parsed once per text (they are frozen, so every caller may share them). The
    package's parser leaks the Python objects it makes for each instruction (about 50 for 11 instructions, in
    its Go bridge), which in a process running many scenarios or builds (a sweep worker, ``dsim serve``) kept
    whole memory pools alive: parsing each text once bounds that."""
    escape = directives(text).escape
    return tuple(_convert(command, escape) for command in _pkg.parse_string(text))


def _convert(command: _pkg.Command, escape: str) -> Instruction:
    """Turn one package ``Command`` into an :class:`Instruction`, repairing what the package drops."""
    cmd = command.cmd.upper()
    heredocs = tuple(Heredoc(h.name, h.content, h.file_descriptor) for h in command.heredocs)
    value = tuple(command.value)
    if command.json and "\\u0000" in command.original:
        value = _redecode_json(command.original, value)
    if cmd == "ONBUILD":
        sub = _onbuild_sub(command, escape)
        return Instruction(cmd, sub.value, tuple(command.flags), command.json, command.original, command.start_line,
                           command.end_line, heredocs, None, sub)
    separator = _separator(command.original, tuple(command.flags), value) if cmd in ("ENV", "LABEL") else None
    return Instruction(cmd, value, tuple(command.flags), command.json, command.original, command.start_line,
                       command.end_line, heredocs, separator)


def arguments_text(ins: Instruction) -> str:
    """The source text of ``ins`` after its keyword and flags, e.g. ``echo hi`` for ``RUN --network=none echo hi``."""
    return _rest_after_keyword(ins.original, ins.flags)


def _rest_after_keyword(original: str, flags: Sequence[str]) -> str:
    """The source text after the instruction keyword and its flags (BuildKit's ``rest``), whitespace-trimmed."""
    parts = original.strip().split(None, 1)
    rest = parts[1] if len(parts) > 1 else ""
    for flag in flags:
        if rest.startswith(flag):
            rest = rest[len(flag):].lstrip()
    if flags and (rest == "--" or rest.startswith(("-- ", "--\t"))):
        rest = rest[2:].lstrip()
    return rest


def _separator(original: str, flags: Sequence[str], value: Sequence[str]) -> str:
    """BuildKit's ENV/LABEL separator: ``=`` when the first word is ``key=...``, ``""`` for ``KEY value``.

    BuildKit decides once per instruction from the first word, and both forms keep the key's raw text, so the
    key is a prefix of the source and the character after it tells the form apart.
    """
    if not value:
        return "="
    rest = _rest_after_keyword(original, flags)
    key = value[0]
    if rest.startswith(key):
        return "=" if rest[len(key):].startswith("=") else ""
    return "="


def _onbuild_sub(command: _pkg.Command, escape: str) -> Instruction:
    """Parse an ONBUILD's sub-instruction again on its own, so its flags (dropped by the package) survive."""
    parts = command.original.strip().split(None, 1)
    sub_text = parts[1] if len(parts) > 1 else ""
    prefix = "# escape=`\n" if escape == "`" else ""
    fallback = Instruction((command.sub_cmd or "").upper(), tuple(command.value), (), command.json, sub_text,
                           command.start_line, command.end_line)
    try:
        again = _pkg.parse_string(prefix + sub_text + "\n")
    except _pkg.GoParseError:
        return fallback
    if len(again) != 1 or again[0].cmd.upper() != fallback.cmd:
        return fallback
    sub = _convert(again[0], escape)
    return Instruction(sub.cmd, sub.value, sub.flags, sub.json, sub.original, command.start_line, command.end_line,
                       sub.heredocs, sub.separator, sub.sub)


def _redecode_json(original: str, value: tuple[str, ...]) -> tuple[str, ...]:
    """Decode a JSON-form argument list from the source when the package cut a string at a NUL."""
    decoder = json.JSONDecoder()
    start = original.find("[")
    while start != -1:
        try:
            decoded, _ = decoder.raw_decode(original, start)
        except json.JSONDecodeError:
            decoded = None
        if (isinstance(decoded, list) and len(decoded) == len(value)
                and all(isinstance(s, str) and s.split("\x00", 1)[0] == v
                        for s, v in zip(decoded, value, strict=True))):
            return tuple(decoded)
        start = original.find("[", start + 1)
    return value


def _parses(text: str) -> bool:
    """Whether the package accepts ``text``; a text with no instructions counts as accepted (nothing failed yet)."""
    try:
        _pkg.parse_string(text)
    except _pkg.GoParseError as exc:
        return str(exc) == "file with no instructions"
    return True


def _locate_error(text: str, message: str) -> int:
    """Find the first line of the instruction the Go parser rejected, using only the package.

    Let P(k) be the first k lines. Every prefix that contains the whole failing instruction fails, and the prefix
    ending just before it parses, so the smallest k from which *all* longer prefixes fail lies inside the failing
    instruction (a prefix may fail earlier only by cutting a good instruction short, and then a longer one passes).
    If line k continues an instruction that started earlier, that earlier line is the start: this is probed by
    appending a harmless instruction at line k and checking whether it stays separate.
    """
    lines = text.splitlines(keepends=True)
    if message == "file with no instructions" or not lines:
        return 1
    k = len(lines)
    while k > 0 and not _parses("".join(lines[: k - 1])):
        k -= 1
    k = max(k, 1)
    head = "".join(lines[: k - 1])
    if head and not head.endswith("\n"):
        head += "\n"
    try:
        before = _pkg.parse_string(head) if head.strip() else ()
    except _pkg.GoParseError:
        before = ()
    if not before:
        return k
    try:
        probe = _pkg.parse_string(head + "LABEL dsim.probe=1\n")
    except _pkg.GoParseError:
        return int(before[-1].start_line)
    if probe and probe[-1].start_line == k and probe[-1].cmd.upper() == "LABEL":
        return k
    return int(before[-1].start_line)


# --- BuildKit Node.Dump() ------------------------------------------------------------------------------------------


def go_quote(s: str) -> str:
    """Go's ``strconv.Quote``: escape quotes, backslashes and non-printable runes; keep printable Unicode as is."""
    out = ['"']
    for ch in s:
        code = ord(ch)
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch.isprintable() and not 0xD800 <= code <= 0xDFFF:
            out.append(ch)
        elif ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif 0xD800 <= code <= 0xDFFF:
            out.append("\\ufffd")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def _go_quote_list(items: Iterable[str]) -> str:
    """Go's ``fmt.Sprintf("%q", []string{...})``."""
    return "[" + " ".join(go_quote(i) for i in items) + "]"


def dump_instruction(ins: Instruction) -> str:
    """One line of BuildKit's ``Node.Dump()`` for ``ins``, e.g. ``(copy ["--from=a"] "x" "/y")``."""
    text = ins.cmd.lower()
    if ins.flags:
        text += " " + _go_quote_list(ins.flags)
    if ins.sub is not None:
        text += " " + dump_instruction(ins.sub)
    elif ins.separator is not None:
        for key, val in ins.pairs:
            text += f" {go_quote(key)} {go_quote(val)} {go_quote(ins.separator)}"
    else:
        for val in ins.value:
            text += " " + go_quote(val)
    return "(" + text.strip() + ")"


def dump(instructions: Iterable[Instruction]) -> str:
    """BuildKit's ``Node.Dump()`` of a whole file: one line per instruction, newline-terminated."""
    return "".join(dump_instruction(i) + "\n" for i in instructions)
