"""Responses checked against Docker's Engine API spec (swagger 2.0, v1.50), whole shapes at once.

The spec file stays outside the repository (the shared folder beside it, as the conformance tests use):
without it the checks skip with the reason. A response schema is the spec's, turned into JSON Schema
(draft 4, which swagger 2.0's schemas are): ``$ref`` to ``#/definitions/...`` resolved in the spec,
``x-nullable: true`` admits null, and, for the shapes dockerd fills from Go structs, every property the
spec lists is required (dockerd writes each field of its structs; those it omits when empty, Go's
``omitempty``, are listed in OPTIONAL). So a missing ``HostConfig.LogConfig`` (the SDK's KeyError) fails
here, not in a client.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import SHARED

#: beside the repository (tests/helpers.py SHARED), or where DSIM_SHARED says (a worktree elsewhere)
SPEC = Path(os.environ.get("DSIM_SHARED") or SHARED) / "engine-api" / "swagger-v1.50.yaml"

#: Fields dockerd leaves out when empty (Go ``omitempty`` in moby's api/types), by definition.
OPTIONAL: dict[str, frozenset[str]] = {
    "HostConfig": frozenset({"Annotations", "StorageOpt", "Tmpfs", "Sysctls", "Runtime", "Mounts", "Init",
                             "KernelMemoryTCP"}),
    "Resources": frozenset({"KernelMemoryTCP", "Init"}),
    "ContainerConfig": frozenset({"ExposedPorts", "Healthcheck", "ArgsEscaped", "NetworkDisabled", "MacAddress",
                                  "StopSignal", "StopTimeout", "Shell"}),
    "ContainerState": frozenset({"Health"}),
    "ContainerInspectResponse": frozenset({"Node", "SizeRw", "SizeRootFs", "ImageManifestDescriptor"}),
    "ContainerSummary": frozenset({"SizeRw", "SizeRootFs", "ImageManifestDescriptor", "Health"}),
    "ImageInspect": frozenset({"Descriptor", "Manifests", "Identity", "Parent", "Comment", "DockerVersion",
                               "Author", "Variant", "OsVersion", "VirtualSize", "Container", "ContainerConfig"}),
    "ImageConfig": frozenset({"ExposedPorts", "Healthcheck", "ArgsEscaped", "StopSignal", "Shell"}),
    "ImageSummary": frozenset({"Descriptor", "Manifests", "VirtualSize"}),
    "ContainerStatsResponse": frozenset({"os_type", "num_procs", "storage_stats"}),
    "ContainerTopResponse": frozenset(),
    "ContainerWaitResponse": frozenset({"Error"}),
    "EventMessage": frozenset({"status", "id", "from"}),
    "EventActor": frozenset(),
    "RestartPolicy": frozenset(),
    "ContainerCPUStats": frozenset(),
    "ContainerCPUUsage": frozenset({"percpu_usage"}),
    "ContainerMemoryStats": frozenset({"max_usage", "failcnt", "commitbytes", "commitpeakbytes",
                                       "privateworkingset"}),
}


#: Go pointers of moby's structs that dockerd writes as null when unset, where the spec omits x-nullable.
POINTERS: dict[str, frozenset[str]] = {
    "Resources": frozenset({"MemorySwappiness", "OomKillDisable", "PidsLimit"}),
}


@functools.cache
def spec() -> dict[str, Any]:
    if not SPEC.exists():
        pytest.skip(f"the Engine API spec is not here ({SPEC}): the response shape checks need it")
    import yaml

    loaded: dict[str, Any] = yaml.safe_load(SPEC.read_text())
    return loaded


def _convert(node: Any, strict: bool, name: str | None = None) -> Any:
    """Swagger 2.0 schema -> JSON Schema draft 4, with ``x-nullable`` and the completeness rule."""
    if isinstance(node, list):
        return [_convert(item, strict) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _convert(value, strict) for key, value in node.items()
           if key not in ("example", "x-go-name", "x-nullable", "x-omitempty", "x-go-type", "discriminator")}
    if "properties" in node:
        out["properties"] = {key: _convert(value, strict) for key, value in node["properties"].items()}
        for key in POINTERS.get(name or "", ()):
            out["properties"][key] = {"anyOf": [out["properties"][key], {"type": "null"}]}
        if strict and name in OPTIONAL:
            out["required"] = sorted(set(node["properties"]) - OPTIONAL[name])
    if "allOf" in node:  # a definition made of parts (HostConfig: Resources and its own properties)
        out["allOf"] = [_convert(part, strict, name if "properties" in part else None) for part in node["allOf"]]
    if "additionalProperties" in node and isinstance(node["additionalProperties"], dict):
        out["additionalProperties"] = _convert(node["additionalProperties"], strict)
    if node.get("x-nullable"):
        return {"anyOf": [out, {"type": "null"}]}
    return out


@functools.cache
def _definitions(strict: bool) -> dict[str, Any]:
    return {name: _convert(copy.deepcopy(schema), strict, name) for name, schema in spec()["definitions"].items()}


def response_schema(method: str, path: str, status: int) -> dict[str, Any]:
    operation = spec()["paths"][path][method.lower()]
    response = operation["responses"].get(status) or operation["responses"].get(str(status))
    assert response is not None and "schema" in response, f"the spec has no {status} body for {method} {path}"
    return _convert(copy.deepcopy(response["schema"]), strict=True)


def check(method: str, path: str, status: int, body: Any) -> None:
    """Validate ``body`` (a decoded JSON response of ``method path``, path as the spec writes it, e.g.
    ``/containers/{id}/json``) against the spec; the assertion lists every problem found."""
    from jsonschema import Draft4Validator

    schema = {**response_schema(method, path, status), "definitions": _definitions(True)}
    errors = sorted(Draft4Validator(schema).iter_errors(body), key=lambda e: list(e.absolute_path))
    problems = [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message[:200]}" for e in errors]
    assert not problems, f"{method} {path} does not match the Engine API 1.50 spec:\n" + "\n".join(problems)


def check_definition(name: str, body: Any) -> None:
    """Validate one value of a spec definition (an NDJSON line, an event)."""
    from jsonschema import Draft4Validator

    schema = {**_definitions(True)[name], "definitions": _definitions(True)}
    errors = sorted(Draft4Validator(schema).iter_errors(body), key=lambda e: list(e.absolute_path))
    problems = [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message[:200]}" for e in errors]
    assert not problems, f"{name} does not match the Engine API 1.50 spec:\n" + "\n".join(problems)


def get(url: str, path: str, method: str = "GET", body: Any = None) -> tuple[int, Any]:
    """A request to the server; (status, decoded JSON or None)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, _decode(response.read())
    except urllib.error.HTTPError as err:
        return err.code, _decode(err.read())


def _decode(raw: bytes) -> Any:
    """One JSON document, or a list of the lines of an NDJSON stream."""
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return [json.loads(line) for line in raw.splitlines() if line.strip()]
