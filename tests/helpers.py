"""Shared test helpers: build scenarios from text and run them."""

from __future__ import annotations

import importlib.util
import textwrap
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


def run_text(text: str, *, seed: int | None = None) -> SimResult:
    """Simulate a scenario written inline (dedented)."""
    return simulate(load_scenario_text(textwrap.dedent(text)), seed=seed)


def without_setkey_hook(networking: str) -> str:
    """A flow-style ``networking`` mapping with ``setkey_hook: 0s`` added: runc create costs the same whatever
    the network mode, for tests of other parts of the start path."""
    inner = networking.strip()[1:-1].strip()
    return "{" + (inner + ", " if inner else "") + "setkey_hook: 0s}"
