"""dockerd's rules for a container's CPU limits (moby daemon/daemon_unix.go), shared by the two faces that take
them: dsim serve's API (dsim/serve/cpu_options.py) and Compose files (dsim/scenarios/compose_resources.py).

- The CFS cap (``getCPUResources``): NanoCPUs becomes a quota over a 100 ms period; a CPUPeriod or CPUQuota
  given replaces that part; the cap is quota / period, none when the quota is 0 or below (runc writes ``max``).
- The refusals (``verifyPlatformContainerResources``), in its order and words: NanoCPUs with a period or a
  quota, a period outside 1 ms..1 s, a positive quota under 1 ms.
- The weight (``adaptContainerSettings``): 0 is the default 1024, the rest clamped to the kernel's 2..262144
  (``linuxMinCPUShares``, ``linuxMaxCPUShares``); a negative one is refused ("shares: invalid argument").
- The cpuset (``CpusetCpus``): a list parsed as pkg/sysinfo/sysinfo_linux.go ``parseUintList`` parses it, the
  CPUs it names present on the host; k CPUs cap the container at k cores.
- The weight's meaning (``cfs_weight``): on cgroup v1 the shares are the cgroup's ``cpu.shares``; on cgroup v2 the
  OCI runtime converts them to ``cpu.weight`` (1..10000, a cgroup's default 100), by a quadratic in log2(shares)
  since runc 1.3.2 (https://github.com/opencontainers/runc/issues/4896), linearly before.
- ``CPUPercent`` and ``CPUCount`` are Windows's: on Linux a percent is discarded with a warning, a count is
  not looked at.
"""

from __future__ import annotations

import math
import re
from typing import Literal

#: how a container's shares become its cgroup's CPU weight (``cfs_weight``)
CpuWeights = Literal["quadratic", "linear", "shares"]

#: the CFS period when none is given, in microseconds (the kernel's default; moby's for NanoCPUs)
DEFAULT_PERIOD = 100_000
#: the weight every cgroup has by default (cpu.shares); 0 asks for the default
DEFAULT_SHARES = 1024
#: the kernel's bounds dockerd clamps a CPU weight to
MIN_SHARES, MAX_SHARES = 2, 262144
#: what a negative weight gets (getCPUResources)
INVALID_SHARES = "shares: invalid argument"


def conflict(nano: float, period: int, quota: int) -> tuple[str, str] | None:
    """(the field at fault, dockerd's words) when NanoCPUs comes with a period or a quota; None when not."""
    if nano > 0 and period > 0:
        return "period", "Conflicting options: Nano CPUs and CPU Period cannot both be set"
    if nano > 0 and quota > 0:
        return "quota", "Conflicting options: Nano CPUs and CPU Quota cannot both be set"
    return None


def out_of_range(period: int, quota: int) -> tuple[str, str] | None:
    """(the field at fault, dockerd's words) for a period outside 1 ms..1 s or a positive quota under 1 ms."""
    if period != 0 and not 1000 <= period <= 1_000_000:
        return "period", "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"
    if 0 < quota < 1000:
        return "quota", "CPU cfs quota can not be less than 1ms (i.e. 1000)"
    return None


def cfs_cap(nano: int, period: int, quota: int) -> float | None:
    """The cores quota / period allows (``nano``: NanoCPUs, billionths of a CPU); None when nothing limits."""
    if nano > 0:
        period, quota = period or DEFAULT_PERIOD, quota or nano * DEFAULT_PERIOD // 1_000_000_000
    if quota <= 0:
        return None
    return quota / (period if period > 0 else DEFAULT_PERIOD)


def weight(shares: int) -> int:
    """The CPU weight a container gets for ``shares`` (not negative: see ``INVALID_SHARES``)."""
    return DEFAULT_SHARES if shares == 0 else min(max(shares, MIN_SHARES), MAX_SHARES)


# ---------------------------------------------------------------------------------------------- cpusets

