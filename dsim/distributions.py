"""Duration distributions written as strings in scenarios, sampled from a caller's ``random.Random``.

``3s``, ``uniform(1s, 5s)``, ``exponential(mean=50ms)``, ``normal(mean=2s, sd=0.3s)`` (truncated at 0),
``lognormal(mean=4m, sigma=0.5)`` (``mean`` is the distribution's mean, ``sigma`` the log-space sd),
``empirical([1s, 2s, 2s, 9s])`` (each value equally likely). Values use duration units, or size units
when the distribution describes sizes (``parse_distribution(text, unit=parse_size)``).
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from dsim.units import parse_duration

Parser = Callable[[object], float]

_CALL = re.compile(r"^\s*([a-z_]+)\s*\((.*)\)\s*$", re.S)
KNOWN = ("const", "uniform", "exponential", "normal", "lognormal", "empirical")


@dataclass(frozen=True)
class Distribution:
    """A distribution of non-negative values; ``text`` is what the user wrote (kept for outputs)."""

    kind: str
    params: tuple[float, ...]
    text: str
    #: the distribution's mean, worked out once (the start path reads several per container)
    mean: float = field(init=False, repr=False, compare=False)
    is_constant: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean", _mean(self.kind, self.params))
        object.__setattr__(self, "is_constant", self.kind == "const")

    def sample(self, rng: random.Random) -> float:
        p = self.params
        if self.kind == "const":
            return p[0]
        if self.kind == "uniform":
            return rng.uniform(p[0], p[1])
        if self.kind == "exponential":
            return rng.expovariate(1.0 / p[0]) if p[0] > 0 else 0.0
        if self.kind == "normal":
            return max(0.0, rng.gauss(p[0], p[1]))
        if self.kind == "lognormal":
            mean, sigma = p
            if mean <= 0:
                return 0.0
            mu = math.log(mean) - sigma * sigma / 2  # so that E[X] = mean
            return rng.lognormvariate(mu, sigma)
        return p[rng.randrange(len(p))]

    def __str__(self) -> str:
        return self.text


def _mean(kind: str, p: tuple[float, ...]) -> float:
    if kind == "const":
        return p[0]
    if kind == "uniform":
        return (p[0] + p[1]) / 2
    if kind in ("exponential", "lognormal"):
        return p[0]
    if kind == "normal":
        return p[0]  # before truncation; truncation matters only when sd is large against mean
    return sum(p) / len(p)


def constant(value: float) -> Distribution:
    return Distribution("const", (value,), str(value))


def _split_args(body: str) -> tuple[list[str], dict[str, str]]:
    positional: list[str] = []
    named: dict[str, str] = {}
    for raw in (part.strip() for part in body.split(",")):
        if not raw:
            raise ValueError("empty argument")
        if "=" in raw:
            key, _, val = raw.partition("=")
            named[key.strip()] = val.strip()
        else:
            positional.append(raw)
    return positional, named


def _take(name: str, positional: list[str], named: dict[str, str], index: int, unit: Parser) -> float:
    if name in named:
        return unit(named.pop(name))
    if index < len(positional):
        return unit(positional[index])
    raise ValueError(f"missing argument {name!r}")


def parse_distribution(value: object, unit: Parser = parse_duration) -> Distribution:
    """Parse ``value`` into a Distribution; plain quantities (``3s``, ``2``) are constants."""
    if isinstance(value, Distribution):
        return value
    text = str(value).strip() if not isinstance(value, bool) else ""
    call = _CALL.match(text) if isinstance(value, str) else None
    if call is None:
        if isinstance(value, str) and "(" in value:
            raise ValueError(f"invalid distribution {value!r} (known: {', '.join(KNOWN)})")
        return Distribution("const", (unit(value),), text)
    kind, body = call.group(1), call.group(2).strip()
    if kind not in KNOWN:
        raise ValueError(f"unknown distribution {kind!r} (known: {', '.join(KNOWN)})")
    if kind == "empirical":
        inner = body.strip()
        if not (inner.startswith("[") and inner.endswith("]")):
            raise ValueError(f"invalid distribution {text!r}: empirical takes a list, e.g. empirical([1s, 2s])")
        values = tuple(unit(v.strip()) for v in inner[1:-1].split(",") if v.strip())
        if not values:
            raise ValueError(f"invalid distribution {text!r}: empirical needs at least one value")
        if not all(math.isfinite(v) for v in values):
            raise ValueError(f"invalid distribution {text!r}: its values must be finite")
        return Distribution(kind, values, text)
    positional, named = _split_args(body)
    names = {"const": ("value",), "uniform": ("low", "high"), "exponential": ("mean",),
             "normal": ("mean", "sd"), "lognormal": ("mean", "sigma")}[kind]
    units: dict[str, Parser] = {"sigma": _plain_number}
    params = tuple(_take(n, positional, named, i, units.get(n, unit)) for i, n in enumerate(names))
    extra = set(named) - set(names)
    if extra or len(positional) > len(names):
        raise ValueError(f"invalid distribution {text!r}: {kind} takes {', '.join(names)}")
    if not all(math.isfinite(p) for p in params):
        raise ValueError(f"invalid distribution {text!r}: its parameters must be finite")
    if kind == "uniform" and params[0] > params[1]:
        raise ValueError(f"invalid distribution {text!r}: low must not exceed high")
    return Distribution(kind, params, text)


def _plain_number(value: object) -> float:
    number = float(str(value))
    if number < 0 or not math.isfinite(number):
        raise ValueError(f"invalid number {value!r}: must be finite and not negative")
    return number
