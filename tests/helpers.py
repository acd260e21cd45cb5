"""Shared test helpers: build scenarios from text and run them."""

from __future__ import annotations

import importlib.util
import json
import signal
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

from dsim.api import load_scenario_text, simulate
from dsim.result import SimResult

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def load_script(relative: str) -> ModuleType:
    """A script of this repository that is not a package module (benchmarks/, tools/), loaded as a module."""
    path = ROOT / relative
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def output_files(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` by relative path, to compare two runs' outputs; summary.json without its
    wall time (the one figure that varies)."""
    found = {}
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            if path.name == "summary.json":
                summary = json.loads(data)
                summary.pop("wall_s")
                data = json.dumps(summary).encode()
            found[str(path.relative_to(directory))] = data
    return found


@contextmanager
def within(seconds: float) -> Iterator[None]:
    """Fail the test (rather than hang the suite) when its body runs longer than ``seconds`` of wall time: for
    runs that once never ended (SIGALRM: Linux, the main thread)."""
    def expired(signum: int, frame: object) -> None:
        raise AssertionError(f"still running after {seconds:g}s of wall time: the run never ends")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_text(text: str, *, seed: int | None = None) -> SimResult:
    """Simulate a scenario written inline (dedented)."""
    return simulate(load_scenario_text(textwrap.dedent(text)), seed=seed)


def without_setkey_hook(networking: str) -> str:
    """A flow-style ``networking`` mapping with ``setkey_hook: 0s`` added: runc create costs the same whatever
    the network mode, for tests of other parts of the start path."""
    inner = networking.strip()[1:-1].strip()
    return "{" + (inner + ", " if inner else "") + "setkey_hook: 0s}"


def without_endpoint_rule(networking: str) -> str:
    """A flow-style ``networking`` mapping with ``endpoint_rules: 0`` added: no Docker 28 rule per bridge endpoint
    (and runc create takes all of ``runtime.start``), for tests of other parts of the network's start and exit."""
    inner = networking.strip()[1:-1].strip()
    return "{" + (inner + ", " if inner else "") + "endpoint_rules: 0}"


def rate_giving(seconds: Callable[[float], float], target: float, low: float = 1e6, high: float = 1e10) -> float:
    """The rate (bytes/s) at which ``seconds(rate)`` comes out at ``target``, for a validation's one calibrated
    value where something takes longer the slower its rate: bisection between ``low`` and ``high``."""
    for _ in range(40):
        middle = (low * high) ** 0.5
        if seconds(middle) > target:
            low = middle
        else:
            high = middle
    return high


#: A pull's bytes' way through the kernel and the tar's entries left out (``storage.receive_rate``, ``apply_rate``,
#: ``apply_per_file``: docs/distribution.md, What a pull's bytes cost): for validations of other machines and of
#: containerd's CRI, whose figures for these are not measured (dsim's defaults are Docker 28.5.2's on a 2-vCPU VM).
PULL_COSTS_LEFT_OUT_MAP = {"receive_rate": "inf", "apply_rate": "inf", "apply_per_file": "0s"}
#: the same as the entries of a YAML flow mapping (``storage: {{..., PULL_COSTS_LEFT_OUT}}``)
PULL_COSTS_LEFT_OUT = ", ".join(f"{key}: {value}" for key, value in PULL_COSTS_LEFT_OUT_MAP.items())
