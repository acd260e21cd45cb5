"""Goals and costs: which variants of a sweep meet a target, and the cheapest one that does.

A goal is ``METRIC OP TARGET`` over a summary.json number (``phases.job.p95_s <= 600``). A variant
*meets* it when its whole 95% confidence interval lies on the right side of the target (the upper bound
for ``<``/``<=``, the lower bound for ``>``/``>=``): the capacity planner's question is "which
configuration meets the target with confidence", not "whose average happens to". With one replication
there is no interval and the mean decides. A variant whose mean meets the goal but whose interval
straddles the target is reported as ``uncertain`` (more replications would settle it).

Cost is linear in the scenario's fields: ``--cost PATH=PRICE`` prices one unit of the value at PATH in
each variant (a host count: per host; a bandwidth: per Gbps; a size: per GiB; a duration: per hour).
Without any price, a variant's cost is its number of hosts (the sum of every host group's ``count``), so
"cheapest" means "fewest hosts". Ties go to the first variant in grid order.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dsim.errors import UsageError
from dsim.scenarios.overrides import Override, split_path
from dsim.sweep.stats import Estimate
from dsim.units import parse_duration, parse_rate, parse_size

if TYPE_CHECKING:  # runner imports spec, which imports this module
    from dsim.sweep.runner import SweepResult, VariantResult

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt}
_GOAL = re.compile(r"^\s*([A-Za-z0-9_.\[\]-]+)\s*(<=|>=|<(?!=)|>(?!=))\s*(\S+)\s*$")  # no target: '<' '=' it is not


@dataclass(frozen=True)
class Origin:
    """Where a goal or price was given: the option, or a sweep file's position and key."""

    field: str
    file: str | None = None
    line: int | None = None
    column: int | None = None

    def error(self, message: str, path: str = "") -> UsageError:
        """A UsageError naming this origin (and the priced ``path``: ``--cost P`` or ``cost.P``)."""
        field = self.field if not path else f"{self.field}{'.' if self.file else ' '}{path}"
        return UsageError(message, file=self.file, line=self.line, column=self.column, field=field)


@dataclass(frozen=True)
class Goal:
    """``metric op target``, e.g. phases.job.p95_s <= 600."""

    metric: str
    op: str
    target: float
    origin: Origin = field(default=Origin("--goal"), compare=False, repr=False)  # where it was given

    @property
    def text(self) -> str:
        return f"{self.metric} {self.op} {self.target:g}"

    @property
    def upper(self) -> bool:
        """True for a ceiling (``<``, ``<=``): the interval's upper bound must meet it."""
        return self.op.startswith("<")

    def verdict(self, est: Estimate) -> str:
        """``met`` (the whole interval meets the target), ``uncertain`` (the mean does, the interval
        straddles it) or ``missed`` (the mean does not)."""
        check = _OPS[self.op]
        if not check(est.mean, self.target):
            return "missed"
        bound = est.mean if est.half_width is None else (est.high if self.upper else est.low)
        assert bound is not None
        return "met" if check(bound, self.target) else "uncertain"


def parse_goal(text: str, *, origin: Origin = Origin("--goal")) -> Goal:
    """``phases.job.p95_s <= 600`` -> a Goal; a target may carry a unit of the metric (``10m`` for a
    duration in seconds, ``2GB`` for bytes)."""
    match = _GOAL.match(text)
    if not match:
        raise origin.error(f"expected METRIC OP TARGET with OP one of <=, <, >=, >, "
                           f"e.g. 'phases.job.p95_s <= 600', got {text!r}")
    metric, op, raw = match.groups()
    return Goal(metric, op, _target(raw, metric, origin), origin)


def _target(raw: str, metric: str, origin: Origin) -> float:
    try:
        value = float(raw)
    except ValueError:
        parse = parse_size if "bytes" in metric.rsplit(".", 1)[-1] else parse_duration
        try:
            value = parse(raw)
        except ValueError as err:
            raise origin.error(f"target {raw!r}: {err}") from None
    if not math.isfinite(value):
        raise origin.error(f"target must be a finite number, got {raw!r}")
    return value


@dataclass(frozen=True)
class Price:
    """PRICE per unit of the value at ``path``."""

    path: str
    price: float
    origin: Origin = field(default=Origin("--cost"), compare=False, repr=False)  # where it was given


