"""Fluid network: flows share directed links by max-min fairness (progressive filling).

The flow solver is dsim's hot path, so it is built the way DESIGN.md's performance notes ask:

* **Classes.** Flows with the same ``(src, dst, cap)`` have the same path and therefore the same
  max-min rate; they form one class with a multiplicity ``n``.  A class keeps a *virtual clock* (bytes
  each of its flows has received since the class was created) and a heap of finish marks, so progress
  costs nothing per flow.
* **Private links become caps.** A finite link crossed by a single class only limits that class, to
  ``capacity / n`` per flow, so it is folded with the per-flow ``cap`` into the class's private cap ``p``.
* **Slack links are only watched.** A shared link that does not bind leaves the max-min allocation as it
  is, so a shared link starts *slack*: left out of the filling, its load is only checked against its
  capacity (budgets per bucket, or an exact running load when many buckets cross it).  When it would
  overflow it becomes *tight* and is filled; a tight link with 10% of its capacity unused becomes slack
  again.  A class nothing else bounds always keeps one tight link.
* **Buckets share a clock.** Classes with the same tight links (their signature) form a bucket.  Every
  member not held below the bucket's level by its private cap gets exactly that level, so those members
  ride one bucket clock (each class keeps an offset into it) and one heap of class heads.  In a
  registry-bound fleet pull, 1,000 hosts are one bucket on one tight link: a start or a finish costs
  O(log n), not O(hosts); with two registries the host NICs they share stay slack and it is two buckets.
* **Selective update.** A start or a finish re-solves only the connected component (through tight links)
  of the buckets it touched.  Which members are capped is remembered between solves and only re-checked,
  so a steady state costs O(tight links + buckets) per solve, not O(classes).  What stays expensive is
  a component with many tight links at once (e.g. hundreds of saturated NICs each shared by two sources
  while the sources' links are near saturation too): that solve is O(buckets log buckets).
* **One driver.** A single pre-triggered SimPy event, at a priority below NORMAL, owns the network: it
  wakes at the next completion and also after every instant with starts or finishes, so all the starts
  and finishes of one instant are solved together.  There is no process per flow and no polling.

Determinism: everything is iterated in insertion order (dicts and lists, never sets), heaps break ties
with a global sequence number, so the same calls in the same order give identical results in any process.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from itertools import count

import networkx as nx
import simpy
from simpy.events import Event, EventPriority

from dsim.errors import SimulationError

__all__ = ["Network"]

INF = math.inf
# SimPy priority after NORMAL (1): the solver sees every start and finish of an instant at once.
_LOW = EventPriority(2)
_MARK_TOL = 1e-11  # flows whose finish marks are this close (relative) to the due one finish with it
_CAP_TOL = 1e-9  # a capped rate may exceed its bucket's level by this much (relative) before re-solving
_ROUNDS = 4  # warm-started solves tried before falling back to a cold one
_SLACK_MARGIN = 0.1  # a tight link with this share of its capacity unused becomes slack

_heappush = heapq.heappush
_heappop = heapq.heappop

# A flow in its class's heap: (finish mark, seq, event, nbytes, start time).
_Flow = tuple[float, int, Event, float, float]


class _Wake(Event):
    """A pre-triggered event that runs the network's driver (a Timeout at low priority)."""

    def __init__(self, env: simpy.Environment, delay: float, callback: Callable[[Event], None]) -> None:
        self.env = env
        self.callbacks = [callback]
        self._value = None
        self._ok = True
        env.schedule(self, _LOW, delay)


class _Link:
    """One direction of a full-duplex edge; plus scratch fields used by the solver."""

    __slots__ = ("a", "b", "capacity", "classes", "buckets", "done", "rem", "w", "level", "stamp", "tight", "W",
                 "fixed", "nf", "bw", "wver", "astamp", "big", "load", "nupd")

    def __init__(self, a: str, b: str, capacity: float) -> None:
        self.a = a
        self.b = b
        self.capacity = capacity
        self.classes: dict[_Class, None] = {}  # active classes crossing it (finite links only)
        self.buckets: dict[_Bucket, None] = {}  # buckets whose signature contains it
        self.done = 0.0  # bytes of flows whose class has ended
        self.rem = 0.0
        self.w = 0
        self.level = INF
        self.stamp = 0
        # Shared links are tight (filled) or slack (watched): the sums below describe a slack link.
        self.tight = False
        self.W = 0  # uncapped flows on it
        self.fixed = 0.0  # load of capped flows on it
        self.nf = 0  # capped classes on it
        self.bw: dict[_Bucket, int] = {}  # uncapped flows on it per bucket
        self.wver = 0  # validity of its budget entries in buckets' watch heaps
        self.astamp = 0
        self.big = False  # many buckets on it: keeps its exact load instead of budgets
        self.load = 0.0  # fixed + sum of bw * published bucket level (big links)
        self.nupd = 0


