"""Fuzz the command line's contract (issue 17): hostile scenarios and command lines, never a crash.

Every case runs ``python -m dsim ...`` in a subprocess with a temporary HOME and working directory, a
timeout and 2 GiB of address space (tests/fuzz_support.py), and asserts: exit 0, or exit 2 with exactly one
stderr line ``dsim: error: ...`` (``dsim: error: FILE:LINE:COLUMN: ...`` when the scenario is at fault);
never exit 1 on an input, a traceback, a Python exception name, a hang, a file created or changed outside
the output folder (the sandbox and scenarios/ are compared before and after), nor, after exit 0, a
missing or torn output (summary.json strict JSON without NaN/Infinity, CSV rows as wide as their header).

Inputs (tests/fuzz_mutations.py): the small example scenarios with one to three hostile edits (a value
replaced by 0, -1, 1e400, .inf, .nan, 10^9, a boolean, an empty string, a name with ``/`` or ``..``,
``:smile:``, a path to /dev/zero, /etc/passwd, a FIFO, a binary file, a YAML tag, a billion-laughs
sequence; a key deleted, duplicated, renamed or an unknown one added), and command lines for every command
with hostile arguments and options (``--seed abc``, ``--out`` to a file, under a file, /dev/null, a
read-only directory, unknown options, a FIFO or binary file as the input).

Hypothesis is derandomized (the same cases every run) and the case counts are small so the whole file takes
about a minute and a half on CI. For a long local hunt raise them with ``DSIM_FUZZ_EXAMPLES=N`` (examples
per test, default below; e.g. ``DSIM_FUZZ_EXAMPLES=500 python -m pytest tests/test_fuzz_inputs.py``) and
``DSIM_FUZZ_SEED=K`` to draw another derandomized series; ``DSIM_FUZZ_TIMEOUT`` sets the per-case timeout
(seconds, default 20).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, seed, settings
from hypothesis import strategies as st

from tests.fuzz_mutations import RUNNABLE, Mutated, mutated_scenarios
from tests.fuzz_support import (
    SCENARIOS,
    Outcome,
    Sandbox,
    changed_outside,
    contract_violations,
    output_problems,
    sandbox,
    snapshot,
)

FAST = {"validate": 30, "run": 8, "commands": 45}


def examples(kind: str) -> int:
    return int(os.environ.get("DSIM_FUZZ_EXAMPLES", FAST[kind]))


FUZZ_SEED = int(os.environ.get("DSIM_FUZZ_SEED", "17"))


def fuzz_settings(kind: str) -> settings:
    return settings(max_examples=examples(kind), deadline=None, derandomize=FUZZ_SEED == 17,
                    suppress_health_check=list(HealthCheck), database=None)


RUN_OUTPUTS = ["summary.json", "jobs.csv", "spans.csv"]
SWEEP_OUTPUTS = ["sweep.csv", "runs.csv"]


def violations(box: Sandbox, args: list[str], *, allowed: list[Path], scenario_at_fault: str | None = None,
               outputs: tuple[Path, list[str]] | None = None, must_fail: bool = False) -> tuple[Outcome, list[str]]:
    """Run one case in BOX: what it did and how it broke the contract (nothing when it kept it)."""
    watched = (box.root, SCENARIOS)  # the whole sandbox (HOME, TMPDIR, the working directory) and scenarios/
    before = snapshot(*watched)
    outcome = box.run(args)
    after = snapshot(*watched)
    problems = contract_violations(outcome, scenario_at_fault=scenario_at_fault)
    outside = changed_outside(before, after, [*allowed, box.root / "mpl"])  # mpl: matplotlib's own cache
    problems += [f"wrote outside the output folder: {p}" for p in outside]
    if outcome.code == 0 and must_fail:
        problems.append("accepted a scenario that must be refused (duplicate key or unknown field)")
    if outcome.code == 0 and outputs is not None:
        problems += output_problems(*outputs)
    return outcome, problems


def check(box: Sandbox, args: list[str], *, label: str = "", **expect: Any) -> None:
    """Run one case in BOX and assert the contract; the failure message is the minimal reproducer."""
    outcome, problems = REPORT(box, args, label=label, **expect)
    assert not problems, f"{label}\n{outcome.describe()}\n  broken: {'; '.join(problems)}"


def _plain(box: Sandbox, args: list[str], *, label: str = "", **expect: Any) -> tuple[Outcome, list[str]]:
    return violations(box, args, **expect)


REPORT = _plain  # tests/fuzz_hunt.py swaps in a collector that records every failure instead of stopping


def write_scenario(box: Sandbox, mutated: Mutated) -> str:
    """The mutated scenario beside the examples (so dockerfiles/ resolve), its hostile file names filled in."""
    text = mutated.text
    for name, path in box.files.items():
        text = text.replace("{" + name + "}", str(path))
    (box.work / "scenarios" / "fuzzed.yaml").write_text(text, encoding="utf-8")
    return "scenarios/fuzzed.yaml"


def scenario_label(mutated: Mutated) -> str:
    return f"scenario {mutated.base}.yaml with: {'; '.join(mutated.ops)}\n--- fuzzed.yaml ---\n{mutated.text[:3000]}"


@seed(FUZZ_SEED)
@fuzz_settings("validate")
@given(mutated=mutated_scenarios())
def test_validate_mutated_scenario(mutated: Mutated) -> None:
    with sandbox() as box:
        name = write_scenario(box, mutated)
        check(box, ["validate", name], allowed=[], scenario_at_fault=name, must_fail=mutated.must_fail,
              label=scenario_label(mutated))


ESCAPING_NAME = Mutated("hello-nginx", (SCENARIOS / "hello-nginx.yaml").read_text().replace(
    "name: hello-nginx", "name: ../../escape"), ["name = ../../escape (default --out is results/<name>/)"])


@seed(FUZZ_SEED)
@fuzz_settings("run")
@example(mutated=ESCAPING_NAME, default_out=True)
@given(mutated=mutated_scenarios(RUNNABLE, until="5m"), default_out=st.booleans())
def test_run_mutated_scenario(mutated: Mutated, default_out: bool) -> None:
    """``run`` writes its outputs only into --out (or results/<name>/), whole, or refuses with one line."""
    with sandbox() as box:
        name = write_scenario(box, mutated)
        args = ["run", name, "--no-charts", "--no-trace", "-q"]
        if not default_out:
            args += ["--out", "out/run"]
        outputs = None if default_out else (box.out / "run", RUN_OUTPUTS)
        check(box, args, allowed=[box.out, box.work / "results"], scenario_at_fault=name, outputs=outputs,
              must_fail=mutated.must_fail, label=scenario_label(mutated))


# ---- command lines ----------------------------------------------------------------------------------------

SCENARIO = "scenarios/hello-nginx.yaml"
HOSTILE_INPUTS = ["{fifo}", "{binary}", "{empty}", "{dir}", "{file}", "nope.yaml", "", "-", "/dev/zero",
                  "/etc/passwd", "/proc/self/mem", "scenarios/sweeps/ci-capacity.sweep.yaml",
                  "scenarios/dockerfiles/ci.Dockerfile", "{badsummary}"]
HOSTILE_OUTS = ["{file}", "{file}/sub", "/dev/null", "{readonly}/x", "", "{dir}", "{fifo}", "out/a/../../../esc",
                "scenarios", "scenarios/hello-nginx.yaml"]
COMMON = [["--bogus"], ["-Z"], ["--seed", "abc"], ["--seed", "-1"], ["--seed", "1e400"],
          ["--seed", "99999999999999999999999999"], ["--set", "hosts.laptop.cpus=abc"], ["--set", "nope.x=1"],
          ["--set", "="], ["--set", "hosts"], ["--set", "hosts.laptop.cpus=1e400"],
          ["--set", "name=../../escape"], ["--set", "hosts.laptop.count=1000000000"], ["--json"], ["--help"],
          ["extra-argument"]]
SPECIFIC: dict[str, list[list[str]]] = {
    "run": [["--no-charts"], ["--no-trace"]],
    "explain": [["--job", "0"], ["--job", "-1"], ["--job", "9999"], ["--job", "abc"]],
    "sweep": [["-n", "0"], ["-n", "-1"], ["-n", "1000000000"], ["--vary", "hosts.laptop.cpus="],
              ["--vary", "x"], ["--vary", "hosts.laptop.cpus=1,1"], ["--vary", "hosts.laptop.cpus=0,-1"],
              ["-j", "0"], ["-j", "100000"], ["--metric", "nope"], ["--resume"], ["--dask", "tcp://127.0.0.1:1"]],
    "dockerfile plan": [["--target", "nope"], ["--build-arg", "X"], ["--build-arg", "="], ["--json"]],
    "compare": [["--no-html"]],
    "schema": [["--markdown"]],
}


@dataclass
class CommandCase:
    """One command line (with {hostile} names), where it may write and which outputs must be whole."""

    args: list[str]
    out_dir: str | None = None  # the folder whose RUN/SWEEP outputs must be complete after exit 0
    expected: list[str] = field(default_factory=list)


def base_case(command: str) -> CommandCase:
    if command == "run":
        return CommandCase(["run", SCENARIO, "--no-charts", "--no-trace", "-q", "--out", "out/run"],
                           "out/run", RUN_OUTPUTS)
    if command == "sweep":
        return CommandCase(["sweep", SCENARIO, "--vary", "hosts.laptop.cpus=2,4", "-n", "1", "-j", "1",
                            "--no-charts", "-q", "--out", "out/sweep"], "out/sweep", SWEEP_OUTPUTS)
    if command == "graph":
        return CommandCase(["graph", SCENARIO, "--out", "out/topology.svg"])
    if command == "explain":
        return CommandCase(["explain", SCENARIO, "--job", "1"])
    if command == "compare":
        return CommandCase(["compare", "{run1}", "{run1}", "--out", "out/compare.html"])
    if command == "dockerfile plan":
        return CommandCase(["dockerfile", "plan", "scenarios/dockerfiles/multi-stage.Dockerfile"])
    if command == "schema":
        return CommandCase(["schema"])
    return CommandCase(["validate", SCENARIO])


INPUT_POSITION = {"run": 1, "validate": 1, "graph": 1, "explain": 1, "sweep": 1, "compare": 1,
                  "dockerfile plan": 2}


@st.composite
def command_cases(draw: st.DrawFn) -> CommandCase:
    command = draw(st.sampled_from(["run", "validate", "graph", "explain", "compare", "sweep",
                                    "dockerfile plan", "schema"]))
    case = base_case(command)
    for _ in range(draw(st.integers(1, 2))):
        kind = draw(st.sampled_from(["input", "out", "option", "option"]))
        if kind == "input" and command in INPUT_POSITION:
            case.args[INPUT_POSITION[command]] = draw(st.sampled_from(HOSTILE_INPUTS))
        elif kind == "out" and command not in ("validate", "schema", "dockerfile plan"):
            target = draw(st.sampled_from(HOSTILE_OUTS))
            case.args += ["--out", target]
            case.out_dir = None  # a hostile --out: the case passes when refused or written there whole
        else:
            case.args += draw(st.sampled_from(COMMON + SPECIFIC.get(command, [])))
    return case


RUN_DIR_CACHE: dict[str, Path] = {}


def one_run_dir(box: Sandbox) -> Path:
    """A finished run's --out folder (made once per session) copied into BOX, for compare."""
    if "run1" not in RUN_DIR_CACHE:
        outcome = box.run(["run", SCENARIO, "--no-charts", "--no-trace", "-q", "--out", "out/made"])
        assert outcome.code == 0, outcome.describe()
        keep = Path(os.environ.get("TMPDIR", "/tmp")) / f"dsim-fuzz-run1-{os.getpid()}"
        shutil.rmtree(keep, ignore_errors=True)
        shutil.copytree(box.out / "made", keep)
        shutil.rmtree(box.out / "made")
        RUN_DIR_CACHE["run1"] = keep
    target = box.work / "hostile" / "run1"
    shutil.copytree(RUN_DIR_CACHE["run1"], target)
    return target


