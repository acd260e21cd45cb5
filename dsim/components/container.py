"""A container's state machine: created -> running -> exited, and removed."""

from __future__ import annotations

from dataclasses import dataclass, field

import simpy

from dsim.scenarios.resolve import ImageInfo

CREATED, RUNNING, EXITED, REMOVED = "created", "running", "exited", "removed"


@dataclass
class ContainerSpec:
    """What ``docker create`` / ``run`` asks for."""

    image: str
    name: str | None
    cpus: float | None
    memory: float | None
    ports: tuple[str, ...]
    duration: float
    stop_time: float = 0.0


@dataclass
class Container:
    id: str
    name: str
    image: ImageInfo
    spec: ContainerSpec
    state: str = CREATED
    exit_code: int | None = None
    started_at: float | None = None
    exited: simpy.Event | None = None
    process: simpy.Process | None = None
    stop_requested: simpy.Event | None = None
    published: list[str] = field(default_factory=list)

    @property
    def cpu_demand(self) -> float:
        """CPUs a running container keeps busy: its --cpus, else one core (a wall-time workload)."""
        return self.spec.cpus if self.spec.cpus is not None else 1.0
