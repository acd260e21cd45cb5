"""The public API under its older names (``from dsim.api import ...``); ``dsim`` itself exports the same.

``simulate`` is ``dsim.run.run`` under its first name: one run path.
"""

from __future__ import annotations

from dsim.result import SimResult
from dsim.run import run
from dsim.run import run as simulate
from dsim.scenarios.loader import load_scenario, load_scenario_text

__all__ = ["SimResult", "load_scenario", "load_scenario_text", "run", "simulate"]
