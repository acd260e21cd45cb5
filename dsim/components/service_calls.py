"""Traffic between containers: service calls through the host's network model (docs/networks-storage.md).

A container's process makes its calls (``ContainerSpec.calls``) when it runs. The callee is found the way
Docker finds it: by name (or ``--network-alias``) through the embedded DNS of a user-defined network both are
on, never on the default bridge; or as ``HOST:PORT``, a port a running container publishes on a host (the
host's name resolves through the host's own resolver, which Docker's DNS forwards to). A name that does not
resolve fails the call as a real client fails (curl's exit 6, ``Could not resolve host``); a port nobody
listens on, with ``Connection refused`` (exit 7).

Each request is a round trip through the world's one network (``components/network``): the request's bytes
from client to server, the server's CPU work on its host's processor-sharing scheduler (one core at most,
competing with everything else there), the server's own calls, and the response's bytes back. Between two
containers of one host the bytes cross the host's bridge, a link of the network model with the bridge's rate
and latency (``networking.bridge_rate`` / ``bridge_latency``); between hosts they cross each bridged end's
bridge and the topology's links, shared with pulls and pushes. A ``network: host`` end has no bridge: two of
them on one host talk over loopback: the host's TCP stack's latency (``networking.loopback_latency``), which
every call that stays on a host pays, and no rate limit. ``concurrency`` keep-alive connections each
carry one request at a time (a connection pool): at most that many requests are in flight.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import networkx as nx
import simpy

from dsim.components.container import RUNNING, Container
from dsim.components.host import Kernel
from dsim.components.network import Network
from dsim.components.networks import NetworkStack
from dsim.domain.compose import ComposeStep
from dsim.domain.hosts import HostInfo
from dsim.domain.service_calls import CallSpec
from dsim.domain.steps import CreateStep, RunStep
from dsim.domain.workloads import Workload
from dsim.records import Recorder, SpanKind

#: curl's exit codes (curl(1), EXIT CODES): 6 couldn't resolve host, 7 failed to connect, 22 HTTP error >= 400
#: (with --fail, as health and load scripts run it)
EXIT_RESOLVE, EXIT_CONNECT, EXIT_HTTP = 6, 7, 22


def bridge_node(host: str) -> str:
    """The node of ``host``'s bridge in the network graph (its containers' side of docker0)."""
    return f"{host}/bridge"


def scenario_calls(workloads: Iterable[Workload]) -> bool:
    """Whether any run or create step, or a compose step's service, makes service calls (the bridges join the
    graph only then, so that scenarios without calls keep their graph, and their outputs, as they were)."""
    for workload in workloads:
        for step in workload.steps:
            if isinstance(step, RunStep | CreateStep) and step.container.calls:
                return True
            if isinstance(step, ComposeStep) and any(s.container.calls for s in step.project.services):
                return True
    return False


def add_bridges(graph: nx.Graph, hosts: Iterable[HostInfo]) -> None:
    """Each host's bridge as a link between its containers and the host: the bridge's rate, shared by the
    flows crossing it (each direction its own), and its one-way latency."""
    for host in hosts:
        costs = host.spec.networking
        graph.add_edge(bridge_node(host.name), host.name, capacity=costs.bridge_rate, latency=costs.bridge_latency)


@dataclass(frozen=True, slots=True)
class HostSide:
    """What the calls need of one host: its kernel (CPU), its networks (DNS) and its containers by name."""

    kernel: Kernel
    networks: NetworkStack
    containers: Mapping[str, Container]


class CallFailed(Exception):
    """A call the client gives up on: its exit code and the line it prints (curl's)."""

    def __init__(self, exit_code: int, message: str) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.message = message


@dataclass(frozen=True, slots=True)
class _Route:
    """Where a call's bytes go: the nodes of each end, the one-way latency between them, and which way."""

    src: str
    dst: str
    latency: float
    kind: str  # bridge | topology | loopback


class ServiceCalls:
    """Every host's service calls, through the world's network and each callee host's CPU."""

    def __init__(self, env: simpy.Environment, network: Network, hosts: Iterable[str],
                 side: Callable[[str], HostSide], recorder: Recorder,
                 make_rng: Callable[[str], random.Random]) -> None:
        """``hosts``: every host's name; ``side``: a host's side, asked when a call first needs it (the
        world's hosts are built after this); ``make_rng``: a host's stream for its servers' CPU work per
        request, made when first drawn from."""
        self.env = env
        self.network = network
        self._names = frozenset(hosts)
        self._side = side
        self._sides: dict[str, HostSide] = {}
        self.recorder = recorder
        self._make_rng = make_rng
        self._rngs: dict[str, random.Random] = {}
        #: container ID -> the line its client printed when a call failed (the last run's)
        self._said: dict[str, str] = {}
        #: host -> its side's containers indexed by alias and host-network port, made when a call first needs it
        self._directories: dict[str, _Directory] = {}

    def said(self, container: Container) -> str:
        """What ``container``'s process printed when its last failed call ended it ("" when none did)."""
        return self._said.get(container.id, "")

    def created(self, host: str, container: Container) -> None:
        """The runtime of ``host`` has just added ``container`` to its table: the index follows (a scan per
        call would cost every container on the host)."""
        directory = self._directories.get(host)
        if directory is not None:
            directory.created(container)

    def removed(self, host: str, container: Container) -> None:
        """The runtime of ``host`` has just taken ``container`` out of its table: the index follows."""
        directory = self._directories.get(host)
        if directory is not None:
            directory.removed(container)

    # ------------------------------------------------------------------ the caller's process

    def start(self, container: Container, host: str, job: int, natural: simpy.Event | None, *,
              endless: bool = False) -> simpy.Event:
        """Run ``container``'s calls as part of its process; the event fires once they are done and
        ``natural`` (its duration or CPU work) has fired, value None (never with ``endless``: a process that
        runs until stopped); or at a failed call, value the client's exit code, its line kept for ``said``."""
        done = self.env.event()
        self._said.pop(container.id, None)
        self.env.process(self._client(container, host, job, natural, done, endless))
        return done

    def _client(self, container: Container, host: str, job: int, natural: simpy.Event | None,
                done: simpy.Event, endless: bool) -> Generator[Any, Any, None]:
        try:
            for call in container.spec.calls:
                yield from self.call(call, container, host, job)
        except CallFailed as failure:
            self._said[container.id] = failure.message
            done.succeed(failure.exit_code)
            return
        if endless:
            return
        if natural is not None:
            yield natural
        done.succeed(None)

    # ------------------------------------------------------------------ one call: resolve, then requests

    def call(self, call: CallSpec, caller: Container, host: str, job: int) -> Generator[Any, Any, None]:
        """``call.requests`` requests from ``caller`` (on ``host``) over ``call.concurrency`` connections;
        raises CallFailed when the target does not resolve or refuses, or a request failed."""
        try:
            callee, callee_host = self._resolve(call, caller, host)
        except CallFailed as failure:
            self._span(call, caller, None, host, job, self.env.now, "", 0.0, failure.message)
            raise
        route = self._route(caller, host, callee, callee_host)
        numbers = iter(range(call.requests))
        failures: list[CallFailed] = []
        connections = [self.env.process(self._connection(call, caller, host, callee, callee_host, route, job,
                                                         numbers, failures))
                       for _ in range(min(call.concurrency, call.requests))]
        yield self.env.all_of(connections)
        if failures:
            raise failures[0]

    def _connection(self, call: CallSpec, caller: Container, host: str, callee: Container, callee_host: str,
                    route: _Route, job: int, numbers: Iterator[int],
                    failures: list[CallFailed]) -> Generator[Any, Any, None]:
        """One keep-alive connection: takes the next request while some are left, one at a time; stops at a
        failure (the client gives up) or when the caller's run has ended."""
        run = caller.runs
        for _ in numbers:
            if failures or caller.state != RUNNING or caller.runs != run:
                return
            failure = yield from self._request(call, caller, host, callee, callee_host, route, job)
            if failure is not None:
                failures.append(failure)

    def _request(self, call: CallSpec, caller: Container, host: str, callee: Container, callee_host: str,
                 route: _Route, job: int) -> Generator[Any, Any, CallFailed | None]:
        """One round trip: request bytes over the route, the server's CPU and its own calls, response bytes
        back. Returns the failure the client sees, if any."""
        env, network = self.env, self.network
        began = env.now
        if callee.state != RUNNING:
            failure = CallFailed(EXIT_CONNECT, f"curl: (7) Failed to connect to {call.to}: Connection refused")
            self._span(call, caller, callee, host, job, began, route.kind, 0.0, failure.message)
            return failure
        yield env.timeout(route.latency)
        yield network.transfer(route.src, route.dst, call.request)
        # the server's thread, in the callee's cgroup: its --cpus and weight shared with its process and requests
        work = self._server_cpu(call, callee_host)
        yield self._host(callee_host).kernel.cpu.run_in(callee.cpu_group(), work, 1.0).done
        error = ""
        try:
            for inner in call.calls:
                yield from self.call(inner, callee, callee_host, callee.job)
        except CallFailed as upstream:
            error = f"502 Bad Gateway from {callee.name}: {upstream.message}"
        response = call.response if not error else 0.0
        yield env.timeout(route.latency)
        yield network.transfer(route.dst, route.src, response)
        self._span(call, caller, callee, host, job, began, route.kind, call.request + response, error)
        if error:
            return CallFailed(EXIT_HTTP, f"curl: (22) The requested URL returned error: 502 ({error})")
        return None

    def host(self, name: str) -> HostSide | None:
        """The side of host ``name`` (None: no such host)."""
        side = self._sides.get(name)
        if side is None and name in self._names:
            side = self._sides[name] = self._side(name)
        return side

    def _host(self, name: str) -> HostSide:
        side = self.host(name)
        assert side is not None, f"no host {name!r}"
        return side

    def _server_cpu(self, call: CallSpec, host: str) -> float:
        if call.server_cpu.is_constant:
            return call.server_cpu.mean
        rng = self._rngs.get(host)
        if rng is None:
            rng = self._rngs[host] = self._make_rng(host)
        return call.server_cpu.sample(rng)

    # ------------------------------------------------------------------ names and routes

    def _resolve(self, call: CallSpec, caller: Container, host: str) -> tuple[Container, str]:
        """The callee and its host, found as the caller's resolver and the kernel's port table find them."""
        mode = caller.spec.network
        if mode == "none":  # only loopback: no resolver reachable
            raise CallFailed(EXIT_RESOLVE, f"curl: (6) Could not resolve host: {call.to.partition(':')[0]}")
        target = call.host_port
        if target is not None:
            return self._published(*target)
        side = self._host(host)
        name = call.to
        asker = _namespace_owner(caller, side.containers)  # container:NAME asks from NAME's namespace
        if side.networks.resolve(asker, name) is not None:
            callee = side.containers[name]
            return callee, host
        for other in self._directory(host).holding(name):  # --network-alias: answered on a network both are on
            if other is not asker and _shared_dns(side.networks, asker, other):
                return other, host
        raise CallFailed(EXIT_RESOLVE, f"curl: (6) Could not resolve host: {name}")

    def _published(self, host: str, port: int) -> tuple[Container, str]:
        """The running container behind ``host:port``: the one publishing it, or one on the host's network
        listening on it (its ``ports``/``expose``); else the connection is refused."""
        side = self.host(host)
        if side is None:
            raise CallFailed(EXIT_RESOLVE, f"curl: (6) Could not resolve host: {host}")
        owner = side.kernel.ports.get((port, "tcp"))
        callee = side.containers.get(owner) if owner is not None else None
        if callee is None:
            callee = next((c for c in self._directory(host).listening(port) if c.state == RUNNING), None)
        if callee is None or callee.state != RUNNING:
            raise CallFailed(EXIT_CONNECT, f"curl: (7) Failed to connect to {host} port {port}: Connection refused")
        return callee, host

    def _directory(self, host: str) -> _Directory:
        directory = self._directories.get(host)
        if directory is None:
            directory = self._directories[host] = _Directory(self._host(host).containers)
        return directory

    def _route(self, caller: Container, host: str, callee: Container, callee_host: str) -> _Route:
        """Across hosts: from each end's side (its bridge, or the host itself on the host network) over the
        topology (whose links' latency is the whole path's, stacks included, as measured between hosts). On one
        host: the host's TCP stack, and once across the bridge when either end is on it (docker0 switches
        between the veths)."""
        containers = self._host(host).containers
        caller_bridged = _bridged(_namespace_owner(caller, containers))
        callee_bridged = _bridged(_namespace_owner(callee, self._host(callee_host).containers))
        if host != callee_host:
            src = bridge_node(host) if caller_bridged else host
            dst = bridge_node(callee_host) if callee_bridged else callee_host
            return _Route(src, dst, self.network.rtt(src, dst) / 2, "topology")
        stack = self._host(host).networks.costs.loopback_latency  # the host's own TCP stack, one way
        if not caller_bridged and not callee_bridged:
            return _Route(host, host, stack, "loopback")
        src, dst = (bridge_node(host), host) if caller_bridged else (host, bridge_node(host))
        return _Route(src, dst, stack + self.network.rtt(src, dst) / 2, "bridge")

    def _span(self, call: CallSpec, caller: Container, callee: Container | None, host: str, job: int,
              began: float, route: str, moved: float, error: str) -> None:
        attrs: dict[str, Any] = {"caller": caller.name, "callee": callee.name if callee is not None else "",
                                 "route": route, "bytes": moved, "status": "failed" if error else "ok"}
        if error:
            attrs["error"] = error
        self.recorder.span(SpanKind.SERVICE_CALL, call.to, began, self.env.now, host=host, job=job, **attrs)


class _Directory:
    """A host's containers, as its side sees them, by ``--network-alias`` and by the ports host-network ones
    listen on; each list in the side's order, so the first that answers is the one a scan would find first.

    It mirrors ``HostSide.containers`` (a view of the runtime's table, in creation order) without scanning it
    per call: the runtime reports each container it adds (a new key: last) or takes out; a report that does
    not match the view, or a length moved without a report, rebuilds from the view. Only what a container keeps
    for life is indexed (aliases, network mode, ports); whether it runs, and on which networks, is asked at
    each call, as the scan asked."""

    def __init__(self, containers: Mapping[str, Container]) -> None:
        self._view = containers
        self._size = 0
        #: each container indexed -> the aliases and ports it was indexed under
        self._members: dict[Container, tuple[tuple[str, ...], tuple[int, ...]]] = {}
        self._aliases: dict[str, dict[Container, None]] = {}
        self._listeners: dict[int, dict[Container, None]] = {}
        self._rebuild()

    def holding(self, alias: str) -> Iterable[Container]:
        """The containers with ``alias`` among their ``--network-alias``es, in the side's order."""
        self._check()
        return self._aliases.get(alias, ())

    def listening(self, port: int) -> Iterable[Container]:
        """The host-network containers listening on ``port`` (running or not), in the side's order."""
        self._check()
        return self._listeners.get(port, ())

    def created(self, container: Container) -> None:
        """The runtime added ``container`` to its table."""
        view = self._view
        if len(view) == self._size + 1 and view.get(container.name) is container:  # a new key goes last
            self._enter(container)
            self._size += 1
        else:
            self._rebuild()

    def removed(self, container: Container) -> None:
        """The runtime took ``container`` out of its table."""
        if len(self._view) == self._size - 1 and container in self._members:
            self._leave(container)
            self._size -= 1
        else:
            self._rebuild()

    def _check(self) -> None:
        """A cheap guard: a view whose length moved without a report is indexed afresh."""
        if len(self._view) != self._size:
            self._rebuild()

    def _rebuild(self) -> None:
        self._members.clear()
        self._aliases.clear()
        self._listeners.clear()
        for container in self._view.values():
            self._enter(container)
        self._size = len(self._view)

    def _enter(self, container: Container) -> None:
        spec = container.spec
        ports = tuple(sorted(_listening(container))) if spec.network == "host" else ()
        self._members[container] = (spec.aliases, ports)
        for alias in spec.aliases:
            self._aliases.setdefault(alias, {})[container] = None
        for port in ports:
            self._listeners.setdefault(port, {})[container] = None

    def _leave(self, container: Container) -> None:
        aliases, ports = self._members.pop(container)
        for alias in aliases:
            _discard(self._aliases, alias, container)
        for port in ports:
            _discard(self._listeners, port, container)


def _discard(index: dict[Any, dict[Container, None]], key: Any, container: Container) -> None:
    """``container`` out of ``key``'s holders, and the key out once nobody holds it (a key listed twice in a
    spec is taken out once)."""
    holders = index.get(key)
    if holders is not None:
        holders.pop(container, None)
        if not holders:
            del index[key]


def _namespace_owner(container: Container, containers: Mapping[str, Container]) -> Container:
    """The container whose network namespace ``container`` uses: NAME for ``container:NAME``, else itself."""
    mode = container.spec.network
    if mode.startswith("container:"):
        return containers.get(mode.partition(":")[2], container)
    return container


def _bridged(container: Container) -> bool:
    """Whether the traffic of the namespace's owner crosses a bridge: every mode but the host network."""
    return container.spec.network != "host"


def _listening(container: Container) -> set[int]:
    """Container ports a host-network container listens on, from its ``ports`` and ``expose``."""
    ports = set()
    for mapping in itertools.chain(container.spec.ports, container.spec.expose):
        number = mapping.partition("/")[0].rpartition(":")[2]
        if number.isdigit():
            ports.add(int(number))
    return ports


def _shared_dns(stack: NetworkStack, asker: Container, other: Container) -> bool:
    """Whether both have endpoints on a user-defined network (where the embedded DNS answers aliases)."""
    return any(network.dns and asker.id in network.endpoints and other.id in network.endpoints
               for network in stack.networks_of(asker))
