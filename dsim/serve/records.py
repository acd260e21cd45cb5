"""What ``dsim serve`` records when no ``--out`` asks for the session's files.

A run keeps every span and job record, since its outputs are derived from them. A server without ``--out``
writes no file: after an operation its records only serve the progress streams still reading them (a push's
layers, a build's steps) and the final line's count of failed operations. Kept anyway, they grew by about 1.6 KB
for every ``docker run --rm`` (docs/performance.md, "Session 43"), without bound in a long session. This recorder
keeps the spans no live reader has read yet, and counts the operations that failed instead of keeping them.
"""

from __future__ import annotations

import weakref
from typing import Any, Protocol

from dsim.records import _NO_ATTRS, JobEnd, Recorder, Span, SpanKind
from dsim.span_values import DERIVABLE, derived_attrs

#: spans held before the window drops what every live reader has read (the drop is one list deletion)
TRIM_AT = 4096


class Reader(Protocol):
    """A progress stream reading the spans recorded after it began: ``span_index`` is the next it reads."""

    span_index: int


class WindowRecorder(Recorder):
    """A ``Recorder`` whose spans live only until every live reader has read them and whose job records are
    counted, not kept (``failed``). ``spans`` and ``jobs`` stay empty: nothing derives outputs from them."""

    keeps = False

    def __init__(self) -> None:
        super().__init__()
        self._window: list[Span] = []
        self._first = 0  # the position of _window[0] among every span recorded
        #: the live readers by id (a reader need not hash): one gone (its request over) holds nothing
        self._readers: dict[int, weakref.ref[Any]] = {}
        self.failed = 0

    def span(self, kind: SpanKind, subject: str, start: float, end: float, /, *, host: str = "", job: int = -1,
             **attrs: Any) -> None:
        """Hold the span for the readers, as the span store would give it back (derived attributes worked out)."""
        if attrs and not DERIVABLE.isdisjoint(attrs):
            attrs = derived_attrs(attrs, start)
        window = self._window
        window.append(Span(kind, subject, host, start, end, job, attrs or _NO_ATTRS))
        if len(window) >= TRIM_AT:
            self._trim()

    def _trim(self) -> None:
        """Drop the spans every live reader has read (all of them when none reads)."""
        recorded = self._first + len(self._window)
        readers = [ref() for ref in self._readers.values()]
        keep_from = min((reader.span_index for reader in readers if reader is not None), default=recorded)
        del self._window[:keep_from - self._first]
        self._first = keep_from

    def job_end(self, record: JobEnd) -> None:
        if record.status == "failed":
            self.failed += 1

    def follow(self, reader: Reader) -> int:
        key, readers = id(reader), self._readers

        def gone(_: weakref.ref[Any]) -> None:
            readers.pop(key, None)

        readers[key] = weakref.ref(reader, gone)
        return self._first + len(self._window)

    def read(self, position: int) -> list[Span]:
        if position < self._first:
            raise IndexError(f"span {position} was dropped: only spans a live reader has not read are kept")
        return self._window[position - self._first:]

    def failed_jobs(self) -> int:
        return self.failed
