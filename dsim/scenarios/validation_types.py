"""What a pydantic model accepts at a field path: the keys of a mapping, the types of a child, union members.

Validation messages use it to walk pydantic's error location along the scenario model (dropping union tags the
user never wrote) and to suggest the key a user probably meant.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any, Literal, Union

import pydantic
from pydantic import RootModel

__all__ = ["allowed_keys", "child_types", "members", "model_fields", "tag_members"]


def members(tp: Any, _seen: int = 0) -> list[Any]:
    """The alternatives a type accepts: Annotated, Optional, Union, type aliases and RootModels unwrapped."""
    if _seen > 20:
        return []
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return members(typing.get_args(tp)[0], _seen + 1)
    if origin is Union or origin is types.UnionType:
        out: list[Any] = []
        for arg in typing.get_args(tp):
            out.extend(members(arg, _seen + 1))
        return out
    if tp is None or tp is type(None):
        return []
    value = getattr(tp, "__value__", None)  # `type X = ...` aliases
    if value is not None and origin is None and not isinstance(tp, type):
        return members(value, _seen + 1)
    if isinstance(tp, type) and issubclass(tp, RootModel):
        root = tp.model_fields.get("root")
        return members(root.annotation, _seen + 1) if root is not None else []
    return [tp]


def model_fields(tp: Any) -> dict[str, Any] | None:
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


def allowed_keys(candidates: Iterable[Any], *, preferred: bool = False) -> list[str]:
    """The keys the models among ``candidates`` accept (``preferred``: one per field, its alias if any)."""
    keys: list[str] = []
    for tp in candidates:
        fields = model_fields(tp)
        if fields is None:
            continue
        by_name = _by_name_allowed(tp)
        for name, info in fields.items():
            accepted = _field_keys(name, info, by_name)
            keys.extend(accepted[:1] if preferred else accepted)
    return list(dict.fromkeys(keys))


def child_types(candidates: Iterable[Any], part: str | int) -> list[Any]:
    """The types of ``part`` inside a value of one of ``candidates``."""
    out: list[Any] = []
    for tp in candidates:
        fields = model_fields(tp)
        if fields is not None:
            if isinstance(part, str):
                by_name = _by_name_allowed(tp)
                for name, info in fields.items():
                    if part in _field_keys(name, info, by_name) or part == name:
                        out.extend(members(info.annotation))
            continue
        origin = typing.get_origin(tp) or tp
        args = typing.get_args(tp)
        if not isinstance(origin, type):
            continue
        if issubclass(origin, Mapping):
            if isinstance(part, str) and len(args) == 2:
                out.extend(members(args[1]))
        elif issubclass(origin, tuple):
            if isinstance(part, int) and args:
                if len(args) == 2 and args[1] is Ellipsis:
                    out.extend(members(args[0]))
                elif part < len(args):
                    out.extend(members(args[part]))
        elif isinstance(part, int) and args and issubclass(origin, Iterable) and not issubclass(origin, str):
            out.extend(members(args[0]))
    return out


def _literal_values(tp: Any) -> set[str]:
    """The Literal values of a model's fields (what a discriminated union uses as tags)."""
    values: set[str] = set()
    for info in (model_fields(tp) or {}).values():
        for member in members(info.annotation):
            if typing.get_origin(member) is Literal:
                values.update(str(v.value if hasattr(v, "value") else v) for v in typing.get_args(member))
    return values


def tag_members(candidates: list[Any], tag: str) -> list[Any]:
    """The union members a pydantic union tag names (its class name, or its discriminator value)."""
    named = [tp for tp in candidates if getattr(tp, "__name__", None) == tag]
    if named:
        return named
    return [tp for tp in candidates if tag in _literal_values(tp)]
