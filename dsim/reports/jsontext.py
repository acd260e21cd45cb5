"""JSON text of many small records (span attributes, trace events) written without a ``json.dumps`` per record.

A big run has hundreds of thousands of spans; ``json.dumps`` (or ``JSONEncoder.encode``) costs a few
microseconds per call before it writes a byte, which made the outputs cost more than the simulation. These
helpers format the common values directly and give exactly the text the encoder gives with
``separators=(",", ":")`` and ``default=str`` (``ensure_ascii`` and ``allow_nan`` at their defaults):
strings through the encoder's own C escaper, ``float.__repr__`` for finite floats, ``int.__repr__``;
anything else (lists, dicts, NaN, infinities, other objects) goes to a real encoder.
"""

from __future__ import annotations

import functools
import json
import math
from json.encoder import encode_basestring_ascii
from typing import Any

import numpy as np

from dsim.reports.decimal_text import repr_texts

#: A JSON string literal for a str, escaped as ``json.dumps`` escapes it (the same C function).
string = encode_basestring_ascii

#: Nested values as the trace encodes them (dict keys in insertion order).
PLAIN = json.JSONEncoder(separators=(",", ":"), default=str)
#: Nested values as spans.csv encodes them (dict keys sorted).
SORTED = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)

_float_repr = float.__repr__
_int_repr = int.__repr__


def value(obj: Any, nested: json.JSONEncoder = PLAIN) -> str:
    """``obj`` as JSON; ``nested`` encodes what is not a plain scalar."""
    kind = type(obj)
    if kind is str:
        return encode_basestring_ascii(obj)
    if kind is float and math.isfinite(obj):
        return _float_repr(obj)
    if kind is int:
        return _int_repr(obj)
    if obj is None:
        return "null"
    if obj is True:
        return "true"
    if obj is False:
        return "false"
    if kind is list and not obj:  # what every encoder writes for an empty list
        return "[]"
    return nested.encode(obj)


def column_texts(values: list[Any], nested: json.JSONEncoder = PLAIN) -> list[str]:
    """``value`` of each of ``values``: one C-level map when they are all strings, all ints or all finite
    floats (a column of one attribute usually is)."""
    kinds = set(map(type, values))
    if len(kinds) == 1:
        kind = kinds.pop()
        if kind is str:
            return list(map(encode_basestring_ascii, values))
        if kind is int:
            return list(map(_int_repr, values))
        if kind is float and all(map(math.isfinite, values)):
            return list(map(_float_repr, values))
        if kind is list:
            return _pair_lists_texts(values) or [value(obj, nested) for obj in values]
    return [value(obj, nested) for obj in values]


def _pair_lists_texts(lists: list[list[Any]]) -> list[str] | None:
    """JSON of each list when every item of every list is a ``[float, str]`` pair (pulled layers' progress
    lines: one list a span in a CI burst's outputs), all their times printed at once
    (``decimal_text.repr_texts``); None for any other lists (their items checked a C-level pass at a time)."""
    pairs = [pair for items in lists for pair in items]
    if not pairs:
        return ["[]"] * len(lists)
    if set(map(type, pairs)) != {list} or set(map(len, pairs)) != {2}:
        return None
    times, words = zip(*pairs, strict=True)
    if set(map(type, times)) != {float} or set(map(type, words)) != {str} or not all(map(math.isfinite, times)):
        return None
    quoted = {word: encode_basestring_ascii(word) for word in set(words)}
    lines = list(map("[{},{}]".format, repr_texts(np.array(times, dtype=np.float64)), map(quoted.__getitem__, words)))
    texts, at = [], 0
    for size in map(len, lists):
        texts.append("[" + ",".join(lines[at:at + size]) + "]")
        at += size
    return texts


def members(attrs: dict[str, Any], nested: json.JSONEncoder = PLAIN) -> str:
    """``attrs``' items sorted by key as the inside of a JSON object (``"a":1,"b":"x"``), no braces."""
    return ",".join([prefix + value(attrs[key], nested) for key, prefix in _sorted_keys(tuple(attrs))])


@functools.lru_cache(maxsize=1024)
def _sorted_keys(keys: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """Keys in order with their ``"key":`` texts: spans of a kind share their keys, so each set is sorted
    and escaped once rather than once per span."""
    return tuple((key, encode_basestring_ascii(key) + ":") for key in sorted(keys))


def number(x: float) -> str:
    """A float as JSON (``NaN`` and ``Infinity`` as ``json.dumps`` writes them)."""
    return _float_repr(x) if math.isfinite(x) else PLAIN.encode(x)
