"""What the Engine API shows of one simulated daemon: containers and images as JSON views, ages and times.

Read-only: these methods, mixed into ``serve.engine.Engine``, turn the runtime's containers (through the
API's ``Served`` records: Docker's IDs, the request's config) and the store's images into the fields of
Docker's Engine API spec (v1.50): ``docker ps`` STATUS, ports, inspect documents, image summaries.
Simulated instants are placed on the real clock so the CLI's "2 minutes ago" is the simulated age.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import simpy

from dsim.components.container import CREATED, EXITED, RESTARTING, RUNNING, Container
from dsim.components.daemon import Daemon
from dsim.components.runtime import parse_port
from dsim.components.storage import Node
from dsim.domain.images import ImageInfo
from dsim.serve import health, objects, shapes
from dsim.serve import images as refs
from dsim.serve.commands import Program
from dsim.serve.image_config import ImageConfigs, familiar_tags
from dsim.serve.logs import ProcessLog
from dsim.serve.netview import dns_names
from dsim.serve.object_meta import ObjectMeta
from dsim.serve.shell_session import ShellSession

#: ImageConfig fields the Engine API 1.50 spec types as arrays or objects (not nullable): empty, not null.
_EMPTY = {"ExposedPorts": dict, "Cmd": list, "Entrypoint": list, "Volumes": dict, "OnBuild": list, "Labels": dict,
          "Env": list}


def spec_config(config: dict[str, Any]) -> dict[str, Any]:
    """An image's config as the API answers it: a field without a value is empty, as the spec types it."""
    return {key: (_EMPTY[key]() if value is None and key in _EMPTY else value) for key, value in config.items()}


def human_duration(seconds: float) -> str:
    """go-units HumanDuration, as ``docker ps`` shows ages: 'Less than a second', '2 seconds', 'About a minute'."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{hours // 24 // 365} years"


@dataclass
class Served:
    """A container as the API shows it: Docker's ID, the request's config, the runtime's container."""

    id: str
    container: Container
    created: float
    config: dict[str, Any]
    host_config: dict[str, Any]
    image: ImageInfo
    waiters: list[simpy.Event] = field(default_factory=list)
    removed: bool = False
    #: a DELETE is under way (moby's SetRemovalInProgress): ``--rm``'s own removal at the exit leaves it alone
    removing: bool = False
    #: what the process does (None: a container a scenario's workload made: its own model, no output)
    program: Program | None = None
    #: Entrypoint + Cmd as the process runs them
    argv: list[str] = field(default_factory=list)
    log: ProcessLog = field(default_factory=ProcessLog)
    #: runs of the process seen so far (each gets a RunLog)
    seen_runs: int = 0
    #: the interactive shell of the current run (``-i`` with a shell or cat)
    session: ShellSession | None = None
    #: the container's lifecycle lock (Engine.locked), made at its first lifecycle operation
    lock: simpy.Resource | None = None
    #: running execs (their IDs)
    exec_ids: list[str] = field(default_factory=list)
    #: every exec made in it since it last started: dockerd forgets them when the process exits (Cleanup)
    execs_made: list[str] = field(default_factory=list)
    #: files its commands can read back: its image's (a commit's) and those its commands wrote (commands.py)
    files: dict[str, bytes] = field(default_factory=dict)
    #: their (mtime as a Unix time, permission bits) once written or copied in (archive.py; others: its creation)
    file_meta: dict[str, tuple[float, int]] = field(default_factory=dict)
    #: the directories and symbolic links docker cp put in it (and its image's: a commit's), by path (archive.py)
    nodes: dict[str, Node] = field(default_factory=dict)
    #: the paths of those that came with its image (a write there copies the file up)
    image_files: frozenset[str] = frozenset()
    #: when a ``docker stop``'s timeout passes and the daemon sends SIGKILL (None: no stop under way)
    kill_at: float | None = None
    #: standard input sent before the session began (the CLI streams it while the start is on its way)
    pending_input: list[bytes | None] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.container.name

    @property
    def paused(self) -> bool:
        """Frozen by ``docker pause`` (or a commit meanwhile): the daemon's freezer (components/freezer.py)."""
        return self.container.paused



