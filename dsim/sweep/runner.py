"""Run a sweep: validate every variant, skip stored runs, execute the rest, store each as it finishes,
then aggregate every variant's replications into means and 95% confidence intervals."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from dsim.errors import UsageError
from dsim.scenarios.loader import validate_data
from dsim.scenarios.overrides import apply_overrides
from dsim.scenarios.yamlpos import Positions
from dsim.sweep.executors import Executor
from dsim.sweep.goal import Origin, Verdict, goal_metrics, judge, variant_cost
from dsim.sweep.grid import Variant, replication_seed, variants
from dsim.sweep.spec import SweepSpec
from dsim.sweep.stats import Estimate, estimate
from dsim.sweep.store import FILENAME, Store
from dsim.sweep.worker import RunOutcome, RunTask
from dsim.version import __version__

#: Phases whose p50 and p95 are default metrics (those with samples in at least one run).
DEFAULT_PHASES = ("queue", "pull", "build", "push", "create", "start", "run", "job")

#: Called after each stored run with (runs stored for this sweep, runs in the sweep).
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class VariantResult:
    variant: Variant
    seeds: tuple[int, ...]
    estimates: dict[str, Estimate]
    values: dict[str, tuple[float, ...]]


@dataclass(frozen=True)
class SweepResult:
    spec: SweepSpec
    scenario_name: str
    scenario_hash: str
    metrics: tuple[str, ...]
    variants: tuple[VariantResult, ...]
    executed: int
    reused: int
    store: Path
    #: each variant's cost and goal verdicts, in grid order (empty without goals)
    verdicts: tuple[Verdict, ...] = ()


def scenario_hash(data: Any) -> str:
    """sha256 of the scenario's data as canonical JSON: comments and layout do not count, values do."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def metric_value(summary: dict[str, Any], metric: str) -> float:
    """The number at a dot path of summary.json (``phases.pull.p95_s``); KeyError if there is none."""
    node: Any = summary
    for part in metric.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(metric)
        node = node[part]
    if isinstance(node, bool) or not isinstance(node, int | float):
        raise KeyError(metric)
    return float(node)


def numeric_paths(summary: dict[str, Any], prefix: str = "") -> list[str]:
    out = []
    for key, value in summary.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.extend(numeric_paths(value, path + "."))
        elif isinstance(value, int | float) and not isinstance(value, bool) and key != "wall_s":
            out.append(path)
    return out


def default_metrics(summaries: Sequence[dict[str, Any]]) -> tuple[str, ...]:
    """makespan_s, then p50 and p95 of every phase that has samples in some run."""
    metrics = ["makespan_s"]
    for phase in DEFAULT_PHASES:
        if any(summary.get("phases", {}).get(phase, {}).get("count", 0) > 0 for summary in summaries):
            metrics += [f"phases.{phase}.p50_s", f"phases.{phase}.p95_s"]
    return tuple(metrics)


def check_metrics(metrics: Sequence[str], summary: dict[str, Any],
                  origins: Mapping[str, Origin] | None = None) -> None:
    """Each metric must be a number of summary.json; an error names where the metric was given (``origins``:
    a sweep file's ``metrics`` or ``goal`` entry; default ``--metric``)."""
    import difflib

    known = numeric_paths(summary)
    for metric in metrics:
        origin = (origins or {}).get(metric, Origin("--metric"))
        if metric == "wall_s":
            raise origin.error("wall_s is not a result of the model (it depends on the machine)")
        try:
            metric_value(summary, metric)
        except KeyError:
            close = difflib.get_close_matches(metric, known, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else f" (e.g. {', '.join(known[:4])})"
            raise origin.error(f"'{metric}' is not a number in summary.json{hint}") from None


def run_sweep(
    spec: SweepSpec,
    data: Any,
    positions: Positions,
    out: Path,
    executor: Executor,
    *,
    resume: bool = False,
    progress: Progress | None = None,
    on_start: Callable[[int, int], None] | None = None,
) -> SweepResult:
    """Run what is missing of ``spec`` into ``out/sweep.sqlite`` and aggregate the grid's runs.

    ``data``/``positions`` are the scenario file's YAML (dsim.scenarios.yamlpos). Without ``resume`` a
    store that already holds runs is refused rather than mixed with or overwritten.
    """
    filename = str(spec.scenario)
    if spec.replications < 1:
        raise UsageError(f"--replications must be at least 1, got {spec.replications}")
    fixed_paths = {o.path for o in spec.fixed}
    for axis in spec.axes:
        if axis.path in fixed_paths:
            raise UsageError(f"{axis.path} is both fixed (--set) and varied (--vary)", field=axis.path)
    spec.runs()  # the grid's size, counted before anything is built
    base, base_positions = apply_overrides(data, positions, spec.fixed) if spec.fixed else (data, positions)
    digest = scenario_hash(base)
    grid = variants(spec.axes)
    seeds: dict[int, int] = {}
    name = ""
    for variant in grid:  # every variant is checked before anything runs: a bad value fails in seconds
        resolved = validate_data(base, base_positions, filename, overrides=spec.fixed + variant.overrides)
        seeds[variant.index] = resolved.seed
        name = name or resolved.name
    if not grid:
        raise UsageError("the grid is empty")
    if spec.prices and not spec.goals:
        raise UsageError("prices rank the variants that meet a goal: give --goal too", field="--cost")
    for variant in grid if spec.goals else ():  # a price of an unset field fails before any run
        variant_cost(variant.overrides, spec.fixed, base, spec.prices)

    with Store(out / FILENAME, scenario_name=name, scenario_hash=digest, dsim_version=__version__) as store:
        stored = store.done()
        wanted = {(v.key, r) for v in grid for r in range(spec.replications)}
        if stored and not resume:
            raise UsageError(f"{len(stored)} runs of this scenario are stored already: pass --resume to go on "
                             "with them, or choose another --out", file=str(store.path))
        tasks = [
            RunTask(base, digest, filename, variant.overrides, variant.key, r,
                    replication_seed(seeds[variant.index], r))
            for variant in grid for r in range(spec.replications) if (variant.key, r) not in stored
        ]
        reused = len(wanted & stored)
        total = len(wanted)
        if on_start is not None:
            on_start(reused, total)
        count = reused
        asked = goal_metrics(spec.goals, spec.metrics)
        checked = not asked
        outcomes = executor.run(tasks)
        try:
            for outcome in outcomes:
                store.add(outcome.variant, outcome.replication, outcome.seed, outcome.summary)
                if not checked:  # a misspelt metric fails after the first run, not after the whole sweep
                    check_metrics(asked, outcome.summary, spec.origins())
                    checked = True
                count += 1
                if progress is not None:
                    progress(count, total)
        finally:
            close = getattr(outcomes, "close", None)
            if close is not None:
                close()
        runs: dict[tuple[str, int], RunOutcome] = {
            (run.variant, run.replication): RunOutcome(run.variant, run.replication, run.seed, run.summary)
            for run in store.runs() if (run.variant, run.replication) in wanted
        }
    summaries = [run.summary for run in runs.values()]
    metrics = goal_metrics(spec.goals, spec.metrics or default_metrics(summaries))
    if asked and summaries:
        check_metrics(asked, summaries[0], spec.origins())
    results = []
    for variant in grid:
        mine = [runs[(variant.key, r)] for r in range(spec.replications)]
        values = {m: tuple(metric_value(run.summary, m) for run in mine) for m in metrics}
        results.append(VariantResult(variant, tuple(run.seed for run in mine),
                                     {m: estimate(vs) for m, vs in values.items()}, values))
    result = SweepResult(spec, name, digest, tuple(metrics), tuple(results), executed=len(tasks), reused=reused,
                         store=out / FILENAME)
    if spec.goals:
        result = replace(result, verdicts=tuple(judge(result, spec.goals, spec.prices, base)))
    return result
