"""Read a Compose file for a ``compose`` step (docs/compose.md): the project's positioned YAML loader, the
Compose Specification's JSON schema (dsim/scenarios/compose-spec.json, validated with ``jsonschema``), then
the part dsim models (compose_model.py), converted to a frozen ComposeProject (compose_project.py).

Every problem is one ``file:line:col: field: problem`` error pointing into the compose file: a value the
specification refuses, a key it allows that dsim does not model, a reference to an undefined service,
network or volume, a dependency cycle.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pydantic

from dsim.domain.compose import ComposeProject
from dsim.domain.problems import FieldPath, ReferenceProblem
from dsim.scenarios.compose_build import attach_builds
from dsim.scenarios.compose_env import interpolate, variables
from dsim.scenarios.compose_extends import apply_extends
from dsim.scenarios.compose_model import Project
from dsim.scenarios.compose_project import ComposeProblem, project_from_model, with_profiles, with_scale
from dsim.scenarios.validation_errors import validation_error
from dsim.scenarios.yaml_load import load_yaml_file
from dsim.scenarios.yaml_positions import Positions, located_error

if TYPE_CHECKING:
    import jsonschema

#: The Compose Specification's schema, shipped as data: https://github.com/compose-spec/compose-spec
#: schema/compose-spec.json at commit 170098ba07d9f53c383a41bfd4c5166b0a4529a6 (Apache-2.0)
SCHEMA_FILE = Path(__file__).with_name("compose-spec.json")

#: compose-go's project name rule (NormalizeProjectName): lower case, only a-z 0-9 _ -, starting with a letter
#: or digit
_PROJECT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


@functools.cache
def _validator() -> jsonschema.Draft7Validator:
    """The schema's validator, made on the first compose file (jsonschema is imported only then: a scenario
    without compose steps does not pay its import)."""
    import jsonschema

    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return jsonschema.Draft7Validator(schema)


def _yaml11_fixes(data: dict[str, Any]) -> None:
    """dsim's loader reads YAML 1.1 (``restart: no`` is the boolean false), Compose reads YAML 1.2 (the
    string "no"); a restart policy written unquoted is read as Compose reads it."""
    services = data.get("services")
    if isinstance(services, dict):
        for service in services.values():
            if isinstance(service, dict) and service.get("restart") is False:
                service["restart"] = "no"


def check_schema(data: Any, positions: Positions, filename: str) -> None:
    """The Compose Specification's JSON schema: the first error (deepest path first, then file order)."""
    errors = list(_validator().iter_errors(data))
    if not errors:
        return
    from jsonschema.exceptions import best_match

    best = best_match(errors)
    path = tuple(best.absolute_path)
    if best.validator == "additionalProperties" and isinstance(best.instance, dict):
        known = list(best.schema.get("properties", {}))
        patterns = list(best.schema.get("patternProperties", {}))
        unknown = [k for k in best.instance if k not in known and not any(re.search(p, str(k)) for p in patterns)]
        if unknown:
            close = difflib.get_close_matches(str(unknown[0]), known, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise located_error(f"unknown key '{unknown[0]}' in the Compose Specification{hint}", filename, positions,
                         (*path, unknown[0]), key=True)
    raise located_error(" ".join(best.message.split())[:300], filename, positions, path)


def _strip_extensions(value: Any, path: FieldPath = ()) -> Any:
    """``x-`` keys carry data implementations do not read (Compose Specification, Extension): dropped,
    except ``x-dsim`` on a service, which dsim reads."""
    if isinstance(value, dict):
        keep = {}
        for key, item in value.items():
            service_extension = key == "x-dsim" and len(path) == 2 and path[0] == "services"
            service_extension |= key == "x-dsim" and len(path) == 3 and path[0] == "services" and path[2] == "build"
            if isinstance(key, str) and key.startswith("x-") and not service_extension:
                continue
            keep[key] = _strip_extensions(item, (*path, key))
        return keep
    if isinstance(value, list):
        return [_strip_extensions(item, (*path, i)) for i, item in enumerate(value)]
    return value


def _model(data: Any, positions: Positions, filename: str) -> Project:
    try:
        return Project.model_validate(_strip_extensions(data))
    except pydantic.ValidationError as err:
        for raw in err.errors(include_url=False):
            if raw["type"] == "extra_forbidden":
                path: list[str | int] = []
                for part in raw["loc"]:
                    if (*path, part) in positions:
                        path.append(part)
                raise located_error(f"dsim does not model the Compose key '{path[-1]}' (docs/compose.md lists what it "
                             "models; x- keys are free)", filename, positions, tuple(path), key=True) from None
        raise validation_error(err, positions, filename=filename, model=Project) from None


def project_name(given: str | None, model: Project, compose_file: Path) -> str:
    """``-p``, else the file's ``name:``, else its folder's name normalised (compose-go: lower case, only
    a-z 0-9 _ -)."""
    if given is not None or model.name is not None:
        name = given if given is not None else model.name
        assert name is not None
        if not _PROJECT_NAME.match(name):
            raise ValueError(f"invalid project name {name!r}: it must contain only lowercase letters, digits, "
                             "dashes and underscores, and start with a letter or digit")
        return name
    folder = re.sub(r"[^a-z0-9_-]", "", compose_file.resolve().parent.name.lower()).lstrip("_-")
    return folder or "default"


def read_compose(full: Path, shown: str, project: str | None, step_path: FieldPath,
                 folder: Path | None = None, env: Mapping[str, str] | None = None,
                 profiles: list[str] | None = None, scale: Mapping[str, int] | None = None,
                 cores: int | None = None) -> ComposeProject:
    """The project a compose step brings up or down: ``full`` the file, ``shown`` its name in errors;
    ``folder``: the scenario's, which services' build contexts must stay inside (compose_build.py); ``env``:
    the step's variables for ``${VAR}`` (compose_env.py; the ``.env`` beside the file gives the others);
    ``profiles``: the active ones (compose_project.with_profiles); ``scale``: ``up --scale`` (with_scale);
    ``cores``: the CPUs of the smallest host the step may run on (a service's cpuset must be among them)."""
    if not full.is_file():
        raise ReferenceProblem((*step_path, "file"), f"no such compose file '{shown}'")
    data, positions = load_yaml_file(full, display_name=shown)
    if isinstance(data, dict):
        _yaml11_fixes(data)
    dotenv = full.parent / ".env"
    data = interpolate(data, variables(env or {}, dotenv, str(Path(shown).parent / ".env")), positions, shown)
    positions = apply_extends(data, positions, shown)
    check_schema(data, positions, shown)
    model = _model(data, positions, shown)
    try:
        name = project_name(project, model, full)
    except ValueError as err:
        where = ("name",) if project is None else ()
        if project is not None:
            raise ReferenceProblem((*step_path, "project"), str(err)) from None
        raise located_error(str(err), shown, positions, where) from None
    try:
        read = project_from_model(with_scale(with_profiles(model, profiles or []), scale or {}, step_path), name,
                                  shown, cores)
    except ComposeProblem as problem:
        raise located_error(problem.message, shown, positions, problem.path) from None
    return attach_builds(read, model, full, positions, folder)


def compose_images(project: ComposeProject) -> Mapping[str, str]:
    """Every image the project's services use -> the first service using it."""
    images: dict[str, str] = {}
    for service in project.services:
        images.setdefault(service.container.image, service.name)
    return images
