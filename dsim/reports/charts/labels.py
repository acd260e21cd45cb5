"""Words and scales for people: axis labels in plain words (not summary.json paths), the choice between a
linear and a log axis, legends kept off the data, and sizes in the units the scenario was written in.

One place for these rules so every chart (and the sweep and compare pages) reads the same way.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

#: A log axis only when the data spans more than this many decades (max / min > 10 ** DECADES); on a
#: narrower range a linear axis reads better (ticks at round numbers, differences visible as distances).
DECADES = 2.0

_UNIT_SUFFIXES = {"_s": "s", "_bytes": "bytes", "_bps": "bit/s", "_pct": "%"}
_WORDS = {"p50": "median (p50)", "p95": "p95", "p99": "p99", "max": "max", "mean": "mean", "count": "count",
          "makespan": "makespan (last job ended)", "rejected_429": "429 responses", "cpu_util": "CPU used",
          "jobs": "jobs", "phases": "", "hosts": "hosts", "registries": "registry", "workloads": "workload",
          "bytes_sent": "bytes sent", "job": "whole job", "bandwidth": "bandwidth"}


def metric_label(path: str) -> str:
    """A summary.json path or a scenario field path in plain words, its unit in brackets:
    ``phases.pull.p50_s`` -> ``pull time, median (p50) (s)``; ``hosts.runner.count`` -> ``runner hosts (count)``;
    ``registries.hub.bandwidth`` -> ``hub registry: bandwidth``; ``makespan_s`` -> ``makespan (last job ended) (s)``."""
    parts = path.split(".")
    owners = {"hosts": "hosts", "registries": "registry", "workloads": "workload"}
    if parts[:1] == ["hosts"] and len(parts) == 3 and parts[2] == "count":
        return f"{parts[1]} hosts (count)"
    if len(parts) >= 3 and parts[0] in owners:
        owner = owners[parts[0]]
        name = parts[1] if parts[1] == owner else f"{parts[1]} {owner}"  # a registry named "registry"
        return f"{name}: {metric_label('.'.join(parts[2:]))}"
    unit = ""
    last = parts[-1]
    for suffix, name in _UNIT_SUFFIXES.items():
        if last.endswith(suffix) and last != suffix[1:]:
            unit, parts[-1] = name, last[: -len(suffix)]
            break
    if len(parts) == 3 and parts[0] == "phases":
        phase = "whole job" if parts[1] == "job" else f"{parts[1]} time"
        text = f"{phase}, {_WORDS.get(parts[2], parts[2].replace('_', ' '))}"
    else:
        text = " ".join(w for w in (_WORDS.get(p, p.replace("_", " ")) for p in parts) if w).strip()
    text = text or path
    return f"{text} ({unit})" if unit else text


def axis_scale(values: Iterable[float]) -> str:
    """``log`` when every value is positive and they span more than DECADES decades; ``symlog`` when the
    positive ones do but some are zero (a log axis cannot show 0); else ``linear``."""
    return _scale_of(_finite(values))


def _finite(values: Iterable[float]) -> np.ndarray:
    """The finite values as floats (an array: a CDF chart hands over every sample of every phase)."""
    array = values if isinstance(values, np.ndarray) else np.fromiter(values, dtype=float)
    finite: np.ndarray = array[np.isfinite(array)]
    return finite


def _scale_of(finite: np.ndarray) -> str:
    positive = finite[finite > 0]
    if not len(positive) or math.log10(float(positive.max()) / float(positive.min())) <= DECADES:
        return "linear"
    return "log" if len(positive) == len(finite) else "symlog"


def set_scale(ax: Any, values: Iterable[float], axis: str = "x") -> str:
    """Give ``ax`` the scale ``axis_scale`` chooses for ``values``; a range that is one value (or nearly)
    is widened around it so the axis shows that value, not a span of micro-ticks. Returns the scale."""
    finite = _finite(values)
    scale = _scale_of(finite)
    setter = ax.set_xscale if axis == "x" else ax.set_yscale
    if scale == "symlog":
        setter(scale, linthresh=float(finite[finite > 0].min()))
    else:
        setter(scale)
    if scale != "linear":
        plain_log_labels(ax.xaxis if axis == "x" else ax.yaxis)
    if len(finite) and scale == "linear":
        low, high = float(finite.min()), float(finite.max())
        if high - low <= 1e-6 * max(abs(high), 1e-9):
            pad = max(abs(high) * 0.1, 1e-3)
            (ax.set_xlim if axis == "x" else ax.set_ylim)(max(0.0, low - pad) if low >= 0 else low - pad, high + pad)
    return scale


def plain_log_labels(axis: Any) -> None:
    """Tick labels of a log axis as plain numbers (0.01, 0.1, 1, 10, 100, 1e+06: ``format(x, "g")``) instead of
    matplotlib's powers of ten (10^-2, 10^-1, ...), read at a glance as seconds; and none on the minor ticks
    (matplotlib labels those only on an axis spanning at most about a decade, and ``set_scale`` makes an axis
    logarithmic only beyond ``DECADES``). Drawn as plain text, not through mathtext's parser: the latency CDF
    of 20,000 container jobs lays out in 0.050 s instead of 0.064 (docs/performance.md, "Session 36")."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    axis.set_major_formatter(FuncFormatter(lambda x, _: format(x, "g")))
    axis.set_minor_formatter(NullFormatter())


def seconds_label(scale: str, what: str = "simulated seconds") -> str:
    """An axis of durations: says when it is logarithmic."""
    return what + (", log scale" if scale != "linear" else "")


def legend_outside(ax: Any, *, handles: list[Any] | None = None, fontsize: float = 7, **kwargs: Any) -> Any:
    """A legend to the right of the axes, outside the data (tight_layout makes room for it)."""
    options: dict[str, Any] = {"loc": "upper left", "bbox_to_anchor": (1.01, 1.0), "fontsize": fontsize,
                               "borderaxespad": 0.0}
    options.update(kwargs)
    if handles is not None:
        options["handles"] = handles
    return ax.legend(**options)


# ----------------------------------------------------------------------------------------- sizes

_BINARY = re.compile(r"\d\s*(KiB|MiB|GiB|TiB)\b")
_DECIMAL = re.compile(r"\d\s*(kB|KB|MB|GB|TB)\b")


def binary_units(yaml_text: str) -> bool:
    """The scenario writes sizes in binary units (32GiB, 512MiB) more often than in decimal ones (1GB)."""
    return len(_BINARY.findall(yaml_text)) > len(_DECIMAL.findall(yaml_text))


def format_binary(nbytes: float) -> str:
    """A size in binary units, as the scenario wrote it: 32GiB stays 32GiB (not 34.4GB)."""
    if math.isinf(nbytes):
        return "inf"
    for unit, factor in (("TiB", 2.0**40), ("GiB", 2.0**30), ("MiB", 2.0**20), ("KiB", 2.0**10)):
        if abs(nbytes) >= factor:
            return f"{nbytes / factor:.3g}{unit}"
    return f"{nbytes:.0f}B"


def size_formatter(yaml_text: str | None) -> Callable[[float], str]:
    """How to print sizes for this scenario: binary units when it is written in them, else docker's SI."""
    from dsim.units import format_size

    return format_binary if yaml_text and binary_units(yaml_text) else format_size
