"""dsim's comments and docstrings cite what a clone can follow: nothing outside the repository (``../shared``),
and every ``docs/PAGE.md`` they name exists; a ``docs/PAGE.md: Section`` citation names a heading of that page
(``docs/real-docker.md: Pull 1`` is item 1 under the heading that starts "Pull")."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers import ROOT

#: ``docs/PAGE.md``, optionally ``#anchor`` or ``: Section`` (a section name: capitalised words, up to a digit
#: or punctuation); the colon may end a line, the section then starts the next one.
CITATION = re.compile(r"docs/([\w./-]+?\.md)(?::\s*([A-Z][A-Za-z-]*(?: [A-Za-z][A-Za-z-]*)*))?")
#: A bare citation of the facts page, without the docs/ folder a clone finds it in.
BARE_FACTS = re.compile(r"(?<!docs/)real-docker\b")


def source_files() -> list[Path]:
    """Every text file under dsim/ (code, and the catalog's data)."""
    return sorted(path for path in (ROOT / "dsim").rglob("*")
                  if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc")


def citations(text: str) -> list[tuple[str, str | None]]:
    """(page, section or None) for every ``docs/...md`` citation in ``text``."""
    return [(match.group(1), match.group(2)) for match in CITATION.finditer(text)]


def headings(page: Path) -> list[str]:
    return [line.lstrip("#").strip() for line in page.read_text().splitlines() if line.startswith("#")]


def names_heading(section: str, page_headings: list[str]) -> bool:
    """``Pull`` names "Pull (containerd image store, the default)"; ``Measured`` names "Measured"."""
    return any(heading == section or heading.startswith(f"{section} ") for heading in page_headings)


def test_citation_parser() -> None:
    text = ("(docs/real-docker.md: Pull 1) (see docs/containers.md: Lifecycle). docs/reports.md:\n"
            "Output files), docs/model.md#hosts and docs/performance.md; docs/build.md: cache-mounts")
    assert citations(text) == [("real-docker.md", "Pull"), ("containers.md", "Lifecycle"),
                               ("reports.md", "Output files"), ("model.md", None), ("performance.md", None),
                               ("build.md", None)]
    assert names_heading("Pull", ["Pull (containerd image store, the default)", "Push"])
    assert not names_heading("Pul", ["Pull (containerd image store, the default)"])
    assert BARE_FACTS.search("(real-docker.md: Build)") and BARE_FACTS.search("(real-docker: Pull 1)")
    assert not BARE_FACTS.search("(docs/real-docker.md: Build)")


@pytest.mark.parametrize("path", source_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_nothing_cited_outside_the_repository(path: Path) -> None:
    assert "../shared" not in path.read_text(errors="replace")


def test_cited_docs_pages_and_sections_exist() -> None:
    problems: list[str] = []
    cited = 0
    for path in source_files():
        for page, section in citations(path.read_text(errors="replace")):
            cited += 1
            target = ROOT / "docs" / page
            where = f"{path.relative_to(ROOT)}: docs/{page}"
            if not target.is_file():
                problems.append(f"{where}: no such file")
            elif section is not None and not names_heading(section, headings(target)):
                problems.append(f"{where}: no heading '{section}'")
    assert cited > 0
    assert problems == []


def test_the_facts_page_is_cited_by_its_path() -> None:
    """``real-docker.md: Build`` alone is a file a clone has to look for; ``docs/real-docker.md: Build`` is not."""
    bare = {str(path.relative_to(ROOT)) for path in source_files()
            if BARE_FACTS.search(path.read_text(errors="replace"))}
    assert bare == set()
