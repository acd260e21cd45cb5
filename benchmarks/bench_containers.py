"""Containers at scale: 5,000 `docker run`s of CPU-bound work on 100 hosts; times the container runtime.

Every host has 8 cores; jobs arrive as a Poisson stream (200/s) placed round-robin, so about 50 containers
per host overlap; each runs lognormal(mean 60 CPU-s) of work capped by --cpus 1, 2 or 4. Every start and
every end re-divides a host's cores (processor sharing with caps), so this exercises the CPU model's
event-driven path: one rescheduled wake-up per change, O(distinct caps) work per change, no polling.

The baseline, measured in the same run, is raw SimPy with one process per job doing the same sequence of
waits (API call, create, start, run) as plain timeouts with the run taking its CPU time at full speed, so
the ratio is the cost of dsim's model (daemon workers, netns lock, spans, the CPU scheduler) over the
bare event loop. Both run under the collector settings of a dsim run, after collecting what ran before
(``bench_common.with_run_collector``).

    .venv/bin/python benchmarks/bench_containers.py [--jobs 5000] [--hosts 100] [--repeat 1] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import random
import sys
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import simpy

import dsim.world  # noqa: F401  (dsim.run imports the model lazily: loaded here, before the clock starts)
from dsim.api import load_scenario_text, simulate

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_common import with_run_collector  # noqa: E402

SCENARIO = """
name: bench-containers
seed: 1
hosts:
  node: {{count: {hosts}, cpus: 8, memory: 64GiB, preloaded: [nginx]}}
workloads:
{workloads}
"""


def scenario(jobs: int, hosts: int) -> str:
    workloads = []
    for cpus in (1, 2, 4):
        workloads.append(
            f"  cpus{cpus}: {{arrival: {{rate: {200 / 3:.6f}/s, count: {jobs // 3}}}, placement: round-robin, "
            f"steps: [{{run: {{image: nginx, cpus: {cpus}, cpu_time: 'lognormal(mean=60s, sigma=0.5)'}}}}]}}")
    return SCENARIO.format(hosts=hosts, workloads="\n".join(workloads))


def baseline(jobs: int, seed: int = 1) -> tuple[float, int, float]:
    """Raw SimPy: one process per job, the same waits as plain timeouts, work at full speed."""
    env = simpy.Environment()
    rng = random.Random(seed)

    def job(at: float, work: float) -> Generator[Any, Any, None]:
        yield env.timeout(at)
        for cost in (0.002, 0.06, 0.002, 0.504):
            yield env.timeout(cost)
        yield env.timeout(work)

    t = 0.0
    for _ in range(jobs):
        t += rng.expovariate(200)
        env.process(job(t, rng.lognormvariate(4.0, 0.5)))
    started, cpu = time.perf_counter(), time.process_time()
    events = 0
    try:
        while True:
            env.step()
            events += 1
    except simpy.core.EmptySchedule:
        pass
    return time.perf_counter() - started, events, time.process_time() - cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=5000)
    ap.add_argument("--hosts", type=int, default=100)
    ap.add_argument("--profile", action="store_true", help="cProfile the dsim run, print the top 25")
    ap.add_argument("--repeat", type=int, default=1, help="alternating runs of each; the fastest (CPU) is kept")
    args = ap.parse_args()

    resolved = load_scenario_text(scenario(args.jobs, args.hosts))
    bases, runs = [], []
    for _ in range(args.repeat):
        bases.append(with_run_collector(lambda: baseline(args.jobs)))
        gc.collect()  # the baseline's garbage is not dsim's
        if args.profile:
            prof = cProfile.Profile()
            prof.enable()
        started, cpu = time.perf_counter(), time.process_time()
        result = simulate(resolved)
        runs.append((time.perf_counter() - started, time.process_time() - cpu))
        if args.profile:
            prof.disable()
    base_wall, base_events, base_cpu = min(bases, key=lambda run: run[2])
    wall, cpu = min(runs, key=lambda run: run[1])
    if args.profile:
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
    summary = result.summary()
    util = sum(host["cpu_util"] for host in summary["hosts"].values()) / len(summary["hosts"])
    print(f"containers: {summary['jobs']['completed']} of {summary['jobs']['total']} jobs on {args.hosts} hosts "
          f"(8 cores each), makespan {summary['makespan_s']:.1f} s, mean cpu_util {util:.3f}")
    print(f"  dsim      : {cpu:7.3f} s CPU, {wall:7.3f} s wall (world build + run), {result.events:8d} events")
    print(f"  raw SimPy : {base_cpu:7.3f} s CPU, {base_wall:7.3f} s wall, {base_events:8d} events")
    print(f"  ratio     : {cpu / base_cpu:7.2f} x raw SimPy CPU ({wall / base_wall:.2f} x wall; best of {args.repeat})")


if __name__ == "__main__":
    main()
