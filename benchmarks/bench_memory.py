"""Peak memory of a 100,000-job scenario (target: < 1 GB), each measurement in a fresh process.

``api``: load ``bench_common.container_jobs(100000)``, simulate it (spans kept) and compute summary.json,
as a sweep's run does. ``cli``: ``dsim run --no-charts
--no-trace`` of the same scenario, which also writes summary.json, jobs.csv and spans.csv (charts,
report.html and trace.json are built from every span and are left out here). Peak = the process's
maximum resident set size (ru_maxrss). Each measurement gives up after ``--timeout`` seconds.

    .venv/bin/python benchmarks/bench_memory.py [--jobs 100000] [--modes api,cli]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_common import container_jobs, describe, simulate_timed  # noqa: E402

TARGET_BYTES = 1 << 30


def child(jobs: int) -> None:
    """In a fresh process: simulate and summarise, then print the peak RSS in bytes."""
    summary = simulate_timed(container_jobs(jobs)).summary
    assert summary["jobs"]["completed"] == jobs, summary["jobs"]
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)  # Linux reports KiB


def measure(mode: str, jobs: int, timeout: float) -> tuple[int, float]:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        if mode == "api":
            out = subprocess.run([sys.executable, __file__, "--child", str(jobs)], check=True,
                                 capture_output=True, text=True, timeout=timeout).stdout
            peak = int(out.strip().splitlines()[-1])
        else:
            scenario = Path(tmp) / "s.yaml"
            scenario.write_text(container_jobs(jobs))
            before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            subprocess.run([sys.executable, "-m", "dsim", "run", str(scenario), "--no-charts", "--no-trace", "-q",
                            "--out", str(Path(tmp) / "out")], check=True, timeout=timeout)
            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
            if resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss == before:
                print("(note: an earlier child had a higher peak; this figure is an upper bound)")
    return peak, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--modes", default="api,cli")
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        child(args.child)
        return 0
    print(describe())
    verdict = "ok"
    for mode in args.modes.split(","):
        try:
            peak, elapsed = measure(mode, args.jobs, args.timeout)
        except subprocess.TimeoutExpired:
            print(f"{mode}: {args.jobs:,} jobs: did not finish in {args.timeout:g} s")
            verdict = "MISSED"
            continue
        print(f"{mode}: {args.jobs:,} jobs, peak RSS {peak / 2**20:,.0f} MiB ({elapsed:.1f} s)")
        if peak >= TARGET_BYTES:
            verdict = "MISSED"
    print(f"target < 1 GiB: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
