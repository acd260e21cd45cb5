"""Building a large world before time 0: CPU time and traced memory of ``World(...)`` of many hosts.

``container_jobs(1, hosts)``: one job (so nothing of the run weighs in), ``--hosts`` hosts of 16 CPUs. Each
measurement is a fresh process (imports done before the clock starts), so what one build allocates does not
slow the next. ``--against TREE``: also build with the dsim of another source tree (e.g. the branch point,
``git archive COMMIT | tar -x -C TREE``), the two alternating ``--repeat`` times, best of each: the
baseline in the same run. Judged on process CPU time; peak traced memory (tracemalloc) from a separate build.

    .venv/bin/python benchmarks/bench_world.py [--hosts 20000] [--repeat 3] [--against TREE]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_common import describe  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

_CHILD = """
import json, sys, time, tracemalloc
sys.path.insert(0, {bench!r})
import dsim
assert dsim.__file__.startswith({tree!r}), dsim.__file__
from bench_common import container_jobs
from dsim.api import load_scenario_text
from dsim.gc_tuning import fewer_gc_passes
from dsim.world import World
resolved = load_scenario_text(container_jobs(1, {hosts}))
if {traced}:
    tracemalloc.start()
cpu = time.process_time()
with fewer_gc_passes():
    world = World(resolved)
cpu = time.process_time() - cpu
peak = tracemalloc.get_traced_memory()[1] if {traced} else 0
print(json.dumps({{"cpu": cpu, "peak": peak}}))
"""


def build(tree: Path, hosts: int, traced: bool = False) -> dict[str, float]:
    """One build in a fresh process with ``tree``'s dsim: CPU seconds and peak traced bytes."""
    code = _CHILD.format(bench=str(HERE), tree=str(tree.resolve()), hosts=hosts, traced=traced)
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env,
                         cwd=tree).stdout  # ``-c`` puts the working directory first on the path
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--against", type=Path, help="another source tree to build with, alternating")
    args = parser.parse_args(argv)
    print(describe())
    trees = {"this tree": ROOT, **({f"against {args.against}": args.against} if args.against else {})}
    cpu: dict[str, list[float]] = {name: [] for name in trees}
    for _ in range(args.repeat):
        for name, tree in trees.items():
            cpu[name].append(build(tree, args.hosts)["cpu"])
    for name, tree in trees.items():
        peak = build(tree, args.hosts, traced=True)["peak"]
        print(f"{name}: {args.hosts:,} hosts built in {min(cpu[name]):.2f} s CPU (best of {args.repeat}; "
              f"{', '.join(f'{c:.2f}' for c in cpu[name])}), traced peak {peak / 2**20:.0f} MiB "
              f"({peak / args.hosts / 1e3:.1f} kB per host)")
    if args.against:
        ours, theirs = (min(values) for values in cpu.values())
        print(f"CPU this tree / against: {ours / theirs:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
