"""Hypothesis strategies for the fuzz test: hostile mutations of the example scenarios, hostile command lines.

A mutation works on the parsed scenario and writes YAML text back; values the dumper cannot write as
such (``1e400``, ``.nan``, a YAML tag, a billion-laughs flow sequence, a duplicate key) go in as
placeholders replaced in the text afterwards, so the file holds exactly the hostile text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from hypothesis import strategies as st

from tests.fuzz_support import SCENARIOS

# small examples: validate in half a second, run in about one (with ``until`` bounding simulated time)
SMALL = ["hello-nginx", "port-conflict", "oom", "restart-loop", "start-storm", "warm-cache", "multi-stage"]
RUNNABLE = ["hello-nginx", "port-conflict", "oom", "restart-loop"]

LAUGHS = ("[&a [x, x, x, x, x, x, x, x, x], &b [*a, *a, *a, *a, *a, *a, *a, *a, *a], "
          "&c [*b, *b, *b, *b, *b, *b, *b, *b, *b], &d [*c, *c, *c, *c, *c, *c, *c, *c, *c], "
          "&e [*d, *d, *d, *d, *d, *d, *d, *d, *d], &f [*e, *e, *e, *e, *e, *e, *e, *e, *e], "
          "&g [*f, *f, *f, *f, *f, *f, *f, *f, *f], &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]]")

# raw YAML text for a value; {fifo} {binary} {dir} {empty} name the sandbox's hostile files
HOSTILE_VALUES = [
    "0", "-1", "1", "0.0", "-0.5", "1e400", "-1e400", ".inf", "-.inf", ".nan", "1000000000",
    "100000000000000000000000000000", "true", "false", "null", "~", "''", "' '", "[]", "{}", "[1, 2]",
    "{a: 1}", "abc", "'1e400'", "'.inf'", "'nan'", "'-1'", "'0'", "1e400GiB", "-1GiB", "0GiB", "1e400s",
    "-5s", "0s", "0ms", "1e400ms", "nans", "'1e9 years'", "0Gbps", "-1Gbps", "1e400Gbps", "0/s", "1e400/s",
    "'exponential(mean=0s)'", "'exponential(mean=-1s)'", "'lognormal(mean=1e400s, sigma=0.5)'",
    "'lognormal(mean=1s, sigma=1e400)'", "'normal(mean=1s, sd=-1s)'", "'uniform(5s, 1s)'",
    "'../../escape'", "'a/b'", "'..'", "'.'", "':smile:'", "'x:y:z'", "'😀'", "'\\0'", "'\\x1b[31mred'",
    "'/dev/zero'", "'/dev/stdin'", "'/etc/passwd'", "'/proc/self/mem'", "'{fifo}'", "'{binary}'", "'{dir}'",
    "'{empty}'", "'does/not/exist'", "!!python/object/apply:os.system ['echo pwned']", "!!binary aGVsbG8=",
    "!!set {a, b}", "!!timestamp 2001-12-14", "2001-12-14", "0x10", "0o17", "1_000", "+1", "'x' ", LAUGHS,
    "'" + "x" * 20000 + "'",
]
HOSTILE_KEYS = ["zz_unknown", "../../escape", "a/b", "..", ":smile:", "''", "'1'", "1", "true", "null",
                "'x' ", "'😀'", "'" + "k" * 5000 + "'"]


# mappings whose keys are the user's data, not fields: an extra key there is not an unknown field
FREE_FORM = {"files", "run_times", "layer_sizes", "build_args", "labels", "env", "sizes"}


@dataclass
class Mutated:
    """A mutated scenario: its text and what was done (for the failure message)."""

    base: str
    text: str
    ops: list[str] = field(default_factory=list)
    must_fail: bool = False  # a duplicate key or an unknown field (still in the text) must be refused


def base_tree(name: str) -> Any:
    return yaml.safe_load((SCENARIOS / f"{name}.yaml").read_text())


def paths_of(tree: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value in TREE (mapping keys and list indexes), parents before children."""
    found = [prefix] if prefix else []
    if isinstance(tree, dict):
        for key, value in tree.items():
            found += paths_of(value, (*prefix, key))
    elif isinstance(tree, list):
        for index, value in enumerate(tree):
            found += paths_of(value, (*prefix, index))
    return found


def parent_of(tree: Any, path: tuple[Any, ...]) -> Any:
    for step in path[:-1]:
        tree = tree[step]
    return tree


class Placeholders:
    """Unique plain strings that stand for raw YAML text until the dump is written."""

    def __init__(self) -> None:
        self.raw: dict[str, str] = {}

    def __call__(self, text: str) -> str:
        token = f"zzraw{len(self.raw)}zz"
        self.raw[token] = text
        return token

    def fill(self, text: str) -> str:
        for token, raw in self.raw.items():
            text = text.replace(token, raw)
        return text


@st.composite
def mutated_scenarios(draw: st.DrawFn, bases: list[str] = SMALL, *, until: str | None = None) -> Mutated:
    """One small example scenario with one to three hostile edits."""
    base = draw(st.sampled_from(bases))
    tree = base_tree(base)
    marks = Placeholders()
    mutated = Mutated(base, "")
    refused: list[str] = []  # placeholders that make the scenario invalid while they are in the text
    # a duplicate key's placeholder, its mapping and the key it copies: invalid while both are in the text (a later
    # edit may delete or rename the original, leaving the copy alone and the scenario valid)
    duplicates: list[tuple[str, dict[Any, Any], Any]] = []
    for _ in range(draw(st.integers(1, 3))):
        paths = paths_of(tree)
        path = draw(st.sampled_from(paths))
        parent = parent_of(tree, path)
        op = draw(st.sampled_from(["replace", "replace", "replace", "delete", "duplicate", "unknown", "rename"]))
        if op == "replace":
            raw = draw(st.sampled_from(HOSTILE_VALUES))
            parent[path[-1]] = marks(raw)
            mutated.ops.append(f"{'.'.join(map(str, path))} = {raw[:80]}")
        elif op == "delete":
            del parent[path[-1]]
            mutated.ops.append(f"delete {'.'.join(map(str, path))}")
        elif op == "duplicate" and isinstance(parent, dict):
            parent[marks(str(path[-1]))] = parent[path[-1]]
            duplicates.append((next(reversed(marks.raw)), parent, path[-1]))
            mutated.ops.append(f"duplicate key {'.'.join(map(str, path))}")
        elif op == "unknown" and isinstance(parent, dict):
            parent[marks("zz_unknown_field")] = 1
            if len(path) < 2 or path[-2] not in FREE_FORM:
                refused.append(next(reversed(marks.raw)))
            mutated.ops.append(f"unknown key zz_unknown_field beside {'.'.join(map(str, path))}")
        elif op == "rename" and isinstance(parent, dict):
            raw = draw(st.sampled_from(HOSTILE_KEYS))
            parent[marks(raw)] = parent.pop(path[-1])
            mutated.ops.append(f"rename {'.'.join(map(str, path))} -> {raw[:40]}")
        else:
            continue
    if until is not None and isinstance(tree, dict) and "until" not in tree:
        tree["until"] = until
    dumped = yaml.safe_dump(tree, sort_keys=False, width=10**9, allow_unicode=True) if tree is not None else ""
    mutated.must_fail = (any(token in dumped for token in refused)
                         or any(token in dumped and key in parent for token, parent, key in duplicates))
    mutated.text = marks.fill(dumped)
    return mutated
