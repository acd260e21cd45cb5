"""A service's CPU, memory and PIDs keys as its container's cap, weight and memory limit (docs/compose.md).

docker compose v2 makes a container's Resources from them (docker/compose ``pkg/compose/create.go``
``getDeployResources``, commit f72979427042620a94dd52ce78b39c68cb02c085): ``NanoCPUs`` from ``cpus``, then from
``deploy.resources.limits.cpus`` (``setLimits``); ``CPUQuota`` / ``CPUPeriod`` / ``CPUShares`` / ``CpusetCpus``
from ``cpu_quota`` / ``cpu_period`` / ``cpu_shares`` / ``cpuset``; ``Memory`` from ``mem_limit``, then from
``deploy.resources.limits.memory``; ``MemorySwap`` from ``memswap_limit``; ``MemoryReservation`` from
``mem_reservation``, then ``deploy.resources.reservations.memory`` (``setReservations``); ``PidsLimit`` from
``pids_limit``, then ``deploy.resources.limits.pids``; ``CPUCount`` and ``CPUPercent`` (x 100) from
``cpu_count`` and ``cpu_percent``. compose-go refuses a key and its deploy counterpart that differ
(``loader/validate.go``, commit e70e961c3a3acebf0800b882f1afb3dbf1fb74a2). A CPU reservation "is a swarm option"
compose does not pass to a container: it changes nothing.

dockerd then applies its rules (moby daemon/daemon_unix.go: dsim/domain/cpu_limits.py and memory_limits.py,
as dsim serve's API applies them too): NanoCpus with a quota or a period is refused, the CFS period is
1 ms..1 s, a positive quota at least 1 ms; the cap is quota / period (NanoCpus: a quota over 100 ms; no quota or a
negative one: no cap), and no more than the cpuset's CPUs, which the host must have; a CPU weight of 0 is the
default 1024, others clamped to 2..262144, a negative one refused; a memory limit other than 0 (none) under
6 MB is refused, and so are a swap limit below it or without it, a reservation under 6 MB or above it.
What changes nothing in dsim, checked and accepted: the swap limit (no swap is modelled), the reservation
(a soft limit the kernel reclaims towards under memory pressure; dsim reclaims nothing), the PIDs limit
(dsim's processes never fork), the CPU count (Windows's: dockerd on Linux does not look at it) and the CPU
percent (Windows's: dockerd on Linux discards it with a warning, which compose shows).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from dsim.domain import cpu_limits, memory_limits
from dsim.domain.cpu_limits import DEFAULT_SHARES
from dsim.domain.problems import FieldPath
from dsim.scenarios.compose_model import DeployResources, Service

#: docker/go-units ``binaryMap``: RAMInBytes' suffixes
_BINARY = {"k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40, "p": 2**50}
_GO_FLOAT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?(inf|infinity|nan)", re.IGNORECASE)

Raw = int | float | str | None


@dataclass
class ComposeProblem(Exception):
    """A compose file breaks a rule: where (a path in the file) and what."""

    path: FieldPath
    message: str


@dataclass(frozen=True)
class Resources:
    """What the container step gets: ``cpus`` cap (None: none), ``cpu_shares`` weight, ``memory`` limit, and the
    workload's ``threads`` when a cpuset caps it (cpu_limits.cap_and_threads; None: the default)."""

    cpus: float | None = None
    cpu_shares: int = DEFAULT_SHARES
    memory: float | None = None
    threads: int | None = None


def service_resources(service: Service, path: FieldPath, cores: int | None = None) -> Resources:
    """The container's cap, weight and memory limit from ``service`` at ``path`` (``services.NAME``); ``cores``:
    the CPUs of the smallest host it may run on, which its cpuset must be among (None: not checked)."""
    memory = _memory(service, path)
    _pids(service, path)
    _int(service.cpu_count, (*path, "cpu_count"))  # Windows's: dockerd on Linux does not look at it
    _float(service.cpu_percent, (*path, "cpu_percent"))  # Windows's: discarded with a warning on Linux
    _float(_reservation(service, "cpus"), (*path, "deploy", "resources", "reservations", "cpus"))
    cap, threads = _cap(service, path, cores)
    return Resources(cap, _shares(service.cpu_shares, (*path, "cpu_shares")), memory, threads)


