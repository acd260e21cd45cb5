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
    columns = [np.array([0.0 if t is None else t for t in times], dtype=np.float64) for times in fields]
    ok = np.ones(len(kept), dtype=bool)
    for column, there in zip(columns, present, strict=True):
        ok &= ~there | (np.isfinite(column) & ~np.signbit(column))
    ok &= present[0] & present[4]
    ok &= np.fromiter(map(_plain, listed, began, ended, notes, extract, ready), dtype=bool, count=len(kept))
    at_listed, at_began = columns[0], columns[1]
    downloaded = present[1]
    waiting = downloaded & (at_began > at_listed)
    columns[1] = np.where(downloaded, np.maximum(at_began, at_listed), 0.0)  # "Downloading": max(began, listed)
    texts = [round6_texts(np.where(there & ok, column, 0.0)) for column, there in zip(columns, present, strict=True)]
    shapes = zip(waiting.tolist(), downloaded.tolist(), (downloaded & present[2]).tolist(), present[3].tolist(),
                 strict=True)
    return [_template(*shape).format(*times) if good else None
            for good, shape, times in zip(ok.tolist(), shapes, zip(*texts, strict=True), strict=True)]


def _plain(*fields: Any) -> bool:
    """A layer this module prints: no retry notes, every time a float (or None where it may be)."""
    listed, began, ended, notes, extract, ready = fields
    return not notes and type(listed) is float and type(ready) is float and all(
        t is None or type(t) is float for t in (began, ended, extract))
