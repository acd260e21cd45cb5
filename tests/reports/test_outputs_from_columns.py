"""The outputs read the recorder's compact span store through its columns (dsim/span_store.py): every file
must be byte for byte what the same spans give as a plain list of Span tuples (the writers' other path),
and trace.json written a section at a time must be the trace's whole text."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from dsim.api import load_scenario
from dsim.reports.context import ScenarioInfo
from dsim.reports.outputs import write_run_outputs
from dsim.reports.trace import trace_text, write_trace
from dsim.span_store import SpanStore
from dsim.world import World
from tests.helpers import ROOT


def _files(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def test_every_file_from_the_store_is_the_file_from_a_list_of_spans(tmp_path: Path) -> None:
    resolved = load_scenario(ROOT / "scenarios" / "ci-burst.yaml")
    result = World(resolved, link_samples=1.0).run()
    assert isinstance(result.spans, SpanStore)
    result.spans.compact()  # every span in columns, none fresh
    listed = dataclasses.replace(result, spans=list(result.spans))
    summary = result.summary()
    assert listed.summary() == summary
    info = ScenarioInfo.from_resolved(resolved)
    write_run_outputs(result, tmp_path / "store", summary, info)
    write_run_outputs(listed, tmp_path / "list", summary, info)
    store_files, list_files = _files(tmp_path / "store"), _files(tmp_path / "list")
    assert set(store_files) == set(list_files)
    for name, data in store_files.items():
        assert data == list_files[name], name
    write_trace(result, tmp_path / "t.json")
    assert (tmp_path / "t.json").read_text() == trace_text(listed) + "\n"


def test_hosts_read_in_batches_give_the_same_trace(monkeypatch: pytest.MonkeyPatch) -> None:
    # trace.json reads hosts' spans from the store a batch of hosts at a time (trace._READ_AT_ONCE spans), a
    # host with trace._ALONE_PER_BLOCK spans or more per block of the store alone: each host alone, a few hosts
    # at once, all at once, and big hosts alone between batches of small ones must all give the list of
    # spans' trace
    from dsim.reports import trace

    resolved = load_scenario(ROOT / "scenarios" / "ci-burst.yaml")
    result = World(resolved, link_samples=1.0).run()
    assert isinstance(result.spans, SpanStore)
    result.spans.compact()
    expected = trace_text(dataclasses.replace(result, spans=list(result.spans)))
    hosts = result.spans.groups("host")
    assert len(hosts) > 3
    sizes = sorted(map(len, hosts.values()))
    assert sizes[0] < sizes[-1]
    for batch, alone in ((1, 1 << 30), (2 * sizes[-1], 1 << 30), (1 << 30, 1 << 30), (1 << 30, 1),
                         (2 * sizes[-1], sizes[len(sizes) // 2])):
        monkeypatch.setattr(trace, "_READ_AT_ONCE", batch)
        monkeypatch.setattr(trace, "_ALONE_PER_BLOCK", alone / result.spans.blocks)
        assert trace_text(result) == expected, (batch, alone)


def test_hosts_without_spans_get_their_processes_from_a_store_of_no_blocks() -> None:
    # a run whose spans were never compacted (no block) and a host that recorded nothing: the host is still a
    # process of the trace, as from a list of spans (a store of no blocks once read every host alone, and a
    # host of no spans has no positions to read)
    resolved = load_scenario(ROOT / "scenarios" / "ci-burst.yaml")
    result = World(resolved, link_samples=1.0).run()
    assert isinstance(result.spans, SpanStore)
    store = SpanStore(type(result.spans[0]))
    assert store.blocks == 0
    empty = dataclasses.replace(result, spans=store)
    assert trace_text(empty) == trace_text(dataclasses.replace(result, spans=[]))
    assert f'"args":{{"name":"host {sorted(result.hosts)[0]}"}}' in trace_text(empty)
