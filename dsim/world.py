"""Builds the simulated world from a resolved scenario, wires its components, runs it, returns SimResult.

This is the one place that knows every component: each gets what it needs through its constructor and
its own random stream derived from (seed, component name).
"""

from __future__ import annotations

import functools
import itertools
import math
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from typing import Any

import networkx as nx
import simpy

from dsim.components.build_cache import RegistryCaches
from dsim.components.builder import Builder
from dsim.components.client import Client
from dsim.components.container import Container
from dsim.components.daemon import Daemon
from dsim.components.host import Kernel
from dsim.components.image_store import DiskFull, ImageStore
from dsim.components.network import Network
from dsim.components.registry import RegistryServer
from dsim.domain.problems import ReferenceProblem
from dsim.domain.spec import SimSpec
from dsim.domain.workloads import Burst, Every, Poisson, Workload
from dsim.probes import LinkProbe, ProbedNetwork
from dsim.records import Recorder
from dsim.result import HostStats, SimResult
from dsim.rng import stream

SWITCH = "switch"


def build_graph(resolved: SimSpec) -> nx.Graph:
    """The topology: one switch by default; else ``network.links`` with host groups expanded per host.

    A registry's ``bandwidth`` caps its first link (its egress); a host's ``nic`` caps each of its links.
    """
    graph = nx.Graph()
    nics = {host.name: host.spec.nic for host in resolved.hosts}
    if resolved.links is None:
        graph.add_node(SWITCH)
        for name, registry in resolved.registries.items():
            graph.add_edge(name, SWITCH, capacity=registry.bandwidth, latency=0.0)
        for host in resolved.hosts:
            graph.add_edge(host.name, SWITCH, capacity=host.spec.nic, latency=0.0)
        return graph
    capped: set[str] = set()
    for link in resolved.links:
        for a in resolved.groups.get(link.a, (link.a,)):
            for b in resolved.groups.get(link.b, (link.b,)):
                capacity = link.bandwidth
                for end in (a, b):
                    if end in nics:
                        capacity = min(capacity, nics[end])
                    elif end in resolved.registries and end not in capped:
                        capacity = min(capacity, resolved.registries[end].bandwidth)
                        capped.add(end)
                graph.add_edge(a, b, capacity=capacity, latency=link.latency)
    return graph


def check_reachable(resolved: SimSpec, graph: nx.Graph) -> None:
    """Every host must reach every registry its images come from, before time 0."""
    component = {node: i for i, nodes in enumerate(nx.connected_components(graph)) for node in nodes}
    needed = sorted({image.registry for image in resolved.images.values()})
    for host in resolved.hosts:
        for registry in [*needed, *host.spec.daemon.registry_mirrors]:
            if host.name not in component or registry not in component or component[host.name] != component[registry]:
                raise ReferenceProblem(("network", "links"),
                                       f"no network path from host '{host.name}' to registry '{registry}'")
    for name, spec in resolved.registries.items():  # a pull-through cache must reach its upstream
        if spec.upstream is not None and component.get(name, -1) != component.get(spec.upstream, -2):
            raise ReferenceProblem(("network", "links"),
                                   f"no network path from registry '{name}' to its upstream '{spec.upstream}'")


def _images_in_use(containers: Mapping[str, Container]) -> list[str]:
    return [container.image.ref for container in containers.values()]