def parse_price(text: str, *, origin: Origin = Origin("--cost")) -> Price:
    """``hosts.runner.count=0.5`` -> Price; the path is checked as an override's path is."""
    path, sep, raw = text.partition("=")
    path = path.strip()
    if not sep or not path:
        raise origin.error(f"expected PATH=PRICE, e.g. hosts.runner.count=0.5, got {text!r}")
    split_path(path, origin=f"{origin.field} {text}")
    try:
        price = float(raw)
    except ValueError:
        raise origin.error(f"price {raw.strip()!r} is not a number", path) from None
    if not math.isfinite(price) or price < 0:
        raise origin.error(f"price must be a finite number >= 0, got {raw.strip()!r}", path)
    return Price(path, price, origin)


def quantity(value: Any, path: str, origin: Origin = Origin("--cost")) -> float:
    """The number a price multiplies: a plain number as is; a bandwidth in Gbps, a size in GiB, a
    duration in hours (what cloud providers price). Errors name ``origin``, where the price was given."""
    if isinstance(value, bool) or value is None:
        raise origin.error(f"has no numeric value ({value!r}) to price", path)
    if isinstance(value, int | float):
        return float(value)
    for parse, unit in ((parse_rate, 1e9 / 8), (parse_size, 2.0**30), (parse_duration, 3600.0)):
        try:
            return parse(value) / unit
        except ValueError:
            continue
    raise origin.error(f"value {value!r} is not a number, rate, size or duration", path)


def lookup(data: Any, path: str) -> Any:
    """The value at a dot path of the scenario's data, or KeyError."""
    node = data
    for part in split_path(path, origin=path):
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if not (in_dict or in_list):
            raise KeyError(path)
        node = node[part]
    return node


@dataclass(frozen=True)
class Verdict:
    """One variant judged: its cost and each goal's verdict."""

    result: VariantResult
    cost: float
    verdicts: tuple[str, ...]

    @property
    def met(self) -> bool:
        return all(v == "met" for v in self.verdicts)

    @property
    def summary(self) -> str:
        """``met``, ``uncertain`` (no goal missed, one not settled) or ``missed``."""
        if "missed" in self.verdicts:
            return "missed"
        return "uncertain" if "uncertain" in self.verdicts else "met"


def variant_cost(variant_overrides: Sequence[Override], fixed: Sequence[Override], data: Any,
                 prices: Sequence[Price]) -> float:
    """The variant's cost: each price times the variant's value at its path (varied, else fixed by
    ``--set``, else the scenario's own); without prices, its number of hosts."""
    values: dict[str, Any] = {o.path: o.value for o in fixed}
    values.update({o.path: o.value for o in variant_overrides})

    def value_at(path: str, default: Any = KeyError, origin: Origin = Origin("--cost")) -> Any:
        if path in values:
            return values[path]
        try:
            return lookup(data, path)
        except KeyError:
            if default is KeyError:
                raise origin.error("is not set in the scenario, its --set or the grid: give it a value to price",
                                   path) from None
            return default

    if prices:
        return math.fsum(price.price * quantity(value_at(price.path, origin=price.origin), price.path, price.origin)
                         for price in prices)
    hosts = data.get("hosts", {}) if isinstance(data, dict) else {}
    return math.fsum(quantity(value_at(f"hosts.{group}.count", 1), f"hosts.{group}.count") for group in hosts)


def judge(result: SweepResult, goals: Sequence[Goal], prices: Sequence[Price], data: Any) -> list[Verdict]:
    """Every variant with its cost and verdicts, in grid order."""
    return [Verdict(row, variant_cost(row.variant.overrides, result.spec.fixed, data, prices),
                    tuple(goal.verdict(row.estimates[goal.metric]) for goal in goals))
            for row in result.variants]


def cheapest(verdicts: Sequence[Verdict]) -> Verdict | None:
    """The cheapest variant meeting every goal with confidence; the first in grid order among equals."""
    passing = [v for v in verdicts if v.met]
    return min(passing, key=lambda v: v.cost) if passing else None


def cost_basis(prices: Sequence[Price]) -> str:
    """How costs were computed, for the reports."""
    if not prices:
        return "cost = number of hosts (no --cost given)"
    return "cost = " + " + ".join(f"{p.price:g} x {p.path}" for p in prices)


def goal_metrics(goals: Sequence[Goal], metrics: Sequence[str]) -> tuple[str, ...]:
    """The metrics to report: those asked for plus each goal's (goals' first, so tables show them)."""
    ordered = [g.metric for g in goals]
    return tuple(dict.fromkeys([*ordered, *metrics]))


def verdict_map(verdicts: Sequence[Verdict]) -> Mapping[int, Verdict]:
    return {v.result.variant.index: v for v in verdicts}
