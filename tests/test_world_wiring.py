"""The world: wired in one place through constructors, checked before time 0, events counted publicly;
workloads' arrival times and placement worked out by hand."""

from __future__ import annotations

import ast
import itertools
import textwrap
from collections.abc import Callable
from pathlib import Path

import networkx as nx
import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from dsim.api import load_scenario_text
from dsim.components.image_store import dangling_ref
from dsim.components.network import Network
from dsim.domain.problems import ReferenceProblem
from dsim.domain.workloads import Burst, Every, Poisson, Times, Workload
from dsim.elaboration import check_world
from dsim.environment import CountingEnvironment
from dsim.errors import ScenarioError
from dsim.probes import LinkProbe
from dsim.rng import stream
from dsim.workloads import Rooms, arrival_times, candidate_hosts, placement
from dsim.world import World

ROOT = Path(__file__).resolve().parents[1]

CACHE_CHAIN = """
name: chain
registries:
  origin: {bandwidth: 1Gbps}
  edge: {bandwidth: 1Gbps, upstream: regional}
  regional: {bandwidth: 1Gbps, upstream: origin}
images:
  app:1: {registry: origin, layers: [10MB, 5MB]}
hosts:
  node: {count: 3, address: 10.0.0.1}
workloads:
  w: {arrival: {burst: 2}, steps: [{pull: app:1}]}
"""


def _world(text: str, **kwargs: object) -> World:
    return World(load_scenario_text(textwrap.dedent(text)), **kwargs)  # type: ignore[arg-type]


# ------------------------------------------------------------ wiring in one place


def _foreign_attribute_targets(tree: ast.AST) -> list[str]:
    """Assignment targets that set an attribute of anything but ``self`` itself (``x.attr = ...``,
    ``self.x.attr = ...``, ``x.attr[k] = ...``), and ``setattr`` calls."""
    found = []
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "setattr":
            found.append(ast.unparse(node))
        while targets:
            target = targets.pop()
            if isinstance(target, ast.Tuple | ast.List):
                targets.extend(target.elts)
                continue
            assigned = target
            while isinstance(assigned, ast.Subscript):  # x.attr[k] = ... changes x.attr
                assigned = assigned.value
            if isinstance(assigned, ast.Attribute) and not (isinstance(assigned.value, ast.Name)
                                                            and assigned.value.id == "self"):
                found.append(ast.unparse(target))
    return found


def test_the_attribute_scan_sees_what_it_should() -> None:
    """A scan that found nothing would pass for the wrong reason: the old wiring is caught."""
    old = "server.upstream = self.registries[name]\nself.daemons[h].builder = b\nd.store.x[k] = 1\nsetattr(a, 'b', 1)"
    assert len(_foreign_attribute_targets(ast.parse(old))) == 4
    assert _foreign_attribute_targets(ast.parse("self.env = env\nself.kernels[h] = k\nbuilt[n] = s")) == []


def test_world_sets_no_attribute_on_a_component_after_building_it() -> None:
    tree = ast.parse((ROOT / "dsim" / "world.py").read_text(encoding="utf-8"))
    assert _foreign_attribute_targets(tree) == []


def test_registries_are_built_upstream_first_and_given_their_upstream_and_addresses() -> None:
    world = _world(CACHE_CHAIN)
    registries = world.registries
    assert list(registries) == ["origin", "edge", "regional"]  # the scenario's order, not the build order
    assert registries["edge"].upstream is registries["regional"]
    assert registries["regional"].upstream is registries["origin"]
    assert registries["origin"].upstream is None
    assert {registries[name].addresses.get("node-2") for name in ("origin", "edge", "regional")} == {"10.0.0.1"}


def test_each_daemon_is_given_its_own_parts_on_one_kernel_and_store() -> None:
    world = _world(CACHE_CHAIN)
    for host, daemon in world.daemons.items():
        assert daemon.kernel is world.kernels[host]
        for part in (daemon.puller, daemon.pusher, daemon.runtime, daemon.builder):
            assert part.host == host and part.store is daemon.store
        assert daemon.builder.puller is daemon.puller and daemon.builder.pusher is daemon.pusher


