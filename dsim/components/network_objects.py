"""libnetwork's objects on one host: networks, their subnets from dockerd's default address pools, and the
addresses of their endpoints (lowest free address first, released when a container's process exits). The costs of
joining them are networks.py's."""

from __future__ import annotations

import hashlib
import heapq
import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass, field

#: dockerd's default address pools (libnetwork ipamutils, Docker 28): the default bridge takes the first
#: /16, each user-defined network the next free subnet; 15 /16 networks in 172.17-172.31, then 16 /20s.
DEFAULT_POOLS: tuple[tuple[str, int], ...] = (
    ("172.17.0.0/16", 16), ("172.18.0.0/16", 16), ("172.19.0.0/16", 16), ("172.20.0.0/14", 16),
    ("172.24.0.0/14", 16), ("172.28.0.0/14", 16), ("192.168.0.0/16", 20),
)

Address = ipaddress.IPv4Address
Subnet = ipaddress.IPv4Network


def default_subnets() -> Iterator[Subnet]:
    """Every subnet of the default pools, in the order dockerd hands them out."""
    for base, size in DEFAULT_POOLS:
        yield from ipaddress.IPv4Network(base).subnets(new_prefix=size)


@dataclass(eq=False)
class Network:
    """One network: its subnet and gateway (bridge driver), the running containers' endpoints."""

    id: str
    name: str
    driver: str  # bridge | host | null
    subnet: Subnet | None
    internal: bool
    created: float
    builtin: bool
    #: its subnet given by the user (``--subnet``, a scenario's ``subnet``): ``--ip`` may then pick an address
    configured: bool = False
    #: container ID -> its address, while its process runs (libnetwork's active endpoints)
    endpoints: dict[str, Address] = field(default_factory=dict)
    #: offsets in the subnet given out and then released (a min-heap), and the next never given out
    _released: list[int] = field(default_factory=list)
    _next: int = 2
    #: the subnet's first address and its size as ints, worked out once (ipaddress recomputes both per read)
    _base: int = field(init=False, default=0)
    _size: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        if self.subnet is not None:
            self._base = int(self.subnet.network_address)
            self._size = self.subnet.num_addresses

    @property
    def gateway(self) -> Address | None:
        return None if self.subnet is None else self.subnet.network_address + 1

    @property
    def dns(self) -> bool:
        """Embedded DNS (127.0.0.11) answers container names on user-defined networks, not on the default
        bridge (docs: Networking overview, 'Container DNS')."""
        return self.driver == "bridge" and not self.builtin

    def allocate(self) -> Address | None:
        """The lowest free address (libnetwork's bitmap allocator, non-serial for local networks): the
        network's first address is the subnet, the next the gateway (.1), the last the broadcast. Every
        free offset below ``_next`` is in the heap, so its smallest, else ``_next``, is the lowest free."""
        assert self.subnet is not None
        offset = self._free_offset()
        if offset is None:
            return None
        if self._released:
            heapq.heappop(self._released)
        else:
            self._next += 1
        return Address(self._base + offset)

    def allocate_at(self, address: Address) -> str | None:
        """Give ``address`` (``--ip``); what libnetwork's IPAM says when it cannot (outside the subnet, the
        subnet's own, gateway or broadcast address, or in use), else None."""
        offset = int(address) - self._base
        if offset == 1:  # the gateway's
            return "Address already in use"
        if self.subnet is None or not 2 <= offset < self._size - 1:
            return f"no configured subnet or ip-range contain the IP address {address}"
        if offset >= self._next:
            for free in range(self._next, offset):
                heapq.heappush(self._released, free)
            self._next = offset + 1
        elif offset in self._released:
            self._released.remove(offset)
            heapq.heapify(self._released)
        else:
            return "Address already in use"
        return None

    def next_free(self) -> Address | None:
        """The address ``allocate`` would give now, without giving it."""
        offset = self._free_offset() if self.subnet is not None else None
        return None if offset is None else Address(self._base + offset)

    def _free_offset(self) -> int | None:
        if self._released:
            return self._released[0]
        return self._next if self._next < self._size - 1 else None

    def release(self, container_id: str) -> None:
        """The container's address goes back to the pool."""
        address = self.endpoints.pop(container_id, None)
        if address is not None and self.subnet is not None:
            heapq.heappush(self._released, int(address) - self._base)


def network_id(*parts: object) -> str:
    """A network's ID, derived from what names it (deterministic across processes)."""
    return hashlib.sha256(" ".join(map(str, ("dsim-network", *parts))).encode()).hexdigest()
