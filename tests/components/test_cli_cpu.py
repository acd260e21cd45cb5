"""A job's docker CLI commands on the host's CPU (``hosts.X.cli_cpu``, components/client.py), by closed forms.

Every start cost is zero and API calls are free, so a job of ``run`` (its process D = 10 s, host network) costs
only its CLI: c CPU-seconds on one core before the command's first call, in the users' session's cgroup.
"""

from __future__ import annotations

import pytest

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
