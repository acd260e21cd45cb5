"""Named container runtime profiles (``isolation: NAME`` on a run step, as ``docker run --runtime NAME``): what
each runtime adds to the runc path of a start, and what each sandbox costs the host in memory.

Every value has its source here and in docs/containers.md (Runtimes). The runc path itself (create, mount,
netns, runc create, exec) is ``hosts.X.runtime``; a profile adds a sandbox boot after ``runc create``:
``boot_cpu`` CPU-seconds on the host's processor-sharing scheduler (capped at ``vcpus`` cores: a guest
kernel or gVisor's Sentry runs on the host's cores, so it slows down on a busy host) plus ``boot`` of wall
time that is not CPU (firmware, waiting on devices), and holds ``overhead`` bytes of host memory per sandbox.
"""

from __future__ import annotations

from dataclasses import dataclass

MIB = 2**20


@dataclass(frozen=True, slots=True)
class RuntimeDefaults:
    """A runtime's sourced defaults. ``kernel``: host (runc, crun), sandbox (a kernel of its own whose
    memory the host allocates as it is used: gVisor's Sentry, a Kata guest) or guest (a VM whose whole guest
    memory is reserved up front)."""

    kernel: str
    boot_cpu: float
    boot: float
    vcpus: float
    overhead: float
    memory: float | None
    source: str
    #: seconds less than runc in ``runtime.start`` (runc create): an OCI runtime faster than runc
    start_saving: float = 0.0


#: The runtimes dsim knows by name; ``container`` (the default) is runc. ``vm`` and ``microvm`` keep their
#: own host fields (hosts.X.vm, hosts.X.microvm).
BUILTIN_RUNTIMES: dict[str, RuntimeDefaults] = {
    "runc": RuntimeDefaults(
        "host", 0.0, 0.0, 1.0, 0.0, None,
        "its costs are hosts.X.runtime (Khan, arXiv:2602.15214: a warm docker run totals 568 ms)"),
    "crun": RuntimeDefaults(
        "host", 0.0, 0.0, 1.0, 0.0, None,
        "https://github.com/containers/crun#performance: 100 sequential /bin/true containers, each in a new network "
        "namespace, 6.16 s vs runc 11.17 s: 50 ms less per container, taken off runtime.start's 454 ms (an "
        "earlier version of the README: 1.69 s vs 3.34 s without the namespace)", start_saving=0.050),
    "runsc": RuntimeDefaults(
        "sandbox", 0.05, 0.0, 1.0, 19.6e6, None,
        "memory: gVisor density.csv (https://github.com/google/gvisor/blob/master/website/performance/"
        "density.csv): an empty container uses 23.7 MB under runsc vs 4.1 MB under runc, so the Sentry and "
        "Gofer add 19.6 MB; boot: runsc create + start 81-280 ms across 8 hosts "
        "(https://apoxy.dev/blog/gvisor-cold-start-where-the-time-goes), fastest 81 ms less runc's ~33 ms "
        "(crun README) = about 50 ms of Sentry start-up"),
    "kata-qemu": RuntimeDefaults(
        "sandbox", 0.61, 0.0, 1.0, 160 * MIB, None,
        "overhead: Kata's RuntimeClass podFixed memory 160Mi (https://github.com/kata-containers/kata-containers/"
        "blob/main/tools/packaging/kata-deploy/runtimeclasses/kata-runtimeClasses.yaml); boot: Kata CI's "
        "baseline launch-to-workload 0.61 s with QEMU (tests/metrics/cmd/checkmetrics/ci_worker/"
        "checkmetrics-json-qemu-kata-metric8.toml)"),
    "kata-clh": RuntimeDefaults(
        "sandbox", 0.69, 0.0, 1.0, 130 * MIB, None,
        "overhead: Kata RuntimeClass kata-clh podFixed memory 130Mi; boot: Kata CI's baseline launch-to-workload "
        "0.69 s with Cloud Hypervisor (checkmetrics-json-clh-kata-metric8.toml)"),
    "kata-fc": RuntimeDefaults(
        "sandbox", 0.125, 0.0, 1.0, 130 * MIB, None,
        "overhead: Kata RuntimeClass kata-fc podFixed memory 130Mi; boot: Firecracker's <= 125 ms from "
        "InstanceStart to the guest's /sbin/init (firecracker SPECIFICATION.md), Kata's agent start not included"),
}


def runtime_names() -> tuple[str, ...]:
    """Every name ``isolation`` takes: container (runc), the built-in runtimes, vm and microvm."""
    return ("container", *BUILTIN_RUNTIMES, "vm", "microvm")
