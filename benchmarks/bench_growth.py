"""Growth: 10x the jobs should cost at most 11x the wall time (2,000 -> 20,000 container jobs on 100 hosts).

Both sizes run ``scenarios.container_jobs`` (the load per host does not depend on the job count, so the
simulated time grows with it); the wall time covers building the world, running it and the summary.
Each size runs ``--repeat`` times and the fastest is kept (the least disturbed by other processes).
Measured with CPython's default garbage-collector thresholds (as ``dsim run``) and as a sweep run does.
Judged on CPU time (equal to wall time on an idle machine, barely moved by other processes on a shared
one); the wall-time ratio is printed too.

    .venv/bin/python benchmarks/bench_growth.py [--jobs 2000] [--factor 10] [--hosts 100] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_common import GC_MODES, container_jobs, describe, simulate_timed  # noqa: E402

TARGET = 11.0


def measure(jobs: int, hosts: int, gc_mode: str) -> tuple[float, float, int]:
    """(CPU seconds, wall seconds, events) of building, running and summarising the scenario."""
    timing = simulate_timed(container_jobs(jobs, hosts), gc_mode)
    assert timing.summary["jobs"]["completed"] == jobs, timing.summary["jobs"]
    return timing.cpu, timing.wall, int(timing.summary["events"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--factor", type=int, default=10)
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    print(describe())
    limit = TARGET * args.factor / 10
    for gc_mode in GC_MODES:
        cpu, wall = {}, {}
        for jobs in (args.jobs, args.jobs * args.factor):
            runs = [measure(jobs, args.hosts, gc_mode) for _ in range(args.repeat)]
            cpu[jobs] = min(run[0] for run in runs)
            wall[jobs] = min(run[1] for run in runs)
            print(f"{gc_mode} GC: {jobs:>8,} jobs: {cpu[jobs]:.2f} s CPU, {wall[jobs]:.2f} s wall "
                  f"(best of {args.repeat}), {runs[0][2]:,} events")
        big, small = args.jobs * args.factor, args.jobs
        ratio = cpu[big] / cpu[small]
        print(f"{gc_mode} GC: {args.factor}x the jobs cost {ratio:.2f}x the CPU time "
              f"(wall: {wall[big] / wall[small]:.2f}x; target <= {limit:g}): {'ok' if ratio <= limit else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
