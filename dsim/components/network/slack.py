"""Slack shared links: left out of the filling, only watched so they never overflow.

A shared link that does not bind leaves the max-min allocation as it is, so it only has to be shown not to
overflow.  A link with few buckets on it gives each a budget (its level plus a share of the headroom);
buckets watch their budgets in a heap, so a bucket whose level moves checks O(log) entries however many
links it crosses.  A link with many buckets keeps its exact load instead, updated by each level change.
An overflowing link becomes tight (filled); a tight one with a margin of capacity unused becomes slack
again.  These are functions of the solver's state (see solver.py), called once per solve round.
"""

from __future__ import annotations

import heapq
from itertools import count
from typing import TYPE_CHECKING

from dsim.components.network.state import INF, Bucket, FlowClass, Link

if TYPE_CHECKING:
    from dsim.components.network.solver import FairShareSolver

CAP_TOL = 1e-9  # a capped rate may exceed its bucket's level by this much (relative) before re-solving
_SLACK_MARGIN = 0.1  # a tight link with this share of its capacity unused becomes slack
_FEW_BUCKETS = 4  # an exact-load link with fewer buckets goes back to budgets
_MANY_BUCKETS = 16  # a budgeted link with more buckets keeps its exact load instead

_heappush = heapq.heappush
_heappop = heapq.heappop


def check_slack(solver: FairShareSolver, comp_b: list[Bucket], comp_l: list[Link],
                touched: dict[FlowClass, None], *, demote: bool) -> list[FlowClass]:
    """Keep slack links under capacity; return the classes to re-solve when a link changes state."""
    promote: list[Link] = []
    heavy: list[Link] = []
    for c in touched:
        account(solver, c, promote, heavy)
    for b in comp_b:
        level = b.level if b.uncapped_flows else 0.0  # finite: no uncapped flows, no load
        if level != b.published_level:
            delta = level - b.published_level
            b.published_level = level
            for link in b.exact_links:
                link.load += link.bucket_flows[b] * delta
                heavy.append(link)
    for link in heavy:
        if link.exact and not link.tight and link.load > link.capacity * (1.0 + CAP_TOL):
            promote.append(link)
    seq = solver.seq
    for b in comp_b:
        if not b.uncapped_flows or not b.slack_links:
            continue
        level = b.level
        budgets = b.budgets
        while budgets:
            budget, _, link, version = budgets[0]
            if link.budget_version != version or link.tight or link.exact or b not in link.bucket_flows:
                _heappop(budgets)
                continue
            if budget * (1.0 + CAP_TOL) >= level:
                break
            rebalance(link, promote, seq)
    redo: list[FlowClass] = []
    anchored = solver.anchored
    for link in anchored:
        redo.extend(link.classes)
    anchored.clear()
    for link in promote:
        if not link.tight:
            link.tight = True
            redo.extend(link.classes)
    if redo or not demote:
        return redo
    for link in comp_l:
        # remaining is capacity minus the solved load; the margin keeps a link from flapping at the edge.
        if link.tight and link.level == INF and link.remaining >= _SLACK_MARGIN * link.capacity \
                and len(link.classes) >= 2 and anchors_elsewhere(link):
            link.tight = False
            redo.extend(link.classes)
    return redo


def anchors_elsewhere(link: Link) -> bool:
    """Whether every class on ``link`` stays bounded without it (a private cap or another tight link)."""
    for c in link.classes:
        if c.private_cap == INF and not any(o is not link and o.tight and len(o.classes) >= 2
                                            for o in c.finite_links):
            return False
    return True


def rebalance(link: Link, promote: list[Link], seq: count[int]) -> None:
    """Give each bucket on a small slack link a budget: its level plus an equal per-flow share of the
    headroom (so the budgets exactly fill the link); flag the link if it is already over."""
    load = link.capped_load
    bucket_flows = link.bucket_flows
    for b, flows in bucket_flows.items():
        load += flows * b.level
    link.budget_version += 1
    if load > link.capacity * (1.0 + CAP_TOL):
        promote.append(link)
        return
    # >= 0: no re-check loop
    extra = max(0.0, link.capacity - load) / link.uncapped_flows if link.uncapped_flows else INF
    version = link.budget_version
    for b in bucket_flows:
        _heappush(b.budgets, (b.level + extra, next(seq), link, version))


