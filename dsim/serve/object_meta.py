"""What the API keeps of networks and volumes beyond the model's objects: labels, driver options, IPAM
options, endpoint aliases; and the ``filters`` of ``GET /networks`` and ``GET /volumes``.

Compose labels everything it makes (``com.docker.compose.project``, ``...network``, ``...volume``) and finds
it again by them; a second ``docker-compose up`` compares a network's ``Options`` and user labels with the
file's. The network and storage models (components/networks.py, storage.py) have no use for these strings,
so the HTTP face keeps them, keyed by network ID and volume name, and drops them when the object goes.

Filters are moby's: networks (``daemon/network/filter.go``): ``driver`` and ``scope`` exact, ``name`` and
``id`` a match (an exact value or a regular expression found in it), ``label`` key or key=value, ``type``
``custom``/``builtin``, ``dangling`` (a user network no container is configured on); volumes
(``volume/service``): ``name`` a match, ``driver`` exact, ``label``, ``dangling`` (no container mounts it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dsim.components.errors import ApiError
from dsim.serve import filters as flt

if TYPE_CHECKING:
    from dsim.components.network_objects import Network
    from dsim.components.storage import Volume

NETWORK_FILTERS = frozenset({"dangling", "driver", "id", "label", "name", "scope", "type"})
VOLUME_FILTERS = frozenset({"dangling", "driver", "label", "name"})


@dataclass
class ObjectMeta:
    """Labels and options given at creation, by network ID / volume name; aliases by container and network."""

    network_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    network_options: dict[str, dict[str, str]] = field(default_factory=dict)
    network_ipam: dict[str, dict[str, Any]] = field(default_factory=dict)
    network_attachable: dict[str, bool] = field(default_factory=dict)
    volume_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    volume_options: dict[str, dict[str, str]] = field(default_factory=dict)
    #: Docker container ID -> network name -> the endpoint's aliases (create's NetworkingConfig, connect)
    aliases: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    #: Docker container ID -> network name -> the endpoint's ``IPAMConfig`` as inspect shows it (create's)
    ipam: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def keep_endpoints(self, docker_id: str, aliases: dict[str, list[str]], body: dict[str, Any]) -> None:
        """A created container's endpoint configuration: its aliases and its ``IPAMConfig`` (``--ip``)."""
        self.aliases[docker_id] = aliases
        self.ipam[docker_id] = endpoint_ipam(body)

    def forget_container(self, docker_id: str) -> None:
        self.aliases.pop(docker_id, None)
        self.ipam.pop(docker_id, None)

    def forget_network(self, ident: str) -> None:
        for table in (self.network_labels, self.network_options, self.network_ipam, self.network_attachable):
            table.pop(ident, None)

    def forget_volume(self, name: str) -> None:
        self.volume_labels.pop(name, None)
        self.volume_options.pop(name, None)


def string_map(value: Any, what: str) -> dict[str, str]:
    """A ``map[string]string`` of a request body (Labels, Options): anything else is a 400 as Go's decoder."""
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ApiError(400, f"json: cannot unmarshal into Go struct field {what} of type map[string]string")
    return dict(value)


def endpoint_aliases(config: Any, what: str) -> list[str]:
    """An EndpointSettings' ``Aliases`` (a list of strings; anything else is a 400 as Go's decoder)."""
    if config is None:
        return []
    aliases = config.get("Aliases") if isinstance(config, dict) else None
    aliases = [] if aliases is None else aliases
    if not isinstance(config, dict) or not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise ApiError(400, f"json: cannot unmarshal into Go struct field {what} of type network.EndpointSettings")
    return list(aliases)


def endpoints_config(body: dict[str, Any]) -> dict[str, list[str]]:
    """A create request's ``NetworkingConfig.EndpointsConfig`` as network name -> aliases."""
    networking = body.get("NetworkingConfig")
    networking = {} if networking is None else networking
    endpoints = networking.get("EndpointsConfig") if isinstance(networking, dict) else None
    if not isinstance(networking, dict) or not isinstance({} if endpoints is None else endpoints, dict):
        raise ApiError(400, "json: cannot unmarshal into Go struct field ContainerConfigWrapper.NetworkingConfig of "
                            "type network.NetworkingConfig")
    return {str(net): endpoint_aliases(cfg, "NetworkingConfig.EndpointsConfig")
            for net, cfg in (endpoints or {}).items()}