@seed(FUZZ_SEED)
@fuzz_settings("commands")
@given(case=command_cases())
def test_command_line(case: CommandCase) -> None:
    with sandbox() as box:
        box.files["run1"] = one_run_dir(box) if "{run1}" in case.args else box.work / "hostile" / "run1"
        args = [a.format(**{k: str(v) for k, v in box.files.items()}) for a in case.args]
        outs = [Path(args[i + 1]) for i, a in enumerate(args[:-1]) if a in ("--out", "-o")]
        named = [Path(os.path.normpath(p if p.is_absolute() else box.work / p)) for p in outs]
        allowed = [box.out, box.work / "results", box.work / "topology.png", box.work / "compare.html", *named]
        if args[0] == "compare":  # the page's CDF chart goes beside the page (README "Commands")
            allowed += [p.with_name(p.stem + "_cdf.png") for p in (box.work / "compare.html", *named)]
        outputs = (box.work / case.out_dir, case.expected) if case.out_dir else None
        if "--help" in args:  # click's --help is eager: wherever it stands, usage is printed and nothing runs
            outputs = None
        check(box, args, allowed=allowed, outputs=outputs, label=f"command line: {args}")


@pytest.fixture(autouse=True, scope="module")
def _forget_run_dir() -> object:
    yield
    for path in RUN_DIR_CACHE.values():
        shutil.rmtree(path, ignore_errors=True)
    RUN_DIR_CACHE.clear()
