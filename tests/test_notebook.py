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
