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
from dsim.domain.images import ImageInfo
from dsim.serve import images as refs
from dsim.serve import objects


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

    @property
    def name(self) -> str:
        return self.container.name



class ApiViews:
    """The API's views (mixed into Engine, which holds these attributes)."""

    daemon: Daemon
    host: str
    env: simpy.Environment
    clock: Callable[[], float]
    containers: dict[str, Served]
    built: dict[str, float]

    def sync(self) -> None:
        raise NotImplementedError

    def local_images(self) -> Mapping[str, ImageInfo]:
        return self.daemon.store.images()

    # ------------------------------------------------------------------ time as the API shows it

    def epoch(self, sim_time: float) -> float:
        """A Unix timestamp for a simulated instant, placed so that the CLI's 'N minutes ago' (which it
        computes from the real clock) is the simulated age."""
        return time.time() - (self.clock() - sim_time)

    def iso(self, sim_time: float | None) -> str:
        if sim_time is None:
            return "0001-01-01T00:00:00Z"
        stamp = self.epoch(sim_time)
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(stamp)) + f".{int(stamp % 1 * 1e9):09d}Z"

    # ------------------------------------------------------------------ what the API shows

    def status(self, served: Served) -> str:
        """``docker ps`` STATUS: 'Up 2 seconds', 'Exited (0) 3 seconds ago', 'Created', 'Restarting (1) ...'."""
        container = served.container
        now = self.clock()
        if container.state == RUNNING:
            health = f" ({container.health_status})" if container.health_status else ""
            return f"Up {human_duration(now - (container.started_at or now))}{health}"
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
        entrypoint, cmd, _ = refs.config_of(served.image.ref)
        given_entry = served.config.get("Entrypoint")
        given_cmd = served.config.get("Cmd")
        return list(given_entry if given_entry else entrypoint) + list(given_cmd if given_cmd else cmd)

    def summary(self, served: Served) -> dict[str, Any]:
        container = served.container
        return {
            "Id": served.id,
            "Names": [f"/{container.name}"],
            "Image": served.config["Image"],
            "ImageID": refs.image_id(served.image),
            "Command": " ".join(self.command(served)),
            "Created": int(self.epoch(served.created)),
            "Ports": self.ports(served),
            "Labels": served.config.get("Labels") or {},
            "State": container.state,
            "Status": self.status(served),
            "HostConfig": {"NetworkMode": "bridge"},
            "NetworkSettings": {"Networks": {}},
            "Mounts": [],
        }

    def inspect(self, served: Served) -> dict[str, Any]:
        container = served.container
        ports: dict[str, Any] = {}
        for entry in self.ports(served):
            key = f"{entry['PrivatePort']}/{entry['Type']}"
            if "PublicPort" in entry:
                ports.setdefault(key, []).append({"HostIp": entry["IP"], "HostPort": str(entry["PublicPort"])})
            else:
                ports.setdefault(key, None)
        entrypoint, cmd, _ = refs.config_of(served.image.ref)
        return {
            "Id": served.id,
            "Created": self.iso(served.created),
            "Path": (self.command(served) or [""])[0],
            "Args": self.command(served)[1:],
            "State": {
                "Status": container.state,
                "Running": container.state == RUNNING,
                "Paused": False,
                "Restarting": container.state == RESTARTING,
                "OOMKilled": container.oom_killed,
                "Dead": False,
                "Pid": 0,
                "ExitCode": container.exit_code or 0,
                "Error": container.error,
                "StartedAt": self.iso(container.started_at),
                "FinishedAt": self.iso(container.finished_at),
            },
            "Image": refs.image_id(served.image),
            "Name": f"/{container.name}",
            "RestartCount": container.restart_manager.restart_count,
            "Driver": "overlayfs",
            "Platform": "linux",
            "HostConfig": {"NetworkMode": "bridge", "PortBindings": served.host_config.get("PortBindings") or {},
                           "RestartPolicy": served.host_config.get("RestartPolicy") or {"Name": "no"},
                           "AutoRemove": bool(served.host_config.get("AutoRemove"))},
            "Config": {
                "Hostname": served.id[:12],
                "Image": served.config["Image"],
                "Cmd": served.config.get("Cmd") or cmd,
                "Entrypoint": served.config.get("Entrypoint") or entrypoint or None,
                "Env": served.config.get("Env") or [],
                "Labels": served.config.get("Labels") or {},
                "ExposedPorts": {p: {} for p in container.spec.expose} or None,
                "Tty": bool(served.config.get("Tty")),
            },
            "NetworkSettings": {"Ports": ports, "Networks": objects.container_networks(self.daemon, container)},
            "Mounts": objects.container_mounts(self.daemon, container),  # networks and volumes: serve/objects.py
        }

    def image_summary(self, image_id: str, tags: list[ImageInfo]) -> dict[str, Any]:
        image = tags[0]
        repo_digests = sorted({f"{t.repository}@{t.manifest_digest}" for t in tags if t.manifest_digest})
        return {
            "Id": image_id,
            "ParentId": "",
            "RepoTags": [t.ref for t in tags],
            "RepoDigests": repo_digests,
            "Created": int(self.created(image)),
            "Size": int(sum(layer.uncompressed for layer in image.layers)),
            "SharedSize": -1,
            "VirtualSize": int(sum(layer.uncompressed for layer in image.layers)),
            "Labels": {},
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
        entrypoint, cmd, exposed = refs.config_of(image.ref)
        size = int(sum(layer.uncompressed for layer in image.layers))
        return {
            "Id": image_id,
            "RepoTags": [t.ref for t in tags],
            "RepoDigests": sorted({f"{t.repository}@{t.manifest_digest}" for t in tags if t.manifest_digest}),
            "Parent": "",
            "Comment": "",
            "Created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.created(image))),
            "Architecture": "amd64",
            "Os": "linux",
            "Size": size,
            "Config": {"Cmd": cmd or None, "Entrypoint": entrypoint or None,
                       "ExposedPorts": {p: {} for p in exposed} or None, "Env": [], "Labels": None},
            "RootFS": {"Type": "layers", "Layers": [layer.chain_id for layer in image.layers]},
            "GraphDriver": {"Name": "overlayfs", "Data": None},
            "Metadata": {"LastTagTime": self.iso(self.daemon.store.tagged_at(image.ref))},
        }

    def counts(self) -> dict[str, int]:
        self.sync()
        states = [s.container.state for s in self.containers.values()]
        return {
            "Containers": len(states),
            "ContainersRunning": sum(1 for s in states if s in (RUNNING, RESTARTING)),
            "ContainersPaused": 0,
            "ContainersStopped": sum(1 for s in states if s in (EXITED, CREATED)),
            "Images": len({refs.image_id(i) for i in self.local_images().values()}),
        }

