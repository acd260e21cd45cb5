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

- ``CpuPercent`` (``--cpu-percent``, Windows's): discarded with dockerd's warning, which the create's (or the
  update's) ``Warnings`` carry; ``CpuCount`` (``--cpu-count``) is kept and not looked at, as dockerd on Linux.

dockerd's refusals are 400s in its words (daemon_unix.go ``verifyPlatformContainerResources``, its cpuset lists
parsed as pkg/sysinfo/sysinfo_linux.go ``parseUintList`` parses them: dsim/domain/cpu_limits.py), for an update
as for a create.
"""

from __future__ import annotations

from typing import Any

from dsim.components.errors import ApiError
from dsim.domain import cpu_limits
from dsim.domain.cpu_limits import DEFAULT_SHARES, host_cores

__all__ = ["cap", "check", "check_shares", "host_cores", "shares", "step_options", "warnings"]

#: the host's memory nodes (cpuset.mems): one, as on a machine without NUMA
MEMORY_NODES = "0"


def check(resources: dict[str, Any], cores: int) -> None:
    """400 for the CPU options dockerd refuses, in the order it checks them (daemon_unix.go
    ``verifyPlatformContainerResources``), on a host of ``cores`` CPUs."""
    nano, period, quota = _cfs(resources)
    conflict = cpu_limits.conflict(nano, period, quota)
    if conflict is not None:
        raise ApiError(400, conflict[1])
    # dockerd leaves the lower bound to the kernel (a quota under 1 ms fails the start); dsim refuses it here
    if nano != 0 and not 10_000_000 <= nano <= cores * 1_000_000_000:
        raise ApiError(400, f"range of CPUs is from 0.01 to {cores}.00, as there are only {cores} CPUs available")
    out_of_range = cpu_limits.out_of_range(period, quota)
    if out_of_range is not None:
        raise ApiError(400, out_of_range[1])
    refused = cpu_limits.cpus_refusal(str(resources.get("CpusetCpus") or ""), cores) or cpu_limits.list_refusal(
        str(resources.get("CpusetMems") or ""), "mems", {0}, MEMORY_NODES, "Requested memory nodes are not available")
    if refused is not None:
        raise ApiError(400, refused)


def warnings(resources: dict[str, Any]) -> list[str]:
    """dockerd's warnings for CPU options it discards on Linux: a CPU percent (verifyPlatformContainerResources)."""
    return [cpu_limits.CPU_PERCENT_WARNING] if int(resources.get("CpuPercent") or 0) > 0 else []


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
    return _cap_and_threads(resources)[0]


def step_options(resources: dict[str, Any]) -> dict[str, Any]:
    """The run step's ``cpus`` (and ``threads``) and ``cpu_shares`` (when not the default) for these options.
    A cpuset's cap leaves the workload's threads as they are without it (cpu_limits.cap_and_threads)."""
    weight = shares(resources)
    options: dict[str, Any] = {} if weight == DEFAULT_SHARES else {"cpu_shares": weight}
    limit, threads = _cap_and_threads(resources)
    if limit is None:
        return options
    options["cpus"] = limit
    if threads is not None:
        options["threads"] = threads
    return options


def _cfs(resources: dict[str, Any]) -> tuple[int, int, int]:
    nano, period, quota = (int(resources.get(key) or 0) for key in ("NanoCpus", "CpuPeriod", "CpuQuota"))
    return nano, period, quota


def _cap_and_threads(resources: dict[str, Any]) -> tuple[float | None, int | None]:
    return cpu_limits.cap_and_threads(*_cfs(resources), str(resources.get("CpusetCpus") or ""))
