"""``dsim run``, ``dsim validate`` and ``dsim schema``: a scenario simulated, checked, or its format printed.

Exit codes: 0 ok; 1 the simulation failed; 2 the scenario or the command line is invalid.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from dsim.cli.support import ScenarioArg, SetOption, plain_console, quiet_libraries


def run(
    scenario: ScenarioArg,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="output directory (default: results/<name>)")] = None,
    seed: Annotated[int | None, typer.Option(help="override the scenario's seed")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="print summary.json to stdout, nothing else")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="print nothing but errors")] = False,
    charts: Annotated[bool, typer.Option(help="write charts/*.png and report.html")] = True,
    trace: Annotated[bool, typer.Option(help="write trace.json (Perfetto / chrome://tracing)")] = True,
    outputs: Annotated[str, typer.Option(
        "--outputs", metavar="LIST",
        help="files to write besides summary.json, comma-separated: jobs, spans, charts (with report.html), "
             "trace; or all")] = "all",
    set_: Annotated[list[str] | None, typer.Option(
        "--set", metavar="PATH=VALUE",
        help="override a scenario field (repeatable), e.g. --set hosts.runner.count=40")] = None,
    writers: Annotated[int | None, typer.Option(
        min=1, help="processes writing the files at once, once the run has ended (Linux; the same files "
                    "whatever the number; default: the CPUs dsim may use, at most 4, and 1 once the run "
                    "holds more than 1 GiB)")] = None,
) -> None:
    """Simulate SCENARIO; write summary.json, jobs.csv, spans.csv, charts, report.html and trace.json."""
    from dsim.errors import UsageError
    from dsim.gc_tuning import fewer_gc_passes, freeze_survivors
    from dsim.reports.context import ScenarioInfo
    from dsim.reports.outputs import parse_outputs, summary_json
    from dsim.run import run_summarised
    from dsim.scenarios.loader import load_scenario

    try:
        chosen = parse_outputs(outputs)
    except ValueError as bad:
        raise UsageError(str(bad), field="--outputs") from None
    resolved = load_scenario(scenario, overrides=set_ or ())
    directory = out if out is not None else Path("results") / resolved.name
    err = plain_console(stderr=True)
    # the run's collector settings (dsim/gc_tuning.py) until its tables are printed, then what it made is frozen
    # on the way out: restoring CPython's thresholds would otherwise make the next young pass visit everything
    # the run kept, as good as dropped now (0.4 s of CPU after a 20,000-job burst)
    with fewer_gc_passes():
        with quiet_libraries(quiet):
            _, summary = run_summarised(
                resolved, seed=seed, out=directory, charts=charts, trace=trace, outputs=chosen,
                writers=writers,  # None: dsim.reports.writers.default_writers, once the run has ended
                scenario_info=ScenarioInfo.from_resolved(resolved, scenario, set_ or ()),
                progress=err if not (quiet or json_output) and err.is_terminal else None)
        if json_output:
            sys.stdout.write(summary_json(summary))
        elif not quiet:
            from dsim.reports.table import summary_tables

            console = plain_console()
            console.print(summary_tables(summary))
            console.print(f"results in {directory}/")
        freeze_survivors()


def validate(
    scenario: ScenarioArg,
    set_: SetOption = None,
) -> None:
    """Check SCENARIO without running it."""
    from dsim.scenarios.loader import load_scenario

    resolved = load_scenario(scenario, overrides=set_ or ())
    jobs = sum(resolved.job_counts.values())
    typer.echo(f"{scenario}: ok ({len(resolved.hosts)} hosts, {len(resolved.registries)} registries, "
               f"{len(resolved.images)} images, {jobs} jobs)")


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
