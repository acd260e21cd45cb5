"""Where runs execute: in this process, in a local process pool, or on a Dask distributed cluster.

Every executor runs the same ``run_task`` on the same tasks and yields outcomes as runs finish (in any
order); the results do not depend on the executor because a task carries everything its run depends on.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, Protocol

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


def available_cores() -> int:
    """Cores this process may use (the affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


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


class ProcessExecutor:
    """A local pool of ``workers`` processes."""

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise UsageError(f"--workers must be at least 1, got {workers}")
        self.workers = workers
        self.description = f"{workers} local worker processes"
        self._pool: ProcessPoolExecutor | None = None

    def start(self) -> None:
        """Start the workers now (``dsim sweep`` does so before its progress bar starts a thread)."""
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=_context())
            for future in [self._pool.submit(_ready) for _ in range(self.workers)]:
                future.result()

    def run(self, tasks: Sequence[RunTask]) -> Iterator[RunOutcome]:
        if not tasks:
            return
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=min(self.workers, len(tasks)), mp_context=_context())
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
    import dsim

    return dsim.__version__


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
        import dsim

        versions = self.client.run(_worker_version)
        wrong = {worker: version for worker, version in versions.items() if version != dsim.__version__}
        if wrong:
            self.client.close()
            worker, version = next(iter(wrong.items()))
            raise UsageError(f"Dask worker {worker} runs dsim {version}, this is dsim {dsim.__version__}: "
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


def make_executor(*, workers: int | None, dask: str | None) -> Executor:
    """``--dask ADDRESS``, else ``--workers N`` (default: every core; 1 runs in this process)."""
    if dask is not None:
        if workers is not None:
            raise UsageError("give --workers or --dask, not both")
        return DaskExecutor(dask)
    count = available_cores() if workers is None else workers
    if count == 1:
        return SerialExecutor()
    return ProcessExecutor(count)
