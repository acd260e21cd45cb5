"""What every dsim command shares: the scenario argument, the --set option and the one error boundary."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from typer.core import TyperGroup

from dsim.errors import DsimError

ScenarioArg = Annotated[Path, typer.Argument(help="scenario YAML file", show_default=False)]
SetOption = Annotated[list[str] | None, typer.Option(
    "--set", metavar="PATH=VALUE", help="override a scenario field (repeatable), as for run")]

err_console = Console(stderr=True, highlight=False, soft_wrap=True)


@contextmanager
def error_boundary() -> Iterator[None]:
    """DsimError -> its one line on stderr and its exit code; anything else -> exit 1 with the cause.

    The command line's own errors (typer's usage errors, ``typer.Exit``, ``typer.Abort``) pass through to
    typer, which reports them as it always does (exit 2 for a usage error)."""
    try:
        yield
    except DsimError as err:
        err_console.print(f"dsim: error: {err}", markup=False)
        raise typer.Exit(err.exit_code) from None
    except (typer.Exit, typer.Abort, typer.TyperException):
        raise
    except Exception as err:  # the one place that turns a surprise into a one-line failure
        err_console.print(f"dsim: error: simulation failed: {type(err).__name__}: {err}", markup=False)
        raise typer.Exit(1) from None


class GuardedGroup(TyperGroup):
    """The ``dsim`` group: every command (and sub-group) it invokes runs inside ``error_boundary``.

    The boundary sits on the group rather than in ``main`` so that it also holds when ``app`` is invoked
    directly (typer's CliRunner in the tests)."""

    def invoke(self, ctx: Any) -> Any:  # a typer Context (typer's own copy of click's, not public)
        with error_boundary():
            return super().invoke(ctx)
