"""What the benchmarks share: the scenarios they generate and a description of the machine."""

from __future__ import annotations

import gc
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any, TypeVar

T = TypeVar("T")


def container_jobs(jobs: int, hosts: int = 100, *, seed: int = 1) -> str:
    """``jobs`` container jobs on ``hosts`` hosts: each pulls a 3-layer image (downloaded once per host,
    'Already exists' after), runs it for exponential(mean=60s) on 1 of 16 CPUs, and removes it. Poisson
    arrivals at half the fleet's CPU capacity (hosts x 16 CPUs / 60 s x 0.5), so the load per host, and
    so the work per job, does not depend on ``jobs``: the simulated time grows with ``jobs``."""
    rate = hosts * 16 / 60 * 0.5
    return f"""\
name: containers-{jobs}
seed: {seed}
registries:
  registry: {{bandwidth: 10Gbps, latency: 5ms}}
images:
  app:1: {{registry: registry, layers: [30MB, 10MB, 5MB]}}
hosts:
  node: {{count: {hosts}, cpus: 16, memory: 64GiB, nic: 10Gbps}}
workloads:
  jobs:
    arrival: {{rate: {rate:.6f}/s, count: {jobs}}}
    placement: round-robin
    steps:
      - pull: app:1
      - run: {{image: app:1, duration: "exponential(mean=60s)", cpus: 1, memory: 1GiB}}
      - rm: {{}}
"""


def ci_burst_jobs(jobs: int, *, burst: bool = False, runners: int | None = None, slots: int | None = None,
                  seed: int = 42) -> str:
    """scenarios/ci-burst.yaml's work scaled to ``jobs``: each job pulls the 10-layer CI image (about 1 GB,
    from a 1 Gbps registry), runs it for lognormal(mean 4 min) on 2 of a runner's 8 CPUs, and removes it.

    ``burst``: as ci-burst, every job lands at time 0, 10 per runner (``jobs / 10`` runners): every runner
    pulls at once and its later jobs wait on its downloads. Else streamed: Poisson arrivals on ``runners``
    runners (default 100) at half their CPU capacity (runners x 4 jobs at once / 240 s x 0.5), so the
    load per runner does not depend on ``jobs`` (each runner pulls once, then finds every layer).

    ``slots``: each runner's job_slots (scenarios/ci-burst.yaml has 4): a burst then runs 4 jobs a runner at
    once and queues the rest."""
    if burst:
        runners = max(1, jobs // 10)
        arrival = f"{{burst: {jobs}, at: 0s}}"
    else:
        runners = runners or 100
        arrival = f"{{rate: {runners * 4 / 240 * 0.5:.6f}/s, count: {jobs}}}"
    return f"""\
name: ci-{'burst' if burst else 'stream'}-{jobs}
seed: {seed}
registries:
  registry: {{bandwidth: 1Gbps, latency: 20ms, auth: token}}
images:
  python:3.11: {{registry: registry, layers: [48MB, 24MB, 64MB, 211MB, 6MB, 20MB, 3MB]}}
  ci-runner:1.4: {{registry: registry, from: python:3.11, layers: [310MB, 45MB, 250MB]}}
hosts:
  runner:
    count: {runners}{f"{chr(10)}    job_slots: {slots}" if slots else ""}
    cpus: 8
    memory: 32GiB
    disk: 200GiB
    nic: 10Gbps
    daemon: {{workers: 8, api_service_time: exponential(mean=2ms)}}
workloads:
  ci:
    arrival: {arrival}
    placement: round-robin
    steps:
      - pull: ci-runner:1.4
      - run: {{image: ci-runner:1.4, duration: "lognormal(mean=4m, sigma=0.5)", cpus: 2, memory: 4GiB}}
      - rm: {{}}
"""


#: The shapes the benchmarks scale: ``jobs`` (container_jobs), ``stream``, ``burst`` and ``slots`` (ci_burst_jobs;
#: ``slots`` is the burst with ci-burst.yaml's 4 job slots a runner)
SHAPES = ("jobs", "stream", "burst", "slots")


def shaped(shape: str, jobs: int) -> str:
    """The scenario text of ``jobs`` jobs of ``shape`` (``SHAPES``)."""
    if shape == "jobs":
        return container_jobs(jobs)
    if shape in ("stream", "burst"):
        return ci_burst_jobs(jobs, burst=shape == "burst")
    if shape == "slots":
        return ci_burst_jobs(jobs, burst=True, slots=4)
    raise ValueError(f"unknown shape {shape!r} (choose from {', '.join(SHAPES)})")


def describe() -> str:
    model = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    memory = ""
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory = f", {pages / 2**30:.0f} GiB"
    except (ValueError, OSError, AttributeError):
        pass
    load = ""
    if hasattr(os, "getloadavg"):
        load = f", load {os.getloadavg()[0]:.2f}"
    return (f"{model}, {cores} cores{memory}{load}; {platform.system()} {platform.release()}; "
            f"Python {platform.python_version()}, SimPy {version('simpy')}")


@dataclass(frozen=True)
class Timing:
    """One simulation's summary and clocks: ``wall``/``cpu`` cover building the world, running it and the
    summary; ``run_wall``/``run_cpu`` cover ``World.run`` alone. CPU time (this process only) equals wall
    time on an idle machine and is barely moved by other processes on a shared one."""

    summary: dict[str, Any]
    wall: float
    cpu: float
    run_wall: float
    run_cpu: float


def with_run_collector(function: Callable[[], T]) -> T:
    """``function()`` under the collector settings ``dsim run`` gives a run (``fewer_gc_passes``), after the
    garbage of what ran before is collected: a twin measured this way pays neither the previous run's cyclic
    garbage (a burst's: 0.3-0.7 s of the first young pass after it) nor the young passes CPython's default
    thresholds make while 20,000 jobs are live at once (a burst twin: 4.4-4.9 s at the defaults, 2.9-3.3 s
    like this; docs/performance.md, "The twins' collector"). So a ratio to a twin is the model's cost per
    event, not the collector's."""
    from dsim.gc_tuning import fewer_gc_passes

    gc.collect()
    with fewer_gc_passes():
        return function()


def simulate_timed(text: str) -> Timing:
    """Simulate a scenario text as ``dsim run`` does: world, run and summary inside
    ``dsim.gc_tuning.fewer_gc_passes`` (a sweep run does the same)."""
    from dsim.api import load_scenario_text
    from dsim.gc_tuning import fewer_gc_passes
    from dsim.world import World

    resolved = load_scenario_text(text)
    gc.collect()  # the garbage of what ran before is not this run's (``with_run_collector``)
    wall, cpu = time.perf_counter(), time.process_time()
    with fewer_gc_passes():
        world = World(resolved)
        run_wall, run_cpu = time.perf_counter(), time.process_time()
        result = world.run()
        run_wall, run_cpu = time.perf_counter() - run_wall, time.process_time() - run_cpu
        summary = result.summary()
    return Timing(summary, time.perf_counter() - wall, time.process_time() - cpu, run_wall, run_cpu)
