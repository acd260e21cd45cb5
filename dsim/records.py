"""Spans and job outcomes, emitted by components through this narrow interface and nothing else.

Components call ``span()`` when an activity ends and ``job_end()`` when a job ends; every figure in the
outputs (phases, bytes, hit ratios, utilisation) is derived from these records by ``dsim.result``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple


class Span(NamedTuple):
    """One modelled activity: ``kind`` (download, unpack, api, pull, ...) of ``subject`` on ``host``.

    A named tuple rather than a dataclass: a run records hundreds of thousands, and a tuple is the
    cheapest record to build (``Recorder.span`` builds it with ``tuple.__new__`` directly).
    """

    kind: str
    subject: str
    host: str
    start: float
    end: float
    job: int
    attrs: dict[str, Any]

    @property
    def duration(self) -> float:
        return self.end - self.start


_new_span = tuple.__new__
#: the attributes of every span that has none: one shared dict instead of one per span (read-only by contract)
_NO_ATTRS: dict[str, Any] = {}


class JobEnd(NamedTuple):
    """How one job ended (a named tuple for the same reason as ``Span``)."""

    job: int
    workload: str
    host: str
    arrival: float
    end: float
    status: str  # completed | failed
    error: str


@dataclass
class Recorder:
    """Collects spans and job outcomes; every figure of the outputs is derived from them."""

    spans: list[Span] = field(default_factory=list)
    jobs: list[JobEnd] = field(default_factory=list)

    def span(self, kind: str, subject: str, start: float, end: float, *, host: str = "", job: int = -1,
             **attrs: Any) -> None:
        self.spans.append(_new_span(Span, (kind, subject, host, start, end, job, attrs or _NO_ATTRS)))

    def job_end(self, record: JobEnd) -> None:
        self.jobs.append(record)
