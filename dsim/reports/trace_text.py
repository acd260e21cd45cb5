"""trace.json's text for many spans at once: a section's spans as columns (``Columns``), the times of their
complete events rounded and printed together, their args printed from the packed attributes.

A big run's trace has hundreds of thousands of events, and everything here is the bytes ``json.dumps``
would write (``trace.py``'s tests and every example scenario's trace check it), only made with less Python
per event: times are rounded with NumPy and printed from integers (no float ``repr`` per number), args of
spans whose attributes are one shared tuple (most API calls, requests, jobs) are printed once.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from math import isfinite
from typing import Any

import numpy as np

from dsim.records import Span
from dsim.reports.decimal_text import decimal_field, joined_texts
from dsim.reports.derive import FAILURE_ATTRS, failed
from dsim.reports.jsontext import PLAIN, column_texts, members, number, string, value
from dsim.reports.progress_text import is_layer_lines, layer_lines_texts
from dsim.span_store import picked
from dsim.span_values import DERIVABLE, pack, read_value, unpack

#: ``repr`` of a double nearest k / 1000 is k / 1000's shortest decimal below this many thousandths: under
#: 2**43 the doubles are less than a thousandth apart, so no decimal with fewer digits names the same
#: double; and under 1e16 ``repr`` writes no exponent (``decimal_texts`` prints them, trimmed as ``repr`` is).
_PRINTABLE_THOUSANDTHS = 2.0**52
#: Below this many intervals ``timing_texts`` prints each by Python: about 2 us an interval, where NumPy's steps
#: cost about 140 us whatever their length plus a fraction of a microsecond an interval (a CI burst's trace asks
#: for thousands of batches of 10 to 40: a runner's few jobs).
_FEW = 64


def round3_parts(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``round(v, 3)`` of each element, bit for bit as Python computes it, without a Python call each; with
    the thousandths (``rint(v * 1000)``) and where those are exact (elsewhere the result came from ``round``).

    Python rounds the exact binary value to the nearest multiple of 0.001 (half to even) and returns the
    double nearest that decimal. Here ``rint(v * 1000)`` finds that multiple unless ``v * 1000``, itself
    rounded, lies within its rounding error of a half (or is too big or not finite): those few go to
    ``round``. Dividing the exact integer by 1000 is correctly rounded, so it gives the same double.
    """
    scaled = values * 1000.0
    whole = np.rint(scaled)
    with np.errstate(invalid="ignore"):
        margin = np.abs(np.abs(scaled - whole) - 0.5)
        exact = (np.abs(scaled) < _PRINTABLE_THOUSANDTHS) & (margin > np.abs(scaled) * 2.0**-50 + 1e-300)
    out = whole / 1000.0
    for i in np.flatnonzero(~exact):
        out[i] = round(float(values[i]), 3)
    return out, whole, exact


def round3(values: np.ndarray) -> np.ndarray:
    """``round(v, 3)`` of each element (``round3_parts``)."""
    return round3_parts(values)[0]


def timing_texts(starts: np.ndarray, ends: np.ndarray) -> list[str]:
    """``"ts":...,"dur":...`` of a complete event for each interval: microseconds rounded to nanoseconds
    (``round(start * 1e6, 3)``; the duration ``round(round(end * 1e6, 3) - ts, 3)``, never below 0), as
    ``json.dumps`` prints those doubles. Printed from the integer thousandths where that gives ``repr``'s
    digits (non-negative, exact, below ``_PRINTABLE_THOUSANDTHS``); the rest by ``repr``. Fewer than
    ``_FEW`` intervals are printed one by one (``timing_text``): NumPy's steps cost more than Python's then."""
    if len(starts) < _FEW:
        return list(map(timing_text, starts.tolist(), ends.tolist()))
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf is NaN, as in Python
        ts, ts_k, ts_fast = _micros(starts)
        dur, dur_k, dur_exact = round3_parts(round3(np.asarray(ends, dtype=float) * 1e6) - ts)
        positive = dur > 0.0
        dur = np.where(positive, dur, 0.0)  # max(0.0, dur): 0.0 for -0.0 and NaN too
        fast = ts_fast & (dur_exact | ~positive)
    texts = joined_texts(['"ts":', decimal_field(np.where(fast, ts_k, 0.0).astype(np.int64), 3, trim=True), ',"dur":',
                          decimal_field(np.where(fast & positive, dur_k, 0.0).astype(np.int64), 3, trim=True)], len(ts))
    for i in np.flatnonzero(~fast).tolist():
        t, d = float(ts[i]), float(dur[i])
        texts[i] = f'"ts":{t},"dur":{d}' if isfinite(t + d) else json_timing(t, d)
    return texts


