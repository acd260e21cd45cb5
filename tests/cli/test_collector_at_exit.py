"""The ``dsim`` command's collector at its end (dsim/gc_tuning.py): ``dsim run`` freezes what its run made before
CPython's thresholds come back, so no young pass visits everything the run kept on the way out; the console
script freezes everything last, so the interpreter's final collection skips it."""

from __future__ import annotations

import gc
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dsim.cli import app, main

#: 300 containers' runs: the world, its spans and its jobs are well over 20,000 objects kept to the end
BUSY = textwrap.dedent("""\
    name: busy
    hosts:
      box: {cpus: 64, memory: 256GiB, preloaded: ['alpine:3.24']}
    workloads:
      w:
        arrival: {burst: 300}
        steps: [{run: {image: 'alpine:3.24', duration: 1s}}, {rm: {}}]
    """)


def test_dsim_run_ends_without_a_young_pass_over_its_run(tmp_path: Path) -> None:
    # each pass's young count when it starts: at CPython's threshold (700) a pass starts near 700; one that
    # starts above 20,000 is the pass over everything the run kept, which restoring the thresholds would cause
    scenario = tmp_path / "busy.yaml"
    scenario.write_text(BUSY)
    starts: list[int] = []

    def young_count(phase: str, info: dict[str, Any]) -> None:
        if phase == "start" and info["generation"] == 0:
            starts.append(gc.get_count()[0])

    gc.callbacks.append(young_count)
    try:
        result = CliRunner().invoke(app, ["run", str(scenario), "-o", str(tmp_path / "out"), "-q",
                                          "--outputs", "jobs"])
        kept = [[i] for i in range(5_000)]  # allocations after the command: a pass due now would start here
    finally:
        gc.callbacks.remove(young_count)
    assert result.exit_code == 0, result.output
    assert len(kept) == 5_000 and starts and max(starts) < 20_000


def test_the_console_script_freezes_everything_last(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # after the command (here one that exits with an error), everything is in the permanent generation, which
    # the interpreter's final collection does not visit
    monkeypatch.setattr(sys, "argv", ["dsim", "validate", str(tmp_path / "missing.yaml")])
    try:
        with pytest.raises(SystemExit) as ended:
            main()
        assert ended.value.code == 2
        assert gc.get_freeze_count() > 0 and gc.get_count()[0] < 100
    finally:
        gc.unfreeze()
