"""Load YAML keeping where every value was written, and explain validation errors by file:line:column.

`load_yaml` / `load_yaml_file` return plain Python data (dicts, lists, str, int, float, bool, None) together
with a `Positions` table; `validation_error` turns a pydantic ``ValidationError`` raised on that data into one
`ScenarioError` such as::

    scenarios/x.yaml:14:7: hosts.runner.nic: invalid rate '1 Gbit' (expected e.g. 1Gbps, 125MB/s)

Loading rules (every failure is a one-line `ScenarioError`, never a traceback):

* Safe loading only. Nothing is ever constructed from a tag: the document is *composed* into nodes by
  PyYAML's pure-Python SafeLoader machinery and converted here. Only the standard tags are accepted
  (``!!str !!int !!float !!bool !!null !!timestamp !!seq !!map`` and the ``<<`` merge key); any other tag,
  ``!!python/...``, ``!!binary``, ``!!set``, ``!!omap``, ``!!pairs`` or a local ``!foo``, is an error.
* Scalars follow YAML 1.1 as PyYAML's SafeLoader resolves them (``yes``/``on`` are booleans, ``017`` is
  octal, ``1:30`` is the sexagesimal int 90, ``1e3`` and ``1.0e3`` are strings but ``1.0e+3`` is a float),
  except that timestamps stay strings (no ``datetime``). Unit quantities such as ``1h30m``, ``80MB`` and
  ``30s`` are strings.
* Mapping keys must be scalars and are always strings: a key is the text written (``8080:`` is ``"8080"``,
  ``on:`` is ``"on"``, ``null:`` is ``"null"``, ``"a"`` and ``a`` are the same key). A key written twice in a
  mapping is an error (PyYAML would silently keep the last one). Merge keys (``<<: *defaults`` or
  ``<<: [*a, *b]``) are supported: keys written in the mapping win over merged ones, earlier merged mappings
  win over later ones.
* Aliases are expanded into independent copies. The position of an aliased value is where the alias
  (``*name``) is written; the positions inside it are those of the anchored original.
* Guards: files over 10 MiB, documents expanding to more than 1,000,000 values (alias bombs) and nesting
  deeper than 100 levels are refused.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import pathlib
import re
import stat
import types
import typing
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Union

import pydantic
import yaml
from pydantic import BaseModel, RootModel

from dsim.errors import ScenarioError

__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_NODES",
    "Path",
    "Positions",
    "field_path",
    "load_yaml",
    "load_yaml_file",
    "validation_error",
]

MAX_FILE_BYTES = 10 * 1024 * 1024
"""Larger files (or texts, measured as UTF-8) are refused."""
MAX_NODES = 1_000_000
"""Values produced while building the data, counting every copy an alias expands to."""
MAX_DEPTH = 100
"""Nesting of collections, as written or through aliases."""

Path = tuple[str | int, ...]
"""A location in the data: mapping keys are ``str``, sequence indices ``int``."""
Position = tuple[int, int]
"""1-based (line, column)."""

_EMPTY_MESSAGE = "the scenario is empty"
_NOT_MAPPING_MESSAGE = (
    "the top level must be a mapping of sections (name, registries, images, hosts, workloads, ...)"
)
_BINARY_MESSAGE = "not a text file (binary content)"


@dataclass(frozen=True)
class Positions:
    """Where each value of a loaded YAML document was written.

    ``values`` maps a path to the 1-based (line, column) where the value at that path starts; ``keys`` maps
    the path of a mapping entry to where its key is written. The root value has the path ``()``.
    """

    values: Mapping[Path, Position] = field(default_factory=dict, hash=False)
    keys: Mapping[Path, Position] = field(default_factory=dict, hash=False)

    def locate(self, path: Sequence[str | int]) -> Position | None:
        """(line, column) of the value at ``path``, else of its nearest present ancestor (None if none)."""
        path = tuple(path)
        for end in range(len(path), -1, -1):
            found = self.values.get(path[:end])
            if found is not None:
                return found
        return None

    def locate_key(self, path: Sequence[str | int]) -> Position | None:
        """(line, column) of the mapping key naming ``path``; for a path without one (a list item, the root,
        an absent key), the same as `locate`."""
        path = tuple(path)
        found = self.keys.get(path)
        return found if found is not None else self.locate(path)

    def __contains__(self, path: object) -> bool:
        return isinstance(path, tuple) and path in self.values


# --------------------------------------------------------------------------------------------- loading

_TAG = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL = (_TAG + t for t in ("str", "int", "float", "bool", "null"))
_TIMESTAMP, _MERGE, _VALUE, _SEQ, _MAP = (_TAG + t for t in ("timestamp", "merge", "value", "seq", "map"))
_SCALAR_TAGS = frozenset({_STR, _INT, _FLOAT, _BOOL, _NULL, _TIMESTAMP, _MERGE, _VALUE})
_KNOWN_TAGS = _SCALAR_TAGS | {_SEQ, _MAP}
_KIND_NAMES = {"scalar": "a single value", "sequence": "a list", "mapping": "a mapping"}


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_TAG):] if tag.startswith(_TAG) else tag


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _pos(mark: Any) -> Position:
    return (int(mark.line) + 1, int(mark.column) + 1)


class _Fail(Exception):
    """A loading problem at a mark; turned into a ScenarioError naming the file."""

    def __init__(self, message: str, mark: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.mark = mark


@dataclass
class _Alias:
    """An alias (``*name``) as written: the anchored node and where the alias is."""

    node: Any
    start_mark: Any


class _Loader(yaml.SafeLoader):
    """PyYAML's pure-Python safe scanner/parser/composer, recording aliases and limiting nesting.

    Only composition is used: no constructor ever runs, so no tag can make it build an object.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            return _Alias(super().compose_node(parent, index), mark)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Fail(f"nested too deeply (more than {MAX_DEPTH} levels)", self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class _Builder:
    """Turns composed nodes into plain data, recording the position of every path."""

    def __init__(self) -> None:
        self.values: dict[Path, Position] = {}
        self.keys: dict[Path, Position] = {}
        self.count = 0
        ctor = yaml.constructor.SafeConstructor()
        self._converters: dict[str, tuple[str, Any]] = {
            _INT: ("an integer", ctor.construct_yaml_int),
            _FLOAT: ("a number", ctor.construct_yaml_float),
            _BOOL: ("true or false", ctor.construct_yaml_bool),
        }
        self._active: set[int] = set()  # collection nodes being built (a cycle means a recursive alias)
        self._outer_alias: Any = None  # the outermost alias being expanded (where an alias bomb is reported)

    def _tick(self, mark: Any) -> None:
        self.count += 1
        if self.count > MAX_NODES:
            raise _Fail(
                f"the document expands to more than {MAX_NODES:,} values "
                "(are YAML aliases expanding too much?)",
                self._outer_alias or mark,
            )

    def build(self, node: Any, path: Path, depth: int = 0) -> Any:
        if isinstance(node, _Alias):
            self.values.setdefault(path, _pos(node.start_mark))
            if id(node.node) in self._active:
                raise _Fail("recursive alias (a value cannot contain itself)", node.start_mark)
            if self._outer_alias is not None:
                return self.build(node.node, path, depth)
            self._outer_alias = node.start_mark
            try:
                return self.build(node.node, path, depth)
            finally:
                self._outer_alias = None
        self.values.setdefault(path, _pos(node.start_mark))
        self._tick(node.start_mark)
        if depth > MAX_DEPTH:
            raise _Fail(f"nested too deeply (more than {MAX_DEPTH} levels, counting aliases)",
                        node.start_mark)
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node)
        self._check_collection_tag(node)
        self._active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
            result: dict[str, Any] = {}
            for key, (key_mark, value_node) in self._entries(node).items():
                self.keys[(*path, key)] = _pos(key_mark)
                result[key] = self.build(value_node, (*path, key), depth + 1)
            return result
        finally:
            self._active.discard(id(node))

    def _check_collection_tag(self, node: Any) -> None:
        expected = _SEQ if isinstance(node, yaml.SequenceNode) else _MAP
        if node.tag == expected:
            return
        if node.tag in _KNOWN_TAGS:
            raise _Fail(
                f"the YAML tag '{_short_tag(node.tag)}' cannot be used on {_KIND_NAMES[node.id]}",
                node.start_mark,
            )
        raise _Fail(f"unsupported YAML tag '{_short_tag(node.tag)}'", node.start_mark)

    def _entries(self, node: Any) -> dict[str, tuple[Any, Any]]:
        """A mapping's entries as key -> (key mark, value node), merge keys resolved, duplicates refused."""
        own: dict[str, tuple[Any, Any]] = {}
        merged: dict[str, tuple[Any, Any]] = {}
        merge_mark: Any = None
        for key_node, value_node in node.value:
            self._tick(key_node.start_mark)
            key, key_mark, is_merge = self._key(key_node)
            first = merge_mark if is_merge else own.get(key, (None,))[0]
            if first is not None:
                raise _Fail(f"duplicate key {key!r} (first at line {_pos(first)[0]})", key_mark)
            if not is_merge:
                own[key] = (key_mark, value_node)
                continue
            merge_mark = key_mark
            for source in self._merge_sources(value_node):
                for merged_key, entry in self._entries(source).items():
                    merged.setdefault(merged_key, entry)
        return {**merged, **own} if merged else own

    def _merge_sources(self, value_node: Any) -> Iterator[Any]:
        target = _target(value_node)
        items = target.value if isinstance(target, yaml.SequenceNode) else [value_node]
        for item in items:
            source = _target(item)
            if not isinstance(source, yaml.MappingNode):
                raise _Fail(
                    "the value of the merge key '<<' must be a mapping or a list of mappings",
                    _mark_of(item),
                )
            if id(source) in self._active:
                raise _Fail("recursive alias (a mapping cannot merge itself)", _mark_of(item))
            self._check_collection_tag(source)
            self._active.add(id(source))
            try:
                yield source
            finally:
                self._active.discard(id(source))

    def _key(self, key_node: Any) -> tuple[str, Any, bool]:
        """(key text, where it is written, whether it is a merge key ``<<``)."""
        mark = _mark_of(key_node)
        target = _target(key_node)
        if not isinstance(target, yaml.ScalarNode):
            raise _Fail(f"a mapping key must be a plain value, not {_KIND_NAMES[target.id]}", mark)
        if target.tag not in _SCALAR_TAGS:
            raise _Fail(f"unsupported YAML tag '{_short_tag(target.tag)}'", mark)
        return str(target.value), mark, target.tag == _MERGE

    def _scalar(self, node: Any) -> Any:
        tag, text = node.tag, node.value
        if tag in (_STR, _TIMESTAMP, _MERGE, _VALUE):
            return text
        if tag == _NULL:
            return None
        if tag not in self._converters:
            if tag in _KNOWN_TAGS:
                raise _Fail(f"the YAML tag '{_short_tag(tag)}' cannot be used on a single value",
                            node.start_mark)
            raise _Fail(f"unsupported YAML tag '{_short_tag(tag)}'", node.start_mark)
        what, convert = self._converters[tag]
        try:
            return convert(node)
        except (ValueError, TypeError, IndexError, KeyError, AttributeError):
            message = f"invalid value {text!r} for '{_short_tag(tag)}' (expected {what})"
            raise _Fail(message, node.start_mark) from None


