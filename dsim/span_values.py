"""A span's attribute values as the span store keeps and gives them back (dsim/span_store.py): attributes packed
as one tuple ``(keys, *values)``, and derivable values (a pulled layer's progress) kept as what they derive from,
in compact forms the garbage collector stops tracking, and derived only when a span is read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

#: Attribute names whose values may be ``Derived``: only these are looked at when a span is read.
DERIVABLE = frozenset({"progress"})

#: The attributes of a span without any (shared: never changed by readers).
EMPTY: dict[str, Any] = {}


class Derived:
    """A recorded value kept as what it derives from; readers get ``derive()`` (made on each read).

    A type with a ``TAG`` is kept in a block as the exact tuple ``(TAG, *fields())`` (``compact_value``) and
    read by ``derive_fields`` (``from_fields`` then ``derive``, unless the type does it without the object):
    a tuple of strings and numbers is one CPython's collector stops tracking within two passes (a tuple once
    its items are untracked), where an object with slots stays tracked for the run and is visited again by
    every pass of the older generations (10 such objects a burst CI job, 20 with their packed tuples:
    docs/performance.md, "The collector in large runs")."""

    __slots__ = ()
    #: the first item of this type's compact form (not a string any recorded value starts with)
    TAG: ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.TAG is not None:
            _DERIVERS[cls.TAG] = cls.derive_fields

    def derive(self) -> Any:
        raise NotImplementedError

    def fields(self) -> tuple[Any, ...]:
        """What ``from_fields`` rebuilds this from: strings, numbers, None and tuples of them."""
        raise NotImplementedError

    @classmethod
    def from_fields(cls, *fields: Any) -> Derived:
        raise NotImplementedError

    @classmethod
    def derive_fields(cls, *fields: Any) -> Any:
        """``from_fields(*fields).derive()``; a type may do it without making the object (read per span)."""
        return cls.from_fields(*fields).derive()


#: ``Derived.derive_fields`` by tag: what a compact form derives (how it is read back)
_DERIVERS: dict[str, Callable[..., Any]] = {}


class _Lines(Derived):
    """Progress lines ``[[time, word], ...]`` recorded as lists (a layer that already existed, a pushed
    layer), kept as one flat tuple ``(time, word, time, word, ...)`` and read back as the same lists."""

    __slots__ = ("flat",)
    TAG = "\x00dsim lines"

    def __init__(self, flat: tuple[Any, ...]) -> None:
        self.flat = flat

    def derive(self) -> list[list[Any]]:
        flat = self.flat
        return [[flat[i], flat[i + 1]] for i in range(0, len(flat), 2)]

    def fields(self) -> tuple[Any, ...]:
        return self.flat

    @classmethod
    def from_fields(cls, *fields: Any) -> Derived:
        return cls(fields)


class LineAtStart(Derived):
    """The one progress line ``[[start, word]]`` shown when the span began (a layer that already existed):
    one shared object per word, the time taken from the span when read (``unpack``)."""

    __slots__ = ("word",)

    def __init__(self, word: str) -> None:
        self.word = word

    def derive(self) -> Any:
        raise AssertionError("read through SpanStore, which knows the span's start")


_AT_START: dict[str, LineAtStart] = {}


def compact_value(value: Any, start: float) -> Any:
    """A derivable attribute's value kept compact: lists of [time, word] pairs become ``_Lines``, and the
    single line shown at the span's start a shared ``LineAtStart``; a ``Derived`` with a ``TAG`` (and the
    ``_Lines``) its exact tuple ``(TAG, *fields)``, which the collector stops tracking. A tuple is kept as it
    is: a compact form already (the pull pipeline records a layer's so: ``LayerLines.compact``)."""
    if type(value) is tuple:
        return value
    if isinstance(value, Derived):
        return (value.TAG, *value.fields()) if value.TAG is not None else value
    if type(value) is list and all(type(line) is list and len(line) == 2 for line in value):
        if len(value) == 1 and type(value[0][1]) is str and value[0][0] == round(start, 6) \
                and type(value[0][0]) is float:
            word = value[0][1]
            shared = _AT_START.get(word)
            if shared is None:
                shared = _AT_START[word] = LineAtStart(word)
            return shared
        return (_Lines.TAG, *(item for line in value for item in line))
    return value


def read_value(value: Any, start: float) -> Any:
    """A derivable attribute's value as readers get it: what a ``Derived`` (or its compact form) derives, the
    line a shared ``LineAtStart`` stands for (``start``: the span's), anything else as recorded."""
    if type(value) is tuple and value and type(value[0]) is str:
        derive = _DERIVERS.get(value[0])
        if derive is not None:
            return derive(*value[1:])
    if type(value) is LineAtStart:
        return [[round(start, 6), value.word]]
    return value.derive() if isinstance(value, Derived) else value


def derived_attrs(attrs: dict[str, Any], start: float) -> dict[str, Any]:
    """``attrs`` with each derivable value read (``read_value``): a new dict, ``attrs`` untouched."""
    out = dict(attrs)
    for key in DERIVABLE.intersection(out):
        out[key] = read_value(out[key], start)
    return out


def unpack(packed: Any, start: float) -> dict[str, Any]:
    """A span's attributes from their packed form (``SpanStore.rows``): a new dict, derivable values read
    (``start``: the span's, for the line shown at its start); None is the shared empty dict."""
    if packed is None:
        return EMPTY
    attrs = dict(zip(packed[0], packed[1:], strict=True))
    if DERIVABLE.intersection(packed[0]):
        for key in DERIVABLE.intersection(attrs):
            attrs[key] = read_value(attrs[key], start)
    return attrs


def pack(attrs: dict[str, Any]) -> Any:
    """Attributes in the packed form ``unpack`` reads: ``(keys, *values)``, or None when there are none."""
    return (tuple(attrs), *attrs.values()) if attrs else None


__all__ = ["DERIVABLE", "EMPTY", "Derived", "LineAtStart", "compact_value", "derived_attrs", "pack", "read_value",
           "unpack"]
