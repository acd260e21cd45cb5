"""What a container's commands see of the daemon's networks: the addresses they reach and how long a round trip
takes, the names they resolve, and the ``/etc/hosts`` Docker wrote for them.

The rules are Docker's (https://docs.docker.com/engine/network/, "Container DNS" and "Published ports"; the
tutorial https://docs.docker.com/engine/network/tutorials/standalone/ shows them with ``ping``):
- a container on a bridge network reaches the other containers running on that network and the host (every
  network's gateway is one of the host's addresses); the networks are isolated from each other (dockerd's
  ``DOCKER-ISOLATION`` chains), so a container on another network gets no answer; an ``internal`` network has
  no route off its own subnet;
- names: the container's ``/etc/hosts`` (``localhost``, its own hostname, ``--add-host``), then Docker's embedded
  DNS, which answers on user-defined networks only, with the names of the containers on the networks the asker
  shares with them (the name, the aliases, the short ID: moby ``buildEndpointDNSNames``); the default bridge has
  no embedded DNS, so ``ping web`` there ends in ``bad address``;
- ``--network host`` is the host's own stack (every bridge network's containers and gateways), ``none`` has only
  its loopback, ``container:NAME`` is NAME's;
- the daemon's host has no Internet in the model: no other name resolves and no other address answers.

A round trip is the network model's (docs/networks-storage.md): the host's TCP stack each way
(``networking.loopback_latency``), plus the bridge each way when one end is behind it (``bridge_latency``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from dsim.components.container import Container
from dsim.components.network_objects import Network
from dsim.components.networks import NetworkStack

#: Docker's lines of every container's /etc/hosts, before its extra hosts and its own addresses (moby
#: daemon/libnetwork/etchosts/etchosts.go: ``defaultContentIPv4`` and ``defaultContentIPv6``)
DEFAULT_HOSTS = (("127.0.0.1", "localhost"), ("::1", "localhost ip6-localhost ip6-loopback"),
                 ("fe00::", "ip6-localnet"), ("ff00::", "ip6-mcastprefix"), ("ff02::1", "ip6-allnodes"),
                 ("ff02::2", "ip6-allrouters"))


@dataclass(frozen=True)
class NetView:
    """One container's view of the networks at one instant. ``hosts``: its /etc/hosts records (address, names);
    None: the host's file, which the model does not know (``--network host``)."""

    #: the container's own IPv4 addresses, one per network it is on (none before it runs)
    addresses: tuple[str, ...] = ()
    hosts: tuple[tuple[str, str], ...] | None = DEFAULT_HOSTS
    #: the embedded DNS's answers: name -> address (names compared without case, as DNS does)
    names: tuple[tuple[str, str], ...] = ()
    #: the addresses that answer, with their round trip in seconds
    peers: tuple[tuple[str, float], ...] = ()
    #: the round trip on the container's own stack (its loopback and its own addresses)
    loopback: float = 0.0

    def resolve(self, name: str) -> str | None:
        """The IPv4 address ``name`` stands for: itself when it is one, else /etc/hosts, else the embedded DNS."""
        try:
            return str(ipaddress.IPv4Address(name))
        except ValueError:
            pass
        for address, names in self.hosts or ():
            if name in names.split() and ":" not in address:
                return address
        wanted = name.lower()
        return next((address for known, address in self.names if known.lower() == wanted), None)

    def round_trip(self, address: str) -> float | None:
        """Seconds from a packet sent to ``address`` to its answer; None when nothing answers."""
        if address in self.addresses or ipaddress.IPv4Address(address).is_loopback:
            return self.loopback
        return next((rtt for peer, rtt in self.peers if peer == address), None)

    def hosts_file(self) -> str | None:
        return None if self.hosts is None else "".join(f"{address}\t{names}\n" for address, names in self.hosts)


def dns_names(name: str, docker_id: str, aliases: Iterable[str]) -> list[str]:
    """The names the embedded DNS answers for a container's endpoint on a user-defined network: its name, its
    aliases, its short ID (moby ``buildEndpointDNSNames``)."""
    return list(dict.fromkeys([name, *aliases, docker_id[:12]]))


