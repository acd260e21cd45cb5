"""The collector's thresholds during runs (dsim/gc_tuning.py): young passes every ``threshold`` net allocations,
the middle generation only every ``OLDER_PASSES`` young passes, the caller's settings back afterwards."""

from __future__ import annotations

import gc
from typing import Any

from dsim.gc_tuning import OLDER_PASSES, fewer_gc_passes


def test_a_run_collects_its_middle_generation_only_every_older_passes_young_passes() -> None:
    # 30 young passes' worth of objects kept alive (a run's waiting jobs): CPython's default would have made
    # 3 middle passes, each re-visiting all of them; inside a run none comes before OLDER_PASSES young ones
    passes: list[int] = []

    def count(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            passes.append(info["generation"])

    saved = gc.get_threshold()
    gc.callbacks.append(count)
    try:
        with fewer_gc_passes(threshold=2_000):
            assert gc.get_threshold() == (max(2_000, saved[0]), max(OLDER_PASSES, saved[1]), saved[2])
            kept = [[i] for i in range(30 * max(2_000, saved[0]))]
            inside = list(passes)  # on leaving, CPython's thresholds are back and its middle pass is due
    finally:
        gc.callbacks.remove(count)
    assert len(kept) and gc.get_threshold() == saved
    assert inside.count(0) >= 25
    assert 1 not in inside and 2 not in inside