class ApiViews:
    """The API's views (mixed into Engine, which holds these attributes)."""

    daemon: Daemon
    host: str
    env: simpy.Environment
    clock: Callable[[], float]
    containers: dict[str, Served]
    built: dict[str, float]
    image_configs: ImageConfigs

    def sync(self) -> None:
        raise NotImplementedError

    def local_images(self) -> Mapping[str, ImageInfo]:
        return self.daemon.store.images()

    # ------------------------------------------------------------------ time as the API shows it

    #: the Unix time at which the simulation was at instant 0, and simulated seconds per wall second
    epoch0: float
    speed: float

    def epoch(self, sim_time: float) -> float:
        """The Unix time of a simulated instant: the wall-clock moment the simulation reached (or will
        reach) it. Fixed for each instant, so a timestamp never moves between calls and the daemon's time
        never goes backwards, and on the client's own clock: ``docker events --since 1m``, ``logs --since``
        and the CLI's CREATED ages mean what they say. A simulated duration shows as itself divided by
        ``--speed`` between two timestamps; the durations dsim computes (STATUS ``Up 2 minutes``) are
        simulated."""
        return self.epoch0 + sim_time / self.speed

    def iso(self, sim_time: float | None) -> str:
        if sim_time is None:
            return "0001-01-01T00:00:00Z"
        stamp = self.epoch(sim_time)
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(stamp)) + f".{int(stamp % 1 * 1e9):09d}Z"

    # ------------------------------------------------------------------ what the API shows

    def state_of(self, served: Served) -> str:
        """The container's state as the API names it (``paused`` while frozen)."""
        return "paused" if served.paused and served.container.state == RUNNING else served.container.state

    def status(self, served: Served) -> str:
        """``docker ps`` STATUS: 'Up 2 seconds', 'Exited (0) 3 seconds ago', 'Created', 'Restarting (1) ...'."""
        container = served.container
        now = self.clock()
        if container.state == RUNNING:
            status = container.health_status
            health = f" (health: {status})" if status == "starting" else f" ({status})" if status else ""
            paused = " (Paused)" if served.paused else ""
            return f"Up {human_duration(now - (container.started_at or now))}{health}{paused}"
        if container.state in (EXITED, RESTARTING):
            ago = human_duration(now - (container.finished_at or now))
            return f"{container.state.capitalize()} ({container.exit_code}) {ago} ago"
        return "Created"

    def ports(self, served: Served) -> list[dict[str, Any]]:
        """ContainerSummary.Ports: published bindings while running, and exposed ports."""
        out: list[dict[str, Any]] = []
        published: set[tuple[int, str]] = set()
        if served.container.state == RUNNING:
            for text in served.container.published:
                ip, _, rest = text.rpartition(":")
                public, _, private = rest.partition("->")
                number, _, kind = private.partition("/")
                out.append({"IP": ip, "PrivatePort": int(number), "PublicPort": int(public), "Type": kind})
                published.add((int(number), kind))
            for mapping in served.container.spec.expose:
                _, port, proto = parse_port(mapping)
                if (port, proto) not in published:
                    out.append({"PrivatePort": port, "Type": proto})
        return out

    def command(self, served: Served) -> list[str]:
        config = refs.config_for(self.image_configs, served.image)
        entrypoint, cmd = list(config.entrypoint or ()), list(config.cmd or ())
        given_entry = served.config.get("Entrypoint")
        given_cmd = served.config.get("Cmd")
        if given_entry == [""]:  # --entrypoint "": none (processes.argv)
            return list(given_cmd or ())
        return list(given_entry if given_entry else entrypoint) + list(given_cmd if given_cmd else cmd)

    def image_shown(self, served: Served) -> str:
        """``docker ps``' IMAGE: the name it was created from while that name still means its image, else the
        image's ID (moby daemon/list.go ``refreshImage``: a tag moved to a newer image, or removed)."""
        named = served.config["Image"]
        ident = refs.image_id(served.image)
        current = self.daemon.find_image(named) if "@" not in named else served.image
        return named if current is not None and refs.image_id(current) == ident else ident

    def summary(self, served: Served) -> dict[str, Any]:
        container = served.container
        return {
            "Id": served.id,
            "Names": [f"/{container.name}"],
            "Image": self.image_shown(served),
            "ImageID": refs.image_id(served.image),
            "Command": " ".join(self.command(served)),
            "Created": int(self.epoch(served.created)),
            "Ports": self.ports(served),
            "Labels": served.config.get("Labels") or {},
            "State": self.state_of(served),
            "Status": self.status(served),
            "HostConfig": {"NetworkMode": container.spec.network},
            "NetworkSettings": {"Networks": self.network_settings(served, {})["Networks"]},
            "Mounts": objects.container_mounts(self.daemon, container, served.host_config),
        }

    def pid(self, served: Served) -> int:
        """The process's PID on the host while it runs (a number per container and run; 0 otherwise)."""
        container = served.container
        if container.state != RUNNING:
            return 0
        return 1000 + 10 * (list(self.containers).index(served.id) if served.id in self.containers else 0) + \
            container.runs

    def address(self, served: Served) -> str:
        """The container's address on the default bridge (172.17.0.2 on, in creation order)."""
        index = list(self.containers).index(served.id) if served.id in self.containers else 0
        return f"172.17.{(index + 2) // 256}.{(index + 2) % 256}"

    def network_settings(self, served: Served, ports: dict[str, Any]) -> dict[str, Any]:
        """NetworkSettings with every field of an endpoint (shapes.py), for each network the container is on
        (networks.py: its address, gateway and prefix there)."""
        container = served.container
        settings = shapes.network_settings(ports, container.state == RUNNING, self.address(served))
        template = settings["Networks"].pop("bridge")
        on = objects.container_networks(self.daemon, container)
        ipam = self.object_meta.ipam.get(served.id, {})  # create's --ip (object_meta.py)
        settings["Networks"] = {name: {**template, **{k: v for k, v in fields.items() if v is not None},
                                       **self._dns_names(served, name), "IPAMConfig": ipam.get(name)}
                                for name, fields in on.items()} or {"bridge": template}
        return settings

    #: the endpoints' aliases (create's NetworkingConfig, network connect), kept by the API (object_meta.py)
    object_meta: ObjectMeta

    def _dns_names(self, served: Served, network: str) -> dict[str, Any]:
        """An endpoint's ``Aliases`` (as given) and, on a user-defined network, ``DNSNames``: the name, the
        aliases, the short ID (moby ``buildEndpointDNSNames``; the default bridge has no embedded DNS)."""
        aliases = self.object_meta.aliases.get(served.id, {}).get(network) or []
        found = self.daemon.runtime.networks.networks.get(network)
        if found is None or not found.dns:
            return {"Aliases": aliases}
        return {"Aliases": aliases, "DNSNames": dns_names(served.name, served.id, aliases)}

    def inspect(self, served: Served) -> dict[str, Any]:
        """``GET /containers/{id}/json``: every field of ContainerInspectResponse (shapes.py)."""
        container = served.container
        ports: dict[str, Any] = {}
        for entry in self.ports(served):
            key = f"{entry['PrivatePort']}/{entry['Type']}"
            if "PublicPort" in entry:
                ports.setdefault(key, []).append({"HostIp": entry["IP"], "HostPort": str(entry["PublicPort"])})
            else:
                ports.setdefault(key, None)
        config = refs.config_for(self.image_configs, served.image)
        entrypoint, cmd = list(config.entrypoint or ()), list(config.cmd or ())
        command = self.command(served)
        given_entry = served.config.get("Entrypoint")
        root = f"/var/lib/docker/containers/{served.id}"
        return {
            "Id": served.id,
            "Created": self.iso(served.created),
            "Path": (command or [""])[0],
            "Args": command[1:],
            "State": {
                "Status": self.state_of(served),
                "Running": container.state == RUNNING,
                "Paused": served.paused,
                "Restarting": container.state == RESTARTING,
                "OOMKilled": container.oom_killed,
                "Dead": False,
                "Pid": self.pid(served),
                "ExitCode": container.exit_code or 0,
                "Error": container.error.replace(f"({container.id})", f"({served.id})"),  # as the API said it
                "StartedAt": self.iso(container.started_at),
                "FinishedAt": self.iso(container.finished_at),
                **({"Health": checked} if (checked := health.state_view(self, served)) is not None else {}),  # type: ignore[arg-type]
            },
            "Image": refs.image_id(served.image),
            "ResolvConfPath": f"{root}/resolv.conf",
            "HostnamePath": f"{root}/hostname",
            "HostsPath": f"{root}/hosts",
            "LogPath": f"{root}/{served.id}-json.log",
            "Name": f"/{container.name}",
            "RestartCount": container.restart_manager.restart_count,
            "Driver": "overlayfs",
            "Platform": "linux",
            "MountLabel": "",
            "ProcessLabel": "",
            "AppArmorProfile": "docker-default",
            "ExecIDs": list(served.exec_ids) or None,
            "HostConfig": shapes.host_config(served.host_config),
            "GraphDriver": {"Name": "overlayfs", "Data": {}},
            "Mounts": objects.container_mounts(self.daemon, container, served.host_config),  # serve/objects.py
            "Config": shapes.container_config(
                served.config, served.id[:12], served.config.get("Cmd") or ([] if given_entry else cmd),
                given_entry if given_entry else entrypoint, list(container.spec.expose))
            | ({"Healthcheck": kept} if (kept := health.config_view(served.config.get("Healthcheck"))) else {}),
            "NetworkSettings": self.network_settings(served, ports),
        }

    def image_summary(self, image_id: str, tags: list[ImageInfo]) -> dict[str, Any]:
        image = tags[0]
        repo_digests = refs.repo_digests(tags)
        return {
            "Id": image_id,
            "ParentId": "",
            "RepoTags": familiar_tags(t.ref for t in refs.by_reference(tags)),
            "RepoDigests": repo_digests,
            "Created": int(self.created(image)),
            "Size": int(sum(layer.uncompressed for layer in image.layers)),
            "SharedSize": -1,
            "VirtualSize": int(sum(layer.uncompressed for layer in image.layers)),
            "Labels": dict(refs.config_for(self.image_configs, image).labels),
            "Containers": sum(1 for s in self.containers.values() if refs.image_id(s.image) == image_id),
        }

    def created(self, image: ImageInfo) -> float:
        """Unix time an image was made: a catalog image's real build date; an image built in this session,
        when it was built; else the start of the simulation."""
        real = refs.catalog_created(image)
        if real is not None:
            return real
        built = self.built.get(refs.image_id(image))
        return self.epoch(built if built is not None else 0.0)

    def inspect_image(self, image: ImageInfo) -> dict[str, Any]:
        image_id = refs.image_id(image)
        tags = [t for t in self.local_images().values() if refs.image_id(t) == image_id]
        size = int(sum(layer.uncompressed for layer in image.layers))
        config = refs.config_for(self.image_configs, image)
        return {
            "Id": image_id,
            "RepoTags": familiar_tags(t.ref for t in refs.by_reference(tags)),
            "RepoDigests": refs.repo_digests(tags),
            "Parent": "",
            "Comment": config.comment,
            "Author": config.author,
            "Created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.created(image))),
            "Architecture": "amd64",
            "Os": "linux",
            "Size": size,
            "Config": spec_config(config.api()),
            "RootFS": {"Type": "layers", "Layers": [layer.chain_id for layer in image.layers]},
            "GraphDriver": {"Name": "overlayfs", "Data": {}},
            "Metadata": {"LastTagTime": self.iso(self.daemon.store.tagged_at(image.ref))},
        }

    def counts(self) -> dict[str, int]:
        self.sync()
        states = [s.container.state for s in self.containers.values()]
        return {
            "Containers": len(states),
            "ContainersRunning": sum(1 for s in self.containers.values()
                                     if s.container.state in (RUNNING, RESTARTING) and not s.paused),
            "ContainersPaused": sum(1 for s in self.containers.values() if s.paused),
            "ContainersStopped": sum(1 for s in states if s in (EXITED, CREATED)),
            "Images": len({refs.image_id(i) for i in self.local_images().values()}),
        }