def test_the_store_asks_the_runtime_which_images_are_in_use() -> None:
    world = _world("""
        name: in-use
        images:
          app:1: {layers: [10MB]}
        hosts:
          node: {preloaded: [app:1]}
        workloads:
          w: {arrival: {burst: 1}, steps: [{run: {image: app:1, duration: 10s}}]}
    """)
    store = world.daemons["node"].store
    assert list(store._in_use()) == []
    world.env.run(until=5.0)
    image = store.image("app:1")
    assert image is not None  # the one container's image, by its ref and by its name once a newer app:1 came
    assert list(store._in_use()) == ["app:1", dangling_ref(image)]


# ------------------------------------------------------------ the elaboration check


def test_a_cache_whose_upstream_is_unreachable_fails_before_time_0() -> None:
    """Found when the scenario loads (dsim validate as dsim run), with the message the world's check gives."""
    with pytest.raises(ScenarioError) as raised:
        _world("""
            name: unreachable-upstream
            registries:
              local: {bandwidth: 1Gbps}
              origin: {bandwidth: 1Gbps}
              cache: {bandwidth: 1Gbps, upstream: origin}
            images:
              app:1: {registry: local, layers: [10MB]}
            hosts:
              node: {count: 2}
            network:
              links:
                - {a: local, b: node}
                - {a: cache, b: lan}
                - {a: origin, b: wan}
            workloads:
              w: {arrival: {burst: 1}, steps: [{pull: app:1}]}
        """)
    assert raised.value.field == "network.links" and raised.value.line == 13
    assert raised.value.message == "no network path from registry 'cache' to its upstream 'origin'"


def test_a_host_with_no_path_to_its_images_registry_fails_before_time_0() -> None:
    with pytest.raises(ScenarioError) as raised:
        _world("""
            name: unreachable-registry
            registries:
              local: {bandwidth: 1Gbps}
            images:
              app:1: {registry: local, layers: [10MB]}
            hosts:
              near: {}
              far: {}
            network:
              links:
                - {a: local, b: near}
                - {a: far, b: island}
            workloads:
              w: {arrival: {burst: 1}, placement: near, steps: [{pull: app:1}]}
        """)
    assert raised.value.field == "network.links"
    assert raised.value.message == "no network path from host 'far' to registry 'local'"


def test_the_check_finds_a_built_graph_without_a_path() -> None:
    """The world's own check on the built graph (a scenario that loads has every path)."""
    world = _world("""
        name: reachable
        registries:
          local: {bandwidth: 1Gbps}
        images:
          app:1: {registry: local, layers: [10MB]}
        hosts:
          near: {}
        network:
          links:
            - {a: local, b: near}
        workloads:
          w: {arrival: {burst: 1}, steps: [{pull: app:1}]}
    """)
    world.network.graph.remove_edge("local", "near")
    with pytest.raises(ReferenceProblem, match="^no network path from host 'near' to registry 'local'$") as raised:
        check_world(world)
    assert raised.value.path == ("network", "links")


def test_the_check_finds_a_cache_not_wired_to_its_upstream() -> None:
    world = _world(CACHE_CHAIN)
    world.registries["edge"].upstream = world.registries["origin"]  # skips 'regional'
    with pytest.raises(ReferenceProblem, match="^registry 'edge' is not wired to its upstream 'regional'$"):
        check_world(world)


def test_the_check_finds_a_daemon_missing_a_part_or_sharing_another_hosts_store() -> None:
    world = _world(CACHE_CHAIN)
    world.daemons["node-2"].runtime.store = world.daemons["node-1"].store
    with pytest.raises(ReferenceProblem, match="^host 'node-2''s runtime does not use its daemon's image store$"):
        check_world(world)
    world = _world(CACHE_CHAIN)
    del world.kernels["node-3"]
    with pytest.raises(ReferenceProblem, match="^host 'node-3' has no kernel$") as raised:
        check_world(world)
    assert raised.value.path == ("hosts", "node")


