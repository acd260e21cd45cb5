"""A job's docker CLI commands on the host's CPU (``hosts.X.cli_cpu``, components/client.py), by closed forms.

Every start cost is zero and API calls are free, so a job of ``run`` (its process D = 10 s, host network) costs
only its CLI: c CPU-seconds on one core before the command's first call, in the users' session's cgroup.
"""

from __future__ import annotations

import pytest

from dsim.api import load_scenario_text
from dsim.errors import ScenarioError
from tests.helpers import run_text

D = 10.0


def job_ends(count: int, cli: str, steps: str) -> list[float]:
    result = run_text(f"""
    name: t
    hosts:
      h: {{cpus: 2, cli_cpu: {cli}, daemon: {{api_service_time: 0s, workers: 1000, metadata_commit: 0s}},
           preloaded: ["alpine:3.24"], runtime: {{create: 0s, mount: 0s, netns: 0s, start: 0s, exec: 0s}},
           networking: {{store_commit: 0s}}}}
    workloads:
      w: {{arrival: {{burst: {count}}}, steps: {steps}}}
    """)
    assert all(job.status == "completed" for job in result.jobs)
    return sorted(job.duration_s for job in result.jobs)


RUN = f'[{{run: {{image: "alpine:3.24", duration: {D}s, network: host}}}}]'


def test_one_command_costs_its_cpu_before_the_run() -> None:
    assert job_ends(1, "12ms", RUN) == pytest.approx([0.012 + D])


def test_commands_at_once_share_the_cores() -> None:
    # 6 CLIs of 12 ms at once on 2 cores, one core each at most: 3 per core, all done at 36 ms
    assert job_ends(6, "12ms", RUN) == pytest.approx([0.036 + D] * 6)


def test_every_command_but_sleep_and_edit_runs_the_cli() -> None:
    # run (the CLI, 12 ms, then D), sleep 1 s (no CLI), ps (the CLI again): 2 c + D + 1 s
    steps = f'[{{run: {{image: "alpine:3.24", duration: {D}s, network: host}}}}, {{sleep: 1s}}, {{ps: {{}}}}]'
    assert job_ends(1, "12ms", steps) == pytest.approx([2 * 0.012 + D + 1.0])


def test_by_default_the_cli_costs_nothing() -> None:
    assert job_ends(1, "0s", RUN) == pytest.approx([D])


def test_run_rm_is_one_command_and_ends_once_the_container_is_removed() -> None:
    # docker run --rm: one CLI (12 ms), the process D, then the removal inside the step (free here); a run step and
    # an rm step are two CLIs
    rm = f'[{{run: {{image: "alpine:3.24", duration: {D}s, network: host, rm: true}}}}]'
    two = f'[{{run: {{image: "alpine:3.24", duration: {D}s, network: host}}}}, {{rm: {{}}}}]'
    assert job_ends(1, "12ms", rm) == pytest.approx([0.012 + D])
    assert job_ends(1, "12ms", two) == pytest.approx([2 * 0.012 + D])


def ps_listed(steps: str) -> int:
    """How many containers a job's one ``ps: {all: true}`` step listed."""
    result = run_text(f"""
    name: t
    hosts: {{h: {{preloaded: ["alpine:3.24"]}}}}
    workloads:
      w: {{arrival: {{burst: 1}}, steps: {steps}}}
    """)
    [job] = result.jobs
    assert job.status == "completed", job.error
    [ps] = result.spans_of("ps")
    return int(ps.attrs["listed"])


def test_rm_removes_an_attached_runs_container_after_its_exit() -> None:
    assert ps_listed('[{run: {image: "alpine:3.24", duration: 1s, rm: true}}, {ps: {all: true}}]') == 0
    assert ps_listed('[{run: {image: "alpine:3.24", duration: 1s}}, {ps: {all: true}}]') == 1


def test_rm_removes_a_detached_container_when_it_exits() -> None:
    # docker run -d --rm: the step ends at the start; the daemon removes the container at its exit (1 s later)
    steps = '[{run: {image: "alpine:3.24", duration: 1s, detach: true, rm: true}}, {ps: {all: true}}, {sleep: 2s}, '
    result = run_text(f"""
    name: t
    hosts: {{h: {{preloaded: ["alpine:3.24"]}}}}
    workloads:
      w: {{arrival: {{burst: 1}}, steps: {steps + '{ps: {all: true}}]'}}}
    """)
    assert [int(span.attrs["listed"]) for span in result.spans_of("ps")] == [1, 0]


def test_rm_after_a_failed_run_still_removes_it() -> None:
    result = run_text("""
    name: t
    hosts: {h: {preloaded: ["alpine:3.24"]}}
    workloads:
      w: {arrival: {burst: 1}, steps: [{run: {image: "alpine:3.24", duration: 1s, exit_code: 3, rm: true,
                                              name: gone}}]}
      later: {arrival: {times: [5s]}, steps: [{ps: {all: true}}]}
    """)
    failed = next(job for job in result.jobs if job.workload == "w")
    assert failed.status == "failed" and "exited with code 3" in failed.error
    [ps] = result.spans_of("ps")
    assert int(ps.attrs["listed"]) == 0


def test_rm_with_a_restart_policy_is_refused_as_the_cli_does() -> None:
    with pytest.raises(ScenarioError, match="Conflicting options: --restart and --rm"):
        load_scenario_text("""
        name: t
        hosts: {h: {}}
        workloads:
          w: {arrival: {burst: 1}, steps: [{run: {image: "alpine:3.24", restart: always, rm: true}}]}
        """)
