"""Every relative link in README.md and docs/*.md leads somewhere a clone has: an existing file or folder,
and, with ``#anchor``, a heading of the target Markdown file (GitHub's anchor rule). The docs cite what a
clone can follow, so nothing points outside the repository (``../shared`` and the like)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers import ROOT

#: ``[text](target)`` or ``![alt](target)``, target without spaces (an optional "title" is dropped).
LINK = re.compile(r"!?\[[^\]]*\]\(([^()\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^\s*(```|~~~)")
INLINE_CODE = re.compile(r"`[^`]*`")


def markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def prose_lines(text: str) -> list[tuple[int, str]]:
    """Lines outside fenced code blocks, numbered from 1."""
    lines, fenced = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append((number, line))
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: the rendered text lower-cased, punctuation but ``-`` and ``_`` dropped,
    spaces turned into hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link counts by its text
    text = text.replace("`", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every anchor GitHub gives the headings of ``path``; a repeated heading gets -1, -2, ..."""
    seen: dict[str, int] = {}
    found = set()
    for _, line in prose_lines(path.read_text()):
        heading = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not heading:
            continue
        base = slug(heading.group(1))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(path: Path) -> list[tuple[int, str]]:
    found = []
    for number, line in prose_lines(path.read_text()):
        for match in LINK.finditer(INLINE_CODE.sub("", line)):
            found.append((number, match.group(1)))
    return found


def broken_links(path: Path) -> list[str]:
    problems = []
    for number, target in links(path):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:, ...: not checked here
            continue
        where = f"{path.relative_to(ROOT)}:{number}: {target}"
        file_part, _, anchor = target.partition("#")
        resolved = (path.parent / file_part).resolve() if file_part else path
        if not resolved.exists():
            problems.append(f"{where}: no such file")
            continue
        if ROOT.resolve() not in [resolved, *resolved.parents]:
            problems.append(f"{where}: outside the repository")
            continue
        if anchor:
            if resolved.suffix != ".md":
                problems.append(f"{where}: an anchor into a file that is not Markdown")
            elif anchor not in anchors(resolved):
                problems.append(f"{where}: no heading with anchor #{anchor} in {resolved.name}")
    return problems


def test_slug_follows_githubs_rule() -> None:
    assert slug("Push (`push: REF` step)") == "push-push-ref-step"
    assert slug("The workload of a `run` / `create` step") == "the-workload-of-a-run--create-step"
    assert slug("Build (BuildKit, the default builder since Engine 23.0)") == (
        "build-buildkit-the-default-builder-since-engine-230")
    assert slug("`--set`: change one field") == "--set-change-one-field"
    assert slug("max_connections [docs](x.md)") == "max_connections-docs"


def test_repeated_headings_are_numbered(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# Outputs\n## Outputs\n```\n# not a heading\n```\n## Scenarios\n")
    assert anchors(page) == {"outputs", "outputs-1", "scenarios"}


def test_a_broken_link_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tests.test_docs_links.ROOT", tmp_path)
    (tmp_path / "other.md").write_text("# Here\n")
    page = tmp_path / "page.md"
    page.write_text("[a](other.md#here) [b](other.md#there) [c](missing.md) `[d](missing.md)` "
                    "[e](https://example.com) [f](#top)\n# Top\n")
    assert broken_links(page) == [
        "page.md:1: other.md#there: no heading with anchor #there in other.md",
        "page.md:1: missing.md: no such file",
    ]


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(path: Path) -> None:
    assert broken_links(path) == []


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_docs_cite_nothing_outside_the_repository(path: Path) -> None:
    assert "../shared" not in path.read_text()
