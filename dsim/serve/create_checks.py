"""What dockerd refuses in a create request although dsim models none of it: a log driver, IPC mode, isolation,
stop signal, capabilities, swap, OOM score, a bind's mode. Each is a 400 with dockerd's words (moby
daemon/daemon_unix.go ``verifyPlatformContainerSettings``, daemon/container.go, oci/caps/utils.go,
volume/mounts/linux_parser.go), rather than accepted and silently dropped. The CPU options' checks, a CPU weight's
among them, are dsim/serve/cpu_options.py's.
"""

from __future__ import annotations

from typing import Any

from dsim.components.errors import ApiError
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
    memory, swap = int(host.get("Memory") or 0), int(host.get("MemorySwap") or 0)
    if memory > 0 and swap > 0 and swap < memory:
        raise ApiError(400, "Minimum memoryswap limit should be larger than memory limit, see usage")
    cpu_options.check(host, cpu_options.host_cores(cpus))
    score = int(host.get("OomScoreAdj") or 0)
    if not -1000 <= score <= 1000:
        raise ApiError(400, f"Invalid value {score}, range for oom score adj is [-1000, 1000]")
    for bind in host.get("Binds") or ():
        parts = str(bind).split(":")
        if len(parts) == 3 and not set(parts[2].split(",")) <= BIND_MODES:
            raise ApiError(400, f"invalid mode: {parts[2]}")
    cpu_options.check_shares(host)

