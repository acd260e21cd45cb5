"""libnetwork's store on the start path: endpoint creation serialized on one host (docs/containers.md).

dockerd connects every container to each of its networks with ``Network.CreateEndpoint``, which holds the
network's lock (``networkLocker.Lock(n.id)``, moby daemon/libnetwork/network.go) for the whole creation: the
address (IPAM), the driver's endpoint (the bridge's veth pair) and the commits to libnetwork's local store
(``local-kv.db``, one bbolt file per daemon: one read-write transaction at a time, each commit fdatasynced,
https://github.com/etcd-io/bbolt). The pprof of 400 concurrent ``docker run`` in
https://github.com/moby/moby/pull/44887 shows the starts waiting there. What the network's lock covers is
already serialized host-wide in dsim: the veth under the kernel's rtnl lock (the ``netns`` step) and through
the bridge driver's one netlink handle (``NetworkStack.bridge_netlink``), and the commits on the store's file,
which every network shares. So dsim keeps one lock per host, the store's,
held for an endpoint's commits: a storm of starts queues there whatever their networks. The ``host`` and
``none`` networks have endpoints too (host and null drivers: libnetwork's own commits only);
``container:NAME`` joins another's sandbox and creates none.

The endpoint's creation is not the store's only work on a start: dockerd then makes the container's sandbox
(``NewSandbox`` writes its record, ``sandbox_commits``) and joins the endpoint to it (``sbJoin``: the sandbox
record again and the endpoint's, ``join_commits``; a bridge endpoint's external connectivity, the driver's record,
``bridge_join_commits``); the exit's teardown undoes each (teardown.py). Moby master and Docker 20.10
(libnetwork's bump_20.10 branch) make the same calls: a bridge start commits 6 times today, 8 times in 20.10.
dsim holds the store for a start's commits in one piece: the k-th of n starts still leaves the store k holds
after the first (the pace of a storm), whichever way real commits of different starts interleave.

The lock is first come first served and each holder knows its hold time when it queues, so it is
Lindley's recursion (start = max(arrival, previous end)): no SimPy event when nobody is ahead.
Idle, the commits are part of the start's cost that dsim already counts (``runtime.start``: Khan's 568 ms
total is not split further), so a start pays only its queueing for the lock, and one warm ``docker run``
still takes 568 ms.
"""

from __future__ import annotations

import random

from dsim.domain.networking import NetworkingSpec


class FifoLock:
    """A first-come-first-served lock of capacity 1 whose holders know how long they hold it."""

    __slots__ = ("free_at",)

    def __init__(self) -> None:
        #: when the lock is next free
        self.free_at = 0.0

    def hold(self, now: float, duration: float) -> float:
        """Queue at ``now`` and hold for ``duration`` once the holders ahead are done: returns the time spent
        queueing (exactly 0 when the lock is free)."""
        wait = self.free_at - now if self.free_at > now else 0.0
        self.free_at = now + wait + duration
        return wait


def commits_hold(costs: NetworkingSpec, commits: int, rng: random.Random) -> float:
    """How long ``commits`` commits of ``store_commit`` each hold the store."""
    if costs.store_commit.is_constant:  # the default: no sampling on the start path
        return commits * costs.store_commit.mean
    return sum(costs.store_commit.sample(rng) for _ in range(commits))


def endpoint_hold(costs: NetworkingSpec, driver: str, rng: random.Random) -> float:
    """How long creating one endpoint on a network of ``driver`` holds the store: libnetwork's commits
    (``endpoint_commits``) and the bridge driver's own (``bridge_commits``), ``store_commit`` each."""
    return commits_hold(costs, costs.endpoint_commits + (costs.bridge_commits if driver == "bridge" else 0), rng)


def join_hold(costs: NetworkingSpec, driver: str, rng: random.Random) -> float:
    """The commits of an endpoint joining its sandbox at start (``join_commits``: the sandbox record and the
    endpoint's; on a bridge network ``bridge_join_commits``: its external connectivity programmed)."""
    return commits_hold(costs, costs.join_commits + (costs.bridge_join_commits if driver == "bridge" else 0), rng)


def leave_hold(costs: NetworkingSpec, driver: str, rng: random.Random) -> float:
    """The commits of an endpoint leaving its sandbox at the exit (``leave_commits``: the endpoint's record; on a
    bridge network ``bridge_join_commits``: its external connectivity revoked)."""
    return commits_hold(costs, costs.leave_commits + (costs.bridge_join_commits if driver == "bridge" else 0), rng)
