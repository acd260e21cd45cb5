"""Charts of image transfers: one job's pull layer by layer, bandwidth of registries and links."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from matplotlib.collections import PolyCollection
from matplotlib.patches import Patch

from dsim.records import SpanKind
from dsim.reports.charts.common import BINS, Chart, end_time, natural_key, rectangles
from dsim.reports.charts.labels import legend_outside, size_formatter
from dsim.reports.context import ScenarioInfo
from dsim.reports.derive import LayerProgress, SpanIndex, bin_centres, binned_average, short_id, slowest_pull_job
from dsim.reports.style import colour, extra_colour, figure, no_data, save, time_unit
from dsim.result import SimResult
from dsim.units import format_duration, format_size

# ----------------------------------------------------------------------------------------- 2. pull waterfall

def _resolve_end(index: SpanIndex, job: int, start: float, first_layer: float) -> float:
    """When the manifest was resolved: the end of the job's last registry request before its first blob."""
    ends = [s.end for s in index.by_job.get(job, ()) if s.kind == SpanKind.REQUEST and start - 1e-9 <= s.start
            and s.end <= first_layer + 1e-9 and not s.subject.startswith("GET blob")]
    return max(ends, default=start)


def pull_waterfall(result: SimResult, path: Path, info: ScenarioInfo | None = None,
                   index: SpanIndex | None = None, job: int | None = None) -> Chart | None:
    """One job's pull, layer by layer, as ``docker pull`` shows it: Waiting, Downloading, Extracting."""
    index = index or SpanIndex(result)
    job = job if job is not None else slowest_pull_job(result)
    if job is None:
        return None
    pulls = index.pulls(job)
    if not pulls:
        return None
    pull = max(pulls, key=lambda p: (sum(1 for layer in p.layers if layer.download), p.span.duration))
    t0 = pull.image_span.start if pull.image_span is not None else pull.span.start
    layers = list(pull.layers)
    starts = [layer.download.start for layer in layers if layer.download is not None]
    resolved = _resolve_end(index, job, t0, max(min(starts, default=t0), t0))
    finish = max([layer.ready for layer in layers] + [pull.span.end])
    unit, div = time_unit(finish - t0)

    def x(t: float) -> float:
        return (t - t0) / div

    rows: dict[str, list[tuple[float, float, float, float]]] = defaultdict(list)
    labels = ["resolve tag (HEAD, token, manifest)"]
    rows["resolve"].append((0.0, x(resolved), -0.35, 0.35))
    for i, layer in enumerate(layers, start=1):
        labels.append(_layer_label(layer))
        y0, y1 = i - 0.35, i + 0.35
        if layer.status == "Already exists":
            continue
        dl = layer.download
        if dl is not None:
            begin = max(dl.start, resolved)
            if begin > resolved:
                rows["waiting"].append((x(resolved), x(begin), y0, y1))
            if dl.end > begin:
                rows["downloading"].append((x(begin), x(dl.end), y0, y1))
            after = dl.end
        else:
            after = resolved
        un = layer.unpack
        if un is not None:
            if un.start > after:
                rows["complete"].append((x(after), x(un.start), y0, y1))
            rows["extracting"].append((x(un.start), x(un.end), y0, y1))
    styles = {
        "resolve": ("#999999", None, "resolving the tag"),
        "waiting": ("#DDDDDD", None, "Waiting (download slot / shared blob)"),
        "downloading": (colour("download"), None, "Downloading"),
        "complete": ("#FFFFFF", "...", "Download complete, waiting for the layer below"),
        "extracting": (colour("unpack"), "///", "Extracting"),
    }
    height = max(3.2, min(12.0, 1.6 + 0.32 * len(labels)))
    with figure(10, height) as (fig, ax):
        handles = []
        for name, (face, hatch, label) in styles.items():
            if rows.get(name):
                ax.add_collection(PolyCollection(rectangles(rows[name]), facecolors=face, edgecolors="#555555",
                                                 linewidths=0.3, hatch=hatch))
                handles.append(Patch(facecolor=face, edgecolor="#555555", hatch=hatch, label=label))
        present = [i for i, layer in enumerate(layers, start=1) if layer.status == "Already exists"]
        if present:
            handles.append(ax.scatter([0.0] * len(present), present, marker="o", color="#009E73", s=16, zorder=3,
                                      label="Already exists"))
        ax.set_yticks(range(len(labels)), labels, fontsize=7, family="monospace")
        ax.set_ylim(len(labels) - 0.5, -0.5)
        ax.set_xlim(0, x(finish) * 1.02 or 1.0)
        ax.set_xlabel(f"time since the pull began ({unit})")
        ax.set_title(f"{result.scenario}: docker pull {pull.image} (job {job} on {pull.host}), "
                     f"{format_duration(pull.span.duration)}")
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.12 - 1.2 / height / 10),
                  ncols=min(3, len(handles)), fontsize=7)
        ax.grid(axis="x", alpha=0.3)
        save(fig, path)
    downloaded = sum(layer.bytes for layer in layers if layer.download is not None)
    caption = (f"Job {job}'s pull of {pull.image}: {len(layers)} layers, "
               f"{sum(1 for layer in layers if layer.status == 'Already exists')} already present, "
               f"{format_size(downloaded)} fetched. Blobs take the daemon's download slots in layer order "
               "(Waiting), stream in (Downloading), and are unpacked strictly in order, one at a time (Extracting); "
               "a blob that is in but whose lower layer is still extracting waits (dotted).")
    return Chart("pull_waterfall", path, f"Pull waterfall (job {job})", caption)


def _layer_label(layer: LayerProgress) -> str:
    size = format_size(layer.bytes) if layer.download is not None else ""
    note = " shared" if layer.shared else ""
    status = "Already exists" if layer.status == "Already exists" else f"{size}{note}"
    return f"{short_id(layer.digest)} {status:>14}"


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