@dataclass(frozen=True)
class Member:
    """A container of the daemon as the others' name lookups see it."""

    docker_id: str
    container: Container
    #: network name -> the endpoint's aliases there
    aliases: Mapping[str, list[str]]


def net_view(stack: NetworkStack, mode: str, container: Container | None, hostname: str, members: Iterable[Member],
             extra_hosts: Iterable[str] = ()) -> NetView:
    """The view now of a container of network ``mode``: its networks (those it is connected to; before it runs or
    exists, its mode's), what answers on them, the names it resolves. ``members``: every container of the
    daemon; ``extra_hosts``: ``--add-host`` as the API gives them (``name:address``, ``host-gateway``)."""
    if mode.startswith("container:"):
        owner = stack.containers.get(mode.partition(":")[2])
        if owner is not None:
            return net_view(stack, owner.spec.network, owner, hostname, members, extra_hosts)
    costs = stack.costs
    stack_rtt, bridged_rtt = 2 * costs.loopback_latency, 2 * (costs.loopback_latency + costs.bridge_latency)
    bridges = [network for network in stack.networks.values() if network.driver == "bridge"]
    if mode == "host":
        return NetView(hosts=None, peers=_answering(bridges, on=bridges, rtt=bridged_rtt), loopback=stack_rtt)
    attached: list[Network | None] = list(stack.networks_of(container)) if container is not None else []
    joined = [n for n in attached or [stack.networks.get(mode)] if n is not None and n.driver == "bridge"]
    others = [network for network in bridges if network not in joined]
    routed = any(not network.internal for network in joined)  # an internal network has no route off it
    peers = _answering(joined, on=joined, rtt=bridged_rtt) + (_answering([], on=others, rtt=bridged_rtt)
                                                              if routed else ())
    if container is not None:
        addresses = tuple(str(a) for n in joined if (a := stack.address(container, n)) is not None)
    else:  # not created yet: the address its network would give it now (a command runs again at the start)
        addresses = tuple(str(a) for n in joined[:1] if (a := n.next_free()) is not None)
    gateway = str(stack.networks["bridge"].gateway)  # host-gateway: dockerd's default, the default bridge's
    extra = tuple(_extra_host(entry, gateway) for entry in extra_hosts)
    own = tuple((address, hostname) for address in addresses)
    return NetView(addresses=addresses, hosts=DEFAULT_HOSTS + extra + own,
                   names=_dns_answers(joined, members), peers=peers, loopback=stack_rtt)


def _answering(networks: list[Network], *, on: list[Network], rtt: float) -> tuple[tuple[str, float], ...]:
    """The running containers of ``networks`` and the gateways of ``on`` (the host's addresses)."""
    endpoints = [(str(address), rtt) for network in networks for address in network.endpoints.values()]
    gateways = [(str(network.gateway), rtt) for network in on if network.gateway is not None]
    return tuple(endpoints + gateways)


def _dns_answers(networks: list[Network], members: Iterable[Member]) -> tuple[tuple[str, str], ...]:
    """The embedded DNS's names on the user-defined networks among ``networks``: each running container's."""
    answers: list[tuple[str, str]] = []
    by_runtime_id = {member.container.id: member for member in members}
    for network in networks:
        if not network.dns:
            continue
        for runtime_id, address in network.endpoints.items():
            member = by_runtime_id.get(runtime_id)
            if member is not None:
                names = dns_names(member.container.name, member.docker_id, member.aliases.get(network.name, ()))
                answers += [(name, str(address)) for name in names]
    return tuple(answers)


def _extra_host(entry: str, gateway: str) -> tuple[str, str]:
    """``--add-host name:address`` as /etc/hosts writes it (address, name); the CLI sends ``name:address``, and
    ``host-gateway`` is the host's address on the default bridge (dockerd's ``host-gateway-ip`` by default)."""
    name, _, address = entry.partition(":")
    return (gateway if address == "host-gateway" else address), name
