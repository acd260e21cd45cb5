"""Explain a pydantic ``ValidationError`` on loaded YAML as one `ScenarioError` by file:line:column, such as::

    scenarios/x.yaml:14:7: hosts.runner.nic: invalid rate '1 Gbit' (expected e.g. 1Gbps, 125MB/s)

The field path is the one written in the YAML; when the error lies inside a union, the member the user most likely
meant is chosen; an unknown key that looks like a missing field is reported as the typo it is.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pydantic
from pydantic import BaseModel

from dsim.errors import ScenarioError
from dsim.scenarios.validation_types import allowed_keys, child_types, members, tag_members
from dsim.scenarios.yaml_positions import Path, Position, Positions, field_path, one_line

__all__ = ["validation_error"]


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
    types_now: list[Any] = members(model) if model is not None else []
    parent: list[Any] = types_now
    last = len(err.loc) - 1
    for i, part in enumerate(err.loc):
        if part == "[key]" and i == last:
            err.key_error = True
            continue
        here = (*path, part)
        present = here in positions
        if isinstance(part, str) and len(types_now) > 1 and (tag_members(types_now, part) or not present):
            err.tags[i] = tuple(path)  # the tag of a union member: not something the user wrote
            types_now = tag_members(types_now, part) or types_now
            continue
        children = child_types(types_now, part)
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
        allowed = allowed_keys(err.parent_types)
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
                message += f" (allowed keys: {', '.join(allowed_keys(err.parent_types, preferred=True))})"
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
    text = one_line(text)
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
        one_line(message), file=filename, line=line, column=column, field=field_path(path) or None
    )