#: pkg/sysinfo/sysinfo_linux.go ``defaultMaxCPUs``: a larger CPU or memory node number is refused
MAX_CPUS = 8192
#: what dockerd on Linux says of a CPU percent (verifyPlatformContainerResources: ``runtime.GOOS`` is linux),
#: a warning with the value discarded: the option is Windows's (daemon_windows.go)
CPU_PERCENT_WARNING = "linux does not support CPU percent. Percent discarded."


def host_cores(cpus: float) -> int:
    """The CPUs dockerd counts on a host of ``cpus`` cores (``runtime.NumCPU``), as ``docker info``'s NCPU."""
    return max(1, math.ceil(cpus))


def parse_cpuset(value: str) -> set[int]:
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


def cpus_refusal(cpuset: str, cores: int) -> str | None:
    """dockerd's words for a ``CpusetCpus`` it refuses on a host of ``cores`` CPUs (a malformed list, or CPUs the
    host lacks: verifyPlatformContainerResources, sysinfo ``IsCpusetCpusAvailable``); None when it takes it."""
    return list_refusal(cpuset, "cpus", set(range(cores)), "0" if cores == 1 else f"0-{cores - 1}",
                        "Requested CPUs are not available")


def list_refusal(value: str, kind: str, available: set[int], shown: str, missing: str) -> str | None:
    """A cpuset list: well formed (``Invalid value X for cpuset KIND: why``), and each of it available."""
    if not value:
        return None
    try:
        wanted = parse_cpuset(value)
    except ValueError as err:
        return f"Invalid value {value} for cpuset {kind}: {err}"
    if not wanted <= available:
        return f"{missing} - requested {value}, available: {shown}"
    return None


def cap_and_threads(nano: int, period: int, quota: int, cpuset: str) -> tuple[float | None, int | None]:
    """The container's cap in cores (quota / period, and no more than its cpuset's CPUs; None: none) and the
    runnable threads to give its workload when a cpuset caps it (None: the workload's default, ceil of the
    quota's cap or 1, dsim/domain/containers.py). k CPUs give no more than k cores; pinning to more CPUs never
    lets a process use more cores than it has threads, so a cpuset keeps the threads it would have without."""
    quota_cap = cfs_cap(nano, period, quota)
    if not cpuset:
        return quota_cap, None
    size = float(len(parse_cpuset(cpuset)))
    cap = size if quota_cap is None else min(quota_cap, size)
    return cap, math.ceil(quota_cap) if quota_cap is not None else 1


def cfs_weight(shares: int, conversion: CpuWeights) -> float:
    """A container cgroup's CPU weight against a default cgroup's (dockerd's own ``docker.service``: moby's
    contrib/init/systemd/docker.service sets no weight, so 1024 shares on cgroup v1, ``cpu.weight`` 100 on v2),
    the unit of dsim's CPU scheduler (components/cpu.py). ``conversion``:

    - ``shares``: cgroup v1, ``cpu.shares`` as given: shares / 1024.
    - ``linear``: cgroup v2 with runc up to 1.3.1: ``1 + (shares - 2) * 9999 / 262142`` in integers (1024 -> 39,
      so a default container weighs 0.39 of dockerd; opencontainers/runc#4772).
    - ``quadratic``: cgroup v2 with runc 1.3.2 and later (moby v28.5.2's Dockerfile builds runc v1.3.3):
      ``ceil(10 ** ((l * l + 125 * l) / 612 - 7 / 34))`` with l = log2(shares), 2 -> 1, 262144 -> 10000, which
      keeps 1024 at 100 (opencontainers/cgroups ``ConvertCPUSharesToCgroupV2Value``; kubernetes/kubernetes#131216;
      runc#4896: 2000 shares -> 170, where the linear formula gave 77)."""
    if conversion == "shares":
        return shares / DEFAULT_SHARES
    if conversion == "linear":
        return (1 + (shares - MIN_SHARES) * 9999 // (MAX_SHARES - MIN_SHARES)) / 100
    if shares == DEFAULT_SHARES:
        return 1.0
    if shares <= MIN_SHARES:
        return 0.01
    if shares >= MAX_SHARES:
        return 100.0
    level = math.log2(shares)
    return math.ceil(10 ** ((level * level + 125 * level) / 612 - 7 / 34)) / 100