def test_probes_are_attached_by_name_to_components_of_the_world() -> None:
    with pytest.raises(ValueError, match="unknown probe 'nope'"):
        _world(CACHE_CHAIN, probes=("nope",))
    world = _world(CACHE_CHAIN, probes=("links",))
    assert isinstance(world.probes["links"], LinkProbe) and world.probes["links"].target is world.network
    world.probes["links"] = LinkProbe(Network(world.env, nx.Graph()), world.recorder, set())
    with pytest.raises(ReferenceProblem, match="^probe 'links' observes no component of this world$"):
        check_world(world)


def test_the_network_publishes_flow_ends_without_an_event_of_its_own() -> None:
    def run(observed: bool) -> tuple[int, list[float]]:
        env = CountingEnvironment()
        graph = nx.Graph()
        graph.add_edge("a", "b", capacity=100.0)
        network = Network(env, graph)
        seen: list[float] = []
        if observed:
            network.on_flow_end(lambda event: seen.append(env.now))
        network.transfer("a", "b", 200.0)  # 2 s alone on the link
        network.transfer("a", "b", 0.0)    # at once
        env.run()
        return env.processed, seen

    plain, _ = run(False)
    events, seen = run(True)
    assert events == plain and seen == [0.0, 2.0]


# ------------------------------------------------------------ events counted through the public API


def test_the_counting_environment_counts_each_processed_event() -> None:
    env = CountingEnvironment()
    env.timeout(1.0)
    env.timeout(2.0)
    env.run(until=1.5)  # the timeout at 1 and the run's own stop event at 1.5
    assert env.processed == 2
    env.run()  # the timeout at 2 (the stop event SimPy left queued is processed too)
    assert env.processed == 4
    with pytest.raises(simpy.core.EmptySchedule):
        env.step()
    assert env.processed == 4


@pytest.mark.parametrize("until", [None, 30.0])
def test_events_equal_simpys_own_count(until: float | None) -> None:
    """SimPy numbers every event it schedules: those not left in its queue were processed. Plus the grants and
    releases of a daemon worker, the kernel's netns lock or a download slot taken while free and released with
    nobody waiting: those pools do not schedule them (SimPy's Resource did, as events) but count them, so
    ``events`` stays the model's count (components/workers.py). Each of the 8 jobs makes 4 API calls (pull,
    create, start, rm: ``run`` is create + start + wait, the wait not an API call here), takes the netns lock
    three times (its start's namespace, its exit's interface returned to the host, its veth pair's deletion) and
    the bridge driver's netlink handle twice (its start, its veth pair's deletion); each of the 2 hosts downloads
    each of the 2 layers once: at most 8 x 4 + 8 x 3 + 8 x 2 + 2 x 2 = 76 of each.
    Plus the events nobody waited for that were processed at once instead of scheduled (``settle``)."""
    text = textwrap.dedent("""
        name: small
        images:
          app:1: {layers: [20MB, 10MB]}
        hosts:
          node: {count: 2}
        workloads:
          w: {arrival: {rate: 1/s, count: 8}, steps: [{pull: app:1}, {run: {image: app:1, duration: 5s}}, {rm: {}}]}
    """) + (f"until: {until}s\n" if until is not None else "")
    world = World(load_scenario_text(text))
    result = world.run()
    env = world.env
    pools = [pool for daemon in world.daemons.values() for pool in (daemon.workers, daemon.puller.download_slots)]
    pools += [kernel.netns_lock for kernel in world.kernels.values()]
    pools += [daemon.runtime.networks.bridge_netlink for daemon in world.daemons.values()]
    released = sum(pool.releases_counted for pool in pools)
    granted = sum(pool.grants_counted for pool in pools)
    assert 0 < released <= 8 * 4 + 8 * 3 + 8 * 2 + 2 * 2
    assert 0 < granted <= 8 * 4 + 8 * 3 + 8 * 2 + 2 * 2
    # and the container events nobody waited for, processed at once (dsim.environment.settle): each exit's
    # health event at least (no health check here)
    assert env.settled >= 8
    assert result.events == next(env._eid) - len(env._queue) + released + granted + env.settled > 8 * 5


