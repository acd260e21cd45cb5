"""The container start path as work: how much of each lifecycle cost is CPU, and the daemon's locks.

Field names and meanings are the scenario format's (``hosts.X.runtime.cpu`` and ``hosts.X.daemon``: see
dsim/scenarios/model/start_path.py, where every default says where its number comes from). The defaults
live here so that the domain types can be built without the scenario format (tests, ``dsim serve``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from dsim.distributions import Distribution, constant

#: crun's own measurement of an OCI runtime run (create + start + delete, Fedora, 2017): 159.2 ms wall, of
#: which user 43.0 ms + system 16.3 ms on a CPU (Giuseppe Scrivano, "How I decreased the time to create and
#: destroy an OCI container to 5 milliseconds", https://www.redhat.com/sysadmin/speed-oci-containers): the
#: rest waits in the kernel (RCU grace periods, mounts, disk). 59.3 / 159.2 = 0.37.
RUNTIME_CPU_SHARE = 0.37
#: the same article: ``unshare -n true`` 47.7 ms wall, user 0.6 + system 3.2 ms: 3.8 / 47.7 = 0.08.
NETNS_CPU_SHARE = 0.08
#: The short steps around runc create (mount, netns, runc start) default to no CPU: at the shares above they
#: would add 16 ms of CPU to a run's 190 ms, and every CPU part is a task on the host's scheduler, which
#: costs simulation time (docs/containers.md: Lifecycle). Set their shares to count them.
SHORT_STEP_CPU_SHARE = 0.0
#: A container's exit (``runtime.exit``): the shim reaping the process, containerd deleting the task (``runc
#: delete``, the shim's own ``delete``), dockerd handling the exit: Docker 28.5.2 on 2 vCPUs spent 43 ms of CPU
#: (dockerd 6.8-7.8, containerd with its shims and runc 36.2-37.1: tools/real_docker.py steps) in an exit whose
#: events came 28 ms apart (the process's end to ``die``): CPU-seconds per second above 1, the Go runtimes and
#: processes at work at once, so 1.5 cores' worth (43 / 28).
EXIT_CPU_SHARE = 1.5
#: runc's libnetwork-setkey hook (networking.setkey_hook) is an exec of dockerd's binary and dockerd's netlink
#: calls: CPU throughout (on Docker 20.10.24, 2 vCPUs, it cost 128 ms of CPU for 105 ms of wall time, the Go
#: runtime's threads running at once; tools/real_docker.py start), so all of it is CPU work.
SETKEY_HOOK_CPU_SHARE = 1.0

LayerStoreLock = Literal["per-container", "global"]


@dataclass(frozen=True, slots=True)
class StartCpuShares:
    """The share of each lifecycle cost (``hosts.X.runtime``) that is CPU work on the host's processor-sharing
    scheduler; the rest is waiting (disk, kernel) that no other work slows down."""

    create: float = RUNTIME_CPU_SHARE
    mount: float = SHORT_STEP_CPU_SHARE
    netns: float = SHORT_STEP_CPU_SHARE
    start: float = RUNTIME_CPU_SHARE
    exec: float = SHORT_STEP_CPU_SHARE
    #: runc's libnetwork-setkey hook for a container with a namespace of its own (networking.setkey_hook)
    setkey_hook: float = SETKEY_HOOK_CPU_SHARE
    #: a health probe's exec (components/health.py): a runtime's run, as create and start
    probe_exec: float = RUNTIME_CPU_SHARE
    #: the exit's own work (``runtime.exit``); above 1, cores' worth at once (``components/daemon_locks.step``)
    exit: float = EXIT_CPU_SHARE


@dataclass(frozen=True, slots=True)
class DaemonLocksSpec:
    """The daemon's serialization points on the create/start path (dsim/components/daemon_locks.py)."""

    #: one write transaction of containerd's metadata store (bbolt: one writer at a time)
    metadata_commit: Distribution = constant(0.002)
    #: metadata transactions of ``docker create`` (the writable layer's snapshot)
    create_commits: int = 1
    #: metadata transactions of ``docker start`` (containerd's container record)
    start_commits: int = 1
    #: ``global``: dockerd before 19.03 held one layer-store lock for the whole of CreateRWLayer
    layer_store_lock: LayerStoreLock = "per-container"


DEFAULT_CPU_SHARES = StartCpuShares()
DEFAULT_DAEMON_LOCKS = DaemonLocksSpec()
