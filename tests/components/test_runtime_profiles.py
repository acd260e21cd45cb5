"""Runtime profiles (``isolation: runsc | crun | kata-*``): start costs and per-sandbox memory, worked out by hand.

The runc path of a start is mount 20 ms + netns 10 ms + runc create 454 ms + exec 20 ms (hosts.X.runtime's
defaults); a profile adds its boot after runc create: ``boot_cpu`` CPU-seconds at up to ``vcpus`` cores
on the host's processor-sharing scheduler, so alone it takes boot_cpu / vcpus, and on one core shared with
a process that wants a whole core it takes twice that. Its ``overhead`` is reserved on the host's memory
per sandbox, refused ("Cannot allocate memory") when it does not fit.
"""

from __future__ import annotations

import textwrap

import pytest

from dsim.api import load_scenario_text
from tests.helpers import run_text

MIB = 2**20


def scenario(isolation: str, *, count: int = 1, memory: str = "16GiB", usage: str = "0MiB", cpus: int = 4,
             runtimes: str = "{}", hog: bool = False) -> str:
    hog_workload = ("\n      hog: {placement: h, arrival: {burst: 1}, steps: "
                    "[{run: {image: nginx, cpu_time: 1000s, threads: 1}}]}") if hog else ""
    return f"""
    name: runtimes
    hosts:
      h: {{cpus: {cpus}, memory: {memory}, preloaded: [nginx], runtimes: {runtimes}}}
    workloads:
      w:
        placement: h
        arrival: {{every: 1s, count: {count}, at: {5 if hog else 0}}}
        steps:
          - run: {{image: nginx, detach: true, memory_usage: {usage}, isolation: {isolation}}}{hog_workload}
    """


def start(isolation: str, **kwargs: object) -> float:
    [first] = run_text(scenario(isolation, **kwargs)).phase_samples("start")[:1]  # type: ignore[arg-type]
    return first


def test_runsc_adds_its_sentry_start_to_the_runc_path() -> None:
    # runsc's boot_cpu 50 ms on an idle core: the start is 50 ms longer than runc's
    assert start("runsc") - start("container") == pytest.approx(0.05)


def test_crun_creates_50_ms_faster_than_runc() -> None:
    # crun's start_saving 50 ms comes off runc create's 454 ms (crun README: 100 /bin/true 6.16 s vs runc
    # 11.17 s): 404 ms at the same CPU share, so on an idle host the start is exactly 50 ms shorter
    assert start("runc") - start("crun") == pytest.approx(0.050)
    assert start("runc") == pytest.approx(start("container"))


def test_a_start_saving_beyond_runc_create_leaves_nothing_of_it() -> None:
    # a saving of 1 s against 454 ms: runc create takes 0, never less; the bridge endpoint's rule it counted (3 ms
    # of dockerd's CPU before it) stays, so the start is 451 ms shorter
    faster = "{crun: {start_saving: 1s}}"
    assert start("runc") - start("crun", runtimes=faster) == pytest.approx(0.454 - 0.003)


def test_kata_boots_a_guest_kernel_on_the_host_cores() -> None:
    # kata-qemu boot_cpu 0.61 s, kata-fc 0.125 s, on an idle core
    assert start("kata-qemu") - start("container") == pytest.approx(0.61)
    assert start("kata-fc") - start("container") == pytest.approx(0.125)


def test_a_busy_one_core_host_boots_a_sandbox_twice_as_slowly() -> None:
    # 1 core, a process wanting 1 core since t = 0.57 s: the boot shares the core at 1/2: 2 x 0.61 s
    result = run_text(scenario("kata-qemu", cpus=1, hog=True))
    [boot] = [span for span in result.spans_of("boot")]
    assert boot.duration == pytest.approx(2 * 0.61)


def test_a_sandbox_memory_overhead_reduces_how_many_fit() -> None:
    # 1 GiB host, each container uses 10 MiB. runc: 12 of 10 MiB all fit (120 MiB).
    # runsc with its overhead set to 100 MiB: each takes 110 MiB: floor(1024 / 110) = 9 fit, the 10th
    # finds 1024 - 990 = 34 MiB free < 100 MiB and is refused; so are the 11th and 12th.
    runc = run_text(scenario("container", count=12, memory="1GiB", usage="10MiB"))
    assert runc.summary()["jobs"]["failed"] == 0
    runsc = run_text(scenario("runsc", count=12, memory="1GiB", usage="10MiB",
                              runtimes="{runsc: {overhead: 100MiB}}"))
    assert runsc.summary()["jobs"]["completed"] == 9
    assert runsc.summary()["jobs"]["failed"] == 3


def test_kata_qemu_sandboxes_each_hold_160_mib() -> None:
    # Kata's RuntimeClass overhead 160 MiB: floor(1024 / 160) = 6 sandboxes on 1 GiB
    result = run_text(scenario("kata-qemu", count=8, memory="1GiB"))
    assert result.summary()["jobs"]["completed"] == 6


def test_a_profile_field_overrides_only_itself() -> None:
    spec = load_scenario_text(textwrap.dedent(scenario("kata-fc", runtimes="{kata-fc: {boot_cpu: 1s}}")))
    [host] = spec.hosts
    kata_fc = host.spec.runtimes["kata-fc"]
    assert kata_fc.boot_cpu == 1.0
    assert kata_fc.overhead == 130 * MIB  # Kata's RuntimeClass default kept
    assert host.spec.runtimes["runsc"].overhead == 19.6e6  # gVisor density.csv: 23.7 MB - 4.1 MB


def test_isolation_vm_keeps_its_full_vm() -> None:
    # vm: the host's vm flavour (uniform 5-60 s boot, guest memory reserved): the boot span lies in [5, 60] s
    # and reserves 1 GiB + 131 MiB
    result = run_text(scenario("vm"))
    [boot] = result.spans_of("boot")
    assert 5.0 <= boot.duration <= 60.0
    assert boot.attrs["memory"] == 2**30 + 131 * MIB
