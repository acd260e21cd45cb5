"""Dockerfiles: parsing with BuildKit's own parser (PyPI ``dockerfile``) and static build plans.

``parse_dockerfile`` turns text into instructions (and ``dump`` back into BuildKit's ``Node.Dump()`` format);
``make_plan`` turns text into stages and steps as BuildKit would build them; ``render_plan`` and ``plan_to_json``
present a plan for ``dsim dockerfile plan PATH [--json]``.
"""

from __future__ import annotations

from dsim.dockerfile.parse import Instruction, dump, parse_dockerfile, parse_file
from dsim.dockerfile.plan import make_plan
from dsim.dockerfile.plan_types import ArgDef, BuildPlan, Mount, Stage, Step
from dsim.dockerfile.render import plan_to_json, render_plan
from dsim.dockerfile.stage_graph import needed_stages

__all__ = [
    "ArgDef",
    "BuildPlan",
    "Instruction",
    "Mount",
    "Stage",
    "Step",
    "dump",
    "make_plan",
    "needed_stages",
    "parse_dockerfile",
    "parse_file",
    "plan_to_json",
    "render_plan",
]
