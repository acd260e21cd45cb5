"""A service's CPU and memory keys as its container's cap, weight and memory limit (docs/compose.md).

docker compose v2 makes a container's Resources from them (docker/compose ``pkg/compose/create.go``
``getDeployResources``, commit f72979427042620a94dd52ce78b39c68cb02c085): ``NanoCPUs`` from ``cpus``, then from
``deploy.resources.limits.cpus`` (``setLimits``); ``CPUQuota`` / ``CPUPeriod`` / ``CPUShares`` from
``cpu_quota`` / ``cpu_period`` / ``cpu_shares``; ``Memory`` from ``mem_limit``, then from
``deploy.resources.limits.memory``. compose-go refuses ``cpus`` and ``mem_limit`` whose deploy limit differs
(``loader/validate.go``, commit e70e961c3a3acebf0800b882f1afb3dbf1fb74a2). Reservations (``setReservations``):
a CPU reservation "is a swarm option" compose does not pass to a container, so it changes nothing; a memory one
is ``MemoryReservation``, a soft limit dsim does not model (refused).

dockerd then applies its rules (moby daemon/daemon_unix.go: dsim/domain/cpu_limits.py, as dsim serve's API
applies them too): NanoCpus with a quota or a period is refused, the CFS period is 1 ms..1 s,
a positive quota at least 1 ms; the cap is quota / period (NanoCpus: a quota over 100 ms; no quota or a
negative one: no cap); a CPU weight of 0 is the default 1024, others clamped to 2..262144, a negative one
refused; a memory limit other than 0 (none) under 6 MB is refused.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from dsim.domain import cpu_limits
from dsim.domain.cpu_limits import DEFAULT_SHARES
from dsim.domain.problems import FieldPath
from dsim.scenarios.compose_model import DeployResources, Service

#: moby's linuxMinMemory
MIN_MEMORY = 6 * 2**20
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
    """What the container step gets: ``cpus`` cap (None: none), ``cpu_shares`` weight, ``memory`` limit."""

    cpus: float | None = None
    cpu_shares: int = DEFAULT_SHARES
    memory: float | None = None


def service_resources(service: Service, path: FieldPath) -> Resources:
    """The container's cap, weight and memory limit from ``service`` at ``path`` (``services.NAME``)."""
    _check_reservations(service, path)
    return Resources(_cap(service, path), _shares(service.cpu_shares, (*path, "cpu_shares")), _memory(service, path))


def _limits_path(path: FieldPath, key: str) -> FieldPath:
    return (*path, "deploy", "resources", "limits", key)


def _check_reservations(service: Service, path: FieldPath) -> None:
    """Reservations: ``cpus`` is parsed and changes nothing; ``memory`` is refused (create.go setReservations)."""
    resources = _resources(service)
    reservations = resources.reservations if resources is not None else None
    if reservations is None:
        return
    where = (*path, "deploy", "resources", "reservations")
    _float(reservations.cpus, (*where, "cpus"))
    if reservations.memory is not None:
        raise ComposeProblem((*where, "memory"), "docker compose sets a memory reservation as the container's "
                             "MemoryReservation (--memory-reservation), a soft limit the kernel reclaims towards under "
                             "memory pressure; dsim does not model it (a limit is mem_limit or limits.memory)")


def _resources(service: Service) -> DeployResources | None:
    return service.deploy.resources if service.deploy is not None else None


def _limit(service: Service, key: str) -> tuple[Raw, bool]:
    """(the deploy limit ``key``, whether ``deploy.resources.limits`` is written at all)."""
    resources = _resources(service)
    limits = resources.limits if resources is not None else None
    return (getattr(limits, key) if limits is not None else None), limits is not None


def _cap(service: Service, path: FieldPath) -> float | None:
    """quota / period as dockerd's getCPUResources sets them, from NanoCpus or cpu_quota / cpu_period."""
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
    return cpu_limits.cfs_cap(int(nano * 1e9), period, quota)


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
    """Memory: ``mem_limit``, replaced by ``deploy.resources.limits.memory`` (setLimits); 0: none."""
    mem = _bytes(service.mem_limit, (*path, "mem_limit"))
    written, has_limits = _limit(service, "memory")
    limit = _bytes(written, _limits_path(path, "memory"))
    if mem != 0 and has_limits and limit != mem:  # compose-go validate.go, as for cpus
        raise ComposeProblem((*path, "mem_limit"), f"services.{path[-1]}: can't set distinct values on 'mem_limit' "
                             "and 'deploy.resources.limits.memory': invalid compose project")
    memory = limit if limit != 0 else mem
    if memory == 0:
        return None
    if memory < MIN_MEMORY:
        where = _limits_path(path, "memory") if limit != 0 else (*path, "mem_limit")
        raise ComposeProblem(where, "Minimum memory limit allowed is 6MB")
    return float(memory)


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
