"""A run's files written by several processes at once (``dsim run --writers N``): this process and N - 1
helpers forked from it once the run has ended, each taking the next file from one list until none is left.

A big run's files take longer to write than the run took (trace.json, spans.csv, ten charts), and each file
is written from the finished run alone: forked helpers see the run as it is, without copying or pickling it
(Linux shares its memory until a page is written). The files are the same bytes whoever writes them; only the
results (paths, the charts' titles) come back through a pipe. Fork is used only where it is safe: on Linux,
from a process with one thread (a forked thread's locks stay held in the child); elsewhere this process
writes everything, in the same order.
"""

from __future__ import annotations

import multiprocessing
import pickle
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar

from dsim.cores import available_cores

T = TypeVar("T")

#: At most this many processes write a run's files by default: a run has about fifteen files to write, the
#: biggest about a third of the work, and each helper may copy pages of the run it reads.
DEFAULT_WRITERS = 4
#: A process that has held more than this writes its files alone by default: a helper copies the pages it
#: touches and holds its own charts' data beside the run (measured: +64 MiB beside 505 MiB at 100,000 container
#: jobs, +950 MiB beside 2.9 GiB at 1,000,000 streamed CI jobs with --no-trace), and a run that big is bound by
#: memory more than by the seconds its files take (docs/performance.md, "Session 37").
ALONE_ABOVE_BYTES = 1 << 30


def default_writers() -> int:
    """The CPUs this process may run on (its affinity, not the machine's count), at most ``DEFAULT_WRITERS``;
    1 once this process has held more than ``ALONE_ABOVE_BYTES`` (asked once the run has ended)."""
    if _peak_rss() > ALONE_ABOVE_BYTES:
        return 1
    return min(DEFAULT_WRITERS, available_cores())


def _peak_rss() -> int:
    """This process's largest resident set so far, in bytes (0 where the platform does not say)."""
    try:
        import resource
    except ImportError:  # Windows
        return 0
    scale = 1 if sys.platform == "darwin" else 1024  # macOS reports bytes, Linux KiB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def can_fork() -> bool:
    """Whether helpers may be forked here: Linux, and no other thread running."""
    return (sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()
            and threading.active_count() == 1)


def run_tasks(tasks: Sequence[Callable[[], T]], writers: int) -> list[T]:
    """Each task's result, in the order given. With ``writers`` > 1 (and ``can_fork``), this process and
    ``writers - 1`` forked helpers take the tasks in order, each the next one not yet taken, so the first
    (give the biggest first) start at once and the small ones fill in; else they run here, one by one.
    An error raised by a task is raised here (after the helpers have stopped)."""
    helpers = min(writers, len(tasks)) - 1
    if helpers < 1 or not can_fork():
        return [task() for task in tasks]
    context = multiprocessing.get_context("fork")
    taken = context.Value("i", 0)  # the next task's index, shared by every writer (a lock, no thread)

    def take() -> int | None:
        with taken.get_lock():
            index: int = taken.value
            taken.value = index + 1
        return index if index < len(tasks) else None

    sys.stdout.flush()  # what this process printed is not printed again by a helper's exit
    sys.stderr.flush()
    started: list[tuple[BaseProcess, Connection]] = []
    failed = True
    try:
        for _ in range(helpers):
            receive, send = context.Pipe(duplex=False)
            helper: BaseProcess = context.Process(target=_helper, args=(tasks, take, send), daemon=True)
            helper.start()
            send.close()
            started.append((helper, receive))
        results: dict[int, T] = {}
        while (index := take()) is not None:
            results[index] = tasks[index]()
        for helper, receive in started:
            results.update(_received(helper, receive))
        failed = False
    finally:
        for helper, receive in started:
            if failed and helper.is_alive():
                helper.kill()  # a task failed: the files will not be used
            helper.join()
            receive.close()
    return [results[index] for index in range(len(tasks))]


def _helper(tasks: Sequence[Callable[[], Any]], take: Callable[[], int | None], send: Connection) -> None:
    """A forked writer: the tasks it takes, then their results (or the first error) through ``send``."""
    done: list[tuple[int, Any]] = []
    try:
        while (index := take()) is not None:
            done.append((index, tasks[index]()))
    except BaseException as error:  # noqa: BLE001  # given to the parent, which raises it
        send.send(("error", _portable(error)))
    else:
        send.send(("done", done))
    finally:
        send.close()


def _received(helper: BaseProcess, receive: Connection) -> list[tuple[int, Any]]:
    """A helper's results; its error raised here, as if this process had run its task."""
    try:
        status, payload = receive.recv()
    except EOFError:
        helper.join()
        raise RuntimeError(f"a process writing the run's files ended without them (exit code {helper.exitcode})"
                           ) from None
    if status == "error":
        raise payload
    done: list[tuple[int, Any]] = payload
    return done


def _portable(error: BaseException) -> BaseException:
    """``error`` if it survives pickling, else a RuntimeError carrying its traceback's text."""
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:  # noqa: BLE001  # any failure to pickle: send the text instead
        text = "".join(traceback.format_exception(error)).rstrip()
        return RuntimeError(f"{type(error).__name__} while writing the run's files:\n{text}")
    return error
