"""dsim: a discrete-event simulator of the Docker architecture.

In a notebook (docs/python-api.md)::

    import dsim
    result = dsim.simulate("scenarios/ci-burst.yaml", set={"hosts.runner.count": 40})  # a SimResult
    result.summary()["phases"]["job"]["p95_s"]
    figures = dsim.charts(result)                       # matplotlib Figures by chart name
    grid = dsim.sweep_grid("scenarios/ci-burst.yaml", vary={"hosts.runner.count": [20, 40]}, replications=3)
    dsim.run(dsim.load_scenario("scenarios/ci-burst.yaml"), out=Path("results/ci-burst"))  # and every file
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# Imported here, not lazily: importing the module dsim.run would otherwise make ``dsim.run`` that module
# rather than this function. dsim.run imports the model only when a run starts, so this stays quick.
from dsim.run import run
from dsim.version import __version__

__all__ = ["SimResult", "charts", "load", "load_scenario", "load_scenario_text", "run", "simulate", "sweep_grid",
           "__version__"]

if TYPE_CHECKING:
    from dsim.notebook import charts, load, simulate, sweep_grid
    from dsim.result import SimResult
    from dsim.scenarios.loader import load_scenario, load_scenario_text

def __getattr__(name: str) -> Any:
    """Import lazily so ``dsim --help`` stays quick."""
    if name in ("simulate", "sweep_grid", "charts", "load"):  # dsim.sweep is the package: sweep_grid
        from dsim import notebook

        return getattr(notebook, name)
    if name == "SimResult":
        from dsim.result import SimResult

        return SimResult
    if name in ("load_scenario", "load_scenario_text"):
        from dsim.scenarios import loader

        return getattr(loader, name)
    raise AttributeError(name)
