"""Progressive filling of one component of buckets and tight links (the max-min allocation itself).

Levels rise together; a tight link freezes the buckets crossing it when its remaining capacity per
rising flow is the lowest, and a bucket member whose private cap is below the level is held at its cap.
The capped sets of the last solve are kept as a warm start and checked by :func:`validate`; a few rounds
of uncapping the violators, then a cold fill from nothing capped (exact), settle it (solver.py).
"""

from __future__ import annotations

import heapq
from itertools import count

from dsim.components.network.slack import CAP_TOL
from dsim.components.network.state import INF, Bucket, FlowClass, Link

_heappush = heapq.heappush
_heappop = heapq.heappop


def uncap(b: Bucket, c: FlowClass, touched: dict[FlowClass, None], seq: count[int]) -> None:
    """Move ``c`` from ``b``'s capped members back to the uncapped ones."""
    del b.capped_members[c]
    c.capped = False
    c.cap_version += 1
    _heappush(b.uncapped_heap, (c.private_cap, next(seq), c, c.cap_version))
    b.uncapped_flows += c.weight
    b.capped_load = b.capped_load - c.weight * c.private_cap if b.capped_members else 0.0
    touched[c] = None


def fill(comp_b: list[Bucket], comp_l: list[Link], touched: dict[FlowClass, None], seq: count[int]) -> None:
    """Progressive filling over shared links, with buckets' private caps as extra events.

    Capped members enter with their caps taken; levels only rise, so stale heap entries are
    re-pushed with their current share when they surface.
    """
    for link in comp_l:
        link.remaining = link.capacity
        link.rising = 0
        link.level = INF
    heads: list[tuple[float, int, Bucket]] = []
    for b in comp_b:
        b.frozen = False
        uncapped_flows = b.uncapped_flows
        capped_load = b.capped_load
        if uncapped_flows or capped_load:
            for link in b.signature:
                link.remaining -= capped_load
                link.rising += uncapped_flows
        if uncapped_flows:
            heads.append((_head(b), next(seq), b))
    shares = [(link.remaining / link.rising, next(seq), link) for link in comp_l if link.rising > 0]
    heapq.heapify(shares)
    heapq.heapify(heads)
    while True:
        s = INF
        top: Link | None = None
        while shares:
            old, _, link = shares[0]
            if link.rising == 0:
                _heappop(shares)
                continue
            cur = link.remaining / link.rising
            if cur > old:
                heapq.heapreplace(shares, (cur, next(seq), link))
                continue
            s = cur
            top = link
            break
        if heads and heads[0][0] <= s:
            p, _, b = _heappop(heads)
            if b.frozen or b.uncapped_flows == 0:
                continue
            _, _, c, _ = _heappop(b.uncapped_heap)  # heads[] holds b's current valid head
            c.capped = True
            c.cap_version += 1
            _heappush(b.capped_heap, (-p, next(seq), c, c.cap_version))
            b.capped_members[c] = None
            n = c.weight
            b.uncapped_flows -= n
            b.capped_load += n * p
            for link in b.signature:
                link.remaining -= n * p
                link.rising -= n
            touched[c] = None
            if b.uncapped_flows:
                _heappush(heads, (_head(b), next(seq), b))
            continue
        if top is None:
            break
        _heappop(shares)
        top.level = s
        for b in top.buckets:
            if b.frozen or not b.uncapped_flows:
                continue
            b.frozen = True
            uncapped_flows = b.uncapped_flows
            for link in b.signature:
                link.remaining -= uncapped_flows * s
                link.rising -= uncapped_flows


def _head(b: Bucket) -> float:
    """The lowest private cap among ``b``'s uncapped members (dropping stale heap entries)."""
    uncapped_heap = b.uncapped_heap
    while uncapped_heap:
        entry = uncapped_heap[0]
        if entry[2].cap_version == entry[3]:
            return entry[0]
        _heappop(uncapped_heap)
    return INF  # pragma: no cover - uncapped_flows > 0 implies a valid entry


def validate(comp_b: list[Bucket], comp_l: list[Link], touched: dict[FlowClass, None], seq: count[int]) -> bool:
    """Check the warm start: no capped member above its bucket's level, no link over capacity.

    Violators are uncapped for the next round; when nothing is violated the allocation meets the
    max-min conditions (each flow at its private cap or at the top rate of a saturated link).
    """
    ok = True
    for link in comp_l:
        if link.level == INF and link.remaining < -CAP_TOL * link.capacity:
            link.level = -INF  # over capacity with only capped members: uncap them
    for b in comp_b:
        level = INF
        for link in b.signature:
            if link.level < level:
                level = link.level
        b.level = level
        if not b.capped_members or level == INF:
            continue
        limit = level + CAP_TOL * abs(level) if level > -INF else -INF
        capped_heap = b.capped_heap
        while capped_heap:
            negp, _, c, version = capped_heap[0]
            if c.cap_version != version:
                _heappop(capped_heap)
                continue
            if -negp <= limit:
                break
            _heappop(capped_heap)
            uncap(b, c, touched, seq)
            ok = False
    return ok
