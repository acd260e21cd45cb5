"""The ``dsim`` command: thin typer commands over the library, all registered here, one error boundary.

Each module holds one group of commands (``run``: run, validate, schema; ``sweep``; ``reports``: graph,
explain, compare; ``dockerfile``; ``serve``); the model, the reports and matplotlib are imported inside the
commands, so ``dsim --help`` stays quick. Every command runs inside ``support.error_boundary`` (through
``support.GuardedGroup``). Exit codes: 0 ok; 1 the simulation failed; 2 the scenario or the command line is
invalid.
"""

from __future__ import annotations

import typer

from dsim.cli import dockerfile, reports, run, serve, sweep
from dsim.cli.support import GuardedGroup

app = typer.Typer(cls=GuardedGroup, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="dsim: a discrete-event simulator of the Docker architecture.")
app.command("run")(run.run)
app.command("validate")(run.validate)
app.command("schema")(run.schema)
app.command("sweep")(sweep.sweep)
app.command("graph")(reports.graph)
app.command("explain")(reports.explain)
app.command("compare")(reports.compare)
app.command("serve")(serve.serve)
app.add_typer(dockerfile.app, name="dockerfile")


def main() -> None:
    """The ``dsim`` console script: the command, then the process ends without the interpreter's final
    collection (``gc_tuning.end_of_process``)."""
    from dsim.gc_tuning import end_of_process

    try:
        app()
    finally:
        end_of_process()


__all__ = ["app", "main"]
