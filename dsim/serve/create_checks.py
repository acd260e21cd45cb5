"""What dockerd refuses in a create request although dsim models none of it: a log driver, IPC mode, isolation,
stop signal, capabilities, swap and a memory reservation (dsim/domain/memory_limits.py), OOM score, a bind's
mode. Each is a 400 with dockerd's words (moby daemon/daemon_unix.go ``verifyPlatformContainerSettings``,
daemon/container.go, oci/caps/utils.go, volume/mounts/linux_parser.go), rather than accepted and silently
dropped. The CPU options' checks, a CPU weight's among them, are dsim/serve/cpu_options.py's.
"""

from __future__ import annotations

from typing import Any

from dsim.components.errors import ApiError
from dsim.domain import memory_limits
from dsim.serve import cpu_options
from dsim.serve.commands import valid_signal

#: Linux's capabilities (capabilities(7)), as moby lists them without the CAP_ prefix
CAPABILITIES = frozenset({
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
    "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
    "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
    "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
    "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
    "CHECKPOINT_RESTORE"})
#: the log drivers a Linux dockerd registers (moby daemon/logdrivers_linux.go)
LOG_DRIVERS = frozenset({"json-file", "local", "none", "journald", "syslog", "fluentd", "gelf", "awslogs", "splunk",
                         "gcplogs", "logentries"})
#: a bind's mode words (moby volume/mounts/linux_parser.go: rw/ro, SELinux labels, propagation, nocopy)
BIND_MODES = frozenset({"rw", "ro", "z", "Z", "shared", "rshared", "slave", "rslave", "private", "rprivate",
                        "nocopy", "consistent", "cached", "delegated"})


def check_create(body: dict[str, Any], cpus: float) -> None:
    """400 for what dockerd refuses in ``body`` (a create request) on a host of ``cpus`` cores."""
    host = body.get("HostConfig") or {}
    driver = (host.get("LogConfig") or {}).get("Type") or "json-file"
    if driver not in LOG_DRIVERS:  # moby mergeAndVerifyLogConfig (daemon/logger/factory.go)
        raise ApiError(400, f"logger: no log driver named '{driver}' is registered")
    ipc = str(host.get("IpcMode") or "")
    if ipc not in ("", "none", "private", "shareable", "host") and not ipc.startswith("container:"):
        raise ApiError(400, f"invalid IPC mode: {ipc}")
    isolation = str(host.get("Isolation") or "")
    if isolation not in ("", "default"):
        raise ApiError(400, f"invalid isolation '{isolation}' on linux")
    signal = str(body.get("StopSignal") or "")
    if signal and not valid_signal(signal):
        raise ApiError(400, f"Invalid signal: {signal}")
    for cap in [*(host.get("CapAdd") or ()), *(host.get("CapDrop") or ())]:
        name = str(cap).upper().removeprefix("CAP_")
        if name != "ALL" and name not in CAPABILITIES:
            raise ApiError(400, f'unknown capability: "CAP_{name}"')
    check_memory(host, update=False)
    cpu_options.check(host, cpu_options.host_cores(cpus))
    score = int(host.get("OomScoreAdj") or 0)
    if not -1000 <= score <= 1000:
        raise ApiError(400, f"Invalid value {score}, range for oom score adj is [-1000, 1000]")
    for bind in host.get("Binds") or ():
        parts = str(bind).split(":")
        if len(parts) == 3 and not set(parts[2].split(",")) <= BIND_MODES:
            raise ApiError(400, f"invalid mode: {parts[2]}")
    cpu_options.check_shares(host)



def check_memory(resources: dict[str, Any], *, update: bool) -> None:
    """400 for the memory limits dockerd refuses (memory_limits.refusal), of a create or an update."""
    refused = memory_limits.refusal(*(int(resources.get(key) or 0) for key in ("Memory", "MemorySwap",
                                                                                 "MemoryReservation")), update=update)
    if refused is not None:
        raise ApiError(400, refused[1])


def kept(host: dict[str, Any]) -> dict[str, Any]:
    """The HostConfig dockerd keeps of a create's: the swap twice the memory when not given, a CPU percent
    discarded (Linux's, with a warning: cpu_options.warnings), a PIDs limit of 0 or below none
    (memory_limits.pids_limit)."""
    out = dict(host)
    memory = int(out.get("Memory") or 0)
    if memory > 0:
        out["MemorySwap"] = memory_limits.default_swap(memory, int(out.get("MemorySwap") or 0))
    if int(out.get("CpuPercent") or 0) > 0:
        out["CpuPercent"] = 0
    if "PidsLimit" in out:
        out["PidsLimit"] = memory_limits.pids_limit(out["PidsLimit"])
    return out