def _target(node: Any) -> Any:
    return node.node if isinstance(node, _Alias) else node


def _mark_of(node: Any) -> Any:
    return node.start_mark


_BREAK = re.compile("\r\n|[\n\r\x85\u2028\u2029]")


def _position_of_index(text: str, index: int) -> Position:
    """(line, column) of a character index, counting line breaks as PyYAML does."""
    line, start = 1, 0
    for match in _BREAK.finditer(text, 0, index):
        line, start = line + 1, match.end()
    return line, index - start + 1


def _scenario_error(message: str, filename: str, where: Position | None = None) -> ScenarioError:
    line, column = where if where is not None else (None, None)
    return ScenarioError(message, file=filename, line=line, column=column)


def _yaml_error(err: yaml.YAMLError, text: str, filename: str) -> ScenarioError:
    if isinstance(err, yaml.reader.ReaderError):
        char = chr(err.character) if isinstance(err.character, int) else str(err.character)
        where = _position_of_index(text, err.position) if isinstance(err.position, int) else None
        code = f"U+{ord(char[:1] or ' '):04X}"
        return _scenario_error(f"character {char!r} ({code}) is not allowed in YAML", filename, where)
    if isinstance(err, yaml.MarkedYAMLError):
        problem = _one_line(err.problem or "")
        context = _one_line(err.context or "")
        mark = err.problem_mark or err.context_mark
        if problem == "second occurrence" and context.endswith("; first occurrence") and err.context_mark:
            first = _pos(err.context_mark)
            message = context.removeprefix("found ").removesuffix("; first occurrence")
            message += f" (first at line {first[0]})"
        elif problem == "but found another document":
            message = "found a second document ('---'); a scenario is a single YAML document"
        elif problem and context and err.context_mark is not None and err.problem_mark is not None:
            line, column = _pos(err.context_mark)
            if (line, column) == _pos(err.problem_mark):
                message = f"{problem} ({context})"
            else:
                message = f"{problem} ({context} at line {line}, column {column})"
        else:
            message = problem or context or "invalid YAML"
        if "'\\t'" in message:
            message += "; YAML does not allow tabs for indentation"
        return _scenario_error(f"invalid YAML: {message}", filename, _pos(mark) if mark else None)
    return _scenario_error(f"invalid YAML: {_one_line(str(err))}", filename)


