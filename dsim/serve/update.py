"""``docker update`` (``POST /containers/{id}/update``) as dockerd does it (moby daemon/update.go
``ContainerUpdate``, container/container_unix.go ``UpdateContainer``, daemon/update_linux.go):

1. dockerd's checks of the values sent (``verifyContainerSettings`` with update set: the CPU options' and the
   memory limits' 400s, dsim/domain), with its warnings (a CPU percent is discarded) in the answer's
   ``Warnings``, which the CLI prints.
2. The container's HostConfig merged with them: a field sent non-zero replaces the kept one (PidsLimit when
   sent at all; 0 or below is unlimited), after the 409s of ``UpdateContainer`` ("Cannot update container
   ID: ...", nothing changed): a NanoCpus where a period or quota is kept and the reverse, a memory limit above
   the kept memory+swap without a new swap value, a restart policy of a ``--rm`` container.
3. The model from the merged HostConfig (a stopped container's at its next start, a running or paused one's at
   once: dockerd writes the running task's cgroup): the CPU cap (quota / period, at most the cpuset's CPUs),
   the weight, the memory limit (under the usage held: the cgroup's OOM kill), the restart policy.

The workload's runnable threads stay what they were at create (``dsim.threads``, or the default from its cap
then): a new cap changes what the process may use, not how many threads it runs. ``CpuCount`` and
``CpuPercent`` are not update fields (dockerd drops them from the merge). The swap and soft limit, the
PIDs limit and the block I/O and real-time fields are kept and shown, and change nothing (dsim models none).
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from dsim.components.errors import ApiError
from dsim.domain.containers import ContainerSpec
from dsim.domain.cpu_limits import DEFAULT_SHARES
from dsim.serve import cpu_options
from dsim.serve.create_checks import check_memory

if TYPE_CHECKING:
    from dsim.serve.engine import Engine
    from dsim.serve.views import Served

#: the Resources fields UpdateContainer copies when sent non-zero, in its order
MERGED = ("BlkioWeight", "CpuShares", "NanoCpus", "CpuPeriod", "CpuQuota", "CpusetCpus", "CpusetMems", "Memory",
          "MemorySwap", "MemoryReservation", "KernelMemory", "CpuRealtimePeriod", "CpuRealtimeRuntime")


def check(body: dict[str, Any], cores: int) -> list[str]:
    """400 for what dockerd refuses among the values sent (memory first, then CPU, as
    ``verifyPlatformContainerResources`` checks them); else its warnings."""
    check_memory(body, update=True)
    cpu_options.check(body, cores)
    cpu_options.check_shares(body)
    return cpu_options.warnings(body)


def merged(ident: str, kept: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """The HostConfig after ``UpdateContainer``: ``kept`` with the fields ``body`` sends; its 409s first."""
    def sent(key: str) -> int:
        return int(body.get(key) or 0)

    def had(key: str) -> int:
        return int(kept.get(key) or 0)

    nano, period, quota = sent("NanoCpus") > 0, sent("CpuPeriod") > 0, sent("CpuQuota") > 0
    conflicts = (
        (nano and had("CpuPeriod") > 0, "Nano CPUs cannot be updated as CPU Period has already been set"),
        (nano and had("CpuQuota") > 0, "Nano CPUs cannot be updated as CPU Quota has already been set"),
        (period and had("NanoCpus") > 0, "CPU Period cannot be updated as NanoCPUs has already been set"),
        (quota and had("NanoCpus") > 0, "CPU Quota cannot be updated as NanoCPUs has already been set"),
    )
    for found, words in conflicts:
        if found:
            raise ApiError(409, f"Cannot update container {ident}: Conflicting options: {words}")
    if sent("Memory") != 0 and sent("Memory") > had("MemorySwap") and sent("MemorySwap") == 0:
        raise ApiError(409, f"Cannot update container {ident}: Memory limit should be smaller than already set "
                            "memoryswap limit, update the memoryswap at the same time")
    out = dict(kept)
    out.update({key: body[key] for key in MERGED if body.get(key)})
    if body.get("PidsLimit") is not None:
        out["PidsLimit"] = max(int(body["PidsLimit"]), 0)  # the route: 0 and below are unlimited, sent as 0
    policy = body.get("RestartPolicy") or {}
    if policy.get("Name"):
        if kept.get("AutoRemove") and policy["Name"] != "no":
            raise ApiError(409, f"Cannot update container {ident}: Restart policy cannot be updated because "
                                "AutoRemove is enabled for the container")
        out["RestartPolicy"] = {"Name": policy["Name"], "MaximumRetryCount": int(policy.get("MaximumRetryCount") or 0)}
    return out


def spec_for(spec: ContainerSpec, host: dict[str, Any]) -> ContainerSpec:
    """The container's spec under the merged HostConfig ``host``: cap, weight, memory limit, restart policy; its
    workload's threads as they were (ContainerSpec.cpu_cap's default made explicit)."""
    options = cpu_options.step_options(host)
    threads = spec.threads if spec.threads is not None else (math.ceil(spec.cpus) if spec.cpus else 1)
    restart = host.get("RestartPolicy") or {}
    policy = restart.get("Name") or "no"
    if policy == "on-failure" and restart.get("MaximumRetryCount"):
        policy = f"on-failure:{int(restart['MaximumRetryCount'])}"
    memory = float(host["Memory"]) if host.get("Memory") else None
    return replace(spec, cpus=options.get("cpus"), cpu_shares=options.get("cpu_shares", DEFAULT_SHARES),
                   memory=memory, threads=threads, restart=policy)


def update(engine: Engine, served: Served, body: dict[str, Any], job: int) -> Generator[Any, Any, None]:
    """The update of one container, under its lock (the handler's ``_container_op``)."""
    if served.removing:
        raise ApiError(500, f'Cannot update container {served.id}: container is marked for removal and cannot be '
                            '"update"')
    host = merged(served.id, served.host_config, body)
    spec = spec_for(served.container.spec, host)
    yield from engine.daemon.update(served.container, spec, job=job)
    served.host_config = host
    engine.container_event(served, "update")
