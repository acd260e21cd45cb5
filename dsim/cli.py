"""The ``dsim`` command: a thin typer layer over the API with one error boundary.

Exit codes: 0 ok; 1 the simulation failed; 2 the scenario or the command line is invalid.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from dsim.cli_support import ScenarioArg, error_boundary

#: Feature modules that add their own commands: each has ``register(app: typer.Typer) -> None``.
COMMAND_MODULES: tuple[str, ...] = ("dsim.sweep.commands", "dsim.reports.commands", "dsim.dockerfile.commands",
                                     "dsim.serve.commands")

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="dsim: a discrete-event simulator of the Docker architecture.")
@app.command()
def run(
    scenario: ScenarioArg,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="output directory [default: results/<name>]")] = None,
    seed: Annotated[int | None, typer.Option(help="override the scenario's seed")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="print summary.json to stdout, nothing else")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="print nothing but errors")] = False,
    charts: Annotated[bool, typer.Option(help="write charts/*.png and report.html")] = True,
    trace: Annotated[bool, typer.Option(help="write trace.json (Perfetto / chrome://tracing)")] = True,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", metavar="PATH=VALUE",
        help="override a scenario field (repeatable), e.g. --set hosts.runner.count=40")] = None,
) -> None:
    """Simulate SCENARIO; write summary.json, jobs.csv, spans.csv, charts, report.html and trace.json."""
    with error_boundary():
        from dsim.api import load_scenario
        from dsim.gc_tuning import fewer_gc_passes
        from dsim.reports.context import ScenarioInfo
        from dsim.reports.outputs import summary_json, write_outputs, write_reports
        from dsim.reports.progress import progress_bar
        from dsim.world import World

        resolved = load_scenario(scenario, overrides=set_ or ())
        with fewer_gc_passes():  # the run and its reports keep every span: collect less often (gc_tuning.py)
            # link loads sampled about every simulated second for the bandwidth chart (no effect on the run)
            world = World(resolved, seed=seed, link_samples=1.0)
            err = Console(stderr=True)
            with progress_bar(lambda: (world.env.now, len(world.recorder.jobs)), console=err,
                              expected_jobs=sum(resolved.job_counts.values()), until=resolved.scenario.until,
                              enabled=not (quiet or json_output) and err.is_terminal):
                result = world.run()
            summary = result.summary()
            directory = out if out is not None else Path("results") / resolved.scenario.name
            write_outputs(result, directory, summary)
            write_reports(result, directory, summary, ScenarioInfo.from_resolved(resolved, scenario, set_ or ()),
                          charts=charts, trace=trace)
        if json_output:
            sys.stdout.write(summary_json(summary))
        elif not quiet:
            from dsim.reports.table import summary_tables

            console = Console(highlight=False)
            console.print(summary_tables(summary))
            console.print(f"results in {directory}/")


@app.command()
def validate(
    scenario: ScenarioArg,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", metavar="PATH=VALUE", help="override a scenario field (repeatable), as for run")] = None,
) -> None:
    """Check SCENARIO without running it."""
    with error_boundary():
        from dsim.api import load_scenario

        resolved = load_scenario(scenario, overrides=set_ or ())
        jobs = sum(resolved.job_counts.values())
        typer.echo(f"{scenario}: ok ({len(resolved.hosts)} hosts, {len(resolved.registries)} registries, "
                   f"{len(resolved.images)} images, {jobs} jobs)")


@app.command()
def schema(
    markdown: Annotated[bool, typer.Option("--markdown", help="print the reference as Markdown tables")] = False,
) -> None:
    """Print the JSON Schema of the scenario format (for editor autocompletion)."""
    from dsim.scenarios.model import Scenario

    if markdown:
        from dsim.scenarios.reference import markdown as reference

        typer.echo(reference(Scenario), nl=False)
        return
    typer.echo(json.dumps(Scenario.model_json_schema(by_alias=True), indent=2))


def _register_commands() -> None:
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(app)


_register_commands()


def main() -> None:
    app()
