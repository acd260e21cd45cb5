"""Random streams made on first use (dsim/rng.py): the same draws as the eager stream, whatever the order of
first use, and no stream made for a component that never draws."""

from __future__ import annotations

from dsim.api import load_scenario_text
from dsim.rng import LazyStream, lazy_stream, stream
from dsim.world import World


def test_a_lazy_stream_draws_what_the_eager_stream_of_its_seed_and_name_draws() -> None:
    # the seed is sha256(seed, name): the draws cannot depend on when the stream is made
    eager = stream(7, "daemon/a")
    lazy = lazy_stream(7, "daemon/a")
    assert [lazy.random() for _ in range(3)] == [eager.random() for _ in range(3)]
    assert lazy.expovariate(2.0) == eager.expovariate(2.0)
    assert lazy.gauss(0.0, 1.0) == eager.gauss(0.0, 1.0)  # gauss keeps state between calls on the real stream
    assert lazy.gauss(0.0, 1.0) == eager.gauss(0.0, 1.0)


def test_the_order_in_which_streams_are_first_used_does_not_change_their_draws() -> None:
    a1, b1 = lazy_stream(3, "a"), lazy_stream(3, "b")
    first = (a1.random(), b1.random())
    a2, b2 = lazy_stream(3, "a"), lazy_stream(3, "b")
    second_b = b2.random()  # b first this time
    assert (a2.random(), second_b) == first


def test_hosts_that_never_draw_get_no_stream() -> None:
    # constant service and runtime costs draw nothing: no host's stream is made while building the world
    world = World(load_scenario_text("""
name: lazy
registries: {registry: {bandwidth: 1Gbps}}
images: {app:1: {registry: registry, layers: [10MB]}}
hosts: {node: {count: 3}}
workloads:
  w:
    arrival: {rate: 1/s, count: 1}
    steps: [{pull: app:1}]
"""))
    streams = [daemon.rng for daemon in world.daemons.values()]
    assert all(isinstance(rng, LazyStream) and not rng.made for rng in streams)
