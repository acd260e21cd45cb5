"""Networks as dockerd manages them (components/networks.py), against rules worked out by hand:
addresses in order, exhaustion, the default pools, DNS on user networks only, Docker's errors."""

from __future__ import annotations

import textwrap
from collections.abc import Generator
from typing import Any

import pytest

from dsim.components.container import Container
from dsim.components.daemon import Daemon
from dsim.components.errors import ApiError
from dsim.domain.containers import ContainerSpec
from dsim.run import build_world
from dsim.scenarios.loader import load_scenario_text
from dsim.world import World
from tests.helpers import run_text

ZERO = "{create: 0s, mount: 0s, netns: 0s, start: 0s, exec: 0s}"


def world(host: str = "") -> World:
    """One host with nginx local, every runtime cost zero; its one job arrives much later (never reached)."""
    text = f"""
    name: t
    hosts:
      h: {{daemon: {{api_service_time: 0s}}, preloaded: ["nginx:1.25"], runtime: {ZERO}{host}}}
    workloads:
      w: {{arrival: {{times: [100000s]}}, steps: [{{ps: {{}}}}]}}
    """
    return build_world(load_scenario_text(textwrap.dedent(text)))


def drive(w: World, operation: Generator[Any, Any, Any]) -> Any:
    process = w.env.process(operation)
    w.env.run(until=process)
    return process.value


def spec(name: str, network: str = "bridge", ports: tuple[str, ...] = ()) -> ContainerSpec:
    return ContainerSpec("nginx:1.25", name, None, None, ports, duration=_inf(),
                         stop_time=_zero(), network=network)


def _inf() -> Any:
    from dsim.distributions import constant
    return constant(float("inf"))


def _zero() -> Any:
    from dsim.distributions import constant
    return constant(0.0)


def start(daemon: Daemon, name: str, network: str = "bridge") -> Generator[Any, Any, Container]:
    container: Container = yield from daemon.create(spec(name, network), job=1)
    yield from daemon.start(container, job=1)
    return container


def address(daemon: Daemon, container: Container, network: str) -> str:
    stack = daemon.runtime.networks
    return str(stack.address(container, stack.find(network)))


# ---------------------------------------------------------------- addresses

def test_addresses_are_handed_out_lowest_first_and_reused_after_an_exit() -> None:
    """Default bridge 172.17.0.0/16: .1 is the gateway, so containers get .2, .3; when the first stops its
    address is free again and the next container takes the lowest free one, .2."""
    w = world()
    daemon = w.daemons["h"]
    a = drive(w, start(daemon, "a"))
    b = drive(w, start(daemon, "b"))
    assert (address(daemon, a, "bridge"), address(daemon, b, "bridge")) == ("172.17.0.2", "172.17.0.3")
    drive(w, daemon.stop(a, 10.0, job=1))
    c = drive(w, start(daemon, "c"))
    assert address(daemon, c, "bridge") == "172.17.0.2"


def test_a_slash_30_holds_one_container_and_the_second_fails_as_dockerd_says() -> None:
    """10.0.0.0/30: .0 the subnet, .1 the gateway, .3 broadcast: only .2 is left for a container."""
    w = world(", networks: {tiny: {subnet: 10.0.0.0/30}}")
    daemon = w.daemons["h"]
    first = drive(w, start(daemon, "a", "tiny"))
    assert address(daemon, first, "tiny") == "10.0.0.2"
    tiny = daemon.runtime.networks.find("tiny")
    with pytest.raises(ApiError) as err:
        drive(w, start(daemon, "b", "tiny"))
    assert str(err.value) == ("failed to set up container networking: no available IPv4 addresses on this "
                              f"network's address pools: tiny ({tiny.id})")
    assert daemon.runtime.container("b").state == "created"  # type: ignore[union-attr]


def test_user_networks_take_the_default_pools_in_order_until_they_run_out() -> None:
    """The bridge has 172.17.0.0/16; user networks get 172.18, 172.19, ... 172.31 (15 /16s in all with the
    bridge's) then 16 /20s of 192.168.0.0/16: 30 user networks fit, the 31st is refused."""
    w = world()
    daemon = w.daemons["h"]
    subnets = [str(drive(w, daemon.network_create(f"n{i}", job=1)).subnet) for i in range(30)]
    assert subnets[:2] == ["172.18.0.0/16", "172.19.0.0/16"]
    assert subnets[13] == "172.31.0.0/16"
    assert subnets[14:16] == ["192.168.0.0/20", "192.168.16.0/20"]
    assert subnets[-1] == "192.168.240.0/20"
    with pytest.raises(ApiError, match="^all predefined address pools have been fully subnetted$"):
        drive(w, daemon.network_create("n30", job=1))


# ---------------------------------------------------------------- DNS

def test_embedded_dns_answers_names_on_user_networks_but_not_on_the_default_bridge() -> None:
    w = world(", networks: {app: {}}")
    daemon = w.daemons["h"]
    stack = daemon.runtime.networks
    web = drive(w, start(daemon, "web", "app"))
    db = drive(w, start(daemon, "db", "app"))
    old1 = drive(w, start(daemon, "old1"))
    drive(w, start(daemon, "old2"))
    assert str(stack.resolve(web, "db")) == "172.18.0.3"
    assert str(stack.resolve(db, "web")) == "172.18.0.2"
    assert stack.resolve(old1, "old2") is None  # default bridge: no embedded DNS (only --link, legacy)
    assert stack.resolve(web, "old1") is None  # not on a shared network


# ---------------------------------------------------------------- the objects' rules and errors