class _Class:
    """Flows with one (src, dst, cap): same path, same max-min rate, one virtual clock."""

    __slots__ = ("key", "src", "links", "flinks", "cap", "n", "heap", "clock", "t", "rate", "grp", "off",
                 "gver", "ver", "bucket", "capped", "hver", "wn", "wp", "registered", "dead", "stamp", "done",
                 "slack", "sw", "sf", "sb")

    def __init__(self, key: tuple[str, str, float], links: tuple[_Link, ...], flinks: tuple[_Link, ...],
                 now: float) -> None:
        self.key = key
        self.src = key[0]
        self.links = links  # every directed link of the path (bytes accounting)
        self.flinks = flinks  # the finite ones (constraints)
        self.cap = key[2]
        self.n = 0
        self.heap: list[_Flow] = []
        self.clock = 0.0  # own clock (bytes per flow), valid at time t when grp is None
        self.t = now
        self.rate = 0.0  # own per-flow rate when grp is None
        self.grp: _Bucket | None = None  # bucket whose clock it rides: clock = grp.clock + off
        self.off = 0.0
        self.gver = 0  # validity of its entry in grp.gheap
        self.ver = 0  # validity of its own entry in the network's event heap
        self.bucket: _Bucket | None = None
        self.capped = False  # held at its private cap wp (else it gets the bucket's level)
        self.hver = 0  # validity of its entry in bucket.uh / bucket.ch
        self.wn = 0  # multiplicity and private cap accounted in the bucket's sums
        self.wp = 0.0
        self.registered = False  # listed in its finite links' class dicts
        self.dead = False
        self.stamp = 0
        self.done = 0.0  # bytes of its completed flows
        self.slack: tuple[_Link, ...] = ()  # slack links it is counted on, with these contributions:
        self.sw = 0  # uncapped flows
        self.sf = 0.0  # capped load
        self.sb: _Bucket | None = None  # bucket of its uncapped flows


class _Bucket:
    """Classes with the same tight shared links; the uncapped ones share its level and clock."""

    __slots__ = ("sig", "members", "capped", "unc_w", "cap_sum", "uh", "ch", "clock", "t", "rate", "gheap",
                 "ver", "level", "frozen", "stamp", "watch", "sl", "big", "plevel")

    def __init__(self, sig: tuple[_Link, ...], now: float) -> None:
        self.sig = sig
        self.members: dict[_Class, None] = {}
        self.capped: dict[_Class, None] = {}
        self.unc_w = 0  # flows of uncapped members
        self.cap_sum = 0.0  # bytes/s taken by capped members
        self.uh: list[tuple[float, int, _Class, int]] = []  # uncapped members by private cap (min first)
        self.ch: list[tuple[float, int, _Class, int]] = []  # capped members by -private cap (max first)
        self.clock = 0.0
        self.t = now
        self.rate = 0.0  # per-flow rate of uncapped members (the level)
        self.gheap: list[tuple[float, int, _Class, int]] = []  # class heads in bucket-clock units
        self.ver = 0
        self.level = INF
        self.frozen = False
        self.stamp = 0
        self.watch: list[tuple[float, int, _Link, int]] = []  # budgets on small slack links, min first
        self.sl: dict[_Link, None] = {}  # slack links its uncapped members cross
        self.big: dict[_Link, None] = {}  # the big ones among them
        self.plevel = 0.0  # level counted in big links' loads


_Owner = _Class | _Bucket


