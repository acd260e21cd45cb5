"""Networks, volumes and mounts (docs/networks-storage.md): what a host group declares at time 0, a
container's ``network`` and ``mounts``, and what network modes cost."""

from __future__ import annotations

import ipaddress
import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from dsim.distributions import constant
from dsim.domain.networking import (
    BRIDGE_TEARDOWN_S,
    CONNTRACK_BUCKET_SCAN_S,
    CONNTRACK_ENTRY_SCAN_S,
    IFACE_RETURN_S,
    IPTABLES_RUN_S,
    PORT_RELEASE_S,
    PROXY_START_S,
    RULE_DELETE_WAIT_S,
    SETKEY_HOOK_S,
    VETH_RTNL_S,
    VETH_TEARDOWN_S,
)
from dsim.scenarios.fields import FiniteDuration, FiniteDurationDist, FiniteSize, Rate, Size
from dsim.scenarios.model.base import PositiveInt, Strict

#: dockerd's rule for network and volume names (moby daemon/names: [a-zA-Z0-9][a-zA-Z0-9_.-]*)
NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")


class NetworkDef(Strict):
    """``docker network create NAME`` before time 0: a user-defined bridge network on each host of the group."""

    subnet: str | None = Field(
        None, description="CIDR, e.g. 10.10.0.0/24; default the next free subnet of dockerd's default address "
        "pools (172.18.0.0/16, 172.19.0.0/16, ... then 192.168.0.0/20, ...; libnetwork ipamutils)",
    )
    internal: bool = Field(False, description="--internal: no route outside the network")

    @field_validator("subnet")
    @classmethod
    def _cidr(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            network = ipaddress.IPv4Network(value)
        except ValueError:
            raise ValueError(f"invalid subnet {value!r} (expected an IPv4 CIDR such as 10.10.0.0/24)") from None
        if network.prefixlen > 30:
            raise ValueError(f"subnet {value}: too small for a gateway and a container (at most /30)")
        return value


class Mount(Strict):
    """``--mount``: a volume (named; anonymous without ``source``), a bind mount of a host path, or a tmpfs."""

    type: Literal["volume", "bind", "tmpfs"] = Field("volume", description="volume | bind | tmpfs")
    source: str | None = Field(None, description="volume: its name (made on first use); bind: the host path")
    target: str = Field(description="the path in the container")
    writes: FiniteSize = Field(
        0.0, description="bytes each run writes into it: volume and bind at the disk's write rate (a volume's "
        "bytes stay on the host's disk), tmpfs into memory counted against the container's --memory",
    )
    size: Size | None = Field(None, description="tmpfs-size: writes beyond it fail with no space left on device")

    @model_validator(mode="after")
    def _check(self) -> Mount:
        if self.type == "bind" and not self.source:
            raise ValueError("a bind mount needs a source (the host path)")
        if self.type == "tmpfs" and self.source:
            raise ValueError("a tmpfs mount takes no source")
        if self.type == "volume" and self.source is not None and not NAME.match(self.source):
            raise ValueError(f"invalid volume name {self.source!r}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
        if self.size is not None and self.type != "tmpfs":
            raise ValueError("size is for tmpfs mounts only")
        if not self.target.startswith("/"):
            raise ValueError(f"invalid mount target {self.target!r}: an absolute path")
        return self


class Networking(Strict):
    """What network modes cost when a container starts (components/networks.py). ``bridge`` pays
    ``runtime.netns`` (namespace + veth pair under the kernel's rtnl lock) and, per published port, its iptables
    and docker-proxy processes, one container's ports at a time; ``none`` pays the namespace share of
    ``runtime.netns``; ``host`` and ``container:NAME`` pay nothing."""

    namespace_share: float = Field(
        0.5, ge=0, le=1, description="share of runtime.netns that is the namespace itself (none pays only this; "
        "the rest is the veth pair and the bridge port). dsim's split of Khan's 8-10ms, like runtime's",
    )
    iptables_per_rule: FiniteDuration = Field(
        10e-6, description="CPU per rule already in the table, for each rule a container's published ports add "
        "(at start) or delete (at the exit): a check (iptables -C) lists the chain, about 9us a rule with "
        "iptables-nft 1.8.9 (1.16ms on an empty chain, 3.88ms with 300 rules); 10us (moby#53466: 20-40us per "
        "published port per existing rule)",
    )
    rules_per_port: PositiveInt = Field(
        2, description="rules one published port adds, each checked (-C) and appended at start, checked and "
        "deleted at the exit: nat DNAT and filter ACCEPT (Docker 28 with the userland proxy, its default; strace of "
        "Docker 28.5.2); 3 with --userland-proxy=false or before Docker 28 (also the hairpin nat MASQUERADE)",
    )
    port_checks: int = Field(
        3, ge=0, description="iptables checks (-C) per published port at start and again at the exit beyond its "
        "rules' own: Docker 28's raw-table DROP of the port from other interfaces, checked twice, and the hairpin "
        "MASQUERADE's check when the userland proxy is on (strace of Docker 28.5.2: 7 iptables processes a port at "
        "start and 7 at the exit); 2 with --userland-proxy=false; 0 before Docker 28",
    )
    proxies_per_port: int = Field(
        2, ge=0, description="docker-proxy processes dockerd starts per published port (one for IPv4, one for IPv6; "
        "strace of Docker 28.5.2); 0 with --userland-proxy=false",
    )
    proxy_start: FiniteDuration = Field(
        PROXY_START_S, description="CPU of starting one docker-proxy: 2.25ms. Docker 28.5.2 on 2 vCPUs took 15.0ms a "
        "published tcp port at start for 7 iptables processes and 2 proxies (tools/real_docker.py ports --proto tcp): "
        "(15.0 - 7 x 1.5) / 2",
    )
    port_release: FiniteDuration = Field(
        PORT_RELEASE_S, description="dockerd's own work per published port at the exit beyond its iptables processes "
        "and deletions (the port released, its proxies stopped), a wait as the rest of the teardown is: 1.7ms. "
        "Docker 28.5.2 took 37.1 (tcp) and 37.6ms (udp) a port at the exit for 7 processes and 2 deletions, 48.2 and "
        "50.0ms with --userland-proxy=false for 7 processes and 3 deletions: 1.8, 2.3, 0.5 and 2.3ms beyond them",
    )
    udp_port_flushes: int = Field(
        4, ge=0, description="flushes of the conntrack table per published udp port at start (libnetwork's "
        "DeleteConntrackEntriesByPort, IPv4 and IPv6, dockerd's CPU; a tcp port's entries are not flushed): 4 with "
        "the userland proxy, 2 with --userland-proxy=false (strace of Docker 28.5.2: a udp port's start took 39.1ms "
        "more than a tcp port's, 4 flushes of 9.9ms)",
    )
    conntrack_bucket_scan: FiniteDuration = Field(
        CONNTRACK_BUCKET_SCAN_S, description="CPU per bucket of the conntrack hash table of one flush: a netlink dump "
        "of the table, which the kernel answers by walking every bucket (0.63 to 19.8ms at 16,384 to 524,288 buckets, "
        "Linux 6.18 on an AMD EPYC: 37.8ns a bucket)",
    )
    conntrack_buckets: PositiveInt | None = Field(
        None, description="the host's conntrack buckets (nf_conntrack_buckets); default: what Linux sizes from the "
        "host's memory (262,144 above 4 GiB, 65,536 above 1 GiB, else memory / 128 KiB, at least 1,024)",
    )
    conntrack_entries: int = Field(
        0, ge=0, description="connections the host's conntrack table tracks beside what dsim models "
        "(nf_conntrack_count: a busy host's NAT'd flows). Every flush walks them: a udp port's at start, and a "
        "bridge endpoint's own at start and at its exit (an empty table's flush is inside runtime.netns and the "
        "exit's measured costs)",
    )
    conntrack_entry_scan: FiniteDuration = Field(
        CONNTRACK_ENTRY_SCAN_S, description="dockerd's CPU per tracked connection of one flush: 3.05us. Docker 28.5.2 "
        "on 2 vCPUs with 50,000 and 150,000 entries: a bridge container's start 152.6 and 464.6ms longer, its exit "
        "170.1 and 468.4ms (one flush each)",
    )
    base_rules: int = Field(20, ge=0, description="rules dockerd installs at start (its chains and the default bridge)")
    rules_per_network: int = Field(
        8, ge=0, description="rules each user-defined bridge network adds, each checked (-C) and added at docker "
        "network create, checked and deleted at docker network rm, one iptables process each (iptables_run, dockerd's "
        "CPU; a deletion then waits rule_delete_wait): nat MASQUERADE and DOCKER RETURN, filter isolation stages 1 and "
        "2, DOCKER-FORWARD, DOCKER-CT, DOCKER-BRIDGE and DOCKER (strace of Docker 28.5.2); 6 before Docker 28",
    )
    network_checks: int = Field(
        11, ge=0, description="iptables checks (-C) a network's creation makes beyond its rules' own: 27 processes "
        "for 8 rules on Docker 28.5.2 (strace); docker network create took 70ms there, 2 vCPUs",
    )
    network_rm_checks: int = Field(
        3, ge=0, description="the same at its removal: 19 processes for 8 deletions on Docker 28.5.2 (strace)",
    )
    bridge_teardown: FiniteDurationDist = Field(
        constant(BRIDGE_TEARDOWN_S), description="deleting a network's bridge device at docker network rm, after its "
        "rules are deleted: a wait outside every lock. 55ms: ip link del of a bridge that is up, less the ip "
        "process's own time, Linux 6.18 on 2 vCPUs (tools/real_docker.py netops); with it and the rules' 127.7ms, "
        "docker network rm takes 182.7ms against the 174ms Docker 28.5.2 took there",
    )
    endpoint_commits: int = Field(
        1, ge=0, description="libnetwork store commits of every endpoint (host and none networks too), made under "
        "its network's lock in CreateEndpoint, so a storm of starts on one network queues there: the endpoint "
        "record (moby daemon/libnetwork/network.go); Docker 24 to 28.0: 2 (also the network's endpoint count), "
        "Docker 23 and earlier: 2",
    )
    bridge_commits: int = Field(
        1, ge=0, description="further commits of a bridge network's endpoint under the same lock: the bridge "
        "driver's endpoint record (drivers/bridge CreateEndpoint); Docker 23 and earlier: 2 (also the default "
        "IPAM's address bitmap)",
    )
    store_commit: FiniteDurationDist = Field(
        constant(0.002), description="one commit of libnetwork's local store (a bbolt file: one writer at a time, "
        "each commit fdatasynced; https://github.com/etcd-io/bbolt); 2ms like daemon.metadata_commit: cloud SSDs "
        "flush in single-digit milliseconds. Idle, the commits are part of runtime.start's 454ms",
    )
    bridge_rate: Rate = Field(
        4.024e9, description="the bridge (docker0 and the veth pairs) as a link of the network model between the "
        "host's containers, shared by the service calls crossing it: 4,024MB/s, qperf tcp_bw between two containers "
        "on one host's bridge (yangwwei.github.io/2017/11/22/docker-network-tests.html)",
    )
    bridge_latency: FiniteDuration = Field(
        1.14e-6, description="what crossing the bridge adds one way: 1.14us, qperf tcp_lat between two containers "
        "on one host's bridge (9.04us) less between two on its host network (7.9us); across two hosts the bridges "
        "added 2.5us, two crossings (yangwwei.github.io/2017/11/22/docker-network-tests.html)",
    )
    loopback_latency: FiniteDuration = Field(
        7.9e-6, description="one way between two processes of one host through its TCP stack, paid by every call "
        "that stays on the host: 7.9us, qperf tcp_lat between two containers on the host network "
        "(yangwwei.github.io/2017/11/22/docker-network-tests.html)",
    )
    netns_teardown: FiniteDurationDist = Field(
        constant(0.0), description="deleting a container's network namespace and veth pair when its process exits "
        "(dockerd's Cleanup before the exit is final), held under the kernel's rtnl lock like runtime.netns, so "
        "teardowns and starts queue together. 0 since Linux 5.19; on older kernels 46.2ms: `unshare -n true` "
        "(create + destroy a namespace) took 47.7ms before Florian Westphal's patches replaced synchronize_net() "
        "on the namespace exit path with call_rcu() (5.19) and 1.5ms after "
        "(https://www.redhat.com/sysadmin/speed-oci-containers)",
    )
    veth_teardown: FiniteDurationDist = Field(
        constant(VETH_TEARDOWN_S), description="deleting a bridge endpoint's veth pair at the exit's teardown (the "
        "bridge driver's DeleteEndpoint), after libnetwork's commits and before docker rm can go on: the kernel's "
        "RCU grace periods as the device unregisters, waited out one deletion at a time on the host, since dockerd "
        "sends them all through the bridge driver's one netlink handle, whose socket is locked for a request's round "
        "trip. 19.5ms: ip link del of a veth pair less the ip process's own time, Linux 6.18 on 2 vCPUs (16 ip "
        "processes at once took 59ms; docs/containers.md: Teardown)",
    )
    veth_rtnl: FiniteDuration = Field(
        VETH_RTNL_S, description="the part of a veth pair's deletion (veth_teardown) under the kernel's rtnl lock: the "
        "deletion's request, holding the bridge driver's netlink handle, waits for the lock behind its other holders "
        "(the starts' netns steps, the interfaces' returns), then holds it this long. 2.2ms: 16 ip link del at once "
        "took 50-58ms against 19.7-23.7ms for one (tools/real_docker.py netops; docs/containers.md: Teardown)",
    )
    iface_return: FiniteDurationDist = Field(
        constant(IFACE_RETURN_S), description="moving a bridge endpoint's interface back to the host's namespace "
        "at the exit's teardown, before its veth pair is deleted (libnetwork osl RemoveInterface: down, renamed, "
        "LinkSetNsFd; every Docker), under the kernel's rtnl lock like runtime.netns: 17ms, ip link set netns 1 of "
        "a veth end less the ip process's own time, Linux 6.18 on 2 vCPUs; 16 at once took 372-428ms, one at a "
        "time (tools/real_docker.py netops)",
    )
    endpoint_rules: int = Field(
        1, ge=0, description="iptables rules dockerd keeps per endpoint on a bridge network that is not internal: "
        "Docker 28.0 and later drop packets for the container's address that come from other interfaces (the raw "
        "table's PREROUTING, moby's filterDirectAccess; seen with strace on Docker 28.5.2 for a container without "
        "published ports). Each is checked (-C) and appended at start and checked and deleted at the exit, one "
        "iptables process each (iptables_run). runtime.start counts one endpoint's at start (its 454ms are Khan's, "
        "measured on a Docker of 2026), so a bridge run keeps its 568ms and a host or none run is that much shorter; "
        "0 before Docker 28 (docs/containers.md: Teardown)",
    )
    iptables_run: FiniteDuration = Field(
        IPTABLES_RUN_S, description="CPU of one iptables process dockerd runs (a -C, -A or -D of one rule): 1.5ms "
        "(iptables-nft 1.8.9; 16 appends at once ran side by side: no lock; Docker 28.5.2's docker network create ran "
        "27 for 47ms of dockerd's CPU). An endpoint's rule at start runs inside runc create's step, published ports' "
        "and networks' rules on dockerd's cgroup; at a container's exit a wait, as the rest of the teardown is",
    )
    rule_delete_wait: FiniteDurationDist = Field(
        constant(RULE_DELETE_WAIT_S), description="what deleting a rule (an endpoint's or a published port's) "
        "waits beyond its CPU, one "
        "deletion at a time on the host: 12.4ms (iptables -D 13.9-14.1ms against a -C's 1.6-1.7ms; 16 deletions "
        "at once 213-243ms: nf_tables commits them one at a time)",
    )
    setkey_hook: FiniteDurationDist = Field(
        constant(SETKEY_HOOK_S), description="runc's prestart hook for a container with a network namespace of its "
        "own (bridge, none, user networks) in Docker before 28.0: runc execs dockerd's binary (libnetwork-setkey), "
        "which hands the namespace to dockerd, which configures it. Part of runtime.start, which host and "
        "container:NAME containers pay without it; its CPU share is runtime.cpu.setkey_hook. 0 since Docker 28.0, "
        "whose dockerd sets the namespace up itself once the task exists (moby#52488); 49ms for Docker 23-27 (the "
        "hook process); 105ms before 23, whose dockerd also re-executed itself to disable IPv6 in the namespace "
        "(moby#44491): docker start with --network none less with host on Docker 20.10.24 "
        "(tools/real_docker.py; docs/networks-storage.md: Measuring the setkey hook)",
    )
    sandbox_commits: int = Field(
        1, ge=0, description="commits of the container's sandbox record (libnetwork sbState) to the same store, "
        "for every mode but container:NAME: written when the sandbox is made at start (moby "
        "daemon/libnetwork/controller.go NewSandbox: storeUpdate) and deleted at the exit's teardown (sandbox.go "
        "delete: storeDelete); the same in Docker 20.10 (libnetwork bump_20.10)",
    )
    join_commits: int = Field(
        2, ge=0, description="commits per endpoint when it joins the sandbox at start: the sandbox record updated "
        "with it (sandbox_linux.go populateNetworkResources: storeUpdate) and the endpoint record with its "
        "sandbox (endpoint.go sbJoin: storeEndpoint); the same in Docker 20.10",
    )
    leave_commits: int = Field(
        1, ge=0, description="commits per endpoint when it leaves the sandbox at the exit's teardown: the endpoint "
        "record (endpoint.go sbLeave: storeEndpoint; the sandbox being deleted is not updated); the same in "
        "Docker 20.10",
    )
    bridge_join_commits: int = Field(
        1, ge=0, description="commits of a bridge endpoint's driver record when its external connectivity is "
        "programmed at join and revoked at leave, one each (drivers/bridge ProgramExternalConnectivity: "
        "storeUpdate; Docker 20.10: ProgramExternalConnectivity and RevokeExternalConnectivity)",
    )


class RmOptions(Strict):
    """``docker rm`` of a container of this job (default its most recent one)."""

    container: str | None = None
    volumes: bool = Field(False, description="-v: remove its anonymous volumes too (named volumes always stay)")
