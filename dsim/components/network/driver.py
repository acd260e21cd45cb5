"""The SimPy side of the network: transfers as events, one low-priority wake-up driving the solver.

A single pre-triggered SimPy event, at a priority below NORMAL, owns the network: it wakes at the next
completion and also after every instant with starts or finishes, so all the starts and finishes of one
instant are solved together.  There is no process per flow and no polling.
"""

from __future__ import annotations

from collections.abc import Callable

import networkx as nx
import simpy
from simpy.events import Event, EventPriority

import dsim.components.network.statistics as statistics
from dsim.components.network.solver import FairShareSolver
from dsim.components.network.state import INF, FlowClass, Link
from dsim.components.network.topology import Topology
from dsim.errors import SimulationError

__all__ = ["Network"]

# SimPy priority after NORMAL (1): the solver sees every start and finish of an instant at once.
_LOW = EventPriority(2)


class _Wake(Event):
    """A pre-triggered event that runs the network's driver (a Timeout at low priority)."""

    def __init__(self, env: simpy.Environment, delay: float, callback: Callable[[Event], None]) -> None:
        self.env = env
        self.callbacks = [callback]
        self._value = None
        self._ok = True
        env.schedule(self, _LOW, delay)


class Network:
    """Fluid flows sharing links by per-flow max-min fairness (progressive filling).

    ``graph`` is undirected; each edge has ``capacity`` (bytes/s, may be ``math.inf``) and ``latency``
    (one-way seconds, default 0).  Links are full duplex: each direction is its own resource.  The graph
    is read lazily and must not change once transfers have started.
    """

    def __init__(self, env: simpy.Environment, graph: nx.Graph) -> None:
        self.env = env
        self.graph = graph
        self.topology = Topology(graph)
        # A finished flow's event succeeds with its elapsed seconds (the unbound method: no extra call).
        self.solver = FairShareSolver(Event.succeed)
        self._routes: dict[tuple[str, str], tuple[tuple[Link, ...], tuple[Link, ...]]] = {}
        self._stream_caps: dict[tuple[str, str], float] = {}  # the path's per-connection limit
        self._wake_ev: Event | None = None
        self._wake_at = INF
        #: called with every transfer's event when it is processed (``on_flow_end``): probes observe from outside
        self._flow_end_observers: list[Callable[[Event], None]] = []

    # ------------------------------------------------------------------ topology

    def path(self, src: str, dst: str) -> tuple[str, ...]:
        """Nodes from ``src`` to ``dst``: networkx's fewest-hop shortest path (see Topology.path)."""
        return self.topology.path(src, dst)

    def rtt(self, src: str, dst: str) -> float:
        """Round trip: twice the sum of one-way link latencies on the path (cached)."""
        return self.topology.rtt(src, dst)

    def _route(self, src: str, dst: str) -> tuple[tuple[Link, ...], tuple[Link, ...]]:
        """The directed links of the path from ``src`` to ``dst``, and the finite ones among them."""
        key = (src, dst)
        route = self._routes.get(key)
        if route is None:
            nodes = self.topology.path(src, dst)
            links = tuple(self._link(a, b) for a, b in zip(nodes, nodes[1:], strict=False))
            for link in links:
                if link.capacity == 0.0:
                    raise SimulationError(f"link {link.src}->{link.dst} has zero capacity: a transfer from "
                                          f"'{src}' to '{dst}' would never finish")
            route = self._routes[key] = (links, tuple(lk for lk in links if lk.capacity < INF))
        return route

    def _link(self, a: str, b: str) -> Link:
        links = self.solver.links
        link = links.get((a, b))
        if link is None:
            link = links[a, b] = Link(a, b, self.topology.capacity(a, b))
        return link

    # ------------------------------------------------------------------ observers

    def on_flow_end(self, observer: Callable[[Event], None]) -> None:
        """Call ``observer`` with every transfer's event as it is processed, before the process waiting
        for it resumes (dsim.probes.LinkProbe). It rides on the transfer's own event: no event is added."""
        self._flow_end_observers.append(observer)

    # ------------------------------------------------------------------ transfers

    def transfer(self, src: str, dst: str, nbytes: float, cap: float = INF) -> Event:
        """Start a flow of ``nbytes`` now; the event succeeds with the elapsed seconds at the last byte.

        No latency is added here (callers pay ``rtt``).  Zero bytes, ``src == dst`` and paths whose links
        and ``cap`` are all infinite finish at once (the event still goes through the environment).
        ``cap`` is a per-flow rate limit in bytes/s; the path's per-connection limit (its links'
        ``stream_rate``, :meth:`Topology.stream_cap`) applies too: every transfer is one connection.
        """
        if not 0.0 <= nbytes < INF:
            raise SimulationError(f"transfer from '{src}' to '{dst}': invalid size {nbytes!r}")
        if not cap > 0.0:
            raise SimulationError(f"transfer from '{src}' to '{dst}': invalid rate cap {cap!r}")
        stream = self._stream_caps.get((src, dst))
        if stream is None:
            stream = self._stream_caps[src, dst] = self.topology.stream_cap(src, dst) if src != dst else INF
        if stream < cap:
            cap = stream
        env = self.env
        now = env.now
        solver = self.solver
        key = (src, dst, cap)
        c = solver.classes.get(key)
        if c is None:
            links, finite_links = self._route(src, dst)
            if nbytes == 0.0 or src == dst or (not finite_links and cap == INF):
                return self._instant(src, links, nbytes)
            c = solver.classes[key] = FlowClass(key, links, finite_links, now)
        elif nbytes == 0.0:
            return self._instant(src, c.links, 0.0)
        ev = Event(env)
        solver.start(c, nbytes, now, ev)
        if self._wake_at > now:
            self._schedule(now)
        if self._flow_end_observers:
            ev.callbacks.extend(self._flow_end_observers)
        return ev

    def _instant(self, src: str, links: tuple[Link, ...], nbytes: float) -> Event:
        self.solver.count_instant(src, links, nbytes)
        ev = Event(self.env)
        ev.succeed(0.0)
        if self._flow_end_observers:
            ev.callbacks.extend(self._flow_end_observers)
        return ev

    # ------------------------------------------------------------------ statistics

    @property
    def active_flows(self) -> int:
        """Flows started and not yet finished."""
        return self.solver.active_flows

    def link_bytes(self) -> dict[tuple[str, str], float]:
        """Bytes carried so far per directed link (in-progress flows counted up to now)."""
        return statistics.link_bytes(self.solver, self.env.now)

    def node_egress_bytes(self, node: str) -> float:
        """Bytes sent by flows whose source is ``node`` (in-progress flows counted up to now)."""
        return statistics.node_egress_bytes(self.solver, node, self.env.now)

    def current_rates(self) -> dict[tuple[str, str, float], float]:
        """Per-flow rate (bytes/s) of every active ``(src, dst, cap)`` class, as solved for now."""
        self._flush()
        return statistics.current_rates(self.solver)

    def link_load(self) -> dict[tuple[str, str], float]:
        """Sum of the rates of the flows on each directed link now (bytes/s)."""
        self._flush()
        return statistics.link_load(self.solver)

    def audit(self) -> None:
        """Check the solver's bookkeeping against a recount (for tests; O(everything))."""
        self._flush()
        self.solver.audit()

    def _flush(self) -> None:
        """Solve now if starts or finishes are pending (a query between a start and the driver)."""
        if self.solver.dirty:
            self.solver.solve(self.env.now)
            self._reschedule_next()

    # ------------------------------------------------------------------ driver

    def _schedule(self, t: float) -> None:
        now = self.env.now
        if t < now:
            t = now
        self._wake_at = t
        self._wake_ev = _Wake(self.env, t - now, self._drive)

    def _drive(self, ev: Event) -> None:
        if ev is not self._wake_ev:
            return  # superseded by an earlier wake-up
        self._wake_ev = None
        self._wake_at = INF
        now = self.env.now
        solver = self.solver
        if solver.complete_due(now):
            # Solve once the processes woken by these finishes have started their next flows.
            self._schedule(now)
            return
        if solver.dirty:
            solver.solve(now)
        t = solver.next_completion()  # as _reschedule_next, inlined: once per wake-up
        if t < self._wake_at:
            self._schedule(t)

    def _reschedule_next(self) -> None:
        t = self.solver.next_completion()
        if t < self._wake_at:
            self._schedule(t)
