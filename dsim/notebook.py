"""The Python API for notebooks and scripts: simulate a scenario, sweep it, get its charts as Figures.

Everything goes through the same paths as the command line (``dsim.run.run``, ``dsim.sweep.runner``,
the chart functions of ``dsim.reports.charts``), so a notebook's numbers are ``dsim run``'s numbers.
docs/python-api.md shows a session; tests/test_notebook.py runs that page's code.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dsim.scenarios.overrides import Override

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from dsim.result import SimResult
    from dsim.scenarios.resolve import Resolved
    from dsim.sweep.runner import SweepResult

Overrides = Mapping[str, Any] | Sequence[str]


def _overrides(values: Overrides, origin: str = "set") -> tuple[str | Override, ...]:
    """``{"hosts.runner.count": 40}`` or ``["hosts.runner.count=40"]`` -> overrides, checked as --set's."""
    if isinstance(values, Mapping):
        return tuple(Override(path, value, f"{origin} {path}={value}") for path, value in values.items())
    return tuple(values)


def load(scenario: str | Path, *, set: Overrides = ()) -> Resolved:  # noqa: A002 - as --set
    """A scenario file loaded, overridden and checked (a ScenarioError names what is wrong)."""
    from dsim.scenarios.loader import load_scenario

    return load_scenario(scenario, overrides=_overrides(set))


def simulate(scenario: str | Path | Resolved, *, seed: int | None = None, set: Overrides = (),  # noqa: A002
             out: Path | str | None = None, charts: bool = True, trace: bool = True) -> SimResult:
    """Run a scenario (a file, or one already loaded) and return its SimResult: ``.summary()`` (what
    summary.json holds), ``.jobs`` (one JobRecord per job), ``.spans``, ``.makespan_s``,
    ``.phase_samples(phase)``. With ``out``, every output file is written there as by ``dsim run``."""
    from dsim.run import run

    resolved = load(scenario, set=set) if isinstance(scenario, str | Path) else scenario
    if set and not isinstance(scenario, str | Path):
        raise ValueError("set= applies to a scenario file; load it with dsim.load(path, set=...) instead")
    return run(resolved, seed=seed, out=None if out is None else Path(out), charts=charts, trace=trace)


def charts(result: SimResult, scenario: Resolved | None = None) -> dict[str, Figure]:
    """Every chart of a run as matplotlib Figures, by name (``timeline``, ``latency_cdf``, ...; with the
    scenario, ``topology`` too): the drawing code of report.html's charts, kept open for a notebook. The
    PNG files are drawn into a temporary folder that is removed."""
    from dsim.reports.charts import write_charts
    from dsim.reports.context import ScenarioInfo
    from dsim.reports.style import keeping_figures

    info = ScenarioInfo.from_resolved(scenario) if scenario is not None else None
    with tempfile.TemporaryDirectory() as folder, keeping_figures() as figures:
        made = write_charts(result, Path(folder), info)
    return {chart.name: fig for chart, fig in zip(made, figures, strict=True)}


def sweep_grid(scenario: str | Path, *, vary: Mapping[str, Sequence[Any]], set: Overrides = (),  # noqa: A002
          replications: int = 5, metrics: Sequence[str] = (), goals: Sequence[str] = (),
          costs: Mapping[str, float] | None = None, out: Path | str | None = None,
          workers: int = 1) -> SweepResult:
    """Run a grid of variants x replications as ``dsim sweep`` does and return its SweepResult:
    ``.variants`` (each with ``.variant.label``, ``.estimates[metric]`` (mean, low, high) and ``.values``),
    ``.metrics``, and with ``goals`` ``.verdicts`` (cost, met / uncertain / missed per variant).
    ``dsim.sweep.goal.cheapest(result.verdicts)`` is the cheapest variant meeting every goal. With ``out``,
    sweep.csv, runs.csv, charts and sweep.html are written there (and the runs stored for a later
    ``dsim sweep --resume``); without, the store lives in a temporary folder."""
    from dsim.scenarios.overrides import parse_overrides
    from dsim.sweep.executors import make_executor
    from dsim.sweep.goal import parse_goal, parse_price
    from dsim.sweep.grid import make_axis
    from dsim.sweep.report import write_outputs
    from dsim.sweep.runner import run_sweep
    from dsim.sweep.spec import load_spec

    spec, data, positions = load_spec(Path(scenario))
    axes = tuple(make_axis(path, [Override(path, value, f"vary {path}") for value in values], origin=f"vary {path}")
                 for path, values in vary.items())
    spec = spec.with_cli(axes=axes, fixed=parse_overrides(_overrides(set)), replications=replications,
                         metrics=tuple(metrics), goals=tuple(parse_goal(g) for g in goals),
                         prices=tuple(parse_price(f"{path}={price}") for path, price in (costs or {}).items()))
    executor = make_executor(workers=workers, dask=None, runs=spec.runs())
    start = getattr(executor, "start", None)
    if start is not None:
        start()
    try:
        if out is None:
            with tempfile.TemporaryDirectory() as folder:
                return run_sweep(spec, data, positions, Path(folder), executor)
        result = run_sweep(spec, data, positions, Path(out), executor)
        write_outputs(result, Path(out))
        return result
    finally:
        executor.close()
