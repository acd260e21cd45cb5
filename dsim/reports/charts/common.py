"""What the charts share: the Chart record, limits of their size, the time axis, natural order, bars."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib.collections import PolyCollection

from dsim.reports.derive import SpanIndex, last_end
from dsim.reports.style import colour
from dsim.result import SimResult

#: Beyond this many jobs the timeline draws a sample of rows (whole hosts, evenly spaced) and says so.
TIMELINE_MAX_ROWS = 240
#: Bins of every time series: enough to see a burst, few enough to draw 5,000-job runs fast.
BINS = 300
#: Kinds shown in the activity chart; the rest are summed into one panel.
ACTIVITY_MAX_KINDS = 24


@dataclass(frozen=True)
class Chart:
    """A chart file and the words the HTML report shows with it."""

    name: str
    path: Path
    title: str
    caption: str


@functools.lru_cache(maxsize=1 << 16)
def natural_key(text: str) -> tuple[Any, ...]:
    """runner-2 before runner-10 (cached: the charts sort thousands of jobs by their hosts' names)."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text))


def end_time(result: SimResult, index: SpanIndex | None = None) -> float:
    """The time axes' end: the last span's end (found once per run through the shared index)."""
    end = index.last_end if index is not None else last_end(result)
    return max(end, result.makespan_s, 1e-9)


def rectangles(items: Sequence[tuple[float, float, float, float]]) -> list[list[tuple[float, float]]]:
    """(x0, x1, y0, y1) -> polygon vertices for one PolyCollection."""
    return [[(x0, y0), (x0, y1), (x1, y1), (x1, y0)] for x0, x1, y0, y1 in items]


def draw_bars(ax: Any, items: Sequence[tuple[float, float, float, float]], name: str, *, label: str | None = None,
              alpha: float = 1.0) -> None:
    if not items:
        return
    # no hatching here: hatched polygons draw ~100x slower, and a Gantt has thousands of them
    ax.add_collection(PolyCollection(rectangles(items), facecolors=colour(name), edgecolors="none", linewidths=0,
                                     alpha=alpha, label=label or name))
