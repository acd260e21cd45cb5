"""Errors dsim raises on purpose; the CLI maps them to exit codes (2 input, 1 simulation)."""

from __future__ import annotations


class DsimError(Exception):
    """Base of every error dsim reports to a user as one line."""

    exit_code = 1


class ScenarioError(DsimError):
    """Invalid scenario or command line: names the file, line, column and field path."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        self.field = field
        super().__init__(self.one_line())

    def one_line(self) -> str:
        where = ""
        if self.file is not None:
            where = self.file
            if self.line is not None:
                where += f":{self.line}"
                if self.column is not None:
                    where += f":{self.column}"
            where += ": "
        field = f"{self.field}: " if self.field else ""
        return f"{where}{field}{self.message}"


class UsageError(ScenarioError):
    """A bad command-line option (exit code 2, like an invalid scenario)."""


class SimulationError(DsimError):
    """The model reached a state it cannot go on from (exit code 1)."""

    exit_code = 1
