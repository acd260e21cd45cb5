"""A cross-reference that does not resolve, named by the path of the field it was written in."""

from __future__ import annotations

#: Where a value sits in a scenario file: ``("workloads", "ci", "steps", 0, "pull")``.
FieldPath = tuple[str | int, ...]


class ReferenceProblem(Exception):
    """A cross-reference that does not resolve; the loader adds file, line and column from ``path``."""

    def __init__(self, path: FieldPath, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message