def _limits_path(path: FieldPath, key: str) -> FieldPath:
    return (*path, "deploy", "resources", "limits", key)


def _reservation(service: Service, key: str) -> Raw:
    resources = _resources(service)
    reservations = resources.reservations if resources is not None else None
    return getattr(reservations, key) if reservations is not None else None


def _resources(service: Service) -> DeployResources | None:
    return service.deploy.resources if service.deploy is not None else None


def _limit(service: Service, key: str) -> tuple[Raw, bool]:
    """(the deploy limit ``key``, whether ``deploy.resources.limits`` is written at all)."""
    resources = _resources(service)
    limits = resources.limits if resources is not None else None
    return (getattr(limits, key) if limits is not None else None), limits is not None


def _cap(service: Service, path: FieldPath, cores: int | None) -> tuple[float | None, int | None]:
    """quota / period as dockerd's getCPUResources sets them, from NanoCpus or cpu_quota / cpu_period, and no more
    than the cpuset's CPUs; with the threads a cpuset leaves the workload (cpu_limits.cap_and_threads)."""
    cpus = _float(service.cpus, (*path, "cpus"))
    written, has_limits = _limit(service, "cpus")
    limit = _float(written, _limits_path(path, "cpus"))
    if cpus != 0 and has_limits and limit != cpus:  # compose-go validate.go, literally: an unset limit is 0
        raise ComposeProblem((*path, "cpus"), f"services.{path[-1]}: can't set distinct values on 'cpus' and "
                             "'deploy.resources.limits.cpus': invalid compose project")
    nano = limit if limit != 0 else cpus  # setLimits: a deploy limit replaces cpus
    where = _limits_path(path, "cpus") if limit != 0 else (*path, "cpus")
    period = _int(service.cpu_period, (*path, "cpu_period"))
    quota = _int(service.cpu_quota, (*path, "cpu_quota"))
    _check_cfs(nano, period, quota, where, path)
    cpuset = service.cpuset or ""
    refused = cpu_limits.cpus_refusal(cpuset, cores if cores is not None else cpu_limits.MAX_CPUS + 1)
    if refused is not None:
        raise ComposeProblem((*path, "cpuset"), refused)
    return cpu_limits.cap_and_threads(int(nano * 1e9), period, quota, cpuset)


def _check_cfs(nano: float, period: int, quota: int, where: FieldPath, path: FieldPath) -> None:
    """dockerd's refusals (daemon_unix.go verifyPlatformContainerResources), in its words."""
    if nano != 0 and nano < 0.01:
        raise ComposeProblem(where, "cpus: 0 (no limit) or at least 0.01, as dockerd takes NanoCpus (range of CPUs "
                                    "is from 0.01 to the host's CPUs)")
    problem = cpu_limits.conflict(nano, period, quota) or cpu_limits.out_of_range(period, quota)
    if problem is not None:
        field, message = problem
        raise ComposeProblem((*path, f"cpu_{field}"), message)


def _shares(value: Raw, where: FieldPath) -> int:
    """CpuShares: 0 is the default 1024, the rest clamped to 2..262144 (adaptContainerSettings); negative refused
    (getCPUResources: "shares: invalid argument")."""
    shares = _int(value, where)
    if shares < 0:
        raise ComposeProblem(where, cpu_limits.INVALID_SHARES)
    return cpu_limits.weight(shares)


