"""Where runs execute: in this process, in a local process pool, or on a Dask distributed cluster.

Every executor runs the same ``run_task`` on the same tasks and yields outcomes as runs finish (in any
order); the results do not depend on the executor because a task carries everything its run depends on.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, Protocol

from dsim.cores import available_cores
from dsim.errors import DsimError, UsageError
from dsim.sweep.worker import RunOutcome, RunTask, run_task


class RunFailed(DsimError):
    """A run raised: names the variant, replication and seed so it can be reproduced with ``dsim run``."""

    def __init__(self, task: RunTask, error: BaseException) -> None:
        from dsim.sweep.grid import label as show

        label = " ".join(f"--set {o.path}={show(o.value)}" for o in task.overrides) or "the base scenario"
        detail = str(error) if isinstance(error, DsimError) else f"{type(error).__name__}: {error}"
        super().__init__(f"run failed ({label}, replication {task.replication}, seed {task.seed}): {detail}")
        self.exit_code = error.exit_code if isinstance(error, DsimError) else 1


class Executor(Protocol):
    description: str

    def run(self, tasks: Sequence[RunTask]) -> Iterator[RunOutcome]:
        """Yield one outcome per task as each finishes; raise RunFailed for the first run that fails."""
        ...

    def close(self) -> None: ...


class SerialExecutor:
    """Runs in this process, one after another (``--workers 1``: no process start-up, nothing to pickle)."""

    description = "1 worker (this process)"

    def run(self, tasks: Sequence[RunTask]) -> Iterator[RunOutcome]:
        for task in tasks:
            try:
                outcome = run_task(task)
            except Exception as err:
                raise RunFailed(task, err) from err
            yield outcome

    def close(self) -> None:
        pass


def _context() -> Any:
    """How worker processes start. On Linux, while this process runs no other thread: fork (a worker is
    ready in milliseconds with dsim already imported; nothing can hold a lock across the fork). Else a
    fork server that imports dsim once and forks workers from its clean state; else spawn."""
    methods = multiprocessing.get_all_start_methods()
    if sys.platform == "linux" and "fork" in methods and threading.active_count() == 1:
        import dsim.world  # noqa: F401 - imported once here rather than again in every worker

        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["dsim.sweep.worker", "dsim.run", "dsim.world", "dsim.scenarios.loader"])
        return context
    return multiprocessing.get_context("spawn")


def _ready() -> None:
    """A no-op task: its completion shows a worker process is up."""


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, killed but not yet reaped, counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rpartition(b")")[2].split()[0] != b"Z"
    except OSError:
        return True  # no /proc: os.kill is all there is


def die_with(sweep_pid: int) -> None:
    """Worker initializer: the worker dies with the sweep process, even one killed by SIGKILL (which runs no
    clean-up), rather than waiting for minutes on a pipe nobody writes.

    On Linux, ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` (man 2 prctl) makes the kernel kill the worker when its
    parent dies: the sweep process itself (fork), or the fork server, which exits as soon as the sweep
    process is gone (it reads EOF on a pipe only the sweep holds), so the guarantee holds through it. A
    parent that died before the prctl call is caught by looking at the sweep process afterwards. Elsewhere a
    daemon thread looks every second."""
    if sys.platform == "linux":
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            armed = libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
        except (OSError, AttributeError):
            armed = False
        if armed:
            if not _alive(sweep_pid):
                os._exit(1)
            return
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent and _alive(sweep_pid):
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="dsim-die-with-sweep", daemon=True).start()


_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


class ProcessExecutor:
    """A local pool of ``workers`` processes, each of which dies with this process."""

    def __init__(self, workers: int, *, note: str = "") -> None:
        if workers < 1:
            raise UsageError(f"must be at least 1, got {workers}", field="--workers")
        self.workers = workers
        self.description = f"{workers} local worker processes{note}"
        self._pool: ProcessPoolExecutor | None = None

    def _new_pool(self, workers: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=workers, mp_context=_context(), initializer=die_with,
                                   initargs=(os.getpid(),))

    def start(self) -> None:
        """Start the workers now (``dsim sweep`` does so before its progress bar starts a thread)."""
        if self._pool is None:
            self._pool = self._new_pool(self.workers)
            for future in [self._pool.submit(_ready) for _ in range(self.workers)]:
                future.result()

    def run(self, tasks: Sequence[RunTask]) -> Iterator[RunOutcome]:
        if not tasks:
            return
        if self._pool is None:
            self._pool = self._new_pool(min(self.workers, len(tasks)))
        pool = self._pool
        pending: dict[Future[RunOutcome], RunTask] = {}
        try:
            pending = {pool.submit(run_task, task): task for task in tasks}
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    task = pending.pop(future)
                    error = future.exception()
                    if error is not None:
                        raise RunFailed(task, error) from error
                    yield future.result()
        finally:
            if pending:  # stopped early: drop what has not started, leave running runs to finish
                self._pool = None
                pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


def _worker_version() -> str:
    from dsim.version import __version__

    return __version__


class DaskExecutor:
    """Sends runs to a Dask distributed scheduler (``pip install 'dsim[dask]'``)."""

    def __init__(self, address: str, *, timeout: float = 20.0) -> None:
        try:
            from distributed import Client
        except ImportError:
            raise UsageError("--dask needs Dask: pip install 'dsim[dask]'") from None
        try:
            self.client = Client(address, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError) as err:
            raise DsimError(f"cannot reach the Dask scheduler at {address}: {err}") from None
        from dsim.version import __version__

        versions = self.client.run(_worker_version)
        wrong = {worker: version for worker, version in versions.items() if version != __version__}
        if wrong:
            self.client.close()
            worker, version = next(iter(wrong.items()))
            raise UsageError(f"Dask worker {worker} runs dsim {version}, this is dsim {__version__}: "
                             "results would differ; install the same dsim on every worker")
        if not versions:
            self.client.close()
            raise DsimError(f"the Dask scheduler at {address} has no workers")
        self.description = f"Dask at {address} ({len(versions)} workers)"

    def run(self, tasks: Sequence[RunTask]) -> Iterator[RunOutcome]:
        from distributed import as_completed

        if not tasks:
            return
        futures = self.client.map(run_task, list(tasks), pure=False)
        by_key = {future.key: task for future, task in zip(futures, tasks, strict=True)}
        try:
            for future in as_completed(futures, loop=self.client.loop):
                if future.status == "error":
                    error = future.exception()
                    raise RunFailed(by_key[future.key], error) from error
                yield future.result()
        finally:
            self.client.cancel(futures)

    def close(self) -> None:
        self.client.close()


def make_executor(*, workers: int | None, dask: str | None, runs: int | None = None) -> Executor:
    """``--dask ADDRESS``, else ``--workers N`` (default: every core; 1 runs in this process).

    Local workers are capped at the cores this process may use and at ``runs`` (the sweep's number of
    runs): more processes than either would only wait, each holding its own copy of the model."""
    if workers is not None and workers < 1:
        raise UsageError(f"must be at least 1, got {workers}", field="--workers")
    if dask is not None:
        if workers is not None:
            raise UsageError("give --workers or --dask, not both")
        return DaskExecutor(dask)
    cores = available_cores()
    count = min(cores if workers is None else workers, cores, runs if runs is not None else cores)
    note = ""
    if workers is not None and count < workers:
        reason = f"{runs} runs" if runs is not None and runs < cores else f"{cores} cores"
        note = f" (--workers {workers} capped at {reason})"
    if count == 1:
        serial = SerialExecutor()
        serial.description += note
        return serial
    return ProcessExecutor(count, note=note)
