"""The grid of a sweep: axes (a path and its values), variants (one value per axis), replication seeds.

A variant is the base scenario with one override per axis; each variant runs ``replications`` times with
seeds that depend only on the variant's scenario seed and the replication index (never on the worker or
the order runs finish in), so every executor gives the same runs. Replication 0 uses the scenario's own
seed, so ``dsim run SCENARIO --set PATH=VALUE ...`` reproduces it exactly; replication ``r > 0`` uses
the first 63 bits of ``sha256("<seed>\\0replication/<r>")`` (as dsim.rng derives component streams).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dsim.errors import UsageError
from dsim.scenarios.overrides import Override, canonical, parse_value, split_path

#: The most runs (variants x replications) one sweep may have. The grid is counted arithmetically before
#: anything is built; a million runs of even a one-second scenario is some 12 core-days, and the
#: coordinator keeps every run's summary in memory (a few KB each) to aggregate the grid.
MAX_RUNS = 1_000_000


@dataclass(frozen=True)
class Where:
    """Where a number of the grid was given: a sweep file's position or a command-line option."""

    file: str
    line: int | None = None
    column: int | None = None


@dataclass(frozen=True)
class Axis:
    """One varied path and its values, in the order given."""

    path: str
    values: tuple[Override, ...]
    where: Where | None = None

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(label(value.value) for value in self.values)


@dataclass(frozen=True)
class Variant:
    """One point of the grid: its index in grid order and the override of each axis."""

    index: int
    overrides: tuple[Override, ...]

    @property
    def key(self) -> str:
        """Canonical JSON of {path: value}: how the store names the variant, whatever the axis order."""
        return canonical(self.overrides)

    def value_of(self, path: str) -> Any:
        return next(o.value for o in self.overrides if o.path == path)

    @property
    def label(self) -> str:
        return ", ".join(f"{o.path}={label(o.value)}" for o in self.overrides) or "base scenario"


def label(value: Any) -> str:
    """A value as a person would write it on the command line."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(", ", ": "))


def split_values(text: str) -> list[str]:
    """``1Gbps,10Gbps`` -> two values; commas inside brackets, braces, parentheses or quotes do not split,
    so ``uniform(1s, 5s),3s`` is two values and ``[1s, 2s]`` one."""
    values: list[str] = []
    depth = 0
    quote = ""
    start = 0
    for i, char in enumerate(text):
        if quote:
            if char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            values.append(text[start:i])
            start = i + 1
    values.append(text[start:])
    return [value.strip() for value in values]


def parse_vary(text: str) -> Axis:
    """``--vary PATH=V1,V2,...`` -> an Axis; errors name the option."""
    origin = f"--vary {text}"
    path, sep, rest = text.partition("=")
    path = path.strip()
    if not sep or not path or not rest.strip():
        raise UsageError("expected PATH=V1,V2,..., e.g. --vary hosts.runner.count=20,40", file=origin)
    split_path(path, origin=origin)
    values = []
    for value in split_values(rest):
        if not value:
            raise UsageError("empty value in the list (two commas in a row?)", file=origin, field=path)
        values.append(Override(path, parse_value(value, origin=origin, path=path), f"--vary {path}={value}"))
    return make_axis(path, values, origin=origin, where=Where(f"--vary {path}"))


def make_axis(path: str, values: Sequence[Override], *, origin: str, where: Where | None = None) -> Axis:
    counts = Counter(value.value_key for value in values)  # a Counter: linear even for a huge value list
    duplicates = sorted(key for key, count in counts.items() if count > 1)
    if duplicates:
        raise UsageError(f"value {duplicates[0]} is listed twice", file=origin, field=path)
    return Axis(path, tuple(values), where)


def check_size(axes: Sequence[Axis], replications: int, replications_where: Where | None = None) -> int:
    """The number of runs (replications x the product of the axes' lengths), counted without building
    anything; above MAX_RUNS a UsageError names the replications or the axis at which the count passes it."""
    total = replications
    if total > MAX_RUNS:
        where = replications_where or Where("--replications")
        raise UsageError(f"{replications} replications is more than the {MAX_RUNS} runs a sweep may have "
                         "(docs/sweeps.md)", file=where.file, line=where.line, column=where.column,
                         field="replications" if where.line is not None else None)
    for axis in axes:
        total *= len(axis.values)
        if total > MAX_RUNS:
            where = axis.where or Where(f"--vary {axis.path}")
            sizes = " x ".join(str(len(a.values)) for a in axes)
            runs = replications * math.prod(len(a.values) for a in axes)
            raise UsageError(f"the grid is {sizes} variants x {replications} replications = {runs} runs, more "
                             f"than the {MAX_RUNS} a sweep may have (docs/sweeps.md)", file=where.file,
                             line=where.line, column=where.column,
                             field=f"grid.{axis.path}" if where.line is not None else None)
    return total


def variants(axes: Sequence[Axis]) -> list[Variant]:
    """The full grid in order: the last axis varies fastest (like nested loops over the axes as given)."""
    paths = [axis.path for axis in axes]
    for path in paths:
        if paths.count(path) > 1:
            raise UsageError(f"{path} is varied twice; give all its values in one --vary", field=path)
    return [Variant(i, tuple(combo)) for i, combo in enumerate(itertools.product(*(a.values for a in axes)))]


def replication_seed(scenario_seed: int, replication: int) -> int:
    """The seed of replication ``replication`` of a scenario whose seed is ``scenario_seed``."""
    if replication == 0:
        return scenario_seed
    digest = hashlib.sha256(f"{scenario_seed}\x00replication/{replication}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & (2**63 - 1)
