"""``dsim serve``: the Engine API's networks and volumes (docs/networks-storage.md), and a container
request's ``HostConfig.NetworkMode`` / ``Mounts`` / ``Binds`` / ``Tmpfs`` as a scenario's run options.

Routes are methods of ``ObjectRoutes``, mixed into the HTTP handler (handler.py registers ``ROUTES``); each
calls the daemon's verbs (components/object_verbs.py) in the simulation thread, mutating calls as jobs.
The JSON shapes follow swagger v1.50 (Network, Volume, VolumeListResponse, NetworkCreateResponse).
"""

from __future__ import annotations

import re
from collections.abc import Generator
from typing import TYPE_CHECKING, Any, cast

from dsim.components.container import RESTARTING, RUNNING, Container
from dsim.components.errors import ApiError
from dsim.components.network_objects import Network
from dsim.components.storage import Volume
from dsim.serve import filters as flt
from dsim.serve import object_meta as meta
from dsim.serve.filters import query_flag
from dsim.units import parse_size

if TYPE_CHECKING:
    from dsim.components.daemon import Daemon
    from dsim.serve.engine import Engine
    from dsim.serve.handler import EngineHandler

#: (method, path pattern, handler method suffix) as handler.ROUTES lists them
ROUTES: list[tuple[str, str, str]] = [
    ("GET", r"/networks", "networks"),
    ("POST", r"/networks/create", "network_create"),
    ("POST", r"/networks/prune", "network_prune"),
    ("POST", r"/networks/(?P<ident>[^/]+)/connect", "network_connect"),
    ("POST", r"/networks/(?P<ident>[^/]+)/disconnect", "network_disconnect"),
    ("GET", r"/networks/(?P<ident>[^/]+)", "network_inspect"),
    ("DELETE", r"/networks/(?P<ident>[^/]+)", "network_remove"),
    ("GET", r"/volumes", "volumes"),
    ("POST", r"/volumes/create", "volume_create"),
    ("POST", r"/volumes/prune", "volume_prune"),
    ("GET", r"/volumes/(?P<name>[^/]+)", "volume_inspect"),
    ("DELETE", r"/volumes/(?P<name>[^/]+)", "volume_remove"),
    ("GET", r"/plugins", "plugins"),
    ("GET", r"/plugins/(?P<name>.+)/json", "plugin_inspect"),
]
#: the filters ``GET /plugins`` accepts (moby plugin/backend_linux.go: ``acceptedPluginFilterTags``)
PLUGIN_FILTERS = frozenset({"enabled", "capability"})


# ---------------------------------------------------------------------------------------- views

def network_view(engine: Engine, network: Network, *, containers: bool) -> dict[str, Any]:
    """swagger ``Network``; ``Containers`` filled for inspect (the list leaves it empty, as dockerd)."""
    config = [] if network.subnet is None else [{"Subnet": str(network.subnet), "Gateway": str(network.gateway)}]
    meta = engine.object_meta
    ipam = meta.network_ipam.get(network.id) or {}
    members: dict[str, Any] = {}
    if containers and network.subnet is not None:
        served_by = {served.container.id: served for served in engine.containers.values()}
        for runtime_id, address in network.endpoints.items():
            served = served_by.get(runtime_id)
            ident = served.id if served is not None else runtime_id
            name = served.container.name if served is not None else runtime_id
            members[ident] = {"Name": name, "EndpointID": ident[::-1], "MacAddress": _mac(address),
                              "IPv4Address": f"{address}/{network.subnet.prefixlen}", "IPv6Address": ""}
    return {
        "Name": network.name, "Id": network.id, "Created": engine.iso(network.created), "Scope": "local",
        "Driver": network.driver, "EnableIPv4": True, "EnableIPv6": False,
        "IPAM": {"Driver": ipam.get("Driver") or "default", "Options": ipam.get("Options") or {}, "Config": config},
        "Internal": network.internal, "Attachable": meta.network_attachable.get(network.id, False),
        "Ingress": False, "ConfigFrom": {"Network": ""}, "ConfigOnly": False, "Containers": members,
        "Options": meta.network_options.get(network.id) or {}, "Labels": meta.network_labels.get(network.id) or {},
    }


def _mac(address: Any) -> str:
    """dockerd derives a container's MAC from its IPv4 address (02:42 then the four bytes)."""
    return "02:42:" + ":".join(f"{b:02x}" for b in address.packed)


