"""Issue 17: a sweep leaves nothing behind. Its worker processes die with it, even when it is killed with
SIGKILL (which runs no clean-up of its own): each worker asks the kernel for SIGKILL on its parent's death
(dsim/sweep/executors.py, die_with)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from dsim.cores import available_cores
from tests.helpers import ROOT

# 60000 jobs sleeping in one simulation: a run takes several seconds of wall time, so the workers are busy
# (not idle on their queue) when the sweep is killed.
SLOW = textwrap.dedent("""\
    name: slow
    seed: 1
    hosts:
      box: {count: 1, cpus: 64}
    workloads:
      w:
        arrival: {burst: 60000}
        steps:
          - sleep: exponential(mean=10s)
    """)


def descendants(pid: int) -> set[int]:
    """Every process below ``pid``, from /proc/<pid>/task/<tid>/children (Linux)."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        parent = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                text = Path(f"/proc/{parent}/task/{tid}/children").read_text()
            except OSError:
                continue
            for child in map(int, text.split()):
                if child not in found:
                    found.add(child)
                    todo.append(child)
    return found


def running(pid: int) -> bool:
    """Alive and not a zombie (a killed process its new parent has not reaped yet is gone for our purpose)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    return stat.rpartition(b")")[2].split()[0] != b"Z"


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="walks /proc (Linux)")
@pytest.mark.skipif(available_cores() < 2, reason="needs 2 cores for 2 worker processes")
def test_sigkilled_sweep_leaves_no_worker_behind(tmp_path: Path) -> None:
    scenario = tmp_path / "slow.yaml"
    scenario.write_text(SLOW)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    sweep = subprocess.Popen(
        [sys.executable, "-m", "dsim", "sweep", str(scenario), "-n", "4", "--workers", "2", "-q", "--no-charts",
         "--out", str(tmp_path / "out")],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 30
        while len(workers) < 2 and time.monotonic() < deadline and sweep.poll() is None:
            workers = descendants(sweep.pid)
            time.sleep(0.05)
        assert len(workers) >= 2, f"the workers never started: {workers}"
        time.sleep(0.5)  # the runs are under way
        workers = descendants(sweep.pid)
        assert sweep.poll() is None, "the sweep finished before it could be killed: make the runs slower"
    finally:
        sweep.send_signal(signal.SIGKILL)
        sweep.wait(timeout=10)
        assert sweep.stderr is not None
        sweep.stderr.close()
    deadline = time.monotonic() + 5
    while any(running(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    survivors = [pid for pid in workers if running(pid)]
    for pid in survivors:  # do not leave them to the next test either
        os.kill(pid, signal.SIGKILL)
    assert survivors == [], f"worker processes {survivors} outlived the SIGKILLed sweep {sweep.pid}"
