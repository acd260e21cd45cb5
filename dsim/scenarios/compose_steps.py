"""Compose steps resolved before time 0: each step's compose file read (relative to the scenario file, inside
its folder, as build steps' Dockerfiles are) and turned into a ComposeProject; the images its services use
are resolved like any step's image; a service's ``build:`` is planned as a build step's (compose_build.py)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dsim.domain.compose import ComposeProject
from dsim.domain.problems import FieldPath
from dsim.domain.refs import normalise
from dsim.scenarios.builds import inside_folder
from dsim.scenarios.compose_file import read_compose
from dsim.scenarios.model import Scenario

#: (workload, step index) -> the project of that compose step
Composes = dict[tuple[str, int], ComposeProject]


def resolve_composes(scenario: Scenario, base_dir: Path | None, cores: Mapping[str, int] | None = None) -> Composes:
    """Every compose step's project, the file read once per (file, project name, variables, profiles, cores).
    ``cores``: workload -> the CPUs of the smallest host it may be placed on (a service's cpuset is checked
    against them, as dockerd checks it against its host's)."""
    out: Composes = {}
    cache: dict[tuple[Any, ...], ComposeProject] = {}
    for name, workload in scenario.workloads.items():
        for i, step in enumerate(workload.steps):
            spec = step.compose
            if spec is None:
                continue
            path: FieldPath = ("workloads", name, "steps", i, "compose")
            full = inside_folder(spec.file, base_dir, (*path, "file"))
            written = Path(spec.file)
            shown = str(written if written.is_absolute() or base_dir is None else base_dir / written)
            least = (cores or {}).get(name)
            key = (full, spec.project, tuple(sorted(spec.env.items())), tuple(spec.profiles),
                   tuple(sorted(spec.scale.items())), least)
            if key not in cache:
                cache[key] = read_compose(full, shown, spec.project, path, base_dir, spec.env, spec.profiles,
                                          spec.scale, least)
            out[(name, i)] = cache[key]
    return out


def compose_images(composes: Composes) -> dict[str, FieldPath]:
    """Each image a compose step's services use -> the step that uses it (for the image resolver): a built
    service's base images (its own image exists once built, like a build step's tag)."""
    used: dict[str, FieldPath] = {}
    for (workload, index), project in composes.items():
        where: FieldPath = ("workloads", workload, "steps", index, "compose")
        for service in project.services:
            if service.build is None:
                used.setdefault(normalise(service.container.image), where)
                continue
            spec = service.build.spec
            for ref in spec.base_images(spec.needed):
                used.setdefault(ref, where)
    return used
