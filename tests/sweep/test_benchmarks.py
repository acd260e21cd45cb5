"""The speed benchmarks (benchmarks/, run by hand at full size) still run: each at a small size, checking
that it completes and reports its figures. Never a timed assertion: speed targets live in the scripts."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers import ROOT

CASES = {
    "bench_events.py": (["--jobs", "300", "--hosts", "10", "--repeat", "1"],
                        ["raw SimPy:", "dsim:", "ratio dsim / raw SimPy", "per job:"]),
    "bench_growth.py": (["--jobs", "100", "--factor", "2", "--hosts", "10", "--repeat", "1"],
                        ["2x the jobs cost"]),
    "bench_sweep.py": (["--jobs", "100", "--hosts", "5"], ["12 runs of 100 jobs", "speed-up"]),
    "bench_outputs.py": (["--jobs", "300", "--hosts", "10"], ["simulation:", "outputs:", "outputs cost"]),
    "bench_memory.py": (["--jobs", "500"], ["api (simulate + summary): 500 jobs of shape jobs, peak RSS",
                                            "cli (dsim run): 500 jobs of shape jobs, peak RSS",
                                            "target: dsim run under 1 GiB"]),
    "bench_growth.py --shape burst": (["--jobs", "20", "--factor", "2", "--repeat", "1", "--shape", "burst"],
                                      ["40 jobs (burst)", "2x the jobs cost"]),
    "bench_growth.py --shape burst --twin": (["--jobs", "20", "--factor", "2", "--repeat", "1", "--shape", "burst",
                                              "--twin"], ["2x the jobs cost", "plain SimPy twin:"]),
    "bench_world.py": (["--hosts", "20", "--repeat", "1"], ["20 hosts built in", "kB per host"]),
    "bench_outputs.py --shape stream": (["--jobs", "100", "--shape", "stream"], ["outputs cost"]),
    "bench_memory.py --shape stream": (["--jobs", "200", "--shape", "stream", "--modes", "cli",
                                        "--run-options=--no-trace", "--target-gib", "4"],
                                       ["cli (dsim run --no-trace): 200 jobs of shape stream", "under 4 GiB"]),
}


@pytest.mark.parametrize("script", sorted(CASES))
def test_benchmark_runs_at_a_small_size(script: str) -> None:
    args, expected = CASES[script]
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script.split()[0]), *args], capture_output=True,
                          text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    for text in expected:
        assert text in done.stdout, (text, done.stdout)
    assert "cores" in done.stdout.splitlines()[0]  # the machine is named with the figures
