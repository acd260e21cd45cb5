"""Which nodes of a scenario's network can reach each other, worked out from the link list alone.

The world builds its graph (dsim/world.py: build_graph) with one edge per host pair a group x group link
names; which nodes are connected needs no such expansion: the hosts of a group x group link are all joined
to each other, so joining each end's hosts to the other end's first host gives the same components in
O(|a| + |b|) per link instead of O(|a| x |b|). Used before time 0 by ``dsim validate`` and ``dsim run``
alike, so a host that cannot reach its registry is a scenario error (exit 2) on both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from dsim.domain.problems import ReferenceProblem
from dsim.domain.spec import LinkSpec, SimSpec


def link_count(links: Iterable[LinkSpec], groups: Mapping[str, tuple[str, ...]]) -> list[int]:
    """How many node-to-node links each entry expands to (a group x group link is |a| x |b| of them)."""
    return [len(groups.get(link.a, (link.a,))) * len(groups.get(link.b, (link.b,))) for link in links]


def components(links: Iterable[LinkSpec], groups: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    """Each node named by a link -> a representative node of its connected component."""
    parent: dict[str, str] = {}

    def find(node: str) -> str:
        parent.setdefault(node, node)
        root = node
        while parent[root] != root:
            root = parent[root]
        while parent[node] != root:  # path compression
            parent[node], node = root, parent[node]
        return root

    def join(x: str, y: str) -> None:
        parent[find(x)] = find(y)

    for link in links:
        ends_a = groups.get(link.a, (link.a,))
        ends_b = groups.get(link.b, (link.b,))
        if not ends_a or not ends_b:
            continue
        for node in ends_a:
            join(node, ends_b[0])
        for node in ends_b:
            join(node, ends_a[0])
    return {node: find(node) for node in parent}


def check_reachable(spec: SimSpec, component: Mapping[str, object]) -> None:
    """Every host must reach every registry its images come from and its mirrors; every pull-through cache
    its upstream. ``component``: node -> its component's identity (nodes on no link are absent)."""
    needed = sorted({image.registry for image in spec.images.values()})
    for host in spec.hosts:
        for registry in [*needed, *host.spec.daemon.registry_mirrors]:
            if host.name not in component or registry not in component or component[host.name] != component[registry]:
                raise ReferenceProblem(("network", "links"),
                                       f"no network path from host '{host.name}' to registry '{registry}'")
    for name, registry_spec in spec.registries.items():  # a pull-through cache must reach its upstream
        upstream = registry_spec.upstream
        if upstream is not None and (name not in component or upstream not in component
                                     or component[name] != component[upstream]):
            raise ReferenceProblem(("network", "links"),
                                   f"no network path from registry '{name}' to its upstream '{upstream}'")


def check_network(spec: SimSpec) -> None:
    """check_reachable on the links as written (no check without ``network``: one switch joins all)."""
    if spec.links is not None:
        check_reachable(spec, components(spec.links, spec.groups))
