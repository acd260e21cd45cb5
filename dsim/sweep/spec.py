"""What a sweep is: a scenario, fixed overrides, a grid of varied paths, replications and metrics.

It comes from the command line (``dsim sweep SCENARIO --vary PATH=V1,V2 ...``) or from a sweep file, a
YAML file that names the scenario (relative to the sweep file), the grid and the metrics, for sweeps
people keep::

    scenario: ../ci-burst.yaml
    replications: 10
    set: {hosts.runner.nic: 10Gbps}          # fixed overrides, applied to every variant
    grid:                                    # path: [values]; the full grid is run
      registries.registry.bandwidth: [1Gbps, 10Gbps, 40Gbps]
      hosts.runner.count: [20, 40]
    metrics: [makespan_s, phases.pull.p95_s]  # summary.json paths; default: makespan and p50/p95 of phases
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dsim.errors import UsageError
from dsim.scenarios.overrides import Override, split_path
from dsim.scenarios.yamlpos import Positions, load_yaml_file, validation_error
from dsim.sweep.goal import Goal, Origin, Price, parse_goal, parse_price
from dsim.sweep.grid import Axis, Where, check_size, make_axis

DEFAULT_REPLICATIONS = 5


@dataclass(frozen=True)
class SweepSpec:
    """A sweep as it runs; ``metrics`` empty means the default set (chosen from the first summary)."""

    scenario: Path
    axes: tuple[Axis, ...] = ()
    fixed: tuple[Override, ...] = ()
    replications: int = DEFAULT_REPLICATIONS
    metrics: tuple[str, ...] = ()
    name: str = ""
    description: str = ""
    replications_where: Where | None = None  # where the replications were given (for the size limit)
    goals: tuple[Goal, ...] = ()
    prices: tuple[Price, ...] = ()
    metric_origins: tuple[Origin, ...] = ()  # where each of ``metrics`` was given (none: ``--metric``)

    def origins(self) -> dict[str, Origin]:
        """Where each metric asked for, a goal's included, was given (for errors that name it)."""
        given = dict(zip(self.metrics, self.metric_origins, strict=False))
        goals = {goal.metric: goal.origin for goal in self.goals}
        return {**{metric: given.get(metric, Origin("--metric")) for metric in self.metrics}, **goals}

    def runs(self) -> int:
        """The number of runs, counted without building the grid; UsageError above grid.MAX_RUNS."""
        return check_size(self.axes, self.replications, self.replications_where)

    def with_cli(self, *, axes: tuple[Axis, ...] = (), fixed: tuple[Override, ...] = (),
                 replications: int | None = None, metrics: tuple[str, ...] = (), goals: tuple[Goal, ...] = (),
                 prices: tuple[Price, ...] = ()) -> SweepSpec:
        """Command-line options on top of a sweep file: a ``--vary`` of a path the file varies replaces it;
        ``--goal`` and ``--cost`` replace the file's goals and costs."""
        varied = {axis.path for axis in axes}
        return replace(
            self,
            axes=tuple(axis for axis in self.axes if axis.path not in varied) + axes,
            fixed=self.fixed + fixed,
            replications=self.replications if replications is None else replications,
            replications_where=self.replications_where if replications is None else Where("--replications"),
            metrics=metrics or self.metrics,
            metric_origins=() if metrics else self.metric_origins,
            goals=goals or self.goals,
            prices=prices or self.prices,
        )


