"""The compose timeline: one ``docker compose up -d`` drawn lane by lane (images pulled, then each
container created, waiting for its dependencies, starting, its health check starting, then healthy), so
the dependency and health order of a compose file shows (components/compose.py)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from matplotlib.patches import Patch

from dsim.records import SpanKind
from dsim.reports.charts.common import Chart, draw_bars
from dsim.reports.context import ScenarioInfo
from dsim.reports.derive import SpanIndex
from dsim.reports.style import colour, figure, save, time_unit
from dsim.result import SimResult

#: At most this many ``up`` runs are drawn (each workload's first, its slowest when another, and those that
#: recreated containers: a redeploy).
MAX_PANELS = 4
#: The lanes' states, in the order a container meets them (each a colour of the legend).
STATES = ("pull", "create", "waiting", "start", "health: starting", "healthy", "build", "stop")
COLOURS = {"pull": "pull", "create": "create", "waiting": "queue", "start": "start", "health: starting": "unpack",
           "healthy": "run", "build": "build", "stop": "stop"}
#: states in the legend only when drawn (a project without build: services or recreated containers keeps its
#: picture as it was)
OPTIONAL = ("build", "stop")

Bar = tuple[float, float]


def _ups(result: SimResult) -> list[tuple[str, Any]]:
    """(workload, COMPOSE span) of every ``up``, in time order."""
    spans = result.spans_of(SpanKind.COMPOSE)
    if not spans:
        return []  # most runs: no job's workload need be looked up
    of_job = {end.job: end.workload for end in result.job_ends}
    ups = [(of_job.get(s.job, ""), s) for s in spans if s.attrs.get("action") == "up"]
    return sorted(ups, key=lambda pair: (pair[1].start, pair[1].job))


def _chosen(ups: list[tuple[str, Any]], recreated: set[tuple[int, str, float]]) -> list[tuple[str, Any]]:
    """Each workload's first ``up``, its slowest, and those that recreated containers (``recreated``: (job,
    host, time) of each recreate), at most MAX_PANELS."""
    picked: list[int] = []
    for workload in dict.fromkeys(w for w, _ in ups):
        mine = [i for i, (w, _) in enumerate(ups) if w == workload]
        slowest = max(mine, key=lambda i: (ups[i][1].end - ups[i][1].start, -i))
        redeploys = [i for i in mine if any(job == ups[i][1].job and host == ups[i][1].host
                                            and ups[i][1].start <= at <= ups[i][1].end for job, host, at in recreated)]
        picked += list(dict.fromkeys([mine[0], slowest, *redeploys]))
    return [ups[i] for i in dict.fromkeys(picked[:MAX_PANELS])]


def lanes(result: SimResult, job: int, host: str, began: float, end: float) -> dict[str, dict[str, list[Bar]]]:
    """lane (``pull IMAGE`` or a container) -> state -> bars, for one ``up`` of ``job`` on ``host``; a healthy
    container's lane runs to ``end``."""
    out: dict[str, dict[str, list[Bar]]] = defaultdict(lambda: defaultdict(list))

    def mine(span: Any) -> bool:
        return bool(span.job == job and span.host == host and span.start >= began - 1e-9)

    renamed: dict[str, str] = {}  # a recreated container's temporary name -> its name (its lane)
    for span in result.spans_of(SpanKind.COMPOSE_OBJECT):
        if not mine(span) or span.end > end + 1e-9 or span.attrs.get("action") == "remove":
            continue
        if span.attrs.get("object") == "container":  # a recreate: its create, stop and start on its own lane
            renamed.update((s.subject, span.subject) for s in result.spans_of(SpanKind.CREATE)
                           if mine(s) and s.subject.endswith(f"_{span.subject}") and span.start <= s.start <= span.end)
            continue
        out[f"{span.attrs.get('object', '')} {span.subject}"]["create"].append((span.start, span.end))
    for span in result.spans_of(SpanKind.PULL):
        if mine(span) and span.end <= end + 1e-9:
            out[f"pull {span.subject}"]["pull"].append((span.start, span.end))
    for span in result.spans_of(SpanKind.BUILD):  # a service's image built (compose build:)
        if mine(span) and span.end <= end + 1e-9:
            out[f"build {span.subject}"]["build"].append((span.start, span.end))
    for kind, state in ((SpanKind.CREATE, "create"), (SpanKind.START, "start"), (SpanKind.STOP, "stop")):
        for span in result.spans_of(kind):
            if mine(span) and span.start <= end + 1e-9:
                out[renamed.get(span.subject, span.subject)][state].append((span.start, span.end))
    for span in result.spans_of(SpanKind.COMPOSE_WAIT):
        if mine(span):
            for name in span.attrs.get("containers", []):
                out[name]["waiting"].append((span.start, span.end))
    for span in result.spans_of(SpanKind.HEALTH):
        if mine(span) and span.subject in out:
            out[span.subject]["health: starting"].append((span.start, span.end))
            if span.attrs.get("status") == "healthy":
                out[span.subject]["healthy"].append((span.end, max(end, span.end)))
    return out


