"""``--set PATH=VALUE``: change one field of a scenario before it is validated, as if the file said so.

An override is applied to the raw YAML data (dicts and lists), so the scenario is then validated exactly
like a file that had the value written in it: the same strict models, the same units, the same reference
checks. Errors about an overridden value (or anything inside it) name the override instead of a file
position::

    --set hosts.runner.nic=1 Gbit: hosts.runner.nic: invalid rate '1 Gbit' (expected e.g. 1Gbps, 125MB/s)

Paths are the field paths dsim prints in its errors: keys joined by dots, list items by ``[i]`` (or ``.i``):
``registries.hub.bandwidth``, ``hosts.runner.count``, ``workloads.ci.steps[1].run.duration``. A key that
contains dots is matched against the keys the file has (``images.python:3.11.layers``), or can be quoted
(``images."python:3.11".layers``). Missing mappings along the path are created, so a path the file does
not mention (``hosts.runner.daemon.workers``) validates like a file that wrote it. The value is YAML, read
like a value in a scenario file: ``40`` is a number, ``10Gbps`` a string, ``[1s, 5s]`` a list,
``{burst: 50}`` a mapping, and an empty value is null.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from dsim.errors import ScenarioError, UsageError
from dsim.scenarios.yamlpos import Positions, field_path, load_yaml

#: Errors located at or beyond this line come from an override (a file has at most 10 MiB of lines).
_SENTINEL_LINE = 1_000_000_000

PathParts = tuple[str | int, ...]


@dataclass(frozen=True)
class Override:
    """One ``PATH=VALUE``; ``origin`` is how errors name it (``--set PATH=VALUE`` or ``file:line:column``)."""

    path: str
    value: Any = field(hash=False, compare=False)
    origin: str = ""
    line: int | None = None
    column: int | None = None

    @property
    def value_key(self) -> str:
        """The value as canonical JSON: equal values give equal keys (used by sweeps and caches)."""
        return json.dumps(self.value, sort_keys=True, separators=(",", ":"))

    @property
    def key(self) -> str:
        return f"{self.path}={self.value_key}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Override) and (self.path, self.value_key) == (other.path, other.value_key)

    def __hash__(self) -> int:
        return hash((self.path, self.value_key))

    def error(self, message: str, *, field_name: str | None = None) -> ScenarioError:
        """A ScenarioError located at this override."""
        return UsageError(message, file=self.origin or f"--set {self.path}", line=self.line, column=self.column,
                          field=field_name if field_name is not None else self.path)


def parse_value(text: str, *, origin: str, path: str = "") -> Any:
    """A ``--set`` value as scenario YAML would read it (same scalar rules as the loader)."""
    if "\n" in text or "\r" in text:
        raise UsageError("the value must be on one line", file=origin, field=path or None)
    if not text.strip():
        return None
    try:
        data, _ = load_yaml("v: " + text, filename=origin)
    except ScenarioError as err:
        raise UsageError(f"cannot read {text!r} as a YAML value ({err.message})", file=origin,
                         field=path or None) from None
    if not isinstance(data, dict) or list(data) != ["v"]:
        raise UsageError(f"cannot read {text!r} as one YAML value", file=origin, field=path or None)
    return data["v"]


def parse_override(text: str, *, flag: str = "--set") -> Override:
    """``PATH=VALUE`` (as given on the command line) -> Override named ``--set PATH=VALUE`` in errors."""
    origin = f"{flag} {text}"
    path, sep, value = text.partition("=")
    path = path.strip()
    if not sep or not path:
        raise UsageError(f"expected PATH=VALUE, e.g. {flag} hosts.runner.count=40", file=origin)
    split_path(path, origin=origin)  # syntax check now; keys are matched against the data when applied
    return Override(path, parse_value(value.strip(), origin=origin, path=path), origin)


def parse_overrides(texts: Iterable[str | Override], *, flag: str = "--set") -> tuple[Override, ...]:
    return tuple(text if isinstance(text, Override) else parse_override(text, flag=flag) for text in texts)


# ------------------------------------------------------------------------------------------------ paths

def split_path(path: str, *, origin: str) -> list[str | int]:
    """Syntax of a path: raw segments; a ``[i]`` segment is an int, a quoted one a str kept whole.

    Unquoted text between dots is returned as one str per dot-separated piece; `_walk` rejoins pieces
    when the data has a key containing dots.
    """
    parts: list[str | int] = []
    i, n = 0, len(path)
    expect_segment = True
    while i < n:
        char = path[i]
        if char == "[":
            end = path.find("]", i)
            index = path[i + 1 : end] if end > 0 else ""
            if end < 0 or not index.strip().lstrip("-").isdigit():
                raise UsageError(f"invalid path {path!r}: '[' must hold a list index, e.g. steps[0]", file=origin)
            parts.append(int(index))
            i = end + 1
            expect_segment = False
        elif char == ".":
            if expect_segment:
                raise UsageError(f"invalid path {path!r}: empty key", file=origin)
            i += 1
            expect_segment = True
        elif char in "\"'":
            end = path.find(char, i + 1)
            if end < 0:
                raise UsageError(f"invalid path {path!r}: unterminated quote", file=origin)
            parts.append(_Quoted(path[i + 1 : end]))
            i = end + 1
            expect_segment = False
        else:
            j = i
            while j < n and path[j] not in ".[":
                j += 1
            parts.append(path[i:j])
            i = j
            expect_segment = False
    if expect_segment:
        raise UsageError(f"invalid path {path!r}: empty key", file=origin)
    return parts


class _Quoted(str):
    """A quoted key: never split or joined with its neighbours."""


def _walk_key(node: dict[str, Any], parts: list[str | int], i: int) -> tuple[str, int]:
    """The key at ``parts[i]`` and the index after it: the longest dotted run of pieces the mapping has."""
    first = parts[i]
    assert isinstance(first, str)
    if isinstance(first, _Quoted):
        return str(first), i + 1
    best, best_end = first, i + 1
    joined = first
    j = i + 1
    while j < len(parts) and isinstance(parts[j], str) and not isinstance(parts[j], _Quoted):
        joined = f"{joined}.{parts[j]}"
        j += 1
        if joined in node:
            best, best_end = joined, j
    return best, best_end


def _describe(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a single value ({json.dumps(value)})"


def _set(data: dict[str, Any], override: Override, created: list[PathParts]) -> PathParts:
    """Put ``override.value`` at its path in ``data``; return the path as data keys and indices."""
    parts = split_path(override.path, origin=override.origin)
    node: Any = data
    done: list[str | int] = []
    i = 0
    while i < len(parts):
        part = parts[i]
        here = field_path(done) or "the scenario"
        if isinstance(node, list):
            if isinstance(part, str) and not isinstance(part, _Quoted) and part.lstrip("-").isdigit():
                part = int(part)
            if not isinstance(part, int):
                raise override.error(f"{here} is a list: use an index such as {field_path([*done, 0])}")
            if not -len(node) <= part < len(node):
                raise override.error(f"{here} has {len(node)} item(s); index {part} is out of range")
            index = part % len(node)
            i += 1
            if i == len(parts):
                node[index] = copy.deepcopy(override.value)
                return (*done, index)
            done.append(index)
            if node[index] is None:
                node[index] = {}
                created.append(tuple(done))
            node = node[index]
            continue
        if not isinstance(node, dict):
            raise override.error(f"{here} is {_describe(node)}, so it has no {part!r}")
        if isinstance(part, int):
            raise override.error(f"{here} is a mapping, not a list: [{part}] does not apply")
        key, i = _walk_key(node, parts, i)
        done.append(key)
        if i == len(parts):
            node[key] = copy.deepcopy(override.value)
            return tuple(done)
        if node.get(key) is None:
            node[key] = {}
            created.append(tuple(done))
        node = node[key]
    raise AssertionError("unreachable: a path has at least one part")


def apply_overrides(data: Any, positions: Positions, overrides: Sequence[Override]) -> tuple[Any, Positions]:
    """A copy of ``data`` with every override applied in order, and positions that point overridden values
    (and what they contain, and mappings created for them) at their override rather than at the file."""
    if not isinstance(data, dict):  # the loader refuses such files before this
        return data, positions
    data = copy.deepcopy(data)
    values = dict(positions.values)
    keys = dict(positions.keys)
    for number, override in enumerate(overrides):
        created: list[PathParts] = []
        target = _set(data, override, created)
        sentinel = (_SENTINEL_LINE + number, 1)
        for stale in [path for path in values if path[: len(target)] == target]:
            del values[stale]
        for stale in [path for path in keys if path[: len(target)] == target]:
            del keys[stale]
        for path in (*created, target):
            values[path] = sentinel
            keys[path] = sentinel
    return data, Positions(values=values, keys=keys)


def attribute_error(err: ScenarioError, overrides: Sequence[Override]) -> ScenarioError:
    """An error located inside an overridden value is reported as the override's, not the file's."""
    if err.line is None or err.line < _SENTINEL_LINE:
        return err
    override = overrides[err.line - _SENTINEL_LINE]
    return UsageError(err.message, file=override.origin or f"--set {override.path}", line=override.line,
                      column=override.column, field=err.field)


def canonical(overrides: Iterable[Override]) -> str:
    """A stable text for a set of overrides (the last one of a path wins), as sweeps key variants by."""
    last: dict[str, Any] = {}
    for override in overrides:
        last[override.path] = override.value
    return json.dumps(last, sort_keys=True, separators=(",", ":"))
