"""trace.json in pieces (dsim.reports.trace.TracePieces, for ``dsim run --writers``): however many pieces,
written in any order, joined they are the bytes ``write_trace`` writes, from the span store and from a list
of spans; the hosts are split into runs of about equal spans."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from dsim.api import load_scenario
from dsim.reports.trace import TracePieces, _even_runs, write_trace
from dsim.result import SimResult
from dsim.world import World
from tests.helpers import ROOT

# many hosts (a burst on runners); registries and a mirror with the network's link samples; compose projects
SCENARIOS = ("ci-burst.yaml", "registry-mirror.yaml", "compose-three-tier.yaml")


def _run(name: str) -> SimResult:
    result = World(load_scenario(ROOT / "scenarios" / name), link_samples=1.0).run()
    result.spans.compact()  # type: ignore[attr-defined]
    return result


def _joined(result: SimResult, path: Path, count: int, *, backwards: bool = False) -> bytes:
    pieces = TracePieces(result, path, count)
    tasks = pieces.tasks()
    for task in reversed(tasks) if backwards else tasks:
        task()
    pieces.join()
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # the pieces are gone
    return path.read_bytes()


@pytest.mark.parametrize("name", SCENARIOS)
def test_pieces_joined_are_the_whole_trace(name: str, tmp_path: Path) -> None:
    result = _run(name)
    whole = write_trace(result, tmp_path / "whole" / "trace.json").read_bytes()
    for count in (1, 2, 3, 7, 1000):
        (tmp_path / str(count)).mkdir()
        assert _joined(result, tmp_path / str(count) / "trace.json", count, backwards=count == 3) == whole, count


def test_pieces_of_a_list_of_spans(tmp_path: Path) -> None:
    result = _run("ci-burst.yaml")
    listed = dataclasses.replace(result, spans=list(result.spans))
    whole = write_trace(result, tmp_path / "trace.json").read_bytes()
    (tmp_path / "list").mkdir()
    assert _joined(listed, tmp_path / "list" / "trace.json", 4) == whole


def test_a_run_with_no_spans(tmp_path: Path) -> None:
    result = dataclasses.replace(_run("hello-nginx.yaml"), spans=[], job_ends=[])
    whole = write_trace(result, tmp_path / "trace.json").read_bytes()
    (tmp_path / "pieces").mkdir()
    assert _joined(result, tmp_path / "pieces" / "trace.json", 3) == whole


def test_hosts_are_split_into_runs_of_about_equal_spans() -> None:
    assert _even_runs([10, 10, 10, 10], 2) == [0, 2, 4]
    assert _even_runs([10, 10, 10, 10], 4) == [0, 1, 2, 3, 4]
    assert _even_runs([30, 1, 1, 1, 1, 1, 1], 2) == [0, 1, 7]  # a heavy host is a run alone
    assert _even_runs([1, 1, 1], 5) == [0, 1, 2, 3]  # no more runs than hosts, none empty
    assert _even_runs([], 3) == [0, 0]  # one run, of no hosts: the processes and the network still written
    assert _even_runs([5, 5, 5], 1) == [0, 3]
