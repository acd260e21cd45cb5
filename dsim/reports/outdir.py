"""A run's results folder (docs/reports.md: Output files): checked before the run, written whole.

A run's files are written into a staging folder beside ``--out`` (same parent, so the same file system)
and moved into place by ``rename`` while an exclusive ``flock`` on the parent folder is held: a new
``--out`` is the staging folder renamed; in an existing one each of dsim's files is replaced by one
rename, and dsim's files this run did not write (an earlier run's charts/ when this one has --no-charts)
are removed. Runs into one folder at the same time: the last to finish wins, whole, never a mix.

dsim replaces only its own files: anything else in ``--out`` (a log the caller redirected there) stays;
a charts/ holding anything but charts is refused (exit 2), never emptied.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import tempfile
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
    # the permission bits do not say it all (root passes them; /proc, a read-only mount): make a folder there
    try:
        probe = tempfile.mkdtemp(prefix=".dsim-probe-", dir=ancestor)
    except OSError as err:
        raise UsageError(f"{option} {out}: cannot create anything in {ancestor} ({err.strerror})") from None
    os.rmdir(probe)


def _not_replaceable(out: Path) -> str:
    """Why dsim must not write its results into the existing ``out`` ('' when it may). Files of others in
    the folder (a log the caller redirected there, notes) stay as they are; a ``charts`` that holds
    anything but charts is not dsim's to replace."""
    if not out.is_dir():
        return "exists and is not a folder"
    charts = out / "charts"
    if charts.exists() and (not charts.is_dir() or any(chart.suffix != ".png" or not chart.is_file()
                                                       for chart in charts.iterdir())):
        return "its charts/ holds something dsim did not write (dsim replaces only its own results)"
    clash = [name for name in sorted(RUN_FILES - {"charts"}) if (out / name).exists() and not (out / name).is_file()]
    if clash:
        return f"{clash[0]!r} there is not a file (dsim replaces only its own results)"
    if not os.access(out, os.W_OK):
        return "the folder is read-only"
    return ""


def write_whole(out: Path, write: Callable[[Path], list[Path]]) -> list[Path]:
    """``write`` the run's files into a fresh staging folder beside ``out``, then move them into place under
    an exclusive lock, so two runs never mix: a new ``out`` is the staging folder renamed; into an existing
    one each of dsim's files is replaced by rename and dsim's files this run did not write (a report of an
    earlier run with charts) are removed. Nothing else in ``out`` is touched. Returns the written paths under
    ``out``. On any failure the staging folder is deleted and ``out`` is left as it was."""
    target = out.resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = _fresh_dir(target, "new")
    try:
        written = write(staging)
        with _locked(target.parent):
            if not target.exists():
                os.rename(staging, target)
            else:
                problem = _not_replaceable(target)
                if problem:  # appeared while this run was simulated
                    raise UsageError(f"--out {out}: {problem}")
                _replace_results(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(staging, ignore_errors=True)
    return [out / path.relative_to(staging) for path in written]


def _replace_results(staging: Path, target: Path) -> None:
    """dsim's files in ``target`` become those of ``staging`` (each by one rename; charts/ as a folder)."""
    for name in sorted(RUN_FILES):
        new, old = staging / name, target / name
        if new.is_dir():
            aside = _fresh_name(target, "old") if old.exists() else None
            if aside is not None:
                os.rename(old, aside)
            os.rename(new, old)
            if aside is not None:
                shutil.rmtree(aside, ignore_errors=True)
        elif new.exists():
            os.replace(new, old)
        elif old.is_dir():
            shutil.rmtree(old)
        elif old.exists():
            old.unlink()


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
