"""Where values of a YAML document were written, field paths as users read them, and errors located there.

Shared by the loader (:mod:`dsim.scenarios.yaml_load`), which records positions, and the validation messages
(:mod:`dsim.scenarios.validation_errors`), which point at them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dsim.errors import ScenarioError

__all__ = ["Path", "Position", "Positions", "field_path", "located_error", "mark_position", "one_line",
           "scenario_error"]

Path = tuple[str | int, ...]
"""A location in the data: mapping keys are ``str``, sequence indices ``int``."""
Position = tuple[int, int]
"""1-based (line, column)."""


@dataclass(frozen=True)
class Positions:
    """Where each value of a loaded YAML document was written.

    ``values`` maps a path to the 1-based (line, column) where the value at that path starts; ``keys`` maps
    the path of a mapping entry to where its key is written. The root value has the path ``()``.
    """

    values: Mapping[Path, Position] = field(default_factory=dict, hash=False)
    keys: Mapping[Path, Position] = field(default_factory=dict, hash=False)

    def locate(self, path: Sequence[str | int]) -> Position | None:
        """(line, column) of the value at ``path``, else of its nearest present ancestor (None if none)."""
        path = tuple(path)
        for end in range(len(path), -1, -1):
            found = self.values.get(path[:end])
            if found is not None:
                return found
        return None

    def locate_key(self, path: Sequence[str | int]) -> Position | None:
        """(line, column) of the mapping key naming ``path``; for a path without one (a list item, the root,
        an absent key), the same as `locate`."""
        path = tuple(path)
        found = self.keys.get(path)
        return found if found is not None else self.locate(path)

    def __contains__(self, path: object) -> bool:
        return isinstance(path, tuple) and path in self.values


def field_path(path: Sequence[str | int]) -> str:
    """``('workloads', 'ci', 'steps', 0, 'pull')`` -> ``workloads.ci.steps[0].pull`` (keys as written)."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def mark_position(mark: Any) -> Position:
    """A PyYAML mark (0-based line and column) as a 1-based position."""
    return (int(mark.line) + 1, int(mark.column) + 1)


def one_line(text: str) -> str:
    """Messages are one line: PyYAML's and pydantic's multi-line texts joined, runs of whitespace collapsed."""
    return " ".join(text.split())


def located_error(message: str, filename: str, positions: Positions, path: Sequence[str | int], *,
                  key: bool = False) -> ScenarioError:
    """The error for ``message`` about the value at ``path`` (``key``: about its key), placed where it was
    written (else its nearest present ancestor) and naming the field."""
    where = positions.locate_key(path) if key else positions.locate(path)
    line, column = where if where is not None else (None, None)
    return ScenarioError(message, file=filename, line=line, column=column, field=field_path(path) or None)


def scenario_error(message: str, filename: str, where: Position | None = None) -> ScenarioError:
    """The error for ``message`` at ``where`` in ``filename`` (no line or column when the place is unknown)."""
    line, column = where if where is not None else (None, None)
    return ScenarioError(message, file=filename, line=line, column=column)
