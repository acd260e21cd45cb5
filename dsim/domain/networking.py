"""Networks, volumes and mounts as a daemon manages them (docs/networks-storage.md): the declarations a
host group makes at time 0, a container's mounts, and the costs of network modes."""

from __future__ import annotations

from dataclasses import dataclass

from dsim.distributions import Distribution, constant

#: Network modes that are not user networks: ``--network bridge | host | none`` (``container:NAME`` too).
BUILTIN_NETWORKS = ("bridge", "host", "none")


@dataclass(frozen=True, slots=True)
class NetworkDecl:
    """``docker network create NAME`` done before time 0 (a user-defined bridge network)."""

    name: str
    #: CIDR such as ``10.10.0.0/24``; None: the next free subnet of dockerd's default address pools
    subnet: str | None = None
    internal: bool = False


@dataclass(frozen=True, slots=True)
class MountSpec:
    """One ``--mount``: ``volume`` (named, or anonymous without ``source``), ``bind`` (a host path) or
    ``tmpfs`` (memory); ``writes``: bytes each run writes into it."""

    type: str
    target: str
    source: str | None = None
    writes: float = 0.0
    #: tmpfs only: its size limit (bytes; None: no limit beyond the container's memory)
    size: float | None = None


#: runc's libnetwork-setkey prestart hook, which Docker 28.0 dropped: since then dockerd sets the sandbox's key
#: itself once the task exists, in process (moby docker-v29 daemon/start_linux.go ``initializeCreatedTask``;
#: moby#52488: "no longer used as an OCI hook for regular containers since 28.0"; Docker 28.5.2 measured here:
#: ``--network none`` starts as fast as ``host``), so no hook by default. Docker 23-27: 49 ms, the hook process
#: alone (an exec of dockerd's binary under the shim: containerd's cgroup grew by 49 ms of CPU a run with
#: ``--network none`` against ``host`` on Docker 20.10.24, tools/real_docker.py cpu). Before 23: 105 ms, with
#: dockerd's re-exec of itself to disable IPv6 in the namespace (libnetwork osl ``setIPv6``, dropped by
#: moby#44491; ``docker start`` with ``--network none`` less with ``host`` on Docker 20.10.24). docs/networks-
#: storage.md: Measuring the setkey hook.
SETKEY_HOOK_S = 0.0
#: ``ip link del`` of a veth pair: 20.1 and 23.1 ms (medians of 10, two measurements) less the ``ip`` process's own
#: 2.1 ms (``ip link show lo``), Linux 6.18 on 2 vCPUs; 16 deleted at once took 59 ms, 16 one by one 262 ms, so
#: deletions by separate processes wait side by side (RCU grace periods), a few ms each under the rtnl lock (not
#: modelled); dockerd's pass one at a time through the bridge driver's netlink handle (components/teardown.py)
VETH_TEARDOWN_S = 0.0195
#: the part of a veth pair's deletion under the rtnl lock: 16 ``ip link del`` at once took 50-58 ms against
#: 19.7-23.7 ms for one, so each held the lock about (54 - 21.7) / 15 = 2.2 ms (the rest, the RCU grace periods,
#: outside it); the same measurement (tools/real_docker.py netops)
VETH_RTNL_S = 0.0022
#: ``ip link del`` of a bridge device that is up, as ``docker network rm`` deletes its network's: 53.7 and 56.0 ms
#: (medians of 20, two measurements, nothing else running; 31-40 ms with other work on the 2 vCPUs) less the ``ip``
#: process's own 2.4-2.9 ms, Linux 6.18 (tools/real_docker.py netops)
BRIDGE_TEARDOWN_S = 0.055
#: ``ip -n NS link set DEV netns 1`` of a veth end that is down (libnetwork osl ``RemoveInterface`` moves the
#: container's interface back to the host's namespace before its deletion): 18.1 and 20.8 ms (medians of 20, two
#: measurements) less the ``ip`` process's own 2.8-2.9 ms, Linux 6.18 on 2 vCPUs; 16 at once took 372 and 428 ms,
#: one at a time under the rtnl lock (tools/real_docker.py netops)
IFACE_RETURN_S = 0.017
#: one ``iptables`` process (iptables-nft 1.8.9, Debian 12): 1.5 ms of CPU for a -C, -A or -D of one rule (means of
#: 20; the wall time of a -C 1.6-1.7 ms, of a -A 2.3 ms; 16 -A at once 17-21 ms on 2 vCPUs: no lock between them).
#: Docker 28.5.2's ``docker network create`` ran 27 of them for 47 ms of dockerd's CPU with its children's, 1.76 ms
#: each (tools/real_docker.py netops and network)
IPTABLES_RUN_S = 0.0015
#: dockerd's own work per published port at the exit beyond its processes and deletions (the port's release, its
#: proxies stopped), a wait: Docker 28.5.2 on 2 vCPUs took 37.1 (tcp) and 37.6 ms (udp) a port at the exit with the
#: userland proxy, for 7 ``iptables`` processes and 2 deletions, and 48.2 and 50.0 ms without it, for 7 processes
#: and 3 deletions (medians of 5, 25 ports; tools/real_docker.py ports): 1.8, 2.3, 0.5 and 2.3 ms beyond 7 x 1.5
#: and the deletions' 12.4 ms each, 1.7 ms on average
PORT_RELEASE_S = 0.0017
#: one ``docker-proxy`` process started for a published port: with the userland proxy (Docker's default) a tcp port
#: took 15.0 ms at start for 7 ``iptables`` processes and 2 proxies, one for IPv4 and one for IPv6 (strace; medians
#: of 5, 25 ports, tools/real_docker.py ports --proto tcp): (15.0 - 7 x 1.5) / 2. Until session 57 dsim took the
#: udp figures for every port and put 13 ms here and 19.5 ms in a per-port setup: that was the udp ports'
#: conntrack flushes (``CONNTRACK_BUCKET_SCAN_S``)
PROXY_START_S = 0.00225
#: CPU per hash bucket of one flush of the conntrack table: libnetwork's ``clearConntrackEntries`` (drivers/bridge,
#: at an endpoint's ProgramExternalConnectivity and RevokeExternalConnectivity) deletes the entries of an address or
#: a udp port through netlink's ConntrackDeleteFilters, which dumps the whole table: the kernel walks every bucket
#: whatever the entries. A dump took 0.63, 2.96, 5.01, 9.94 and 19.82 ms of CPU at 16,384 to 524,288 buckets with
#: one entry (Linux 6.18, AMD EPYC, 2 vCPUs; netlink dumps timed by a script, medians of 20): 37.8 ns a bucket
CONNTRACK_BUCKET_SCAN_S = 37.8e-9
#: CPU per tracked connection of one flush: the dump carries every entry to dockerd, which parses each and keeps
#: those it deletes (vishvananda/netlink's ConntrackDeleteFilters). Docker 28.5.2 on 2 vCPUs with 50,000 and 150,000
#: entries in the table (udp flows kept alive by a long timeout): a bridge container's start took 152.6 and 464.6 ms
#: more than with none, its exit 170.1 and 468.4 ms more (medians of 8), one flush each: 3.12 and 2.98 us an entry
#: between the two sizes, 3.05 us on average; dockerd's CPU per flush 3.3 us an entry. Twice more with
#: tools/real_docker.py conntrack: 2.93-3.22 us an entry at start and at the exit, 3.22-3.45 us of CPU a flush
#: (Calico found the same linear scan: projectcalico/felix#1501)
CONNTRACK_ENTRY_SCAN_S = 3.05e-6


