"""The README's scenario catalogue shows, for each scenario, the picture that answers its question: a PNG
under docs/img/, small enough for a web page, that tools/readme_images.py can draw again."""

from __future__ import annotations

import importlib.util
import re

from tests.helpers import ROOT

MAX_BYTES = 150_000


def catalogue_rows() -> list[tuple[str, str]]:
    """(scenario file, the row) of each row of the README's scenario table."""
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Scenarios\n", 1)[1].split("\n## ", 1)[0]
    return [(match.group(1), line) for line in section.splitlines()
            if (match := re.match(r"\| \[`([^`]+\.yaml)`\]\(scenarios/", line))]


def test_every_catalogue_entry_links_its_picture() -> None:
    rows = catalogue_rows()
    assert len(rows) >= 20
    for scenario, row in rows:
        images = re.findall(r"\]\((docs/img/[^)]+\.png)\)", row)
        assert len(images) == 1, f"{scenario}: no picture linked"
        path = ROOT / images[0]
        assert path.exists(), f"{scenario}: {images[0]} is missing"
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert path.stat().st_size <= MAX_BYTES, f"{images[0]}: {path.stat().st_size:,} bytes"


def test_the_script_draws_every_catalogue_picture() -> None:
    """Each linked picture is one tools/readme_images.py draws (so it can be drawn again), at that path."""
    spec = importlib.util.spec_from_file_location("readme_images", ROOT / "tools" / "readme_images.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for scenario, row in catalogue_rows():
        name = scenario.removesuffix(".yaml")
        assert name in module.PICTURES, f"{scenario}: tools/readme_images.py has no picture for it"
        assert f"]({module.image_path(name).relative_to(ROOT)})" in row
