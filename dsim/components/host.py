"""The shared kernel of one host: a network-namespace lock, the host port table, CPU and memory in use.

Containers share it (no guest kernel): every start takes the netns lock briefly, every published port is
an entry in one table, and CPU and memory reservations add up on one machine.
"""

from __future__ import annotations

import simpy

from dsim.recorder import Recorder


class PortInUse(Exception):
    """A host port another container already publishes."""


class Kernel:
    """Per-host kernel state that containers contend for."""

    def __init__(self, env: simpy.Environment, name: str, cpus: float, memory: float, recorder: Recorder) -> None:
        self.env = env
        self.name = name
        self.cpus = cpus
        self.memory = memory
        self.recorder = recorder
        #: netns creation and veth setup serialise on the kernel's rtnl lock: a burst of starts queues here.
        self.netns_lock = simpy.Resource(env, capacity=1)
        self.ports: dict[str, str] = {}
        self.cpu_reserved = 0.0
        self.memory_reserved = 0.0
        self.peak_memory = 0.0
        self._cpu_busy_integral = 0.0
        self._last_change = 0.0

    def bind(self, host_port: str, container_name: str) -> None:
        if host_port in self.ports:
            raise PortInUse(host_port)
        self.ports[host_port] = container_name

    def unbind(self, container_name: str) -> None:
        for port in [p for p, owner in self.ports.items() if owner == container_name]:
            del self.ports[port]

    def _advance(self) -> None:
        now = self.env.now
        self._cpu_busy_integral += min(self.cpu_reserved, self.cpus) * (now - self._last_change)
        self._last_change = now

    def reserve(self, cpus: float, memory: float) -> None:
        """A container starts running: its CPU demand and memory count against the host."""
        self._advance()
        self.cpu_reserved += cpus
        self.memory_reserved += memory
        self.peak_memory = max(self.peak_memory, self.memory_reserved)

    def release(self, cpus: float, memory: float) -> None:
        self._advance()
        self.cpu_reserved -= cpus
        self.memory_reserved -= memory

    def cpu_utilisation(self, horizon: float) -> float:
        """Mean share of the host's cores in use over [0, horizon]."""
        if horizon <= 0:
            return 0.0
        busy = self._cpu_busy_integral + min(self.cpu_reserved, self.cpus) * max(0.0, horizon - self._last_change)
        return busy / (self.cpus * horizon)
