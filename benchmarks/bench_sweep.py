"""A sweep of 12 runs on 2 worker processes against the same sweep in one process (target: >= 1.8x).

The sweep is 3 variants x 4 replications of ``scenarios.container_jobs`` (``--jobs`` per run, about a
second each by default), run through ``dsim.sweep.runner.run_sweep`` exactly as ``dsim sweep`` does,
store and all: first with ``--workers 1`` (this process, no pool), then with ``--workers 2``. The
speed-up includes starting the pool's processes. Both must give identical results.

    .venv/bin/python benchmarks/bench_sweep.py [--jobs 5000] [--workers 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_common import container_jobs, describe  # noqa: E402

from dsim.scenarios.yamlpos import load_yaml  # noqa: E402
from dsim.sweep.executors import ProcessExecutor, SerialExecutor  # noqa: E402
from dsim.sweep.grid import parse_vary  # noqa: E402
from dsim.sweep.runner import SweepResult, run_sweep  # noqa: E402
from dsim.sweep.spec import SweepSpec  # noqa: E402

TARGET = 1.8


def timed(spec: SweepSpec, text: str, out: Path, executor: SerialExecutor | ProcessExecutor) -> tuple[float,
                                                                                                      SweepResult]:
    data, positions = load_yaml(text, filename=str(spec.scenario))
    started = time.perf_counter()
    result = run_sweep(spec, data, positions, out, executor)
    return time.perf_counter() - started, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    print(describe())
    text = container_jobs(args.jobs, args.hosts)
    spec = replace(SweepSpec(scenario=Path("containers.yaml")), replications=4,
                   axes=(parse_vary("hosts.node.daemon.workers=4,8,16"),))
    with tempfile.TemporaryDirectory() as tmp:
        serial, one = timed(spec, text, Path(tmp) / "serial", SerialExecutor())
        pool = ProcessExecutor(args.workers)
        try:
            parallel, two = timed(spec, text, Path(tmp) / "parallel", pool)
        finally:
            pool.close()
    runs = len(one.variants) * spec.replications
    assert [v.values for v in one.variants] == [v.values for v in two.variants], "executors disagree"
    speedup = serial / parallel
    print(f"{runs} runs of {args.jobs:,} jobs: 1 worker {serial:.2f} s, {args.workers} workers {parallel:.2f} s")
    print(f"speed-up {speedup:.2f}x (target >= {TARGET} with 2 workers): {'ok' if speedup >= TARGET else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