def _decode(data: bytes, filename: str) -> str:
    if b"\x00" in data:
        raise _scenario_error(_BINARY_MESSAGE, filename)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _scenario_error(_BINARY_MESSAGE, filename) from None


def _too_large(size: int, filename: str) -> ScenarioError:
    limit = MAX_FILE_BYTES / 2**20
    return _scenario_error(
        f"the file is too large ({size / 2**20:.1f} MiB; the limit is {limit:g} MiB)", filename
    )


def load_yaml(text: str | bytes, *, filename: str) -> tuple[Any, Positions]:
    """Parse one YAML document: (plain data, positions). The top level must be a non-empty mapping.

    ``filename`` is only used to name the file in errors. Raises `ScenarioError` for every problem.
    """
    if isinstance(text, bytes | bytearray | memoryview):
        data = bytes(text)
        if len(data) > MAX_FILE_BYTES:
            raise _too_large(len(data), filename)
        text = _decode(data, filename)
    elif len(text) * 4 > MAX_FILE_BYTES and len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        raise _too_large(len(text.encode("utf-8", "surrogatepass")), filename)
    if "\x00" in text:
        raise _scenario_error(_BINARY_MESSAGE, filename)
    try:
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
        if root is None or (isinstance(root, yaml.ScalarNode) and root.tag == _NULL):
            raise _Fail(_EMPTY_MESSAGE)
        if not isinstance(_target(root), yaml.MappingNode):
            raise _Fail(_NOT_MAPPING_MESSAGE, _mark_of(root))
        builder = _Builder()
        data_out = builder.build(root, ())
    except _Fail as fail:
        raise _scenario_error(fail.message, filename, _pos(fail.mark) if fail.mark else None) from None
    except yaml.YAMLError as err:
        raise _yaml_error(err, text, filename) from None
    return data_out, Positions(values=builder.values, keys=builder.keys)