def _endpoints(body: dict[str, Any]) -> dict[str, Any]:
    """A create request's ``NetworkingConfig.EndpointsConfig``, the ``default`` network's endpoint named as the
    network it is (moby api/server/router/container/container_routes.go: ``default`` becomes ``bridge``
    before anything reads it, when the NetworkMode is the default one)."""
    endpoints = dict((body.get("NetworkingConfig") or {}).get("EndpointsConfig") or {})
    if str((body.get("HostConfig") or {}).get("NetworkMode") or "default") == "default" and "default" in endpoints:
        endpoints["bridge"] = endpoints.pop("default")
    return endpoints


def endpoint_addresses(body: dict[str, Any]) -> dict[str, str]:
    """``--ip``: each endpoint's ``IPAMConfig.IPv4Address`` of a create request, by network name."""
    endpoints = _endpoints(body)
    return {str(net): str(address) for net, cfg in endpoints.items() if isinstance(cfg, dict)
            if (address := (cfg.get("IPAMConfig") or {}).get("IPv4Address"))}


def endpoint_ipam(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each endpoint's ``IPAMConfig`` of a create request (:func:`ipam_config`), for the endpoints that gave
    one (the others' stays null)."""
    out: dict[str, dict[str, Any]] = {}
    for net, cfg in _endpoints(body).items():
        if (ipam := ipam_config(cfg)) is not None:
            out[str(net)] = ipam
    return out


def ipam_config(endpoint: Any) -> dict[str, Any] | None:
    """An endpoint's ``IPAMConfig`` as dockerd keeps and shows it: moby's EndpointIPAMConfig
    (api/types/network/endpoint.go in v28: ``IPv4Address``, ``IPv6Address`` and ``LinkLocalIPs``, each
    ``omitempty``); None when the endpoint gave none."""
    ipam = endpoint.get("IPAMConfig") if isinstance(endpoint, dict) else None
    if not isinstance(ipam, dict):
        return None
    return {key: ipam[key] for key in ("IPv4Address", "IPv6Address", "LinkLocalIPs") if ipam.get(key)}


def parse_filters(query: dict[str, list[str]], accepted: frozenset[str]) -> flt.Filters:
    filters = flt.parse((query.get("filters") or [""])[-1])
    flt.validate(filters, accepted)
    for value in filters.get("type", []):
        if value not in ("custom", "builtin"):
            raise ApiError(400, f"invalid filter: 'type'='{value}'")
    return filters


def network_matches(filters: flt.Filters, network: Network, labels: dict[str, str], used: bool) -> bool:
    """One network against ``GET /networks`` filters (``used``: some container is configured on it)."""
    driver = network.driver
    kind = "builtin" if network.builtin else "custom"
    dangling = flt.bool_or_default(filters, "dangling", False) if "dangling" in filters else None
    return ((not filters.get("driver") or driver in filters["driver"])
            and flt.match(filters, "name", network.name)
            and flt.match(filters, "id", network.id)
            and flt.match_kv_list(filters, "label", labels)
            and (not filters.get("scope") or "local" in filters["scope"])
            and (not filters.get("type") or kind in filters["type"])
            and (dangling is None or dangling == (not used and not network.builtin)))


def volume_matches(filters: flt.Filters, volume: Volume, labels: dict[str, str]) -> bool:
    """One volume against ``GET /volumes`` filters."""
    dangling = flt.bool_or_default(filters, "dangling", False) if "dangling" in filters else None
    return (flt.match(filters, "name", volume.name)
            and (not filters.get("driver") or "local" in filters["driver"])
            and flt.match_kv_list(filters, "label", labels)
            and (dangling is None or dangling == (not volume.users)))
