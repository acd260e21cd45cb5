"""trace.json made with less work per span: event tails (``trace_text.Columns.tails``) made lazily, in batches
of whatever the writer asks for, must each be the text ``json.dumps`` gives for the span's times and args; the
failures found per distinct value of the failure attributes must be those ``derive.is_failure`` names."""

from __future__ import annotations

import json
import random
from typing import Any

import numpy as np

from dsim.records import Span, SpanKind
from dsim.reports.derive import is_failure
from dsim.reports.trace import _failed_by_attrs
from dsim.reports.trace_text import Columns, kind_failed, timing_text, ts_texts
from dsim.span_store import SpanStore


def _reference_args(span: Span) -> str:
    """A span's args as json.dumps writes them: the attributes sorted by key, ``job`` when the span has one,
    ``subject``."""
    args: dict[str, Any] = dict(sorted(span.attrs.items()))
    if span.job >= 0:
        args["job"] = span.job
    args["subject"] = span.subject
    return json.dumps(args, separators=(",", ":"), default=str)


def _reference_tail(span: Span) -> str:
    """The event's end as json.dumps writes it: times (microseconds rounded to nanoseconds), then args."""
    return f'{timing_text(span.start, span.end)},"args":{_reference_args(span)}}}'


def _spans() -> list[Span]:
    """Spans of several shapes, values shared between spans (the store packs them once) or not, general-path
    keys, awkward strings and numbers."""
    rng = random.Random(19)
    shared = {"registry": "hub", "status": 200}
    spans = [
        Span(SpanKind.API, "create", "h", 0.5, 0.75, 3, {"queue": 0.0}),
        Span(SpanKind.API, "create", "h", 0.5, 0.75, -1, {"queue": 0.25}),
        Span(SpanKind.PULL, 'img "quoted", with commas', "h", 1.0, 2.0, 4, {}),
        Span(SpanKind.REQUEST, "manifest", "h", 0.0, 0.0, 5, dict(shared)),
        Span(SpanKind.REQUEST, "blob", "h", 0.1, 0.2, 6, dict(shared)),
        Span(SpanKind.JOB, "job é", "h", 1e-7, 1e9, 6, {"status": "failed", "error": "no space\nleft"}),
        Span(SpanKind.PROCESS, "c1", "h", 3.0000005, 4.0, 7, {"zeta": [1, "x"], "alpha": {"b": 1, "a": None},
                                                              "oom": False, "run": 0}),
        Span(SpanKind.CPU, "c1", "h", 2.5, 3.5, -1, {"busy": float("inf"), "runnable": True}),
        Span("custom", "s", "h", 1.25, 1.25, 8, {"job": 99, "subject": "other"}),  # type: ignore[arg-type]
    ]
    for i in range(200):
        start = rng.choice([rng.uniform(0, 1e5), round(rng.uniform(0, 10), 3), 0.0015, 2.0])
        attrs: dict[str, Any] = rng.choice([{}, {"bytes": rng.randint(0, 1 << 40)},
                                            {"bytes": rng.random(), "layer": f"l{i % 7}"}, dict(shared),
                                            {"queue": rng.choice([0.0, rng.random()])}])
        spans.append(Span(rng.choice([SpanKind.RUN, SpanKind.START, SpanKind.API]), f"c{i % 13}", "h", start,
                          start + rng.choice([0.0, rng.random(), 1e-9]), rng.choice([-1, i // 3]), attrs))
    return spans


def _columns(spans: list[Span]) -> Columns:
    store = SpanStore(Span)
    store.fresh.extend(spans)
    store.compact()
    return Columns(*store.rows(np.arange(len(spans), dtype=np.int64)))


def test_tails_in_any_batches_are_what_json_writes() -> None:
    spans = _spans()
    expected = [_reference_tail(span) for span in spans]
    rng = random.Random(3)
    for trial in range(5):
        columns = _columns(spans)
        order = list(range(len(spans)))
        rng.shuffle(order)
        cuts = sorted(rng.sample(range(1, len(order)), trial + 1))
        for low, high in zip([0, *cuts], [*cuts, len(order)], strict=True):
            batch = order[low:high] + order[low:high][:3]  # a span asked for twice in a batch
            assert columns.tails(batch) == [expected[i] for i in batch]
        assert columns.tails(range(len(spans))) == expected  # again, once all are made


def test_spans_failed_by_their_attributes_are_those_derive_names() -> None:
    """``trace._failed_by_attrs`` (asked per distinct value of the failure attributes) against
    ``derive.is_failure`` of every span: statuses as ints, floats, strings and NaN, errors, OOM flags."""
    rng = random.Random(5)
    statuses: list[Any] = [200, 404, 404.0, 401, "exited", "failed", "FAILED", True, None, float("nan"), 500]
    spans = []
    for i in range(400):
        kind = rng.choice([SpanKind.PROCESS, SpanKind.PULL_IMAGE, SpanKind.REQUEST, SpanKind.JOB, SpanKind.RUN])
        attrs: dict[str, Any] = rng.choice([{}, {"bytes": i}, {"status": rng.choice(statuses), "exit_code": i},
                                            {"status": rng.choice(statuses), "oom": rng.choice(["", "killed", 0])},
                                            {"error": rng.choice(["", "no space", None]), "n": i}])
        spans.append(Span(kind, f"s{i % 9}", "h", float(i), float(i) + rng.choice([0.0, 1.0]), i, attrs))
    columns = _columns(spans)
    kinds: dict[str, list[int]] = {}
    for i, span in enumerate(spans):
        kinds.setdefault(span.kind, []).append(i)
    expected = [i for i, span in enumerate(spans)
                if span.kind != SpanKind.REQUEST and not kind_failed(span.kind) and is_failure(span)]
    assert expected and sorted(_failed_by_attrs(columns, kinds)) == expected


def test_instants_args_and_times_made_together_are_what_json_writes() -> None:
    # an instant event's args and "ts" (trace._host_instants makes a host's at once): the args json.dumps
    # writes, the time as microseconds rounded to nanoseconds, in batches shorter than NumPy pays for and longer
    spans = _spans()
    columns = _columns(spans)
    rng = random.Random(8)
    for size in (1, 5, len(spans)):
        items = rng.sample(range(len(spans)), size)
        assert columns.args_texts(items) == [_reference_args(spans[i]) for i in items]
    times = [0.0, 1e-7, 0.0015, 2.0, 3.0000005, 1e9, 1e12, -2.5, -0.0, float("inf"), float("nan"),
             *(rng.uniform(0, 1e5) for _ in range(100))]
    for batch in (times[:3], times):
        expected = [f'"ts":{json.dumps(round(t * 1e6, 3))}' for t in batch]
        assert ts_texts(np.array(batch, dtype=float)) == expected
