"""dsim: a discrete-event simulator of the Docker architecture.

In a notebook::

    import dsim
    result = dsim.run(dsim.load_scenario("scenarios/ci-burst.yaml"))   # a SimResult; no file written
    dsim.run(dsim.load_scenario("scenarios/ci-burst.yaml"), out=Path("results/ci-burst"))  # and every file
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# Imported here, not lazily: importing the module dsim.run would otherwise make ``dsim.run`` that module
# rather than this function. dsim.run imports the model only when a run starts, so this stays quick.
from dsim.run import run

__version__ = "0.1.0"
__all__ = ["SimResult", "load_scenario", "load_scenario_text", "run", "simulate", "__version__"]

if TYPE_CHECKING:
    from dsim.result import SimResult
    from dsim.run import run as simulate
    from dsim.scenarios.loader import load_scenario, load_scenario_text

def __getattr__(name: str) -> Any:
    """Import lazily so ``dsim --help`` stays quick (``simulate``: ``run``'s first name)."""
    if name == "simulate":
        return run
    if name == "SimResult":
        from dsim.result import SimResult

        return SimResult
    if name in ("load_scenario", "load_scenario_text"):
        from dsim.scenarios import loader

        return getattr(loader, name)
    raise AttributeError(name)
