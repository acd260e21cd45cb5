"""Growth: 10x the jobs should cost at most 11x the wall time (2,000 -> 20,000 container jobs on 100 hosts).

Both sizes run ``scenarios.container_jobs`` (the load per host does not depend on the job count, so the
simulated time grows with it); the wall time covers building the world, running it and the summary.
Each size runs ``--repeat`` times and the fastest is kept (the least disturbed by other processes).
Measured with CPython's default garbage-collector thresholds (as ``dsim run``) and as a sweep run does.

    .venv/bin/python benchmarks/bench_growth.py [--jobs 2000] [--factor 10] [--hosts 100] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_common import GC_MODES, container_jobs, describe, simulate_summary  # noqa: E402

TARGET = 11.0


def wall(jobs: int, hosts: int, gc_mode: str) -> tuple[float, int]:
    summary, elapsed = simulate_summary(container_jobs(jobs, hosts), gc_mode)
    assert summary["jobs"]["completed"] == jobs, summary["jobs"]
    return elapsed, int(summary["events"])


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
        results = {}
        for jobs in (args.jobs, args.jobs * args.factor):
            runs = [wall(jobs, args.hosts, gc_mode) for _ in range(args.repeat)]
            best, events = min(runs)
            results[jobs] = best
            print(f"{gc_mode} GC: {jobs:>8,} jobs: {best:.2f} s wall (best of {args.repeat}), {events:,} events")
        ratio = results[args.jobs * args.factor] / results[args.jobs]
        print(f"{gc_mode} GC: {args.factor}x the jobs cost {ratio:.2f}x the wall time (target <= {limit:g}): "
              f"{'ok' if ratio <= limit else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