def load_yaml_file(path: pathlib.Path, *, display_name: str | None = None) -> tuple[Any, Positions]:
    """`load_yaml` on a file's content; errors name ``display_name`` (default: the path as given)."""
    name = display_name if display_name is not None else str(path)
    try:
        info = os.stat(path)
        if stat.S_ISDIR(info.st_mode):
            raise _scenario_error("is a directory, not a YAML file", name)
        if not stat.S_ISREG(info.st_mode):
            raise _scenario_error("not a regular file", name)
        if info.st_size > MAX_FILE_BYTES:
            raise _too_large(info.st_size, name)
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except (FileNotFoundError, NotADirectoryError):
        raise _scenario_error("no such file", name) from None
    except IsADirectoryError:
        raise _scenario_error("is a directory, not a YAML file", name) from None
    except PermissionError:
        raise _scenario_error("permission denied", name) from None
    except OSError as err:
        raise _scenario_error(f"cannot read the file ({err.strerror or err})", name) from None
    if len(data) > MAX_FILE_BYTES:
        raise _too_large(len(data), name)
    return load_yaml(data, filename=name)


# ------------------------------------------------------------------------------ validation errors

def field_path(path: Sequence[str | int]) -> str:
    """``('workloads', 'ci', 'steps', 0, 'pull')`` -> ``workloads.ci.steps[0].pull`` (keys as written)."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _members(tp: Any, _seen: int = 0) -> list[Any]:
    """The alternatives a type accepts: Annotated, Optional, Union, type aliases and RootModels unwrapped."""
    if _seen > 20:
        return []
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _members(typing.get_args(tp)[0], _seen + 1)
    if origin is Union or origin is types.UnionType:
        out: list[Any] = []
        for arg in typing.get_args(tp):
            out.extend(_members(arg, _seen + 1))
        return out
    if tp is None or tp is type(None):
        return []
    value = getattr(tp, "__value__", None)  # `type X = ...` aliases
    if value is not None and origin is None and not isinstance(tp, type):
        return _members(value, _seen + 1)
    if isinstance(tp, type) and issubclass(tp, RootModel):
        root = tp.model_fields.get("root")
        return _members(root.annotation, _seen + 1) if root is not None else []
    return [tp]


def _fields(tp: Any) -> dict[str, Any] | None:
    """A pydantic model's (or pydantic dataclass's) fields, else None."""
    fields = getattr(tp, "__pydantic_fields__", None) if isinstance(tp, type) else None
    return fields if isinstance(fields, dict) else None


def _by_name_allowed(tp: Any) -> bool:
    config = getattr(tp, "model_config", None) or getattr(tp, "__pydantic_config__", None) or {}
    return bool(config.get("populate_by_name") or config.get("validate_by_name"))


def _field_keys(name: str, info: Any, by_name: bool) -> list[str]:
    """The keys a field can be written with, preferred first."""
    keys: list[str] = []
    alias = getattr(info, "validation_alias", None)
    if isinstance(alias, str):
        keys.append(alias)
    elif isinstance(alias, pydantic.AliasChoices):
        for choice in alias.choices:
            if isinstance(choice, str):
                keys.append(choice)
            elif isinstance(choice, pydantic.AliasPath) and choice.path and isinstance(choice.path[0], str):
                keys.append(choice.path[0])
    elif isinstance(alias, pydantic.AliasPath) and alias.path and isinstance(alias.path[0], str):
        keys.append(alias.path[0])
    if not keys and isinstance(getattr(info, "alias", None), str):
        keys.append(info.alias)
    if not keys or by_name:
        keys.append(name)
    return list(dict.fromkeys(keys))


def _allowed_keys(candidates: Iterable[Any], *, preferred: bool = False) -> list[str]:
    """The keys the models among ``candidates`` accept (``preferred``: one per field, its alias if any)."""
    keys: list[str] = []
    for tp in candidates:
        fields = _fields(tp)
        if fields is None:
            continue
        by_name = _by_name_allowed(tp)
        for name, info in fields.items():
            accepted = _field_keys(name, info, by_name)
            keys.extend(accepted[:1] if preferred else accepted)
    return list(dict.fromkeys(keys))


def _child_types(candidates: Iterable[Any], part: str | int) -> list[Any]:
    """The types of ``part`` inside a value of one of ``candidates``."""
    out: list[Any] = []
    for tp in candidates:
        fields = _fields(tp)
        if fields is not None:
            if isinstance(part, str):
                by_name = _by_name_allowed(tp)
                for name, info in fields.items():
                    if part in _field_keys(name, info, by_name) or part == name:
                        out.extend(_members(info.annotation))
            continue
        origin = typing.get_origin(tp) or tp
        args = typing.get_args(tp)
        if not isinstance(origin, type):
            continue
        if issubclass(origin, Mapping):
            if isinstance(part, str) and len(args) == 2:
                out.extend(_members(args[1]))
        elif issubclass(origin, tuple):
            if isinstance(part, int) and args:
                if len(args) == 2 and args[1] is Ellipsis:
                    out.extend(_members(args[0]))
                elif part < len(args):
                    out.extend(_members(args[part]))
        elif isinstance(part, int) and args and issubclass(origin, Iterable) and not issubclass(origin, str):
            out.extend(_members(args[0]))
    return out


def _literal_values(tp: Any) -> set[str]:
    """The Literal values of a model's fields (what a discriminated union uses as tags)."""
    values: set[str] = set()
    for info in (_fields(tp) or {}).values():
        for member in _members(info.annotation):
            if typing.get_origin(member) is Literal:
                values.update(str(v.value if hasattr(v, "value") else v) for v in typing.get_args(member))
    return values


