"""The solver's state: directed links, flow classes and buckets (plain slotted records, no behaviour).

Fields are read and written directly by the solver's loops (no properties: this is the hot path).  Every
``*_version`` field says which entry of some heap is still valid: a heap entry carries the version it was
pushed with, and an entry whose version no longer matches is stale and skipped when it surfaces.
"""

from __future__ import annotations

import math
from typing import Any

INF = math.inf

# A flow in its class's heap: (finish mark on the class clock, seq, token, nbytes, start time).  The token
# is the caller's (the SimPy driver puts the flow's event there); the solver only hands it back.
Flow = tuple[float, int, Any, float, float]


class Link:
    """One direction of a full-duplex edge, plus the scratch fields the solver keeps on it."""

    __slots__ = ("src", "dst", "capacity", "classes", "buckets", "bytes_done", "remaining", "rising", "level",
                 "stamp", "tight", "uncapped_flows", "capped_load", "capped_classes", "bucket_flows",
                 "budget_version", "account_stamp", "exact", "load", "updates")

    def __init__(self, src: str, dst: str, capacity: float) -> None:
        self.src = src
        self.dst = dst
        self.capacity = capacity
        self.classes: dict[FlowClass, None] = {}  # active classes crossing it (finite links only)
        self.buckets: dict[Bucket, None] = {}  # buckets whose signature contains it
        self.bytes_done = 0.0  # bytes of flows whose class has ended
        # Progressive filling: capacity not yet given out, flows still rising, the level it froze at.
        self.remaining = 0.0
        self.rising = 0
        self.level = INF
        self.stamp = 0  # visit mark of the last component search that reached it
        # Shared links are tight (filled) or slack (watched): the sums below describe a slack link.
        self.tight = False
        self.uncapped_flows = 0
        self.capped_load = 0.0
        self.capped_classes = 0
        self.bucket_flows: dict[Bucket, int] = {}  # uncapped flows on it per bucket
        self.budget_version = 0  # validity of its budget entries in buckets' budget heaps
        self.account_stamp = 0
        self.exact = False  # many buckets on it: keeps its exact load instead of budgets
        self.load = 0.0  # capped_load + sum of bucket_flows * published bucket level (exact links)
        self.updates = 0  # load updates since its exact load was last re-added from scratch


class FlowClass:
    """Flows with one (src, dst, cap): same path, same max-min rate, one virtual clock."""

    __slots__ = ("key", "src", "links", "finite_links", "cap", "flow_count", "flows", "clock", "clock_time",
                 "rate", "riding", "offset", "head_version", "version", "bucket", "capped", "cap_version",
                 "weight", "private_cap", "registered", "dead", "stamp", "bytes_done", "slack_links",
                 "slack_flows", "slack_load", "slack_bucket")

    def __init__(self, key: tuple[str, str, float], links: tuple[Link, ...], finite_links: tuple[Link, ...],
                 now: float) -> None:
        self.key = key
        self.src = key[0]
        self.links = links  # every directed link of the path (bytes accounting)
        self.finite_links = finite_links  # the finite ones (constraints)
        self.cap = key[2]
        self.flow_count = 0
        self.flows: list[Flow] = []  # heap by finish mark
        self.clock = 0.0  # own clock (bytes per flow), valid at clock_time when riding is None
        self.clock_time = now
        self.rate = 0.0  # own per-flow rate when riding is None
        self.riding: Bucket | None = None  # bucket whose clock it rides: clock = riding.clock + offset
        self.offset = 0.0
        self.head_version = 0  # validity of its entry in riding.heads
        self.version = 0  # validity of its own entry in the solver's completion heap
        self.bucket: Bucket | None = None
        self.capped = False  # held at its private cap (else it gets the bucket's level)
        self.cap_version = 0  # validity of its entry in bucket.uncapped_heap / bucket.capped_heap
        self.weight = 0  # multiplicity and private cap accounted in the bucket's sums
        self.private_cap = 0.0
        self.registered = False  # listed in its finite links' class dicts
        self.dead = False
        self.stamp = 0
        self.bytes_done = 0.0  # bytes of its completed flows
        self.slack_links: tuple[Link, ...] = ()  # slack links it is counted on, with these contributions:
        self.slack_flows = 0  # uncapped flows
        self.slack_load = 0.0  # capped load
        self.slack_bucket: Bucket | None = None  # bucket of its uncapped flows


class Bucket:
    """Classes with the same tight shared links; the uncapped ones share its level and clock."""

    __slots__ = ("signature", "members", "capped_members", "uncapped_flows", "capped_load", "uncapped_heap",
                 "capped_heap", "clock", "clock_time", "rate", "heads", "version", "level", "frozen", "stamp",
                 "budgets", "slack_links", "exact_links", "published_level")

    def __init__(self, signature: tuple[Link, ...], now: float) -> None:
        self.signature = signature
        self.members: dict[FlowClass, None] = {}
        self.capped_members: dict[FlowClass, None] = {}
        self.uncapped_flows = 0  # flows of uncapped members
        self.capped_load = 0.0  # bytes/s taken by capped members
        # Members by private cap: uncapped ones min first, capped ones max first (negated).
        self.uncapped_heap: list[tuple[float, int, FlowClass, int]] = []
        self.capped_heap: list[tuple[float, int, FlowClass, int]] = []
        self.clock = 0.0
        self.clock_time = now
        self.rate = 0.0  # per-flow rate of uncapped members (the level)
        self.heads: list[tuple[float, int, FlowClass, int]] = []  # member heads in bucket-clock units
        self.version = 0  # validity of its entry in the solver's completion heap
        self.level = INF
        self.frozen = False
        self.stamp = 0
        self.budgets: list[tuple[float, int, Link, int]] = []  # budgets on small slack links, min first
        self.slack_links: dict[Link, None] = {}  # slack links its uncapped members cross
        self.exact_links: dict[Link, None] = {}  # the exact-load ones among them
        self.published_level = 0.0  # level counted in exact links' loads


Owner = FlowClass | Bucket
