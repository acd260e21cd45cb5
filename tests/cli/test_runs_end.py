"""``dsim run`` without ``until`` ends when only background loops are left (docs/containers.md, "When only
background is left"): the scenarios that once ran forever, each run as a command under a wall-clock timeout.
Each leaves one job, or both compose jobs, unfinished: what can never end is reported so."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

HOST = "hosts:\n  h: {cpus: 4, memory: 16GiB, preloaded: [nginx, redis:7.4, postgres:16]}\n"

#: a compose project whose app waits for a service that never exits
PROJECT = """\
    name: NAME
    services:
      app:
        image: redis:7.4
        depends_on:
          migrate: {condition: service_completed_successfully}
      migrate: {image: postgres:16}
"""

#: two compose projects, the second 300 ms after the first, each polling for a service that never exits
TWO_POLLERS = HOST + """\
workloads:
  one: {arrival: {times: [0s]}, steps: [{compose: {file: one/compose.yaml, action: up}}]}
  two: {arrival: {times: [300ms]}, steps: [{compose: {file: two/compose.yaml, action: up}}]}
"""

#: two crash loops whose 12 s runs overlap (b starts 6 s after a) beside a run that never ends
TWO_CRASH_LOOPS = HOST + """\
workloads:
  a: {arrival: {times: [0s]}, steps: [{run: {image: nginx, name: a, detach: true, WORK: 12s, exit_code: 1,
                                                restart: always}}]}
  b: {arrival: {times: [6s]}, steps: [{run: {image: nginx, name: b, detach: true, WORK: 12s, exit_code: 1,
                                                restart: always}}]}
  forever: {arrival: {times: [0s]}, steps: [{run: {image: nginx, duration: inf}}]}
"""

#: a crash loop whose healthcheck waits for a readiness that never comes in a run, beside a run that never ends
CRASH_LOOP_HEALTH = HOST + """\
workloads:
  crash: {arrival: {times: [0s]}, steps: [{run: {image: nginx, name: a, detach: true, duration: 2s, exit_code: 1,
                                                    restart: always, healthcheck: {interval: 1s,
                                                                                   time_to_healthy: 100s}}}]}
  forever: {arrival: {times: [0s]}, steps: [{run: {image: nginx, duration: inf}}]}
"""


def run_to_the_end(tmp_path: Path, scenario: str) -> dict[str, int]:
    """``dsim run`` of ``scenario`` (named t), which must end within 60 s of wall time: its jobs' counts."""
    path = tmp_path / "scenario.yaml"
    path.write_text("name: t\nseed: 1\n" + scenario)
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "dsim", "run", str(path), "--out", str(out), "--writers", "1",
                           "--no-charts"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    jobs: dict[str, int] = json.loads((out / "summary.json").read_text())["jobs"]
    return jobs


def test_two_compose_projects_polling_for_good(tmp_path: Path) -> None:
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "compose.yaml").write_text(textwrap.dedent(PROJECT).replace("NAME", name))
    assert run_to_the_end(tmp_path, TWO_POLLERS) == {"total": 2, "completed": 0, "failed": 0, "unfinished": 2}


@pytest.mark.parametrize("work", ["duration", "cpu_time"])
def test_two_crash_loops_whose_runs_overlap(tmp_path: Path, work: str) -> None:
    assert run_to_the_end(tmp_path, TWO_CRASH_LOOPS.replace("WORK", work)) == {
        "total": 3, "completed": 2, "failed": 0, "unfinished": 1}


def test_a_crash_loop_with_a_pending_healthcheck(tmp_path: Path) -> None:
    assert run_to_the_end(tmp_path, CRASH_LOOP_HEALTH) == {"total": 2, "completed": 1, "failed": 0, "unfinished": 1}