# ------------------------------------------------------------ arrivals and placement, by hand


def _workload(arrival: Burst | Every | Poisson | Times, placement: str = "round-robin") -> Workload:
    return Workload(arrival=arrival, placement=placement, steps=())


def test_burst_every_and_times_arrivals() -> None:
    assert list(arrival_times("w", _workload(Burst(burst=3, at=2.0)), 1)) == [2.0, 2.0, 2.0]
    assert list(arrival_times("w", _workload(Every(every=1.5, count=3, at=1.0)), 1)) == [1.0, 2.5, 4.0]
    assert list(arrival_times("w", _workload(Times(times=(3.0, 1.0, 2.0))), 1)) == [1.0, 2.0, 3.0]


def test_poisson_arrivals_add_exponential_gaps_from_the_workloads_own_stream() -> None:
    rng = stream(7, "arrivals/ci")
    first = 10.0 + rng.expovariate(2.0)
    second = first + rng.expovariate(2.0)
    times = list(arrival_times("ci", _workload(Poisson(rate=2.0, count=2, at=10.0)), 7))
    assert times == [first, second]


HOSTS = ("a", "b", "c")
GROUPS = {"pair": ("b", "c")}


def _placer(policy: str, active: dict[str, int], name: str = "w",
            rooms: Rooms | None = None) -> Callable[[], str | None]:
    workload = _workload(Burst(burst=1, at=0.0), policy)
    if rooms is None:
        rooms = Rooms(HOSTS, {})
        rooms.active = active  # no slots: the test changes the load between picks
    return placement(name, workload, candidate_hosts(workload, HOSTS, GROUPS), rooms, 1)


def _picks(policy: str, active: dict[str, int], n: int, name: str = "w") -> list[str | None]:
    pick = _placer(policy, active, name)
    return [pick() for _ in range(n)]


def test_round_robin_a_group_and_a_host() -> None:
    idle = dict.fromkeys(HOSTS, 0)
    assert _picks("round-robin", idle, 5) == ["a", "b", "c", "a", "b"]
    assert _picks("pair", idle, 3) == ["b", "c", "b"]
    assert _picks("c", idle, 2) == ["c", "c"]


def test_least_loaded_reads_the_load_at_each_pick_and_ties_go_to_scenario_order() -> None:
    rooms = Rooms(HOSTS, {})
    rooms.take("a")
    pick = _placer("least-loaded", {}, rooms=rooms)
    assert pick() == "b"  # b and c tie at 0: b comes first
    rooms.take("b")
    rooms.take("b")
    assert pick() == "c"
    rooms.take("c")
    rooms.take("c")
    assert pick() == "a"
    rooms.give_back("b")
    assert pick() == "a"  # a and b run one job each: a comes first


def test_random_placement_draws_from_the_workloads_own_stream() -> None:
    rng = stream(1, "placement/w")
    expected = [HOSTS[rng.randrange(3)] for _ in range(6)]
    assert _picks("random", dict.fromkeys(HOSTS, 0), 6) == expected


def test_placement_skips_hosts_without_a_free_slot_and_gives_none_when_all_are_full() -> None:
    rooms = Rooms(HOSTS, dict.fromkeys(HOSTS, 2))
    rooms.take("a")
    rooms.take("a")  # a's two slots are taken
    rr = _placer("round-robin", {}, rooms=rooms)
    assert [rr(), rr(), rr()] == ["b", "c", "b"]  # a is skipped, the cycle goes on from there
    rng = stream(1, "placement/w")
    expected = [("b", "c")[rng.randrange(2)] for _ in range(4)]  # drawn among the two with room
    rand = _placer("random", {}, rooms=rooms)
    assert [rand() for _ in range(4)] == expected
    rooms.take("b")
    rooms.take("b")
    rooms.take("c")
    least = _placer("least-loaded", {}, rooms=rooms)
    assert least() == "c"  # the only host with a slot left, though a and b run more
    rooms.give_back("a")
    assert least() == "a"  # a and c run one job each: the tie goes to a, first in scenario order
    rooms.take("a")
    rooms.take("c")
    assert rr() is None and least() is None and rand() is None
    rooms.give_back("b")
    assert rr() == "b" and least() == "b" and rand() == "b"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(("take", "give_back", "pick")), st.integers(0, 5)), max_size=80))
