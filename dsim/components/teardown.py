"""What a container's exit undoes before it can be removed: dockerd's ``Cleanup`` (moby daemon/start.go), run
by the exit handler before the container's lock is released, so a ``docker rm`` (and ``docker run --rm``)
waits for it (docs/containers.md, Teardown).

In Docker's order:

1. libnetwork deletes the sandbox (``Sandbox.delete``): each endpoint leaves it (``sbLeave``: the endpoint's
   record, ``leave_commits``; a bridge endpoint's external connectivity revoked, ``bridge_join_commits``) and is
   deleted: every record its ``CreateEndpoint`` committed is deleted or updated by a commit of its own on the
   same store (``deleteFromStore(ep)``; the network's endpoint count, ``DecEndpointCnt``, until Docker 28.0; the
   bridge driver's endpoint record in ``DeleteEndpoint``; the IPAM bitmap in ``ReleaseAddress`` until Docker
   23), so an endpoint's deletion holds libnetwork's store as long as its creation did; then the sandbox's
   record is deleted (``storeDelete``, ``sandbox_commits``) (libnetwork_store.py).
   A bridge endpoint's deletion also deletes its veth pair (``networking.veth_teardown``): the device unregisters
   through RCU grace periods, which deletions wait out side by side (16 at once took 59 ms against 21 ms for
   one), so a wait outside every lock, added to the time the teardown ends (no event).
2. The network namespace is deleted under the kernel's rtnl lock (``networking.netns_teardown``: the namespace
   exit path waited for RCU grace periods with synchronize_net() until Linux 5.19,
   https://www.redhat.com/sysadmin/speed-oci-containers), the lock the starts' ``netns`` step takes: teardowns
   and starts queue together. ``host`` and ``container:NAME`` have no namespace of their own to delete.

Not modelled: containerd's deletion of the container's record (a transaction of its metadata store): dsim's
Lindley locks are held from the moment they are asked for, and asking for that one only after libnetwork's
commits would take a simulation event on every exit.

Step 1 is a first-come-first-served lock whose holders know their hold (Lindley's recursion): with the default
``netns_teardown`` of 0 a teardown costs no simulation event, only the time ``rm`` waits.
"""

from __future__ import annotations

import random
from collections.abc import Generator
from typing import Any

import simpy

from dsim.components.container import Container
from dsim.components.host import Kernel
from dsim.components.libnetwork_store import FifoLock, commits_hold, endpoint_hold, leave_hold
from dsim.components.networks import Network
from dsim.domain.networking import NetworkingSpec

#: when a container's teardown ends: a time already known, or an event (it waits for the rtnl lock)
Done = float | simpy.Event


def release_endpoints(store: FifoLock, costs: NetworkingSpec, networks: list[Network], now: float,
                      rng: random.Random) -> float:
    """libnetwork's teardown commits from ``now``, each endpoint's leave and deletion in turn, then the sandbox's
    record: when the last ends."""
    at = now
    for network in networks:
        took = leave_hold(costs, network.driver, rng) + endpoint_hold(costs, network.driver, rng)
        at += store.hold(at, took) + took
    took = commits_hold(costs, costs.sandbox_commits, rng)
    if took > 0:
        at += store.hold(at, took) + took
    return at


def teardown(env: simpy.Environment, kernel: Kernel, costs: NetworkingSpec, store: FifoLock, container: Container,
             networks: list[Network], rng: random.Random) -> Done:
    """Start the teardown of ``container``'s last run (its process just exited) on ``networks`` (its endpoints);
    returns when it ends (a time, or an event when it must queue for the rtnl lock)."""
    mode = container.spec.network
    joined = mode.startswith("container:")
    at = env.now if joined else release_endpoints(store, costs, networks, env.now, rng)
    if not joined:
        for network in networks:  # each bridge endpoint's veth pair deleted: a wait of its own, no lock, no event
            if network.driver == "bridge":
                at += costs.veth_teardown.sample(rng)
    namespace = 0.0 if joined or mode == "host" else costs.netns_teardown.sample(rng)
    if namespace <= 0:
        return at
    return env.process(_namespace(env, kernel, at, namespace))


def _namespace(env: simpy.Environment, kernel: Kernel, at: float, namespace: float) -> Generator[Any, Any, None]:
    """Step 2 once libnetwork's commits end at ``at``: the namespace and veth deleted under the rtnl lock."""
    if at > env.now:
        yield env.timeout(at - env.now)
    with kernel.netns_lock.request() as lock:
        if lock.callbacks is not None:  # a free lock is taken with an event already processed: no wait
            yield lock
        yield env.timeout(namespace)


def wait_done(env: simpy.Environment, done: Done | None) -> Generator[Any, Any, None]:
    """Until a teardown (``teardown``'s answer; None: nothing to wait for) has ended."""
    if isinstance(done, simpy.Event):
        if not done.processed:
            yield done
    elif done is not None and done > env.now:
        yield env.timeout(done - env.now)
