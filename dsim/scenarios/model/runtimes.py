"""Runtime profiles on a host group (``runtimes:``): the named runtimes a run step picks with ``isolation``.

Each name starts from its sourced defaults (dsim/domain/runtimes.py); fields written in the scenario
override them one by one.
"""

from __future__ import annotations

from typing import Annotated, Literal, cast

from pydantic import BeforeValidator, Field

from dsim.distributions import constant
from dsim.domain.runtimes import BUILTIN_RUNTIMES
from dsim.scenarios.fields import FiniteDuration, FiniteDurationDist, Size
from dsim.scenarios.model.base import Strict

RuntimeName = Literal["runc", "crun", "runsc", "kata-qemu", "kata-clh", "kata-fc"]


class RuntimeProfile(Strict):
    """What a runtime adds to the runc path of a start (after ``runc create``) and costs the host per sandbox.
    Defaults per name: docs/containers.md (Runtimes), with sources."""

    kernel: Literal["host", "sandbox", "guest"] = Field(
        "host", description="host: the host's kernel (runc, crun); sandbox: a kernel of its own whose memory the "
        "host allocates as it is used (gVisor's Sentry, a Kata guest); guest: a VM whose guest memory is reserved "
        "up front",
    )
    boot_cpu: FiniteDuration = Field(
        0.0, ge=0, description="CPU-seconds of sandbox start-up (VMM and guest kernel boot, the Sentry's start) on "
        "the host's processor-sharing scheduler: slower on a busy host",
    )
    vcpus: float = Field(1.0, gt=0, allow_inf_nan=False, description="cores boot_cpu can use (the guest's vCPUs)")
    boot: FiniteDurationDist = Field(constant(0.0), description="wall time of the boot that is not CPU work")
    overhead: Size = Field(0.0, description="host memory per sandbox (VMM, guest kernel, Sentry and Gofer)")
    memory: Size | None = Field(None, description="kernel guest: guest memory reserved when the run gives no `memory`")
    start_saving: FiniteDuration = Field(
        0.0, ge=0, description="seconds less than runc in runtime.start (runc create), CPU and wait alike: crun 50ms "
        "(https://github.com/containers/crun#performance: 100 sequential /bin/true containers in new network "
        "namespaces, 6.16s vs runc 11.17s)",
    )


def _defaults(name: str) -> dict[str, object]:
    found = BUILTIN_RUNTIMES[name]
    return {"kernel": found.kernel, "boot_cpu": found.boot_cpu, "vcpus": found.vcpus, "boot": found.boot,
            "overhead": found.overhead, "memory": found.memory, "start_saving": found.start_saving}


def builtin_runtimes() -> dict[RuntimeName, RuntimeProfile]:
    return {cast(RuntimeName, name): RuntimeProfile.model_validate(_defaults(name)) for name in BUILTIN_RUNTIMES}


def _merge(value: object) -> object:
    """Every built-in runtime, each written field over its defaults (unknown names are left to the Literal)."""
    if not isinstance(value, dict):
        return value
    merged: dict[object, object] = {name: profile for name, profile in builtin_runtimes().items()}
    for name, written in value.items():
        if name in BUILTIN_RUNTIMES and isinstance(written, dict):
            merged[name] = {**_defaults(name), **written}
        else:
            merged[name] = written
    return merged


Runtimes = Annotated[dict[RuntimeName, RuntimeProfile], BeforeValidator(_merge)]
