"""The CPU options of ``docker run`` / ``create`` / ``update`` (a HostConfig's or an UpdateConfig's Resources) as
dsim serve models them: a cap in cores on the host's processor-sharing scheduler (a run step's ``cpus``).

- ``NanoCpus`` (``--cpus``), ``CpuQuota`` / ``CpuPeriod`` (``--cpu-quota``, ``--cpu-period``): the CFS quota and
  period the runtime is given (moby daemon/daemon_unix.go ``getCPUResources``: NanoCPUs becomes a quota over a
  100 ms period, a CPUPeriod or CPUQuota given replaces that part); the cap is quota / period, none when the
  quota is 0 or below (runc writes ``max``: cgroup v2's no limit) and the period, when only the quota is given,
  the kernel's default 100 ms.
- ``CpusetCpus`` (``--cpuset-cpus``): k CPUs can give no more than k cores, so the cap is at most k. Which CPUs,
  and that the container then contends only with the others on them, is not modelled.
- ``CpusetMems``: checked against the host's one memory node (``0``), nothing else to model.
- ``CpuShares`` (``--cpu-shares``): the container's CPU weight on the scheduler (a run step's ``cpu_shares``):
  0 is the default, 1024; dockerd clamps the rest to the kernel's bounds 2..262144 (daemon/daemon_unix.go
  ``adaptContainerSettings``, ``linuxMinCPUShares`` / ``linuxMaxCPUShares``), and refuses a negative one
  (``getCPUResources``: "shares: invalid argument", when it makes the runtime spec; dsim serve at the create).

dockerd's refusals are 400s in its words (daemon_unix.go ``verifyPlatformContainerResources``, its cpuset lists
parsed as pkg/sysinfo/sysinfo_linux.go ``parseUintList`` parses them), for an update as for a create.
"""

from __future__ import annotations

import math
import re
from typing import Any

from dsim.components.errors import ApiError
from dsim.domain import cpu_limits
from dsim.domain.cpu_limits import DEFAULT_SHARES

#: pkg/sysinfo/sysinfo_linux.go ``defaultMaxCPUs``: a larger CPU or memory node number is refused
MAX_CPUS = 8192
#: the host's memory nodes (cpuset.mems): one, as on a machine without NUMA
MEMORY_NODES = "0"



def host_cores(cpus: float) -> int:
    """The CPUs dockerd counts on this host (``runtime.NumCPU``), as ``docker info``'s NCPU shows them."""
    return max(1, math.ceil(cpus))


def check(resources: dict[str, Any], cores: int) -> None:
    """400 for the CPU options dockerd refuses, in the order it checks them (daemon_unix.go
    ``verifyPlatformContainerResources``), on a host of ``cores`` CPUs."""
    nano, period, quota = (int(resources.get(key) or 0) for key in ("NanoCpus", "CpuPeriod", "CpuQuota"))
    conflict = cpu_limits.conflict(nano, period, quota)
    if conflict is not None:
        raise ApiError(400, conflict[1])
    # dockerd leaves the lower bound to the kernel (a quota under 1 ms fails the start); dsim refuses it here
    if nano != 0 and not 10_000_000 <= nano <= cores * 1_000_000_000:
        raise ApiError(400, f"range of CPUs is from 0.01 to {cores}.00, as there are only {cores} CPUs available")
    out_of_range = cpu_limits.out_of_range(period, quota)
    if out_of_range is not None:
        raise ApiError(400, out_of_range[1])
    _check_list(str(resources.get("CpusetCpus") or ""), "cpus", set(range(cores)), _span(cores),
                "Requested CPUs are not available")
    _check_list(str(resources.get("CpusetMems") or ""), "mems", {0}, MEMORY_NODES,
                "Requested memory nodes are not available")


def check_shares(resources: dict[str, Any]) -> None:
    """400 for a negative CPU weight, in dockerd's words (daemon_unix.go ``getCPUResources``: dockerd finds it
    when it makes the runtime's spec at the start; dsim serve at the create, with nothing made)."""
    if int(resources.get("CpuShares") or 0) < 0:
        raise ApiError(400, cpu_limits.INVALID_SHARES)


def shares(resources: dict[str, Any]) -> int:
    """The CPU weight the container gets: 0 (unset) is the default 1024, the rest clamped to 2..262144 as dockerd
    does on create (``adaptContainerSettings`` with adjustCPUShares, logging a warning)."""
    return cpu_limits.weight(int(resources.get("CpuShares") or 0))


def cap(resources: dict[str, Any]) -> float | None:
    """The cores the container may use at most: quota / period, and no more than its cpuset's CPUs."""
    caps = [limit for limit in (_cfs_cap(resources), _cpuset_size(resources)) if limit is not None]
    return min(caps) if caps else None


def step_options(resources: dict[str, Any]) -> dict[str, Any]:
    """The run step's ``cpus`` (and ``threads``) and ``cpu_shares`` (when not the default) for these options.
    A cpuset's cap leaves the workload's threads as they are without it (dsim/domain/containers.py: ceil of
    the quota's cap, else 1), so pinning to more CPUs never lets a process use more cores than it has threads."""
    weight = shares(resources)
    options: dict[str, Any] = {} if weight == DEFAULT_SHARES else {"cpu_shares": weight}
    limit = cap(resources)
    if limit is None:
        return options
    options["cpus"] = limit
    if _cpuset_size(resources) is not None:
        quota_cap = _cfs_cap(resources)
        options["threads"] = math.ceil(quota_cap) if quota_cap is not None else 1
    return options


def _cfs_cap(resources: dict[str, Any]) -> float | None:
    """quota / period as ``getCPUResources`` sets them: None when the quota limits nothing."""
    return cpu_limits.cfs_cap(*(int(resources.get(key) or 0) for key in ("NanoCpus", "CpuPeriod", "CpuQuota")))


def _cpuset_size(resources: dict[str, Any]) -> float | None:
    """How many CPUs ``CpusetCpus`` names (None without one; a checked list)."""
    cpuset = str(resources.get("CpusetCpus") or "")
    return float(len(parse_list(cpuset))) if cpuset else None


def parse_list(value: str) -> set[int]:
    """A cpuset list (``0-2,4``, duplicates allowed) as ``parseUintList`` reads it; ValueError with its words."""
    found: set[int] = set()
    for part in value.split(","):
        low, dash, high = part.partition("-")
        first, last = _atoi(low, value), _atoi(high if dash else low, value)
        if last < first:
            raise ValueError(f"invalid format: {value}")
        if last > MAX_CPUS:
            raise ValueError(f"value of out range, maximum is {MAX_CPUS}")
        found.update(range(first, last + 1))
    return found


def _atoi(text: str, value: str) -> int:
    """Go's ``strconv.Atoi``: an optional sign and decimal digits within int64."""
    if not re.fullmatch(r"[+-]?[0-9]+", text) or abs(int(text)) >= 2 ** 63:
        raise ValueError(f"invalid format: {value}")
    return int(text)


def _check_list(value: str, kind: str, available: set[int], shown: str, missing: str) -> None:
    """A cpuset list: well formed (``Invalid value X for cpuset KIND: why``), and each of it available."""
    if not value:
        return
    try:
        wanted = parse_list(value)
    except ValueError as err:
        raise ApiError(400, f"Invalid value {value} for cpuset {kind}: {err}") from None
    if not wanted <= available:
        raise ApiError(400, f"{missing} - requested {value}, available: {shown}")


def _span(cores: int) -> str:
    """The host's CPUs as cpuset.cpus.effective shows them."""
    return "0" if cores == 1 else f"0-{cores - 1}"
