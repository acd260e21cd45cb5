"""One loader for scenario files: YAML with positions -> strict models -> checked references.

Every problem becomes a ScenarioError naming file:line:column and the field path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from dsim.errors import ScenarioError
from dsim.scenarios.model import Scenario
from dsim.scenarios.resolve import ReferenceProblem, Resolved, resolve
from dsim.scenarios.yamlpos import Positions, load_yaml, load_yaml_file, validation_error


def dotted(path: tuple[str | int, ...]) -> str:
    """``('workloads', 'ci', 'steps', 0, 'pull')`` -> ``workloads.ci.steps[0].pull``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _validate(data: Any, positions: Positions, filename: str) -> Resolved:
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as err:
        raise validation_error(err, positions, filename=filename, model=Scenario) from None
    try:
        return resolve(scenario)
    except ReferenceProblem as problem:
        raise reference_error(problem, positions, filename) from None


def reference_error(problem: ReferenceProblem, positions: Positions, filename: str) -> ScenarioError:
    where = positions.locate(problem.path)
    line, column = where if where else (None, None)
    return ScenarioError(problem.message, file=filename, line=line, column=column, field=dotted(problem.path))


def load_scenario(path: str | Path) -> Resolved:
    """Load, validate and resolve a scenario file (relative paths are shown as written)."""
    data, positions = load_yaml_file(Path(path), display_name=str(path))
    return _validate(data, positions, str(path))


def load_scenario_text(text: str, *, filename: str = "<scenario>") -> Resolved:
    data, positions = load_yaml(text, filename=filename)
    return _validate(data, positions, filename)
