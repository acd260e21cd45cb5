"""Each daemon's networks (components/networks.py NetworkStack) made on first use: a host that never
starts a container, or is never asked about its networks, costs no stack; one made late is the stack that
would have been made at time 0 (the predefined networks created when the daemon started)."""

from __future__ import annotations

from dsim.api import load_scenario_text
from dsim.world import World

SCENARIO = """
name: lazy-networks
registries: {registry: {bandwidth: 1Gbps}}
images: {app:1: {registry: registry, layers: [10MB]}}
hosts: {node: {count: 3}}
workloads:
  w:
    arrival: {rate: 1/s, count: 1}
    steps: [{pull: app:1}, {run: {image: app:1, duration: 5s}}]
"""


def test_no_host_has_a_network_stack_before_it_is_used() -> None:
    world = World(load_scenario_text(SCENARIO))
    assert all(daemon.runtime._networks is None for daemon in world.daemons.values())


def test_only_the_host_that_ran_a_container_made_its_stack() -> None:
    # one job, placed on the first host (round-robin from the first): only that host created and started
    # a container, so only its daemon configured a network
    world = World(load_scenario_text(SCENARIO))
    world.run()
    made = [name for name, daemon in world.daemons.items() if daemon.runtime._networks is not None]
    assert made == ["node-1"]


def test_a_stack_made_late_holds_the_predefined_networks_born_with_the_daemon() -> None:
    # asked for after the run (a `docker network ls` of dsim serve): bridge, host and none, created at the
    # daemon's start (time 0), not at the moment the stack was first asked for
    world = World(load_scenario_text(SCENARIO))
    world.run()
    assert world.env.now > 0
    stack = world.daemons["node-3"].runtime.networks
    assert [(n.name, n.driver, n.created) for n in stack.networks.values()] == [
        ("bridge", "bridge", 0.0), ("host", "host", 0.0), ("none", "null", 0.0)]
    assert str(stack.networks["bridge"].subnet) == "172.17.0.0/16"
