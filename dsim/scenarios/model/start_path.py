"""The CPU share of each container lifecycle cost (``hosts.X.runtime.cpu``)."""

from __future__ import annotations

from pydantic import Field

from dsim.domain.start_path import EXIT_CPU_SHARE, RUNTIME_CPU_SHARE, SETKEY_HOOK_CPU_SHARE, SHORT_STEP_CPU_SHARE
from dsim.scenarios.model.base import Strict

_RUNTIME = ("share of the cost that is CPU work on the host's processor-sharing scheduler, the rest waiting "
            "(default 0.37: an OCI runtime run is 159.2ms wall of which 43.0ms user + 16.3ms system, "
            "https://www.redhat.com/sysadmin/speed-oci-containers)")

_SHORT = ("share of the cost that is CPU work (default 0: a short step whose CPU dsim leaves out unless asked, "
          "each CPU part being a task on the host's scheduler; 0.37 counts it like runc's, docs/containers.md)")


class StartCpu(Strict):
    """Which share of each ``runtime`` cost is CPU work (one core at most, shared with every other process
    of the host by processor sharing); the rest is waiting (disk, kernel) that a busy CPU does not slow.
    Idle, every step takes exactly its cost; on a busy or small host the CPU part stretches. A share above 1
    (create, mount, netns, runc create, runc start, the exit) is that many cores' worth at once, all of the step
    CPU (threads and processes at work together: Docker 28.5.2's start spent more CPU than its wall time,
    tools/real_docker.py steps); its metadata transactions are then not counted apart."""

    create: float = Field(RUNTIME_CPU_SHARE, ge=0, le=8, description=f"create: {_RUNTIME}")
    mount: float = Field(SHORT_STEP_CPU_SHARE, ge=0, le=8, description=f"mount: {_SHORT}")
    netns: float = Field(
        SHORT_STEP_CPU_SHARE, ge=0, le=8,
        description="netns: share that is CPU work (default 0, see docs/containers.md; measured 0.08: `unshare -n "
        "true` is 47.7ms wall of which 0.6ms user + 3.2ms system, https://www.redhat.com/sysadmin/speed-oci-containers)",
    )
    start: float = Field(RUNTIME_CPU_SHARE, ge=0, le=8, description=f"runc create: {_RUNTIME}")
    exec: float = Field(SHORT_STEP_CPU_SHARE, ge=0, le=8, description=f"runc start: {_SHORT}")
    setkey_hook: float = Field(
        SETKEY_HOOK_CPU_SHARE, ge=0, le=1, description="runc's libnetwork-setkey hook (networking.setkey_hook): "
        "share that is CPU work (default 1: an exec of dockerd's binary and dockerd's netlink calls; on Docker "
        "20.10.24 it cost 128ms of CPU for 105ms of wall time, tools/real_docker.py start)",
    )
    probe_exec: float = Field(
        RUNTIME_CPU_SHARE, ge=0, le=1, description=f"a health probe's exec (runtime.probe_exec): {_RUNTIME}")
    exit: float = Field(
        EXIT_CPU_SHARE, ge=0, le=8, description="the exit's own work (runtime.exit): CPU-seconds per second of it, "
        "on containerd's cgroup; above 1 that many cores' worth at once, so it takes its cost alone and longer on a "
        "busy host (default 1.5: Docker 28.5.2 on 2 vCPUs spent 43ms of CPU, dockerd 7 and containerd with its "
        "shims and runc 36, in an exit of 28ms, tools/real_docker.py steps)",
    )