def _tag_members(candidates: list[Any], tag: str) -> list[Any]:
    """The union members a pydantic union tag names (its class name, or its discriminator value)."""
    named = [tp for tp in candidates if getattr(tp, "__name__", None) == tag]
    if named:
        return named
    return [tp for tp in candidates if tag in _literal_values(tp)]


@dataclass
class _Err:
    index: int
    type: str
    loc: tuple[str | int, ...]
    msg: str
    input: Any
    ctx: dict[str, Any]
    path: Path = ()
    """The loc as the user wrote it: tags and '[key]' dropped."""
    tags: dict[int, Path] = dataclasses.field(default_factory=dict)
    """loc index of each union tag dropped -> the path of the union value."""
    parent_types: list[Any] = dataclasses.field(default_factory=list)
    """The candidate types of the value holding the last path part."""
    key_error: bool = False
    suggest: str | None = None
    """For an unknown key: the missing field it probably misspells."""


def _clean(err: _Err, positions: Positions, model: type[BaseModel] | None) -> None:
    """Fill ``err.path``, ``err.tags`` and ``err.parent_types``: walk the loc along the document and model."""
    path: list[str | int] = []
    types_now: list[Any] = _members(model) if model is not None else []
    parent: list[Any] = types_now
    last = len(err.loc) - 1
    for i, part in enumerate(err.loc):
        if part == "[key]" and i == last:
            err.key_error = True
            continue
        here = (*path, part)
        present = here in positions
        if isinstance(part, str) and len(types_now) > 1 and (_tag_members(types_now, part) or not present):
            err.tags[i] = tuple(path)  # the tag of a union member: not something the user wrote
            types_now = _tag_members(types_now, part) or types_now
            continue
        children = _child_types(types_now, part)
        if not present and not (i == last and err.type == "missing"):
            # Not written by the user: a value a validator made up (``10MB`` -> ``{size: 10MB}``), a default,
            # or, when the model cannot tell, a union tag. Report it at the nearest value the user wrote.
            if not children:
                err.tags[i] = tuple(path)
            types_now = children
            continue
        parent = types_now
        path.append(part)
        types_now = children
    err.path = tuple(path)
    err.parent_types = parent


