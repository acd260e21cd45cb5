"""The import rules of the design: arrows point down (faces -> world -> components -> domain -> units).

Read from the source with ``ast`` (nothing is imported): every ``import`` and ``from ... import`` of every
module under dsim/, at module level or inside a function, except those under ``if TYPE_CHECKING:``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "dsim"


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _imports(path: Path) -> Iterator[tuple[str, bool]]:
    """(imported module, at module level?) for every import statement of ``path``."""
    name = _module(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]

    def visit(nodes: list[ast.AST], top: bool) -> Iterator[tuple[str, bool]]:
        for node in nodes:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, ast.Import):
                yield from ((alias.name, top) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package[: len(package) - node.level + 1]
                    target = ".".join([*base, *([node.module] if node.module else [])])
                else:
                    target = node.module or ""
                yield target, top
                for alias in node.names:  # ``from dsim.serve import images`` imports a module
                    if f"{target}.{alias.name}" in MODULES:
                        yield f"{target}.{alias.name}", top
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                yield from visit(list(node.body), False)
            else:
                for field in ("body", "orelse", "finalbody", "handlers"):
                    inner = getattr(node, field, None)
                    if isinstance(inner, list):
                        yield from visit([n for n in inner if isinstance(n, ast.AST)], top)

    tree = ast.parse(path.read_text(encoding="utf-8"))
    return visit(list(tree.body), True)


def _imported(prefix: str) -> dict[str, set[str]]:
    """Every module under ``prefix`` -> what it imports (anywhere in the module)."""
    return {name: {target for target, _ in _imports(path)} for name, path in MODULES.items()
            if name == prefix or name.startswith(prefix + ".")}


def _within(target: str, prefixes: tuple[str, ...]) -> bool:
    return any(target == p or target.startswith(p + ".") for p in prefixes)


def _graph(*, module_level_only: bool) -> nx.DiGraph:
    graph = nx.DiGraph()
    for name, path in MODULES.items():
        for target, top in _imports(path):
            if target in MODULES and target != name and (top or not module_level_only):
                graph.add_edge(name, target)
    return graph


def test_the_scan_sees_the_imports_it_should() -> None:
    """A check that found nothing would pass for the wrong reason: the world's own imports are seen."""
    world = _imported("dsim.world")["dsim.world"]
    assert {"dsim.components.daemon", "dsim.domain.spec", "networkx"} <= world


@pytest.mark.parametrize("forbidden", ["dsim.scenarios", "dsim.reports", "dsim.cli", "dsim.serve", "dsim.sweep",
                                       "dsim.world", "typer", "matplotlib", "pydantic", "yaml", "ruamel"])
def test_components_import_neither_format_nor_faces(forbidden: str) -> None:
    offenders = {name: sorted(t for t in targets if _within(t, (forbidden,)))
                 for name, targets in _imported("dsim.components").items()}
    assert {name: found for name, found in offenders.items() if found} == {}


def test_world_reads_the_domain_not_the_format() -> None:
    targets = _imported("dsim.world")["dsim.world"]
    assert not [t for t in targets if _within(t, ("dsim.scenarios", "dsim.reports", "pydantic"))]


def test_domain_imports_only_units_distributions_and_the_standard_library() -> None:
    import sys

    allowed = ("dsim.domain", "dsim.units", "dsim.distributions")
    for name, targets in {**_imported("dsim.domain"), **_imported("dsim.units"),
                          **_imported("dsim.distributions")}.items():
        outside = sorted(t for t in targets if not _within(t, allowed)
                         and t.split(".")[0] not in sys.stdlib_module_names and t != "__future__")
        assert outside == [], f"{name} imports {outside}"


def test_no_import_cycle_among_modules_at_module_level() -> None:
    assert list(nx.simple_cycles(_graph(module_level_only=True))) == []


def test_no_import_cycle_between_packages() -> None:
    """``dsim.scenarios`` -> ``dsim.domain`` but never back, counting imports inside functions too."""
    def package(name: str) -> str:
        return ".".join(name.split(".")[:2])

    graph = nx.DiGraph()
    for a, b in _graph(module_level_only=False).edges:
        if package(a) != package(b):
            graph.add_edge(package(a), package(b))
    assert list(nx.simple_cycles(graph)) == []


@pytest.mark.parametrize("prefix", ["dsim.domain", "dsim.scenarios", "dsim.components"])
def test_no_import_cycle_inside_the_model_packages(prefix: str) -> None:
    """Not even one an import inside a function hides (scenarios' builds -> loader -> resolve -> builds was)."""
    graph = _graph(module_level_only=False)
    inside = graph.subgraph([n for n in graph if _within(n, (prefix,))])
    assert list(nx.simple_cycles(inside)) == []
