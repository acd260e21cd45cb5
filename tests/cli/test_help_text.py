"""Every option's help reaches the terminal whole: typer renders help through rich, whose markup takes
``[...]`` for a style tag and drops it (``[default: results/<name>]`` vanished from ``dsim run --help``), so no
help text of dsim's holds a square bracket that is not escaped."""

from __future__ import annotations

import re
from typing import Any

import typer.main
from typer.testing import CliRunner

from dsim.cli import app


def _commands(command: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """The command and every command under it (typer builds them with the click it carries)."""
    found = [(path, command)]
    for name, sub in getattr(command, "commands", {}).items():
        found += _commands(sub, (*path, name))
    return found


def test_no_help_text_holds_an_unescaped_square_bracket() -> None:
    helps = [(path, param.name, param.help) for path, command in _commands(typer.main.get_command(app))
             for param in command.params if param.param_type_name == "option" and param.help]
    assert len(helps) > 20  # the walk found the options
    # rich's escape, a backslash before the bracket, prints it (``pip install 'dsim\\[dask]'``)
    assert [(path, name) for path, name, text in helps if re.search(r"(?<!\\)\[", text)] == []


def test_the_defaults_are_printed() -> None:
    shown = " ".join(re.sub(r"[│╭╮╰╯─]", " ", CliRunner().invoke(app, ["run", "--help"]).output).split())
    assert "output directory (default: results/<name>)" in shown
    assert "default: the CPUs dsim may use, at most 4, and 1 once the run holds more than 1 GiB" in shown
