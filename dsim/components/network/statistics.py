"""What the network has carried and how fast, read from the solver's state (no side effects).

Bytes are exact up to ``now``: ended classes and instant transfers are in the links' and sources'
counters, running flows are counted from their class clocks.  Rates and loads are as last solved, so the
caller solves pending starts and finishes first (driver.py's ``Network`` does).
"""

from __future__ import annotations

from dsim.components.network.solver import FairShareSolver


def link_bytes(solver: FairShareSolver, now: float) -> dict[tuple[str, str], float]:
    """Bytes carried by ``now`` per directed link."""
    out = {key: link.bytes_done for key, link in solver.links.items()}
    for c in solver.classes.values():
        carried = c.bytes_done + solver.in_progress(c, now)
        for link in c.links:
            out[link.src, link.dst] += carried
    return out


def node_egress_bytes(solver: FairShareSolver, node: str, now: float) -> float:
    """Bytes sent by ``now`` by flows whose source is ``node``."""
    total = solver.egress.get(node, 0.0)
    for c in solver.classes.values():
        if c.src == node:
            total += c.bytes_done + solver.in_progress(c, now)
    return total


def current_rates(solver: FairShareSolver) -> dict[tuple[str, str, float], float]:
    """Per-flow rate (bytes/s) of every active ``(src, dst, cap)`` class."""
    return {c.key: solver.rate(c) for c in solver.classes.values() if c.flow_count > 0}


def link_load(solver: FairShareSolver) -> dict[tuple[str, str], float]:
    """Sum of the rates of the flows on each directed link (bytes/s)."""
    out = dict.fromkeys(solver.links, 0.0)
    for c in solver.classes.values():
        if c.flow_count > 0:
            load = c.flow_count * solver.rate(c)
            for link in c.links:
                out[link.src, link.dst] += load
    return out
