"""The scenario format's reference, generated from the pydantic models (``dsim schema --markdown``).

One table per model: field, type, default and description, in declaration order, so the reference
cannot drift from what the loader accepts.
"""

from __future__ import annotations

import types
import typing
from typing import Any, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from dsim.distributions import Distribution


def _type_name(annotation: Any) -> str:
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is typing.Annotated:
        base = args[0]
        metadata = " ".join(str(m) for m in args[1:])
        for unit in ("size", "rate", "duration"):
            if f"a {unit}" in metadata:
                return f"{unit} or distribution" if base is Distribution else unit
        return _type_name(base)
    if origin is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        names = [_type_name(a) for a in args if a is not type(None)]
        return " \\| ".join(names) + (" (optional)" if type(None) in args else "")
    if origin in (list, tuple):
        return f"list of {_type_name(args[0])}" if args else "list"
    if origin is dict:
        return f"map {_type_name(args[0])} -> {_type_name(args[1])}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"[{annotation.__name__}](#{annotation.__name__.lower()})"
    if annotation is Distribution:
        return "distribution"
    return getattr(annotation, "__name__", str(annotation))


def _unit(metadata: list[Any]) -> str | None:
    """size / rate / duration / ... from a unit type's JSON-schema description."""
    for item in metadata:
        schema = getattr(item, "json_schema", None)
        text = schema.get("description", "") if isinstance(schema, dict) else ""
        for unit in ("size", "rate", "duration", "fraction", "arrival rate"):
            if text.startswith((f"a {unit}", f"an {unit}")):
                return f"{unit} or distribution" if "distribution" in text else unit
    return None


def _field_type(info: FieldInfo) -> str:
    unit = _unit(info.metadata)
    if unit is not None:
        optional = type(None) in get_args(info.annotation)
        return unit + (" (optional)" if optional else "")
    return _type_name(info.annotation)


_SUFFIX = {"size": " B", "rate": " B/s", "duration": " s", "duration or distribution": ""}


def _default(info: FieldInfo) -> str:
    if info.is_required():
        return "**required**"
    if info.default_factory is not None:
        try:
            value: Any = info.default_factory()  # type: ignore[call-arg]
        except TypeError:
            return ""
        if isinstance(value, BaseModel):
            return "(defaults)"
        if isinstance(value, dict) and value and all(isinstance(v, BaseModel) for v in value.values()):
            return "`{" + ", ".join(f"{key}: {_value(v, info)}" for key, v in value.items()) + "}`"
        return f"`{value}`" if value not in ({}, []) else ""
    value = info.default
    if value is PydanticUndefined or value is None:
        return ""
    if value == "":
        return '`""`'
    return f"`{_value(value, info)}`"


def _value(value: Any, info: FieldInfo) -> str:
    """A default as written in a scenario: units for sizes, rates and durations; a model as {key: value}."""
    if isinstance(value, BaseModel):
        fields = type(value).model_fields
        items = (f"{fields[name].alias or name}: {_value(getattr(value, name), fields[name])}" for name in fields)
        return "{" + ", ".join(items) + "}"
    suffix = _SUFFIX.get(_unit(info.metadata) or "", "")
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        value = int(value)
    return f"{value}{suffix}"


def _models(root: type[BaseModel]) -> list[type[BaseModel]]:
    """Every model reachable from ``root``, in first-seen order."""
    seen: list[type[BaseModel]] = []

    def visit(annotation: Any) -> None:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if annotation in seen:
                return
            seen.append(annotation)
            for info in annotation.model_fields.values():
                visit(info.annotation)
            return
        for arg in get_args(annotation):
            visit(arg)

    visit(root)
    return seen


def _cell(text: str) -> str:
    """Text inside a table cell: ``|`` would end the cell and ``<name>`` would be read as an HTML tag."""
    return " ".join(text.split()).replace("|", "\\|").replace("<", "&lt;")


def markdown(root: type[BaseModel]) -> str:
    out = ["# Scenario format reference", "",
           "Generated from dsim's pydantic models (dsim/scenarios/model/) by `dsim schema --markdown`; do not "
           "edit by hand. Regenerate with `dsim schema --markdown > docs/scenario-reference.md`; "
           "tests/scenarios/test_reference.py fails when this file is stale.", ""]
    for model in _models(root):
        out += [f"## {model.__name__}", ""]
        doc = " ".join((model.__doc__ or "").strip().split("\n\n")[0].split())
        if doc:
            out += [doc, ""]
        out += ["| field | type | default | description |", "|---|---|---|---|"]
        for name, info in model.model_fields.items():
            key = info.alias or name
            description = _cell(info.description or "")
            out.append(f"| `{key}` | {_field_type(info)} | {_default(info)} | {description} |")
        out.append("")
    return "\n".join(out)
