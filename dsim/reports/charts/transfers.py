"""Charts of image transfers: bandwidth of registries and links (the pull waterfall: charts/pulls.py)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dsim.records import SpanKind
from dsim.reports.charts.common import BINS, Chart, end_time, natural_key
from dsim.reports.charts.labels import legend_outside, size_formatter
from dsim.reports.context import ScenarioInfo
from dsim.reports.derive import SpanIndex, bin_centres, binned_average
from dsim.reports.style import extra_colour, figure, no_data, save, time_unit
from dsim.result import SimResult

# ----------------------------------------------------------------------------------------- 5. bandwidth

def _transfer_series(result: SimResult, key: Callable[[Any], str | None]
                     ) -> dict[str, list[tuple[float, float, float]]]:
    series: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    for span in result.spans:
        if span.end <= span.start or "bytes" not in span.attrs:
            continue
        name = key(span)
        if name is not None:
            series[name].append((span.start, span.end, float(span.attrs["bytes"]) / span.duration))
    return series


def _registry_key(span: Any) -> str | None:
    if "registry" not in span.attrs:
        return None
    return str(span.attrs["registry"]) if span.kind == SpanKind.DOWNLOAD else f"{span.attrs['registry']} ({span.kind})"


def _link_series(result: SimResult) -> dict[str, list[tuple[float, float, float]]]:
    """Measured link loads: each ``link`` span is the bytes one directed link carried between two samples."""
    series: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    for span in result.spans_of(SpanKind.LINK):
        if span.end > span.start:
            series[span.subject].append((span.start, span.end, float(span.attrs.get("bytes", 0.0)) / span.duration))
    return series


def bandwidth(result: SimResult, path: Path, info: ScenarioInfo | None = None,
              index: SpanIndex | None = None) -> Chart:
    """Bytes per second out of each registry, and through the busiest links (or into the busiest hosts)."""
    end = end_time(result, index)
    unit, div = time_unit(end)
    centres = [c / div for c in bin_centres(0.0, end, BINS)]
    links = _link_series(result)
    measured = bool(links)
    size = size_formatter(info.yaml_text if info else None)
    if measured:
        registries = {name: items for name, items in links.items() if name.split("->")[0] in result.registries}
        registries = {name.split("->")[0] if sum(1 for k in registries if k.startswith(name.split("->")[0] + "->"))
                      == 1 else name: items for name, items in registries.items()}
        lower = links
    else:
        registries = _transfer_series(result, _registry_key)
        lower = _transfer_series(result, lambda s: s.host if s.kind == SpanKind.DOWNLOAD and s.host else None)
    capacities: dict[str, float] = {}
    if info is not None and info.resolved is not None:
        capacities = {name: reg.bandwidth for name, reg in info.resolved.registries.items()}
    link_caps = {s.subject: float(s.attrs["capacity"]) for s in result.spans_of(SpanKind.LINK) if "capacity" in s.attrs}
    with figure(10, 6, 2, 1, sharex=True) as (fig, (top, bottom)):
        for i, name in enumerate(sorted(registries, key=natural_key)):
            values = binned_average(registries[name], 0.0, end, BINS)
            top.plot(centres, [v * 8 / 1e9 for v in values], color=extra_colour(i), label=name, linewidth=1.4)
            cap = capacities.get(name)
            if cap is not None and not math.isinf(cap):
                top.axhline(cap * 8 / 1e9, color=extra_colour(i), linestyle="--", linewidth=0.8,
                            label=f"{name} capacity")
        if registries:
            legend_outside(top, fontsize=8)
            top.grid(alpha=0.3)
        else:
            no_data(top, "no blob downloads")
        top.set_ylabel("egress (Gbit/s)")
        top.set_title(f"{result.scenario}: registry egress over time" + ("" if measured else " (estimated)"))
        totals = {h: sum((e - s) * r for s, e, r in items) for h, items in lower.items()}
        busiest = sorted(totals, key=lambda h: (-totals[h], natural_key(h)))[:6 if measured else 5]
        for i, name in enumerate(busiest):
            values = binned_average(lower[name], 0.0, end, BINS)
            cap = link_caps.get(name, math.inf)
            if measured and not math.isinf(cap) and cap > 0:
                ys = [100 * v / cap for v in values]
            else:
                ys = [v * 8 / 1e9 for v in values]
            bottom.plot(centres, ys, color=extra_colour(i), linewidth=1.2,
                        label=f"{name} ({size(totals[name])})")
        if not measured and len(lower) > 1:
            every = [item for items in lower.values() for item in items]
            mean = [v / len(lower) for v in binned_average(every, 0.0, end, BINS)]
            bottom.plot(centres, [v * 8 / 1e9 for v in mean], color="#000000", linestyle=":", linewidth=1.2,
                        label=f"mean of {len(lower)} hosts")
        if lower:
            legend_outside(bottom)
            bottom.grid(alpha=0.3)
        else:
            no_data(bottom, "no blob downloads")
        if measured and link_caps:
            bottom.set_ylabel("utilisation (%)")
            bottom.set_title("busiest links (directed), share of capacity", fontsize=9)
        else:
            bottom.set_ylabel("ingress (Gbit/s)")
            bottom.set_title("busiest hosts' downlinks (blob bytes received, estimated)", fontsize=9)
        bottom.set_xlabel(f"simulated time ({unit})")
        save(fig, path)
    if measured:
        caption = ("Bits per second leaving each registry (dashed: its configured egress), and the busiest links' "
                   "load as a share of capacity, measured from the network's byte counters between samples.")
    else:
        caption = ("Bits per second leaving each registry (dashed: its configured egress) and entering the busiest "
                   "hosts, estimated by spreading each download's bytes evenly over its duration: when downloads "
                   "speed up and slow down as others start and finish, the estimate can briefly overshoot a link's "
                   "capacity.")
    return Chart("registry_egress", path, "Bandwidth over time", caption)
