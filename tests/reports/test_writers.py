"""Files written by several processes at once (dsim.reports.writers, ``dsim run --writers``): every task once,
results in the order given, a helper's error raised in the caller, and the same files whoever writes them."""

from __future__ import annotations

import os
import resource
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dsim.cli import app
from dsim.reports import outputs, writers
from dsim.reports.writers import can_fork, default_writers, run_tasks

pytestmark = pytest.mark.skipif(not can_fork(), reason="forked writers need Linux and a process with one thread")


@pytest.fixture
def forking() -> None:
    """Helpers can be forked now (a test run earlier may have left a thread running: then no writer forks)."""
    if not can_fork():
        pytest.skip("another thread is running in this process, so no writer is forked")

PARENT = os.getpid()


def _slow(index: int) -> Callable[[], tuple[int, int]]:
    """A task taking long enough that a helper started meanwhile takes some of the others."""
    def task() -> tuple[int, int]:
        time.sleep(0.15)
        return index, os.getpid()
    return task


def test_every_task_once_in_order_shared_with_a_helper(forking: None) -> None:
    done = run_tasks([_slow(i) for i in range(6)], writers=2)
    assert [index for index, _ in done] == list(range(6))
    pids = {pid for _, pid in done}
    assert PARENT in pids and len(pids) == 2  # this process and one helper took tasks


def test_one_writer_runs_everything_here() -> None:
    done = run_tasks([_slow(i) for i in range(3)], writers=1)
    assert done == [(0, PARENT), (1, PARENT), (2, PARENT)]


def _fails_in_a_helper(error: BaseException) -> Callable[[], int]:
    def task() -> int:
        if os.getpid() == PARENT:
            time.sleep(0.3)  # the helper takes the next task meanwhile
            return 0
        raise error
    return task


def test_a_helpers_error_is_raised_here_with_its_type(forking: None) -> None:
    with pytest.raises(ValueError, match="boom"):
        run_tasks([_fails_in_a_helper(ValueError("boom")) for _ in range(3)], writers=2)


class _Unpicklable(Exception):
    def __init__(self, why: str, lock: object) -> None:
        super().__init__(why)
        self.lock = lock

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("not picklable")


def test_an_error_that_cannot_travel_comes_back_as_its_traceback(forking: None) -> None:
    with pytest.raises(RuntimeError, match=r"_Unpicklable while writing the run's files:(.|\n)*cannot travel"):
        run_tasks([_fails_in_a_helper(_Unpicklable("cannot travel", threading.Lock())) for _ in range(3)], writers=2)


def test_a_helper_that_dies_is_an_error_naming_its_exit_code(forking: None) -> None:
    def task() -> int:
        if os.getpid() == PARENT:
            time.sleep(0.3)
            return 0
        os._exit(3)
    with pytest.raises(RuntimeError, match="exit code 3"):
        run_tasks([task, task, task], writers=2)


def test_no_helper_while_another_thread_runs() -> None:
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        done = run_tasks([_slow(i) for i in range(3)], writers=3)
    finally:
        stop.set()
        other.join()
    assert {pid for _, pid in done} == {PARENT}


def test_default_writers_is_the_usable_cpus_at_most_four(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writers, "ALONE_ABOVE_BYTES", 1 << 60)
    assert default_writers() == max(1, min(4, len(os.sched_getaffinity(0))))


def test_a_process_that_held_more_than_the_limit_writes_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    monkeypatch.setattr(writers, "ALONE_ABOVE_BYTES", peak - 1)
    assert default_writers() == 1
    monkeypatch.setattr(writers, "ALONE_ABOVE_BYTES", peak + (1 << 30))
    assert default_writers() == max(1, min(4, len(os.sched_getaffinity(0))))


def test_dsim_run_writes_alone_by_default_after_a_big_run(monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    # the default is decided once the run has ended, from the memory it took: here every run is "big"
    asked: list[int] = []
    real = writers.run_tasks

    def recording(tasks: list[Callable[[], object]], count: int) -> list[object]:
        asked.append(count)
        return real(tasks, count)

    monkeypatch.setattr(outputs, "run_tasks", recording)
    monkeypatch.setattr(outputs, "can_fork", lambda: True)  # the count asked for, whatever threads run now
    monkeypatch.setattr(writers, "ALONE_ABOVE_BYTES", 0)  # every process has held more than that
    scenario = Path(__file__).resolve().parents[2] / "scenarios" / "hello-nginx.yaml"
    result = CliRunner().invoke(app, ["run", str(scenario), "-q", "-o", str(tmp_path / "a")])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(app, ["run", str(scenario), "-q", "-o", str(tmp_path / "b"), "--writers", "3"])
    assert result.exit_code == 0, result.output
    assert asked == [1, 3]


def test_the_files_are_the_same_bytes_whoever_writes_them(tmp_path: Path) -> None:
    scenario = Path(__file__).resolve().parents[2] / "scenarios" / "compose-build.yaml"
    runner = CliRunner()
    for count in (1, 3):
        result = runner.invoke(app, ["run", str(scenario), "-q", "-o", str(tmp_path / str(count)),
                                     "--writers", str(count)])
        assert result.exit_code == 0, result.output
    one = sorted(p.relative_to(tmp_path / "1") for p in (tmp_path / "1").rglob("*") if p.is_file())
    three = sorted(p.relative_to(tmp_path / "3") for p in (tmp_path / "3").rglob("*") if p.is_file())
    assert one == three and len(one) > 5
    for name in one:
        if name.name != "summary.json":  # its wall_s differs
            assert (tmp_path / "1" / name).read_bytes() == (tmp_path / "3" / name).read_bytes(), name


def test_zero_writers_is_refused(tmp_path: Path) -> None:
    scenario = Path(__file__).resolve().parents[2] / "scenarios" / "hello-nginx.yaml"
    result = CliRunner().invoke(app, ["run", str(scenario), "-q", "-o", str(tmp_path), "--writers", "0"])
    assert result.exit_code == 2
    assert "--writers" in result.output
