"""The workload's ``restart`` and ``kill`` steps (``docker restart``, ``docker kill``: Daemon.restart, Daemon.kill),
against closed forms worked out by hand from the runtime's defaults (docs/containers.md, Lifecycle): a warm start
is mount 20 + netns 10 + runc create 454 + runc start 20 = 504 ms after its API call; a server (``detach`` with no
duration) asked to stop by SIGTERM exits after its ``stop_time`` with its ``stop_exit_code``, SIGKILL ends it at
once with 137. API calls are free here (``api_service_time: 0s``).
"""

from __future__ import annotations

import pytest

from dsim.errors import ScenarioError
from dsim.result import SimResult
from tests.helpers import run_text

START = 0.020 + 0.010 + 0.454 + 0.020

SCENARIO = """
name: restart-kill
registries:
  reg: {{bandwidth: 1GB/s, latency: 0s}}
images:
  app:1: {{registry: reg, layers: [{{size: 20MB, uncompressed: 40MB}}]}}
hosts:
  h: {{nic: inf, preloaded: ["app:1"], daemon: {{api_service_time: 0s}}, storage: {{write_rate: inf}}}}
workloads:
  w:
    arrival: {{burst: 1}}
    steps:
      - run: {{image: "app:1", name: s, detach: true, stop_time: 2s, stop_exit_code: 143}}
{steps}
"""


def simulate(*steps: str) -> SimResult:
    result = run_text(SCENARIO.format(steps="\n".join(f"      - {step}" for step in steps)))
    [job] = result.jobs
    assert job.status == "completed", job.error
    return result


def test_a_restart_stops_then_starts_the_container_again() -> None:
    # the first run: from the process's start to the restart's SIGTERM, then its 2 s stop_time; the second run
    # starts 504 ms after that exit and 7 ms more: its netns step asks for the rtnl lock after the mount (20 ms),
    # while the exit's teardown holds it to return the interface (from its 5 commits' end, 10 ms, for 17 ms);
    # its stop phase spans the call and the exit
    result = simulate("sleep: 1s", "restart: {container: s}", "stop: {container: s, timeout: 0s}")
    first, second = result.spans_of("process")
    assert first.end - first.start == pytest.approx(1.0 + 2.0, rel=1e-9)
    assert first.attrs["exit_code"] == 143
    assert second.start - first.end == pytest.approx(START + (5 * 0.002 + 0.017 - 0.020), rel=1e-9)
    stops = result.spans_of("stop")
    assert stops[0].end - stops[0].start == pytest.approx(2.0, rel=1e-9)
    assert second.attrs["exit_code"] == 137  # stopped with a 0 s timeout: SIGKILL at once


def test_kill_sends_sigkill_at_once_and_another_signal_asks_the_process_to_exit() -> None:
    killed = simulate("sleep: 1s", "kill: {container: s}", "sleep: 5s")
    [process] = killed.spans_of("process")
    assert process.end - process.start == pytest.approx(1.0, rel=1e-9) and process.attrs["exit_code"] == 137
    termed = simulate("sleep: 1s", "kill: {container: s, signal: TERM}", "sleep: 5s")
    [process] = termed.spans_of("process")
    assert process.end - process.start == pytest.approx(1.0 + 2.0, rel=1e-9) and process.attrs["exit_code"] == 143


def test_kill_does_not_wait_for_the_exit() -> None:
    # the job's step after the kill runs at once: the job ends 1 s after the process began, while the process
    # takes its 2 s stop_time
    result = simulate("sleep: 1s", "kill: {container: s, signal: TERM}")
    [process] = result.spans_of("process")
    [job] = result.spans_of("job")
    assert job.end == pytest.approx(process.start + 1.0, rel=1e-9) and process.end > job.end


def test_an_unknown_signal_is_an_error() -> None:
    with pytest.raises(ScenarioError, match="signal"):
        run_text(SCENARIO.format(steps="      - kill: {container: s, signal: FOO}"))
