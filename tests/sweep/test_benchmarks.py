"""The speed benchmarks (benchmarks/, run by hand at full size) still run: each at a small size, checking
that it completes and reports its figures. Never a timed assertion: speed targets live in the scripts."""

from __future__ import annotations

import gc
import subprocess
import sys
import weakref
from typing import Any

import pytest

from dsim.gc_tuning import GC_THRESHOLD
from tests.helpers import ROOT, load_script

CASES = {
    "bench_events.py": (["--jobs", "300", "--hosts", "10", "--repeat", "1"],
                        ["raw SimPy:", "dsim:", "ratio dsim / raw SimPy", "per job:"]),
    "bench_events.py --shape burst": (["--jobs", "40", "--repeat", "1", "--shape", "burst"],
                                      ["raw SimPy:", "burst: ratio dsim / raw SimPy", "(target >= 0.6)"]),
    "bench_events.py --shape stream": (["--jobs", "200", "--repeat", "1", "--shape", "stream"],
                                       ["raw SimPy:", "stream: ratio dsim / raw SimPy", "(target >= 0.6)"]),
    "bench_growth.py": (["--jobs", "100", "--factor", "2", "--hosts", "10", "--repeat", "1"],
                        ["2x the jobs cost"]),
    "bench_sweep.py": (["--jobs", "100", "--hosts", "5"], ["12 runs of 100 jobs", "speed-up"]),
    "bench_outputs.py": (["--jobs", "300", "--hosts", "10"], ["simulation:", "outputs:", "outputs cost"]),
    "bench_memory.py": (["--jobs", "500"], ["api (simulate + summary): 500 jobs of shape jobs, peak RSS",
                                            "cli (dsim run): 500 jobs of shape jobs, peak RSS",
                                            "dsim and its writers together",
                                            "target: dsim run under 1 GiB"]),
    "bench_growth.py --shape burst": (["--jobs", "20", "--factor", "2", "--repeat", "1", "--shape", "burst"],
                                      ["40 jobs (burst)", "2x the jobs cost"]),
    "bench_growth.py --shape slots": (["--jobs", "80", "--factor", "2", "--repeat", "1", "--shape", "slots"],
                                      ["160 jobs (slots)", "2x the jobs cost"]),
    "bench_growth.py --shape burst --twin": (["--jobs", "20", "--factor", "2", "--repeat", "1", "--shape", "burst",
                                              "--twin"], ["2x the jobs cost", "plain SimPy twin:"]),
    "bench_growth.py --shape stream --twin": (["--jobs", "100", "--factor", "2", "--repeat", "1", "--shape",
                                               "stream", "--twin"], ["2x the jobs cost", "plain SimPy twin:"]),
    "bench_world.py": (["--hosts", "20", "--repeat", "1"], ["20 hosts built in", "kB per host"]),
    "bench_outputs.py --shape stream": (["--jobs", "100", "--shape", "stream"], ["outputs cost"]),
    "bench_outputs.py --writers 2": (["--jobs", "300", "--hosts", "10", "--writers", "2"], ["outputs cost"]),
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


def _bench_instructions() -> Any:
    """benchmarks/bench_instructions.py as a module (it needs valgrind to count; its arithmetic does not)."""
    return load_script("benchmarks/bench_instructions.py")


def test_instruction_growth_is_the_factor_when_a_job_costs_the_same() -> None:
    # counts of a process = imports C + a per job: 50, 500 and 5,000 jobs grow exactly 10x in the run; a job
    # 10% dearer above 500 jobs makes 10x the jobs cost 1 + 9 x 1.1 = 10.9x
    bench = _bench_instructions()
    imports, per_job = 3_000_000_000, 2_000_000
    counts = [imports + per_job * jobs for jobs in (50, 500, 5000)]
    assert bench.growth(*counts, 500, 10) == pytest.approx((per_job, per_job, 10.0))
    dearer = [counts[0], counts[1], counts[1] + int(per_job * 1.1) * 4500]
    assert bench.growth(*dearer, 500, 10)[2] == pytest.approx(10.9)


def test_instructions_read_callgrinds_count_of_the_stubbed_run() -> None:
    # the counted command is valgrind's callgrind on the child (the shape, the jobs, the tree), hash seed
    # fixed; the figure is callgrind's "Collected" line, commas and all
    bench = _bench_instructions()
    seen: list[tuple[list[str], dict[str, str]]] = []
    # the children really run: each stands for what the full script counts (here without valgrind)
    for child in (bench.CHILD, bench.TWIN_CHILD):
        done = subprocess.run([sys.executable, "-c", child, "burst", "20", str(ROOT)], capture_output=True,
                              text=True, timeout=120, cwd=ROOT)
        assert done.returncode == 0, done.stderr

    def fake(command: list[str], env: dict[str, str]) -> str:
        seen.append((command, env))
        return "==1== Events    : Ir\n==1== Collected : 4,328,287,970\n==1== I   refs:      4,328,287,970\n"

    assert bench.instructions("burst", 500, ROOT, runner=fake) == 4_328_287_970
    [(command, env)] = seen
    at = command.index("valgrind")
    assert command[at:at + 3] == ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    assert command[-3:] == ["burst", "500", str(ROOT)]
    assert env["PYTHONHASHSEED"] == "0" and env["PYTHONPATH"] == str(ROOT) and env["OPENBLAS_NUM_THREADS"] == "1"
    assert command[command.index("-c") + 1] == bench.CHILD  # dsim; with twin, the plain SimPy twin
    assert command[command.index("-c") - 1] == "-P"  # the tree's dsim, not the working directory's
    bench.instructions("burst", 500, ROOT, runner=fake, twin=True)
    assert seen[-1][0][command.index("-c") + 1] == bench.TWIN_CHILD
    with pytest.raises(RuntimeError, match="no instruction count"):
        bench.instructions("burst", 500, ROOT, runner=lambda command, env: "valgrind: nothing")


def _ci_twin_events(jobs: int, *, burst: bool) -> int:
    events: int = load_script("benchmarks/bench_growth.py").ci_twin(jobs, burst=burst)[0]
    return events


#: SimPy events of a ci_twin job that pulls (by hand, from the twin's code): its process starts and ends (2);
#: four API calls of a worker's request, service timeout and release (4 x 3); five registry round trips;
#: create's CPU and wait (2); mount (1); the netns lock's request, hold and release (3); runc create's CPU and
#: wait (2); exec, the run, rm's step (3). Waiting for a layer someone else fetches adds no event.
PULLING_JOB = 2 + 4 * 3 + 5 + 2 + 1 + 3 + 2 + 3
#: and once per runner: 10 downloads (a process's start and end, the slot's request and release, the transfer,
#: the download's done event: 6 each) and the extraction (its process's start and end, 10 timeouts, 10 done
#: events)
PULLING_RUNNER = 10 * 6 + 2 + 10 + 10


def test_the_burst_twin_has_the_events_of_each_job_and_each_runners_pull() -> None:
    # 10 jobs on one runner, all at once: every job pulls (the first fetches, nine join)
    assert PULLING_JOB == 30
    assert _ci_twin_events(10, burst=True) == 10 * PULLING_JOB + PULLING_RUNNER
    assert _ci_twin_events(20, burst=True) == 20 * PULLING_JOB + 2 * PULLING_RUNNER


def test_the_stream_twin_skips_the_manifest_once_every_layer_is_in() -> None:
    # 100 runners round-robin, arrivals one process (its start, a timeout per job, its end): 100 jobs are each
    # runner's first pull
    arrivals = 2
    assert _ci_twin_events(100, burst=False) == 100 * PULLING_JOB + 100 * PULLING_RUNNER + arrivals + 100
    # 2,000 jobs at 0.83/s: a runner gets one about every 120 s (100 arrivals). Its pull takes about 912 s
    # (3 slots at a 300th of 1 Gbps each, 416,667 B/s: the 310 MB layer starts at 160.8 s and ends at
    # 904.8 s, then the last extractions), so its first 7 or 8 jobs pull and the other 12 or 13 find the image
    # up to date, two round trips fewer each (GET manifest and config): about 1,240 of them in all
    every_job_pulls = 2000 * PULLING_JOB + 100 * PULLING_RUNNER + arrivals + 2000
    up_to_date = (every_job_pulls - _ci_twin_events(2000, burst=False)) / 2
    assert 1000 <= up_to_date <= 1500


def test_a_twin_runs_under_a_runs_collector_after_what_ran_before_is_collected() -> None:
    # a twin measured at CPython's default thresholds paid young passes dsim's runs do not make, and the first
    # pass after a dsim run paid for that run's cyclic garbage: both run alike now (bench_common)
    bench = load_script("benchmarks/bench_growth.py")  # imports bench_common from its folder, as run by hand
    before = gc.get_threshold()

    class Cycle:
        def __init__(self) -> None:
            self.me = self

    gc.disable()  # the garbage cycle stays until a collection: the one with_run_collector makes
    try:
        left = weakref.ref(Cycle())
        thresholds, alive = bench.with_run_collector(lambda: (gc.get_threshold(), left() is not None))
    finally:
        gc.enable()
    assert thresholds[0] == max(GC_THRESHOLD, before[0])
    assert not alive  # collected before the call: the call's passes do not pay for it
    assert gc.get_threshold() == before
