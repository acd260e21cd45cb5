"""What one worker does for one run: load the variant (cached per process), simulate it, return its summary.

Tasks carry the scenario's data (the YAML as plain dicts and lists, fixed overrides applied) rather than its
path, so a Dask worker on another machine needs dsim but not the scenario file. The coordinator validated
every variant before sending any task, so a worker's load cannot fail. Everything here is a module-level
function of picklable values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dsim.scenarios.overrides import Override
from dsim.scenarios.resolve import Resolved


@dataclass(frozen=True)
class RunTask:
    """One replication of one variant."""

    scenario_data: Any = field(repr=False)
    scenario_hash: str
    filename: str
    overrides: tuple[Override, ...]
    variant: str
    replication: int
    seed: int


@dataclass(frozen=True)
class RunOutcome:
    variant: str
    replication: int
    seed: int
    summary: dict[str, Any]


_CACHE: dict[tuple[str, str, tuple[str, ...]], Resolved] = {}
_CACHE_SIZE = 8


def _resolved(task: RunTask) -> Resolved:
    """The validated variant; replications of one variant (run one after another) load it once.

    A Resolved is only read by a simulation, so threads of one Dask worker may share it.
    """
    from dsim.scenarios.loader import validate_data
    from dsim.scenarios.yamlpos import Positions

    key = (task.scenario_hash, task.filename, tuple(override.key for override in task.overrides))
    found = _CACHE.get(key)
    if found is None:
        found = validate_data(task.scenario_data, Positions(), task.filename, overrides=task.overrides)
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = found
    return found


def run_task(task: RunTask) -> RunOutcome:
    """Simulate one run through the run path (no file written); the summary depends only on the task (never
    on the process or machine), and is what ``dsim.run`` gives for the same variant and seed."""
    from dsim.run import run_summarised

    _, summary = run_summarised(_resolved(task), seed=task.seed)
    return RunOutcome(task.variant, task.replication, task.seed, summary)
