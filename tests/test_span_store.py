"""The recorder's compact span storage (dsim/span_store.py): what is read back is what was recorded, in
order, whether a span is still fresh or already compacted into columns; derived values are made when read."""

from __future__ import annotations

import gc
import tracemalloc
from typing import Any

import numpy as np
import pytest

from dsim.progress_words import LayerLines, layer_lines, recorded
from dsim.records import Recorder, Span, SpanKind
from dsim.span_store import BLOCK, CHUNK


def _record(recorder: Recorder, count: int, first: int = 0) -> list[Span]:
    """Spans ``first`` to ``count`` of three kinds on three hosts (some with attributes, one of no host), as
    recorded."""
    expected = []
    for i in range(first, count):
        kind = (SpanKind.API, SpanKind.DOWNLOAD, SpanKind.RUN)[i % 3]
        attrs = {"queue": i / 8} if kind == SpanKind.API else (
            {"registry": f"r{i % 2}", "bytes": float(i)} if kind == SpanKind.DOWNLOAD else {})
        host = "" if i % 7 == 0 else f"h{i % 3}"
        recorder.span(kind, f"s{i}", i * 0.5, i * 0.5 + 0.25, host=host, job=i // 3, **attrs)
        expected.append(Span(kind, f"s{i}", host, i * 0.5, i * 0.5 + 0.25, i // 3, attrs))
    return expected


def test_spans_read_back_as_recorded_across_blocks() -> None:
    recorder = Recorder()
    expected = _record(recorder, BLOCK + 100)  # one compacted block and 100 fresh spans
    spans = recorder.spans
    assert len(spans) == BLOCK + 100
    assert list(spans) == expected
    assert spans[0] == expected[0] and spans[BLOCK - 1] == expected[BLOCK - 1] and spans[-1] == expected[-1]
    assert spans[BLOCK:BLOCK + 2] == expected[BLOCK:BLOCK + 2]


def test_spans_are_compacted_a_chunk_at_a_time_and_merged_into_blocks() -> None:
    # CHUNK spans at a time into columns while recording; the chunks merged once they hold BLOCK spans, and the
    # last ones when the outputs compact the store: readers step by blocks of BLOCK spans, as before chunks
    assert BLOCK % CHUNK == 0 and BLOCK // CHUNK > 2
    recorder = Recorder()
    expected = _record(recorder, BLOCK + 2 * CHUNK + 5)
    spans = recorder.spans
    assert spans.blocks == 1 + 2 and len(spans.fresh) == 5  # one merged block, two chunks, 5 spans fresh
    assert list(spans) == expected
    spans.compact()
    assert spans.blocks == 2 and not spans.fresh  # the last chunks and the fresh spans: one block
    assert list(spans) == expected and spans[BLOCK] == expected[BLOCK] and spans[-1] == expected[-1]
    recorder = Recorder()
    _record(recorder, 2 * BLOCK)
    recorder.spans.compact()
    assert recorder.spans.blocks == 2  # blocks of BLOCK spans each, never a chunk left over


def test_a_kind_read_before_its_chunks_merge_is_read_again_after() -> None:
    # the offsets of a kind's spans are found per block and kept: a block merged from chunks found before must
    # have them found again, or the readers would pick the spans at a chunk's offsets in the merged block
    recorder = Recorder()
    expected = _record(recorder, 3 * CHUNK)
    spans = recorder.spans
    downloads = [s for s in expected if s.kind == SpanKind.DOWNLOAD]
    assert list(spans.of_kind(SpanKind.DOWNLOAD)) == downloads  # found in three chunks
    expected += _record(recorder, BLOCK, first=3 * CHUNK)  # the chunks merge into one block
    assert spans.blocks == 1
    downloads = [s for s in expected if s.kind == SpanKind.DOWNLOAD]
    assert list(spans.of_kind(SpanKind.DOWNLOAD)) == downloads
    assert spans.kind_positions(SpanKind.DOWNLOAD).tolist() == [i for i, s in enumerate(expected)
                                                                 if s.kind == SpanKind.DOWNLOAD]


def test_views_columns_and_groups_agree_with_reading_every_span() -> None:
    recorder = Recorder()
    expected = _record(recorder, BLOCK + 50)
    spans = recorder.spans
    downloads = [s for s in expected if s.kind == SpanKind.DOWNLOAD]
    assert list(spans.of_kind(SpanKind.DOWNLOAD)) == downloads
    assert len(spans.of_kind("download")) == len(downloads)
    starts, ends = spans.kind_times(SpanKind.DOWNLOAD)
    assert starts.tolist() == [s.start for s in downloads] and ends.tolist() == [s.end for s in downloads]
    assert spans.kind_attr(SpanKind.DOWNLOAD, "registry") == [s.attrs["registry"] for s in downloads]
    assert spans.kind_order() == [SpanKind.API, SpanKind.DOWNLOAD, SpanKind.RUN]
    assert spans.attr_values("registry") == {"r0", "r1"}
    groups = spans.groups("host")
    assert set(groups) == {"", "h0", "h1", "h2"}
    for host, positions in groups.items():
        assert spans.take(positions) == [s for s in expected if s.host == host]
    assert not spans.of_kind(SpanKind.PULL) and list(spans.of_kind(SpanKind.PULL)) == []


def test_a_pulled_layers_progress_is_derived_when_read() -> None:
    # recorded as the times (listed 1, download 2-5, extract 6, ready 7); read as layer_lines' words
    recorder = Recorder()
    lines = LayerLines(1.0, 7.0, fetch_began=2.0, fetch_ended=5.0, extract_began=6.0)
    recorder.span(SpanKind.PULL_LAYER, "sha256:a", 1.0, 7.0, host="h", job=0, image="x", status="Pull complete",
                  progress=lines)
    words = recorded(layer_lines(1.0, 7.0, fetch_began=2.0, fetch_ended=5.0, extract_began=6.0))
    assert [w for _, w in words] == ["Pulling fs layer", "Waiting", "Downloading", "Verifying Checksum",
                                     "Download complete", "Extracting", "Pull complete"]
    assert recorder.spans[0].attrs["progress"] == words  # fresh
    recorder.spans.compact()
    assert recorder.spans[0].attrs["progress"] == words  # compacted
    assert list(recorder.spans)[0].attrs == {"image": "x", "status": "Pull complete", "progress": words}


def test_kept_progress_leaves_nothing_for_the_collector_to_revisit() -> None:
    # a compacted pulled layer's attributes, retry notes included, are strings and numbers only: the collector
    # stops tracking them (a tuple once its items are untracked: by the second pass for nested tuples), so the
    # older generations' passes stop visiting them; a LayerLines object would stay tracked for good
    recorder = Recorder()
    lines = LayerLines(1.0, 9.0, fetch_began=2.0, fetch_ended=7.0, notes=((4.0, "Retrying in 5 seconds"),),
                       extract_began=8.0)
    recorder.span(SpanKind.PULL_LAYER, "sha256:c", 1.0, 9.0, host="h", job=0, image="x", status="Pull complete",
                  progress=lines)
    recorder.span(SpanKind.PULL_LAYER, "sha256:d", 1.0, 3.0, host="h", job=0, image="x", status="Pull complete",
                  progress=[[1.0, "Pulling fs layer"], [3.0, "Pull complete"]])
    recorder.spans.compact()
    gc.collect()
    gc.collect()
    block = recorder.spans._blocks[0]
    assert not any(gc.is_tracked(packed) for packed in block.attrs)
    assert recorder.spans[0].attrs["progress"] == lines.derive()
    assert [w for _, w in recorder.spans[0].attrs["progress"]][3] == "Retrying in 5 seconds"
    assert recorder.spans[1].attrs["progress"] == [[1.0, "Pulling fs layer"], [3.0, "Pull complete"]]


def test_progress_recorded_as_lists_reads_back_the_same_lists() -> None:
    recorder = Recorder()
    recorder.span(SpanKind.PULL_LAYER, "sha256:b", 2.0, 2.0, image="x", status="Already exists",
                  progress=[[2.0, "Already exists"]])
    recorder.spans.compact()
    assert recorder.spans[0].attrs["progress"] == [[2.0, "Already exists"]]


def test_a_compacted_span_costs_about_100_bytes_besides_its_attribute_values() -> None:
    # by hand, per span: kind 1 B + host code 4 B + start, end 16 B + job 8 B + references to the subject
    # and the attributes 16 B = 45 B; attributes (queue) packed as (keys, value): a 2-tuple of 56 B: 101 B.
    # The strings ("pull", "h") and the float values are made before measuring (shared), not counted.
    recorder = Recorder()
    count = 4 * BLOCK
    values = [float(i) for i in range(count)]  # made before measuring: the recorded values themselves
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i, value in enumerate(values):
        recorder.span(SpanKind.API, "pull", value, value, host="h", job=i, queue=value)
    recorder.spans.compact()
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert used / count < 110  # 101 B, and a little for each block's own objects
    assert np.isclose(recorder.spans[count - 1].attrs["queue"], values[-1])


def test_shared_attributes_keep_each_values_type() -> None:
    # 0 == 0.0 == False and hash alike: a span recorded with queue=0 must not read back as 0.0 or False
    # (spans.csv writes 0, 0.0 and false), nor -0.0 as 0.0
    recorder = Recorder()
    values = [0, 0.0, False, -0.0, 0.0, 0, "0"]
    for value in values:
        recorder.span(SpanKind.API, "x", 0.0, 0.0, queue=value)
    recorder.spans.compact()
    read = [span.attrs["queue"] for span in recorder.spans]
    assert [(type(v), repr(v)) for v in read] == [(type(v), repr(v)) for v in values]


def test_attributes_met_again_are_found_by_their_exact_bytes_with_their_types() -> None:
    # from the third span of the same attributes on, the packed tuple is found by the attributes' bytes: 0, 0.0,
    # False and -0.0 (equal and hashing alike, printed apart) each met four times, interleaved, must each get back
    # its own type and sign, and share one tuple with the spans of exactly its own values
    recorder = Recorder()
    values = [0, 0.0, False, -0.0, 1, 1.0, True] * 4
    for value in values:
        recorder.span(SpanKind.API, "x", 0.0, 0.0, queue=value, status="ok")
    recorder.spans.compact()
    read = [span.attrs["queue"] for span in recorder.spans]
    assert [(type(v), repr(v)) for v in read] == [(type(v), repr(v)) for v in values]
    packed = recorder.spans._blocks[0].attrs
    for i in (0, 1, 2, 4, 5, 6):  # a value met again: the tuple of its first span, by pool then by bytes
        assert packed[i] is packed[i + 7] is packed[i + 14] is packed[i + 21]
    assert len({id(packed[i]) for i in (0, 1, 2, 4, 5, 6)}) == 6  # equal values of other types: tuples apart


def test_spans_with_equal_values_of_the_same_types_share_one_packed_tuple(monkeypatch: pytest.MonkeyPatch) -> None:
    # a CPU span's (busy, runnable), a process's status and oom flag repeat: equal values of the same types
    # share one packed tuple (the outputs print each distinct tuple once), but 1, 1.0 and True (equal, and
    # hashing alike) keep their types, as do 0.0 and -0.0; and a pool whose values stop repeating is let go
    # (span_store.POOL_MOST distinct tuples), the spans after it still read as recorded
    from dsim import span_store

    monkeypatch.setattr(span_store, "POOL_MOST", 4)
    recorder = Recorder()
    cases = [(1.0, 1), (0.5, 2), (1.0, 1), (1, 1), (True, 1), (1.0, True), (-0.0, 1), (0.0, 1), (-0.0, 1),
             (0.5, 2), (1, 1)]
    for busy, runnable in cases:
        recorder.span(SpanKind.CPU, "h", 0.0, 1.0, host="h", busy=busy, runnable=runnable)
    for i in range(10):  # values that never repeat: past 4 distinct, the pool stops
        recorder.span(SpanKind.CPU, "h", 0.0, 1.0, host="h", busy=0.25 + i, runnable=9)
    recorder.spans.compact()
    read = [(span.attrs["busy"], span.attrs["runnable"]) for span in recorder.spans]
    written = [*cases, *((0.25 + i, 9) for i in range(10))]
    assert [tuple(map(repr, pair)) for pair in read] == [tuple(map(repr, pair)) for pair in written]
    packed = recorder.spans._blocks[0].attrs
    assert packed[0] is packed[2] and packed[1] is packed[9] and packed[3] is packed[10]  # equal, same types
    assert len({id(p) for p in packed[:4]}) == 3 and packed[4] is not packed[0] and packed[5] is not packed[0]
    assert packed[6] is not packed[7] and packed[6] is not packed[8]  # -0.0 never shared
    shapes = recorder.spans._shapes
    assert None in next(iter(shapes.values()))[2].values()  # the never-repeating values' pool let go


def test_spans_by_job_are_each_jobs_spans_in_record_order() -> None:
    from dsim.span_store import JobSpans

    recorder = Recorder()
    expected = _record(recorder, BLOCK + 30)
    recorder.span(SpanKind.LINK, "a->b", 0.0, 1.0, bytes=1.0, capacity=1.0)  # no job (-1): not a key
    by_job = JobSpans(recorder.spans)
    jobs = list(dict.fromkeys(s.job for s in expected))
    assert list(by_job) == jobs and len(by_job) == len(jobs) and -1 not in by_job
    by_job.prefetch([jobs[0], jobs[-1], 10**9])
    for job in (jobs[0], jobs[len(jobs) // 2], jobs[-1]):
        assert by_job[job] == [s for s in expected if s.job == job]
    # a job asked for again is the same spans, whatever the caller did with the list it got; more jobs than
    # are kept (job_spans._KEPT_JOBS), asked for twice in turn, still read as recorded
    first = by_job[jobs[0]]
    first.clear()
    assert by_job[jobs[0]] == [s for s in expected if s.job == jobs[0]]
    of_job: dict[int, list[Span]] = {}
    for span in expected:
        of_job.setdefault(span.job, []).append(span)
    for _ in range(2):
        for job in jobs[:1500]:
            assert by_job[job] == of_job[job]


def test_an_attribute_read_by_kind_is_each_spans_own_whatever_the_shapes_in_a_block() -> None:
    # one block where the kind's spans all have one shape (read by C-level maps) and one where shapes mix
    # and some spans have no attributes (read span by span): both must give each span's own value, None
    # where it has no such attribute
    recorder = Recorder()
    expected: list[object] = []
    for i in range(BLOCK):
        recorder.span(SpanKind.REQUEST, "r", i, i + 1.0, job=i, status=200 + i % 3, registry="hub")
        expected.append(200 + i % 3)
    for i in range(10):
        attrs: dict[str, Any] = ({} if i % 3 == 0 else {"status": 404} if i % 3 == 1
                                 else {"registry": "hub", "status": 500})
        recorder.span(SpanKind.REQUEST, "r", i, i + 1.0, job=i, **attrs)
        expected.append(attrs.get("status"))
    recorder.spans.compact()
    assert recorder.spans.kind_attr(SpanKind.REQUEST, "status") == expected
    assert recorder.spans.kind_attr(SpanKind.REQUEST, "absent") == [None] * len(expected)


def test_a_derived_figure_is_made_again_once_a_span_is_added() -> None:
    recorder = Recorder()
    _record(recorder, 5)
    made: list[int] = []

    def make() -> int:
        made.append(1)
        return len(made)

    assert recorder.spans.derived("count", make) == 1
    assert recorder.spans.derived("count", make) == 1  # kept: no new span
    _record(recorder, 1)
    assert recorder.spans.derived("count", make) == 2


def test_a_kinds_positions_past_65536_spans_are_whole_store_positions() -> None:
    # Offsets in a block are kept in 16 bits; positions in the store go past 2**16 from the fifth block on:
    # kind i % 3 sits at every position p with p % 3 == i, so download's are 1, 4, 7, ... (none wraps).
    recorder = Recorder()
    expected = _record(recorder, 5 * BLOCK + 10)
    spans = recorder.spans
    positions = spans.kind_positions(SpanKind.DOWNLOAD)
    assert positions.dtype == np.int64
    assert positions.tolist() == list(range(1, 5 * BLOCK + 10, 3))
    assert spans.take(positions[-3:]) == [s for s in expected if s.kind == SpanKind.DOWNLOAD][-3:]
    assert spans.kind_jobs(SpanKind.DOWNLOAD).tolist() == [p // 3 for p in range(1, 5 * BLOCK + 10, 3)]


def test_kinds_in_order_of_first_record_across_blocks_and_fresh_spans() -> None:
    # API first (position 0), then download, run; a kind first recorded among the fresh spans comes last.
    recorder = Recorder()
    _record(recorder, BLOCK + 5)
    recorder.span(SpanKind.PULL, "p", 0.0, 1.0, host="h0", job=0)
    assert recorder.spans.kind_order() == [SpanKind.API, SpanKind.DOWNLOAD, SpanKind.RUN, SpanKind.PULL]
    recorder.spans.codes("kind")  # coding the fresh spans' kinds keeps the order
    assert recorder.spans.kind_order() == [SpanKind.API, SpanKind.DOWNLOAD, SpanKind.RUN, SpanKind.PULL]
