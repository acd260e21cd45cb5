"""A long local hunt with the fuzz test's cases: every failure recorded and grouped, not the first one only.

    PYTHONPATH=$PWD python -m tests.fuzz_hunt [EXAMPLES_PER_TEST] [TEST_NAME_SUBSTRING]

runs tests/test_fuzz_inputs.py's tests with EXAMPLES_PER_TEST examples (default 100), records each case
that breaks the contract, and prints one reproducer per failure class (the shortest command line and
scenario among that class's cases). A class is also printed to stderr when first met, so a hunt cut short by a
timeout still shows what it found. Not collected by pytest (the file name does not start with test_).
"""

from __future__ import annotations

import os
import re
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

if __name__ == "__main__":
    os.environ.setdefault("DSIM_FUZZ_EXAMPLES", sys.argv[1] if len(sys.argv) > 1 else "100")

from tests import test_fuzz_inputs as fuzz  # noqa: E402  (reads DSIM_FUZZ_EXAMPLES at import)
from tests.fuzz_support import Outcome, Sandbox  # noqa: E402

FOUND: dict[str, list[tuple[str, Outcome, list[str]]]] = defaultdict(list)


def failure_class(outcome: Outcome, problems: list[str]) -> str:
    """The same bug reached by different inputs: the command, the kinds of breakage, the message's shape."""
    kinds = sorted({re.sub(r"(: /|: \d| \d).*", "", p) for p in problems})
    first = (outcome.stderr.splitlines() or [""])[0]
    first = re.sub(r"dsim: error: \S*?:\d+:\d+: ", "dsim: error: FILE:L:C: ", first)
    shape = re.search(r"\b([A-Z][A-Za-z]*(?:Error|Exception))\b", outcome.stderr)
    message = shape.group(1) if shape else re.sub(r"[/\w.-]*/[\w./-]*|\d+", "_", first)[:70]
    return f"{outcome.args[0]} | {', '.join(kinds)} | {message}"


def collect(box: Sandbox, args: list[str], *, label: str = "", **expect: Any) -> tuple[Outcome, list[str]]:
    outcome, problems = fuzz.violations(box, args, **expect)
    if problems:
        key = failure_class(outcome, problems)
        if key not in FOUND:  # printed at once too: a hunt stopped by a timeout still shows what it found
            print(f"# new failure class: {key}\n{label}\n{outcome.describe()}", file=sys.stderr, flush=True)
        FOUND[key].append((label, outcome, problems))
    return outcome, []


def main() -> None:
    fuzz.REPORT = collect
    only = sys.argv[2] if len(sys.argv) > 2 else ""
    for name in ("test_validate_mutated_scenario", "test_run_mutated_scenario", "test_command_line"):
        if only in name:
            print(f"# {name}", file=sys.stderr, flush=True)
            getattr(fuzz, name)()
    for key, cases in sorted(FOUND.items()):
        label, outcome, problems = min(cases, key=lambda c: len(c[0]) + len(" ".join(c[1].args)))
        print(f"\n## {key}   ({len(cases)} cases)\n{label}\n{outcome.describe()}\n  broken: {'; '.join(problems)}")
    Path(os.environ.get("DSIM_FUZZ_HUNT_OUT", "/dev/null")).write_text(f"{len(FOUND)} classes\n")


if __name__ == "__main__":
    main()