def compose_timeline(result: SimResult, path: Path, info: ScenarioInfo | None = None,
                     index: SpanIndex | None = None) -> Chart | None:
    """One panel per chosen ``up``: a lane per image pulled and per container, in the order they began."""
    ups = _ups(result)
    if not ups:
        return None
    recreated = {(s.job, s.host, s.start) for s in result.spans_of(SpanKind.COMPOSE_OBJECT)
                 if s.attrs.get("object") == "container"}
    chosen = _chosen(ups, recreated)
    panels = []
    for workload, up in chosen:
        # health checks go on after `up -d` returns: show until the last one decided (or the up's end)
        decided = [s.end for s in result.spans_of(SpanKind.HEALTH) if s.job == up.job and s.host == up.host
                   and s.start >= up.start]
        end = max([up.end, *decided])
        by_lane = lanes(result, up.job, up.host, up.start, end)
        order = sorted(by_lane, key=lambda lane: (not lane.startswith(("network ", "volume ")),
                                                  not lane.startswith(("pull ", "build ")),
                                                  min(a for bars in by_lane[lane].values() for a, _ in bars)))
        panels.append((workload, up, end, by_lane, order))
    longest = max(end - up.start for _, up, end, _, _ in panels)
    unit, div = time_unit(longest)
    rows = max(len(order) for *_, order in panels)
    height = max(2.4, min(7.0, 1.3 + 0.3 * rows))
    with figure(10.0, height * len(panels) + 0.6, len(panels), 1, squeeze=False) as (fig, axes):
        for ax, (workload, up, _end, by_lane, order) in zip((row[0] for row in axes), panels, strict=True):
            for state in STATES:
                items = [((a - up.start) / div, max((b - up.start) / div, (a - up.start) / div + longest / div * 0.003),
                          i - 0.35, i + 0.35)
                         for i, lane in enumerate(order) for a, b in by_lane[lane].get(state, [])]
                if items or state not in OPTIONAL:
                    draw_bars(ax, items, COLOURS[state], label=state)
            ax.axvline((up.end - up.start) / div, color="black", linewidth=0.8, linestyle="--")
            ax.set_yticks(range(len(order)), order, fontsize=7, family="monospace")
            ax.set_ylim(len(order) - 0.5, -0.5)
            ax.set_xlim(0, longest / div * 1.02)
            ax.set_xlabel(f"time since docker compose up began ({unit}); dashed: up -d returned")
            ax.set_title(f"{workload or 'compose'}: project {up.subject}, job {up.job} on {up.host}: up -d took "
                         f"{(up.end - up.start) / div:.3g} {unit} ({up.attrs.get('status', '')})", fontsize=9)
            ax.grid(axis="x", alpha=0.3)
        drawn = {state for *_, by_lane, _order in panels for bars in by_lane.values() for state in bars}
        shown = [s for s in STATES if s not in OPTIONAL or s in drawn]
        axes[0][0].legend(handles=[Patch(facecolor=colour(COLOURS[s]), label=s) for s in shown],
                          loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7)
        fig.suptitle(f"{result.scenario}: docker compose up, service by service", fontweight="bold")
        save(fig, path)
    return Chart("compose_timeline", path, "Compose timeline",
                 "Each workload's first docker compose up -d (its slowest, and those that recreated containers): "
                 "project networks and volumes created, the images pulled in parallel, then "
                 "every container created and started in dependency order (a recreated one: the new container "
                 "created, the old one stopped, the new one started); grey is a service waiting for its "
                 "dependencies' conditions (polled every 500 ms), light blue its own health check starting, yellow "
                 "healthy. The dashed line is where up -d returned.")
