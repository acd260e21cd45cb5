"""The network's graph: fewest-hop paths, round trips and link capacities (networkx, no simulation).

``graph`` is undirected; each edge has ``capacity`` (bytes/s, may be ``math.inf``), ``latency`` (one-way
seconds, default 0) and ``stream_rate`` (the most one TCP connection carries across it, bytes/s, default
``math.inf``).  Everything is read lazily and cached, so the graph must not change once transfers
have started.
"""

from __future__ import annotations

import networkx as nx

from dsim.errors import SimulationError

__all__ = ["Topology"]


class Topology:
    """Paths and link attributes of an undirected graph, cached per pair."""

    def __init__(self, graph: nx.Graph) -> None:
        self.graph = graph
        self._paths: dict[tuple[str, str], tuple[str, ...]] = {}
        self._forest: tuple[dict[str, str | None], dict[str, int], dict[str, str]] | None = None
        self._core_bfs: dict[str, tuple[dict[str, str | None], dict[str, None]]] = {}
        self._rtts: dict[tuple[str, str], float] = {}
        self._stream_caps: dict[tuple[str, str], float] = {}

    def path(self, src: str, dst: str) -> tuple[str, ...]:
        """Nodes from ``src`` to ``dst``: networkx's fewest-hop shortest path, cached.

        When the fewest-hop path is unique, every shortest-path search returns it, so it is taken from
        :meth:`unique_path` (O(depth) on a fleet's star or tree); only when that cannot show uniqueness
        (ties, or no path) is ``nx.shortest_path`` asked, whose tie-breaking then decides as before.
        """
        key = (src, dst)
        found = self._paths.get(key)
        if found is None:
            found = self.unique_path(src, dst)
            if found is None:
                try:
                    found = tuple(nx.shortest_path(self.graph, src, dst))
                except (nx.NetworkXNoPath, nx.NodeNotFound) as exc:
                    raise SimulationError(f"no network path from '{src}' to '{dst}'") from exc
            self._paths[key] = found
        return found

    def unique_path(self, src: str, dst: str) -> tuple[str, ...] | None:
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

    def stream_cap(self, src: str, dst: str) -> float:
        """The most one connection from ``src`` to ``dst`` carries: the least ``stream_rate`` of the path's
        links (cached; ``math.inf`` when none sets one). A single TCP stream is bounded by the path (window
        over round trip) and by the server's per-connection pacing, not only by the links' capacity."""
        key = (src, dst)
        found = self._stream_caps.get(key)
        if found is None:
            nodes = self.path(src, dst)
            edges = self.graph.edges
            found = float("inf")
            for a, b in zip(nodes, nodes[1:], strict=False):
                rate = float(edges[a, b].get("stream_rate", found))
                if not rate > 0.0:
                    raise SimulationError(f"link {a}-{b} has invalid stream_rate {rate!r}")
                found = min(found, rate)
            self._stream_caps[key] = found
        return found

    def capacity(self, a: str, b: str) -> float:
        """The capacity (bytes/s) of edge ``a``-``b``, checked: present and not negative."""
        data = self.graph.edges[a, b]
        if "capacity" not in data:
            raise SimulationError(f"link {a}-{b} has no capacity")
        capacity = float(data["capacity"])
        if not capacity >= 0.0:
            raise SimulationError(f"link {a}-{b} has invalid capacity {capacity!r}")
        return capacity