def anchor(c: FlowClass) -> Link:
    """The slack link of ``c`` with the least room per flow (its likeliest bottleneck)."""
    best: Link | None = None
    room = INF
    for link in c.finite_links:
        here = (link.capacity - link.capped_load) / (link.uncapped_flows + c.flow_count)
        if best is None or here < room:
            best = link
            room = here
    assert best is not None
    return best


def account(solver: FairShareSolver, c: FlowClass, promote: list[Link], heavy: list[Link]) -> None:
    """Update the slack links' sums for class ``c``'s current state."""
    if c.dead:
        new: tuple[Link, ...] = ()
        new_flows = 0
        new_load = 0.0
        new_bucket: Bucket | None = None
    else:
        new = tuple(link for link in c.finite_links if not link.tight and len(link.classes) >= 2)
        if c.capped:
            new_flows, new_load, new_bucket = 0, c.weight * c.private_cap, None
        else:
            new_flows, new_load, new_bucket = c.weight, 0.0, c.bucket
    old = c.slack_links
    if not old and not new:
        return
    old_flows, old_load, old_bucket = c.slack_flows, c.slack_load, c.slack_bucket
    if new == old and new_flows == old_flows and new_load == old_load and new_bucket is old_bucket:
        return
    solver.stamp += 1
    stamp = solver.stamp
    changed: list[Link] = []
    for link in old:
        link.uncapped_flows -= old_flows
        if old_load:
            link.capped_load -= old_load
            link.load -= old_load
            link.capped_classes -= 1
        if old_bucket is not None:
            link.load -= old_flows * old_bucket.published_level
            left = link.bucket_flows[old_bucket] - old_flows
            if left:
                link.bucket_flows[old_bucket] = left
            else:
                del link.bucket_flows[old_bucket]
                del old_bucket.slack_links[link]
                if link.exact:
                    del old_bucket.exact_links[link]
        link.account_stamp = stamp
        changed.append(link)
    for link in new:
        link.uncapped_flows += new_flows
        if new_load:
            link.capped_load += new_load
            link.load += new_load
            link.capped_classes += 1
        if new_bucket is not None:
            link.load += new_flows * new_bucket.published_level
            had = link.bucket_flows.get(new_bucket, 0)
            if not had:
                new_bucket.slack_links[link] = None
                if link.exact:
                    new_bucket.exact_links[link] = None
            link.bucket_flows[new_bucket] = had + new_flows
        if link.account_stamp != stamp:
            link.account_stamp = stamp
            changed.append(link)
    c.slack_links, c.slack_flows, c.slack_load, c.slack_bucket = new, new_flows, new_load, new_bucket
    for link in changed:
        bucket_flows = link.bucket_flows
        if not link.capped_classes:
            link.capped_load = 0.0
            if not bucket_flows:
                link.load = 0.0
        if link.tight or len(link.classes) < 2:
            continue
        if link.exact and len(bucket_flows) < _FEW_BUCKETS:
            link.exact = False
            for b in bucket_flows:
                del b.exact_links[link]
        elif not link.exact and len(bucket_flows) > _MANY_BUCKETS:
            link.exact = True
            link.updates = 0
            load = link.capped_load
            for b, flows in bucket_flows.items():
                b.exact_links[link] = None
                load += flows * b.published_level
            link.load = load
        if link.exact:
            link.updates += 1
            if link.updates > 4 * len(bucket_flows) + 64:  # re-add from scratch now and then: no drift
                link.updates = 0
                load = link.capped_load
                for b, flows in bucket_flows.items():
                    load += flows * b.published_level
                link.load = load
            heavy.append(link)
        else:
            rebalance(link, promote, solver.seq)
