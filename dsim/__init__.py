"""dsim: a discrete-event simulator of the Docker architecture."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["SimResult", "load_scenario", "load_scenario_text", "simulate", "__version__"]

if TYPE_CHECKING:
    from dsim.api import SimResult, load_scenario, load_scenario_text, simulate


def __getattr__(name: str) -> Any:
    """Import lazily so ``dsim --help`` stays quick."""
    if name in ("SimResult", "load_scenario", "load_scenario_text", "simulate"):
        from dsim import api

        return getattr(api, name)
    raise AttributeError(name)
