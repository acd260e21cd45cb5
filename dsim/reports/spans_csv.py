"""spans.csv's rows from the span store's columns, a block of spans at a time (bounded memory), each row
one formatted line: the bytes ``csv.writer`` (``lineterminator="\\n"``, minimal quoting) writes for
``(kind, subject, host, f"{start:.6f}", f"{end:.6f}", attrs)``, where attrs is the span's attributes and
job as JSON with sorted keys (``json.dumps(..., sort_keys=True)``'s text).

A big run has hundreds of thousands of spans: a csv writer call, a dict and an encoder call per span
cost more than the simulation. Here each distinct kind, subject and host is quoted once (by the csv module
itself), the JSON of a span's attributes is made once per shared attribute tuple (the store keeps one for
every span with the same strings or zeros), and times are printed in one pass per block.
"""

from __future__ import annotations

import csv
import functools
import io
import re
from collections.abc import Iterator, Sequence
from typing import Any, TextIO

import numpy as np

from dsim.records import Span
from dsim.reports import jsontext
from dsim.reports.trace_text import Columns
from dsim.span_store import BLOCK, DERIVABLE, SpanStore

HEADER = "kind,subject,host,start_s,end_s,attrs\n"
#: What makes the csv module quote a field (its delimiter, quote character, line breaks); never escaped.
_ASKS_QUOTES = re.compile(r'[,"\r\n]')


class _Quoted(dict[Any, str]):
    """A value as the csv module writes it as one field of a row of several (quoted only when needed)."""

    def __missing__(self, value: Any) -> str:
        if isinstance(value, str) and not _ASKS_QUOTES.search(value):  # most: written as they are
            text = value
        else:
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator="\n").writerow([value, ""])
            text = buffer.getvalue()[:-2]  # less the empty field's "," and the line's end
            if not isinstance(value, str):
                return text  # not kept: 1, 1.0 and True are one key and three texts
        self[value] = text
        return text


def _csv_json(text: str) -> str:
    """A JSON text as a csv field: JSON has no raw line breaks, so only ``,`` and ``"`` ask for quotes."""
    if '"' in text or "," in text:
        return '"' + text.replace('"', '""') + '"'
    return text


@functools.lru_cache(maxsize=1024)
def _key_order(keys: tuple[str, ...]) -> tuple[tuple[tuple[int, str], ...], tuple[tuple[int, str], ...]] | None:
    """Where each key's value sits in a packed tuple, with its ``"key":`` text, in sorted key order: those
    sorting before ``job`` and those after. None when the general path must make the JSON (a key named
    job, a derived value)."""
    if "job" in keys or DERIVABLE.intersection(keys):
        return None
    order = [(key, i + 1, jsontext.string(key) + ":") for i, key in enumerate(keys)]
    order.sort()
    return (tuple((at, prefix) for key, at, prefix in order if key < "job"),
            tuple((at, prefix) for key, at, prefix in order if key > "job"))


def _split_members(packed: tuple[Any, ...]) -> tuple[str, str] | None:
    """A packed attribute tuple's JSON members before and after where ``"job"`` sorts, quoted for csv
    (``""`` for ``"``); None when the general path must make it."""
    order = _key_order(packed[0])
    if order is None:
        return None
    value, nested = jsontext.value, jsontext.SORTED
    before = ",".join([prefix + value(packed[at], nested) for at, prefix in order[0]]) if order[0] else ""
    after = ",".join([prefix + value(packed[at], nested) for at, prefix in order[1]]) if order[1] else ""
    return before.replace('"', '""'), after.replace('"', '""')


def _attrs_json(attrs: dict[str, Any], job: int) -> str:
    """The general path: the attributes and job as JSON with sorted keys."""
    if job >= 0:
        attrs = dict(attrs)
        attrs["job"] = job
    return "{" + jsontext.members(attrs, jsontext.SORTED) + "}" if attrs else "{}"


def _attrs_fields(spans: Columns, memo: dict[int, tuple[str, str] | None]) -> list[str]:
    """The attrs field of each span. ``memo``: by id of a packed tuple (``spans`` keeps them alive)."""
    out: list[str] = []
    append = out.append
    for i, (packed, job) in enumerate(zip(spans.packed, spans.job, strict=True)):
        if packed is None:
            append(f'"{{""job"":{job}}}"' if job >= 0 else "{}")
            continue
        key = id(packed)
        if key in memo:
            parts = memo[key]
        else:
            parts = memo[key] = _split_members(packed)
        if parts is None:
            append(_csv_json(_attrs_json(spans.attrs(i), job)))
            continue
        before, after = parts
        if job >= 0:
            inner = ",".join(part for part in (before, f'""job"":{job}', after) if part)
        else:
            inner = f"{before},{after}" if before and after else before or after
        append(f'"{{{inner}}}"')
    return out


def _chunks(spans: Sequence[Span]) -> Iterator[Columns]:
    """The spans in record order as columns, a block at a time."""
    if isinstance(spans, SpanStore):
        for low in range(0, len(spans), BLOCK):
            yield Columns(*spans.rows(np.arange(low, min(len(spans), low + BLOCK), dtype=np.int64)))
        return
    for low in range(0, len(spans), BLOCK):
        yield Columns.of(spans[low:low + BLOCK])


def write_rows(spans: Sequence[Span], handle: TextIO) -> None:
    """spans.csv: the header and one line per span, in record order."""
    handle.write(HEADER)
    quoted = _Quoted()
    for chunk in _chunks(spans):
        kinds = [quoted[kind] for kind in chunk.kind]
        subjects = [quoted[subject] for subject in chunk.subject]
        hosts = [quoted[host] for host in chunk.host]
        attrs = _attrs_fields(chunk, {})  # a memo per chunk: the chunk holds the tuples its ids name
        handle.write("".join([f"{k},{s},{h},{a:.6f},{b:.6f},{t}\n" for k, s, h, a, b, t in
                              zip(kinds, subjects, hosts, chunk.start, chunk.end, attrs, strict=True)]))
