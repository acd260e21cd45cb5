"""dockerd's rules for a container's memory and PIDs limits (moby daemon/daemon_unix.go
``verifyPlatformContainerResources`` and ``adaptContainerSettings``, container/container_unix.go
``UpdateContainer``), shared by dsim serve's API (create and update) and Compose files.

- ``Memory``: 0 is none, anything else at least 6 MB. ``MemorySwap`` is memory plus swap: -1 unlimited, 0 (with a
  memory limit) twice the memory at create; not below the memory, and at create not without a memory limit.
  dsim models no swap: the value is checked and kept, and changes nothing.
- ``MemoryReservation``: a soft limit (cgroup v2 ``memory.low``, what the kernel keeps from reclaim under
  memory pressure), at least 6 MB and not above the memory limit. dsim's memory model reclaims nothing from
  a container (no swap; a workload's usage is what it holds), so it changes nothing.
- ``PidsLimit``: 0 or below is unlimited (dockerd keeps none, api/server/router/container/container_routes.go);
  dockerd checks nothing else. dsim's processes never fork (a container's process and ``docker exec``'s), so
  it changes nothing.
"""

from __future__ import annotations

#: moby's linuxMinMemory
MIN_MEMORY = 6 * 2**20


def refusal(memory: int, swap: int, reservation: int, *, update: bool = False) -> tuple[str, str] | None:
    """(the field at fault: ``memory``, ``swap`` or ``reservation``; dockerd's words) for limits it refuses, in
    its order; None when it takes them. ``update``: the values of a ``docker update`` (swap without memory is
    allowed there: the container's memory limit stands)."""
    if memory != 0 and memory < MIN_MEMORY:
        return "memory", "Minimum memory limit allowed is 6MB"
    if memory > 0 and 0 < swap < memory:
        return "swap", "Minimum memoryswap limit should be larger than memory limit, see usage"
    if memory == 0 and swap > 0 and not update:
        return "swap", "You should always set the Memory limit when using Memoryswap limit, see usage"
    if 0 < reservation < MIN_MEMORY:
        return "reservation", "Minimum memory reservation allowed is 6MB"
    if memory > 0 and reservation > 0 and memory < reservation:
        return "reservation", "Minimum memory limit can not be less than memory reservation limit, see usage"
    return None


def default_swap(memory: int, swap: int) -> int:
    """The MemorySwap dockerd keeps at create (adaptContainerSettings): twice the memory when only it is set."""
    return 2 * memory if memory > 0 and swap == 0 else swap


def pids_limit(value: int | None) -> int | None:
    """The PidsLimit dockerd keeps: None (no limit) for none, 0 or below."""
    return value if value is not None and value > 0 else None
