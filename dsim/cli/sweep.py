"""``dsim sweep``: run a scenario's grid of variants times replications and report means with 95% CIs."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from dsim.cli.support import plain_console

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

SweepArg = Annotated[Path, typer.Argument(help="scenario YAML file, or a sweep file naming one",
                                          show_default=False)]


def sweep(
    scenario: SweepArg,
    vary: Annotated[list[str] | None, typer.Option(
        "--vary", metavar="PATH=V1,V2,...", help="a path and its values (repeatable; the full grid is run)")] = None,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", metavar="PATH=VALUE", help="a fixed override for every variant (repeatable)")] = None,
    replications: Annotated[int | None, typer.Option(
        "--replications", "-n", help="seeds per variant (default 5, or the sweep file's)")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="output directory (default results/<name>-sweep)")] = None,
    workers: Annotated[int | None, typer.Option(
        "--workers", "-j",
        help="local worker processes (default: one per core; at most one per core and run; 1: this process)")] = None,
    dask: Annotated[str | None, typer.Option(
        "--dask", metavar="ADDRESS", help="run on a Dask scheduler, e.g. tcp://host:8786 (pip install 'dsim\\[dask]')"
    )] = None,
    resume: Annotated[bool, typer.Option("--resume", help="keep the runs stored in --out and run the rest")] = False,
    metric: Annotated[list[str] | None, typer.Option(
        "--metric", "-m", metavar="PATH",
        help="a summary.json number to report, e.g. phases.pull.p95_s (repeatable) "
             "(default: makespan_s, p50/p95 of each phase)")] = None,
    goal: Annotated[list[str] | None, typer.Option(
        "--goal", "-g", metavar="'METRIC OP TARGET'",
        help="a target, e.g. 'phases.job.p95_s <= 600' (repeatable): names the cheapest variant meeting every "
             "goal with 95% confidence")] = None,
    cost: Annotated[list[str] | None, typer.Option(
        "--cost", metavar="PATH=PRICE",
        help="price per unit of a field for --goal, e.g. hosts.runner.count=0.5 (repeatable; "
             "default: cost = number of hosts)")] = None,
    charts: Annotated[bool, typer.Option(help="write charts/*.png")] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar, print nothing but errors")] = False,
) -> None:
    """Run SCENARIO's grid of variants x replications; write sweep.csv, runs.csv, charts and sweep.html."""
    from dsim.errors import UsageError
    from dsim.reports.outdir import check_out_folder
    from dsim.scenarios.overrides import parse_overrides
    from dsim.sweep.executors import make_executor
    from dsim.sweep.goal import parse_goal, parse_price
    from dsim.sweep.grid import parse_vary
    from dsim.sweep.report import write_outputs
    from dsim.sweep.runner import run_sweep
    from dsim.sweep.spec import load_spec

    if replications is not None and replications < 1:
        raise UsageError(f"must be at least 1, got {replications}", field="--replications")
    if workers is not None and workers < 1:
        raise UsageError(f"must be at least 1, got {workers}", field="--workers")
    spec, data, positions = load_spec(scenario)
    spec = spec.with_cli(axes=tuple(parse_vary(text) for text in vary or ()),
                         fixed=parse_overrides(set_ or ()), replications=replications,
                         metrics=tuple(metric or ()), goals=tuple(parse_goal(g) for g in goal or ()),
                         prices=tuple(parse_price(c) for c in cost or ()))
    name = spec.name or (data.get("name") if isinstance(data.get("name"), str) else None) or scenario.stem
    directory = out if out is not None else Path("results") / f"{name}-sweep"
    check_out_folder(directory)
    executor = make_executor(workers=workers, dask=dask, runs=spec.runs())
    console = plain_console(stderr=True)
    previous = signal.signal(signal.SIGTERM, _interrupt)  # SIGTERM stops workers and Dask futures as Ctrl-C does
    try:
        start = getattr(executor, "start", None)
        if start is not None:
            start()
        with _Progress(console, enabled=not quiet, description=executor.description) as bar:
            result = run_sweep(spec, data, positions, directory, executor, resume=resume,
                               progress=bar.update, on_start=bar.start)
    except KeyboardInterrupt:
        console.print(f"interrupted: every finished run is stored in {directory}/; --resume goes on from there")
        raise typer.Exit(130) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
        executor.close()
    write_outputs(result, directory, charts=charts)
    if not quiet:
        from dsim.sweep.table import sweep_table

        out_console = plain_console()
        out_console.print(sweep_table(result))
        if result.verdicts:
            from dsim.sweep.report import goal_sentence

            out_console.print(goal_sentence(result))
        out_console.print(f"{result.executed} runs executed, {result.reused} reused from the store; "
                          f"results in {directory}/")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


class _Progress:
    """A rich progress bar with ETA on stderr (nothing when disabled or when stderr is not a terminal
    and rich cannot draw)."""

    def __init__(self, console: Console, *, enabled: bool, description: str) -> None:
        self.enabled = enabled
        self.description = description
        self.console = console
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("[bold]sweep[/] {task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("runs"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                console=self.console, transient=False,
            )
        return self

    def start(self, done: int, total: int) -> None:
        """Show the bar once the runs are counted (an error before that is the only line on stderr)."""
        if self._progress is not None:
            self._progress.start()
            self._task = self._progress.add_task(self.description, total=total, completed=done)

    def update(self, done: int, total: int) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=done, total=total)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.stop()

