"""The workload's ``exec`` step (``docker exec``), against closed forms worked out by hand from its rules
(docs/containers.md, docker exec): three API calls (create, start, and the inspect the CLI reads the exit code
with; two with ``detach``), dockerd's exec path (the runtime's ``probe_exec``, 100 ms, 0.37 of it CPU on one
core: domain/health.py, domain/start_path.py), then the command's own work in the container: ``cpu_time`` on the
host's processor-sharing scheduler at up to ``threads`` cores, ``duration`` of wall time; killed (137) when the
container's process exits first.

Setting: one host, API calls free (``api_service_time: 0s``), ``app:1`` preloaded, the container ``w`` a detached
server (it runs until stopped) unless a test says otherwise.
"""

from __future__ import annotations

import pytest

from dsim.domain.health import PROBE_EXEC
from dsim.domain.start_path import RUNTIME_CPU_SHARE
from dsim.errors import ScenarioError
from dsim.result import SimResult
from tests.helpers import run_text

EXEC_PATH = PROBE_EXEC.mean  # 100 ms on an idle host
EXEC_CPU = EXEC_PATH * RUNTIME_CPU_SHARE  # its CPU part, on one core

SCENARIO = """
name: exec-step
registries:
  reg: {{bandwidth: 1GB/s, latency: 0s}}
images:
  app:1: {{registry: reg, layers: [{{size: 20MB, uncompressed: 40MB}}]}}
hosts:
  h: {{cpus: {cpus}, nic: inf, preloaded: ["app:1"], daemon: {{api_service_time: 0s}}, storage: {{write_rate: inf}}}}
workloads:
  w:
    arrival: {{burst: 1}}
    steps:
      - run: {{image: "app:1", name: w, detach: true{work}}}
{before}      - exec: {{{exec}}}
{after}
"""


def simulate(exec_: str, *, work: str = "", cpus: int = 2, before: str = "", after: str = "") -> SimResult:
    return run_text(SCENARIO.format(cpus=cpus, work=work, exec=exec_, before=before, after=after))


def exec_span_seconds(result: SimResult) -> float:
    [span] = result.spans_of("docker_exec")
    return float(span.end - span.start)


def test_a_cpu_bound_command_takes_the_exec_path_and_its_cpu_time() -> None:
    result = simulate("container: w, cpu_time: 2s")
    [job] = result.jobs
    assert job.status == "completed", job.error
    assert exec_span_seconds(result) == pytest.approx(EXEC_PATH + 2.0, rel=1e-9)
    [span] = result.spans_of("docker_exec")
    assert span.subject == "w" and span.attrs == {"exit_code": 0, "detach": False}
    calls = [span.subject for span in result.spans_of("api")]
    assert calls[-3:] == ["exec create", "exec start", "exec inspect"]


def test_a_waiting_command_takes_its_duration() -> None:
    assert exec_span_seconds(simulate("duration: 3s")) == pytest.approx(EXEC_PATH + 3.0, rel=1e-9)


def test_the_command_shares_the_core_with_the_containers_own_process() -> None:
    # one core, the container's process CPU-bound: the exec path's CPU at half the core, its wait alone, the
    # command's 2 CPU-seconds at half the core: 2 x 0.037 + 0.063 + 2 x 2 s
    result = simulate("cpu_time: 2s", work=", cpu_time: 100s, threads: 1", cpus=1)
    expected = 2 * EXEC_CPU + (EXEC_PATH - EXEC_CPU) + 2 * 2.0
    assert exec_span_seconds(result) == pytest.approx(expected, rel=1e-9)


def test_a_failing_command_fails_the_job_with_its_code() -> None:
    [job] = simulate("cpu_time: 1s, exit_code: 3").jobs
    assert job.status == "failed" and job.error == "docker exec in w exited with code 3"


def test_the_command_dies_with_the_container() -> None:
    # the container's process exits 1 s after it began; the exec's 5 CPU-seconds are cut short: 137
    result = simulate("cpu_time: 5s", work=", duration: 1s")
    [job] = result.jobs
    [process] = result.spans_of("process")
    [span] = result.spans_of("docker_exec")
    assert job.status == "failed" and job.error == "docker exec in w exited with code 137"
    assert span.end == pytest.approx(process.end, rel=1e-12) and span.attrs["exit_code"] == 137


def test_a_detached_exec_ends_at_its_start_and_its_command_goes_on() -> None:
    # -d: two API calls and the exec path; the command's 4 CPU-seconds then hold the only core while the job's
    # next exec waits for its share: its path's CPU at half the core until the first command ends
    result = simulate("cpu_time: 4s, threads: 1, detach: true", cpus=1, after="      - exec: {duration: 0s}")
    [job] = result.jobs
    assert job.status == "completed", job.error
    first, second = result.spans_of("docker_exec")
    assert first.end - first.start == pytest.approx(EXEC_PATH, rel=1e-9)
    assert first.attrs == {"detach": True}
    assert second.end - second.start == pytest.approx(2 * EXEC_CPU + (EXEC_PATH - EXEC_CPU), rel=1e-9)
    assert [span.subject for span in result.spans_of("api")].count("exec inspect") == 1


def test_an_exec_in_a_stopped_container_fails_the_job() -> None:
    [job] = simulate("duration: 1s", work=", duration: 0s", before="      - sleep: 1s\n").jobs
    assert job.status == "failed"
    assert job.error.startswith("Error response from daemon: container ") and job.error.endswith(" is not running")


def test_an_attached_exec_that_never_ends_is_an_error() -> None:
    with pytest.raises(ScenarioError, match="exec"):
        simulate("duration: inf")


def test_a_paused_container_freezes_its_execs_too() -> None:
    # another job pauses w at 1.5 s for 2 s, while the exec's command runs (it began at 0.564 + 0.1 s: create 60
    # ms and start 504 ms, the API calls free, then the exec path): a
    # CPU-bound command gets 2 s later to its end; a waiting one whose time (2 s) ran out while frozen ends at
    # the thaw
    def exec_span(command: str) -> float:
        result = run_text(SCENARIO.format(cpus=2, work="", exec=command, before="", after="") + """
  pauser:
    arrival: {times: [1.5s]}
    steps: [{pause: {container: w}}, {sleep: 2s}, {unpause: {container: w}}]
""")
        assert all(job.status == "completed" for job in result.jobs), [job.error for job in result.jobs]
        [span] = result.spans_of("docker_exec")
        return float(span.end)

    started = 0.060 + 0.504 + EXEC_PATH
    assert exec_span("cpu_time: 4s") == pytest.approx(started + 4.0 + 2.0, rel=1e-9)
    assert exec_span("duration: 2s") == pytest.approx(1.5 + 2.0, rel=1e-9)
