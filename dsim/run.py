"""The one run path: every simulation run to its end goes through ``run`` (``dsim run``, ``dsim explain``,
each sweep run, the API); a world driven by someone else (``dsim serve`` drives its clock in real time)
is built by ``build_world`` and ends through ``save_outputs``. Both write through the one writer
(dsim.reports.outputs.write_run_outputs), and the garbage-collector tuning (dsim.gc_tuning) is entered
here and nowhere else.

Imports of the model and the reports stay inside the functions, so that ``import dsim`` (and ``dsim --help``)
stays quick.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dsim.gc_tuning import fewer_gc_passes

if TYPE_CHECKING:
    from rich.console import Console

    from dsim.records import Recorder
    from dsim.reports.context import ScenarioInfo
    from dsim.result import SimResult
    from dsim.scenarios.resolve import Resolved
    from dsim.world import World

#: Link loads are sampled about every simulated second when files are written, for the bandwidth chart
#: (dsim.probes.LinkProbe schedules no event: the run is otherwise the same, and so is its summary).
LINK_SAMPLE_S = 1.0


def run(resolved: Resolved, *, seed: int | None = None, out: Path | None = None, charts: bool = True,
        trace: bool = True, scenario_info: ScenarioInfo | None = None, progress: Console | None = None,
        outputs: Collection[str] | None = None) -> SimResult:
    """Simulate ``resolved`` to its end (or ``until``) and return the result; with ``out``, also write
    every file of the run there (summary.json, jobs.csv, spans.csv; charts and report.html unless
    ``charts=False``; trace.json unless ``trace=False``); ``outputs`` chooses among jobs, spans, charts and
    trace (dsim.reports.outputs.OUTPUTS; None: all).

    ``seed`` overrides the scenario's; ``scenario_info`` gives the report the scenario's file and overrides
    (default: what ``resolved`` knows); ``progress``: draw a progress bar on that console.
    """
    return _run(resolved, seed=seed, out=out, charts=charts, trace=trace, scenario_info=scenario_info,
                progress=progress, summarise=False, outputs=outputs)[0]


def run_summarised(resolved: Resolved, *, seed: int | None = None, out: Path | None = None, charts: bool = True,
                   trace: bool = True, scenario_info: ScenarioInfo | None = None,
                   progress: Console | None = None, outputs: Collection[str] | None = None, writers: int | None = 1
                   ) -> tuple[SimResult, dict[str, Any]]:
    """``run``, returning summary.json's figures too: computed once (on a large run they cost about a fifth
    of the simulation), for callers that print or collect them (``dsim run``, sweep runs). ``writers``:
    processes writing the files at once (dsim.reports.writers; None: its default, once the run has ended)."""
    result, summary = _run(resolved, seed=seed, out=out, charts=charts, trace=trace, scenario_info=scenario_info,
                           progress=progress, summarise=True, outputs=outputs, writers=writers)
    assert summary is not None
    return result, summary


def save_outputs(result: SimResult, out: Path, *, scenario_info: ScenarioInfo | None = None, charts: bool = True,
                 trace: bool = True) -> dict[str, Any]:
    """Write every file of a run whose world someone else drove (``dsim serve``); returns its summary."""
    with fewer_gc_passes():
        return _write(result, out, scenario_info, charts=charts, trace=trace)


def build_world(resolved: Resolved, *, seed: int | None = None, link_samples: float | None = None,
                recorder: Recorder | None = None) -> World:
    """The world of one run, wired and checked before time 0: built here for ``run`` and for ``dsim serve``,
    which drives its clock in real time and ends through ``save_outputs``. ``link_samples``: measure link
    loads about that often (simulated seconds) for the bandwidth chart. ``recorder``: as for ``World``."""
    from dsim.world import World

    return World(resolved, seed=seed, link_samples=link_samples, recorder=recorder)


def _run(resolved: Resolved, *, seed: int | None, out: Path | None, charts: bool, trace: bool,
         scenario_info: ScenarioInfo | None, progress: Console | None, summarise: bool,
         outputs: Collection[str] | None = None, writers: int | None = 1) -> tuple[SimResult, dict[str, Any] | None]:
    # a run and its reports keep every span: collect less often, from before the world is built to after
    # its files are written (dsim/gc_tuning.py)
    if out is not None:  # a folder dsim cannot write or must not replace is refused before the run
        from dsim.reports.outdir import check_out_dir

        check_out_dir(out)
    with fewer_gc_passes():
        world = build_world(resolved, seed=seed, link_samples=LINK_SAMPLE_S if out is not None else None)
        with _progress_bar(world, progress):
            result = world.run()
        if out is not None:
            if scenario_info is None:
                from dsim.reports.context import ScenarioInfo

                scenario_info = ScenarioInfo.from_resolved(resolved)
            return result, _write(result, out, scenario_info, charts=charts, trace=trace, outputs=outputs,
                                  writers=writers)
        return result, result.summary() if summarise else None


def _write(result: SimResult, out: Path, scenario_info: ScenarioInfo | None, *, charts: bool, trace: bool,
           outputs: Collection[str] | None = None, writers: int | None = 1) -> dict[str, Any]:
    from dsim.reports.outputs import OUTPUTS, write_run_outputs

    summary = result.summary()
    write_run_outputs(result, out, summary, scenario_info, charts=charts, trace=trace,
                      outputs=OUTPUTS if outputs is None else outputs, writers=writers)
    return summary


@contextmanager
def _progress_bar(world: World, console: Console | None) -> Iterator[None]:
    """The terminal bar of a long run (dsim.reports.progress: it reads the world from a thread and
    schedules nothing, so the run is the same with or without it)."""
    if console is None:
        yield
        return
    from dsim.reports.progress import progress_bar

    resolved = world.resolved
    with progress_bar(lambda: (world.env.now, len(world.recorder.jobs)), console=console,
                      expected_jobs=sum(resolved.job_counts.values()), until=resolved.until):
        yield
