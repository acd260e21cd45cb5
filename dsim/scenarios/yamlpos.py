"""YAML with positions, as the scenario loader, overrides, ``dsim serve`` and sweeps import it.

The pieces live in :mod:`~dsim.scenarios.yaml_load` (loading rules, `load_yaml`, `load_yaml_file`),
:mod:`~dsim.scenarios.yaml_compose` (nodes to data, safely), :mod:`~dsim.scenarios.yaml_positions` (`Positions`,
`field_path`) and :mod:`~dsim.scenarios.validation_errors` (`validation_error`: a pydantic error by
file:line:column); this module keeps their public names importable from one place.
"""

from __future__ import annotations

from dsim.scenarios.validation_errors import validation_error
from dsim.scenarios.yaml_compose import MAX_DEPTH, MAX_NODES
from dsim.scenarios.yaml_load import MAX_FILE_BYTES, load_yaml, load_yaml_file
from dsim.scenarios.yaml_positions import Path, Position, Positions, field_path

__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_NODES",
    "Path",
    "Position",
    "Positions",
    "field_path",
    "load_yaml",
    "load_yaml_file",
    "validation_error",
]
