"""What every dsim command shares: the scenario argument and the one error boundary."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from dsim.errors import DsimError

ScenarioArg = Annotated[Path, typer.Argument(help="scenario YAML file", show_default=False)]

err_console = Console(stderr=True, highlight=False, soft_wrap=True)


@contextmanager
def error_boundary() -> Iterator[None]:
    """DsimError -> its one line on stderr and its exit code; anything else -> exit 1 with the cause."""
    try:
        yield
    except DsimError as err:
        err_console.print(f"dsim: error: {err}", markup=False)
        raise typer.Exit(err.exit_code) from None
    except (typer.Exit, typer.Abort):
        raise
    except Exception as err:  # the one place that turns a surprise into a one-line failure
        err_console.print(f"dsim: error: simulation failed: {type(err).__name__}: {err}", markup=False)
        raise typer.Exit(1) from None


