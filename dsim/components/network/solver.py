"""Max-min fair rates of fluid flows, kept up to date as flows start and finish (pure: no SimPy).

The caller (driver.py) starts flows with :meth:`FairShareSolver.start`, calls :meth:`~FairShareSolver.solve`
once all the starts and finishes of an instant are in, asks :meth:`~FairShareSolver.next_completion` when
to come back, and then :meth:`~FairShareSolver.complete_due`, which hands each finished flow's token and
elapsed seconds to the ``finish`` callback, in a deterministic order.  How it stays cheap (classes with
virtual clocks, buckets sharing a clock, slack links, selective update) is told in ``__init__.py``.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from itertools import count
from typing import Any

from dsim.components.network.filling import fill, uncap, validate
from dsim.components.network.slack import anchor, check_slack
from dsim.components.network.state import INF, Bucket, FlowClass, Link, Owner
from dsim.errors import SimulationError

__all__ = ["FairShareSolver"]

_MARK_TOL = 1e-11  # flows whose finish marks are this close (relative) to the due one finish with it
_ROUNDS = 4  # warm-started solves tried before falling back to a cold one

_heappush = heapq.heappush
_heappop = heapq.heappop


class FairShareSolver:
    """Per-flow max-min fair rates by progressive filling over classes of flows with the same path and cap.

    ``finish(token, elapsed)`` is called for every flow that completes, ``token`` being what was given to
    :meth:`start`.  Times are plain floats (seconds); the solver never reads a clock of its own.
    """

    def __init__(self, finish: Callable[[Any, float], object]) -> None:
        self.finish = finish
        self.links: dict[tuple[str, str], Link] = {}
        self.classes: dict[tuple[str, str, float], FlowClass] = {}
        self.buckets: dict[tuple[Link, ...], Bucket] = {}
        self.dirty: dict[FlowClass, None] = {}  # classes with starts or finishes not solved yet
        self.completions: list[tuple[float, int, Owner, int]] = []  # next completion of each owner
        self.seq = count()  # breaks heap ties in call order: deterministic
        self.stamp = 0  # visit marks of component searches and slack accounting
        self.active_flows = 0
        self.egress: dict[str, float] = {}  # bytes of ended classes and instant transfers, per source
        self.anchored: list[Link] = []  # slack links made tight during a re-bucketing pass

    # ------------------------------------------------------------------ flows in and out

    def start(self, c: FlowClass, nbytes: float, now: float, token: Any) -> None:
        """Add a flow of ``nbytes`` to class ``c`` at ``now`` (solved at the next :meth:`solve`)."""
        g = c.riding
        if g is not None:
            clock = g.clock + g.rate * (now - g.clock_time) + c.offset
        else:
            clock = c.clock + c.rate * (now - c.clock_time)
        _heappush(c.flows, (clock + nbytes, next(self.seq), token, nbytes, now))
        c.flow_count += 1
        self.active_flows += 1
        self.dirty[c] = None

    def count_instant(self, src: str, links: tuple[Link, ...], nbytes: float) -> None:
        """Count the bytes of a transfer that finishes at once (no rate to solve)."""
        for link in links:
            link.bytes_done += nbytes
        self.egress[src] = self.egress.get(src, 0.0) + nbytes

    def next_completion(self) -> float:
        """When the next flow finishes at the current rates (``inf`` if none is running)."""
        h = self.completions
        while h and h[0][2].version != h[0][3]:
            _heappop(h)
        return h[0][0] if h else INF

    def complete_due(self, now: float) -> bool:
        """Finish the flows due at ``now``; whether any did (their classes then need a re-solve)."""
        h = self.completions
        done = False
        while h and h[0][0] <= now:
            _, _, owner, version = _heappop(h)
            if owner.version != version:
                continue
            owner.version += 1
            if isinstance(owner, Bucket):
                self._finish_bucket(owner, now)
            else:
                self._finish_class(owner, now)
            done = True
        return done

    def _finish_class(self, c: FlowClass, now: float) -> None:
        flows = c.flows
        clock = c.clock + c.rate * (now - c.clock_time)
        if clock < flows[0][0]:
            clock = flows[0][0]  # this head is due now: absorb rounding instead of waking again
        c.clock = clock
        c.clock_time = now
        limit = clock + _MARK_TOL * abs(clock)
        self._finish_flows_due(c, now, limit, at_least_one=False)

    def _finish_bucket(self, b: Bucket, now: float) -> None:
        heads = b.heads
        clock = b.clock + b.rate * (now - b.clock_time)
        while heads and heads[0][2].head_version != heads[0][3]:
            _heappop(heads)
        if heads and clock < heads[0][0]:
            clock = heads[0][0]
        b.clock = clock
        b.clock_time = now
        limit = clock + _MARK_TOL * abs(clock)
        while heads and heads[0][0] <= limit:
            _, _, c, version = _heappop(heads)
            if c.head_version != version:
                continue
            c.head_version += 1
            self._finish_flows_due(c, now, limit + c.offset, at_least_one=True)

    def _finish_flows_due(self, c: FlowClass, now: float, limit: float, *, at_least_one: bool) -> None:
        """Finish the flows of ``c`` whose finish marks are at most ``limit`` (with ``at_least_one``, its head
        flow even when rounding left its mark just past ``limit``); the class then needs a re-solve."""
        flows = c.flows
        finish = self.finish
        k = 0
        while flows and (flows[0][0] <= limit or (at_least_one and k == 0)):
            _, _, token, nbytes, t0 = _heappop(flows)
            c.bytes_done += nbytes
            finish(token, now - t0)
            k += 1
        c.flow_count -= k
        self.active_flows -= k
        self.dirty[c] = None

    # ------------------------------------------------------------------ reading the state

    @staticmethod
    def rate(c: FlowClass) -> float:
        """The per-flow rate of class ``c`` as last solved."""
        return c.bucket.rate if (c.bucket is not None and not c.capped) else c.rate

    @staticmethod
    def clock(c: FlowClass, now: float) -> float:
        """Bytes each flow of ``c`` has received since the class was created, at ``now``."""
        g = c.riding
        if g is not None:
            return g.clock + g.rate * (now - g.clock_time) + c.offset
        return c.clock + c.rate * (now - c.clock_time)

    def in_progress(self, c: FlowClass, now: float) -> float:
        """Bytes the running flows of ``c`` have carried by ``now``."""
        clock = self.clock(c, now)
        total = 0.0
        for mark, _, _, nbytes, _ in c.flows:
            total += min(nbytes, max(0.0, clock - (mark - nbytes)))
        return total

    # ------------------------------------------------------------------ solving

    def solve(self, now: float) -> None:
        """Re-solve the components touched by the pending starts and finishes; reschedule them."""
        dirty = list(self.dirty)
        self.dirty.clear()
        # 1. link membership: a link's private/shared status flips when its class count crosses 1 <-> 2.
        work = dirty
        siblings: list[FlowClass] = []
        for c in dirty:
            if c.flow_count == 0:
                c.dead = True
                if self.classes.get(c.key) is c:
                    del self.classes[c.key]
                if c.registered:
                    c.registered = False
                    for link in c.finite_links:
                        members = link.classes
                        del members[c]
                        if len(members) == 1:
                            siblings.append(next(iter(members)))
            elif not c.registered:
                c.registered = True
                for link in c.finite_links:
                    members = link.classes
                    members[c] = None
                    if len(members) == 2:
                        link.tight = False  # newly shared links start slack (watched, not filled)
                        siblings.append(next(iter(members)))
        if siblings:
            work = dirty + siblings
        touched: dict[FlowClass, None] = {}
        solved: dict[Bucket, None] = {}
        # 2.-5. solve; then check slack links, promote overflowing ones, demote idle tight ones, repeat.
        rounds = 0
        while work:
            comp_b, comp_l = self._resolve(work, touched, now)
            for b in comp_b:
                solved[b] = None
            rounds += 1
            work = check_slack(self, comp_b, comp_l, touched, demote=rounds < 8)
        # 6. move changed classes between own clocks and bucket clocks; reschedule them.
        seq = self.seq
        heap = self.completions
        for c in touched:
            if c.dead:
                continue
            g = c.riding
            clock = self.clock(c, now)
            if c.capped:
                if g is not None:
                    c.head_version += 1
                    c.riding = None
                c.clock = clock
                c.clock_time = now
                c.rate = c.private_cap
                c.version += 1
                if c.flows:
                    _heappush(heap, (now + (c.flows[0][0] - clock) / c.private_cap, next(seq), c, c.version))
            else:
                home = c.bucket
                assert home is not None
                if g is not home:
                    c.offset = clock - home.clock
                    c.riding = home
                c.version += 1
                c.head_version += 1
                if c.flows:
                    _heappush(home.heads, (c.flows[0][0] - c.offset, next(seq), c, c.head_version))
        # 7. new bucket levels; reschedule buckets; drop empty ones.
        for b in solved:
            if not b.members:
                if self.buckets.get(b.signature) is b:
                    del self.buckets[b.signature]
                    for link in b.signature:
                        del link.buckets[b]
                b.version += 1
                continue
            if b.uncapped_flows > 0:
                if not 0.0 < b.level < INF:  # pragma: no cover - guarded by the fill's construction
                    raise SimulationError(f"network solver produced rate {b.level!r}")
                b.rate = b.level
            else:
                b.rate = 0.0
            size = 2 * len(b.members) + 32
            if len(b.uncapped_heap) > size or len(b.capped_heap) > size or len(b.heads) > size \
                    or len(b.budgets) > size:
                self._compact(b)
            b.version += 1
            heads = b.heads
            while heads and heads[0][2].head_version != heads[0][3]:
                _heappop(heads)
            if heads and b.rate > 0.0:
                _heappush(heap, (now + (heads[0][0] - b.clock) / b.rate, next(seq), b, b.version))
        if len(heap) > 4 * (len(self.classes) + len(self.buckets)) + 64:
            heap[:] = [entry for entry in heap if entry[2].version == entry[3]]
            heapq.heapify(heap)

    def _resolve(self, work: list[FlowClass], touched: dict[FlowClass, None], now: float
                 ) -> tuple[list[Bucket], list[Link]]:
        """Re-bucket ``work`` and progressive-fill the component of the buckets it touched."""
        self.stamp += 1
        stamp = self.stamp
        seq = self.seq
        # 2. private caps, signatures (tight shared links), bucket sums.
        seeds: list[Bucket] = []
        for c in work:
            if c.stamp == stamp:
                continue
            c.stamp = stamp
            touched[c] = None
            b = c.bucket
            if c.dead:
                if b is not None:
                    self._leave(c, b)
                    seeds.append(b)
                for link in c.links:
                    link.bytes_done += c.bytes_done
                self.egress[c.src] = self.egress.get(c.src, 0.0) + c.bytes_done
                c.bytes_done = 0.0
                c.version += 1
                c.head_version += 1
                c.riding = None
                continue
            n = c.flow_count
            private = INF
            shared: list[Link] = []
            for link in c.finite_links:
                if len(link.classes) == 1:
                    if link.capacity < private:
                        private = link.capacity
                elif link.tight:
                    shared.append(link)
            p = private / n
            if c.cap < p:
                p = c.cap
            if p == INF and not shared:
                # Nothing bounds it: make its likeliest bottleneck tight (the others on it follow next round).
                bottleneck = anchor(c)
                bottleneck.tight = True
                self.anchored.append(bottleneck)
                shared = [link for link in c.finite_links if link.tight and len(link.classes) >= 2]
            signature = tuple(shared)
            if b is None or b.signature != signature:
                if b is not None:
                    self._leave(c, b)
                    seeds.append(b)
                b = self.buckets.get(signature)
                if b is None:
                    b = self.buckets[signature] = Bucket(signature, now)
                    for link in signature:
                        link.buckets[b] = None
                c.bucket = b
                b.members[c] = None
                b.uncapped_flows += n
                c.capped = False
                c.cap_version += 1
                _heappush(b.uncapped_heap, (p, next(seq), c, c.cap_version))
            elif c.capped:
                b.capped_load += n * p - c.weight * c.private_cap
                if p != c.private_cap:
                    c.cap_version += 1
                    _heappush(b.capped_heap, (-p, next(seq), c, c.cap_version))
            else:
                b.uncapped_flows += n - c.weight
                if p != c.private_cap:
                    c.cap_version += 1
                    _heappush(b.uncapped_heap, (p, next(seq), c, c.cap_version))
            c.weight = n
            c.private_cap = p
            seeds.append(b)
        # 3. the connected component, through tight shared links, of the touched buckets.
        comp_b: list[Bucket] = []
        comp_l: list[Link] = []
        stack = seeds
        while stack:
            b = stack.pop()
            if b.stamp == stamp:
                continue
            b.stamp = stamp
            comp_b.append(b)
            for link in b.signature:
                if link.stamp != stamp:
                    link.stamp = stamp
                    comp_l.append(link)
                    for other in link.buckets:
                        if other.stamp != stamp:
                            stack.append(other)
        # 4. bring bucket clocks to now at their old rates.
        for b in comp_b:
            if b.clock_time != now:
                b.clock += b.rate * (now - b.clock_time)
                b.clock_time = now
        # 5. progressive filling, warm-started from the capped sets of the last solve.
        for _ in range(_ROUNDS):
            fill(comp_b, comp_l, touched, seq)
            if validate(comp_b, comp_l, touched, seq):
                break
        else:
            for b in comp_b:
                for c in list(b.capped_members):
                    uncap(b, c, touched, seq)
            fill(comp_b, comp_l, touched, seq)
            if not validate(comp_b, comp_l, touched, seq):  # pragma: no cover - a cold fill is exact
                raise SimulationError("network solver failed to converge")
        return comp_b, comp_l

    def _leave(self, c: FlowClass, b: Bucket) -> None:
        del b.members[c]
        if c.capped:
            del b.capped_members[c]
            b.capped_load = b.capped_load - c.weight * c.private_cap if b.capped_members else 0.0
        else:
            b.uncapped_flows -= c.weight
        c.capped = False
        c.cap_version += 1
        c.bucket = None

    def _compact(self, b: Bucket) -> None:
        """Drop stale heap entries once they outnumber the live ones."""
        size = 2 * len(b.members) + 32
        seq = self.seq
        if len(b.uncapped_heap) > size:
            b.uncapped_heap = [(c.private_cap, next(seq), c, c.cap_version) for c in b.members if not c.capped]
            heapq.heapify(b.uncapped_heap)
        if len(b.capped_heap) > size:
            b.capped_heap = [(-c.private_cap, next(seq), c, c.cap_version) for c in b.capped_members]
            heapq.heapify(b.capped_heap)
        if len(b.budgets) > 2 * len(b.slack_links) + 32:
            b.budgets = [entry for entry in b.budgets
                         if entry[2].budget_version == entry[3] and b in entry[2].bucket_flows]
            heapq.heapify(b.budgets)
        if len(b.heads) > size:
            b.heads = [(c.flows[0][0] - c.offset, next(seq), c, c.head_version) for c in b.members
                       if c.riding is b and c.flows]
            heapq.heapify(b.heads)

    # ------------------------------------------------------------------ checks

    def audit(self) -> None:
        """Check the bookkeeping against a recount, once solved (for tests; O(everything))."""
        for c in self.classes.values():
            if c.flow_count == 0:
                continue
            b = c.bucket
            assert b is not None and c in b.members and c.registered
            assert (c.riding is None) if c.capped else (c.riding is b), c.key
            assert c.weight == c.flow_count
        for b in self.buckets.values():
            assert b.uncapped_flows == sum(c.weight for c in b.members if not c.capped)
            assert set(b.capped_members) == {c for c in b.members if c.capped}
            assert b.published_level == (b.level if b.uncapped_flows else 0.0)
        for link in self.links.values():
            if link.tight or len(link.classes) < 2:
                continue
            live = [c for c in link.classes if c.flow_count > 0]
            assert sum(c.weight for c in live if not c.capped) == link.uncapped_flows, (link.src, link.dst)
            capped_load = sum(c.weight * c.private_cap for c in live if c.capped)
            assert math.isclose(link.capped_load, capped_load, rel_tol=1e-9, abs_tol=1e-9), (link.src, link.dst)
            if link.exact:
                load = capped_load + sum(flows * b.published_level for b, flows in link.bucket_flows.items())
                assert math.isclose(link.load, load, rel_tol=1e-9, abs_tol=1e-6), (link.src, link.dst)
                assert all(link in b.exact_links for b in link.bucket_flows)