def volume_view(engine: Engine, volume: Volume) -> dict[str, Any]:
    """swagger ``Volume`` (with UsageData: its bytes on the disk and how many containers use it)."""
    return {
        "CreatedAt": engine.iso(volume.created)[:19] + "Z", "Driver": "local",
        "Labels": engine.object_meta.volume_labels.get(volume.name) or {},
        "Mountpoint": volume.mountpoint, "Name": volume.name,
        "Options": engine.object_meta.volume_options.get(volume.name) or {}, "Scope": "local",
        "UsageData": {"Size": int(volume.bytes), "RefCount": len(volume.users)},
    }


def container_networks(daemon: Daemon, container: Container) -> dict[str, Any]:
    """A container inspect's ``NetworkSettings.Networks``: each network it is on, its address while it runs."""
    stack = daemon.runtime.networks
    out: dict[str, Any] = {}
    mode = container.spec.network
    nets = stack.networks_of(container)
    if not nets and mode in stack.networks:  # host, none
        nets = [stack.networks[mode]]
    for network in nets:
        address = stack.address(container, network)
        out[network.name] = {
            "NetworkID": network.id, "EndpointID": "", "Gateway": str(network.gateway or "") if address else "",
            "IPAddress": str(address or ""), "IPPrefixLen": network.subnet.prefixlen if address and network.subnet
            else 0, "MacAddress": _mac(address) if address else "", "Aliases": None, "DNSNames": None,
        }
    return out


