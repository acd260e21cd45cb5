"""The elaboration check: the wired component tree verified once, before time 0.

As desmod's elaboration step (https://desmod.readthedocs.io/en/latest/api/desmod.component.html), the
world is built and wired in one place (dsim/world.py) and then checked as a whole, so that a scenario the
tree cannot run fails with one line naming the field to fix instead of an error deep inside a run.
Cross-references within the scenario file are checked earlier (dsim/scenarios/resolve.py); this checks
what only the built tree knows: network paths, and that every component has the collaborators it uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import networkx as nx

from dsim.domain.problems import ReferenceProblem
from dsim.domain.spec import SimSpec
from dsim.domain.topology import check_reachable as reachable_on

if TYPE_CHECKING:
    from dsim.world import World

#: The collaborators every daemon works with (daemon.py), each built by world.py for its host.
DAEMON_PARTS = ("store", "puller", "pusher", "runtime", "builder")


def check_world(world: World) -> None:
    """Raise ReferenceProblem for the first thing the tree cannot run: a missing path on the network, a
    registry without its upstream, a host missing a part, a probe observing nothing of this world."""
    check_reachable(world.resolved, world.network.graph)
    check_upstreams(world)
    check_hosts(world)
    check_probes(world)


def check_reachable(resolved: SimSpec, graph: nx.Graph) -> None:
    """Every host must reach every registry its images come from and its mirrors; every pull-through cache
    its upstream: on the built graph, with the message the scenario's own check gives (dsim/domain/topology.py)."""
    component = {node: i for i, nodes in enumerate(nx.connected_components(graph)) for node in nodes}
    reachable_on(resolved, component)


def check_upstreams(world: World) -> None:
    """Every registry of the scenario is built, and a cache holds the very registry it names as upstream."""
    for name, spec in world.resolved.registries.items():
        server = world.registries.get(name)
        if server is None:
            raise ReferenceProblem(("registries", name), f"registry '{name}' was not built")
        wanted = None if spec.upstream is None else world.registries.get(spec.upstream)
        if server.upstream is not wanted or (spec.upstream is not None and wanted is None):
            raise ReferenceProblem(("registries", name, "upstream"),
                                   f"registry '{name}' is not wired to its upstream '{spec.upstream}'")


def check_hosts(world: World) -> None:
    """Every host has a kernel and a daemon whose parts are all there, on that kernel and one store."""
    for host in world.resolved.hosts:
        path = ("hosts", host.group)
        kernel = world.kernels.get(host.name)
        daemon = world.daemons.get(host.name)
        if kernel is None or daemon is None:
            raise ReferenceProblem(path, f"host '{host.name}' has no {'kernel' if kernel is None else 'daemon'}")
        for part in DAEMON_PARTS:
            if getattr(daemon, part, None) is None:
                raise ReferenceProblem(path, f"host '{host.name}''s daemon has no {part}")
        store = daemon.store
        if daemon.kernel is not kernel or daemon.runtime.kernel is not kernel or daemon.builder.kernel is not kernel:
            raise ReferenceProblem(path, f"host '{host.name}''s daemon runs on another host's kernel")
        for part in ("puller", "pusher", "runtime", "builder"):
            if getattr(daemon, part).store is not store:
                raise ReferenceProblem(path, f"host '{host.name}''s {part} does not use its daemon's image store")


def check_probes(world: World) -> None:
    """Every probe observes a component of this world."""
    components: list[object] = [world.network, *world.registries.values(), *world.kernels.values(),
                                *world.daemons.values()]
    for name, probe in world.probes.items():
        if not any(probe.target is component for component in components):
            raise ReferenceProblem(("probes", name), f"probe '{name}' observes no component of this world")