class SweepFile(BaseModel):
    """The sweep file format (strict: unknown keys are errors)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scenario: str = Field(description="the scenario file, relative to this file")
    description: str = ""
    replications: int = Field(DEFAULT_REPLICATIONS, ge=1, description="seeds per variant")
    set: dict[str, Any] = Field(default_factory=dict, description="fixed overrides: path -> value")
    grid: dict[str, list[Any]] = Field(default_factory=dict, description="varied paths -> their values")
    metrics: list[str] = Field(default_factory=list, description="summary.json paths, e.g. phases.pull.p95_s")
    goal: list[str] = Field(default_factory=list,
                            description="targets every variant is judged by, e.g. 'phases.job.p95_s <= 600'")
    cost: dict[str, float] = Field(default_factory=dict,
                                   description="price per unit of a field, e.g. hosts.runner.count: 0.5 "
                                               "(default: cost = number of hosts)")


def is_sweep_file(data: Any) -> bool:
    """A sweep file names its scenario; a scenario file never has a ``scenario`` key."""
    return isinstance(data, dict) and "scenario" in data


def _located(filename: str, positions: Positions, path: tuple[str | int, ...]) -> tuple[str, int | None, int | None]:
    where = positions.locate(path)
    return (filename, where[0], where[1]) if where else (filename, None, None)


def _origin(filename: str, positions: Positions, path: tuple[str | int, ...]) -> Origin:
    origin, line, column = _located(filename, positions, path)
    return Origin(f"goal[{path[1]}]" if path[0] == "goal" else "cost", origin, line, column)


def spec_from_file(path: Path, data: Any, positions: Positions) -> SweepSpec:
    """A SweepSpec from a loaded sweep file; errors name the file, line, column and field."""
    filename = str(path)
    try:
        model = SweepFile.model_validate(data)
    except ValidationError as err:
        raise validation_error(err, positions, filename=filename, model=SweepFile) from None
    fixed = []
    for key, value in model.set.items():
        origin, line, column = _located(filename, positions, ("set", key))
        split_path(key, origin=f"{origin}:{line}:{column}" if line else origin)
        fixed.append(Override(key, value, origin, line, column))
    axes = []
    for key, values in model.grid.items():
        origin, line, column = _located(filename, positions, ("grid", key))
        if not values:
            raise UsageError("a grid entry needs at least one value", file=origin, line=line, column=column,
                             field=f"grid.{key}")
        split_path(key, origin=f"{origin}:{line}:{column}" if line else origin)
        overrides = []
        for i, value in enumerate(values):
            _, vline, vcolumn = _located(filename, positions, ("grid", key, i))
            overrides.append(Override(key, value, origin, vline, vcolumn))
        key_at = positions.locate_key(("grid", key))
        axes.append(make_axis(key, overrides, origin=f"{origin}:{line}:{column}" if line else origin,
                              where=Where(origin, *key_at) if key_at else Where(origin, line, column)))
    goals = tuple(parse_goal(text, origin=_origin(filename, positions, ("goal", i)))
                  for i, text in enumerate(model.goal))
    prices = tuple(parse_price(f"{key}={value}", origin=_origin(filename, positions, ("cost", key)))
                   for key, value in model.cost.items())
    scenario = (path.parent / model.scenario) if not Path(model.scenario).is_absolute() else Path(model.scenario)
    return SweepSpec(scenario=scenario, axes=tuple(axes), fixed=tuple(fixed), replications=model.replications,
                     metrics=tuple(model.metrics), name=path.name.removesuffix(".yaml").removesuffix(".sweep"),
                     description=model.description, goals=goals, prices=prices,
                     metric_origins=tuple(Origin(f"metrics[{i}]", *_located(filename, positions, ("metrics", i)))
                                          for i in range(len(model.metrics))),
                     replications_where=Where(filename, *(positions.locate_key(("replications",)) or (None, None))))


def load_spec(path: Path) -> tuple[SweepSpec, Any, Positions]:
    """From a sweep file or a scenario file: the spec, plus the scenario's data and positions."""
    data, positions = load_yaml_file(path, display_name=str(path))
    named_sweep = path.name.endswith((".sweep.yaml", ".sweep.yml"))  # a sweep file by its name, as the docs name them
    if not is_sweep_file(data) and not (named_sweep and isinstance(data, dict)):
        return SweepSpec(scenario=path), data, positions
    spec = spec_from_file(path, data, positions)
    scenario_data, scenario_positions = load_yaml_file(spec.scenario, display_name=str(spec.scenario))
    if is_sweep_file(scenario_data):
        raise UsageError("names another sweep file as its scenario", file=str(path), field="scenario")
    return spec, scenario_data, scenario_positions