def _micros(times: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each time in microseconds rounded to nanoseconds (``round(t * 1e6, 3)``), its thousandths, and whether
    those print it (exact and not negative: ``decimal_field``'s digits are ``repr``'s)."""
    ts, ts_k, exact = round3_parts(np.asarray(times, dtype=float) * 1e6)
    return ts, ts_k, exact & ~np.signbit(ts)


def ts_texts(times: np.ndarray) -> list[str]:
    """``"ts":...`` of an instant event at each of ``times`` (seconds): microseconds rounded to nanoseconds
    (``round(t * 1e6, 3)``) as ``json.dumps`` prints them, printed as ``timing_texts`` prints a start."""
    if len(times) < _FEW:
        return [f'"ts":{number(round(t * 1e6, 3))}' for t in times.tolist()]
    with np.errstate(invalid="ignore", over="ignore"):
        ts, ts_k, fast = _micros(times)
    texts = joined_texts(['"ts":', decimal_field(np.where(fast, ts_k, 0.0).astype(np.int64), 3, trim=True)], len(ts))
    for i in np.flatnonzero(~fast).tolist():
        texts[i] = f'"ts":{number(float(ts[i]))}'
    return texts


def timing_text(start: float, end: float) -> str:
    """``"ts":...,"dur":...`` of one complete event (``timing_texts`` of one interval, as Python computes it)."""
    ts = round(start * 1e6, 3)
    dur = max(0.0, round(round(end * 1e6, 3) - ts, 3))
    return f'"ts":{ts},"dur":{dur}' if isfinite(ts + dur) else json_timing(ts, dur)


def json_timing(ts: float, dur: float) -> str:
    """str(float) is float.__repr__, what json writes for a finite float; this writes the others."""
    return f'"ts":{number(ts)},"dur":{number(dur)}'


#: Keys ``Columns.args`` adds after a span's attributes: a span with an attribute of one of these names takes the
#: general path (its args a dict encoded whole).
_ARGS_KEYS = frozenset({"job", "subject", "error"})


@functools.lru_cache(maxsize=1024)
def _members_order(keys: tuple[str, ...]) -> tuple[tuple[int, str], ...] | None:
    """Where each key's value sits in a packed tuple, in sorted key order, with its ``"key":`` text; None
    when the args need the general path (a key named like one ``args`` adds, or a derived value)."""
    if not _ARGS_KEYS.isdisjoint(keys) or DERIVABLE.intersection(keys):
        return None
    return tuple((keys.index(key) + 1, string(key) + ":") for key in sorted(keys))


@functools.lru_cache(maxsize=1024)
def _derived_places(keys: tuple[str, ...]) -> tuple[tuple[int, str, str, bool], ...] | None:
    """For a shape with a derivable value: each key in sorted order with its place in a packed tuple, its
    ``"key":`` text and whether its value is derivable; None for a shape without one."""
    if DERIVABLE.isdisjoint(keys):
        return None
    return tuple((keys.index(key) + 1, key, string(key) + ":", key in DERIVABLE) for key in sorted(keys))


class Columns:
    """A trace section's spans (a host's, a registry's, ...) in record order, as columns: ``kind``,
    ``subject``, ``host``, ``start``, ``end``, ``job`` (lists) and the attributes packed
    (``span_store.pack``)."""

    def __init__(self, kinds: list[Any], subjects: list[str], hosts: list[str], starts: np.ndarray,
                 ends: np.ndarray, jobs: list[int], packed: list[Any]) -> None:
        self.kind = kinds
        self.subject = subjects
        self.host = hosts
        self.starts = starts
        self.ends = ends
        self.start: list[float] = starts.tolist()
        self.end: list[float] = ends.tolist()
        self.job = jobs
        self.packed = packed
        self._failed: dict[tuple[Any, int], bool] = {}  # by kind and id of a packed tuple (alive in ``packed``)
        self._tails: list[str | None] = [None] * len(kinds)  # ``tails``, as they are made
        self._members: dict[int, str | None] = {id(None): ""}  # ``_member_texts``, by id of a packed tuple

    @classmethod
    def of(cls, spans: Sequence[Span]) -> Columns:
        """Columns of spans given as tuples."""
        return cls([s.kind for s in spans], [s.subject for s in spans], [s.host for s in spans],
                   np.array([s.start for s in spans], dtype=float), np.array([s.end for s in spans], dtype=float),
                   [s.job for s in spans], [pack(s.attrs) for s in spans])

    def __len__(self) -> int:
        return len(self.kind)

    def subset(self, items: Sequence[int], starts: np.ndarray | None = None) -> Columns:
        """The spans at ``items``, in that order (``starts``: other start times for them)."""
        at = np.asarray(items, dtype=np.int64)
        return Columns([self.kind[i] for i in items], [self.subject[i] for i in items],
                       [self.host[i] for i in items], self.starts[at] if starts is None else starts,
                       self.ends[at], [self.job[i] for i in items], [self.packed[i] for i in items])

    def part(self, at: np.ndarray, host: str) -> Columns:
        """The spans at ``at`` (ascending), every one of ``host``, with the tails already made for them (a batch
        of hosts' spans made their tails at once: NumPy's steps cost the same for a few spans as for many)."""
        picks = at.tolist()
        made = Columns(list(picked(self.kind, picks)), list(picked(self.subject, picks)), [host] * len(picks),
                       self.starts[at], self.ends[at], list(picked(self.job, picks)), list(picked(self.packed, picks)))
        made._tails = list(picked(self._tails, picks))
        made._members = self._members  # by id of packed tuples, which this batch keeps alive
        return made

    def attrs(self, i: int) -> dict[str, Any]:
        """Span ``i``'s attributes (a new dict; derived values derived)."""
        return unpack(self.packed[i], self.start[i])

    def attr(self, i: int, key: str, default: Any = None) -> Any:
        """One attribute of span ``i`` (``default`` when it has none)."""
        packed = self.packed[i]
        if packed is None or key not in packed[0]:
            return default
        if key in DERIVABLE:
            return self.attrs(i)[key]
        return packed[packed[0].index(key) + 1]

    def attr_of(self, items: Sequence[int], key: str, default: Any = None) -> list[Any]:
        """``attr(i, key, default)`` of each of ``items`` (the key's place looked up once per shape)."""
        if key in DERIVABLE:
            return [self.attr(i, key, default) for i in items]
        places: dict[tuple[str, ...], int] = {}
        out = []
        for packed in [self.packed[i] for i in items]:
            if packed is None:
                out.append(default)
                continue
            at = places.get(packed[0])
            if at is None:
                at = places[packed[0]] = packed[0].index(key) + 1 if key in packed[0] else 0
            out.append(packed[at] if at else default)
        return out

    def derived_members(self, items: Sequence[int], nested: json.JSONEncoder,
                        split: str = "") -> dict[int, tuple[str, str]]:
        """By each of ``items`` whose attributes hold a derivable value (a pulled layer's progress; the others
        are left out): its members as JSON text in sorted key order, no braces, as two texts: the keys
        sorting before ``split`` and those after (``"a":1,"b":[[0.5,"x"]]``). The values are read at the
        span's start, and the spans of one shape are printed a key at a time."""
        shapes: dict[tuple[str, ...], list[int]] = {}
        for i in items:
            packed = self.packed[i]
            if packed is not None and _derived_places(packed[0]) is not None:
                shapes.setdefault(packed[0], []).append(i)
        out: dict[int, tuple[str, str]] = {}
        for keys, group in shapes.items():
            packs = [self.packed[i] for i in group]
            halves: tuple[list[list[str]], list[list[str]]] = ([], [])
            for at, key, prefix, derivable in _derived_places(keys) or ():
                values = [packed[at] for packed in packs]
                texts = self._derived_texts(values, group, nested) if derivable else column_texts(values, nested)
                halves[key > split].append([prefix + text for text in texts])
            befores = map(",".join, zip(*halves[0], strict=True)) if halves[0] else [""] * len(group)
            afters = map(",".join, zip(*halves[1], strict=True)) if halves[1] else [""] * len(group)
            out.update(zip(group, zip(befores, afters, strict=True), strict=True))
        return out

    def _derived_texts(self, values: list[Any], items: list[int], nested: json.JSONEncoder) -> list[str]:
        """The JSON text of what each of ``values`` (a derivable attribute of the spans at ``items``) reads as:
        kept ``LayerLines`` printed together (``progress_text``), the others read and printed as columns."""
        texts: list[str | None] = [None] * len(values)
        layers = [at for at, v in enumerate(values) if is_layer_lines(v)]
        for at, text in zip(layers, layer_lines_texts([values[at] for at in layers]), strict=True):
            texts[at] = text
        rest = [at for at, text in enumerate(texts) if text is None]
        start = self.start
        read = column_texts([read_value(values[at], start[items[at]]) for at in rest], nested)
        for at, text in zip(rest, read, strict=True):
            texts[at] = text
        return texts  # type: ignore[return-value]

    def span(self, i: int) -> Span:
        return Span(self.kind[i], self.subject[i], self.host[i], self.start[i], self.end[i], self.job[i],
                    self.attrs(i))

    def failed(self, i: int) -> bool:
        """``derive.is_failure`` of span ``i`` (failure attributes are never derived ones), worked out once
        per kind and packed tuple (shared among spans with equal values of the same types)."""
        packed = self.packed[i]
        if packed is None or FAILURE_ATTRS.isdisjoint(packed[0]):
            return kind_failed(self.kind[i])
        key = (self.kind[i], id(packed))
        answer = self._failed.get(key)
        if answer is None:
            answer = self._failed[key] = failed(self.kind[i], dict(zip(packed[0], packed[1:], strict=True)))
        return answer

    def tails(self, items: Sequence[int]) -> list[str]:
        """The end of each of ``items``' complete events: its times and args and the closing brace. Made the
        first time a span is asked for, for all those asked then at once: a section's spans written only as
        instants or elsewhere (its API calls, requests, what took no time) never get one, and a container's
        phases, on its job's lane and on its own track, get one."""
        made = self._tails
        missing = [i for i in items if made[i] is None]
        if missing:
            self._make_tails(missing)
        return [made[i] for i in items]  # type: ignore[misc]

    def _make_tails(self, items: list[int]) -> None:
        """``tails`` of ``items``, made together: times printed at once, each subject, job and packed tuple once."""
        at = np.asarray(items, dtype=np.int64)
        timings = timing_texts(self.starts[at], self.ends[at])
        subjects = [self.subject[i] for i in items]
        quoted = {text: string(text) for text in set(subjects)}  # subjects repeat (a container's spans)
        packs = [self.packed[i] for i in items]
        members = list(map(self._member_texts(packs).__getitem__, map(id, packs)))
        general = [i for i, inner in zip(items, members, strict=True)
                   if inner is None and _ARGS_KEYS.isdisjoint(self.packed[i][0])]
        if general:  # spans with a derivable value (a pulled layer's progress): printed a shape at a time
            derived = self.derived_members(general, PLAIN)
            members = [inner if inner is not None or i not in derived else ",".join(filter(None, derived[i])) + ","
                       for i, inner in zip(items, members, strict=True)]
        jobs = [self.job[i] for i in items]
        job_texts = {job: f'"job":{job},' if job >= 0 else "" for job in set(jobs)}  # a job has many spans
        tails = [f'{timing},"args":{{{inner}{job}"subject":{subject}}}}}' if inner is not None
                 else f'{timing},"args":{self.args(i)}}}'  # the general path
                 for i, timing, inner, job, subject in zip(items, timings, members, map(job_texts.__getitem__, jobs),
                                                           map(quoted.__getitem__, subjects), strict=True)]
        made = self._tails
        for i, text in zip(items, tails, strict=True):
            made[i] = text

    def _member_texts(self, packs: list[Any]) -> dict[int, str | None]:
        """By id of each packed tuple of ``packs`` (and of None: no attributes): its members as JSON text in
        sorted key order, each followed by a comma (``"a":1,"b":"x",``), or None when its args take the general
        path (``_members_order``). Each distinct tuple is printed once per section, the tuples of one shape a
        column at a time."""
        texts = self._members
        shapes: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
        for key, packed in dict(zip(map(id, packs), packs, strict=True)).items():  # each distinct tuple once
            if key not in texts:
                shapes.setdefault(packed[0], []).append(packed)
        for keys, group in shapes.items():
            order = _members_order(keys)
            if order is None:
                texts.update(dict.fromkeys(map(id, group)))
                continue
            template = "".join(prefix.replace("{", "{{").replace("}", "}}") + "{}," for _, prefix in order)
            columns = [column_texts([packed[at] for packed in group]) for at, _ in order]
            texts.update(zip(map(id, group), map(template.format, *columns), strict=True))
        return texts

    def args_texts(self, items: list[int]) -> list[str]:
        """``args(i)`` of each of ``items``, made together: each distinct packed tuple's members printed once
        (``_member_texts``), a span whose args take the general path by ``args``."""
        packs = [self.packed[i] for i in items]
        members = self._member_texts(packs)
        job, subject = self.job, self.subject
        return [self.args(i) if inner is None
                else f'{{{inner}"job":{job[i]},"subject":{string(subject[i])}}}' if job[i] >= 0
                else f'{{{inner}"subject":{string(subject[i])}}}'
                for i, inner in zip(items, map(members.__getitem__, map(id, packs)), strict=True)]

    def args(self, i: int, error: str | None = None) -> str:
        """Span ``i``'s args as JSON text: its attributes sorted by key, then ``job`` (when it has one),
        ``subject`` and ``error`` (when given)."""
        packed, job = self.packed[i], self.job[i]
        if packed is None:
            if error is None and job >= 0:  # most spans
                return f'{{"job":{job},"subject":{string(self.subject[i])}}}'
            parts = []
        else:
            order = _members_order(packed[0])
            if order is None:
                return _args_of_dict(self.attrs(i), job, self.subject[i], error)
            parts = [",".join([prefix + value(packed[at]) for at, prefix in order])]
        if job >= 0:
            parts.append(f'"job":{value(job)}')
        parts.append(f'"subject":{string(self.subject[i])}')
        if error is not None:
            parts.append(f'"error":{value(error)}')
        return "{" + ",".join(parts) + "}"


@functools.lru_cache(maxsize=256)
def kind_failed(kind: str) -> bool:
    """Whether a span of ``kind`` is a failure whatever its attributes (``derive.is_failure``)."""
    return failed(kind, {})


def _args_of_dict(attrs: dict[str, Any], job: int, subject: str, error: str | None) -> str:
    """``Columns.args`` from a dict of attributes (the general path)."""
    if attrs and ("job" in attrs or "subject" in attrs or (error is not None and "error" in attrs)):
        args: dict[str, Any] = dict(sorted(attrs.items()))  # an added key keeps its sorted place
        if job >= 0:
            args["job"] = job
        args["subject"] = subject
        if error is not None:
            args["error"] = error
        return PLAIN.encode(args)
    parts = [members(attrs)] if attrs else []
    if job >= 0:
        parts.append(f'"job":{value(job)}')
    parts.append(f'"subject":{string(subject)}')
    if error is not None:
        parts.append(f'"error":{value(error)}')
    return "{" + ",".join(parts) + "}"
