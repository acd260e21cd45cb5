"""The kernel's port table and its OOM killer keep per-owner indexes (host.py); they must answer exactly as
the plain rules do: an owner's ports are every key bound to it, and the OOM killer's victim is the resident
owner using the most memory, the earliest started among equals (checked here against those rules written as
scans)."""

from __future__ import annotations

from typing import Any

import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from dsim.components.host import Kernel
from dsim.records import Recorder

GIB = 2.0**30


def _kernel(memory: float = 16 * GIB, ports: tuple[int, int] = (49153, 65535)) -> Kernel:
    return Kernel(simpy.Environment(), "h", 4.0, memory, Recorder(), ephemeral_ports=ports)


def test_the_oom_killer_takes_the_largest_then_the_earliest_started_among_equals() -> None:
    # 4 + 6 + 6 GiB resident on 16 GiB; a+1 GiB makes 17: the victim is b (6 GiB, started before c), and
    # 11 GiB then fit. c+6 GiB makes 17 with c at 12, the largest: c goes.
    kernel = _kernel()
    for owner, size in (("a", 4), ("b", 6), ("c", 6)):
        assert kernel.charge(owner, size * GIB) == []
    assert kernel.charge("a", 1 * GIB) == ["b"]
    assert kernel.memory_used == 11 * GIB
    assert kernel.charge("c", 6 * GIB) == ["c"]
    assert kernel.resident == {"a": (5 * GIB, 0)}


MOVES = st.lists(st.tuples(st.sampled_from(("charge", "uncharge")), st.integers(0, 7), st.integers(0, 9)),
                 max_size=120)


@settings(max_examples=300, deadline=None)
@given(MOVES)
def test_the_oom_killer_picks_as_a_scan_of_every_resident_owner_would(moves: list[tuple[str, int, int]]) -> None:
    kernel = _kernel(memory=20.0)
    resident: dict[Any, tuple[float, int]] = {}  # the plain rule's own table
    order = 0
    for move, owner, size in moves:
        if move == "uncharge":
            kernel.uncharge(owner)
            resident.pop(owner, None)
            continue
        if owner not in resident:
            resident[owner], order = (0.0, order), order + 1
        resident[owner] = (resident[owner][0] + size, resident[owner][1])
        expected = []
        while sum(used for used, _ in resident.values()) > 20.0 and resident:
            victim = max(resident, key=lambda o: (resident[o][0], -resident[o][1]))
            del resident[victim]
            expected.append(victim)
        assert kernel.charge(owner, float(size)) == expected
        assert {o: used for o, (used, _) in kernel.resident.items()} == {o: used for o, (used, _) in resident.items()}


def test_releasing_and_renaming_move_exactly_the_owners_ports() -> None:
    kernel = _kernel(ports=(49153, 49156))
    kernel.bind(8080, "tcp", "web")
    assert kernel.bind_ephemeral("tcp", "web") == 49153  # the range's first
    kernel.bind(53, "udp", "dns")
    kernel.rename_owner("web", "web2")
    assert kernel.ports == {(8080, "tcp"): "web2", (49153, "tcp"): "web2", (53, "udp"): "dns"}
    kernel.unbind("web")  # the old name holds nothing any more
    assert len(kernel.ports) == 3
    kernel.unbind("web2")
    assert kernel.ports == {(53, "udp"): "dns"}
    assert kernel.bind_ephemeral("tcp", "db") == 49154  # the allocator goes on after the last one it gave


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(("bind", "ephemeral", "unbind", "rename")), st.integers(0, 4),
                          st.integers(0, 5)), max_size=60))
def test_the_port_table_matches_a_scan_after_any_binds_releases_and_renames(
        moves: list[tuple[str, int, int]]) -> None:
    kernel = _kernel(ports=(49153, 49160))
    table: dict[tuple[int, str], str] = {}  # the plain rule's own table: release = every key of the owner
    for move, who, port in moves:
        owner = f"c{who}"
        if move == "bind" and (8000 + port, "tcp") not in table:
            kernel.bind(8000 + port, "tcp", owner)
            table[(8000 + port, "tcp")] = owner
        elif move == "ephemeral" and sum(1 for p, _ in table if p >= 49153) < 8:
            table[(kernel.bind_ephemeral("tcp", owner), "tcp")] = owner
        elif move == "unbind":
            kernel.unbind(owner)
            table = {key: holder for key, holder in table.items() if holder != owner}
        elif move == "rename":
            kernel.rename_owner(owner, f"c{port}")
            table = {key: (f"c{port}" if holder == owner else holder) for key, holder in table.items()}
        assert kernel.ports == table
