"""trace.json: valid Chrome Trace Event structure, every job present, tracks as the model's resources."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any, cast

import pytest

from dsim.records import SpanKind
from dsim.reports.trace import build_trace, write_trace
from dsim.result import SimResult
from tests.helpers import run_text


def _new_kind(name: str) -> SpanKind:
    """A kind dsim does not declare, as a future feature would add one: the reports must still show it."""
    return cast(SpanKind, name)

#: Four runners with 3 daemon workers and 2 download slots each; 12 jobs at once; one job per runner-1
#: tries to publish port 8080 twice, so the second container's start fails ("port is already allocated").
SCENARIO = """\
name: traced
seed: 5
registries:
  registry: {bandwidth: 1Gbps, latency: 10ms}
images:
  app:1: {registry: registry, layers: [30MB, 20MB, 10MB, 5MB]}
hosts:
  runner:
    count: 4
    daemon: {workers: 3, max_concurrent_downloads: 2}
workloads:
  ci:
    arrival: {burst: 12, at: 0s}
    steps:
      - pull: app:1
      - run: {image: app:1, duration: 5s}
  clash:
    arrival: {times: [30s]}
    placement: runner-1
    steps:
      - run: {image: app:1, detach: true, ports: ["8080:80"], name: one}
      - run: {image: app:1, detach: true, ports: ["8080:80"], name: two}
"""
PHASES = {"M", "X", "i", "C"}


@pytest.fixture(scope="module")
def traced() -> tuple[SimResult, dict[str, Any]]:
    result = run_text(SCENARIO)
    return result, build_trace(result)


def _names(trace: dict[str, Any], kind: str) -> dict[tuple[int, int], str]:
    return {(e["pid"], e["tid"]): e["args"]["name"] for e in trace["traceEvents"]
            if e["ph"] == "M" and e["name"] == kind}


def test_structure_is_the_trace_event_format(traced: tuple[SimResult, dict[str, Any]], tmp_path: Path) -> None:
    result, trace = traced
    path = write_trace(result, tmp_path / "trace.json")
    loaded = json.loads(path.read_text())
    assert loaded == json.loads(json.dumps(trace, default=str))
    assert isinstance(loaded["traceEvents"], list) and loaded["displayTimeUnit"] in ("ms", "ns")
    for event in loaded["traceEvents"]:
        assert event["ph"] in PHASES, event
        assert isinstance(event["pid"], int) and isinstance(event["tid"], int)
        assert isinstance(event["name"], str) and event["name"]
        if event["ph"] != "M":
            assert event["ts"] >= 0
        if event["ph"] == "X":
            assert event["dur"] >= 0
        if event["ph"] == "i":
            assert event["s"] in ("t", "p", "g")
    # every pid and (pid, tid) used by an event is named by metadata
    processes = {pid for pid, _ in _names(loaded, "process_name")}
    threads = set(_names(loaded, "thread_name"))
    for event in loaded["traceEvents"]:
        if event["ph"] in ("X", "i"):
            assert event["pid"] in processes and (event["pid"], event["tid"]) in threads, event


def test_a_process_per_host_and_per_registry(traced: tuple[SimResult, dict[str, Any]]) -> None:
    _, trace = traced
    processes = set(_names(trace, "process_name").values())
    assert {f"host runner-{i}" for i in range(1, 5)} <= processes
    assert "registry registry" in processes


def test_every_job_appears(traced: tuple[SimResult, dict[str, Any]]) -> None:
    result, trace = traced
    seen = {e["args"]["job"] for e in trace["traceEvents"] if e["ph"] == "X" and e.get("cat") == "job"}
    assert seen == {end.job for end in result.job_ends} and len(seen) == 13


def test_tracks_never_hold_more_than_the_resource(traced: tuple[SimResult, dict[str, Any]]) -> None:
    """Worker tracks per host <= the 3 daemon workers; download slot tracks <= the 2 slots."""
    _, trace = traced
    per_host: dict[tuple[int, str], set[str]] = defaultdict(set)
    for (pid, _), name in _names(trace, "thread_name").items():
        match = re.match(r"(daemon worker|download slot) (\d+)$", name)
        if match:
            per_host[(pid, match.group(1))].add(name)
    assert per_host, "no worker or slot tracks"
    for (_, what), names in per_host.items():
        assert len(names) <= (3 if what == "daemon worker" else 2), names
    assert any(len(names) == 2 for (_, what), names in per_host.items() if what == "download slot")


def test_complete_events_on_one_track_nest_or_are_disjoint(traced: tuple[SimResult, dict[str, Any]]) -> None:
    """What Perfetto needs to draw a track: no two X events on it partially overlap."""
    _, trace = traced
    tracks: dict[tuple[int, int], list[tuple[float, float]]] = defaultdict(list)
    for e in trace["traceEvents"]:
        if e["ph"] == "X":
            tracks[(e["pid"], e["tid"])].append((e["ts"], e["ts"] + e["dur"]))
    for key, intervals in tracks.items():
        intervals.sort(key=lambda iv: (iv[0], -iv[1]))
        stack: list[float] = []
        for start, end in intervals:
            while stack and stack[-1] <= start + 1e-3:
                stack.pop()
            assert not stack or end <= stack[-1] + 1e-3, (key, start, end, stack[-1])
            stack.append(end)


def test_failures_are_instant_events(traced: tuple[SimResult, dict[str, Any]]) -> None:
    result, trace = traced
    failed = [end for end in result.job_ends if end.status == "failed"]
    assert len(failed) == 1 and "port is already allocated" in failed[0].error
    instants = [e for e in trace["traceEvents"] if e["ph"] == "i" and e["cat"] == "failure"]
    assert any(e["args"].get("job") == failed[0].job and "port is already allocated" in e["args"].get("error", "")
               for e in instants)


def test_unknown_kinds_and_hostless_spans_get_tracks(traced: tuple[SimResult, dict[str, Any]]) -> None:
    import dataclasses

    from dsim.records import Span

    result, _ = traced
    extra = [Span(_new_kind("frobnicate"), "x", "runner-1", 1.0, 2.0, 1, {}),
             Span(_new_kind("weather"), "sky", "", 0.0, 3.0, -1, {}),
             Span(SpanKind.LINK, "registry->switch", "", 0.0, 2.0, -1, {"bytes": 250e6, "capacity": 125e6})]
    trace = build_trace(dataclasses.replace(result, spans=[*result.spans, *extra]))
    names = set(_names(trace, "thread_name").values())
    assert "frobnicate 1" in names and "weather 1" in names
    counters = [e for e in trace["traceEvents"] if e["ph"] == "C"]
    # 250 MB in 2 s = 1,000 Mbit/s
    assert counters[0]["args"]["Mbit/s"] == pytest.approx(1000.0)


def test_times_rounded_at_once_match_python_round() -> None:
    # trace.json must not change: the vectorised rounding gives round(v, 3)'s very double, ties included
    import random

    import numpy as np

    from dsim.reports.trace import _round3

    rng = random.Random(3)
    values = [rng.uniform(0, 1e10) for _ in range(20000)] + [rng.randint(0, 10**7) / 1000 + 0.0005
                                                               for _ in range(20000)]
    values += [0.0, -0.0, -0.0004, 0.0005, 0.0015, 2.675, 1e16, float("inf"), 123456.7895]
    got = _round3(np.array(values)).tolist()
    assert [v.hex() for v in got] == [round(v, 3).hex() for v in values]
