"""The public API: load a scenario, simulate it, read the result."""

from __future__ import annotations

from dsim.result import SimResult
from dsim.scenarios.loader import load_scenario, load_scenario_text
from dsim.world import simulate

__all__ = ["SimResult", "load_scenario", "load_scenario_text", "simulate"]
