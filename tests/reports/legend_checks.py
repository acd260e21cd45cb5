"""Where a drawn Figure's legends sit: a legend over an axes' data area hides the curves it names."""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure


def legends_over_data(fig: Figure) -> list[str]:
    """Each legend whose box overlaps some visible axes' data area (its patch: the area inside the spines)
    by more than a pixel in both directions, as ``legend (first label) over axes 'title'``."""
    fig.canvas.draw()  # lay out text so the boxes are the drawn ones
    renderer: Any = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    legends = [legend for ax in fig.axes if (legend := ax.get_legend()) is not None] + list(fig.legends)
    found = []
    for legend in legends:
        box = legend.get_window_extent(renderer)
        for ax in fig.axes:
            if not ax.get_visible() or not ax.axison:
                continue
            area = ax.get_window_extent(renderer)
            width = min(box.x1, area.x1) - max(box.x0, area.x0)
            height = min(box.y1, area.y1) - max(box.y0, area.y0)
            if width > 1 and height > 1:
                first = legend.get_texts()[0].get_text() if legend.get_texts() else ""
                found.append(f"legend ({first!r}) over axes {ax.get_title()!r}")
    return found


def figure_text(fig: Figure) -> str:
    """Every word a figure shows: titles, axis labels, tick labels, legends and free text."""
    words = [fig.get_suptitle()]
    for ax in fig.axes:
        words += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()]
        words += [t.get_text() for t in ax.get_xticklabels() + ax.get_yticklabels()]
        words += [t.get_text() for t in ax.texts]
        legend = ax.get_legend()
        if legend is not None:
            words += [t.get_text() for t in legend.get_texts()]
    for legend in fig.legends:
        words += [t.get_text() for t in legend.get_texts()]
    words += [t.get_text() for t in fig.texts]
    return "\n".join(words)