def default_conntrack_buckets(memory: float) -> int:
    """The conntrack hash table's buckets (``nf_conntrack_buckets``) Linux sizes from the machine's memory, in bytes,
    when no ``hashsize`` is given (net/netfilter/nf_conntrack_core.c, nf_conntrack_init_start, since Linux 4.7):
    262,144 above 4 GiB on a 64-bit kernel, 65,536 above 1 GiB, else a 16,384th of the memory in 8-byte heads, at
    least 1,024."""
    gib = 1024 ** 3
    if memory > 4 * gib:
        return 262_144
    if memory > gib:
        return 65_536
    return max(1024, int(memory // 16384 // 8))


#: a rule's deletion beyond its process's CPU: ``iptables -D`` took 13.9-14.1 ms against a -C's 1.6-1.7 ms (medians
#: of 20), and 16 at once 213-243 ms, one at a time: nf_tables commits a deletion under its commit mutex
RULE_DELETE_WAIT_S = 0.0124


@dataclass(frozen=True, slots=True)
class NetworkingSpec:
    """What network modes cost on one host (components/networks.py). Times in seconds."""

    #: share of ``runtime.netns`` that is the namespace itself: ``none`` pays only this share
    namespace_share: float = 0.5
    #: CPU per rule already in the table, for each rule a container's ports add or delete: a check (-C) lists the
    #: chain (iptables-nft -C: 1.16 ms on an empty chain, 3.88 ms with 300 rules, about 9 us a rule; moby#53466:
    #: 20-40 us per published port per existing rule)
    iptables_per_rule: float = 10e-6
    #: rules each published port adds: nat DNAT and filter ACCEPT, and with the userland proxy off the hairpin nat
    #: MASQUERADE (3); each checked and appended at start, checked and deleted at the exit
    rules_per_port: int = 2
    #: ``iptables`` checks (-C) per published port at start and again at the exit beyond its rules' own: Docker 28's
    #: raw-table DROP of the port from other interfaces, checked twice, and the hairpin MASQUERADE's check when the
    #: userland proxy is on (strace of Docker 28.5.2: 7 processes a port at start and 7 at the exit); 0 before 28
    port_checks: int = 3
    #: ``docker-proxy`` processes per published port (one for IPv4, one for IPv6); 0 with ``--userland-proxy=false``
    proxies_per_port: int = 2
    #: CPU of starting one ``docker-proxy``
    proxy_start: float = PROXY_START_S
    #: dockerd's own work per published port at the exit beyond its processes and deletions (a wait there, as the
    #: rest of the exit's work is)
    port_release: float = PORT_RELEASE_S
    #: flushes of the conntrack table per published udp port at start (libnetwork's DeleteConntrackEntriesByPort,
    #: IPv4 and IPv6): 4 with the userland proxy, 2 with ``--userland-proxy=false`` (strace of Docker 28.5.2); a tcp
    #: port's entries are not flushed
    udp_port_flushes: int = 4
    #: CPU per bucket of the conntrack table of one flush (dockerd's, in the kernel: a netlink dump walks every bucket)
    conntrack_bucket_scan: float = CONNTRACK_BUCKET_SCAN_S
    #: the host's conntrack buckets (``nf_conntrack_buckets``); None: Linux's default for the host's memory
    #: (``default_conntrack_buckets``)
    conntrack_buckets: int | None = None
    #: connections the host's conntrack table tracks (``nf_conntrack_count``) beside what dsim models: a busy host's
    #: NAT'd flows; every flush walks them, a bridge endpoint's at start and at its exit too
    conntrack_entries: int = 0
    #: CPU per tracked connection of one flush (dockerd parses every entry the dump carries)
    conntrack_entry_scan: float = CONNTRACK_ENTRY_SCAN_S
    #: rules dockerd installs at start for the default bridge and its chains
    base_rules: int = 20
    #: rules each user-defined bridge network adds (masquerade, isolation, forward, conntrack: Docker 28.5.2 appends or
    #: inserts 8), each checked and added at ``docker network create``, checked and deleted at ``docker network rm``
    rules_per_network: int = 8
    #: ``iptables`` checks a network's creation makes beyond its rules' own (Docker 28.5.2: 27 processes for 8 rules)
    network_checks: int = 11
    #: the same at its removal (Docker 28.5.2: 19 processes for 8 deletions)
    network_rm_checks: int = 3
    #: libnetwork store commits of every endpoint, under its network's lock (CreateEndpoint): the endpoint
    #: record (moby daemon/libnetwork/network.go createEndpoint); Docker 24 to 28.0 also the network's endpoint
    #: count, Docker 23 and earlier that and the IPAM bitmap (2 and, with bridge_commits, 4)
    endpoint_commits: int = 1
    #: further commits of a bridge network's endpoint: the bridge driver's endpoint record (drivers/bridge
    #: CreateEndpoint storeUpdate); Docker 23 and earlier also the default IPAM's address bitmap
    bridge_commits: int = 1
    #: one commit of libnetwork's local store (a bbolt file: one writer at a time, each commit fdatasynced)
    store_commit: Distribution = constant(0.002)
    #: the bridge (docker0 and the veth pairs) as a link between a host's containers: bytes/s, shared by
    #: the flows crossing it (qperf tcp_bw container to container on one host: 4,024 MB/s)
    bridge_rate: float = 4.024e9
    #: what crossing the bridge adds one way (qperf tcp_lat on one host: 9.04 us bridged - 7.9 us host network)
    bridge_latency: float = 1.14e-6
    #: one way between two processes of one host through its TCP stack (qperf tcp_lat, host network: 7.9 us)
    loopback_latency: float = 7.9e-6
    #: deleting a container's network namespace and veth pair when its process exits, under the kernel's rtnl
    #: lock (components/teardown.py): 0 since Linux 5.19, 46.2 ms before it (Scrivano: create + destroy 47.7 ms
    #: before Westphal's patches to the namespace exit path, 1.5 ms after)
    netns_teardown: Distribution = constant(0.0)
    #: deleting a bridge endpoint's veth pair at the exit's teardown (the bridge driver's DeleteEndpoint): the
    #: kernel's RCU grace periods as the device unregisters, one deletion at a time through the driver's netlink
    #: handle (components/teardown.py)
    veth_teardown: Distribution = constant(VETH_TEARDOWN_S)
    #: the part of it under the rtnl lock, which the deletion's request waits for behind the lock's other holders
    veth_rtnl: float = VETH_RTNL_S
    #: deleting a network's bridge device at ``docker network rm``, after its rules: a wait outside every lock
    bridge_teardown: Distribution = constant(BRIDGE_TEARDOWN_S)
    #: moving a bridge endpoint's interface back to the host's namespace at the exit's teardown, under the rtnl
    #: lock (libnetwork osl ``RemoveInterface``: down, renamed, ``LinkSetNsFd``), in every Docker
    iface_return: Distribution = constant(IFACE_RETURN_S)
    #: iptables rules dockerd keeps per endpoint on a bridge network with NAT (Docker 28.0 and later: the raw
    #: table's DROP of the container's address from other interfaces, moby's ``filterDirectAccess``); each is
    #: checked (-C) and appended at start, checked and deleted at the exit, one ``iptables`` process each; 0 before
    #: Docker 28. ``runtime.start`` counts one endpoint's at start (Khan's 568 ms are of a Docker of 2026)
    endpoint_rules: int = 1
    #: one ``iptables`` process of dockerd's: CPU at start (inside runc create's step for one endpoint's rule, in
    #: dockerd's cgroup for published ports), a wait at the exit (as the rest of the teardown is)
    iptables_run: float = IPTABLES_RUN_S
    #: a rule's deletion (an endpoint's or a published port's) waits this long beyond its CPU, one deletion at a time
    #: on the host
    rule_delete_wait: Distribution = constant(RULE_DELETE_WAIT_S)
    #: runc's prestart hook for a container with a network namespace of its own (bridge, none, user networks) in
    #: Docker before 28.0: runc execs dockerd's binary (``libnetwork-setkey``), which hands the namespace to dockerd,
    #: which configures it; part of ``runtime.start``, which host and container:NAME containers pay without it
    #: (``SETKEY_HOOK_S``)
    setkey_hook: Distribution = constant(SETKEY_HOOK_S)
    #: commits of the container's sandbox record (libnetwork ``sbState``) to the same store: written when the
    #: sandbox is made at start (controller.go NewSandbox) and deleted at the exit's teardown (sandbox.go delete)
    sandbox_commits: int = 1
    #: per endpoint, when it joins the sandbox at start: the sandbox record updated with it
    #: (populateNetworkResources) and the endpoint record with its sandbox (sbJoin's storeEndpoint)
    join_commits: int = 2
    #: per endpoint, when it leaves at the exit's teardown: the endpoint record (sbLeave's storeEndpoint; the
    #: sandbox being deleted is not updated)
    leave_commits: int = 1
    #: a bridge endpoint's external connectivity: the bridge driver's endpoint record when it is programmed at
    #: join (ProgramExternalConnectivity) and when it is revoked at leave
    bridge_join_commits: int = 1


DEFAULT_NETWORKING = NetworkingSpec()
