"""dockerd's rules for a container's CPU limits (moby daemon/daemon_unix.go), shared by the two faces that take
them: dsim serve's API (dsim/serve/cpu_options.py) and Compose files (dsim/scenarios/compose_resources.py).

- The CFS cap (``getCPUResources``): NanoCPUs becomes a quota over a 100 ms period; a CPUPeriod or CPUQuota
  given replaces that part; the cap is quota / period, none when the quota is 0 or below (runc writes ``max``).
- The refusals (``verifyPlatformContainerResources``), in its order and words: NanoCPUs with a period or a
  quota, a period outside 1 ms..1 s, a positive quota under 1 ms.
- The weight (``adaptContainerSettings``): 0 is the default 1024, the rest clamped to the kernel's 2..262144
  (``linuxMinCPUShares``, ``linuxMaxCPUShares``); a negative one is refused ("shares: invalid argument").
"""

from __future__ import annotations

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
