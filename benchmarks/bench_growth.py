"""Growth: 10x the jobs should cost at most 11x the CPU time (2,000 -> 20,000 container jobs on 100 hosts).

Both sizes run ``scenarios.container_jobs`` (the load per host does not depend on the job count, so the
simulated time grows with it); the wall time covers building the world, running it and the summary.
The two sizes alternate, ``--repeat`` times each, and each keeps its fastest run (the least disturbed by
other processes; alternating, a spell of load on a shared machine hits both sizes alike).
Simulated as ``dsim run`` (and a sweep run) does: inside ``dsim.gc_tuning.fewer_gc_passes``.
Judged on CPU time (equal to wall time on an idle machine, barely moved by other processes on a shared
one); the wall-time ratio is printed too.

``--shape burst``: ci-burst's work scaled out (every job at time 0, 10 per runner, so 10x the jobs is 10x the
runners pulling the CI image at once through one registry); ``--shape stream``: the same jobs arriving as
a Poisson stream on 100 runners (bench_common.ci_burst_jobs).

    .venv/bin/python benchmarks/bench_growth.py [--jobs 2000] [--factor 10] [--hosts 100] [--repeat 5]
                                               [--shape jobs|stream|burst]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_common import SHAPES, container_jobs, describe, shaped, simulate_timed  # noqa: E402

TARGET = 11.0


def measure(jobs: int, hosts: int, shape: str = "jobs") -> tuple[float, float, int]:
    """(CPU seconds, wall seconds, events) of building, running and summarising the scenario."""
    timing = simulate_timed(container_jobs(jobs, hosts) if shape == "jobs" else shaped(shape, jobs))
    assert timing.summary["jobs"]["completed"] == jobs, timing.summary["jobs"]
    return timing.cpu, timing.wall, int(timing.summary["events"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--factor", type=int, default=10)
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--shape", choices=SHAPES, default="jobs")
    args = parser.parse_args(argv)
    print(describe())
    limit = TARGET * args.factor / 10
    sizes = (args.jobs, args.jobs * args.factor)
    runs: dict[int, list[tuple[float, float, int]]] = {jobs: [] for jobs in sizes}
    for _ in range(args.repeat):
        for jobs in sizes:
            runs[jobs].append(measure(jobs, args.hosts, args.shape))
    cpu = {jobs: min(run[0] for run in runs[jobs]) for jobs in sizes}
    wall = {jobs: min(run[1] for run in runs[jobs]) for jobs in sizes}
    for jobs in sizes:
        print(f"{jobs:>8,} jobs ({args.shape}): {cpu[jobs]:.2f} s CPU, {wall[jobs]:.2f} s wall "
              f"(best of {args.repeat}), "
              f"{runs[jobs][0][2]:,} events")
    big, small = args.jobs * args.factor, args.jobs
    ratio = cpu[big] / cpu[small]
    print(f"{args.factor}x the jobs cost {ratio:.2f}x the CPU time (wall: {wall[big] / wall[small]:.2f}x; "
          f"target <= {limit:g}): {'ok' if ratio <= limit else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
