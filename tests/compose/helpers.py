"""A scenario around a compose file, both written to a temporary folder, and its run."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from dsim.api import load_scenario, simulate
from dsim.result import SimResult

#: One host whose costs are easy to add by hand: no API front time, a create 60 ms, a start 504 ms
#: (mount 20 + netns 10 + runc 454 + exec 20 ms; docs/containers.md), a health probe's exec 100 ms, nothing
#: on the CPU scheduler (Docker 28's endpoint rule left out) or under the metadata lock, every image preloaded so
#: nothing is pulled unless a test says so.
HOST = """
hosts:
  h:
    cpus: 8
    memory: 32GiB
    nic: 10Gbps
    daemon: {api_service_time: 0s, metadata_commit: 0s}
    runtime: {cpu: {create: 0, mount: 0, netns: 0, start: 0, exec: 0, probe_exec: 0}}
    networking: {endpoint_rules: 0}
    preloaded: [PRELOADED]
"""


def scenario_text(steps: list[str], preloaded: str = "nginx:1.25, postgres:16, redis:7.4") -> str:
    body = "\n".join(f"      - {step}" for step in steps)
    return (f"name: compose-test\nseed: 1\n{HOST.replace('PRELOADED', preloaded)}\nworkloads:\n  w:\n"
            f"    arrival: {{times: [0s]}}\n    placement: h\n    steps:\n{body}\n")


def write(tmp_path: Path, compose: str, steps: list[str] | None = None, **kwargs: Any) -> Path:
    """``app/compose.yaml`` holding ``compose`` and ``scenario.yaml`` running ``steps`` (default: up)."""
    (tmp_path / "app").mkdir(exist_ok=True)
    (tmp_path / "app" / "compose.yaml").write_text(textwrap.dedent(compose))
    path = tmp_path / "scenario.yaml"
    path.write_text(scenario_text(steps or ["compose: {file: app/compose.yaml, action: up}"], **kwargs))
    return path


def run(tmp_path: Path, compose: str, steps: list[str] | None = None, **kwargs: Any) -> SimResult:
    return simulate(load_scenario(write(tmp_path, compose, steps, **kwargs)))


def spans(result: SimResult, kind: str) -> list[Any]:
    return sorted(result.spans_of(kind), key=lambda s: (s.start, s.subject))
