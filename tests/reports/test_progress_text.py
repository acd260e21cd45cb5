"""Pulled layers' progress printed many at once (dsim/reports/progress_text.py) is what ``json.dumps`` writes
for the lines each kept ``LayerLines`` derives (``layer_lines`` then ``recorded``)."""

from __future__ import annotations

import json
import random
from typing import Any

from dsim.progress_words import LayerLines
from dsim.reports.progress_text import is_layer_lines, layer_lines_texts


def _time(rng: random.Random) -> float:
    """Times as a run makes them, and awkward ones: 0.0, below 1e-4 (repr's 5e-05), halves of a millionth
    (round's ties), thousands of seconds, whole seconds."""
    return rng.choice([0.0, rng.uniform(0, 1e-4), rng.randint(0, 10**7) / 1e6 + 5e-7, rng.uniform(0, 5000),
                       float(rng.randint(0, 100)), rng.uniform(0, 1)])


def _kept(rng: random.Random) -> tuple[Any, ...]:
    listed = _time(rng)
    began = rng.choice([None, listed, listed + rng.uniform(0, 3), max(0.0, listed - rng.uniform(0, 1)), _time(rng)])
    ended = rng.choice([None, (began or listed) + rng.uniform(0, 10)])
    extract = rng.choice([None, (ended or listed) + rng.uniform(0, 2)])
    ready = (extract or ended or listed) + rng.uniform(0, 2)
    return LayerLines.compact(listed, ready, began, ended, (), extract)


def _json(kept: tuple[Any, ...]) -> str:
    return json.dumps(LayerLines.derive_fields(*kept[1:]), separators=(",", ":"))


def test_layers_are_printed_as_json_writes_their_lines() -> None:
    rng = random.Random(34)
    kept = [_kept(rng) for _ in range(20000)]
    assert all(map(is_layer_lines, kept))
    texts = layer_lines_texts(kept)
    assert None not in texts
    assert texts == [_json(k) for k in kept]
    # each shape of lines is there: waiting or not, a checksum step or not, an unpack or not
    assert {text.count('"') for text in texts if text} >= {4, 6, 8, 10, 12, 14}


def test_what_it_does_not_print_is_left_to_the_caller() -> None:
    # retry notes, an int time, -0.0, negative, infinite and NaN times: None, and the caller derives them
    base = LayerLines.compact(1.0, 4.0, 1.5, 2.5, (), 3.0)
    odd = [LayerLines.compact(1.0, 4.0, 1.5, 2.5, ((1.2, "Retrying in 5 seconds"),), 3.0),
           LayerLines.compact(1, 4.0, 1.5, 2.5, (), 3.0), LayerLines.compact(-0.0, 4.0, None, None, (), None),
           LayerLines.compact(1.0, 4.0, -1.5, 2.5, (), 3.0),
           LayerLines.compact(1.0, float("inf"), None, None, (), None),
           LayerLines.compact(1.0, 4.0, 1.5, float("nan"), (), 3.0)]
    texts = layer_lines_texts([base, *odd, base])
    assert texts[0] == texts[-1] == _json(base)
    assert texts[1:-1] == [None] * len(odd)
    assert layer_lines_texts([]) == []
    assert layer_lines_texts([base, (LayerLines.TAG, 1.0, "later", None, None, (), None)]) == [None, None]
    assert not is_layer_lines(("x", 1.0)) and not is_layer_lines([[1.0, "Pull complete"]])