class World:
    """Every component of one simulation, built and wired before time 0."""

    def __init__(self, resolved: SimSpec, *, seed: int | None = None, link_samples: float | None = None) -> None:
        """``link_samples``: measure link loads every that many simulated seconds (``link`` spans for the
        bandwidth chart; dsim.probes.LinkProbe schedules no event, so the run is otherwise the same)."""
        self.resolved = resolved
        self.seed = resolved.seed if seed is None else seed
        self.env = simpy.Environment()
        self.recorder = Recorder()
        graph = build_graph(resolved)
        check_reachable(resolved, graph)
        self.link_probe: LinkProbe | None = None
        if link_samples is not None:
            self.link_probe = LinkProbe(self.env, graph, self.recorder, set(resolved.registries), link_samples)
            self.network: Network = ProbedNetwork(self.env, graph, self.link_probe)
        else:
            self.network = Network(self.env, graph)
        self.registries = {
            name: RegistryServer(self.env, name, spec, self.network, self.recorder,
                                 stream(self.seed, f"registry/{name}"))
            for name, spec in resolved.registries.items()
        }
        addresses = {host.name: host.spec.address for host in resolved.hosts if host.spec.address is not None}
        for server in self.registries.values():  # distribution (issue 3): caches, addresses, what each one holds
            if server.spec.upstream is not None:
                server.upstream = self.registries[server.spec.upstream]
            server.addresses = addresses
        for image in resolved.images.values():
            if not self.registries[image.registry].is_cache:
                self.registries[image.registry].accept_manifest(image)
        self.kernels: dict[str, Kernel] = {}
        self.daemons: dict[str, Daemon] = {}
        self.registry_caches = RegistryCaches()  # --cache-to / --cache-from manifests, by registry
        for host in resolved.hosts:
            kernel = Kernel(self.env, host.name, host.spec.cpus, host.spec.memory, self.recorder,
                            ephemeral_ports=host.spec.ephemeral_ports)
            store = ImageStore(self.env, host.spec.disk, gc=host.spec.gc, host=host.name, recorder=self.recorder)
            for i, ref in enumerate(host.spec.preloaded):
                try:
                    store.preload(resolved.images[ref])
                except DiskFull:
                    raise ReferenceProblem(("hosts", host.group, "preloaded", i),
                                           f"preloaded images do not fit on host '{host.name}''s disk") from None
            self.kernels[host.name] = kernel
            self.daemons[host.name] = Daemon(
                self.env, host, kernel, store, self.registries, resolved.images, self.recorder,
                stream(self.seed, f"daemon/{host.name}"),
                puller_rng=stream(self.seed, f"puller/{host.name}"),
                runtime_rng=stream(self.seed, f"runtime/{host.name}"),
            )
            # an image with an existing container is "in use": image GC never removes it (image_store.py)
            store.set_in_use_query(functools.partial(_images_in_use, self.daemons[host.name].runtime.containers))
            daemon = self.daemons[host.name]  # docker build (issue 4): a Builder per daemon
            daemon.builder = Builder(
                self.env, host.name, host.spec, kernel, store, daemon.puller, self.network, self.registries,
                self.registry_caches, self.recorder, stream(self.seed, f"builder/{host.name}"),
                pusher=daemon.pusher, contexts=resolved.contexts,
            )
        self.active: dict[str, int] = {host.name: 0 for host in resolved.hosts}
        self._job_ids = itertools.count(1)
        #: without `until`, the run goes on until nothing is left to happen; so that a restart policy cannot
        #: keep it going forever, containers stop restarting once the last job has ended (runtime.py)
        self._pending_jobs = sum(resolved.job_counts.values())
        for name, workload in resolved.workloads.items():
            self.env.process(self._arrivals(name, workload))

    # ------------------------------------------------------------ workloads

    def _arrival_times(self, name: str, workload: Workload) -> Iterator[float]:
        arrival = workload.arrival
        if isinstance(arrival, Burst):
            yield from itertools.repeat(arrival.at, arrival.burst)
        elif isinstance(arrival, Every):
            yield from (arrival.at + k * arrival.every for k in range(arrival.count))
        elif isinstance(arrival, Poisson):
            rng = stream(self.seed, f"arrivals/{name}")
            t = arrival.at
            for _ in range(arrival.count):
                t += rng.expovariate(arrival.rate)
                yield t
        else:
            yield from sorted(arrival.times)

    def _placement(self, name: str, workload: Workload) -> Callable[[], str]:
        """A function picking the host for the next job of this workload."""
        groups = self.resolved.groups
        policy = workload.placement
        every = tuple(host.name for host in self.resolved.hosts)
        if policy in groups:
            candidates = groups[policy]
        elif policy in self.active:
            candidates = (policy,)
        else:
            candidates = every
        if policy == "random":
            rng = stream(self.seed, f"placement/{name}")
            return lambda: candidates[rng.randrange(len(candidates))]
        if policy == "least-loaded":
            return lambda: min(candidates, key=lambda h: self.active[h])  # ties: first in scenario order
        cycle = itertools.cycle(candidates)
        return lambda: next(cycle)

    def _arrivals(self, name: str, workload: Workload) -> Generator[Any, Any, None]:
        place = self._placement(name, workload)
        for at in self._arrival_times(name, workload):
            if at > self.env.now:
                yield self.env.timeout(at - self.env.now)
            job = next(self._job_ids)
            host = place()
            self.active[host] += 1
            client = Client(self.env, self.daemons[host], self.recorder,
                            functools.partial(stream, self.seed, f"client/{job}"), job, name)

            def done(host: str = host) -> None:
                self.active[host] -= 1
                self._pending_jobs -= 1
                if self._pending_jobs == 0 and self.resolved.until is None:
                    for daemon in self.daemons.values():
                        daemon.runtime.no_more_restarts = True

            self.env.process(client.run(workload.steps, self.env.now, done))

    # ------------------------------------------------------------ run

    def run(self) -> SimResult:
        """Run to the end (or ``until``); dsim.run.run does so inside the garbage-collector tuning."""
        started = time.perf_counter()
        self.env.run(until=self.resolved.until)
        return self.result(time.perf_counter() - started)

    def next_job(self) -> int:
        """A fresh job number (``dsim serve`` numbers its API operations from the same counter as workloads)."""
        return next(self._job_ids)

    def result(self, wall: float) -> SimResult:
        """Close what is still running and derive the SimResult at the current time (after ``env`` has run;
        ``dsim serve`` drives ``env`` itself and calls this when it stops)."""
        for daemon in self.daemons.values():
            daemon.runtime.finish()
        if self.link_probe is not None:
            self.link_probe.finish()
        horizon = self.env.now
        # SimPy numbers every scheduled event; those still queued at the horizon were not processed.
        events = next(self.env._eid) - len(self.env._queue)
        makespan = max((job.end for job in self.recorder.jobs), default=0.0)
        hosts = {
            name: HostStats(
                cpu_util=self.kernels[name].cpu_utilisation(makespan if makespan > 0 else horizon),
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
            registries=tuple(self.registries),
            hosts=hosts,
            events=events,
            wall_s=wall,
            makespan_s=makespan,
            horizon_s=horizon if not math.isinf(horizon) else makespan,
        )