class Network:
    """Fluid flows sharing links by per-flow max-min fairness (progressive filling).

    ``graph`` is undirected; each edge has ``capacity`` (bytes/s, may be ``math.inf``) and ``latency``
    (one-way seconds, default 0).  Links are full duplex: each direction is its own resource.  The graph
    is read lazily and must not change once transfers have started.
    """

    def __init__(self, env: simpy.Environment, graph: nx.Graph) -> None:
        self.env = env
        self.graph = graph
        self._paths: dict[tuple[str, str], tuple[str, ...]] = {}
        self._forest: tuple[dict[str, str | None], dict[str, int], dict[str, str]] | None = None
        self._core_bfs: dict[str, tuple[dict[str, str | None], dict[str, None]]] = {}
        self._rtts: dict[tuple[str, str], float] = {}
        self._routes: dict[tuple[str, str], tuple[tuple[_Link, ...], tuple[_Link, ...]]] = {}
        self._links: dict[tuple[str, str], _Link] = {}
        self._classes: dict[tuple[str, str, float], _Class] = {}
        self._buckets: dict[tuple[_Link, ...], _Bucket] = {}
        self._dirty: dict[_Class, None] = {}
        self._heap: list[tuple[float, int, _Owner, int]] = []  # next completion of each owner
        self._seq = count()
        self._stamp = 0
        self._wake_ev: Event | None = None
        self._wake_at = INF
        self._active = 0
        self._egress: dict[str, float] = {}  # bytes of ended classes and instant transfers, per source
        self._anchored: list[_Link] = []  # slack links made tight during a re-bucketing pass

    # ------------------------------------------------------------------ topology

    def path(self, src: str, dst: str) -> tuple[str, ...]:
        """Nodes from ``src`` to ``dst``: networkx's fewest-hop shortest path, cached.

        When the fewest-hop path is unique, every shortest-path search returns it, so it is taken from
        :meth:`_unique_path` (O(depth) on a fleet's star or tree); only when that cannot show uniqueness
        (ties, or no path) is ``nx.shortest_path`` asked, whose tie-breaking then decides as before.
        """
        key = (src, dst)
        found = self._paths.get(key)
        if found is None:
            found = self._unique_path(src, dst)
            if found is None:
                try:
                    found = tuple(nx.shortest_path(self.graph, src, dst))
                except (nx.NetworkXNoPath, nx.NodeNotFound) as exc:
                    raise SimulationError(f"no network path from '{src}' to '{dst}'") from exc
            self._paths[key] = found
        return found

    def _unique_path(self, src: str, dst: str) -> tuple[str, ...] | None:
        """The fewest-hop path from ``src`` to ``dst`` if it is the only one, else None.

        Stripping leaves repeatedly leaves the graph's 2-core; every stripped node hangs in a tree that
        meets the rest of its component at one node, its root (a core node, or the last node of a
        tree-shaped component).  A simple path leaves such a tree only through its root, so two nodes with
        the same root are joined only by their tree path (unique), and any shortest path between nodes
        with different core roots is tree path + shortest path between the roots inside the core + tree
        path: unique exactly when the core part is, which a BFS counting shortest paths tells.
        """
        forest = self._forest
        if forest is None:
            forest = self._forest = self._strip()
        parent, depth, root = forest
        ds = depth.get(src)
        dt = depth.get(dst)
        if ds is None or dt is None:
            return None  # not in the graph: networkx raises
        rs = root[src]
        rt = root[dst]
        up = [src]
        down = [dst]
        a, b = src, dst
        if rs == rt:  # one tree: climb to the lowest common ancestor
            while ds > dt:
                a = parent[a]  # type: ignore[assignment]
                up.append(a)
                ds -= 1
            while dt > ds:
                b = parent[b]  # type: ignore[assignment]
                down.append(b)
                dt -= 1
            while a != b:
                a = parent[a]  # type: ignore[assignment]
                b = parent[b]  # type: ignore[assignment]
                up.append(a)
                down.append(b)
            down.pop()  # the common ancestor is already the end of ``up``
            down.reverse()
            return (*up, *down)
        if rs in parent or rt in parent:
            return None  # a root of a tree-shaped component: different components, networkx raises
        bfs = self._core_bfs.get(rs)
        if bfs is None:
            bfs = self._core_bfs[rs] = self._count_paths(rs, parent)
        pred, many = bfs
        if rt not in pred or rt in many:
            return None  # unreachable or tied: networkx decides
        for _ in range(ds):
            a = parent[a]  # type: ignore[assignment]
            up.append(a)
        for _ in range(dt):
            b = parent[b]  # type: ignore[assignment]
            down.append(b)
        core: list[str] = []
        node: str | None = pred[rt]
        while node is not None and node != rs:
            core.append(node)
            node = pred[node]
        core.reverse()
        down.reverse()
        return (*up, *core, *down)

    def _strip(self) -> tuple[dict[str, str | None], dict[str, int], dict[str, str]]:
        """Peel leaves off the graph: each stripped node's parent (its last neighbour when peeled; None
        for the last node of a tree-shaped component), and every node's depth below its root and root.
        Nodes without a parent entry form the 2-core (their own roots, depth 0)."""
        adj = self.graph.adj
        degree = {x: len(nbrs) - (x in nbrs) for x, nbrs in adj.items()}  # self-loops never lie on paths
        parent: dict[str, str | None] = {}
        queue = [x for x, d in degree.items() if d <= 1]
        for x in queue:  # grows while peeling
            if degree[x] == 0:
                parent[x] = None
                continue
            for y in adj[x]:
                if y != x and y not in parent:
                    break
            parent[x] = y
            degree[y] -= 1
            if degree[y] == 1:
                queue.append(y)
        depth: dict[str, int] = {}
        root: dict[str, str] = {}
        for x in adj:
            if x not in parent:
                depth[x] = 0
                root[x] = x
        for x in reversed(queue):  # a parent is peeled after its children (or is in the core)
            p = parent[x]
            if p is None:
                depth[x] = 0
                root[x] = x
            else:
                depth[x] = depth[p] + 1
                root[x] = root[p]
        return parent, depth, root

    def _count_paths(self, src: str, parent: dict[str, str | None]) -> tuple[dict[str, str | None],
                                                                             dict[str, None]]:
        """BFS over the core from ``src``: each reached node's predecessor, and the nodes reached by more
        than one fewest-hop path."""
        adj = self.graph.adj
        pred: dict[str, str | None] = {src: None}
        dist = {src: 0}
        many: dict[str, None] = {}
        fringe = [src]
        d = 0
        while fringe:
            d += 1
            nxt: list[str] = []
            for v in fringe:
                tied = v in many
                for w in adj[v]:
                    if w in parent:
                        continue  # stripped: not on any shortest path between core nodes
                    dw = dist.get(w)
                    if dw is None:
                        dist[w] = d
                        pred[w] = v
                        nxt.append(w)
                        if tied:
                            many[w] = None
                    elif dw == d:
                        many[w] = None
            fringe = nxt
        return pred, many

    def rtt(self, src: str, dst: str) -> float:
        """Round trip: twice the sum of one-way link latencies on the path (cached)."""
        key = (src, dst)
        found = self._rtts.get(key)
        if found is None:
            nodes = self.path(src, dst)
            edges = self.graph.edges
            one_way = 0.0
            for a, b in zip(nodes, nodes[1:], strict=False):
                latency = float(edges[a, b].get("latency", 0.0))
                if not latency >= 0.0:
                    raise SimulationError(f"link {a}-{b} has invalid latency {latency!r}")
                one_way += latency
            found = self._rtts[key] = 2.0 * one_way
        return found

    def _link(self, a: str, b: str) -> _Link:
        link = self._links.get((a, b))
        if link is None:
            data = self.graph.edges[a, b]
            if "capacity" not in data:
                raise SimulationError(f"link {a}-{b} has no capacity")
            capacity = float(data["capacity"])
            if not capacity >= 0.0:
                raise SimulationError(f"link {a}-{b} has invalid capacity {capacity!r}")
            link = self._links[a, b] = _Link(a, b, capacity)
        return link

    def _route(self, src: str, dst: str) -> tuple[tuple[_Link, ...], tuple[_Link, ...]]:
        key = (src, dst)
        route = self._routes.get(key)
        if route is None:
            nodes = self.path(src, dst)
            links = tuple(self._link(a, b) for a, b in zip(nodes, nodes[1:], strict=False))
            for link in links:
                if link.capacity == 0.0:
                    raise SimulationError(f"link {link.a}->{link.b} has zero capacity: a transfer from "
                                          f"'{src}' to '{dst}' would never finish")
            route = self._routes[key] = (links, tuple(lk for lk in links if lk.capacity < INF))
        return route

    # ------------------------------------------------------------------ transfers

    def transfer(self, src: str, dst: str, nbytes: float, cap: float = INF) -> Event:
        """Start a flow of ``nbytes`` now; the event succeeds with the elapsed seconds at the last byte.

        No latency is added here (callers pay ``rtt``).  Zero bytes, ``src == dst`` and paths whose links
        and ``cap`` are all infinite finish at once (the event still goes through the environment).
        ``cap`` is a per-flow rate limit in bytes/s.
        """
        if not 0.0 <= nbytes < INF:
            raise SimulationError(f"transfer from '{src}' to '{dst}': invalid size {nbytes!r}")
        if not cap > 0.0:
            raise SimulationError(f"transfer from '{src}' to '{dst}': invalid rate cap {cap!r}")
        env = self.env
        key = (src, dst, cap)
        c = self._classes.get(key)
        if c is None:
            links, flinks = self._route(src, dst)
            if nbytes == 0.0 or src == dst or (not flinks and cap == INF):
                return self._instant(src, links, nbytes)
            c = self._classes[key] = _Class(key, links, flinks, env.now)
        elif nbytes == 0.0:
            return self._instant(src, c.links, 0.0)
        ev = Event(env)
        now = env.now
        g = c.grp
        clock = g.clock + g.rate * (now - g.t) + c.off if g is not None else c.clock + c.rate * (now - c.t)
        _heappush(c.heap, (clock + nbytes, next(self._seq), ev, nbytes, now))
        c.n += 1
        self._active += 1
        self._dirty[c] = None
        if self._wake_at > now:
            self._schedule(now)
        return ev

    def _instant(self, src: str, links: tuple[_Link, ...], nbytes: float) -> Event:
        for link in links:
            link.done += nbytes
        self._egress[src] = self._egress.get(src, 0.0) + nbytes
        ev = Event(self.env)
        ev.succeed(0.0)
        return ev

    # ------------------------------------------------------------------ statistics

    @property
    def active_flows(self) -> int:
        """Flows started and not yet finished."""
        return self._active

    def link_bytes(self) -> dict[tuple[str, str], float]:
        """Bytes carried so far per directed link (in-progress flows counted up to now)."""
        now = self.env.now
        out = {key: link.done for key, link in self._links.items()}
        for c in self._classes.values():
            carried = c.done + self._in_progress(c, now)
            for link in c.links:
                out[link.a, link.b] += carried
        return out

    def node_egress_bytes(self, node: str) -> float:
        """Bytes sent by flows whose source is ``node`` (in-progress flows counted up to now)."""
        now = self.env.now
        total = self._egress.get(node, 0.0)
        for c in self._classes.values():
            if c.src == node:
                total += c.done + self._in_progress(c, now)
        return total

    def current_rates(self) -> dict[tuple[str, str, float], float]:
        """Per-flow rate (bytes/s) of every active ``(src, dst, cap)`` class, as solved for now."""
        self._flush()
        return {c.key: self._rate(c) for c in self._classes.values() if c.n > 0}

    def link_load(self) -> dict[tuple[str, str], float]:
        """Sum of the rates of the flows on each directed link now (bytes/s)."""
        self._flush()
        out = dict.fromkeys(self._links, 0.0)
        for c in self._classes.values():
            if c.n > 0:
                load = c.n * self._rate(c)
                for link in c.links:
                    out[link.a, link.b] += load
        return out

    def _audit(self) -> None:
        """Check the solver's bookkeeping against a recount (for tests; O(everything))."""
        self._flush()
        for c in self._classes.values():
            if c.n == 0:
                continue
            b = c.bucket
            assert b is not None and c in b.members and c.registered
            assert (c.grp is None) if c.capped else (c.grp is b), c.key
            assert c.wn == c.n
        for b in self._buckets.values():
            assert b.unc_w == sum(c.wn for c in b.members if not c.capped)
            assert set(b.capped) == {c for c in b.members if c.capped}
            assert b.plevel == (b.level if b.unc_w else 0.0)
        for link in self._links.values():
            if link.tight or len(link.classes) < 2:
                continue
            live = [c for c in link.classes if c.n > 0]
            assert sum(c.wn for c in live if not c.capped) == link.W, (link.a, link.b)
            fixed = sum(c.wn * c.wp for c in live if c.capped)
            assert math.isclose(link.fixed, fixed, rel_tol=1e-9, abs_tol=1e-9), (link.a, link.b)
            if link.big:
                load = fixed + sum(flows * b.plevel for b, flows in link.bw.items())
                assert math.isclose(link.load, load, rel_tol=1e-9, abs_tol=1e-6), (link.a, link.b)
                assert all(link in b.big for b in link.bw)

    def _rate(self, c: _Class) -> float:
        return c.bucket.rate if (c.bucket is not None and not c.capped) else c.rate

    def _clock(self, c: _Class, now: float) -> float:
        g = c.grp
        if g is not None:
            return g.clock + g.rate * (now - g.t) + c.off
        return c.clock + c.rate * (now - c.t)

    def _in_progress(self, c: _Class, now: float) -> float:
        clock = self._clock(c, now)
        total = 0.0
        for mark, _, _, nbytes, _ in c.heap:
            total += min(nbytes, max(0.0, clock - (mark - nbytes)))
        return total

    def _flush(self) -> None:
        """Solve now if starts or finishes are pending (a query between a start and the driver)."""
        if self._dirty:
            self._solve(self.env.now)
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
        if self._complete_due(now):
            # Solve once the processes woken by these finishes have started their next flows.
            self._schedule(now)
            return
        if self._dirty:
            self._solve(now)
        self._reschedule_next()

    def _reschedule_next(self) -> None:
        h = self._heap
        while h and h[0][2].ver != h[0][3]:
            _heappop(h)
        if h and h[0][0] < self._wake_at:
            self._schedule(h[0][0])

    def _complete_due(self, now: float) -> bool:
        h = self._heap
        done = False
        while h and h[0][0] <= now:
            _, _, owner, ver = _heappop(h)
            if owner.ver != ver:
                continue
            owner.ver += 1
            if isinstance(owner, _Bucket):
                self._finish_bucket(owner, now)
            else:
                self._finish_class(owner, now)
            done = True
        return done

    def _finish_class(self, c: _Class, now: float) -> None:
        heap = c.heap
        clock = c.clock + c.rate * (now - c.t)
        if clock < heap[0][0]:
            clock = heap[0][0]  # this head is due now: absorb rounding instead of waking again
        c.clock = clock
        c.t = now
        limit = clock + _MARK_TOL * abs(clock)
        self._finish_flows_due(c, now, limit, at_least_one=False)

    def _finish_bucket(self, b: _Bucket, now: float) -> None:
        gh = b.gheap
        clock = b.clock + b.rate * (now - b.t)
        while gh and gh[0][2].gver != gh[0][3]:
            _heappop(gh)
        if gh and clock < gh[0][0]:
            clock = gh[0][0]
        b.clock = clock
        b.t = now
        limit = clock + _MARK_TOL * abs(clock)
        while gh and gh[0][0] <= limit:
            _, _, c, gver = _heappop(gh)
            if c.gver != gver:
                continue
            c.gver += 1
            self._finish_flows_due(c, now, limit + c.off, at_least_one=True)

    def _finish_flows_due(self, c: _Class, now: float, limit: float, *, at_least_one: bool) -> None:
        """Finish the flows of ``c`` whose finish marks are at most ``limit`` (with ``at_least_one``, its head
        flow even when rounding left its mark just past ``limit``); the class then needs a re-solve."""
        heap = c.heap
        k = 0
        while heap and (heap[0][0] <= limit or (at_least_one and k == 0)):
            _, _, ev, nbytes, t0 = _heappop(heap)
            c.done += nbytes
            ev.succeed(now - t0)
            k += 1
        c.n -= k
        self._active -= k
        self._dirty[c] = None

    # ------------------------------------------------------------------ solver

    def _solve(self, now: float) -> None:
        """Re-solve the components touched by the pending starts and finishes; reschedule them."""
        dirty = list(self._dirty)
        self._dirty.clear()
        # 1. link membership: a link's private/shared status flips when its class count crosses 1 <-> 2.
        work = dirty
        siblings: list[_Class] = []
        for c in dirty:
            if c.n == 0:
                c.dead = True
                if self._classes.get(c.key) is c:
                    del self._classes[c.key]
                if c.registered:
                    c.registered = False
                    for link in c.flinks:
                        members = link.classes
                        del members[c]
                        if len(members) == 1:
                            siblings.append(next(iter(members)))
            elif not c.registered:
                c.registered = True
                for link in c.flinks:
                    members = link.classes
                    members[c] = None
                    if len(members) == 2:
                        link.tight = False  # newly shared links start slack (watched, not filled)
                        siblings.append(next(iter(members)))
        if siblings:
            work = dirty + siblings
        touched: dict[_Class, None] = {}
        solved: dict[_Bucket, None] = {}
        # 2.-5. solve; then check slack links, promote overflowing ones, demote idle tight ones, repeat.
        rounds = 0
        while work:
            comp_b, comp_l = self._resolve(work, touched, now)
            for b in comp_b:
                solved[b] = None
            rounds += 1
            work = self._check_slack(comp_b, comp_l, touched, demote=rounds < 8)
        # 6. move changed classes between own clocks and bucket clocks; reschedule them.
        seq = self._seq
        heap = self._heap
        for c in touched:
            if c.dead:
                continue
            g = c.grp
            clock = self._clock(c, now)
            if c.capped:
                if g is not None:
                    c.gver += 1
                    c.grp = None
                c.clock = clock
                c.t = now
                c.rate = c.wp
                c.ver += 1
                if c.heap:
                    _heappush(heap, (now + (c.heap[0][0] - clock) / c.wp, next(seq), c, c.ver))
            else:
                home = c.bucket
                assert home is not None
                if g is not home:
                    c.off = clock - home.clock
                    c.grp = home
                c.ver += 1
                c.gver += 1
                if c.heap:
                    _heappush(home.gheap, (c.heap[0][0] - c.off, next(seq), c, c.gver))
        # 7. new bucket levels; reschedule buckets; drop empty ones.
        for b in solved:
            if not b.members:
                if self._buckets.get(b.sig) is b:
                    del self._buckets[b.sig]
                    for link in b.sig:
                        del link.buckets[b]
                b.ver += 1
                continue
            if b.unc_w > 0:
                if not 0.0 < b.level < INF:  # pragma: no cover - guarded by the fill's construction
                    raise SimulationError(f"network solver produced rate {b.level!r}")
                b.rate = b.level
            else:
                b.rate = 0.0
            size = 2 * len(b.members) + 32
            if len(b.uh) > size or len(b.ch) > size or len(b.gheap) > size or len(b.watch) > size:
                self._compact(b)
            b.ver += 1
            gh = b.gheap
            while gh and gh[0][2].gver != gh[0][3]:
                _heappop(gh)
            if gh and b.rate > 0.0:
                _heappush(heap, (now + (gh[0][0] - b.clock) / b.rate, next(seq), b, b.ver))
        if len(heap) > 4 * (len(self._classes) + len(self._buckets)) + 64:
            heap[:] = [entry for entry in heap if entry[2].ver == entry[3]]
            heapq.heapify(heap)

    def _resolve(self, work: list[_Class], touched: dict[_Class, None], now: float
                 ) -> tuple[list[_Bucket], list[_Link]]:
        """Re-bucket ``work`` and progressive-fill the component of the buckets it touched."""
        self._stamp += 1
        stamp = self._stamp
        seq = self._seq
        # 2. private caps, signatures (tight shared links), bucket sums.
        seeds: list[_Bucket] = []
        for c in work:
            if c.stamp == stamp:
                continue
            c.stamp = stamp
            touched[c] = None
            b = c.bucket
            if c.dead:
                if b is not None:
                    self._leave(c, b)
                    seeds.append(b)
                for link in c.links:
                    link.done += c.done
                self._egress[c.src] = self._egress.get(c.src, 0.0) + c.done
                c.done = 0.0
                c.ver += 1
                c.gver += 1
                c.grp = None
                continue
            n = c.n
            private = INF
            shared: list[_Link] = []
            for link in c.flinks:
                if len(link.classes) == 1:
                    if link.capacity < private:
                        private = link.capacity
                elif link.tight:
                    shared.append(link)
            p = private / n
            if c.cap < p:
                p = c.cap
            if p == INF and not shared:
                # Nothing bounds it: make its likeliest bottleneck tight (the others on it follow next round).
                anchor = self._anchor(c)
                anchor.tight = True
                self._anchored.append(anchor)
                shared = [link for link in c.flinks if link.tight and len(link.classes) >= 2]
            sig = tuple(shared)
            if b is None or b.sig != sig:
                if b is not None:
                    self._leave(c, b)
                    seeds.append(b)
                b = self._buckets.get(sig)
                if b is None:
                    b = self._buckets[sig] = _Bucket(sig, now)
                    for link in sig:
                        link.buckets[b] = None
                c.bucket = b
                b.members[c] = None
                b.unc_w += n
                c.capped = False
                c.hver += 1
                _heappush(b.uh, (p, next(seq), c, c.hver))
            elif c.capped:
                b.cap_sum += n * p - c.wn * c.wp
                if p != c.wp:
                    c.hver += 1
                    _heappush(b.ch, (-p, next(seq), c, c.hver))
            else:
                b.unc_w += n - c.wn
                if p != c.wp:
                    c.hver += 1
                    _heappush(b.uh, (p, next(seq), c, c.hver))
            c.wn = n
            c.wp = p
            seeds.append(b)
        # 3. the connected component, through tight shared links, of the touched buckets.
        comp_b: list[_Bucket] = []
        comp_l: list[_Link] = []
        stack = seeds
        while stack:
            b = stack.pop()
            if b.stamp == stamp:
                continue
            b.stamp = stamp
            comp_b.append(b)
            for link in b.sig:
                if link.stamp != stamp:
                    link.stamp = stamp
                    comp_l.append(link)
                    for other in link.buckets:
                        if other.stamp != stamp:
                            stack.append(other)
        # 4. bring bucket clocks to now at their old rates.
        for b in comp_b:
            if b.t != now:
                b.clock += b.rate * (now - b.t)
                b.t = now
        # 5. progressive filling, warm-started from the capped sets of the last solve.
        for _ in range(_ROUNDS):
            self._fill(comp_b, comp_l, touched)
            if self._validate(comp_b, comp_l, touched):
                break
        else:
            for b in comp_b:
                for c in list(b.capped):
                    self._uncap(b, c, touched)
            self._fill(comp_b, comp_l, touched)
            if not self._validate(comp_b, comp_l, touched):  # pragma: no cover - a cold fill is exact
                raise SimulationError("network solver failed to converge")
        return comp_b, comp_l

    def _check_slack(self, comp_b: list[_Bucket], comp_l: list[_Link], touched: dict[_Class, None], *,
                     demote: bool) -> list[_Class]:
        """Keep slack links under capacity; return the classes to re-solve when a link changes state.

        A slack link is left out of the filling; a constraint that cannot bind leaves the max-min
        allocation unchanged, so it only has to be shown not to overflow.  A link with few buckets on it
        gives each a budget (its level plus a share of the headroom); buckets watch their budgets in a
        heap, so a bucket whose level moves checks O(log) entries however many links it crosses.  A link
        with many buckets keeps its exact load instead, updated by each level change.  An overflowing
        link becomes tight (filled); a tight one with a margin of capacity unused becomes slack again.
        """
        promote: list[_Link] = []
        heavy: list[_Link] = []
        for c in touched:
            self._account(c, promote, heavy)
        for b in comp_b:
            level = b.level if b.unc_w else 0.0  # finite: no uncapped flows, no load
            if level != b.plevel:
                delta = level - b.plevel
                b.plevel = level
                for link in b.big:
                    link.load += link.bw[b] * delta
                    heavy.append(link)
        for link in heavy:
            if link.big and not link.tight and link.load > link.capacity * (1.0 + _CAP_TOL):
                promote.append(link)
        for b in comp_b:
            if not b.unc_w or not b.sl:
                continue
            level = b.level
            watch = b.watch
            while watch:
                budget, _, link, wver = watch[0]
                if link.wver != wver or link.tight or link.big or b not in link.bw:
                    _heappop(watch)
                    continue
                if budget * (1.0 + _CAP_TOL) >= level:
                    break
                self._rebalance(link, promote)
        redo: list[_Class] = []
        for link in self._anchored:
            redo.extend(link.classes)
        self._anchored.clear()
        for link in promote:
            if not link.tight:
                link.tight = True
                redo.extend(link.classes)
        if redo or not demote:
            return redo
        for link in comp_l:
            # rem is capacity minus the solved load; the margin keeps a link from flapping at the edge.
            if link.tight and link.level == INF and link.rem >= _SLACK_MARGIN * link.capacity \
                    and len(link.classes) >= 2 and self._anchors_elsewhere(link):
                link.tight = False
                redo.extend(link.classes)
        return redo

    @staticmethod
    def _anchors_elsewhere(link: _Link) -> bool:
        """Whether every class on ``link`` stays bounded without it (a private cap or another tight link)."""
        for c in link.classes:
            if c.wp == INF and not any(o is not link and o.tight and len(o.classes) >= 2 for o in c.flinks):
                return False
        return True

    def _rebalance(self, link: _Link, promote: list[_Link]) -> None:
        """Give each bucket on a small slack link a budget: its level plus an equal per-flow share of the
        headroom (so the budgets exactly fill the link); flag the link if it is already over."""
        load = link.fixed
        bw = link.bw
        for b, flows in bw.items():
            load += flows * b.level
        link.wver += 1
        if load > link.capacity * (1.0 + _CAP_TOL):
            promote.append(link)
            return
        extra = max(0.0, link.capacity - load) / link.W if link.W else INF  # >= 0: no re-check loop
        seq = self._seq
        wver = link.wver
        for b in bw:
            _heappush(b.watch, (b.level + extra, next(seq), link, wver))

    @staticmethod
    def _anchor(c: _Class) -> _Link:
        """The slack link of ``c`` with the least room per flow (its likeliest bottleneck)."""
        best: _Link | None = None
        room = INF
        for link in c.flinks:
            here = (link.capacity - link.fixed) / (link.W + c.n)
            if best is None or here < room:
                best = link
                room = here
        assert best is not None
        return best

    def _account(self, c: _Class, promote: list[_Link], heavy: list[_Link]) -> None:
        """Update the slack links' sums for class ``c``'s current state."""
        if c.dead:
            new: tuple[_Link, ...] = ()
            nw = 0
            nf = 0.0
            nb: _Bucket | None = None
        else:
            new = tuple(link for link in c.flinks if not link.tight and len(link.classes) >= 2)
            if c.capped:
                nw, nf, nb = 0, c.wn * c.wp, None
            else:
                nw, nf, nb = c.wn, 0.0, c.bucket
        old = c.slack
        if not old and not new:
            return
        ow, of, ob = c.sw, c.sf, c.sb
        if new == old and nw == ow and nf == of and nb is ob:
            return
        self._stamp += 1
        stamp = self._stamp
        changed: list[_Link] = []
        for link in old:
            link.W -= ow
            if of:
                link.fixed -= of
                link.load -= of
                link.nf -= 1
            if ob is not None:
                link.load -= ow * ob.plevel
                left = link.bw[ob] - ow
                if left:
                    link.bw[ob] = left
                else:
                    del link.bw[ob]
                    del ob.sl[link]
                    if link.big:
                        del ob.big[link]
            link.astamp = stamp
            changed.append(link)
        for link in new:
            link.W += nw
            if nf:
                link.fixed += nf
                link.load += nf
                link.nf += 1
            if nb is not None:
                link.load += nw * nb.plevel
                had = link.bw.get(nb, 0)
                if not had:
                    nb.sl[link] = None
                    if link.big:
                        nb.big[link] = None
                link.bw[nb] = had + nw
            if link.astamp != stamp:
                link.astamp = stamp
                changed.append(link)
        c.slack, c.sw, c.sf, c.sb = new, nw, nf, nb
        for link in changed:
            bw = link.bw
            if not link.nf:
                link.fixed = 0.0
                if not bw:
                    link.load = 0.0
            if link.tight or len(link.classes) < 2:
                continue
            if link.big and len(bw) < 4:
                link.big = False
                for b in bw:
                    del b.big[link]
            elif not link.big and len(bw) > 16:
                link.big = True
                link.nupd = 0
                load = link.fixed
                for b, flows in bw.items():
                    b.big[link] = None
                    load += flows * b.plevel
                link.load = load
            if link.big:
                link.nupd += 1
                if link.nupd > 4 * len(bw) + 64:  # re-add from scratch now and then: no drift
                    link.nupd = 0
                    load = link.fixed
                    for b, flows in bw.items():
                        load += flows * b.plevel
                    link.load = load
                heavy.append(link)
            else:
                self._rebalance(link, promote)

    def _leave(self, c: _Class, b: _Bucket) -> None:
        del b.members[c]
        if c.capped:
            del b.capped[c]
            b.cap_sum = b.cap_sum - c.wn * c.wp if b.capped else 0.0
        else:
            b.unc_w -= c.wn
        c.capped = False
        c.hver += 1
        c.bucket = None

    def _uncap(self, b: _Bucket, c: _Class, touched: dict[_Class, None]) -> None:
        del b.capped[c]
        c.capped = False
        c.hver += 1
        _heappush(b.uh, (c.wp, next(self._seq), c, c.hver))
        b.unc_w += c.wn
        b.cap_sum = b.cap_sum - c.wn * c.wp if b.capped else 0.0
        touched[c] = None

    def _fill(self, comp_b: list[_Bucket], comp_l: list[_Link], touched: dict[_Class, None]) -> None:
        """Progressive filling over shared links, with buckets' private caps as extra events.

        Capped members enter with their caps taken; levels only rise, so stale heap entries are
        re-pushed with their current share when they surface.
        """
        seq = self._seq
        for link in comp_l:
            link.rem = link.capacity
            link.w = 0
            link.level = INF
        heads: list[tuple[float, int, _Bucket]] = []
        for b in comp_b:
            b.frozen = False
            unc_w = b.unc_w
            cap_sum = b.cap_sum
            if unc_w or cap_sum:
                for link in b.sig:
                    link.rem -= cap_sum
                    link.w += unc_w
            if unc_w:
                heads.append((self._head(b), next(seq), b))
        shares = [(link.rem / link.w, next(seq), link) for link in comp_l if link.w > 0]
        heapq.heapify(shares)
        heapq.heapify(heads)
        while True:
            s = INF
            top: _Link | None = None
            while shares:
                old, _, link = shares[0]
                if link.w == 0:
                    _heappop(shares)
                    continue
                cur = link.rem / link.w
                if cur > old:
                    heapq.heapreplace(shares, (cur, next(seq), link))
                    continue
                s = cur
                top = link
                break
            if heads and heads[0][0] <= s:
                p, _, b = _heappop(heads)
                if b.frozen or b.unc_w == 0:
                    continue
                _, _, c, _ = _heappop(b.uh)  # heads[] holds b's current valid head
                c.capped = True
                c.hver += 1
                _heappush(b.ch, (-p, next(seq), c, c.hver))
                b.capped[c] = None
                n = c.wn
                b.unc_w -= n
                b.cap_sum += n * p
                for link in b.sig:
                    link.rem -= n * p
                    link.w -= n
                touched[c] = None
                if b.unc_w:
                    _heappush(heads, (self._head(b), next(seq), b))
                continue
            if top is None:
                break
            _heappop(shares)
            top.level = s
            for b in top.buckets:
                if b.frozen or not b.unc_w:
                    continue
                b.frozen = True
                unc_w = b.unc_w
                for link in b.sig:
                    link.rem -= unc_w * s
                    link.w -= unc_w

    @staticmethod
    def _head(b: _Bucket) -> float:
        uh = b.uh
        while uh:
            entry = uh[0]
            if entry[2].hver == entry[3]:
                return entry[0]
            _heappop(uh)
        return INF  # pragma: no cover - unc_w > 0 implies a valid entry

    def _validate(self, comp_b: list[_Bucket], comp_l: list[_Link], touched: dict[_Class, None]) -> bool:
        """Check the warm start: no capped member above its bucket's level, no link over capacity.

        Violators are uncapped for the next round; when nothing is violated the allocation meets the
        max-min conditions (each flow at its private cap or at the top rate of a saturated link).
        """
        ok = True
        for link in comp_l:
            if link.level == INF and link.rem < -_CAP_TOL * link.capacity:
                link.level = -INF  # over capacity with only capped members: uncap them
        for b in comp_b:
            level = INF
            for link in b.sig:
                if link.level < level:
                    level = link.level
            b.level = level
            if not b.capped or level == INF:
                continue
            limit = level + _CAP_TOL * abs(level) if level > -INF else -INF
            ch = b.ch
            while ch:
                negp, _, c, ver = ch[0]
                if c.hver != ver:
                    _heappop(ch)
                    continue
                if -negp <= limit:
                    break
                _heappop(ch)
                self._uncap(b, c, touched)
                ok = False
        return ok

    def _compact(self, b: _Bucket) -> None:
        """Drop stale heap entries once they outnumber the live ones."""
        size = 2 * len(b.members) + 32
        seq = self._seq
        if len(b.uh) > size:
            b.uh = [(c.wp, next(seq), c, c.hver) for c in b.members if not c.capped]
            heapq.heapify(b.uh)
        if len(b.ch) > size:
            b.ch = [(-c.wp, next(seq), c, c.hver) for c in b.capped]
            heapq.heapify(b.ch)
        if len(b.watch) > 2 * len(b.sl) + 32:
            b.watch = [entry for entry in b.watch if entry[2].wver == entry[3] and b in entry[2].bw]
            heapq.heapify(b.watch)
        if len(b.gheap) > size:
            b.gheap = [(c.heap[0][0] - c.off, next(seq), c, c.gver) for c in b.members
                       if c.grp is b and c.heap]
            heapq.heapify(b.gheap)
