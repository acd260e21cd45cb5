"""A user-defined bridge network's iptables rules at ``docker network create`` and ``docker network rm``
(components/networks.py), against closed forms worked out by hand.

A network adds ``rules_per_network`` rules n, each checked and added at its creation, beside ``network_checks`` c
checks of its own, one ``iptables`` process of ``iptables_run`` r each, every rule's pair paying
``iptables_per_rule`` q for each rule in the table before it: (2 n + c) r + q (n T + n (n - 1) / 2) of dockerd's
CPU. Its removal checks and deletes them with ``network_rm_checks`` c' checks, on the table without them (T'),
then commits each deletion (``rule_delete_wait`` R): (2 n + c') r + q (n T' + n (n - 1) / 2) + n R, both under
the lock a container's published ports take; then it deletes the bridge device (``bridge_teardown`` B, a wait
outside the lock). Every other cost is zero (API calls).
"""

from __future__ import annotations

import textwrap

import pytest

from dsim.run import build_world
from dsim.scenarios.loader import load_scenario_text
from dsim.world import World
from tests.components.test_networks import drive


def world(networking: str, cpus: int = 4) -> World:
    text = f"""
    name: t
    hosts:
      h: {{cpus: {cpus}, daemon: {{api_service_time: 0s}}, networking: {{base_rules: 20, {networking}}},
           networks: {{old: {{}}}}}}
    workloads:
      w: {{arrival: {{times: [100000s]}}, steps: [{{ps: {{}}}}]}}
    """
    return build_world(load_scenario_text(textwrap.dedent(text)))


COSTS = ("rules_per_network: 8, network_checks: 11, network_rm_checks: 3, iptables_run: 1ms, rule_delete_wait: 10ms, "
         "bridge_teardown: 5ms")


def test_create_runs_its_rules_and_checks_on_dockerds_cpu() -> None:
    # T = 20 + 8 (the declared network's): (16 + 11) x 1 ms + 0.1 ms x (8 x 28 + 28) = 27 + 25.2 = 52.2 ms
    w = world(f"{COSTS}, iptables_per_rule: 100us")
    daemon = w.daemons["h"]
    drive(w, daemon.network_create("app", job=1))
    assert w.env.now == pytest.approx(0.027 + 0.0252)
    assert daemon.runtime.networks.rules == 36


def test_rm_checks_and_deletes_its_rules_then_commits_each_deletion() -> None:
    # the declared network removed: T' = 20: (16 + 3) x 1 ms + 0.1 ms x (8 x 20 + 28) + 8 x 10 ms + B 5 ms
    # = 19 + 18.8 + 80 + 5 = 122.8 ms
    w = world(f"{COSTS}, iptables_per_rule: 100us")
    daemon = w.daemons["h"]
    removed = drive(w, daemon.network_remove("old", job=1))
    assert removed.name == "old"
    assert w.env.now == pytest.approx(0.019 + 0.0188 + 0.080 + 0.005)
    assert daemon.runtime.networks.rules == 20


def test_prune_removes_networks_one_after_another() -> None:
    # two unused networks (the declared one and one created), no growth: each removal (16 + 3) x 1 ms + 80 ms + 5 ms
    w = world(f"{COSTS}, iptables_per_rule: 0s")
    daemon = w.daemons["h"]
    drive(w, daemon.network_create("app", job=1))
    created = w.env.now
    assert created == pytest.approx(0.027)
    pruned = drive(w, daemon.network_prune(job=1))
    assert sorted(n.name for n in pruned) == ["app", "old"]
    assert w.env.now - created == pytest.approx(2 * (0.019 + 0.080 + 0.005))


def test_a_network_created_beside_a_busy_cpu_takes_its_share() -> None:
    # one CPU shared with a hog (processor sharing: half each): the 27 ms of CPU take 54 ms
    w = world(f"{COSTS}, iptables_per_rule: 0s", cpus=1)
    daemon = w.daemons["h"]
    kernel = daemon.runtime.kernel
    kernel.cpu.run(10.0, 1.0)  # a task wanting the one core for 10 s
    drive(w, daemon.network_create("app", job=1))
    assert w.env.now == pytest.approx(0.054)


def test_a_bridges_deletion_holds_no_lock() -> None:
    # two networks removed at once (two processes): the second's rules wait for the first's (19 + 80 = 99 ms under
    # the lock each, no growth) but not for its bridge (B = 5 ms, outside it): the last ends 2 x 99 + 5 = 203 ms
    # after the create (208 ms were the bridge's deletion held under the lock)
    w = world(f"{COSTS}, iptables_per_rule: 0s")
    daemon = w.daemons["h"]
    drive(w, daemon.network_create("app", job=1))
    created = w.env.now
    removals = [w.env.process(daemon.network_remove(name, job=1)) for name in ("old", "app")]
    w.env.run(until=w.env.all_of(removals))
    assert w.env.now - created == pytest.approx(2 * 0.099 + 0.005)