def _memory(service: Service, path: FieldPath) -> float | None:
    """Memory: ``mem_limit``, replaced by ``deploy.resources.limits.memory`` (setLimits); 0: none. The swap
    limit and the reservation are checked with it (memory_limits.refusal) and change nothing."""
    mem = _bytes(service.mem_limit, (*path, "mem_limit"))
    written, has_limits = _limit(service, "memory")
    limit = _bytes(written, _limits_path(path, "memory"))
    if mem != 0 and has_limits and limit != mem:  # compose-go validate.go, as for cpus
        raise ComposeProblem((*path, "mem_limit"), f"services.{path[-1]}: can't set distinct values on 'mem_limit' "
                             "and 'deploy.resources.limits.memory': invalid compose project")
    memory = limit if limit != 0 else mem
    swap = _bytes(service.memswap_limit, (*path, "memswap_limit"))
    reserved = _bytes(service.mem_reservation, (*path, "mem_reservation"))
    deploy_path = (*path, "deploy", "resources", "reservations", "memory")
    deploy_reserved = _bytes(_reservation(service, "memory"), deploy_path)
    resources = _resources(service)
    if reserved != 0 and resources is not None and resources.reservations is not None and deploy_reserved != reserved:
        raise ComposeProblem((*path, "mem_reservation"), f"services.{path[-1]}: can't set distinct values on "
                             "'mem_reservation' and 'deploy.resources.reservations.memory': invalid compose project")
    reservation = deploy_reserved if deploy_reserved != 0 else reserved  # setReservations
    refused = memory_limits.refusal(memory, swap, reservation)
    if refused is not None:
        field, message = refused
        where = {"memory": _limits_path(path, "memory") if limit != 0 else (*path, "mem_limit"),
                 "swap": (*path, "memswap_limit"),
                 "reservation": deploy_path if deploy_reserved != 0 else (*path, "mem_reservation")}[field]
        raise ComposeProblem(where, message)
    return float(memory) if memory != 0 else None


def _pids(service: Service, path: FieldPath) -> None:
    """``pids_limit`` and ``deploy.resources.limits.pids``: compose-go's check that they agree; dockerd checks
    nothing else (0 or below: unlimited) and dsim's processes never fork, so the limit changes nothing."""
    pids = _int(service.pids_limit, (*path, "pids_limit"))
    written, has_limits = _limit(service, "pids")
    limit = _int(written, _limits_path(path, "pids"))
    if pids != 0 and has_limits and limit != pids:
        raise ComposeProblem((*path, "pids_limit"), f"services.{path[-1]}: can't set distinct values on "
                             "'pids_limit' and 'deploy.resources.limits.pids': invalid compose project")


def _float(value: Raw, where: FieldPath) -> float:
    """compose-go's NanoCPUs / float32 field: a number, or a string strconv.ParseFloat reads; unset is 0."""
    if value is None or isinstance(value, int | float):
        return float(value or 0)
    if not _GO_FLOAT.fullmatch(value) or not math.isfinite(float(value)):
        raise ComposeProblem(where, f'strconv.ParseFloat: parsing "{value}": invalid syntax')
    return float(value)


def _int(value: Raw, where: FieldPath) -> int:
    """An int64 field: a whole number, or a string strconv.ParseInt reads; unset is 0. A fraction is refused in
    ParseInt's words (dsim's choice of words for a YAML number such as 1.5)."""
    if value is None or isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return int(value or 0)
    text = str(value)
    if not re.fullmatch(r"[+-]?\d+", text):
        raise ComposeProblem(where, f'strconv.ParseInt: parsing "{text}": invalid syntax')
    return int(text)


def _bytes(value: Raw, where: FieldPath) -> int:
    """compose-go's UnitBytes: an integer, or a string ParseInt reads, else docker/go-units RAMInBytes (a
    decimal number, an optional space, k/m/g/t/p in any case with an optional ``b`` or ``ib``: 1k = 1024)."""
    if value is None:
        return 0
    if isinstance(value, int | float):
        return int(value)
    if re.fullmatch(r"[+-]?\d+", value):
        return int(value)
    return _ram_in_bytes(value, where)


def _ram_in_bytes(text: str, where: FieldPath) -> int:
    """docker/go-units size.go ``parseSize`` with the binary map, its errors in its words."""
    sep = max(text.rfind(c) for c in "0123456789. ")
    if sep == -1:
        raise ComposeProblem(where, f"invalid size: '{text}'")
    number, suffix = (text[:sep], text[sep + 1:]) if text[sep] == " " else (text[:sep + 1], text[sep + 1:])
    if not _GO_FLOAT.fullmatch(number):
        raise ComposeProblem(where, f"invalid size: '{text}'")
    size = float(number)
    if size < 0 or not math.isfinite(size):
        raise ComposeProblem(where, f"invalid size: '{text}'")
    lower = suffix.lower()
    if not lower or lower == "b":
        return int(size)
    if len(lower) > 3 or lower[0] not in _BINARY or lower[1:] not in ("", "b", "ib"):
        raise ComposeProblem(where, f"invalid suffix: '{lower}'")
    return int(size * _BINARY[lower[0]])

__all__ = ["ComposeProblem", "Resources", "service_resources"]
