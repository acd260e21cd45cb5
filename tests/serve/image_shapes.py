"""A small checker of response bodies against the Engine API 1.50 schemas the image commands answer with
(``data/engine-api-images.yaml``, taken from the API's swagger.yaml): types, required keys, enums, nested
objects and arrays. ``null`` is accepted where the spec does not say ``x-nullable: false`` (Go's nil slices
and maps encode as null, as dockerd's do)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

SPEC = Path(__file__).parent / "data" / "engine-api-images.yaml"

_TYPES: dict[str, tuple[type, ...]] = {"string": (str,), "integer": (int,), "number": (int, float),
                                       "boolean": (bool,), "object": (dict,), "array": (list,)}


@cache
def _spec() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(SPEC.read_text())
    return loaded


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = _spec()["definitions"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def problems(value: Any, schema: dict[str, Any], where: str = "$") -> list[str]:
    """Every way ``value`` breaks ``schema`` (empty: it conforms)."""
    schema = _resolve(schema)
    if value is None:
        return [f"{where}: null"] if schema.get("x-nullable") is False else []
    kind = schema.get("type") or ("object" if "properties" in schema else None)
    wrong = kind in _TYPES and not isinstance(value, _TYPES[kind])
    if wrong or (kind in ("integer", "number") and isinstance(value, bool)):
        return [f"{where}: {type(value).__name__} is not {kind}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{where}: {value!r} not in {schema['enum']}"]
    found: list[str] = []
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        found += [f"{where}: missing {key}" for key in schema.get("required") or () if key not in value]
        for key, item in value.items():
            if key in props:
                found += problems(item, props[key], f"{where}.{key}")
            elif isinstance(schema.get("additionalProperties"), dict):
                found += problems(item, schema["additionalProperties"], f"{where}.{key}")
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            found += problems(item, schema["items"], f"{where}[{i}]")
    return found


def response_problems(operation: str, value: Any) -> list[str]:
    """``value`` against the 200 response of an operation (``ImageHistory``, ``SystemDataUsage``...)."""
    return problems(value, _spec()["responses"][operation])


def definition_problems(name: str, value: Any) -> list[str]:
    return problems(value, _spec()["definitions"][name])
