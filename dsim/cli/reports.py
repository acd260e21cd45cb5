"""The reports' commands: ``dsim graph``, ``dsim explain`` and ``dsim compare``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from dsim.cli.support import ScenarioArg, SetOption, plain_console

#: what ``dsim graph -o`` and ``dsim explain -o`` draw (dsim.reports.style.save: SVG by suffix, else PNG)
IMAGE_SUFFIXES = (".png", ".svg")


def graph(
    scenario: ScenarioArg,
    out: Annotated[Path, typer.Option("--out", "-o", help="image file (.png or .svg)")] = Path("topology.png"),
    set_: SetOption = None,
) -> None:
    """Draw SCENARIO's network: registries, mirrors, switches, host groups and link capacities."""
    from dsim.reports.outdir import check_out_file
    from dsim.reports.topology import draw_topology
    from dsim.scenarios.loader import load_scenario

    check_out_file(out, "--out", IMAGE_SUFFIXES)
    resolved = load_scenario(scenario, overrides=set_ or ())
    out.parent.mkdir(parents=True, exist_ok=True)
    draw_topology(resolved, out)
    typer.echo(f"topology of {resolved.name} in {out}")


def explain(
    scenario: ScenarioArg,
    job: Annotated[int, typer.Option("--job", "-j", min=1, help="the job to narrate (jobs are numbered from 1)")] = 1,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="also draw a sequence diagram (PNG)")] = None,
    seed: Annotated[int | None, typer.Option(help="override the scenario's seed")] = None,
    set_: SetOption = None,
) -> None:
    """Simulate SCENARIO and tell job N's story in docker's own words, with simulated timestamps."""
    from dsim.errors import UsageError
    from dsim.reports.context import ScenarioInfo
    from dsim.reports.derive import SpanIndex
    from dsim.reports.explain import narrate, render_text, sequence_diagram, steps_text
    from dsim.reports.outdir import check_out_file
    from dsim.run import run
    from dsim.scenarios.loader import load_scenario

    if out is not None:
        check_out_file(out, "--out", IMAGE_SUFFIXES)
    resolved = load_scenario(scenario, overrides=set_ or ())
    result = run(resolved, seed=seed)
    index = SpanIndex(result)
    known = sorted(index.by_job)
    if job not in index.by_job:
        raise UsageError(f"no job {job} in this run (jobs {known[0]}..{known[-1]})" if known
                         else f"no job {job}: the run recorded no jobs", field="--job")
    info = ScenarioInfo.from_resolved(resolved, scenario, set_ or ())
    console = plain_console(soft_wrap=True)
    end = next((e for e in result.job_ends if e.job == job), None)
    workload = end.workload if end else index.by_job[job][0].subject
    commands = steps_text(info, workload)
    if commands:
        console.print(Text.assemble((f"job {job}", "bold"), " of workload ", (workload, "bold"), " runs:"))
        for command in commands:
            console.print(f"  $ {command}")
    styles = {"docker": "", "note": "dim", "error": "bold red"}
    for text, style in render_text(narrate(result, job, info, index)):
        console.print(text, style=styles.get(style, ""))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        sequence_diagram(result, job, out, info, index)
        console.print(f"sequence diagram in {out}")


def compare(
    runs: Annotated[list[Path], typer.Argument(help="two or more --out directories of `dsim run`",
                                               show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="the HTML comparison to write")] = Path("compare.html"),
    html: Annotated[bool, typer.Option(help="write the HTML comparison")] = True,
) -> None:
    """Put runs side by side: every summary figure with its difference (absolute and %) from the first run,
    and their latency CDFs overlaid (compare.html)."""
    from dsim.errors import UsageError
    from dsim.reports.compare import distinct_labels, load_run, table, write_compare_html
    from dsim.reports.outdir import check_out_file

    if len(runs) < 2:
        raise UsageError("give at least two run directories to compare", field="RUNS")
    if html:
        check_out_file(out, "--out")
    loaded = [load_run(path) for path in runs]
    distinct_labels(loaded)
    console = plain_console()
    console.print(table(loaded))
    if html:
        write_compare_html(loaded, out)
        console.print(f"comparison in {out}")

