"""Networks as dockerd's libnetwork manages them on one host (docs/networks-storage.md).

The objects (network_objects.py: a network, its subnet and its endpoints' addresses): the default ``bridge``
(172.17.0.0/16), ``host`` and ``none``, user-defined bridge networks with subnets from dockerd's default address
pools, endpoints (a running container's address on a network, lowest free address first, released when its process
exits), embedded DNS by container name on user-defined networks only, connect / disconnect, and Docker's errors
for each.

The costs of a container's network mode, paid when it starts (``attach``): ``bridge`` creates a network
namespace and a veth pair under the kernel's rtnl lock (``runtime.netns``) and programs each published port:
``iptables`` processes (every rule checked and appended, and the port's own checks) and ``docker-proxy``
processes, and for a udp port flushes of the conntrack table, CPU in dockerd's cgroup, one container's ports at a
time on the host (``NetworkStack.port_lock``); at the exit the rules are checked and deleted (teardown.py);
``none`` pays only the namespace; ``host`` and ``container:NAME`` pay nothing of their own. Every mode but
``container:NAME`` creates an endpoint on its network(s), committed to libnetwork's store one commit at a time
(libnetwork_store.py): a storm of starts queues there.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Generator, Mapping
from typing import Any

import simpy

from dsim.components.container import RESTARTING, RUNNING, Container
from dsim.components.errors import ApiError
from dsim.components.host import Kernel
from dsim.components.libnetwork_store import FifoLock, commits_hold, endpoint_hold, join_hold
from dsim.components.network_objects import Address, Network, Subnet, default_subnets, network_id
from dsim.components.workers import Lock
from dsim.domain.containers import ContainerSpec
from dsim.domain.hosts import HostSpec
from dsim.domain.networking import NetworkDecl, default_conntrack_buckets
from dsim.records import Recorder, SpanKind

#: the span kinds recorded on every job's path, read once (records.py: a kind read from its class is slow)
_NETNS, _PUBLISH = SpanKind.NETNS, SpanKind.PUBLISH

#: how dockerd prefixes what goes wrong connecting a container's networks at its start (moby
#: daemon/container_operations.go ``errSetupNetworking``)
SETUP_FAILED = "failed to set up container networking"

class NetworkStack:
    """The networks of one daemon and the costs of joining them."""

    def __init__(self, env: simpy.Environment, host: str, spec: HostSpec, kernel: Kernel, recorder: Recorder,
                 rng: random.Random, containers: Mapping[str, Container], *, born: float | None = None) -> None:
        """``rng``: the container runtime's stream (the netns cost is sampled from it, as before networks);
        ``containers``: the runtime's containers by name (a live view, for ``container:NAME``); ``born``: when
        the daemon started, the predefined networks' creation time (default now; the stack is made on first use)."""
        self.env = env
        self._born = env.now if born is None else born
        self.containers = containers
        self.host = host
        self.spec = spec
        self.costs = spec.networking
        self.kernel = kernel
        self.recorder = recorder
        self.rng = rng
        self._serial = itertools.count(1)
        #: libnetwork's store (one bbolt file), held by every endpoint's commits (libnetwork_store.py)
        self.store = FifoLock()
        #: nf_tables' commits of rule deletions, one at a time on the host (``networking.rule_delete_wait``)
        self.rule_deletions = FifoLock()
        #: the bridge driver's netlink handle (moby drivers/bridge ``d.nlh``, one per daemon): every veth pair's
        #: creation at a start and deletion at an exit goes through it, and vishvananda/netlink holds a shared
        #: socket's lock for a request's whole round trip, the kernel's wait for a deleted device's unregistering
        #: included (teardown.py)
        self.bridge_netlink = Lock(env, 1)
        #: held while one container's published ports are programmed at its start or released at its exit
        #: (teardown.py): Docker 28.5.2 does one container's at a time (5 containers of 25 ports each started at once
        #: ended 1.4 s apart, one alone taking 1.4 s; killed at once, cleaned up 1.3 s apart; a start beside an exit
        #: waited for it: tools/real_docker.py ports)
        self.port_lock = Lock(env, 1)
        #: rules in the host's tables now (dockerd's own, each network's, each published port's)
        self.rules = self.costs.base_rules
        buckets = self.costs.conntrack_buckets or default_conntrack_buckets(spec.memory)
        #: CPU-seconds a flush of the host's conntrack table spends on its tracked connections (dockerd parses each)
        self.entries_flush = self.costs.conntrack_entries * self.costs.conntrack_entry_scan
        #: CPU-seconds of one flush of the table (a netlink dump walks every bucket and carries every entry)
        self.conntrack_flush = buckets * self.costs.conntrack_bucket_scan + self.entries_flush
        self.networks: dict[str, Network] = {}
        #: networks each container (by ID) is connected to (its configuration, kept while it is stopped)
        self._attached: dict[str, list[Network]] = {}
        #: container ID -> network name -> the address its ``--ip`` asked for (dsim serve)
        self._requested: dict[str, dict[str, Address]] = {}
        #: rules each running container (by ID) added for its published ports
        self._port_rules: dict[str, int] = {}
        bridge = Subnet("172.17.0.0/16")
        self._add("bridge", "bridge", bridge, builtin=True, created=self._born)
        self._add("host", "host", None, builtin=True, created=self._born)
        self._add("none", "null", None, builtin=True, created=self._born)
        for decl in spec.networks:
            self._declare(decl)

    # ------------------------------------------------------------------ the objects

    def _add(self, name: str, driver: str, subnet: Subnet | None, *, builtin: bool = False,
             internal: bool = False, created: float | None = None) -> Network:
        network = Network(network_id(self.host, name, next(self._serial)), name, driver, subnet, internal,
                          self.env.now if created is None else created, builtin)
        self.networks[name] = network
        return network

    def _declare(self, decl: NetworkDecl) -> Network:
        """A user-defined bridge network: its subnet checked or picked, its rules counted (no time: setup)."""
        network = self._add(decl.name, "bridge", self._subnet(decl.subnet), internal=decl.internal)
        network.configured = decl.subnet is not None
        self.rules += self.costs.rules_per_network
        return network

    def _subnet(self, wanted: str | None) -> Subnet:
        taken = [n.subnet for n in self.networks.values() if n.subnet is not None]
        if wanted is not None:
            try:
                subnet = Subnet(wanted)
            except ValueError:
                raise ApiError(400, f"invalid subnet {wanted}: invalid CIDR address: {wanted}") from None
            if any(subnet.overlaps(other) for other in taken):
                raise ApiError(403, "Pool overlaps with other one on this address space")
            return subnet
        for subnet in default_subnets():
            if not any(subnet.overlaps(other) for other in taken):
                return subnet
        raise ApiError(403, "all predefined address pools have been fully subnetted")

    def find(self, ident: str) -> Network:
        """A network by name, full ID or unique ID prefix; 404 as dockerd says."""
        if ident in self.networks:
            return self.networks[ident]
        matches = [n for n in self.networks.values() if n.id.startswith(ident)] if ident else []
        if len(matches) == 1:
            return matches[0]
        raise ApiError(404, f"network {ident} not found")

    def create(self, name: str, *, subnet: str | None = None, internal: bool = False,
               job: int = -1) -> Generator[Any, Any, Network]:
        """``docker network create``: 409 when the name is taken; the network's rules are programmed."""
        if name in self.networks:
            raise ApiError(409, f"network with name {name} already exists")
        network = self._add(name, "bridge", self._subnet(subnet), internal=internal)
        network.configured = subnet is not None
        rules = self.costs.rules_per_network
        yield from self._program(name, rules, self.costs.network_checks, 0.0, job)
        return network

    def remove(self, ident: str, *, job: int = -1) -> Generator[Any, Any, Network]:
        """``docker network rm``: refused for the predefined networks and while containers run on it; the network's
        rules are deleted, then its bridge device (``bridge_teardown``)."""
        network = self._forget(ident)
        yield from self._program(network.name, -self.costs.rules_per_network, self.costs.network_rm_checks, 0.0, job)
        bridge = self.costs.bridge_teardown.sample(self.rng)  # its bridge device deleted
        if bridge > 0.0:
            yield self.env.timeout(bridge)
        return network

    def _forget(self, ident: str) -> Network:
        """The network ``docker network rm`` names, gone from the host's networks: 403 as dockerd says."""
        network = self.find(ident)
        if network.builtin:
            raise ApiError(403, f"{network.name} is a pre-defined network and cannot be removed")
        if network.endpoints:
            first = next(iter(network.endpoints))
            name = next((c.name for c in self.containers.values() if c.id == first), first)
            raise ApiError(403, f"error while removing network: network {network.name} has active endpoints "
                                f'(name:"{name}" id:"{first}")')
        del self.networks[network.name]
        return network

    def prune(self, *, job: int = -1) -> Generator[Any, Any, list[Network]]:
        """``docker network prune``: user-defined networks without active endpoints, removed one by one."""
        unused = [n for n in self.networks.values() if not n.builtin and not n.endpoints]
        for network in unused:
            yield from self.remove(network.name, job=job)
        return unused

    def networks_of(self, container: Container) -> list[Network]:
        return list(self._attached.get(container.id, ()))

    def address(self, container: Container, network: Network) -> Address | None:
        return network.endpoints.get(container.id)

    # ------------------------------------------------------------------ a container's configuration

    def configure(self, spec: ContainerSpec, container_id: str, lookup: Callable[[str], Container | None]) -> None:
        """At ``docker create`` of ``container_id``: a ``container:`` mode must name a container (``lookup`` by
        name) that exists (404 as dockerd). A network need not exist yet (moby daemon/create.go: it "might not
        exist when the container is created"): the start finds it or fails (``attach``)."""
        mode = spec.network
        if mode.startswith("container:"):
            other = mode.partition(":")[2]
            if lookup(other) is None:
                raise ApiError(404, f"No such container: {other}")
            if spec.ports or spec.publish_all:
                raise ApiError(400, "conflicting options: port publishing and the container type network mode")
            self._attached[container_id] = []
            return
        network = self.networks.get(mode)
        if network is None:  # an ID or a prefix of one, or no network yet
            try:
                network = self.find(mode)
            except ApiError:
                return
        self._attached[container_id] = [network]

    def forget(self, container: Container) -> None:
        """``docker rm``: the container's network configuration goes."""
        self._attached.pop(container.id, None)
        self._requested.pop(container.id, None)

    def check_addresses(self, addresses: Mapping[str, str], *, create: bool = True) -> dict[str, Address]:
        """``--ip`` per network (an endpoint's ``IPAMConfig``) as moby's create validates it (daemon/create.go
        ``validateNetworkingConfig``, container_operations.go ``validateEndpointSettings``, api/types/network
        endpoint.go ``Validate`` and ``IsInRange``, runconfig/errors.go): only on a user-defined network, a valid
        address, inside the subnet of a network that exists and whose subnet the user configured (the default
        bridge's counts as configured: dockerd gives it as its pool). A 400 naming each network refused at create;
        ``docker network connect`` says ``invalid endpoint settings:`` alone (daemon ``updateNetworkConfig``)."""
        parsed: dict[str, Address] = {}
        refused: list[str] = []
        for name, text in addresses.items():
            network = self.networks.get(name)
            errors: list[str] = []
            if name in ("bridge", "default", "host", "none") or (network is not None and network.builtin):
                errors.append("user specified IP address is supported on user defined networks only")
            try:
                address: Address | None = Address(text)
            except ValueError:
                address = None
            if address is None or address.is_unspecified:
                errors.append(f"invalid IPv4 address: {text}")
            if network is not None and network.driver == "bridge":
                if not network.configured and not network.builtin:
                    errors.append("user specified IP address is supported only when connecting to networks "
                                  "with user configured subnets")
                elif network.subnet is None or address is None or address not in network.subnet:
                    errors.append(f"no configured subnet or ip-range contain the IP address {text}")
            if errors:
                refused.append(f"invalid config for network {name}: " * create
                               + f"invalid endpoint settings:\n{_joined(errors)}")
            elif address is not None:
                parsed[name] = address
        if refused:
            raise ApiError(400, _joined(refused))
        return parsed

    def requested(self, container_id: str) -> dict[str, Address]:
        """The addresses a container asked for, by network name (the table itself)."""
        return self._requested.setdefault(container_id, {})

    def keep_addresses(self, container_id: str, addresses: dict[str, Address]) -> None:
        """The addresses a container asked for (create's ``--ip``, connect's), given at each of its starts."""
        if addresses:
            self._requested.setdefault(container_id, {}).update(addresses)

    def connect(self, network: Network, container: Container, job: int = -1) -> Generator[Any, Any, None]:
        """``docker network connect``: a running container gets its address and a new veth pair at once (the
        veth's share of ``runtime.netns`` under the rtnl lock), a stopped one at its next start."""
        nets = self._attached.setdefault(container.id, [])
        if network in nets:
            raise ApiError(403, f"endpoint with name {container.name} already exists in network {network.name}")
        if network.driver != "bridge" or any(n.driver != "bridge" for n in nets) \
                or container.spec.network.startswith("container:"):
            raise ApiError(400, "container cannot be disconnected from host network or connected to host network")
        nets.append(network)
        if container.state in (RUNNING, RESTARTING):
            try:
                self._endpoint(network, container)
            except ApiError:
                nets.remove(network)
                raise
            asked = self.env.now
            queued = self._endpoint_queue([network], new_sandbox=False)
            if queued > 0:
                yield self.env.timeout(queued)
            with self.kernel.netns_lock.request() as lock:
                yield lock
                got = self.env.now
                yield self.env.timeout(self.spec.runtime.netns.sample(self.rng) * (1 - self.costs.namespace_share))
            self.recorder.span(_NETNS, container.name, asked, self.env.now, host=self.host, job=job,
                               wait=got - asked)

    def disconnect(self, network: Network, container: Container) -> None:
        """``docker network disconnect``: its address is released."""
        nets = self._attached.get(container.id, [])
        if network not in nets:
            raise ApiError(403, f"container {container.id} is not connected to network {network.name}")
        network.release(container.id)
        nets.remove(network)
        self._requested.get(container.id, {}).pop(network.name, None)  # its endpoint's configuration goes

    # ------------------------------------------------------------------ DNS

    def resolve(self, asker: Container, name: str) -> Address | None:
        """What the embedded DNS server answers ``asker`` for ``name``: the address of the container of that
        name on a user-defined network both are on; None on the default bridge (no embedded DNS there)."""
        other = self.containers.get(name)
        if other is None:
            return None
        for network in self._attached.get(asker.id, ()):
            if network.dns and asker.id in network.endpoints and other.id in network.endpoints:
                return network.endpoints[other.id]
        return None

    # ------------------------------------------------------------------ start and exit

    def attach(self, container: Container, job: int, publish: Callable[[Container], None],
               work: Callable[[float], Generator[Any, Any, None]]) -> Generator[Any, Any, int]:
        """The network part of a start, by mode: on a bridge network the bridge driver's netlink handle first
        (``CreateEndpoint`` makes the veth pair through it: ``d.nlh.LinkAdd`` and the calls around it, moby
        drivers/bridge; held over the netns step), which the exits' veth deletions hold too (teardown.py); the
        namespace (and veth) under the rtnl lock, each network's
        endpoint committed to libnetwork's store (queueing only: the commits are inside the start's cost; on
        host the only cost), addresses, published ports (``publish`` binds them) and their iptables rules.
        Records NETNS (its ``wait``: both locks) and PUBLISH spans as the runtime did before network modes
        (bridge without ports, idle: identical). ``work`` runs the namespace's setup (the runtime's
        CPU-and-wait step, daemon_locks.step). Returns the endpoint rules the start checks and appends: one
        bridge endpoint's are runc create's to run (``runtime.start`` counts them), any more run here."""
        mode = container.spec.network
        if mode.startswith("container:"):
            self._join(container, mode.partition(":")[2])
            container.published = []
            return 0
        try:
            nets = self._attached.get(container.id) or [self.find(mode)]
        except ApiError as err:  # moby daemon/start_linux.go wraps what connecting the network says
            raise ApiError(err.status, f"{SETUP_FAILED}: {err}") from None
        for network in nets:
            if network.name not in self.networks:
                raise ApiError(404, f"{SETUP_FAILED}: network {network.name} not found")
        env = self.env
        if mode == "host":
            queued = self._endpoint_queue(nets)
            if queued > 0:
                yield env.timeout(queued)
            container.published = []  # dockerd: "Published ports are discarded when using host network mode"
            return 0
        asked = env.now
        share = 1.0 if mode != "none" else self.costs.namespace_share
        netns = self.spec.runtime.netns.sample(self.rng) * share
        # a bridge endpoint's veth pair is created through the bridge driver's netlink handle, held over the netns
        # step (its requests take the rtnl lock: teardown.py); no event while both are free
        bridged = False
        for network in nets:
            if network.driver == "bridge":
                bridged = True
        if bridged:
            with self.bridge_netlink.request() as handle:
                if handle.callbacks is not None:
                    yield handle
                got = yield from self._netns_step(netns, work)
        else:
            got = yield from self._netns_step(netns, work)
        # the endpoint's commits after the namespace: two FIFO locks in a row pass a storm at the pace of the
        # slower in either order (no event when nobody is ahead on the store)
        queued = self._endpoint_queue(nets)
        if queued > 0:
            yield env.timeout(queued)
        self.recorder.span(_NETNS, container.name, asked, env.now, host=self.host, job=job,
                           wait=got - asked + queued)
        if mode == "none":
            container.published = []
            return 0
        try:
            for network in nets:
                self._endpoint(network, container)
            publish(container)
        except ApiError:
            self.detach(container)
            raise
        endpoint_rules = self.endpoint_rules(nets)
        if endpoint_rules > self.costs.endpoint_rules:  # more than one bridge endpoint's: the rest here
            yield from self._check_and_append(container.name, endpoint_rules - self.costs.endpoint_rules, job)
        if container.published:
            costs, ports = self.costs, len(container.published)
            rules = ports * costs.rules_per_port
            self._port_rules[container.id] = rules
            udp = sum(1 for port in container.published if port.endswith("/udp"))
            own = (ports * costs.proxies_per_port * costs.proxy_start
                   + udp * costs.udp_port_flushes * self.conntrack_flush)
            yield from self._program(container.name, rules, ports * costs.port_checks, own, job)
        self.recorder.span(_PUBLISH, container.name, env.now, env.now, host=self.host, job=job,
                           ports=list(container.published))
        flush = self.endpoint_flush(nets)
        if flush > 0.0:
            yield from self._flush(container.name, flush, job)
        return endpoint_rules

    def _netns_step(self, netns: float,
                    work: Callable[[float], Generator[Any, Any, None]]) -> Generator[Any, Any, float]:
        """The runtime's netns step under the kernel's rtnl lock: returns when the lock was taken."""
        with self.kernel.netns_lock.request() as lock:
            if lock.callbacks is not None:  # a free lock is taken with an event already processed: no wait
                yield lock
            got = self.env.now
            yield from work(netns)
        return got

    @staticmethod
    def own_namespace(container: Container) -> bool:
        """Whether the container gets a network namespace of its own (bridge, none, user networks), which runc
        hands to dockerd through its libnetwork-setkey prestart hook (moby daemon/oci_linux.go: a hook for a
        network namespace without a path); host and container:NAME join an existing one."""
        mode = container.spec.network
        return mode != "host" and not mode.startswith("container:")

    def _endpoint_queue(self, nets: list[Network], *, new_sandbox: bool = True) -> float:
        """CreateEndpoint on each network in turn, then the sandbox and the joins, their commits under the store's
        lock (libnetwork_store.py): the time spent queueing behind other containers' (0 when nobody is ahead);
        ``new_sandbox`` False for ``docker network connect`` of a running container (its sandbox exists). A
        hold is at most the non-CPU part of ``runtime.start`` it is counted in (a run with zero costs holds
        nothing)."""
        runtime, costs, rng = self.spec.runtime, self.costs, self.rng
        # the commits are part of runc create's own wait (runtime.start less the setkey hook)
        budget = max(0.0, runtime.start.mean - costs.setkey_hook.mean) * (1 - runtime.cpu.start)
        at, queued = self.env.now, 0.0
        sandbox = commits_hold(costs, costs.sandbox_commits, rng) if new_sandbox else 0.0  # NewSandbox's record
        for network in nets:
            hold = endpoint_hold(costs, network.driver, rng) + join_hold(costs, network.driver, rng) + sandbox
            sandbox = 0.0
            took = min(hold, budget)
            wait = self.store.hold(at, took)
            at += wait + took
            queued += wait
        return queued

    def _join(self, container: Container, other_name: str) -> None:
        """``container:NAME`` shares NAME's namespace: NAME must be running (dockerd: 409)."""
        other = self.containers.get(other_name)
        if other is None:
            raise ApiError(404, f"No such container: {other_name}")
        if other.state != RUNNING:
            raise ApiError(409, f"cannot join network of a non running container: {other.id}")

    def _endpoint(self, network: Network, container: Container) -> None:
        if container.id in network.endpoints:
            return
        wanted = self._requested.get(container.id, {}).get(network.name) if self._requested else None
        if wanted is not None:
            refused = network.allocate_at(wanted)
            if refused is not None:
                raise ApiError(500 if refused.startswith("no ") else 403, f"{SETUP_FAILED}: {refused}")
            network.endpoints[container.id] = wanted
            return
        address = network.allocate()
        if address is None:
            raise ApiError(500, f"{SETUP_FAILED}: no available IPv4 addresses on this "
                                f"network's address pools: {network.name} ({network.id})")
        network.endpoints[container.id] = address

    def detach(self, container: Container) -> None:
        """The process exited (or its start failed): ports unbound, addresses and port rules released."""
        self.kernel.unbind(container.name)
        for network in self._attached.get(container.id, ()):
            network.release(container.id)
        self.rules -= self._port_rules.pop(container.id, 0)

    def endpoint_rules(self, nets: list[Network]) -> int:
        """The iptables rules dockerd keeps for an endpoint on each of ``nets`` (Docker 28's raw-table DROP of the
        container's address from other interfaces: ``networking.endpoint_rules`` per bridge network with NAT)."""
        per_endpoint = self.costs.endpoint_rules
        if not per_endpoint:
            return 0
        return per_endpoint * _external(nets)

    def endpoint_flush(self, nets: list[Network]) -> float:
        """CPU-seconds the flushes of the host's conntrack table for a container's endpoints on ``nets`` spend on the
        tracked connections (libnetwork's ``clearConntrackEntries``, one flush a bridge endpoint with external
        connectivity, at start and again at the exit). The walk of an empty table (9.9 ms at 262,144 buckets) is
        inside ``runtime.netns`` and the exit's costs, measured with it; 0 when nothing else is tracked."""
        if self.entries_flush <= 0.0:
            return 0.0
        return self.entries_flush * _external(nets)

    def _flush(self, subject: str, work: float, job: int) -> Generator[Any, Any, None]:
        """``work`` CPU-seconds of a start's conntrack flushes on dockerd's cgroup, recorded as a CONNTRACK span (the
        exit's: teardown.py)."""
        began = self.env.now
        yield self.kernel.dockerd.run(work, 1.0).done
        self.recorder.span(SpanKind.CONNTRACK, subject, began, self.env.now, host=self.host, job=job,
                           entries=self.costs.conntrack_entries, at="start")

    def rule_work(self, rules: int) -> float:
        """CPU-seconds of ``rules`` endpoint rules checked and appended (or checked and deleted): two ``iptables``
        processes each."""
        return 2 * rules * self.costs.iptables_run

    def _check_and_append(self, subject: str, rules: int, job: int) -> Generator[Any, Any, None]:
        """Endpoint rules at start beyond one endpoint's: each checked (``iptables -C``) and appended (``-A``), two
        ``iptables`` processes of dockerd's, CPU in its cgroup and no lock between them (iptables-nft)."""
        began, work = self.env.now, self.rule_work(rules)
        if work > 0.0:
            yield self.kernel.dockerd.run(work, 1.0).done
        self.recorder.span(SpanKind.IPTABLES, subject, began, self.env.now, host=self.host, job=job, rules=rules,
                           table=self.rules, wait=0.0)

    def rules_work(self, rules: int, checks: int, table: int) -> float:
        """CPU-seconds of ``rules`` rules checked and appended (or checked and deleted) on a table of ``table`` rules
        before them (or after them), and ``checks`` checks of their own: one ``iptables`` process each, each rule's
        pair costing ``iptables_per_rule`` for every rule in the table as it grows (or shrinks)."""
        costs = self.costs
        return ((2 * rules + checks) * costs.iptables_run
                + costs.iptables_per_rule * (rules * table + rules * (rules - 1) / 2))

    def deletion_waits(self, rules: int) -> float:
        """What ``rules`` deletions' commits wait beyond their processes' CPU (``rule_delete_wait`` each)."""
        wait = self.costs.rule_delete_wait
        return rules * wait.mean if wait.is_constant else sum(wait.sample(self.rng) for _ in range(rules))

    def port_work(self, ports: int, rules: int, table: int) -> float:
        """``rules_work`` of ``ports`` published ports' ``rules``, with each port's ``port_checks``."""
        return self.rules_work(rules, ports * self.costs.port_checks, table)

    def _program(self, subject: str, change: int, checks: int, extra: float, job: int) -> Generator[Any, Any, None]:
        """``change`` rules checked and added (or, when negative, checked and deleted, each deletion then committed)
        and ``checks`` checks of their own on the table as it is once the lock is this call's (``rules_work``:
        additions see the rules before them, deletions the table without them), and ``extra`` CPU-seconds more (the
        ports' proxies and conntrack flushes), dockerd's CPU, one container's ports (or one network's rules) at a
        time."""
        env, rules = self.env, abs(change)
        asked = env.now
        with self.port_lock.request() as lock:
            yield lock
            waited = env.now - asked
            table = self.rules if change > 0 else self.rules + change
            self.rules += change
            work = self.rules_work(rules, checks, table) + extra
            if work > 0.0:
                yield self.kernel.dockerd.run(work, 1.0).done
            deletions = self.deletion_waits(rules) if change < 0 else 0.0
            if deletions > 0.0:
                yield env.timeout(deletions)
        self.recorder.span(SpanKind.IPTABLES, subject, asked, env.now, host=self.host, job=job, rules=change,
                           table=self.rules, wait=waited)


def _external(nets: list[Network]) -> int:
    """How many of ``nets`` give an endpoint external connectivity (bridge networks that are not internal): each
    has Docker 28's endpoint rule and libnetwork's conntrack flushes."""
    return sum(1 for network in nets if network.driver == "bridge" and not network.internal)


def _joined(errors: list[str]) -> str:
    """moby's internal/multierror.Join: one error as it is, several as a list."""
    if len(errors) == 1:
        return errors[0].strip()
    return "* " + "\n* ".join(error.replace("\n", "\n\t") for error in errors)
