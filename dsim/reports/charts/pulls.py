"""The pull waterfall: a job's ``docker pull`` layer by layer as docker shows it (Waiting, Downloading,
Extracting), for the slowest pull of each workload (or of each host group when there is one workload), so
a scenario comparing two sides shows a pull of each, not only the slowest of the run."""

from __future__ import annotations

from collections import defaultdict
from operator import attrgetter
from pathlib import Path
from typing import Any

from matplotlib.collections import PolyCollection
from matplotlib.patches import Patch

from dsim.records import SpanKind
from dsim.reports.charts.common import Chart, rectangles
from dsim.reports.charts.sampling import slowest_pulls
from dsim.reports.context import ScenarioInfo
from dsim.reports.derive import LayerProgress, PullDetail, SpanIndex, host_group, short_id
from dsim.reports.style import colour, figure, save, time_unit
from dsim.result import SimResult
from dsim.units import format_duration, format_size

STYLES = {
    "resolve": ("#999999", None, "resolving the tag"),
    "waiting": ("#DDDDDD", None, "Waiting (download slot / shared blob)"),
    "downloading": (colour("download"), None, "Downloading"),
    "complete": ("#FFFFFF", "...", "Download complete, waiting for the layer below"),
    "extracting": (colour("unpack"), "///", "Extracting"),
}


def _resolve_end(index: SpanIndex, job: int, start: float, first_layer: float) -> float:
    """When the manifest was resolved: the end of the job's last registry request before its first blob."""
    ends = [s.end for s in index.by_job.get(job, ()) if s.kind == SpanKind.REQUEST and start - 1e-9 <= s.start
            and s.end <= first_layer + 1e-9 and not s.subject.startswith("GET blob")]
    return max(ends, default=start)


def _the_pull(index: SpanIndex, job: int) -> PullDetail | None:
    """The job's pull that downloaded the most layers (the longest on a tie)."""
    pulls = index.pulls(job)
    if not pulls:
        return None
    return max(pulls, key=lambda p: (sum(1 for layer in p.layers if layer.download), p.span.duration))


def _rows(index: SpanIndex, job: int, pull: PullDetail, div: float
          ) -> tuple[dict[str, list[tuple[float, float, float, float]]], list[str], float]:
    """Bars by state, row labels, and the pull's end, in units of ``div`` from the pull's start."""
    t0 = pull.image_span.start if pull.image_span is not None else pull.span.start
    layers = list(pull.layers)
    starts = [layer.download.start for layer in layers if layer.download is not None]
    resolved = _resolve_end(index, job, t0, max(min(starts, default=t0), t0))
    finish = max([layer.ready for layer in layers] + [pull.span.end])

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
    return rows, labels, x(finish)


def _panel(ax: Any, index: SpanIndex, job: int, pull: PullDetail, who: str, unit: str, div: float,
           x_end: float) -> dict[str, Any]:
    """Draw one pull into ``ax``; returns its legend handles by label."""
    rows, labels, _ = _rows(index, job, pull, div)
    handles: dict[str, Any] = {}
    for name, (face, hatch, label) in STYLES.items():
        if rows.get(name):
            ax.add_collection(PolyCollection(rectangles(rows[name]), facecolors=face, edgecolors="#555555",
                                             linewidths=0.3, hatch=hatch))
            handles[label] = Patch(facecolor=face, edgecolor="#555555", hatch=hatch, label=label)
    present = [i for i, layer in enumerate(pull.layers, start=1) if layer.status == "Already exists"]
    if present:
        handles["Already exists"] = ax.scatter([0.0] * len(present), present, marker="o", color="#009E73", s=16,
                                               zorder=3, label="Already exists")
    ax.set_yticks(range(len(labels)), labels, fontsize=7, family="monospace")
    ax.set_ylim(len(labels) - 0.5, -0.5)
    ax.set_xlim(0, x_end * 1.02 or 1.0)
    ax.set_xlabel(f"time since the pull began ({unit})")
    whose = f"{who}: " if who else ""
    ax.set_title(f"{whose}docker pull {pull.image} (job {job} on {pull.host}), {format_duration(pull.span.duration)}",
                 fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    return handles


def pull_waterfall(result: SimResult, path: Path, info: ScenarioInfo | None = None,
                   index: SpanIndex | None = None, job: int | None = None) -> Chart | None:
    """The slowest pull of each workload (or host group), or of ``job``, layer by layer, one panel each."""
    index = index or SpanIndex(result)
    groups = info.groups if info else None
    chosen = [("", job)] if job is not None else slowest_pulls(result, lambda host: host_group(host, groups))
    panels = [(who, j, pull) for who, j in chosen if (pull := _the_pull(index, j)) is not None]
    if not panels:
        return None
    if len(panels) == 1:
        panels = [("", panels[0][1], panels[0][2])]
    longest = max(_rows(index, j, pull, 1.0)[2] for _, j, pull in panels)
    unit, div = time_unit(longest)
    heights = [max(2.2, min(10.0, 1.0 + 0.3 * (len(pull.layers) + 1))) for *_, pull in panels]
    with figure(10, sum(heights) + 1.0, len(panels), 1, squeeze=False,
                gridspec_kw={"height_ratios": heights}) as (fig, grid):
        handles: dict[str, Any] = {}
        for (who, j, pull), row in zip(panels, grid, strict=True):
            handles.update(_panel(row[0], index, j, pull, who, unit, div, longest / div))
        fig.suptitle(f"{result.scenario}: the slowest pull" + (" of each " + ("workload" if len(
            set(map(attrgetter("workload"), result.job_ends))) > 1 else "host group") if len(panels) > 1 else ""),
                     fontweight="bold", fontsize=10)
        # under the last panel's time axis (an axes' legend is laid out with it; save lays out once)
        grid[-1][0].legend(handles=list(handles.values()), loc="upper center", ncols=min(3, len(handles)),
                           fontsize=7, bbox_to_anchor=(0.5, -0.55 / heights[-1] * 1.6))
        save(fig, path)
    captions = []
    for _, j, pull in panels:
        downloaded = sum(layer.bytes for layer in pull.layers if layer.download is not None)
        present = sum(1 for layer in pull.layers if layer.status == "Already exists")
        captions.append(f"job {j}'s pull of {pull.image}: {len(pull.layers)} layers, {present} already present, "
                        f"{format_size(downloaded)} fetched")
    told = "; ".join(captions)
    caption = (told[:1].upper() + told[1:] + ". Blobs take the daemon's download slots in layer order "
               "(Waiting), stream in (Downloading), and are unpacked strictly in order, one at a time (Extracting); "
               "a blob that is in but whose lower layer is still extracting waits (dotted).")
    jobs = ", ".join(f"job {j}" for _, j, _ in panels)
    return Chart("pull_waterfall", path, f"Pull waterfall ({jobs})", caption)


def _layer_label(layer: LayerProgress) -> str:
    size = format_size(layer.bytes) if layer.download is not None else ""
    note = " shared" if layer.shared else ""
    status = "Already exists" if layer.status == "Already exists" else f"{size}{note}"
    return f"{short_id(layer.digest)} {status:>14}"
