"""Instructions: whether a job's work grows with the run, counted by callgrind (valgrind) instead of timed.

CPU time on a shared machine moves by several percent between runs, more than the effects being judged; and
it includes what the memory hierarchy adds to every instruction (cache and TLB misses), which grows with
the live state. Callgrind's count of executed instructions repeats within about 0.5% run after run
(``PYTHONHASHSEED=0``, address randomization off by ``setarch -R``) and holds only the work itself, so it
separates the two: if a job costs as many instructions in a run of 10x the jobs, dsim's own work grows
linearly and the rest of the CPU time's growth is the machine's.

Method: callgrind counts a whole process, imports included, so three sizes are counted, n/f, n and f n
jobs, and the run's instructions per job are the slopes between them: over [n/f, n] and over [n, f n].
Taking the smaller run as linear from its first jobs, f times the jobs costs 1 + (f - 1) x (slope over
[n, f n]) / (slope over [n/f, n]) times the instructions (f exactly when a job costs the same). Callgrind
crashes in the Go runtime of the ``dockerfile`` package (BuildKit's parser), which these shapes never
use, so the counted process stubs it. About a minute of CPU per 1,000 burst jobs.

    .venv/bin/python benchmarks/bench_instructions.py [--shape jobs|stream|burst] [--jobs 500] [--factor 10]
                                                      [--tree PATH] [--twin]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_common import SHAPES, describe  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

#: the counted process: the shape's scenario built and run as ``dsim run`` does (the dockerfile package stubbed)
CHILD = """\
import os, sys, types
sys.modules["dockerfile"] = types.ModuleType("dockerfile")
sys.path.insert(0, sys.argv[3] + "/benchmarks")
from bench_common import shaped
from dsim.api import load_scenario_text
from dsim.gc_tuning import fewer_gc_passes
from dsim.world import World
world = World(load_scenario_text(shaped(sys.argv[1], int(sys.argv[2]))))
with fewer_gc_passes():
    result = world.run()
    # the process ends here: leaving the block restores CPython's thresholds (the next allocation would start a
    # young pass over everything the run kept) and the interpreter's exit collects and frees it all, about 16,000
    # instructions a streamed job that the slope would count as the run's
    print("events", result.events, flush=True)
    os._exit(0)
"""
#: the counted process for ``--twin``: the plain SimPy twin of the shape (bench_events', bench_growth's)
TWIN_CHILD = """\
import sys
sys.path.insert(0, sys.argv[3] + "/benchmarks")
if sys.argv[1] in ("burst", "stream"):
    from bench_growth import ci_twin
    ci_twin(int(sys.argv[2]), burst=sys.argv[1] == "burst")
else:
    from bench_events import raw_simpy
    raw_simpy(int(sys.argv[2]), 100)
"""

#: address-space randomization off where setarch exists: objects hashed by address then land alike run after
#: run, and the count repeats within about 0.5% (about 1% with it on)
_NO_ASLR = ["setarch", platform.machine(), "-R"] if shutil.which("setarch") else []

_COLLECTED = re.compile(r"Collected\s*:\s*([\d,]+)")

Runner = Callable[[list[str], dict[str, str]], str]


def run_callgrind(command: list[str], env: dict[str, str]) -> str:
    """valgrind's report (its stderr) for ``command``."""
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return done.stderr


def instructions(shape: str, jobs: int, tree: Path, runner: Runner = run_callgrind, *, twin: bool = False) -> int:
    """Instructions callgrind counts in a process that runs ``jobs`` jobs of ``shape`` with ``tree``'s dsim."""
    # one OpenBLAS thread: numpy's idle BLAS threads spin a varying while (10-47 million instructions a process,
    # up to 4% of a job's slope over 600 jobs); dsim does no linear algebra
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": str(tree), "OPENBLAS_NUM_THREADS": "1"}
    # -P: ``-c`` would put the working directory first on the path, and run from inside another source tree
    # that tree's dsim would be counted, whatever ``tree`` is
    report = runner([*_NO_ASLR, "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, "-P",
                     "-c",
                     TWIN_CHILD if twin else CHILD,
                     shape, str(jobs), str(tree)], env)
    found = _COLLECTED.search(report)
    if found is None:
        raise RuntimeError(f"no instruction count in valgrind's report:\n{report}")
    return int(found.group(1).replace(",", ""))


def growth(small: int, middle: int, large: int, jobs: int, factor: int) -> tuple[float, float, float]:
    """(instructions per job over [jobs/factor, jobs], over [jobs, factor x jobs], and what factor x the jobs
    cost in instructions) from the counts of the three sizes."""
    first = jobs // factor
    below = (middle - small) / (jobs - first)
    above = (large - middle) / (jobs * factor - jobs)
    return below, above, 1 + (factor - 1) * above / below


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=SHAPES, default="burst")
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--factor", type=int, default=10)
    parser.add_argument("--tree", type=Path, default=ROOT, help="the source tree whose dsim is counted")
    parser.add_argument("--twin", action="store_true", help="count the shape's plain SimPy twin as well")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        parser.error("valgrind is not installed (Debian: apt-get install valgrind)")
    if args.jobs // args.factor < 1:
        parser.error("--jobs must be at least --factor (the smallest run is jobs / factor)")
    print(describe())
    sizes = (args.jobs // args.factor, args.jobs, args.jobs * args.factor)
    for twin in (False, True) if args.twin else (False,):
        counts = [instructions(args.shape, size, args.tree.resolve(), twin=twin) for size in sizes]
        _report("plain SimPy twin" if twin else "dsim", args.shape, sizes, counts, args.factor)
    return 0


def _report(who: str, shape: str, sizes: tuple[int, int, int], counts: list[int], factor: int) -> None:
    for size, count in zip(sizes, counts, strict=True):
        print(f"{who}: {size:>9,} jobs ({shape}): {count:,} instructions (the whole process)")
    below, above, grown = growth(counts[0], counts[1], counts[2], sizes[1], factor)
    print(f"{who}: per job {below:,.0f} instructions over [{sizes[0]:,}, {sizes[1]:,}] jobs, {above:,.0f} over "
          f"[{sizes[1]:,}, {sizes[2]:,}] ({above / below:.3f}x)")
    print(f"{who}: {factor}x the jobs cost {grown:.2f}x the instructions ({factor:.2f}x when linear)")


if __name__ == "__main__":
    sys.exit(main())
