"""report.html and compare.html in a real headless browser: Debian's chromium driven by Playwright.

The page must load from disk with no console errors and no network request, every figure must have a
non-zero size, and a screenshot is kept in test-artifacts/ for a person to look at. Playwright never
downloads a browser here: it drives /usr/bin/chromium (.ci/run installs it with apt-get).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dsim.cli import app
from tests.helpers import ROOT

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
ARTIFACTS = ROOT / "test-artifacts"

sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed "
                               "(pip install -e '.[test]')")
if not CHROMIUM.exists() and shutil.which("chromium") is None:
    pytest.skip("no chromium: install Debian's (apt-get install -y chromium), as .ci/run does",
                allow_module_level=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = str(CHROMIUM) if CHROMIUM.exists() else shutil.which("chromium")
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=executable, args=ARGS, headless=True)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture(scope="module")
def run_dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("browser")
    for name in ("ci-burst", "hello-nginx"):
        result = CliRunner().invoke(app, ["run", str(ROOT / "scenarios" / f"{name}.yaml"), "--out",
                                          str(base / name), "--quiet", "--no-trace"])
        assert result.exit_code == 0, result.output
    return base / "ci-burst", base / "hello-nginx"


def _open(browser: Any, path: Path) -> tuple[Any, list[str], list[str]]:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("request", lambda request: requests.append(request.url)
            if not request.url.startswith(("file:", "data:")) else None)
    page.goto(path.resolve().as_uri(), wait_until="load")
    return page, errors, requests


def _figure_sizes(page: Any) -> list[dict[str, Any]]:
    return page.evaluate("""() => Array.from(document.querySelectorAll('figure img')).map(img => {
        const box = img.getBoundingClientRect();
        return {alt: img.alt, natural: img.naturalWidth, width: box.width, height: box.height,
                complete: img.complete};
    })""")


@pytest.mark.parametrize("which", [0, 1], ids=["ci-burst", "hello-nginx"])
def test_report_loads_cleanly_with_every_figure_drawn(browser: Any, run_dirs: tuple[Path, Path], which: int) -> None:
    directory = run_dirs[which]
    page, errors, requests = _open(browser, directory / "report.html")
    try:
        assert errors == []
        assert requests == []
        figures = _figure_sizes(page)
        charts = len(list((directory / "charts").glob("*.png")))
        assert len(figures) == charts >= 8
        for figure in figures:
            assert figure["complete"] and figure["natural"] > 0, figure
            assert figure["width"] > 0 and figure["height"] > 0, figure
        headings = page.eval_on_selector_all("h2", "nodes => nodes.map(n => n.textContent)")
        assert {"The story", "Summary", "Charts", "Failures", "The scenario"} <= set(headings)
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / f"report-{directory.name}.png"
        page.screenshot(path=str(shot), full_page=which == 1)
        if which == 0:
            page.screenshot(path=str(ARTIFACTS / "report.png"))
        assert shot.stat().st_size > 10_000
    finally:
        page.close()


def test_compare_page_loads_cleanly(browser: Any, run_dirs: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "compare.html"
    result = CliRunner().invoke(app, ["compare", str(run_dirs[0]), str(run_dirs[1]), "--out", str(out)])
    assert result.exit_code == 0, result.output
    page, errors, requests = _open(browser, out)
    try:
        assert errors == [] and requests == []
        figures = _figure_sizes(page)
        assert len(figures) == 1 and figures[0]["natural"] > 0 and figures[0]["height"] > 0
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "compare.png"))
    finally:
        page.close()
