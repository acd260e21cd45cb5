"""What a container's exit undoes before it can be removed: dockerd's ``Cleanup`` (moby daemon/start.go), run
by the exit handler before the container's lock is released, so a ``docker rm`` (and ``docker run --rm``)
waits for it (docs/containers.md, Teardown).

In Docker's order (strace of Docker 28.5.2's dockerd at a bridge container's exit), which dsim follows but for
the store's commits, all made first:

1. libnetwork deletes the sandbox (``Sandbox.delete``): each endpoint leaves it (``sbLeave``: the endpoint's
   record, ``leave_commits``; a bridge endpoint's external connectivity revoked, ``bridge_join_commits``) and is
   deleted: every record its ``CreateEndpoint`` committed is deleted or updated by a commit of its own on the
   same store (``deleteFromStore(ep)``; the network's endpoint count, ``DecEndpointCnt``, until Docker 28.0; the
   bridge driver's endpoint record in ``DeleteEndpoint``; the IPAM bitmap in ``ReleaseAddress`` until Docker
   23), so an endpoint's deletion holds libnetwork's store as long as its creation did; then the sandbox's
   record is deleted (``storeDelete``, ``sandbox_commits``) (libnetwork_store.py).
2. Under the kernel's rtnl lock, the lock the starts' ``netns`` step takes (teardowns and starts queue
   together): a bridge endpoint's interface is moved back to the host's namespace (libnetwork osl
   ``RemoveInterface``: ``networking.iface_return``, measured one at a time), and the network namespace is
   deleted (``networking.netns_teardown``: the namespace exit path waited for RCU grace periods with
   synchronize_net() until Linux 5.19, https://www.redhat.com/sysadmin/speed-oci-containers). ``host`` and
   ``container:NAME`` have no namespace of their own.
   A published port's rules are checked and deleted as its endpoint leaves, its own checks made
   (``NetworkStack.port_work``: ``iptables`` processes, a wait) and each deletion committed as in step 3, one
   container's ports at a time on the host, under the lock a start's ports take (``NetworkStack.port_lock``); its
   ``docker-proxy`` processes stop at no measurable cost. Then the bridge endpoint's external connectivity is
   revoked, its address's conntrack entries flushed (libnetwork's ``clearConntrackEntries``): on a host that
   tracks connections beside what dsim models (``networking.conntrack_entries``) the flush walks them all,
   dockerd's CPU (``NetworkStack.endpoint_flush``; an empty table's walk is in the exit's measured costs).
3. Docker 28's rule for each bridge endpoint (``networking.endpoint_rules``) is checked and deleted: two
   ``iptables`` processes (``iptables_run`` each, a wait here, as the rest of the teardown is: a bridge exit's
   14.5 ms more of dockerd's CPU than a host one, measured, is not on the CPU scheduler), then the deletion's
   commit, one at a time on the host (``rule_delete_wait``, a first-come-first-served lock whose holders know
   their hold).
4. The bridge driver deletes the endpoint's veth pair (``networking.veth_teardown``) through its one netlink
   handle (``d.nlh.LinkByName`` then ``LinkDel`` in ``DeleteEndpoint``, moby daemon/libnetwork/drivers/bridge):
   vishvananda/netlink locks a shared handle's socket for a request's whole round trip
   (``NetlinkRequest.ExecuteIter``), and the kernel answers a deletion once the device has unregistered, its RCU
   grace periods waited out. Deletions by separate processes wait them out side by side (16 ``ip link del`` at
   once took 50-59 ms against 21 ms for one), but dockerd's pass one at a time: goroutine dumps of Docker 28.5.2
   during 32 bridge exits at once found on average 9.8 of them waiting for that socket's lock
   (``tools/real_docker.py handle``). So a lock per host (the starts' veth creations hold it too): its holder
   queues for the rtnl lock behind the interfaces' returns and the starts' netns steps, holds it ``veth_rtnl``
   (2.2 ms), then waits out the rest of ``veth_teardown`` with the handle still held.

Not modelled: containerd's deletion of the container's record (a transaction of its metadata store): dsim's
Lindley locks are held from the moment they are asked for, and asking for that one only after libnetwork's
commits would take a simulation event on every exit.

Steps 1 and 3 are first-come-first-served locks whose holders know their hold (Lindley's recursion): a
teardown without steps 2 and 4 and without published ports (``host``, ``none`` on a recent kernel) costs no
simulation event, only the time ``rm`` waits.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Generator
from typing import Any

import simpy

from dsim.components.container import Container
from dsim.components.host import Kernel
from dsim.components.libnetwork_store import FifoLock, commits_hold, endpoint_hold, leave_hold
from dsim.components.network_objects import Network
from dsim.components.networks import NetworkStack
from dsim.components.workers import WorkerPool
from dsim.domain.networking import NetworkingSpec
from dsim.environment import succeed_after
from dsim.records import SpanKind

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


def teardown(env: simpy.Environment, kernel: Kernel, networks: NetworkStack, container: Container,
             joined: list[Network], rng: random.Random) -> Done:
    """Start the teardown of ``container``'s last run (its process just exited) on ``joined`` (its endpoints'
    networks); returns when it ends (a time, or an event when it takes the rtnl lock)."""
    mode = container.spec.network
    if mode.startswith("container:"):
        return env.now
    costs = networks.costs
    at = release_endpoints(networks.store, costs, joined, env.now, rng)
    # the ports' rules go as the endpoint leaves, before its interface is returned
    ports = port_release(networks, len(container.published)) if container.published else 0.0
    rtnl = 0.0 if mode == "host" else costs.netns_teardown.sample(rng)
    veth = 0.0
    for network in joined:  # each bridge endpoint: its interface returned, its veth pair deleted
        if network.driver == "bridge":
            rtnl += costs.iface_return.sample(rng)
            veth += costs.veth_teardown.sample(rng)
    rules = networks.endpoint_rules(joined)
    flush = networks.endpoint_flush(joined)
    if rtnl <= 0 and ports <= 0 and flush <= 0 and veth <= 0:
        return rules_deleted(networks, at, rules) if rules else at
    return _KernelPart(env, kernel, networks, container.name, at, (ports, flush, rtnl), rules, veth).done


def rules_deleted(networks: NetworkStack, at: float, rules: int) -> float:
    """When ``rules`` endpoint rules checked and deleted from ``at`` are gone: two ``iptables`` processes each
    (their CPU as a wait, as the rest of the teardown is), then each deletion's
    commit, one at a time on the host (Lindley: no event)."""
    at += networks.rule_work(rules)
    hold = networks.deletion_waits(rules)
    return at + networks.rule_deletions.hold(at, hold) + hold


def port_release(networks: NetworkStack, ports: int) -> float:
    """How long releasing a container's ``ports`` published ports holds the host's port lock (the lock its start's
    ports took: Docker 28.5.2 releases and programs one container's ports at a time, tools/real_docker.py ports):
    their rules checked and deleted and their own checks (``NetworkStack.port_work``) and dockerd's own work a port
    (``port_release``), a wait, and each deletion committed. The deletions are counted in that hold, not on
    ``rule_deletions``: a simplification (an endpoint's rule deleted meanwhile does not wait for them)."""
    costs = networks.costs
    rules = ports * costs.rules_per_port
    return (networks.port_work(ports, rules, networks.rules) + ports * costs.port_release
            + networks.deletion_waits(rules))


class _KernelPart:
    """The teardown's locks once libnetwork's commits end at ``at``, with ``holds`` = (ports, flush, rtnl):
    ``ports`` under the host's port lock, then ``flush`` CPU-seconds of conntrack flushes on dockerd's cgroup, then
    ``rtnl`` under the rtnl lock, then ``rules`` endpoint rules checked and deleted and the veth pairs' ``veth``;
    ``done`` is processed when they end. Callbacks on the events rather than a process (a process's start, resumes
    and end: about 8% of a container job's instructions), the same events at the same times otherwise."""

    __slots__ = ("env", "kernel", "networks", "subject", "ports", "flush", "rtnl", "rules", "veth", "began", "done")

    def __init__(self, env: simpy.Environment, kernel: Kernel, networks: NetworkStack, subject: str, at: float,
                 holds: tuple[float, float, float], rules: int, veth: float) -> None:
        self.env, self.kernel, self.networks, self.subject = env, kernel, networks, subject
        self.ports, self.flush, self.rtnl = holds
        self.rules, self.veth, self.began = rules, veth, at
        self.done = env.event()
        first = self._ask_ports if self.ports > 0 else self._after_ports
        if at > env.now:
            env.timeout(at - env.now).callbacks.append(first)
        else:
            first(None)

    @staticmethod
    def _take(lock: WorkerPool, then: Callable[[simpy.Event | None], None]) -> None:
        grant = WorkerPool.request(lock)  # the lock's queue, without a ``with`` block's turn
        if grant.callbacks is None:  # free: taken at once, no event
            then(None)
        else:
            grant.callbacks.append(then)

    def _ask_ports(self, _: simpy.Event | None) -> None:
        self._take(self.networks.port_lock, self._hold_ports)

    def _hold_ports(self, _: simpy.Event | None) -> None:
        self.env.timeout(self.ports).callbacks.append(self._ports_released)

    def _ports_released(self, _: simpy.Event) -> None:
        self.networks.port_lock.release()
        self._after_ports(None)

    def _after_ports(self, _: simpy.Event | None) -> None:
        if self.flush > 0:
            self.began = self.env.now
            self.kernel.dockerd.run(self.flush, 1.0).done.callbacks.append(self._flushed)
        else:
            self._after_flush()

    def _flushed(self, _: simpy.Event) -> None:
        networks = self.networks
        networks.recorder.span(SpanKind.CONNTRACK, self.subject, self.began, self.env.now, host=networks.host,
                               entries=networks.costs.conntrack_entries, at="exit")
        self._after_flush()

    def _after_flush(self) -> None:
        if self.rtnl > 0:
            self._take(self.kernel.netns_lock, self._hold_rtnl)
        else:
            self._finish()

    def _hold_rtnl(self, _: simpy.Event | None) -> None:
        self.env.timeout(self.rtnl).callbacks.append(self._rtnl_released)

    def _rtnl_released(self, _: simpy.Event) -> None:
        self.kernel.netns_lock.release()
        self._finish()

    def _finish(self) -> None:
        env, rules = self.env, self.rules
        deleted = rules_deleted(self.networks, env.now, rules) if rules else env.now
        if self.veth <= 0.0:
            succeed_after(env, self.done, deleted - env.now)
        elif deleted > env.now:
            env.timeout(deleted - env.now).callbacks.append(self._ask_handle)
        else:
            self._ask_handle(None)

    # the veth pair's deletion: the bridge driver's netlink handle taken, then the rtnl lock for the deletion's
    # part under it (veth_rtnl), then the rest of veth_teardown (the grace periods) with the handle still held

    def _ask_handle(self, _: simpy.Event | None) -> None:
        self._take(self.networks.bridge_netlink, self._ask_rtnl_for_veth)

    def _ask_rtnl_for_veth(self, _: simpy.Event | None) -> None:
        if self.networks.costs.veth_rtnl > 0.0:
            self._take(self.kernel.netns_lock, self._unregister_veth)
        else:  # nothing of it under the rtnl lock: the grace periods alone
            self.env.timeout(self.veth).callbacks.append(self._veth_deleted)

    def _unregister_veth(self, _: simpy.Event | None) -> None:
        held = min(self.veth, self.networks.costs.veth_rtnl)
        self.veth -= held
        self.env.timeout(held).callbacks.append(self._veth_unregistered)

    def _veth_unregistered(self, _: simpy.Event) -> None:
        self.kernel.netns_lock.release()
        self.env.timeout(self.veth).callbacks.append(self._veth_deleted)

    def _veth_deleted(self, _: simpy.Event) -> None:
        self.networks.bridge_netlink.release()
        self.done.succeed()


def wait_done(env: simpy.Environment, done: Done | None) -> Generator[Any, Any, None]:
    """Until a teardown (``teardown``'s answer; None: nothing to wait for) has ended."""
    if isinstance(done, simpy.Event):
        if not done.processed:
            yield done
    elif done is not None and done > env.now:
        yield env.timeout(done - env.now)
