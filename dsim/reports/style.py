"""One look for every figure dsim draws: Okabe-Ito colours, units on axes, deterministic PNG and SVG files.

Every chart module imports matplotlib through here so the Agg backend is chosen before pyplot loads and
the files carry no timestamp or version (same run => byte-identical files).
"""

from __future__ import annotations

import base64
import contextvars
import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import PIL.Image  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

#: Okabe & Ito (2008), "Color Universal Design": distinguishable with every common colour-vision deficiency.
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000", "#999999")

#: Fixed colours for the phases of a job, so a phase looks the same in every chart.
PHASE_COLOURS = {
    "queue": "#999999", "pull": "#0072B2", "download": "#0072B2", "unpack": "#56B4E9", "build": "#E69F00",
    "push": "#CC79A7", "create": "#009E73", "start": "#D55E00", "run": "#F0E442", "stop": "#000000",
    "job": "#000000", "other": "#DDDDDD", "slot": "#BBBBBB", "commit": "#332288",
    "docker_exec": "#882255",
}
#: Hatches tell phases apart in greyscale print too.
PHASE_HATCH = {"unpack": "///", "queue": "..", "stop": "xx", "slot": "\\\\"}

PNG_METADATA: dict[str, Any] = {"Software": None}
SVG_METADATA: dict[str, Any] = {"Date": None, "Creator": None}
DPI = 100
#: zlib's level for the charts' PNGs (Pillow's default 6): for the ten charts of a run, level 3 deflates in about
#: 40% less time and, with RGB instead of RGBA, the files come out smaller than before (docs/performance.md,
#: "Session 37").
PNG_COMPRESS_LEVEL = 3

RC: dict[str, Any] = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "svg.hashsalt": "dsim",
    "svg.fonttype": "path",
    "path.simplify": True,
    "agg.path.chunksize": 10000,
    # Glyphs drawn as the font outlines them, not fitted to the pixel grid by FreeType's hinter (matplotlib's
    # "default"): at 100 dpi the text looks the same to the eye, and every label costs less to lay out and
    # draw, 11% of a default run's charts (docs/performance.md, "Charts without hinting").
    "text.hinting": "no_hinting",
}


def colour(name: str, index: int = 0) -> str:
    """A phase's fixed colour, else the palette in order (for registries, hosts, new span kinds)."""
    return PHASE_COLOURS.get(name) or OKABE_ITO[index % len(OKABE_ITO)]


def extra_colour(index: int) -> str:
    """Colours for things with no fixed colour (registries, runs being compared, new span kinds)."""
    return OKABE_ITO[index % len(OKABE_ITO)]


#: While set (by ``keeping_figures``), figures are handed to its list instead of being closed: how the Python
#: API returns matplotlib Figures from the same drawing code that writes the files.
_KEPT: contextvars.ContextVar[list[Figure] | None] = contextvars.ContextVar("dsim_kept_figures", default=None)


@contextmanager
def keeping_figures() -> Iterator[list[Figure]]:
    """Within this block every chart's Figure is appended to the list yielded."""
    kept: list[Figure] = []
    token = _KEPT.set(kept)
    try:
        yield kept
    finally:
        _KEPT.reset(token)


def figures_kept() -> bool:
    """Whether charts drawn now must stay in this process (inside ``keeping_figures``)."""
    return _KEPT.get() is not None


@contextmanager
def figure(width: float, height: float, nrows: int = 1, ncols: int = 1, **kwargs: Any) -> Iterator[tuple[Figure, Any]]:
    """A figure in the house style; closed on exit whatever happens (handed to ``keeping_figures``' list too:
    a closed Figure still draws, saves and shows in a notebook, and is not kept alive by pyplot)."""
    with plt.rc_context(RC):  # type: ignore[arg-type]
        fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), **kwargs)
        kept = _KEPT.get()
        try:
            yield fig, axes
        finally:
            plt.close(fig)  # out of pyplot's registry: a kept Figure is freed once its holder drops it
            if kept is not None:
                FigureCanvasAgg(fig)  # closing took pyplot's canvas away: one of its own still draws and renders
                kept.append(fig)


def save(fig: Figure, path: Path) -> Path:
    """PNG (or SVG by suffix) without timestamps; a tight layout computed once."""
    with plt.rc_context(RC):  # type: ignore[arg-type]
        fig.tight_layout()
        fig.set_layout_engine(None)  # laid out once: savefig must not lay out (and draw) again
        if path.suffix == ".svg":
            fig.savefig(path, metadata=SVG_METADATA)
        else:
            _save_png(fig, path)
    return path


def _save_png(fig: Figure, path: Path) -> None:
    """The figure drawn by Agg at ``DPI`` and written by Pillow as ``savefig`` writes it (no text chunks, the
    resolution in pHYs), but as RGB when every pixel is opaque (a chart's white background: the alpha channel
    says nothing) and at ``PNG_COMPRESS_LEVEL``: a quarter fewer bytes to filter and deflate."""
    kept_dpi = fig.dpi  # as savefig: drawn at DPI, the figure's own resolution given back (a notebook's)
    fig.set_dpi(DPI)
    try:
        canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
        canvas.draw()  # type: ignore[no-untyped-call]
        rgba = np.asarray(canvas.buffer_rgba())  # type: ignore[no-untyped-call]
    finally:
        fig.set_dpi(kept_dpi)
    image = PIL.Image.fromarray(rgba, "RGBA")
    if bool((rgba[:, :, 3] == 255).all()):
        image = image.convert("RGB")
    image.save(path, format="png", dpi=(DPI, DPI), compress_level=PNG_COMPRESS_LEVEL)


def data_uri(path: Path) -> str:
    """A file as a data: URI, so an HTML page needs nothing beside itself."""
    kind = "image/svg+xml" if path.suffix == ".svg" else "image/png"
    return f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def no_data(ax: Any, message: str) -> None:
    """An empty chart says why it is empty rather than showing blank axes."""
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="#555555")
    ax.set_xticks([])
    ax.set_yticks([])


def format_rate(bytes_per_s: float) -> str:
    """Link rates as network people write them: bits per second."""
    if math.isinf(bytes_per_s):
        return "inf"
    bits = bytes_per_s * 8
    for unit, factor in (("Tbps", 1e12), ("Gbps", 1e9), ("Mbps", 1e6), ("kbps", 1e3)):
        if bits >= factor:
            return f"{bits / factor:.3g} {unit}"
    return f"{bits:.3g} bps"


def time_unit(span_s: float) -> tuple[str, float]:
    """The unit for a time axis covering ``span_s`` seconds: (label, divisor)."""
    if span_s >= 3 * 3600:
        return "h", 3600.0
    if span_s >= 180:
        return "min", 60.0
    if span_s >= 2:
        return "s", 1.0
    return "ms", 1e-3