def test_removing_a_network_is_refused_while_a_container_runs_on_it() -> None:
    w = world(", networks: {app: {}}")
    daemon = w.daemons["h"]
    web = drive(w, start(daemon, "web", "app"))
    with pytest.raises(ApiError) as err:
        drive(w, daemon.network_remove("app", job=1))
    assert (err.value.status, str(err.value)) == (
        403, f'error while removing network: network app has active endpoints (name:"web" id:"{web.id}")')
    drive(w, daemon.stop(web, 10.0, job=1))
    drive(w, daemon.network_remove("app", job=1))
    with pytest.raises(ApiError, match="^network app not found$"):
        drive(w, daemon.network_inspect("app", job=1))


@pytest.mark.parametrize("name", ["bridge", "host", "none"])
def test_the_predefined_networks_cannot_be_removed(name: str) -> None:
    w = world()
    with pytest.raises(ApiError, match=f"^{name} is a pre-defined network and cannot be removed$"):
        drive(w, w.daemons["h"].network_remove(name, job=1))


def test_a_taken_name_and_an_overlapping_subnet_are_refused() -> None:
    w = world(", networks: {app: {subnet: 10.1.0.0/16}}")
    daemon = w.daemons["h"]
    with pytest.raises(ApiError, match="^network with name app already exists$"):
        drive(w, daemon.network_create("app", job=1))
    with pytest.raises(ApiError, match="^Pool overlaps with other one on this address space$"):
        drive(w, daemon.network_create("other", subnet="10.1.2.0/24", job=1))


def test_prune_removes_only_user_networks_without_running_containers() -> None:
    w = world(", networks: {busy: {}, idle: {}}")
    daemon = w.daemons["h"]
    drive(w, start(daemon, "web", "busy"))
    removed = drive(w, daemon.network_prune(job=1))
    assert [n.name for n in removed] == ["idle"]
    assert sorted(n.name for n in drive(w, daemon.network_list(job=1))) == ["bridge", "busy", "host", "none"]


def test_connect_gives_a_running_container_an_address_at_once_and_disconnect_takes_it_back() -> None:
    w = world(", networks: {app: {}}")
    daemon = w.daemons["h"]
    web = drive(w, start(daemon, "web"))
    drive(w, daemon.network_connect("app", web, job=1))
    assert address(daemon, web, "app") == "172.18.0.2"
    with pytest.raises(ApiError, match="^endpoint with name web already exists in network app$"):
        drive(w, daemon.network_connect("app", web, job=1))
    drive(w, daemon.network_disconnect("app", web, job=1))
    assert address(daemon, web, "app") == "None"
    with pytest.raises(ApiError, match=f"^container {web.id} is not connected to network app$"):
        drive(w, daemon.network_disconnect("app", web, job=1))


def test_a_container_mode_joins_a_running_container_only() -> None:
    w = world()
    daemon = w.daemons["h"]
    app = drive(w, daemon.create(spec("app"), job=1))
    sidecar = drive(w, daemon.create(spec("sidecar", "container:app"), job=1))
    with pytest.raises(ApiError, match=f"^cannot join network of a non running container: {app.id}$"):
        drive(w, daemon.start(sidecar, job=1))
    drive(w, daemon.start(app, job=1))
    drive(w, daemon.start(sidecar, job=1))
    assert sidecar.state == "running"
    with pytest.raises(ApiError, match="^No such container: ghost$"):
        drive(w, daemon.create(spec("x", "container:ghost"), job=1))


# ---------------------------------------------------------------- from a scenario

def test_a_step_naming_a_network_the_host_group_lacks_is_refused_at_load_time() -> None:
    from dsim.errors import ScenarioError
    text = """
    name: t
    hosts:
      h: {networks: {app: {}}}
    workloads:
      w: {arrival: {burst: 1}, steps: [{run: {image: "nginx:1.25", network: ap}}]}
    """
    with pytest.raises(ScenarioError) as err:
        load_scenario_text(textwrap.dedent(text))
    assert "unknown network 'ap' (did you mean 'app'?) on host group 'h'" in str(err.value)
    assert err.value.line == 6  # the step's line (and its column): one line, file:line:col


def test_a_scenario_container_on_a_declared_network_gets_its_first_address() -> None:
    result = run_text(f"""
    name: t
    hosts:
      h: {{daemon: {{api_service_time: 0s}}, preloaded: ["nginx:1.25"], runtime: {ZERO},
           networks: {{app: {{subnet: 10.5.0.0/24}}}}}}
    workloads:
      w: {{arrival: {{burst: 1}}, steps: [{{run: {{image: "nginx:1.25", network: app, duration: 1s}}}}]}}
    """)
    [job] = result.jobs
    assert job.status == "completed", job.error


def test_an_address_asked_for_is_given_and_the_lowest_free_ones_still_go_first() -> None:
    """--ip 10.10.0.50 on 10.10.0.0/24: that address; the next container without one gets .2, and .50 is
    skipped once the allocator reaches it; a second request for .50 is refused until the first is released."""
    from dsim.components.network_objects import Address, Network, Subnet

    net = Network("id", "sn", "bridge", Subnet("10.10.0.0/24"), False, 0.0, False, configured=True)
    assert net.allocate_at(Address("10.10.0.50")) is None
    assert [net.allocate() for _ in range(2)] == [Address("10.10.0.2"), Address("10.10.0.3")]
    assert net.allocate_at(Address("10.10.0.50")) == "Address already in use"
    assert net.allocate_at(Address("10.10.0.1")) == "Address already in use"  # the gateway
    assert net.allocate_at(Address("10.99.0.9")) == "no configured subnet or ip-range contain the IP address 10.99.0.9"
    net.endpoints["c"] = Address("10.10.0.50")
    net.release("c")
    assert net.allocate_at(Address("10.10.0.50")) is None
    for _ in range(46):  # .4 ... .49
        net.allocate()
    assert net.allocate() == Address("10.10.0.51")  # .50 is taken again
