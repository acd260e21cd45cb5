"""``extends`` in a Compose file: a service starts from another service's configuration and changes it, merged
by compose-go's rules (loader/extends.go, override/merge.go, override/uncity.go), after the file's variables
are substituted and before it is checked against the schema (compose-go's order).

- A value the service writes replaces the base's; mappings merge key by key; lists are appended, then made
  unique where compose-go makes them so (``ports`` as written, ``volumes`` and ``expose`` by target,
  ``environment``, ``labels`` and ``profiles`` by name: the service's own entry wins).
- ``command``, ``entrypoint`` and ``healthcheck.test`` are replaced whole; ``depends_on`` and ``networks`` merge
  as mappings (a list is the mapping of its names); ``environment`` and ``labels`` merge as ``KEY=VALUE`` lists;
  ``build`` as a mapping (a string is its ``context``).
- A base may extend another; a cycle is compose-go's ``Circular reference`` error.
- Only bases in the same file: ``extends.file`` is an error naming it (dsim reads one compose file per step).
A value the service takes from its base is reported, on an error, where the base writes it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from dsim.domain.problems import FieldPath
from dsim.scenarios.yaml_positions import Path, Position, Positions, located_error

#: keys whose base value the service's replaces whole (compose-go mergeSpecials: ``override``)
_REPLACED = frozenset({("command",), ("entrypoint",), ("healthcheck", "test")})
#: keys merged as KEY=VALUE lists (``mergeToSequence``), then one entry per key (``keyValueIndexer``)
_KEY_VALUE = frozenset({("environment",), ("labels",), ("build", "args"), ("build", "labels"), ("deploy", "labels")})
#: keys merged as mappings of names (``mergeDependsOn``, ``mergeNetworks``)
_NAMED = {("depends_on",): {"condition": "service_started", "required": True}, ("networks",): None}


def apply_extends(data: Any, positions: Positions, filename: str) -> Positions:
    """Replace each service that ``extends`` another by the merge of the two (in ``data``, in place); returns
    the positions with the merged services' values placed."""
    services = data.get("services") if isinstance(data, dict) else None
    if not isinstance(services, dict) or not any(isinstance(s, dict) and "extends" in s for s in services.values()):
        return positions
    places = dict(positions.values)
    for name in list(services):
        services[name] = _extended(name, services, positions, places, filename, ())
    return Positions(places, positions.keys)


def _extended(name: str, services: dict[str, Any], positions: Positions, places: dict[Path, Position],
              filename: str, chain: tuple[str, ...]) -> Any:
    service = services[name]
    if not isinstance(service, dict) or "extends" not in service:
        return service
    where: FieldPath = ("services", name, "extends")
    if name in chain:  # compose-go's message, on one line
        links = [f"{chain[0]} in {filename}", *(f"extends {s} in {filename}" for s in (*chain[1:], name))]
        raise located_error("Circular reference: " + ", ".join(links), filename, positions, where)
    extends = service["extends"]
    ref = extends.get("service") if isinstance(extends, dict) else extends
    if isinstance(extends, dict) and extends.get("file") is not None:
        raise located_error("dsim reads one compose file per step: extends.file is not modelled (extend a service of "
                     "this file)", filename, positions, (*where, "file"))
    if not isinstance(ref, str):
        raise located_error(f"extends.{name}.service is required", filename, positions, where)
    if ref not in services:
        raise located_error(f'cannot extend service "{name}" in {filename}: service "{ref}" not found', filename,
                     positions, where)
    base = _extended(ref, services, positions, places, filename, (*chain, name))
    base = copy.deepcopy(base) if isinstance(base, dict) else {}
    own = {key: value for key, value in service.items() if key != "extends"}
    _inherit_positions(places, ("services", ref), ("services", name), both=set(base) & set(own))
    return _unique(_merge(base, own, ()))


def _merge(base: Any, own: Any, path: tuple[str, ...]) -> Any:
    """compose-go's MergeYaml below ``services.<name>``: ``own`` over ``base``."""
    if path in _REPLACED or own is None:
        return base if own is None else own
    if path in _KEY_VALUE:
        return _key_values(base) + _key_values(own)
    if path in _NAMED:
        default = _NAMED[path]
        return {**_names(base, default), **_names(own, default)}
    if path == ("build",):
        base, own = _build(base), _build(own)
    if isinstance(base, dict) and isinstance(own, dict):
        merged = dict(base)
        for key, value in own.items():
            merged[key] = _merge(merged[key], value, (*path, key)) if key in merged else value
        return merged
    if isinstance(base, list) and isinstance(own, list):
        return base + own
    return own


def _key_values(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [f"{key}={item}" if item is not None else key for key, item in value.items()]
    return list(value or [])


def _names(value: Any, default: dict[str, Any] | None) -> dict[str, Any]:
    if isinstance(value, list):
        return {name: dict(default) if default is not None else None for name in value}
    return dict(value or {})


def _build(value: Any) -> Any:
    return {"context": value} if isinstance(value, str) else value


#: the lists compose-go keeps one entry of per key (override/uncity.go), the later entry in its place
_UNIQUE: dict[str, Callable[[Any], str]] = {
    "environment": lambda item: str(item).split("=", 1)[0],
    "labels": lambda item: str(item).split("=", 1)[0],
    "profiles": str,
    "expose": str,
    "ports": lambda item: str(item) if not isinstance(item, dict) else
    f"{item.get('host_ip', '0.0.0.0')}:{item.get('published', '')}:{item.get('target')}/{item.get('protocol', 'tcp')}",
    "volumes": lambda item: str(item.get("target")) if isinstance(item, dict) else _volume_target(str(item)),
}


def _volume_target(short: str) -> str:
    parts = short.split(":")
    return parts[1] if len(parts) > 1 else parts[0]


def _unique(service: dict[str, Any]) -> dict[str, Any]:
    for key, index in _UNIQUE.items():
        items = service.get(key)
        if not isinstance(items, list):
            continue
        kept: list[Any] = []
        at: dict[str, int] = {}
        for item in items:
            name = index(item)
            if name in at:
                kept[at[name]] = item
            else:
                at[name] = len(kept)
                kept.append(item)
        service[key] = kept
    return service


def _inherit_positions(places: dict[Path, Position], base: FieldPath, service: FieldPath, *,
                       both: set[str]) -> None:
    """The base's values' places, for the values the service takes from it (its own places stay); the items of
    a key both write are merged into new places, so an error there names the key."""
    for path, place in list(places.items()):
        if path[:len(base)] == base and len(path) > len(base) and path[len(base)] not in both:
            places.setdefault((*service, *path[len(base):]), place)
    for path in [p for p in places if p[:len(service)] == service and len(p) > len(service) + 1
                 and p[len(service)] in both and any(isinstance(part, int) for part in p[len(service):])]:
        del places[path]
