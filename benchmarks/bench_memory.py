"""Peak memory of a big run, each measurement in a fresh process, against the simulation's own in the same run.

``api`` (the baseline): load the scenario, simulate it (spans kept) and compute summary.json, as a sweep's
run does. ``cli``: ``dsim run`` of the same scenario with every output (or those ``--run-options`` leave),
so ``cli`` minus ``api`` is what writing the outputs adds. Peak = the process's maximum resident set size
(ru_maxrss); for ``cli``, also the sum over dsim and the writers it forks to write the files (``dsim run
--writers``), sampled (PSS: shared pages counted once), and the larger of the two is judged. Each measurement
gives up after ``--timeout`` seconds.

Targets (docs/performance.md): a default ``dsim run`` (all outputs, trace.json too) of 100,000 container jobs
under 1 GiB; ``dsim run --no-trace`` of 1,000,000 jobs of the streamed ci-burst shape under 4 GiB:

    .venv/bin/python benchmarks/bench_memory.py [--jobs 100000] [--modes api,cli]
    .venv/bin/python benchmarks/bench_memory.py --shape stream --jobs 1000000 --run-options=--no-trace --target-gib 4
"""

from __future__ import annotations

import argparse
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_common import SHAPES, describe, shaped, simulate_timed  # noqa: E402


def child(shape: str, jobs: int) -> None:
    """In a fresh process: simulate and summarise, then print the peak RSS in bytes."""
    summary = simulate_timed(shaped(shape, jobs)).summary
    assert summary["jobs"]["completed"] == jobs, summary["jobs"]
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)  # Linux reports KiB


def measure(mode: str, shape: str, jobs: int, run_options: list[str], timeout: float) -> tuple[int, float]:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        if mode == "api":
            out = subprocess.run([sys.executable, __file__, "--child", str(jobs), "--shape", shape], check=True,
                                 capture_output=True, text=True, timeout=timeout).stdout
            peak = int(out.strip().splitlines()[-1])
        else:
            scenario = Path(tmp) / "s.yaml"
            scenario.write_text(shaped(shape, jobs))
            before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            process = subprocess.Popen([sys.executable, "-m", "dsim", "run", str(scenario), *run_options, "-q",
                                        "--out", str(Path(tmp) / "out")])
            together = _sampled_tree_peak(process, timeout)
            largest = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
            if resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss == before:
                print("(note: an earlier child had a higher peak; this figure is an upper bound)")
            print(f"  largest process {largest / 2**20:,.0f} MiB (ru_maxrss); dsim and its writers together "
                  f"{together / 2**20:,.0f} MiB (PSS summed, sampled every {SAMPLE_S * 1000:g} ms)")
            peak = max(largest, together)
    return peak, time.perf_counter() - started


#: How often the cli mode samples the memory of ``dsim run`` and the writers it forks (seconds).
SAMPLE_S = 0.02


def _sampled_tree_peak(process: subprocess.Popen[bytes], timeout: float) -> int:
    """The largest sum of proportional set sizes (PSS: a page shared by n processes counts 1/n in each, so
    pages a forked writer shares with dsim count once) over ``process`` and its children, sampled until it
    ends. ru_maxrss alone gives only the largest process's own peak."""
    deadline = time.monotonic() + timeout
    peak = 0
    while process.poll() is None:
        if time.monotonic() > deadline:
            process.kill()
            raise subprocess.TimeoutExpired(process.args, timeout)
        peak = max(peak, sum(map(_pss, [process.pid, *_children(process.pid)])))
        time.sleep(SAMPLE_S)
    if process.returncode != 0:
        raise subprocess.CalledProcessError(process.returncode, process.args)
    return peak


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc: Linux)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:  # ended meanwhile
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _pss(pid: int) -> int:
    """A process's proportional set size in bytes (0 once it has ended)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--shape", choices=SHAPES, default="jobs")
    parser.add_argument("--modes", default="api,cli")
    parser.add_argument("--run-options", default="", help="options for dsim run in the cli mode (default: none)")
    parser.add_argument("--target-gib", type=float, default=1.0)
    parser.add_argument("--timeout", type=float, default=7200.0)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        child(args.shape, args.child)
        return 0
    print(describe())
    verdict = "ok"
    options = shlex.split(args.run_options)
    for mode in args.modes.split(","):
        what = f"dsim run {' '.join(options)}".strip() if mode == "cli" else "simulate + summary"
        try:
            peak, elapsed = measure(mode, args.shape, args.jobs, options, args.timeout)
        except subprocess.TimeoutExpired:
            print(f"{mode}: {args.jobs:,} jobs: did not finish in {args.timeout:g} s")
            verdict = "MISSED"
            continue
        print(f"{mode} ({what}): {args.jobs:,} jobs of shape {args.shape}, peak RSS {peak / 2**20:,.0f} MiB "
              f"({elapsed:.1f} s wall)")
        if mode == "cli" and peak >= args.target_gib * 2**30:
            verdict = "MISSED"
    print(f"target: dsim run under {args.target_gib:g} GiB: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
