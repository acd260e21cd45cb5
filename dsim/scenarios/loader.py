"""One loader for scenario files: YAML with positions -> strict models -> checked references.

Every problem becomes a ScenarioError naming file:line:column and the field path.

``serving=True`` loads a scenario for ``dsim serve``, whose Engine API requests are the work: ``workloads``
may be omitted (:class:`ServedScenario`), and Docker Hub (``hub``, dsim's default registry) is part of the
world so the built-in image catalog can be pulled, unless the scenario defines its own ``network`` without
it (a topology that does not link ``hub`` could not reach it).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from dsim.domain.problems import ReferenceProblem
from dsim.domain.refs import HUB
from dsim.errors import ScenarioError
from dsim.scenarios.model import Scenario, Workload
from dsim.scenarios.overrides import Override, apply_overrides, attribute_error, parse_overrides
from dsim.scenarios.problems import dotted
from dsim.scenarios.resolve import DOCKER_HUB, Resolved, resolve
from dsim.scenarios.yamlpos import Positions, load_yaml, load_yaml_file, validation_error


class ServedScenario(Scenario):
    """A scenario as ``dsim serve`` runs it: the API's requests are the work, so it needs no workload."""

    workloads: dict[str, Workload] = Field(default_factory=dict)


def _validate(data: Any, positions: Positions, filename: str, serving: bool = False) -> Resolved:
    model = ServedScenario if serving else Scenario
    try:
        scenario = model.model_validate(data)
    except ValidationError as err:
        raise validation_error(err, positions, filename=filename, model=model) from None
    if serving and scenario.network is None and HUB not in scenario.registries:
        scenario = scenario.model_copy(update={"registries": {**scenario.registries, HUB: DOCKER_HUB}})
    try:
        # a build step's dockerfile path is relative to the scenario file (inline text: to the working dir)
        return resolve(scenario, base_dir=None if filename.startswith("<") else Path(filename).parent)
    except ReferenceProblem as problem:
        raise reference_error(problem, positions, filename) from None


def reference_error(problem: ReferenceProblem, positions: Positions, filename: str) -> ScenarioError:
    where = positions.locate(problem.path)
    line, column = where if where else (None, None)
    return ScenarioError(problem.message, file=filename, line=line, column=column, field=dotted(problem.path))


def load_scenario(path: str | Path, *, overrides: Sequence[str | Override] = (), serving: bool = False) -> Resolved:
    """Load, validate and resolve a scenario file (relative paths are shown as written).

    ``overrides`` (``"PATH=VALUE"`` texts as given to ``--set``, or parsed Overrides) change the raw data
    before validation; errors inside an overridden value name the override (dsim.scenarios.overrides).
    ``serving``: for ``dsim serve`` (module docstring).
    """
    data, positions = load_yaml_file(Path(path), display_name=str(path))
    return validate_data(data, positions, str(path), overrides=overrides, serving=serving)


def load_scenario_text(text: str, *, filename: str = "<scenario>", overrides: Sequence[str | Override] = (),
                       serving: bool = False) -> Resolved:
    data, positions = load_yaml(text, filename=filename)
    return validate_data(data, positions, filename, overrides=overrides, serving=serving)


def validate_data(data: Any, positions: Positions, filename: str, *, overrides: Sequence[str | Override] = (),
                  serving: bool = False) -> Resolved:
    """Validate and resolve already loaded YAML data, after applying ``overrides`` to a copy of it."""
    if not overrides:
        return _validate(data, positions, filename, serving)
    parsed = parse_overrides(overrides)
    data, positions = apply_overrides(data, positions, parsed)
    try:
        return _validate(data, positions, filename, serving)
    except ScenarioError as err:
        raise attribute_error(err, parsed) from None
