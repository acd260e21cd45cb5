"""Instances that bring their own kernel (``isolation: vm | microvm``), as Kata Containers runs an image in
a VM: the VMM reserves the guest's memory plus its own overhead on the host, then a guest kernel boots
before the workload can start. The guest's page cache lives in its own memory, so VMs of one image share
none of it, unlike containers on one kernel.
"""

from __future__ import annotations

import random
from collections.abc import Generator
from typing import Any

import simpy

from dsim.components.container import Container
from dsim.components.errors import ApiError
from dsim.components.host import Kernel
from dsim.domain.hosts import HostSpec, VmFlavour
from dsim.records import Recorder, SpanKind

MIB = 2**20


def flavour(host: HostSpec, isolation: str) -> VmFlavour:
    """The host's VM knobs for ``vm`` or ``microvm``."""
    return host.microvm if isolation == "microvm" else host.vm


def guest_memory(host: HostSpec, container: Container) -> float:
    """The guest's RAM: the run step's ``memory``, else the flavour's default."""
    spec = container.spec
    return spec.memory if spec.memory is not None else flavour(host, spec.isolation).memory


def boot(env: simpy.Environment, host: HostSpec, kernel: Kernel, container: Container, rng: random.Random,
         recorder: Recorder, *, job: int) -> Generator[Any, Any, None]:
    """Reserve guest memory + VMM overhead (refused when the host cannot hold it), then boot the guest."""
    vm = flavour(host, container.spec.isolation)
    need = guest_memory(host, container) + vm.overhead
    if not kernel.reserve(container, need):
        raise ApiError(500, f"failed to create shim task: cannot set up guest memory for {container.name}: "
                            f"Cannot allocate memory (needs {need / MIB:.0f} MiB, "
                            f"{max(0.0, kernel.free_memory()) / MIB:.0f} MiB free)")
    began = env.now
    yield env.timeout(vm.boot.sample(rng))
    recorder.span(SpanKind.BOOT, container.name, began, env.now, host=kernel.name, job=job,
                  isolation=container.spec.isolation, memory=need)
