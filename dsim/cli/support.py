"""What every dsim command shares: the scenario argument, the --set option, plain consoles and the one error
boundary."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from typer.core import TyperGroup

try:  # typer's own copy of click (recent typer); click's before it
    from typer._click.exceptions import NoArgsIsHelpError, UsageError
except ImportError:  # pragma: no cover
    from click.exceptions import NoArgsIsHelpError, UsageError  # type: ignore[assignment]

from dsim.errors import DsimError

ScenarioArg = Annotated[Path, typer.Argument(help="scenario YAML file", show_default=False)]
SetOption = Annotated[list[str] | None, typer.Option(
    "--set", metavar="PATH=VALUE", help="override a scenario field (repeatable), as for run")]


def plain_console(*, stderr: bool = False, soft_wrap: bool = False) -> Console:
    """A rich console that prints text verbatim: names a user wrote (``my:smile:img``, ``[red]x``) are
    neither markup nor emoji codes, in errors, tables and progress alike; styles are given as objects."""
    return Console(stderr=stderr, highlight=False, markup=False, emoji=False, soft_wrap=soft_wrap)


err_console = plain_console(stderr=True, soft_wrap=True)


def fail(problem: str, exit_code: int) -> typer.Exit:
    """Print ``dsim: error: <problem>`` as one line on stderr; the Exit to raise."""
    err_console.print(f"dsim: error: {' '.join(problem.split())}")
    return typer.Exit(exit_code)


@contextmanager
def error_boundary() -> Iterator[None]:
    """DsimError -> its one line on stderr and its exit code; a usage error of the command line (a bad
    option value, an unknown option or command, a missing argument) -> one line and exit 2, instead of
    typer's usage box; anything else -> exit 1 with the cause. ``typer.Exit``/``Abort`` and the help that
    ``dsim`` alone prints pass through."""
    try:
        yield
    except DsimError as err:
        raise fail(str(err), err.exit_code) from None
    except NoArgsIsHelpError:
        raise
    except UsageError as err:
        raise fail(_usage_problem(err), 2) from None
    except (typer.Exit, typer.Abort, typer.TyperException):
        raise
    except Exception as err:  # the one place that turns a surprise into a one-line failure
        raise fail(f"simulation failed: {type(err).__name__}: {err}", 1) from None


def _usage_problem(err: UsageError) -> str:
    """Click's message, with where to read the command's options (``dsim run --help``) when known."""
    message = err.format_message().rstrip(".")
    if err.ctx is None:
        return message
    names: list[str] = []
    ctx: Any = err.ctx
    while ctx is not None:
        names.append(ctx.info_name or "")
        ctx = ctx.parent
    command = " ".join(["dsim", *reversed(names[:-1])])  # the root's name is how dsim was started
    return f"{message} (see '{command} --help')"


@contextmanager
def quiet_libraries(quiet: bool) -> Iterator[None]:
    """Under ``--quiet``, the libraries' warnings (matplotlib's missing glyphs and fonts: the ``warnings``
    module and the ``logging`` module's WARNING records) are dropped, so only errors reach stderr."""
    if not quiet:
        yield
        return
    previous = logging.root.manager.disable
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.disable(logging.WARNING)
        try:
            yield
        finally:
            logging.disable(previous)


class GuardedGroup(TyperGroup):
    """The ``dsim`` group: its own command line and every command (and sub-group) it invokes run inside
    ``error_boundary``.

    The boundary sits on the group rather than in ``main`` so that it also holds when ``app`` is invoked
    directly (typer's CliRunner in the tests)."""

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any) -> Any:
        with error_boundary():
            return super().make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx: Any) -> Any:  # a typer Context (typer's own copy of click's, not public)
        with error_boundary():
            return super().invoke(ctx)
