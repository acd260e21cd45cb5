"""Composing a YAML document into plain data with the position of every value, safely.

PyYAML's pure-Python SafeLoader machinery scans, parses and composes the document into nodes; no constructor ever
runs, so no tag can make it build an object. :class:`DataBuilder` converts the nodes itself: standard tags only,
keys as strings, duplicates refused, merge keys resolved, aliases expanded into copies, with guards against alias
bombs and deep nesting. :mod:`dsim.scenarios.yaml_load` states the rules users see.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml

from dsim.scenarios.yaml_positions import Path, Position, mark_position

__all__ = ["MAX_DEPTH", "MAX_NODES", "NULL_TAG", "Alias", "DataBuilder", "LoadFailure", "PositionedLoader",
           "alias_target"]

MAX_NODES = 1_000_000
"""Values produced while building the data, counting every copy an alias expands to."""
MAX_DEPTH = 100
"""Nesting of collections, as written or through aliases."""

_TAG = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL = (_TAG + t for t in ("str", "int", "float", "bool", "null"))
_TIMESTAMP, _MERGE, _VALUE, _SEQ, _MAP = (_TAG + t for t in ("timestamp", "merge", "value", "seq", "map"))
_SCALAR_TAGS = frozenset({_STR, _INT, _FLOAT, _BOOL, _NULL, _TIMESTAMP, _MERGE, _VALUE})
_KNOWN_TAGS = _SCALAR_TAGS | {_SEQ, _MAP}
_KIND_NAMES = {"scalar": "a single value", "sequence": "a list", "mapping": "a mapping"}


NULL_TAG = _NULL
"""The tag of an empty document (``null``, ``~`` or nothing at all)."""


def _short_tag(tag: str) -> str:
    """``tag:yaml.org,2002:str`` as users write it: ``!!str``."""
    return "!!" + tag[len(_TAG):] if tag.startswith(_TAG) else tag


class LoadFailure(Exception):
    """A loading problem at a mark; turned into a ScenarioError naming the file."""

    def __init__(self, message: str, mark: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.mark = mark


@dataclass
class Alias:
    """An alias (``*name``) as written: the anchored node and where the alias is."""

    node: Any
    start_mark: Any


class PositionedLoader(yaml.SafeLoader):
    """PyYAML's pure-Python safe scanner/parser/composer, recording aliases and limiting nesting.

    Only composition is used: no constructor ever runs, so no tag can make it build an object.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]  # types-PyYAML leaves it untyped
            return Alias(super().compose_node(parent, index), mark)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                event = self.peek_event()  # type: ignore[no-untyped-call]
                raise LoadFailure(f"nested too deeply (more than {MAX_DEPTH} levels)", event.start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class DataBuilder:
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
            raise LoadFailure(
                f"the document expands to more than {MAX_NODES:,} values "
                "(are YAML aliases expanding too much?)",
                self._outer_alias or mark,
            )

    def build(self, node: Any, path: Path, depth: int = 0) -> Any:
        if isinstance(node, Alias):
            self.values.setdefault(path, mark_position(node.start_mark))
            if id(node.node) in self._active:
                raise LoadFailure("recursive alias (a value cannot contain itself)", node.start_mark)
            if self._outer_alias is not None:
                return self.build(node.node, path, depth)
            self._outer_alias = node.start_mark
            try:
                return self.build(node.node, path, depth)
            finally:
                self._outer_alias = None
        self.values.setdefault(path, mark_position(node.start_mark))
        self._tick(node.start_mark)
        if depth > MAX_DEPTH:
            raise LoadFailure(f"nested too deeply (more than {MAX_DEPTH} levels, counting aliases)",
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
                self.keys[(*path, key)] = mark_position(key_mark)
                result[key] = self.build(value_node, (*path, key), depth + 1)
            return result
        finally:
            self._active.discard(id(node))

    def _check_collection_tag(self, node: Any) -> None:
        expected = _SEQ if isinstance(node, yaml.SequenceNode) else _MAP
        if node.tag == expected:
            return
        if node.tag in _KNOWN_TAGS:
            raise LoadFailure(
                f"the YAML tag '{_short_tag(node.tag)}' cannot be used on {_KIND_NAMES[node.id]}",
                node.start_mark,
            )
        raise LoadFailure(f"unsupported YAML tag '{_short_tag(node.tag)}'", node.start_mark)

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
                raise LoadFailure(f"duplicate key {key!r} (first at line {mark_position(first)[0]})", key_mark)
            if not is_merge:
                own[key] = (key_mark, value_node)
                continue
            merge_mark = key_mark
            for source in self._merge_sources(value_node):
                for merged_key, entry in self._entries(source).items():
                    merged.setdefault(merged_key, entry)
        return {**merged, **own} if merged else own

    def _merge_sources(self, value_node: Any) -> Iterator[Any]:
        target = alias_target(value_node)
        items = target.value if isinstance(target, yaml.SequenceNode) else [value_node]
        for item in items:
            source = alias_target(item)
            if not isinstance(source, yaml.MappingNode):
                raise LoadFailure(
                    "the value of the merge key '<<' must be a mapping or a list of mappings",
                    _mark_of(item),
                )
            if id(source) in self._active:
                raise LoadFailure("recursive alias (a mapping cannot merge itself)", _mark_of(item))
            self._check_collection_tag(source)
            self._active.add(id(source))
            try:
                yield source
            finally:
                self._active.discard(id(source))

    def _key(self, key_node: Any) -> tuple[str, Any, bool]:
        """(key text, where it is written, whether it is a merge key ``<<``)."""
        mark = _mark_of(key_node)
        target = alias_target(key_node)
        if not isinstance(target, yaml.ScalarNode):
            raise LoadFailure(f"a mapping key must be a plain value, not {_KIND_NAMES[target.id]}", mark)
        if target.tag not in _SCALAR_TAGS:
            raise LoadFailure(f"unsupported YAML tag '{_short_tag(target.tag)}'", mark)
        return str(target.value), mark, target.tag == _MERGE

    def _scalar(self, node: Any) -> Any:
        tag, text = node.tag, node.value
        if tag in (_STR, _TIMESTAMP, _MERGE, _VALUE):
            return text
        if tag == _NULL:
            return None
        if tag not in self._converters:
            if tag in _KNOWN_TAGS:
                raise LoadFailure(f"the YAML tag '{_short_tag(tag)}' cannot be used on a single value",
                            node.start_mark)
            raise LoadFailure(f"unsupported YAML tag '{_short_tag(tag)}'", node.start_mark)
        what, convert = self._converters[tag]
        try:
            return convert(node)
        except (ValueError, TypeError, IndexError, KeyError, AttributeError):
            message = f"invalid value {text!r} for '{_short_tag(tag)}' (expected {what})"
            raise LoadFailure(message, node.start_mark) from None


def alias_target(node: Any) -> Any:
    """The node an alias stands for; any other node itself."""
    return node.node if isinstance(node, Alias) else node


def _mark_of(node: Any) -> Any:
    return node.start_mark