_MISMATCH_TYPES = frozenset(
    {"model_type", "model_attributes_type", "dict_type", "list_type", "tuple_type", "set_type",
     "frozen_set_type", "iterable_type", "string_type", "int_type", "float_type", "bool_type", "bytes_type",
     "int_parsing", "float_parsing", "bool_parsing", "int_from_float", "none_required", "is_instance_of",
     "dataclass_type", "dataclass_exact_type", "mapping_type", "literal_error", "enum"}
)


def _choose(errors: list[_Err], start: int = 0) -> _Err:
    """The first error; when it lies inside a union, the error of the member the user most likely meant."""
    first = errors[0]
    tag_index = min((i for i in first.tags if i >= start), default=None)
    if tag_index is None:
        return _prefer_typo(first, errors)
    prefix = first.loc[:tag_index]
    union_path = first.tags[tag_index]
    groups: dict[str | int, list[_Err]] = {}
    for err in errors:
        if err.loc[:tag_index] == prefix and tag_index in err.tags:
            groups.setdefault(err.loc[tag_index], []).append(err)

    def score(group: list[_Err]) -> tuple[int, ...]:
        depth = len(union_path)
        discriminator_mismatch = any(
            e.type in ("literal_error", "enum") and len(e.path) == depth + 1 for e in group
        )
        shape_mismatch = any(e.path == union_path and e.type in _MISMATCH_TYPES for e in group)
        extra = sum(e.type == "extra_forbidden" for e in group)
        own_message = any(e.type in ("value_error", "assertion_error") for e in group)
        deepest = max(len(e.path) for e in group)
        return (int(discriminator_mismatch), int(shape_mismatch), extra, int(not own_message), len(group),
                -deepest, group[0].index)

    best = min(groups.values(), key=score)
    return _choose(best, tag_index + 1)


