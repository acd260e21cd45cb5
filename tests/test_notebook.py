"""docs/python-api.md runs as written: its Python blocks, in order, in one namespace, from the repository root."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.helpers import ROOT

PAGE = ROOT / "docs" / "python-api.md"


def test_the_python_api_page_runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    blocks = re.findall(r"```python\n(.*?)```", PAGE.read_text(), flags=re.S)
    assert len(blocks) >= 3
    monkeypatch.chdir(ROOT)
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block.replace("/tmp/", f"{tmp_path}{os.sep}"), str(PAGE), "exec"), namespace)  # noqa: S102
    figures: dict[str, object] = namespace["figures"]  # type: ignore[assignment]
    assert {"timeline", "latency_cdf"} <= set(figures)
    assert (tmp_path / "cdf.png").stat().st_size > 0
    grid = namespace["grid"]
    assert len(grid.variants) == 4 and len(grid.verdicts) == 4  # type: ignore[attr-defined]


def test_charts_are_figures_pyplot_does_not_keep(tmp_path: Path) -> None:
    # Figures dsim.charts returns are out of pyplot's registry: dropped, they are freed (a notebook or a loop
    # calling it kept every one before), and they still draw and save.
    import gc
    import weakref

    import matplotlib.pyplot as plt

    import dsim

    before = plt.get_fignums()
    figures = dsim.charts(dsim.simulate(ROOT / "scenarios" / "hello-nginx.yaml"))
    assert plt.get_fignums() == before
    figures["timeline"].savefig(tmp_path / "t.png")
    assert (tmp_path / "t.png").stat().st_size > 0
    refs = [weakref.ref(fig) for fig in figures.values()]
    del figures
    gc.collect()
    assert all(ref() is None for ref in refs)
