"""spans.csv rows and trace.json times are made from columns with less Python per span (dsim/reports/
spans_csv.py, trace_text.py): their text must be what the csv and json modules write for the same values."""

from __future__ import annotations

import csv
import io
import json
import random
from pathlib import Path
from typing import Any, cast

import numpy as np

from dsim.records import Span, SpanKind
from dsim.reports.spans_csv import write_rows
from dsim.reports.trace_text import timing_texts
from dsim.span_store import SpanStore


def _reference_csv(spans: list[Span]) -> str:
    """spans.csv as the csv module writes it: attrs and job as JSON with sorted keys."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("kind", "subject", "host", "start_s", "end_s", "attrs"))
    for span in spans:
        attrs = dict(span.attrs)
        if span.job >= 0:
            attrs["job"] = span.job
        text = json.dumps(attrs, sort_keys=True, separators=(",", ":"), default=str)
        writer.writerow([span.kind, span.subject, span.host, f"{span.start:.6f}", f"{span.end:.6f}", text])
    return out.getvalue()


def _awkward_spans() -> list[Span]:
    rng = random.Random(7)
    spans = [
        Span(SpanKind.API, "pull", "node-1", 0.5, 0.75, 3, {"queue": 0.0}),
        Span(SpanKind.API, "pull", "node-1", 0.5, 0.75, -1, {"queue": -0.0}),
        Span(SpanKind.PULL, 'a,"quoted" subject', "host,with,commas", 1.0, 2.0, 4, {}),
        Span(SpanKind.PULL, "line\nbreak", "cr\rhost", 1.0, 2.0, -1, {}),
        Span(SpanKind.REQUEST, "", "", 0.0, 0.0, 5, {"registry": "r,1", "status": 200}),
        Span(SpanKind.JOB, "jobs", "h", 1e-7, 1e12, 6, {"job": 99, "status": "completed"}),
        Span(SpanKind.PROCESS, "c", "h", 3.0000005, 4.0, 7, {"zeta": [1, "x"], "alpha": {"b": 1, "a": None},
                                                              "image": "app:1", "oom": "", "run": 0}),
        Span(SpanKind.CPU, "n", "h", 2.5, 3.5, -1, {"busy": float("inf"), "runnable": True}),
        Span("custom", "s", "h", -1.25, float("nan"), 8, {"k": object.__name__, "é": "ü"}),  # type: ignore[arg-type]
    ]
    spans += [Span(SpanKind.RUN, f"c{i}", "h", rng.uniform(0, 1e5), rng.uniform(0, 1e5), i, {"bytes": rng.random()})
              for i in range(50)]
    return spans


def test_spans_csv_rows_are_what_the_csv_module_writes() -> None:
    spans = _awkward_spans()
    out = io.StringIO()
    write_rows(spans, out)
    assert out.getvalue() == _reference_csv(spans)


def test_spans_csv_from_the_store_is_the_same() -> None:
    # compacted by hand before a block is full, then more spans: the store keeps each block's first position
    spans = _awkward_spans()
    store = SpanStore(Span)
    for span in spans:
        store.append(span)
    store.compact()  # now in columns, the zero attributes shared
    for span in spans[:3]:
        store.append(span)  # and a few still fresh
    out = io.StringIO()
    write_rows(store, out)
    assert out.getvalue() == _reference_csv(spans + spans[:3])


def test_trace_times_are_what_json_writes_for_the_rounded_microseconds() -> None:
    # "ts" is round(start * 1e6, 3), "dur" round(round(end * 1e6, 3) - ts, 3) but never below 0.0, each as
    # json.dumps prints the double (repr); ties, negative zero, huge and non-finite values included
    rng = random.Random(5)
    starts = [rng.uniform(0, 1e6) for _ in range(5000)] + [rng.randint(0, 10**9) / 1e9 + 5e-10 for _ in range(5000)]
    ends = [s + rng.choice([0.0, 1e-9, rng.uniform(0, 100)]) for s in starts]
    starts += [0.0, -0.0, 1.0, 4.5e9, 1e16, 2.675e-6, -5.0, float("inf"), float("nan"), 0.0005e-3]
    ends += [0.0, 0.0, 0.5, 4.6e9, 1e16 + 2, 3e-6, -4.0, float("inf"), 1.0, 0.0015e-3]

    def reference(start: float, end: float) -> str:
        ts = round(start * 1e6, 3)
        dur = max(0.0, round(round(end * 1e6, 3) - ts, 3))
        return f'"ts":{json.dumps(ts)},"dur":{json.dumps(dur)}'

    expected = [reference(s, e) for s, e in zip(starts, ends, strict=True)]
    assert timing_texts(np.array(starts), np.array(ends)) == expected
    # a few intervals at once are printed by Python (trace_text._FEW): the same texts
    for low in (0, 5000, len(starts) - 10):
        for size in (1, 10, 63):
            assert timing_texts(np.array(starts[low:low + size]), np.array(ends[low:low + size])) \
                == expected[low:low + size]


def test_a_column_of_values_is_printed_as_each_value_alone() -> None:
    # column_texts takes a C-level map when every value is a str, an int or a finite float, else a call
    # per value: either way each text must be what value() (json.dumps' text) gives for that value alone
    from dsim.reports.jsontext import PLAIN, SORTED, column_texts, value

    columns: list[list[Any]] = [["a", "é", 'q"uote', ""], [0, 1, -7, 2**70], [0.0, -0.0, 1.5, 1e300],
                                [0.0, float("inf")], [True, 1, 1.0], [None, "x"], [[], [1, "b"], {"b": 1, "a": 2}],
                                # progress lines: [time, word] pairs printed together; any other item (an int
                                # time, a non-finite one, a triple, a word that is not a str) falls back
                                [[[0.5, "Waiting"], [1.234568, "Pull complete"]], [], [[1e-05, "é"]]],
                                [[[0.5, "a"]], [[1, "b"]]], [[[0.5, "a"]], [[float("nan"), "b"]]],
                                [[[0.5, "a", 1]]], [[[0.5, None]]], [[(0.5, "a")]]]
    for column in columns:
        for nested in (PLAIN, SORTED):
            assert column_texts(column, nested) == [value(v, nested) for v in column]
            assert column_texts(column, nested) == [json.dumps(v, separators=(",", ":"), sort_keys=nested is SORTED)
                                                    for v in column]


def test_jobs_csv_rows_are_what_the_csv_module_writes(tmp_path: Path) -> None:
    # write_jobs_csv formats each row itself: it must be the csv module's bytes for the same fields, with
    # awkward workloads, hosts and errors (commas, quotes, line breaks, empty) quoted as the module does
    from types import SimpleNamespace

    from dsim.reports.outputs import write_jobs_csv
    from dsim.result import job_columns

    phases = ("queue", "pull", "run")
    awkward = ["plain", "a,b", 'say "hi"', "two\nlines", "", "cr\rhere"]
    jobs = [SimpleNamespace(job=i, workload=awkward[i % 6], host=awkward[(i + 1) % 6], arrival_s=i / 3,
                            end_s=i * 1.5 + 1e-7, status=("completed", "failed")[i % 2],
                            phases={p: i * k / 7 for k, p in enumerate(phases)}, error=awkward[(i + 2) % 6])
            for i in range(12)]
    write_jobs_csv(cast(Any, SimpleNamespace(phases=phases, jobs=jobs)), tmp_path / "jobs.csv")
    expected = io.StringIO()
    writer = csv.writer(expected, lineterminator="\n")
    writer.writerow(job_columns(phases))
    for j in jobs:
        writer.writerow([j.job, j.workload, j.host, f"{j.arrival_s:.6f}", f"{j.end_s:.6f}", j.status,
                         *(f"{j.phases[p]:.6f}" for p in phases), j.error])
    assert (tmp_path / "jobs.csv").read_bytes().decode() == expected.getvalue()


def test_progress_lines_in_spans_csv_are_what_json_writes() -> None:
    # a pulled layer's progress kept as the times it derives from (LayerLines.compact), lines recorded as lists
    # and the one line at a span's start (LineAtStart): their spans printed a shape at a time must read as
    # json.dumps of each span's attributes and job, with or without a job, keys sorting either side of "job"
    from dsim.progress_words import ALREADY_EXISTS, LayerLines, recorded

    rng = random.Random(3)
    spans = []
    for i in range(300):
        start = rng.uniform(0, 100)
        ready = start + rng.uniform(0, 5)
        lines: Any = LayerLines.compact(start, ready, start + rng.choice([0.0, 0.25]), ready - 0.5,
                                        ((start + 0.1, "Retrying in 5 seconds"),) if i % 7 == 0 else (), ready - 0.25)
        if i % 5 == 0:
            lines = recorded([(start, ALREADY_EXISTS)])
        elif i % 11 == 0:
            lines = [[round(start, 6), "Preparing"], [round(ready, 6), "Pushed"]]
        spans.append(Span(SpanKind.PULL_LAYER, f"sha256:{i}", "h", start, ready, i if i % 3 else -1,
                          {"image": "app:1", "status": "Pull complete", "shared": i % 2 == 0, "progress": lines}))
    store = SpanStore(Span)
    for span in spans:
        store.append(span)
    store.compact()
    out = io.StringIO()
    write_rows(store, out)
    assert out.getvalue() == _reference_csv(list(store))
    assert "Pulling fs layer" in out.getvalue() and ALREADY_EXISTS in out.getvalue()
