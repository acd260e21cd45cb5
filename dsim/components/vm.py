"""Sandboxes and instances that bring their own kernel, by runtime profile (``isolation`` on a run step).

``vm | microvm`` run an image in a VM as Kata Containers does: the VMM reserves the guest's memory plus its
own overhead on the host, then a guest kernel boots before the workload can start; the guest's page cache
lives in its own memory, so VMs of one image share none of it, unlike containers on one kernel. The named
runtimes (dsim/domain/runtimes.py: runc, crun, runsc, kata-*) add, after ``runc create``, their sandbox's
memory overhead (reserved on the host, refused when it does not fit) and their start-up: CPU work on the
host's processor-sharing scheduler (a guest kernel's boot, gVisor's Sentry) plus any wall-time part.
"""

from __future__ import annotations

import random
from collections.abc import Generator
from typing import Any

import simpy

from dsim.components.container import Container
from dsim.components.errors import ApiError
from dsim.components.host import Kernel
from dsim.distributions import constant
from dsim.domain.hosts import HostSpec, VmFlavour
from dsim.records import Recorder, SpanKind

MIB = 2**20

#: runc when a host was built without runtime profiles: nothing beyond the runc path
_RUNC = VmFlavour(constant(0.0), 0.0, 0.0, "host")


def flavour(host: HostSpec, isolation: str) -> VmFlavour:
    """The host's profile for ``isolation``: vm, microvm, or a named runtime (container is runc)."""
    if isolation == "vm":
        return host.vm
    if isolation == "microvm":
        return host.microvm
    return host.runtimes.get("runc" if isolation == "container" else isolation, _RUNC)


def guest_kernel(host: HostSpec, isolation: str) -> bool:
    """A VM whose whole guest memory is reserved: the guest's limit and page cache are its own."""
    return isolation != "container" and flavour(host, isolation).kernel == "guest"


def guest_memory(host: HostSpec, container: Container) -> float:
    """The guest's RAM: the run step's ``memory``, else the flavour's default."""
    spec = container.spec
    return spec.memory if spec.memory is not None else flavour(host, spec.isolation).memory


def boot(env: simpy.Environment, host: HostSpec, kernel: Kernel, container: Container, rng: random.Random,
         recorder: Recorder, *, job: int) -> Generator[Any, Any, None]:
    """Reserve the sandbox's memory (guest memory + VMM overhead for a VM; the overhead otherwise), refused
    when the host cannot hold it; then boot: wall time, then CPU work on the host's cores."""
    vm = flavour(host, container.spec.isolation)
    guest = vm.kernel == "guest"
    need = guest_memory(host, container) + vm.overhead if guest else vm.overhead
    if need > 0 and not kernel.reserve(container, need):
        what = "guest memory" if guest else "the sandbox"
        raise ApiError(500, f"failed to create shim task: cannot set up {what} for {container.name}: "
                            f"Cannot allocate memory (needs {need / MIB:.0f} MiB, "
                            f"{max(0.0, kernel.free_memory()) / MIB:.0f} MiB free)")
    began = env.now
    wall = vm.boot.sample(rng)
    if wall > 0 or guest:
        yield env.timeout(wall)
    if vm.boot_cpu > 0:
        yield kernel.cpu.run(vm.boot_cpu, vm.vcpus).done
    if guest or need > 0 or env.now > began:
        recorder.span(SpanKind.BOOT, container.name, began, env.now, host=kernel.name, job=job,
                      isolation=container.spec.isolation, memory=need)
