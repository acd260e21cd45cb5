"""The scenario format's unit types: sizes, rates, durations and distributions as pydantic reads them
(parsed by dsim.units and dsim.distributions, written back as text, ``inf`` for infinity)."""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

from dsim.distributions import Distribution, parse_distribution
from dsim.units import DURATION_EXAMPLE, RATE_EXAMPLE, SIZE_EXAMPLE, parse_duration, parse_rate, parse_size


def _inf_aware(x: float) -> float | str:
    return "inf" if math.isinf(x) else x


def _schema(kind: str, example: str) -> WithJsonSchema:
    return WithJsonSchema({"anyOf": [{"type": "number", "minimum": 0}, {"type": "string"}],
                           "description": f"a {kind}, {example}, or inf"})


def _positive_rate(value: object) -> float:
    """A rate of 0 would make every transfer take forever (and divide by zero); ``inf`` means no cost."""
    rate = parse_rate(value)
    if rate == 0:
        raise ValueError("a rate must be above 0 (write inf for no limit)")
    return rate


def _finite_duration(value: object) -> float:
    """A duration that must end: ``inf`` would put an event at t=inf (outputs would hold Infinity)."""
    seconds = parse_duration(value)
    if math.isinf(seconds):
        raise ValueError("must be finite here (inf would never end)")
    return seconds


def _finite_size(value: object) -> float:
    """Bytes that are moved or written: ``inf`` would be a transfer that never ends."""
    size = parse_size(value)
    if math.isinf(size):
        raise ValueError("must be finite here (bytes that are moved or written)")
    return size


def _finite_dist(value: object) -> Distribution:
    dist = parse_distribution(value, parse_duration)
    if math.isinf(dist.mean):
        raise ValueError("must be finite here (inf would never end)")
    return dist


def _finite_size_dist(value: object) -> Distribution:
    dist = parse_distribution(value, parse_size)
    if math.isinf(dist.mean):
        raise ValueError("must be finite here (bytes that are moved or written)")
    return dist


Size = Annotated[float, BeforeValidator(parse_size), PlainSerializer(_inf_aware), _schema("size", SIZE_EXAMPLE)]
Rate = Annotated[float, BeforeValidator(_positive_rate), PlainSerializer(_inf_aware), _schema("rate", RATE_EXAMPLE)]
Duration = Annotated[
    float, BeforeValidator(parse_duration), PlainSerializer(_inf_aware), _schema("duration", DURATION_EXAMPLE)
]
FiniteSize = Annotated[
    float, BeforeValidator(_finite_size), PlainSerializer(_inf_aware), WithJsonSchema(
        {"anyOf": [{"type": "number", "minimum": 0}, {"type": "string"}],
         "description": f"a size, {SIZE_EXAMPLE} (finite)"})
]
FiniteDuration = Annotated[
    float, BeforeValidator(_finite_duration), PlainSerializer(_inf_aware), WithJsonSchema(
        {"anyOf": [{"type": "number", "minimum": 0}, {"type": "string"}],
         "description": f"a duration, {DURATION_EXAMPLE} (finite)"})
]


def _dist_schema(kind: str) -> dict[str, Any]:
    return {"anyOf": [{"type": "number", "minimum": 0}, {"type": "string"}],
            "description": f"a {kind} or a distribution: uniform(a, b), exponential(mean=m), "
                           "normal(mean=m, sd=s), lognormal(mean=m, sigma=s), empirical([a, b, ...])"}


DurationDist = Annotated[
    Distribution,
    BeforeValidator(lambda v: parse_distribution(v, parse_duration)),
    PlainSerializer(str),
    WithJsonSchema(_dist_schema("duration")),
]
FiniteDurationDist = Annotated[
    Distribution,
    BeforeValidator(_finite_dist),
    PlainSerializer(str),
    WithJsonSchema(_dist_schema("duration (finite)")),
]
FiniteSizeDist = Annotated[
    Distribution,
    BeforeValidator(_finite_size_dist),
    PlainSerializer(str),
    WithJsonSchema(_dist_schema("size (finite)")),
]
SizeDist = Annotated[
    Distribution,
    BeforeValidator(lambda v: parse_distribution(v, parse_size)),
    PlainSerializer(str),
    WithJsonSchema(_dist_schema("size")),
]
