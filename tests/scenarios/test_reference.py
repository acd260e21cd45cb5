"""docs/scenario-reference.md is what ``dsim schema --markdown`` prints now, and it documents every field a
scenario file can hold: the field list is derived from the pydantic models themselves, not from the file."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import types
from typing import Any, get_args

import pytest
from pydantic import BaseModel
from typer.testing import CliRunner

import dsim.scenarios.model as model
from dsim.cli import app
from dsim.scenarios.model import Scenario
from dsim.scenarios.reference import markdown
from tests.helpers import ROOT

REFERENCE = ROOT / "docs" / "scenario-reference.md"
REGENERATE = ".venv/bin/dsim schema --markdown > docs/scenario-reference.md"


def reachable_models(root: type[BaseModel]) -> list[type[BaseModel]]:
    """Every model a scenario file can contain: the root and, recursively, every model its fields'
    annotations name (inside Optional, unions, lists, dicts and Annotated)."""
    found: list[type[BaseModel]] = []

    def visit(annotation: Any) -> None:
        if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
            if annotation not in found:
                found.append(annotation)
                for info in annotation.model_fields.values():
                    visit(info.annotation)
            return
        for arg in get_args(annotation):
            visit(arg)

    visit(root)
    return found


def key(name: str, info: Any) -> str:
    """What a user writes: the alias when there is one (``for``, ``from``), else the attribute name."""
    return str(info.alias or name)


def unescape(cell: str) -> str:
    return cell.replace("\\|", "|").replace("&lt;", "<")


def sections(text: str) -> dict[str, list[list[str]]]:
    """Model name -> the rows of its table, each row's cells stripped (header and rule excluded)."""
    tables: dict[str, list[list[str]]] = {}
    current: list[list[str]] | None = None
    for line in text.splitlines():
        if line.startswith("## "):
            current = tables.setdefault(line[3:].strip(), [])
        elif current is not None and line.startswith("| `"):
            cells = re.split(r"(?<!\\)\|", line)[1:-1]
            current.append([cell.strip() for cell in cells])
    return tables


MODELS = reachable_models(Scenario)
TABLES = sections(REFERENCE.read_text()) if REFERENCE.exists() else {}


def test_reference_file_is_current() -> None:
    assert REFERENCE.exists(), f"docs/scenario-reference.md is missing: generate it with `{REGENERATE}`"
    assert REFERENCE.read_text() == markdown(Scenario), (
        f"docs/scenario-reference.md is stale (the scenario models changed): regenerate it with `{REGENERATE}`"
    )


def test_cli_prints_exactly_the_reference() -> None:
    """The regeneration command in the failure message above writes exactly what the test compares."""
    result = CliRunner().invoke(app, ["schema", "--markdown"])
    assert result.exit_code == 0, result.output
    assert result.output == markdown(Scenario)


def test_header_says_generated_and_how_to_regenerate() -> None:
    head = REFERENCE.read_text().split("\n## ", 1)[0]
    assert "Generated" in head and "do not edit by hand" in head
    assert "dsim schema --markdown > docs/scenario-reference.md" in head


def format_modules() -> list[types.ModuleType]:
    """The package dsim.scenarios.model and every module in it."""
    return [model, *(importlib.import_module(f"{model.__name__}.{info.name}")
                     for info in pkgutil.iter_modules(model.__path__))]


def test_every_model_of_the_format_is_reachable_or_an_inherited_base() -> None:
    """A model defined in the format's package (dsim/scenarios/model/) but not reachable from Scenario would
    be missing from the reference, unless it is only a base class whose fields every reachable subclass
    repeats (Strict, ContainerOptions). Every one of them is importable from the package itself."""
    defined = [cls for module in format_modules() for _, cls in inspect.getmembers(module, inspect.isclass)
               if issubclass(cls, BaseModel) and cls.__module__ == module.__name__]
    assert Scenario in defined and model.Step in defined
    assert len(defined) == len(set(defined))
    for cls in defined:
        assert getattr(model, cls.__name__, None) is cls, f"{cls.__name__}: not exported by {model.__name__}"
        if cls in MODELS:
            continue
        subclasses = [m for m in MODELS if issubclass(m, cls)]
        assert subclasses, f"{cls.__name__} is defined in {cls.__module__} but no scenario field can hold it"
        for sub in subclasses:
            assert set(cls.model_fields) <= set(sub.model_fields)


@pytest.mark.parametrize("cls", MODELS, ids=lambda cls: cls.__name__)
def test_every_field_is_documented(cls: type[BaseModel]) -> None:
    assert cls.__name__ in TABLES, f"no '## {cls.__name__}' section: regenerate with `{REGENERATE}`"
    rows = TABLES[cls.__name__]
    summary = " ".join((cls.__doc__ or "").strip().split("\n\n")[0].split())
    if summary:
        assert f"## {cls.__name__}\n\n{summary}\n" in REFERENCE.read_text(), f"{cls.__name__}: docstring"
    expected = [f"`{key(name, info)}`" for name, info in cls.model_fields.items()]
    assert [row[0] for row in rows] == expected, "fields missing, extra or out of declaration order"
    for (name, info), (_, _type, default, description) in zip(cls.model_fields.items(), rows, strict=True):
        assert (default == "**required**") == info.is_required(), f"{cls.__name__}.{name}: required marker"
        if info.description:
            assert description, f"{cls.__name__}.{name}: description missing"
            assert unescape(description) == " ".join(info.description.split()), f"{cls.__name__}.{name}"


def test_aliases_are_what_users_write() -> None:
    """``for`` and ``from`` are Python keywords, stored as for_ / from_; the reference shows the YAML key."""
    assert "`for`" in [row[0] for row in TABLES["Outage"]]
    assert "`from`" in [row[0] for row in TABLES["Image"]]
    assert not any(row[0].endswith('_`') for rows in TABLES.values() for row in rows)


def test_every_step_kind_is_documented() -> None:
    """Each key of a step (pull, run, ..., edit) is a row of the Step table, and each model-valued kind
    links to its own section."""
    step_keys = [row[0].strip("`") for row in TABLES["Step"]]
    assert step_keys == list(model.Step.model_fields)
    for row in TABLES["Step"]:
        for target in re.findall(r"\]\(#(\w+)\)", row[1]):
            assert target in {name.lower() for name in TABLES}, f"broken link #{target}"
