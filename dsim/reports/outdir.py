"""A run's results folder (docs/reports.md: Output files): checked before the run, written whole.

A run's files are written into a staging folder beside ``--out`` (same parent, so the same file system)
and moved into place by ``rename``: a reader sees the previous run's complete folder, then (after a moment
with no folder) this run's, never a mix, and no stale file of an earlier run survives (an earlier run's
charts/ when this one has --no-charts). Runs into one folder at the same time: the last to finish wins; the
swap itself is serialised by an exclusive ``flock`` on the parent folder.

dsim replaces only a folder it wrote: an existing non-empty folder that holds anything but dsim's files is
refused (exit 2), never emptied.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

from dsim.errors import UsageError

#: every name dsim writes into a results folder (charts/ holds only *.png)
RUN_FILES = frozenset({"summary.json", "jobs.csv", "spans.csv", "report.html", "trace.json", "charts"})


def check_out_dir(out: Path, option: str = "--out") -> None:
    """Refuse, before anything is simulated, a ``--out`` dsim could not write or must not replace."""
    _check_writable_place(out, option)
    if out.exists():
        problem = _not_replaceable(out)
        if problem:
            raise UsageError(f"{option} {out}: {problem}")


def check_out_folder(out: Path, option: str = "--out") -> None:
    """Refuse, before any work, a folder output that is kept and added to (``dsim sweep --out``: its store
    and reports) when it cannot be: a file or device in its place, a parent that is a file or read-only."""
    _check_writable_place(out, option)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{option} {out}: exists and is not a folder")
    if out.exists() and not os.access(out, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {out}: the folder is read-only")


def check_out_file(out: Path, option: str = "--out", suffixes: tuple[str, ...] = ()) -> None:
    """Refuse, before any work, a file output (``dsim graph -o``, ``explain -o``, ``compare -o``) that
    cannot be written: a wrong suffix, a folder or a device in its place, a parent that is a file or read-only."""
    if suffixes and out.suffix.lower() not in suffixes:
        raise UsageError(f"{option} {out}: the file must end in {' or '.join(suffixes)}")
    if out.exists() and not out.is_file():
        raise UsageError(f"{option} {out}: exists and is not a regular file")
    if out.exists() and not os.access(out, os.W_OK):
        raise UsageError(f"{option} {out}: the file is read-only")
    _check_writable_place(out, option)


def _check_writable_place(out: Path, option: str) -> None:
    """The nearest existing folder above ``out`` must be a folder dsim may create entries in."""
    ancestor = out.absolute().parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise UsageError(f"{option} {out}: {ancestor} is not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {out}: cannot write in {ancestor} (permission denied or read-only)")


def _not_replaceable(out: Path) -> str:
    """Why dsim must not replace the existing ``out`` ('' when it may)."""
    if not out.is_dir():
        return "exists and is not a folder"
    entries = sorted(entry.name for entry in out.iterdir())
    if not entries:
        return ""
    foreign = [name for name in entries if name not in RUN_FILES
               or (name == "charts") != (out / name).is_dir()
               or (name == "charts" and any(chart.suffix != ".png" or not chart.is_file()
                                            for chart in (out / name).iterdir()))]
    if foreign or "summary.json" not in entries:
        shown = foreign[0] if foreign else entries[0]
        return (f"not empty and not a dsim results folder (it holds {shown!r}); dsim replaces only its own "
                "results: choose a new or empty folder")
    if not os.access(out, os.W_OK):
        return "the folder is read-only"
    return ""


def write_whole(out: Path, write: Callable[[Path], list[Path]]) -> list[Path]:
    """``write`` the run's files into a fresh staging folder beside ``out``, then move it into place (the
    previous results folder, if any, is moved aside and deleted). Returns the written paths under ``out``.
    On any failure the staging folder is deleted and ``out`` is left as it was."""
    target = out.resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = _fresh_dir(target, "new")
    old: Path | None = None
    try:
        written = write(staging)
        with _locked(target.parent):
            if target.exists():
                problem = _not_replaceable(target)
                if problem:  # appeared while this run was simulated
                    raise UsageError(f"--out {out}: {problem}")
                if any(target.iterdir()):
                    old = _fresh_name(target, "old")
                    os.rename(target, old)
            os.rename(staging, target)  # replaces an empty folder
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return [out / path.relative_to(staging) for path in written]


def _fresh_name(target: Path, kind: str) -> Path:
    return target.with_name(f".{target.name}.dsim-{kind}-{os.getpid()}-{secrets.token_hex(4)}")


def _fresh_dir(target: Path, kind: str) -> Path:
    """A new folder beside ``target``, with the mode a plain ``mkdir`` gives (the umask's)."""
    while True:
        path = _fresh_name(target, kind)
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``folder`` (where the lock is not supported, none)."""
    try:
        import fcntl
    except ImportError:  # not POSIX
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock
