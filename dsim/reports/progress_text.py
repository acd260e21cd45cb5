"""Pulled layers' progress lines as JSON text, many layers at once: what ``json.dumps`` writes for what each
kept ``LayerLines`` derives (dsim/progress_words.py: ``layer_lines``, then ``recorded``: [time rounded to 1 us,
word]), made from the layers' times as columns.

A CI burst's outputs print ten such lists per job (a pulled layer's ``progress`` in spans.csv); derived and
encoded one by one they were half of a large burst's spans.csv. Here each time is printed once with NumPy
(``decimal_text.round6_texts``) and each layer's text is one template of its shape filled in; the lines are
``layer_lines``' rules in their order (tests/reports/test_progress_text.py compares with ``json.dumps`` of
``LayerLines.derive_fields`` over many random layers).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from json.encoder import encode_basestring_ascii
from typing import Any

import numpy as np

from dsim.progress_words import WORDS, LayerLines, LayerStage
from dsim.reports.decimal_text import round6_texts
from dsim.span_store import picked


def is_layer_lines(value: Any) -> bool:
    """Whether ``value`` is a kept ``LayerLines`` (its compact form)."""
    return type(value) is tuple and len(value) == 7 and value[0] == LayerLines.TAG


@functools.lru_cache(maxsize=32)
def _template(waiting: bool, downloaded: bool, fetched: bool, extracted: bool) -> str:
    """The JSON text of one shape of a layer's lines, with ``{0}``-``{4}`` for its listed, download, fetch-end,
    extract and ready times (``layer_lines``: a download seen this pull, "Waiting" for it, its checksum step,
    an unpack)."""
    def line(at: int, stage: LayerStage) -> str:
        return f"[{{{at}}},{encode_basestring_ascii(WORDS[stage])}]"

    lines = [line(0, LayerStage.PULLING)]
    if downloaded:
        if waiting:
            lines.append(line(0, LayerStage.WAITING))
        lines.append(line(1, LayerStage.DOWNLOADING))
        if fetched:
            lines += [line(2, LayerStage.VERIFYING), line(2, LayerStage.DOWNLOADED)]
    if extracted:
        lines.append(line(3, LayerStage.EXTRACTING))
    lines.append(line(4, LayerStage.COMPLETE))
    return "[" + ",".join(lines) + "]"


def layer_lines_texts(kept: Sequence[tuple[Any, ...]]) -> list[str | None]:
    """For each kept ``LayerLines`` (``is_layer_lines``), the JSON text of the lines it derives; None for one
    not printed here (with retry notes, or a time that is not a finite non-negative float), for the caller to
    derive."""
    if not kept:
        return []
    _, listed, ready, began, ended, notes, extract = zip(*kept, strict=True)
    fields = (listed, began, ended, extract, ready)
    present = [np.array([t is not None for t in times], dtype=bool) for times in fields]
    try:
        columns = [np.array([0.0 if t is None else t for t in times], dtype=np.float64) for times in fields]
    except (TypeError, ValueError):  # a time that is no number at all: every layer to the caller
        return [None] * len(kept)
    ok = np.ones(len(kept), dtype=bool)
    for column, there in zip(columns, present, strict=True):
        ok &= ~there | (np.isfinite(column) & ~np.signbit(column))
    ok &= present[0] & present[4]
    ok &= _plain(listed, began, ended, notes, extract, ready)
    at_listed, at_began = columns[0], columns[1]
    downloaded = present[1]
    waiting = downloaded & (at_began > at_listed)
    columns[1] = np.where(downloaded, np.maximum(at_began, at_listed), 0.0)  # "Downloading": max(began, listed)
    texts = [round6_texts(np.where(there & ok, column, 0.0)) for column, there in zip(columns, present, strict=True)]
    shapes = waiting * 8 + downloaded * 4 + (downloaded & present[2]) * 2 + present[3]
    out: list[str | None] = [None] * len(kept)
    for shape in np.unique(shapes[ok]).tolist():  # each shape's layers filled into its template at once
        at = np.flatnonzero(ok & (shapes == shape)).tolist()
        template = _template(bool(shape & 8), bool(shape & 4), bool(shape & 2), bool(shape & 1))
        times = [picked(column, at) for column in texts]
        for i, text in zip(at, map(template.format, *times), strict=True):
            out[i] = text
    return out


def _plain(listed: tuple[Any, ...], began: tuple[Any, ...], ended: tuple[Any, ...], notes: tuple[Any, ...],
           extract: tuple[Any, ...], ready: tuple[Any, ...]) -> np.ndarray:
    """Which layers this module prints: without retry notes, every time a float (or None where it may be).
    Checked for all layers at once (a C-level pass a column) when they all are, else one by one."""
    kinds = [set(map(type, times)) for times in (listed, ready, began, ended, extract)]
    if not any(notes) and kinds[0] == kinds[1] == {float} and all(k <= {float, type(None)} for k in kinds[2:]):
        return np.ones(len(listed), dtype=bool)
    return np.fromiter((not note and type(first) is float and type(last) is float
                        and all(t is None or type(t) is float for t in others)
                        for first, last, note, *others in zip(listed, ready, notes, began, ended, extract,
                                                              strict=True)), dtype=bool, count=len(listed))