def test_round_robin_over_changing_slots_picks_as_a_scan_of_every_host_would(
        moves: list[tuple[str, int]]) -> None:
    # The reference is the plain rule: from the cycle's position, ask each host in turn whether it has room
    # (a full cycle when none has, which leaves the position where it was).
    hosts = tuple(f"h{i}" for i in range(6))
    slots = {host: 1 + i % 3 for i, host in enumerate(hosts)}  # 1, 2, 3, 1, 2, 3 slots
    rooms = Rooms(hosts, slots)
    workload = _workload(Burst(burst=1, at=0.0), "round-robin")
    pick = placement("w", workload, hosts, rooms, 1)
    cycle = itertools.cycle(hosts)

    def scan() -> str | None:
        for _ in hosts:
            host = next(cycle)
            if rooms.active[host] < slots[host]:
                return host
        return None

    for move, i in moves:
        host = hosts[i]
        if move == "take" and rooms.active[host] < slots[host]:
            rooms.take(host)
        elif move == "give_back" and rooms.active[host] > 0:
            rooms.give_back(host)
        elif move == "pick":
            assert pick() == scan()
        assert [hosts[k] for k in rooms.free(hosts)] == [h for h in hosts if rooms.active[h] < slots[h]]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(("take", "give_back", "pick")), st.integers(0, 5)), max_size=300))
def test_least_loaded_over_changing_loads_picks_the_minimum_a_scan_would(moves: list[tuple[str, int]]) -> None:
    # The reference is the plain rule: the fewest jobs running among the hosts with room, the first in order
    # among equals. Up to 300 moves on 6 hosts also rebuild the heap (past 4 entries a host).
    hosts = tuple(f"h{i}" for i in range(6))
    slots = {host: 1 + i % 3 for i, host in enumerate(hosts) if i != 5}  # h5 has no limit
    rooms = Rooms(hosts, slots)
    pick = placement("w", _workload(Burst(burst=1, at=0.0), "least-loaded"), hosts, rooms, 1)
    for move, i in moves:
        host = hosts[i]
        if move == "take" and rooms.has_room(host):
            rooms.take(host)
        elif move == "give_back" and rooms.active[host] > 0:
            rooms.give_back(host)
        elif move == "pick":
            free = [h for h in hosts if h not in slots or rooms.active[h] < slots[h]]
            assert pick() == min(free, key=lambda h: rooms.active[h])


def test_least_loaded_heap_stays_small_and_leaves_out_full_hosts_when_built_again() -> None:
    # a (1 slot) is full with 1 job; b (no limit) runs 2 or 3. A thousand changes of b's count would push a
    # thousand entries: the heap is built again past 4 entries a host (+16), and a full host stays out of it.
    rooms = Rooms(("a", "b"), {"a": 1})
    pick = placement("w", _workload(Burst(burst=1, at=0.0), "least-loaded"), ("a", "b"), rooms, 1)
    rooms.take("a")
    rooms.take("b")
    rooms.take("b")
    for _ in range(500):
        rooms.take("b")
        rooms.give_back("b")
        assert len(rooms.loads(("a", "b"))) <= 4 * 2 + 16 + 1
    assert pick() == "b"


def test_jobs_are_numbered_from_one_counter_shared_with_next_job() -> None:
    world = _world(CACHE_CHAIN)
    world.run()
    assert sorted(job.job for job in world.recorder.jobs) == [1, 2]
    assert world.next_job() == 3
    assert list(itertools.islice(iter(world.next_job, None), 2)) == [4, 5]
