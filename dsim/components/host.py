"""The shared kernel of one host: CPU by processor sharing, memory and its OOM killer, the page cache,
a network-namespace lock and the host port table.

Containers share it (no guest kernel): every start takes the netns lock briefly, every published port is
an entry in one table, CPU and memory add up on one machine, and containers of one image share its
files in one page cache. A VM brings its own kernel, but its VMM is still a process on this one.
"""

from __future__ import annotations

import heapq
import itertools
from typing import Any

import simpy

from dsim.components.cpu import CpuScheduler, CpuTask, SmtCpuScheduler
from dsim.components.cpu_group import CpuGroup, ServiceCpu
from dsim.components.workers import Lock
from dsim.domain.hosts import SMT_GAIN
from dsim.records import Recorder, SpanKind

#: the span kinds recorded on every job's path, read once (records.py: a kind read from its class is slow)
_CPU = SpanKind.CPU

__all__ = ["CpuGroup", "CpuScheduler", "CpuTask", "Kernel", "PortInUse", "PortsExhausted", "SmtCpuScheduler"]


class PortInUse(Exception):
    """A host port another container already publishes."""


class PortsExhausted(Exception):
    """Every port of the ephemeral range is taken (libnetwork: 'all ports are allocated')."""


class Kernel:
    """Per-host kernel state that containers contend for."""

    def __init__(self, env: simpy.Environment, name: str, cpus: float, memory: float, recorder: Recorder, *,
                 ephemeral_ports: tuple[int, int] = (49153, 65535), threads_per_core: int = 1,
                 smt_gain: float = SMT_GAIN) -> None:
        """``cpus``: logical CPUs, ``threads_per_core`` on each physical core (SmtCpuScheduler when more than 1)."""
        self.env = env
        self.name = name
        self.cpus = cpus
        self.memory = memory
        self.recorder = recorder
        #: netns creation and veth setup serialise on the kernel's rtnl lock: a burst of starts queues here
        #: (SimPy's Resource queue, without its request and release events while the lock is free: workers.py)
        self.netns_lock = Lock(env, 1)
        self.cpu = (CpuScheduler(env, cpus, self._cpu_interval, utilisation=recorder.keeps) if threads_per_core == 1
                    else SmtCpuScheduler(env, cpus, self._cpu_interval, utilisation=recorder.keeps,
                                         threads_per_core=threads_per_core, smt_gain=smt_gain))
        #: the daemons' own work, each service one cgroup on the CPU (cpu_group.py ServiceCpu): dockerd's (the
        #: start path, pulls' downloads, pushes, builds, the graphdriver store's layers) and containerd's (the
        #: containerd store's unpacks, diffs and applies)
        self.dockerd = ServiceCpu(self.cpu)
        self.containerd = ServiceCpu(self.cpu)
        #: the users' session (user.slice): docker CLI processes (``hosts.X.cli_cpu``), made on first use
        self._session: ServiceCpu | None = None
        self.ports: dict[tuple[int, str], str] = {}
        #: the ports each owner holds, so that releasing them reads no other owner's
        self._ports_of: dict[str, list[tuple[int, str]]] = {}
        self.ephemeral_ports = ephemeral_ports
        self._last_ephemeral: dict[str, int] = {}
        #: memory in use by owner (a container's workload, a VM's guest + VMM), with a start order for ties
        self.resident: dict[Any, tuple[float, int]] = {}
        self._order = itertools.count()
        #: the OOM killer's candidates, made at its first kill: a heap of (-bytes, start order, owner) with stale
        #: entries (an owner's that no longer match ``resident``) dropped when they reach the top
        self._victims: list[tuple[float, int, Any]] | None = None
        self.memory_used = 0.0
        self.peak_memory = 0.0
        #: image ref -> [bytes, users]: files read by containers, one copy per host however many use them
        self.page_cache: dict[str, list[float]] = {}
        self.page_cache_bytes = 0.0
        self.peak_page_cache = 0.0

    # ------------------------------------------------------------------ CPU

    @property
    def session(self) -> ServiceCpu:
        """The users' session's cgroup on the CPU, where a job's docker CLI runs."""
        if self._session is None:
            self._session = ServiceCpu(self.cpu)
        return self._session

    def _cpu_interval(self, start: float, end: float, busy: float, runnable: int) -> None:
        self.recorder.span(_CPU, self.name, start, end, host=self.name, busy=busy, runnable=runnable)

    def cpu_utilisation(self, horizon: float) -> float:
        """Mean share of the host's cores (logical CPUs, as top counts them) in use over [0, horizon]."""
        return self.cpu.utilisation(horizon)

    # ------------------------------------------------------------------ ports

    def bind(self, host_port: int, proto: str, owner: str) -> None:
        if (host_port, proto) in self.ports:
            raise PortInUse(host_port)
        self._hold((host_port, proto), owner)

    def _hold(self, key: tuple[int, str], owner: str) -> None:
        self.ports[key] = owner
        self._ports_of.setdefault(owner, []).append(key)

    def bind_ephemeral(self, proto: str, owner: str) -> int:
        """libnetwork portallocator: the first free port after the last one handed out, wrapping in the range."""
        low, high = self.ephemeral_ports
        port = self._last_ephemeral.get(proto, high)
        for _ in range(high - low + 1):
            port = low if port >= high else port + 1
            if (port, proto) not in self.ports:
                self._hold((port, proto), owner)
                self._last_ephemeral[proto] = port
                return port
        raise PortsExhausted("all ports are allocated")

    def unbind(self, owner: str) -> None:
        """Release every port ``owner`` holds."""
        for key in self._ports_of.pop(owner, ()):
            del self.ports[key]

    def rename_owner(self, old: str, new: str) -> None:
        """The ports ``old`` holds are ``new``'s (``docker rename``)."""
        keys = self._ports_of.pop(old, None)
        if keys is not None:
            self._ports_of.setdefault(new, []).extend(keys)
            for key in keys:
                self.ports[key] = new

    # ------------------------------------------------------------------ memory

    def free_memory(self) -> float:
        return self.memory - self.memory_used

    def reserve(self, owner: Any, nbytes: float) -> bool:
        """Reserve up front (a VM's guest memory and VMM): refused when it does not fit."""
        if nbytes > self.free_memory():
            return False
        self._charge(owner, nbytes)
        return True

    def charge(self, owner: Any, nbytes: float) -> list[Any]:
        """A process allocates ``nbytes``; if the host runs out, the OOM killer picks the largest resident
        owners (earliest started first on ties) until the rest fits. Returns the victims, already uncharged."""
        self._charge(owner, nbytes)
        victims: list[Any] = []
        while self.memory_used > self.memory and self.resident:
            victim = self._largest()
            self.uncharge(victim)
            victims.append(victim)
        self.peak_memory = max(self.peak_memory, self.memory_used)  # the kernel never lets it overshoot
        return victims

    def _largest(self) -> Any:
        """The resident owner using the most memory, the earliest started among equals: the top of the
        candidates' heap once stale entries are dropped (a host of thousands of processes is not scanned for
        each victim). The heap is made at the first kill, and made again when stale entries outnumber live."""
        resident, victims = self.resident, self._victims
        if victims is None or self._mostly_stale(victims):
            victims = self._victims = [(-used, order, owner) for owner, (used, order) in resident.items()]
            heapq.heapify(victims)
        while True:
            minus_used, order, owner = victims[0]
            if resident.get(owner) == (-minus_used, order):
                return owner
            heapq.heappop(victims)

    def _mostly_stale(self, victims: list[tuple[float, int, Any]]) -> bool:
        """More entries than twice the resident owners (and a few): most are stale, made again from ``resident``."""
        return len(victims) > 2 * len(self.resident) + 16

    def _charge(self, owner: Any, nbytes: float) -> None:
        used, order = self.resident.get(owner, (0.0, next(self._order)))
        self.resident[owner] = (used + nbytes, order)
        victims = self._victims
        if victims is not None:
            if self._mostly_stale(victims):
                self._victims = None  # mostly stale: made again at the next kill, so ended owners are not kept
            else:
                heapq.heappush(victims, (-(used + nbytes), order, owner))
        self.memory_used += nbytes
        if self.memory_used <= self.memory:
            self.peak_memory = max(self.peak_memory, self.memory_used)

    def uncharge(self, owner: Any) -> float:
        used, _ = self.resident.pop(owner, (0.0, 0))
        self.memory_used -= used
        return used

    # ------------------------------------------------------------------ page cache

    def cache_files(self, image: str, nbytes: float) -> None:
        """A container of ``image`` reads its files: the first one brings them into the page cache."""
        entry = self.page_cache.get(image)
        if entry is None:
            self.page_cache[image] = [nbytes, 1]
            self.page_cache_bytes += nbytes
            self.peak_page_cache = max(self.peak_page_cache, self.page_cache_bytes)
        else:
            entry[1] += 1

    def release_files(self, image: str) -> None:
        """The last user gone, the pages are reclaimable: dsim counts them out."""
        entry = self.page_cache.get(image)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] <= 0:
            self.page_cache_bytes -= entry[0]
            del self.page_cache[image]
