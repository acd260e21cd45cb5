"""Builds the simulated world from a resolved scenario, wires its components, checks them, runs it.

This is the one place that knows every component. Each is built in dependency order and gets its
collaborators through its constructor (nothing is set on a component afterwards), and its own random
stream derived from (seed, component name); then the whole tree is checked before time 0
(dsim/elaboration.py), the initial contents are loaded, probes are attached by name (dsim/probes.py) and
the workloads' arrival processes start (dsim/workloads.py).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping

import networkx as nx

from dsim.components.build_cache import RegistryCaches
from dsim.components.builder import Builder
from dsim.components.daemon import Daemon
from dsim.components.disk import host_disk
from dsim.components.host import Kernel
from dsim.components.image_store import DiskFull, ImageStore, dangling_ref
from dsim.components.network import Network
from dsim.components.pull import Puller
from dsim.components.push import Pusher
from dsim.components.registry import RegistryServer
from dsim.components.runtime import ContainerRuntime
from dsim.components.service_calls import HostSide, ServiceCalls, add_bridges, scenario_calls
from dsim.domain.hosts import HostInfo
from dsim.domain.problems import ReferenceProblem
from dsim.domain.spec import SimSpec
from dsim.elaboration import check_world
from dsim.environment import CountingEnvironment
from dsim.probes import LINK_SAMPLE_S, Probe, attach
from dsim.records import Recorder
from dsim.result import HostStats, SimResult
from dsim.rng import lazy_stream, stream
from dsim.workloads import Jobs

SWITCH = "switch"


def build_graph(resolved: SimSpec) -> nx.Graph:
    """The topology: one switch by default; else ``network.links`` with host groups expanded per host.

    A registry's ``bandwidth`` caps its first link (its egress); a host's ``nic`` caps each of its links. A
    registry's ``stream_rate`` caps one connection on each of its links; on the default topology its ``rtt``
    is the round trip to every host (half of it one way on its link).
    """
    graph = nx.Graph()
    nics = {host.name: host.spec.nic for host in resolved.hosts}
    if resolved.links is None:
        graph.add_node(SWITCH)
        for name, registry in resolved.registries.items():
            graph.add_edge(name, SWITCH, capacity=registry.bandwidth, latency=registry.rtt / 2,
                           stream_rate=registry.stream_rate)
        for host in resolved.hosts:
            graph.add_edge(host.name, SWITCH, capacity=host.spec.nic, latency=0.0)
        return graph
    capped: set[str] = set()
    for link in resolved.links:
        for a in resolved.groups.get(link.a, (link.a,)):
            for b in resolved.groups.get(link.b, (link.b,)):
                capacity = link.bandwidth
                stream = link.stream_rate
                for end in (a, b):
                    if end in resolved.registries:
                        stream = min(stream, resolved.registries[end].stream_rate)
                    if end in nics:
                        capacity = min(capacity, nics[end])
                    elif end in resolved.registries and end not in capped:
                        capacity = min(capacity, resolved.registries[end].bandwidth)
                        capped.add(end)
                graph.add_edge(a, b, capacity=capacity, latency=link.latency, stream_rate=stream)
    return graph


def _images_in_use(daemons: Mapping[str, Daemon], host: str) -> list[str]:
    """The images the host's containers use, by their refs and the names they have once dangling (a newer
    image took their tag): image GC never removes them (image_store.py). Asked by the store, which is built
    before the daemon whose runtime holds the containers."""
    containers = daemons[host].runtime.containers.values()
    return [name for container in containers for name in (container.image.ref, dangling_ref(container.image))]


class World:
    """Every component of one simulation, built, wired and checked before time 0."""

    def __init__(self, resolved: SimSpec, *, seed: int | None = None, probes: Iterable[str] = (),
                 link_samples: float | None = None, recorder: Recorder | None = None) -> None:
        """``probes``: names of the probes to attach (dsim.probes.PROBES; ``links`` measures link loads for
        the bandwidth chart). None schedules an event, so the run is otherwise the same. ``link_samples``:
        the ``links`` probe's interval in simulated seconds; giving it attaches that probe too. ``recorder``:
        what records the run (default: one that keeps everything, for the outputs)."""
        self.resolved = resolved
        self.seed = resolved.seed if seed is None else seed
        self.env = CountingEnvironment()
        self.recorder = Recorder() if recorder is None else recorder
        graph = build_graph(resolved)
        if scenario_calls(resolved.workloads.values()):  # traffic between containers crosses each host's bridge
            add_bridges(graph, resolved.hosts)
        self.network = Network(self.env, graph)
        self.registries = self._build_registries()
        self.registry_caches = RegistryCaches()  # --cache-to / --cache-from manifests, by registry
        self.kernels: dict[str, Kernel] = {}
        self.daemons: dict[str, Daemon] = {}
        #: service calls between containers (service_calls.py): a host's side is asked for when a call needs it
        self.service_calls = ServiceCalls(self.env, self.network, (host.name for host in resolved.hosts),
                                          self._call_side, self.recorder,
                                          lambda host: lazy_stream(self.seed, f"calls/{host}"))
        for host in resolved.hosts:
            spec = host.spec
            self.kernels[host.name] = kernel = Kernel(self.env, host.name, spec.cpus, spec.memory, self.recorder,
                                                      ephemeral_ports=spec.ephemeral_ports,
                                                      threads_per_core=spec.threads_per_core, smt_gain=spec.smt_gain)
            self.daemons[host.name] = self._build_daemon(host, kernel)
        names = dict.fromkeys([*probes, *(["links"] if link_samples is not None else [])])
        self.probes: dict[str, Probe] = {
            name: attach(name, network=self.network, recorder=self.recorder, registries=resolved.registries,
                         link_samples=LINK_SAMPLE_S if link_samples is None else link_samples)
            for name in names
        }
        check_world(self)
        self._load_initial_contents()
        self.jobs = Jobs(self.env, resolved.workloads, resolved.job_counts, self.daemons, resolved.groups,
                         self.recorder, self.seed, until=resolved.until,
                         slots={host.name: host.spec.job_slots for host in resolved.hosts})
        self.jobs.start()

    # ------------------------------------------------------------ wiring

    def _build_registries(self) -> dict[str, RegistryServer]:
        """Every registry, each upstream before the caches that use it (pull-through cache chains); in the
        scenario's order."""
        specs = self.resolved.registries
        addresses = {host.name: host.spec.address for host in self.resolved.hosts if host.spec.address is not None}
        built: dict[str, RegistryServer] = {}

        def build(name: str, seen: tuple[str, ...]) -> RegistryServer:
            server = built.get(name)
            if server is None:
                spec = specs[name]
                upstream = None  # a missing or cyclic upstream is left unwired: the elaboration check says so
                if spec.upstream is not None and spec.upstream in specs and spec.upstream not in seen:
                    upstream = build(spec.upstream, (*seen, name))
                server = built[name] = RegistryServer(
                    self.env, name, spec, self.network, self.recorder, stream(self.seed, f"registry/{name}"),
                    upstream=upstream, addresses=addresses)
            return server

        return {name: build(name, ()) for name in specs}

    def _call_side(self, host: str) -> HostSide:
        """What service calls need of ``host``: its kernel, networks and containers."""
        runtime = self.daemons[host].runtime
        return HostSide(self.kernels[host], runtime.networks, runtime.containers)

    def _build_daemon(self, host: HostInfo, kernel: Kernel) -> Daemon:
        """One host's dockerd with its store, pull pipeline, pusher, container runtime and builder."""
        env, name, spec, recorder = self.env, host.name, host.spec, self.recorder
        images = self.resolved.images
        store = ImageStore(env, spec.disk, gc=spec.gc, host=name, recorder=recorder,
                           in_use=lambda: _images_in_use(self.daemons, name),
                           keeps_blobs=spec.daemon.image_store == "containerd")
        seed = self.seed  # each stream is made when first drawn from (most hosts never use some of them)
        disk = host_disk(env, spec, kernel.free_memory)  # Docker's filesystem and the page cache (disk.py)
        unpacker = kernel.containerd if spec.daemon.image_store == "containerd" else kernel.dockerd
        puller = Puller(env, name, spec, store, self.registries, images, recorder, lazy_stream(seed, f"puller/{name}"),
                        cpu=kernel.dockerd, unpack_cpu=unpacker, disk=disk)
        pusher = Pusher(env, name, spec, store, self.registries, images, recorder, cpu=kernel.dockerd,
                        store_cpu=kernel.containerd)
        runtime = ContainerRuntime(env, name, spec, kernel, store, recorder, lazy_stream(seed, f"runtime/{name}"),
                                   services=self.service_calls, disk=disk)
        builder = Builder(env, name, spec, kernel, store, puller, self.network, self.registries, self.registry_caches,
                          recorder, lazy_stream(seed, f"builder/{name}"), pusher=pusher,
                          contexts=self.resolved.contexts, disk=runtime.storage.disk)  # docker build (issue 4)
        return Daemon(env, host, kernel, store, recorder, lazy_stream(seed, f"daemon/{name}"),
                      puller=puller, pusher=pusher, runtime=runtime, builder=builder)

    def _load_initial_contents(self) -> None:
        """What exists at time 0: each image in the registry it comes from (a cache fills as it is pulled
        through), each host's preloaded images."""
        resolved = self.resolved
        for image in resolved.images.values():
            if not self.registries[image.registry].is_cache:
                self.registries[image.registry].accept_manifest(image)
        for host in resolved.hosts:
            store = self.daemons[host.name].store
            for i, ref in enumerate(host.spec.preloaded):
                try:
                    store.preload(resolved.images[ref])
                except DiskFull:
                    raise ReferenceProblem(("hosts", host.group, "preloaded", i),
                                           f"preloaded images do not fit on host '{host.name}''s disk") from None

    # ------------------------------------------------------------ run

    def run(self) -> SimResult:
        """Run to the end (or ``until``); dsim.run.run does so inside the garbage-collector tuning."""
        started = time.perf_counter()
        self.env.run(until=self.resolved.until)
        return self.result(time.perf_counter() - started)

    def next_job(self) -> int:
        """A fresh job number (``dsim serve`` numbers its API operations from the same counter as workloads)."""
        return self.jobs.next_job()

    def result(self, wall: float) -> SimResult:
        """Close what is still running and derive the SimResult at the current time (after ``env`` has run;
        ``dsim serve`` drives ``env`` itself and calls this when it stops)."""
        for daemon in self.daemons.values():
            daemon.runtime.finish()
        for probe in self.probes.values():
            probe.finish()
        horizon = self.env.now
        events = self.env.processed
        makespan = max((job.end for job in self.recorder.jobs), default=0.0)
        hosts = {
            name: HostStats(
                cpu_util=(self.kernels[name].cpu_utilisation(makespan if makespan > 0 else horizon)
                          if self.recorder.keeps else math.nan),  # no marks kept for outputs none will write
                peak_memory_bytes=self.kernels[name].peak_memory,
                disk_used_bytes=daemon.store.disk_used,
                peak_page_cache_bytes=self.kernels[name].peak_page_cache,
            )
            for name, daemon in self.daemons.items()
        }
        return SimResult(
            scenario=self.resolved.name,
            seed=self.seed,
            spans=self.recorder.spans,
            job_ends=self.recorder.jobs,
            expected_jobs=sum(self.resolved.job_counts.values()),
            expected_by_workload=dict(self.resolved.job_counts),
            registries=tuple(self.registries),
            hosts=hosts,
            events=events,
            wall_s=wall,
            makespan_s=makespan,
            horizon_s=horizon if not math.isinf(horizon) else makespan,
        )
