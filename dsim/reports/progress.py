"""The terminal progress bar of ``dsim run``: shown only when a run takes more than a second.

It watches the simulation from outside, from a thread that reads the clock and the count of ended jobs
a few times a second: the model schedules nothing for it, so a run with the bar is event for event the
run without it (same files, same ``events`` count). Progress is simulated time against ``until`` when the
scenario has a horizon, else jobs ended against jobs expected.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

#: Wall seconds before the bar appears (short runs print no bar at all).
SHOW_AFTER_S = 1.0
REFRESH_S = 0.1


@contextmanager
def progress_bar(read: Callable[[], tuple[float, int]], *, expected_jobs: int, until: float | None,
                 console: Console | None = None, enabled: bool = True, show_after: float = SHOW_AFTER_S
                 ) -> Iterator[None]:
    """While the body runs, show a bar fed by ``read() -> (simulated now, jobs ended)`` after ``show_after``
    wall seconds; ``enabled=False`` (``--quiet``, ``--json``, no terminal) shows nothing."""
    if not enabled:
        yield
        return
    console = console or Console(stderr=True)
    done = threading.Event()

    def watch() -> None:
        if done.wait(show_after):
            return
        by_time = until is not None and until > 0
        total = float(until) if by_time and until is not None else float(max(expected_jobs, 1))
        columns = (TextColumn("[bold]simulating[/]"), BarColumn(), TaskProgressColumn(),
                   TextColumn("{task.fields[detail]}", markup=False), TimeElapsedColumn())
        with Progress(*columns, console=console, transient=True, auto_refresh=False) as bar:
            task = bar.add_task("run", total=total, detail="")
            while True:
                now, ended = read()
                bar.update(task, completed=min(now if by_time else ended, total),
                           detail=f"t={now:,.1f}s sim, {ended:,}/{expected_jobs:,} jobs ended")
                bar.refresh()
                if done.wait(REFRESH_S):
                    break

    thread = threading.Thread(target=watch, name="dsim-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
