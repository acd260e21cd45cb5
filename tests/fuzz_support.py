"""The fuzz test's machinery: a sandbox per case, `python -m dsim` in a bounded subprocess, the contract check.

The contract (README "Commands", issue 17): every command exits 0, or exits 2 with ONE stderr line
``dsim: error: ...`` (naming ``file:line:column:`` when a scenario is at fault); never a traceback, a
Python exception name, a hang, a file written outside the output folder, or a torn output. Used by
tests/test_fuzz_inputs.py.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
TIMEOUT_S = float(os.environ.get("DSIM_FUZZ_TIMEOUT", "20"))
MEMORY_BYTES = 2 * 1024**3  # 2 GiB of address space per case: a loop that allocates without end dies, not the CI box
FILE_BYTES = 256 * 1024**2  # no output of these small cases comes near 256 MiB; a runaway writer gets SIGXFSZ

ERROR_PREFIX = "dsim: error: "
# a Python exception's name leaking into the message, e.g. "ValueError: ..." or "(KeyError)"
EXCEPTION_NAME = re.compile(r"\b[A-Z][A-Za-z]*(?:Error|Exception)\b")


def limit_resources() -> None:
    """preexec_fn of every case: bounded memory, file size and CPU time, its own session (killable as one)."""
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_BYTES, FILE_BYTES))
    cpu = int(TIMEOUT_S) + 5
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    os.setsid()


@dataclass
class Outcome:
    """What one `python -m dsim` case did."""

    args: list[str]
    code: int | None  # None: killed at the timeout
    stdout: str
    stderr: str

    def describe(self) -> str:
        lines = self.stderr.splitlines()
        first, last = (lines[0], lines[-1]) if lines else ("", "")
        return (f"dsim {' '.join(self.args)}\n  exit {self.code}; stderr {len(lines)} lines\n"
                f"  first: {first[:300]}\n  last:  {last[:300]}")


@dataclass
class Sandbox:
    """A temporary HOME and working directory holding a copy of the inputs, plus hostile files to point at."""

    root: Path
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def work(self) -> Path:
        return self.root / "work"

    @property
    def out(self) -> Path:
        return self.work / "out"

    def run(self, args: Sequence[str], *, timeout: float = TIMEOUT_S) -> Outcome:
        """`python -m dsim ARGS` in the sandbox, bounded in time, memory, file size and CPU."""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.root / "home"),
            "TMPDIR": str(self.root / "tmp"),
            "MPLCONFIGDIR": str(self.root / "mpl"),
            "MPLBACKEND": "Agg",
            "PYTHONPATH": str(ROOT),
            "PYTHONDONTWRITEBYTECODE": "1",
            "LC_ALL": "C.UTF-8",
            "COLUMNS": "100",
        }
        proc = subprocess.Popen([sys.executable, "-m", "dsim", *args], cwd=self.work, env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                preexec_fn=limit_resources)
        try:
            out, err = proc.communicate(timeout=timeout)
            code: int | None = proc.returncode
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)  # the case's own session (setsid above): this process and its children only
            out, err = proc.communicate()
            code = None
        return Outcome(list(args), code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))


@contextmanager
def sandbox() -> Iterator[Sandbox]:
    """A fresh sandbox: scenarios/ copied (with dockerfiles/ and sweeps/), hostile files, an empty out/."""
    root = Path(tempfile.mkdtemp(prefix="dsim-fuzz-"))
    try:
        box = Sandbox(root)
        for sub in ("home", "tmp", "mpl", "work"):
            (root / sub).mkdir()
        shutil.copytree(SCENARIOS, box.work / "scenarios")
        hostile = box.work / "hostile"
        hostile.mkdir()
        box.files["fifo"] = hostile / "fifo"
        os.mkfifo(box.files["fifo"])
        box.files["binary"] = hostile / "binary.yaml"
        box.files["binary"].write_bytes(bytes(range(256)) * 8)
        box.files["empty"] = hostile / "empty.yaml"
        box.files["empty"].write_bytes(b"")
        box.files["file"] = hostile / "plain.txt"
        box.files["file"].write_text("not a directory\n")
        box.files["dir"] = hostile / "adir"
        box.files["dir"].mkdir()
        box.files["readonly"] = hostile / "readonly"
        box.files["readonly"].mkdir(mode=0o555)
        box.files["badsummary"] = hostile / "badrun"
        box.files["badsummary"].mkdir()
        (box.files["badsummary"] / "summary.json").write_text('{"makespan_s": NaN, "jobs": ')
        yield box
    finally:
        (root / "work" / "hostile" / "readonly").chmod(0o755) if (root / "work" / "hostile").exists() else None
        shutil.rmtree(root, ignore_errors=True)


Snapshot = dict[str, tuple[int, int, int]]


def snapshot(*roots: Path) -> Snapshot:
    """Every file and directory under ROOTS: (kind, size, mtime_ns), keyed by path."""
    seen: Snapshot = {}
    for top in roots:
        for dirpath, dirnames, filenames in os.walk(top):
            for name in dirnames + filenames:
                path = os.path.join(dirpath, name)
                st = os.lstat(path)
                is_file = name in filenames  # a directory counts by existence: a new file inside it is seen itself
                seen[path] = (st.st_mode >> 12, st.st_size if is_file else 0, st.st_mtime_ns if is_file else 0)
    return seen


def changed_outside(before: Snapshot, after: Snapshot, allowed: Sequence[Path]) -> list[str]:
    """Paths created, changed or removed that are not under (or equal to) one of ALLOWED."""
    prefixes = [str(p) for p in allowed]

    def inside(path: str) -> bool:
        return any(path == p or path.startswith(p.rstrip("/") + "/") for p in prefixes)

    diff = {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}
    return sorted(p for p in diff if not inside(p))


def strict_json(text: str) -> object:
    """json.loads that refuses NaN and Infinity (what allow_nan=False would not have written)."""
    def refuse(token: str) -> object:
        raise ValueError(f"non-finite number {token} in JSON")
    return json.loads(text, parse_constant=refuse)


def csv_problems(path: Path) -> list[str]:
    """A torn or ragged CSV: no header, a row with another field count, no final newline."""
    text = path.read_text(encoding="utf-8")
    if not text:
        return [f"{path.name}: empty"]
    problems = [] if text.endswith("\n") else [f"{path.name}: no final newline (torn?)"]
    rows = list(csv.reader(io.StringIO(text)))
    width = len(rows[0])
    problems += [f"{path.name}: row {n} has {len(r)} fields, header {width}"
                 for n, r in enumerate(rows[1:], 2) if len(r) != width]
    return problems[:3]


def output_problems(out: Path, expected: Sequence[str]) -> list[str]:
    """What is missing, torn or invalid in a run/sweep output folder that exited 0."""
    problems: list[str] = []
    for name in expected:
        path = out / name
        if not path.is_file():
            problems.append(f"{name}: missing")
        elif name.endswith(".json"):
            try:
                strict_json(path.read_text(encoding="utf-8"))
            except ValueError as err:
                problems.append(f"{name}: {err}")
        elif name.endswith(".csv"):
            problems += csv_problems(path)
    leftovers = [p.name for p in out.rglob("*") if p.name.endswith((".tmp", ".part", "~")) or p.name.startswith(".")]
    problems += [f"leftover temporary file {n}" for n in leftovers]
    return problems


def contract_violations(outcome: Outcome, *, scenario_at_fault: str | None = None) -> list[str]:
    """How OUTCOME breaks the command-line contract (empty when it keeps it).

    SCENARIO_AT_FAULT: the scenario file's name as written on the command line, when the case is known to be
    a scenario error (its one line must then start ``dsim: error: NAME:LINE:COLUMN: ``)."""
    bad: list[str] = []
    lines = outcome.stderr.splitlines()
    if outcome.code is None:
        return [f"hang: no exit within {TIMEOUT_S:g} s"]
    if "Traceback (most recent call last)" in outcome.stderr:
        bad.append("traceback on stderr")
    if outcome.code < 0:
        bad.append(f"killed by signal {-outcome.code} (memory, file size or CPU limit?)")
    elif outcome.code == 1:
        bad.append("exit 1 on an input error (exit 1 is for a failing simulation)")
    elif outcome.code not in (0, 2):
        bad.append(f"exit {outcome.code}")
    if outcome.code == 2:
        if len(lines) != 1:
            bad.append(f"exit 2 with {len(lines)} stderr lines, not one")
        if not lines or not lines[0].startswith(ERROR_PREFIX):
            bad.append("exit 2 without a 'dsim: error: ' line")
        elif scenario_at_fault is not None and not re.match(
                re.escape(ERROR_PREFIX + scenario_at_fault) + r":\d+:\d+: ", lines[0]):
            bad.append("scenario error not naming file:line:column")
    if outcome.code in (1, 2) and EXCEPTION_NAME.search(outcome.stderr):
        bad.append("Python exception name in the message")
    return bad