def _prefer_typo(chosen: _Err, errors: list[_Err]) -> _Err:
    """A missing field next to an unknown key that looks like it (``imag`` for ``image``) is a typo:
    report the unknown key, whose message says what was meant."""
    if chosen.type != "missing" or not chosen.path:
        return chosen
    parent, wanted = chosen.path[:-1], str(chosen.path[-1])
    for err in errors:
        typo = err.type == "extra_forbidden" and err.path and err.path[:-1] == parent
        if typo and difflib.get_close_matches(str(err.path[-1]), [wanted], n=1):
            return dataclasses.replace(err, suggest=wanted)
    return chosen


def _show(value: Any) -> str:
    """The value as written, for messages."""
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "...")
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a {type(value).__name__}"


_EXPECTED = {
    "int_type": "an integer", "int_parsing": "an integer", "int_parsing_size": "an integer",
    "int_from_float": "a whole number",
    "float_type": "a number", "float_parsing": "a number", "finite_number": "a finite number",
    "bool_type": "true or false", "bool_parsing": "true or false",
    "string_type": "a string", "bytes_type": "a string",
    "dict_type": "a mapping", "model_type": "a mapping", "model_attributes_type": "a mapping",
    "mapping_type": "a mapping", "dataclass_type": "a mapping", "dataclass_exact_type": "a mapping",
    "list_type": "a list", "tuple_type": "a list", "set_type": "a list", "frozen_set_type": "a list",
    "iterable_type": "a list",
    "none_required": "an empty value",
}


def _message(err: _Err, positions: Positions) -> tuple[str, Path, Position | None]:
    """(message, field path to show, position) for one chosen error."""
    path = err.path
    if err.type == "extra_forbidden" and path:
        key = str(path[-1])
        allowed = _allowed_keys(err.parent_types)
        message = f"unknown key {key!r}"
        if allowed:
            close = difflib.get_close_matches(key, allowed, n=1) or [
                k for k in allowed if k.lower() == key.lower()
            ]
            if err.suggest is not None and err.suggest in allowed:
                close = [err.suggest]
            if close:
                message += f" (did you mean {close[0]!r}?)"
            else:
                message += f" (allowed keys: {', '.join(_allowed_keys(err.parent_types, preferred=True))})"
        elif err.suggest is not None:
            message += f" (did you mean {err.suggest!r}?)"
        return message, path[:-1], positions.locate_key(path)
    if err.type == "missing" and path:
        return f"missing required field {str(path[-1])!r}", path[:-1], positions.locate(path[:-1])
    if err.type == "union_tag_not_found":
        name = str(err.ctx.get("discriminator", "")).strip("'")
        return f"missing required field {name!r}", path, positions.locate(path)
    if err.type == "union_tag_invalid":
        name = str(err.ctx.get("discriminator", "")).strip("'")
        tag = err.ctx.get("tag")
        tags = str(err.ctx.get("expected_tags", "")).split(",")
        expected = [t.strip().strip("'") for t in tags if t.strip()]
        close = difflib.get_close_matches(str(tag), expected, n=1)
        hint = f"did you mean {close[0]!r}?" if close else "expected " + " or ".join(map(repr, expected))
        where = positions.locate((*path, name)) if (*path, name) in positions else positions.locate(path)
        field = (*path, name) if (*path, name) in positions else path
        return f"invalid {name} {str(tag)!r} ({hint})", field, where
    if err.key_error:
        message, _, _ = _message(dataclasses.replace(err, key_error=False), positions)
        return f"invalid key: {message}", path, positions.locate_key(path)
    where = positions.locate(path)
    if err.type in ("value_error", "assertion_error"):
        text = err.msg
        for prefix in ("Value error, ", "Assertion failed, "):
            text = text.removeprefix(prefix)
        return text, path, where
    if err.type in _EXPECTED:
        return f"expected {_EXPECTED[err.type]}, got {_show(err.input)}", path, where
    if err.type in ("literal_error", "enum") and "expected" in err.ctx:
        return f"expected {err.ctx['expected']}, got {_show(err.input)}", path, where
    text = err.msg
    if text.startswith("Input should be "):
        text = "must be " + text.removeprefix("Input should be ")
    text = _one_line(text)
    if not isinstance(err.input, Mapping | list) and _show(err.input) not in text:
        text += f", got {_show(err.input)}"
    return text, path, where


def validation_error(
    err: pydantic.ValidationError,
    positions: Positions,
    *,
    filename: str,
    model: type[BaseModel] | None = None,
) -> ScenarioError:
    """One `ScenarioError` for pydantic's first error: ``file:line:column: field.path: message``.

    ``model`` (the model validated) lets unknown keys be matched against the allowed ones and union member
    tags be recognized; without it the messages are plainer. The field path is the one written in the YAML
    (union tags and pydantic's internal loc parts dropped). An unknown key is reported at the key, naming
    the mapping holding it; a missing field at the mapping that lacks it.
    """
    raw = err.errors(include_url=False)
    if not raw:
        return ScenarioError("invalid scenario", file=filename)
    errors = [
        _Err(index=i, type=e["type"], loc=tuple(e["loc"]), msg=str(e["msg"]), input=e.get("input"),
             ctx=dict(e.get("ctx") or {}))
        for i, e in enumerate(raw)
    ]
    for one in errors:
        _clean(one, positions, model)
    chosen = _choose(errors)
    message, path, where = _message(chosen, positions)
    line, column = where if where is not None else (None, None)
    return ScenarioError(
        _one_line(message), file=filename, line=line, column=column, field=field_path(path) or None
    )