def container_mounts(daemon: Daemon, container: Container,
                     host_config: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """A container inspect's ``Mounts``; ``Mode``, ``RW`` and ``Propagation`` as the request's ``HostConfig``
    (``Binds``, ``Mounts``) asked for them (``_mount_modes``)."""
    volumes = iter(daemon.runtime.storage.mounted(container))
    modes = _mount_modes(host_config or {})
    mounts: list[dict[str, Any]] = []
    for mount in container.spec.mounts:
        mode, rw, propagation = modes.get(mount.target, ("", True, None))
        entry: dict[str, Any] = {"Type": mount.type, "Destination": mount.target, "Mode": mode or "", "RW": rw,
                                 "Propagation": ""}
        if mount.type == "volume":
            volume = next(volumes)
            # a local volume a Binds or Mounts entry names gets "z" when it says no mode (moby volumes_unix.go
            # setBindModeIfNull); an anonymous volume of Config.Volumes has none (container.go
            # AddMountPointWithVolume)
            entry.update({"Name": volume.name, "Source": volume.mountpoint, "Driver": "local",
                          "Mode": mode or ("z" if mount.target in modes else "")})
        elif mount.type == "bind":
            entry.update({"Source": mount.source or "", "Propagation": propagation or "rprivate"})
        else:
            entry["Source"] = ""
        mounts.append(entry)
    return mounts


#: the propagation modes a bind's mode may name (moby daemon/volume/mounts/linux_parser.go)
_PROPAGATIONS = frozenset({"private", "rprivate", "shared", "rshared", "slave", "rslave"})


def _mount_modes(host_config: dict[str, Any]) -> dict[str, tuple[str, bool, str | None]]:
    """Each destination's (Mode, RW, Propagation) as moby's Linux parser derives them
    (https://github.com/moby/moby/blob/master/daemon/volume/mounts/linux_parser.go): a ``Binds`` entry's mode is
    its third field as written (``ro``, ``rw``, ``ro,rshared``; ParseMountRaw keeps it as ``Mode``), read-only
    when one of its options is ``ro``, its propagation the one it names; a ``Mounts`` entry has no mode,
    ``ReadOnly`` and ``BindOptions.Propagation`` say the rest (parseMountSpec). None: the default."""
    modes: dict[str, tuple[str, bool, str | None]] = {}
    for bind in host_config.get("Binds") or []:
        fields = str(bind).split(":")
        if len(fields) < 2:
            continue
        mode = fields[2] if len(fields) > 2 else ""
        options = mode.split(",")
        modes[fields[1]] = (mode, "ro" not in options, next((o for o in options if o in _PROPAGATIONS), None))
    for mount in host_config.get("Mounts") or []:
        if isinstance(mount, dict) and mount.get("Target"):
            bind_options = mount.get("BindOptions")
            propagation = str(bind_options.get("Propagation") or "") or None if isinstance(bind_options, dict) else None
            modes[str(mount["Target"])] = ("", not mount.get("ReadOnly"), propagation)
    return modes


# ---------------------------------------------------------------------------------------- container options

def _size(text: str) -> float:
    return float(parse_size(text))


#: a local volume's name (moby volume/local/local.go ``validName``)
VOLUME_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+")


def container_options(body: dict[str, Any]) -> dict[str, Any]:
    """A create request's network mode and mounts as run options (``network``, ``mounts``)."""
    host_config = body.get("HostConfig") or {}
    options: dict[str, Any] = {}
    mode = str(host_config.get("NetworkMode") or "default")
    options["network"] = "bridge" if mode == "default" else mode
    mounts: list[dict[str, Any]] = []
    for bind in host_config.get("Binds") or []:
        source, _, rest = str(bind).partition(":")
        target = rest.split(":", 1)[0]
        kind = "bind" if source.startswith("/") else "volume"
        if kind == "volume" and not VOLUME_NAME.fullmatch(source):  # moby volume/local/local.go validateName
            raise ApiError(400, f'create {source}: "{source}" includes invalid characters for a local volume name, '
                                'only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host '
                                "directory, use absolute path")
        mounts.append({"type": kind, "source": source, "target": target})
    for mount in host_config.get("Mounts") or []:
        kind = str(mount.get("Type") or "volume")
        if kind not in ("volume", "bind", "tmpfs"):  # the types dsim models; moby's parser knows npipe, cluster
            raise ApiError(400, f'invalid mount config for type "{kind}": mount type unknown')
        entry: dict[str, Any] = {"type": kind, "target": mount.get("Target")}
        if mount.get("Source"):
            entry["source"] = mount["Source"]
        size = (mount.get("TmpfsOptions") or {}).get("SizeBytes")
        if kind == "tmpfs" and size:
            entry["size"] = float(size)
        mounts.append(entry)
    for target, spec in (host_config.get("Tmpfs") or {}).items():
        entry = {"type": "tmpfs", "target": target}
        found = re.search(r"size=([0-9.]+[kmgKMG]?)", str(spec or ""))
        if found:
            text = found.group(1)
            entry["size"] = _size(text + ("iB" if text[-1].isalpha() else ""))
        mounts.append(entry)
    bound = {m["target"] for m in mounts}
    for target in body.get("Volumes") or {}:  # -v /path: an anonymous volume
        if target not in bound:
            mounts.append({"type": "volume", "target": target})
    if mounts:
        options["mounts"] = mounts
    return options


# ---------------------------------------------------------------------------------------- routes

class ObjectRoutes:
    """The handler's network, volume and plugin endpoints (mixed into EngineHandler)."""

    def api_plugins(self, query: dict[str, list[str]]) -> None:
        """``docker plugin ls``: the simulated daemon has no managed plugins (dsim models none), so an empty list
        once the filters pass dockerd's checks: known keys, and ``enabled`` must include true or false."""
        filters = flt.parse((query.get("filters") or [""])[-1])
        flt.validate(filters, PLUGIN_FILTERS)
        enabled = filters.get("enabled")
        if enabled is not None and not {"true", "false"} & set(enabled):
            raise flt.invalid("enabled", flt.go_list(enabled))
        cast("EngineHandler", self).send_json(200, [])

    def api_plugin_inspect(self, query: dict[str, list[str]], name: str) -> None:
        """No plugin is installed: dockerd's 404 (moby plugin/store.go), which ``docker inspect NAME`` takes, as
        for every other kind of object, as "not this kind" on its way to ``No such object: NAME``."""
        raise ApiError(404, f'plugin "{name}" not found')

    def api_networks(self, query: dict[str, list[str]]) -> None:
        h = cast("EngineHandler", self)
        engine = h.state.engine
        filters = meta.parse_filters(query, meta.NETWORK_FILTERS)

        def listed(nets: list[Network]) -> list[dict[str, Any]]:
            stack = engine.daemon.runtime.networks
            used = {n.id for c in engine.daemon.runtime.containers.values() for n in stack.networks_of(c)}
            labels = engine.object_meta.network_labels
            return [network_view(engine, n, containers=False) for n in nets
                    if meta.network_matches(filters, n, labels.get(n.id) or {}, n.id in used)]

        h.send_json(200, h.read(lambda: engine.daemon.network_list(job=-1), listed))

    def api_network_inspect(self, query: dict[str, list[str]], ident: str) -> None:
        h = cast("EngineHandler", self)
        engine = h.state.engine
        h.send_json(200, h.read(lambda: engine.daemon.network_inspect(ident, job=-1),
                                      lambda n: network_view(engine, n, containers=True)))

    def api_network_create(self, query: dict[str, list[str]]) -> None:
        h = cast("EngineHandler", self)
        body = h.read_json()
        name = str(body.get("Name") or "")
        if not name:
            raise ApiError(400, "invalid name: name is required")
        driver = str(body.get("Driver") or "bridge")
        if driver != "bridge":
            raise ApiError(501, f"dsim serve simulates bridge networks only, not driver {driver}")
        if body.get("EnableIPv6"):
            raise ApiError(501, "dsim serve does not simulate IPv6 networks")
        labels = meta.string_map(body.get("Labels"), "NetworkCreateRequest.Labels")
        options = meta.string_map(body.get("Options"), "NetworkCreateRequest.Options")
        ipam = {} if body.get("IPAM") is None else body["IPAM"]
        if not isinstance(ipam, dict) or not isinstance(ipam.get("Config") or [], list) \
                or not all(isinstance(c, dict) for c in ipam.get("Config") or []):
            raise ApiError(400, "json: cannot unmarshal into Go struct field NetworkCreateRequest.IPAM of type "
                                "network.IPAM")
        ipam_kept = {"Driver": str(ipam.get("Driver") or "default"),
                     "Options": meta.string_map(ipam.get("Options"), "IPAM.Options")}
        attachable = bool(body.get("Attachable"))
        configs = (body.get("IPAM") or {}).get("Config") or []
        subnet = str(configs[0].get("Subnet")) if configs and configs[0].get("Subnet") else None
        internal = bool(body.get("Internal"))
        engine = h.state.engine

        def operation(job: int, phase: str | None) -> Generator[Any, Any, Any]:
            engine.sync()
            network = yield from engine.daemon.network_create(name, subnet=subnet, internal=internal, job=job)
            kept = engine.object_meta
            kept.network_labels[network.id], kept.network_options[network.id] = labels, options
            kept.network_ipam[network.id], kept.network_attachable[network.id] = ipam_kept, attachable
            return network.id

        ident = h.wait(h.operation("network create", name, operation))
        h.send_json(201, {"Id": ident, "Warning": ""})

    def api_network_remove(self, query: dict[str, list[str]], ident: str) -> None:
        h = cast("EngineHandler", self)
        engine = h.state.engine

        def operation(job: int, phase: str | None) -> Generator[Any, Any, Any]:
            engine.sync()
            try:
                network = yield from engine.daemon.network_remove(ident, job=job)
            except ApiError as err:  # dockerd names the container by its short ID
                message = str(err)
                for served in engine.containers.values():
                    message = message.replace(f'id:"{served.container.id}"', f'id:"{served.id[:12]}"')
                raise ApiError(err.status, message) from None
            engine.object_meta.forget_network(network.id)
            return network.id

        h.wait(h.operation("network rm", ident, operation))
        h.send_empty(204)

    def api_network_prune(self, query: dict[str, list[str]]) -> None:
        h = cast("EngineHandler", self)
        engine = h.state.engine

        def operation(job: int, phase: str | None) -> Generator[Any, Any, Any]:
            removed = yield from engine.daemon.network_prune(job=job)
            for network in removed:
                engine.object_meta.forget_network(network.id)
            return [n.name for n in removed]

        h.send_json(200, {"NetworksDeleted": h.wait(h.operation("network prune", "", operation))})

    def _connect(self, ident: str, verb: str) -> None:
        h = cast("EngineHandler", self)
        body = h.read_json()
        wanted = str(body.get("Container") or "")
        aliases = meta.endpoint_aliases(body.get("EndpointConfig"), "NetworkConnectRequest.EndpointConfig")
        ipam = meta.ipam_config(body.get("EndpointConfig")) if verb == "connect" else None
        engine = h.state.engine
        networks = engine.daemon.runtime.networks

        def operation(job: int, phase: str | None) -> Generator[Any, Any, Any]:
            served = engine.find(wanted)
            act = engine.daemon.network_connect if verb == "connect" else engine.daemon.network_disconnect
            asked = networks.check_addresses({networks.find(ident).name: ipam["IPv4Address"]}, create=False) \
                if ipam and ipam.get("IPv4Address") else {}  # --ip: the address the endpoint gets
            before = dict(networks.requested(served.container.id))
            networks.keep_addresses(served.container.id, asked)
            try:
                yield from act(ident, served.container, job=job)
            except ApiError as err:
                networks.requested(served.container.id).clear()
                networks.keep_addresses(served.container.id, before)
                raise ApiError(err.status, engine.docker_message(str(err))) from None
            network = networks.find(ident)
            name = network.name
            if ipam is not None:
                engine.object_meta.ipam.setdefault(served.id, {})[name] = ipam
            if served.container.state in (RUNNING, RESTARTING):  # libnetwork's endpoint joins or leaves now
                engine.events.add(engine.env.now, "network", verb, network.id,
                                  {"container": served.id, "name": name, "type": network.driver})
            kept = engine.object_meta.aliases.setdefault(served.id, {})
            if verb == "connect":
                kept[name] = aliases
            else:
                kept.pop(name, None)
                engine.object_meta.ipam.get(served.id, {}).pop(name, None)

        h.wait(h.operation(f"network {verb}", wanted, operation))
        h.send_empty(200)

    def api_network_connect(self, query: dict[str, list[str]], ident: str) -> None:
        h = cast("EngineHandler", self)
        ObjectRoutes._connect(h, ident, "connect")

    def api_network_disconnect(self, query: dict[str, list[str]], ident: str) -> None:
        h = cast("EngineHandler", self)
        ObjectRoutes._connect(h, ident, "disconnect")

    def api_volumes(self, query: dict[str, list[str]]) -> None:
        h = cast("EngineHandler", self)
        engine = h.state.engine
        filters = meta.parse_filters(query, meta.VOLUME_FILTERS)
        labels = engine.object_meta.volume_labels

        def listed(vols: list[Volume]) -> dict[str, Any]:
            return {"Volumes": [volume_view(engine, v) for v in vols
                                if meta.volume_matches(filters, v, labels.get(v.name) or {})], "Warnings": []}

        h.send_json(200, h.read(lambda: engine.daemon.volume_list(job=-1), listed))

    def api_volume_inspect(self, query: dict[str, list[str]], name: str) -> None:
        h = cast("EngineHandler", self)
        engine = h.state.engine
        h.send_json(200, h.read(lambda: engine.daemon.volume_inspect(name, job=-1),
                                      lambda v: volume_view(engine, v)))

    def api_volume_create(self, query: dict[str, list[str]]) -> None:
        h = cast("EngineHandler", self)
        body = h.read_json()
        name = str(body.get("Name") or "") or None
        if name is not None and not re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*", name):
            raise ApiError(400, f'create {name}: "{name}" includes invalid characters for a local volume name, '
                                'only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host '
                                "directory, use absolute path")
        driver = str(body.get("Driver") or "local")
        if driver != "local":
            raise ApiError(404, f'error looking up volume plugin {driver}: plugin "{driver}" not found')
        labels = meta.string_map(body.get("Labels"), "CreateOptions.Labels")
        options = meta.string_map(body.get("DriverOpts"), "CreateOptions.DriverOpts")
        engine = h.state.engine

        def operation(job: int, phase: str | None) -> Generator[Any, Any, Any]:
            existed = name is not None and name in engine.daemon.runtime.storage.volumes
            volume = yield from engine.daemon.volume_create(name, job=job)
            if not existed:  # dockerd answers an existing name with the volume as it is
                engine.object_meta.volume_labels[volume.name] = labels
                engine.object_meta.volume_options[volume.name] = options
            return volume_view(engine, volume)

        h.send_json(201, h.wait(h.operation("volume create", name or "", operation)))

    def api_volume_remove(self, query: dict[str, list[str]], name: str) -> None:
        h = cast("EngineHandler", self)
        engine = h.state.engine

        def operation(job: int, phase: str | None) -> Generator[Any, Any, Any]:
            engine.sync()
            ids = {served.container.id: served.id for served in engine.containers.values()}
            volume = yield from engine.daemon.volume_remove(name, ids=ids, job=job)
            engine.object_meta.forget_volume(volume.name)
            return volume.name

        h.wait(h.operation("volume rm", name, operation))
        h.send_empty(204)

    def api_volume_prune(self, query: dict[str, list[str]]) -> None:
        h = cast("EngineHandler", self)
        engine = h.state.engine
        everything = any(f.startswith('{"all":') and "true" in f for f in query.get("filters") or []) \
            or query_flag(query, "all")

        def operation(job: int, phase: str | None) -> Generator[Any, Any, Any]:
            removed = yield from engine.daemon.volume_prune(all_volumes=everything, job=job)
            for volume in removed:
                engine.object_meta.forget_volume(volume.name)
            return {"VolumesDeleted": [v.name for v in removed], "SpaceReclaimed": int(sum(v.bytes for v in removed))}

        h.send_json(200, h.wait(h.operation("volume prune", "", operation)))
