"""spans.csv's rows from the span store's columns, a block of spans at a time (bounded memory), each row
one formatted line: the bytes ``csv.writer`` (``lineterminator="\\n"``, minimal quoting) writes for
``(kind, subject, host, f"{start:.6f}", f"{end:.6f}", attrs)``, where attrs is the span's attributes and
job as JSON with sorted keys (``json.dumps(..., sort_keys=True)``'s text).

A big run has hundreds of thousands of spans: a csv writer call, a dict and an encoder call per span
cost more than the simulation. Here each distinct kind, subject and host is quoted once (by the csv module
itself), the JSON of a span's attributes is made once per shared attribute tuple (the store keeps one for
every span of a shape with equal values of the same types), and times are printed in one pass per block.
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
from dsim.reports.decimal_text import decimal_field, joined_texts, millionths
from dsim.reports.trace_text import Columns
from dsim.span_store import BLOCK, SpanStore
from dsim.span_values import DERIVABLE

HEADER = "kind,subject,host,start_s,end_s,attrs\n"
#: What makes the csv module quote a field (its delimiter, quote character, line breaks); never escaped.
_ASKS_QUOTES = re.compile(r'[,"\r\n]')


class CsvFields(dict[Any, str]):
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


def _attrs_json(attrs: dict[str, Any], job: int) -> str:
    """The general path: the attributes and job as JSON with sorted keys."""
    if job >= 0:
        attrs = dict(attrs)
        attrs["job"] = job
    return "{" + jsontext.members(attrs, jsontext.SORTED) + "}" if attrs else "{}"


#: The pieces of a span's attrs field (``_pieces``): the members before ``"job"`` with a comma after,
#: the members after it with a comma before, and the whole field when the span has no job.
Pieces = tuple[str, str, str]


def _pieces(spans: Columns) -> dict[int, Pieces | None]:
    """By id of each distinct packed tuple (and of None: no attributes) its ``Pieces``, quoted for csv
    (``""`` for ``"``); None when the general path must make the field. The tuples of one shape are
    printed a column at a time."""
    pieces: dict[int, Pieces | None] = {id(None): ("", "", "{}")}
    shapes: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
    for packed in {id(packed): packed for packed in spans.packed if packed is not None}.values():
        shapes.setdefault(packed[0], []).append(packed)
    for keys, group in shapes.items():
        order = _key_order(keys)
        if order is None:
            pieces.update(dict.fromkeys(map(id, group)))
            continue
        befores = _members(group, order[0])
        afters = _members(group, order[1])
        for packed, before, after in zip(group, befores, afters, strict=True):
            before, after = before.replace('"', '""'), after.replace('"', '""')
            alone = f"{before},{after}" if before and after else before or after
            pieces[id(packed)] = (before + "," if before else "", "," + after if after else "", f'"{{{alone}}}"')
    return pieces


def _members(group: list[tuple[Any, ...]], order: tuple[tuple[int, str], ...]) -> list[str]:
    """The JSON members at ``order``'s places of each packed tuple of ``group`` (one shape), no braces."""
    if not order:
        return [""] * len(group)
    template = ",".join(prefix.replace("{", "{{").replace("}", "}}") + "{}" for _, prefix in order)
    columns = [jsontext.column_texts([packed[at] for packed in group], jsontext.SORTED) for at, _ in order]
    return list(map(template.format, *columns))


def _attrs_fields(spans: Columns) -> list[str]:
    """The attrs field of each span."""
    pieces = list(map(_pieces(spans).__getitem__, map(id, spans.packed)))
    job_texts = {job: str(job) for job in set(spans.job)}  # a job has many spans: each number printed once
    fields = [(f'"{{{piece[0]}""job"":{job_texts[job]}{piece[1]}}}"' if job >= 0 else piece[2])
              if piece is not None else None for piece, job in zip(pieces, spans.job, strict=True)]
    general = [i for i, field in enumerate(fields) if field is None]
    derived = spans.derived_members([i for i in general if "job" not in spans.packed[i][0]], jsontext.SORTED,
                                    split="job")
    for i in general:
        halves = derived.get(i)
        fields[i] = _csv_json(_attrs_json(spans.attrs(i), spans.job[i]) if halves is None
                              else _joined(halves, spans.job[i]))
    return fields  # type: ignore[return-value]


def _joined(halves: tuple[str, str], job: int) -> str:
    """The attrs JSON of a span from its members sorting before ``job`` and after (``Columns.derived_members``)."""
    parts = [part for part in (halves[0], f'"job":{job}' if job >= 0 else "", halves[1]) if part]
    return "{" + ",".join(parts) + "}"


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
    quoted = CsvFields()
    for chunk in _chunks(spans):
        kinds = list(map(quoted.__getitem__, chunk.kind))
        subjects = list(map(quoted.__getitem__, chunk.subject))
        hosts = list(map(quoted.__getitem__, chunk.host))
        attrs = _attrs_fields(chunk)  # by id of the packed tuples: the chunk holds those its ids name
        times = fixed6_rows([chunk.starts, chunk.ends])  # "start,end"
        handle.write("".join([f"{k},{s},{h},{both},{t}\n" for k, s, h, both, t in
                              zip(kinds, subjects, hosts, times, attrs, strict=True)]))


def fixed6_texts(values: np.ndarray) -> list[str]:
    """``f"{x:.6f}"`` of each value (``fixed6_rows`` of one column)."""
    return fixed6_rows([values])


def fixed6_rows(columns: Sequence[np.ndarray], end: str = "") -> list[str]:
    """``",".join(f"{x:.6f}" for x in row) + end`` of each row of the columns (equally long): counts of
    millionths printed by ``decimal_field``, a row with a value they cannot print (``decimal_text.millionths``)
    by Python."""
    values = [np.asarray(column, dtype=np.float64) for column in columns]
    counted = [millionths(column) for column in values]
    parts: list[np.ndarray | str] = []
    for units, _ in counted:
        parts += [decimal_field(units, 6, trim=False), ","]
    texts = joined_texts([*parts[:-1], end] if end else parts[:-1], len(values[0]))
    slow = ~np.logical_and.reduce([exact for _, exact in counted])
    for i in np.flatnonzero(slow).tolist():
        texts[i] = ",".join([f"{float(column[i]):.6f}" for column in values]) + end
    return texts
