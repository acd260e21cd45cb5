"""``docker pause`` and ``docker unpause`` steps, and ``docker commit`` of a running container (which pauses it
unless ``pause: false``), against the cgroup freezer's rules worked out by hand (components/freezer.py): a frozen
process gets no CPU, its CPU work resumes where it stopped at the thaw, and a process that only waits exits at
the thaw if its time ran out while frozen.

Setting: one host, API calls free (``api_service_time: 0s``), ``app:1`` preloaded, moby's graphdriver store with
native overlay diff: the commit of an untouched running container costs dockerd's 0.14 s alone (no diff, no
write, no unmount: test_commit_step.py).
"""

from __future__ import annotations

import pytest

from dsim.result import SimResult
from tests.helpers import run_text

COMMIT = 0.14  # daemon.classic_commit: the untouched container's commit

SCENARIO = """
name: pause-steps
registries:
  reg: {{bandwidth: 1GB/s, latency: 0s}}
images:
  app:1: {{registry: reg, layers: [{{size: 20MB, uncompressed: 40MB}}]}}
hosts:
  h: {{cpus: {cpus}, nic: inf, preloaded: ["app:1"], daemon: {{api_service_time: 0s, image_store: graphdriver}},
      storage: {{write_rate: inf, overlay_diff: native}}}}
workloads:
  w:
    arrival: {{burst: 1}}
    steps:
      - run: {{image: "app:1", name: w, detach: true, {work}}}
{steps}
"""


def simulate(work: str, steps: list[str], cpus: int = 2) -> SimResult:
    result = run_text(SCENARIO.format(cpus=cpus, work=work, steps="\n".join(f"      - {s}" for s in steps)))
    for job in result.jobs:
        assert job.status == "completed", job.error
    return result


def process_seconds(result: SimResult) -> float:
    [process] = result.spans_of("process")
    return float(process.end - process.start)


def test_a_paused_cpu_bound_process_resumes_where_it_stopped() -> None:
    # 4 CPU-seconds on one thread: 1 s before the pause, none for the 2 s frozen, 3 s after: 6 s in all, still
    # 4 CPU-seconds received
    result = simulate("cpu_time: 4s, threads: 1",
                      ["sleep: 1s", "pause: {container: w}", "sleep: 2s", "unpause: {container: w}"])
    [process] = result.spans_of("process")
    started = process.start
    [pause] = result.spans_of("pause")
    assert process_seconds(result) == pytest.approx(4.0 + 2.0, rel=1e-9)
    assert process.attrs["cpu_seconds"] == pytest.approx(4.0, rel=1e-9)
    assert pause.start - started == pytest.approx(1.0, abs=0.1)  # the start path's last steps, then 1 s


def test_while_frozen_the_other_work_gets_the_core() -> None:
    # one core: w runs alone until it is paused (its CPU received: the time since its process began); x, started
    # while w is frozen, has the core to itself: its 2 CPU-seconds take 2 s (shared with w they would take 4 s).
    # Unpaused after x's end, w's work left runs alone
    result = simulate("cpu_time: 4s, threads: 1",
                      ["sleep: 1s", "pause: {container: w}",
                       'run: {image: "app:1", name: x, detach: true, cpu_time: 2s, threads: 1}', "sleep: 5s",
                       "unpause: {container: w}"], cpus=1)
    ends = {span.subject: span for span in result.spans_of("process")}
    w, x = ends["w"], ends["x"]
    pause_at = result.spans_of("pause")[0].end
    unpause_at = result.spans_of("unpause")[0].end
    assert x.end - x.start == pytest.approx(2.0, rel=1e-9)
    assert x.end < unpause_at
    assert w.end == pytest.approx(unpause_at + 4.0 - (pause_at - w.start), rel=1e-9)


def test_a_waiting_process_whose_time_runs_out_while_frozen_exits_at_the_thaw() -> None:
    # a 2 s process (no CPU work) paused from 1 s: unpaused at 4 s, it exits then; unpaused at 1.5 s, at 2 s
    late = simulate("duration: 2s", ["sleep: 1s", "pause: {container: w}", "sleep: 3s", "unpause: {container: w}"])
    [process] = late.spans_of("process")
    assert process.end == pytest.approx(late.spans_of("unpause")[0].end, rel=1e-12)
    early = simulate("duration: 2s", ["sleep: 1s", "pause: {container: w}", "sleep: 0.5s", "unpause: {container: w}"])
    assert process_seconds(early) == pytest.approx(2.0, rel=1e-9)


def test_a_commit_pauses_a_running_container_unless_told_not_to() -> None:
    # 10 CPU-seconds on one of two cores; the commit (0.14 s) freezes it: 10.14 s; with pause: false, 10 s
    paused = simulate("cpu_time: 10s, threads: 1", ['commit: {container: w, ref: "reg/snap:1"}'])
    assert process_seconds(paused) == pytest.approx(10.0 + COMMIT, rel=1e-9)
    [commit] = paused.spans_of("commit")
    assert commit.end - commit.start == pytest.approx(COMMIT, rel=1e-9)
    running = simulate("cpu_time: 10s, threads: 1", ['commit: {container: w, ref: "reg/snap:1", pause: false}'])
    assert process_seconds(running) == pytest.approx(10.0, rel=1e-9)


@pytest.mark.parametrize(("steps", "error"), [
    (["pause: {container: w}", "pause: {container: w}"], "is already paused"),
    (["unpause: {container: w}"], "is not paused"),
])
def test_pausing_twice_or_unpausing_a_running_container_fails_the_job(steps: list[str], error: str) -> None:
    result = run_text(SCENARIO.format(cpus=2, work="cpu_time: 10s, threads: 1",
                                      steps="\n".join(f"      - {s}" for s in steps)))
    [job] = result.jobs
    assert job.status == "failed"
    assert job.error.startswith("Error response from daemon: ") and job.error.endswith(error)


def test_a_stopped_container_cannot_be_paused() -> None:
    steps = "      - sleep: 1s\n      - pause: {container: w}"
    result = run_text(SCENARIO.format(cpus=2, work="duration: 0s", steps=steps))
    [job] = result.jobs
    assert job.status == "failed" and job.error.endswith("is not running")
