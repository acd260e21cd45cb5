"""Charts that tell a scenario's own story when it has one: the first job as a sequence diagram (client,
daemon, registry, kernel), container state lanes (running, restarting with backoff, OOM-killed), and
density (sandboxes running over time, one line per workload: container vs VM vs microVM)."""

from __future__ import annotations

from collections import defaultdict
from operator import attrgetter
from pathlib import Path

from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from dsim.records import Span, SpanKind
from dsim.reports.charts.common import Chart, natural_key
from dsim.reports.context import ScenarioInfo
from dsim.reports.derive import SpanIndex
from dsim.reports.style import extra_colour, figure, no_data, save, time_unit
from dsim.result import SimResult

#: At most this many containers get a lane; the ones with the most restarts and OOM kills come first.
MAX_LANES = 40
STATE_COLOURS = {"running": "#009E73", "restarting": "#E69F00", "exited": "#BBBBBB"}


def sequence(result: SimResult, path: Path, info: ScenarioInfo | None = None,
             index: SpanIndex | None = None) -> Chart | None:
    """The first job's story as messages between the client, the daemon, the registry and the kernel."""
    from dsim.reports.explain import sequence_diagram

    if not result.job_ends:
        return None
    job = min(end.job for end in result.job_ends)
    sequence_diagram(result, job, path, info, index)
    return Chart("sequence", path, f"Job {job} as a sequence diagram",
                 "What the client, the daemon, a registry and the kernel say to each other during the first job, "
                 "time running down (as `dsim explain SCENARIO --job 1 -o FILE` draws it).")


def _process_runs(result: SimResult) -> dict[tuple[str, str], list[Span]]:
    runs: dict[tuple[str, str], list[Span]] = defaultdict(list)
    for span in result.spans_of(SpanKind.PROCESS):
        runs[(span.host, span.subject)].append(span)
    return runs


def container_states(result: SimResult, path: Path, info: ScenarioInfo | None = None,
                     index: SpanIndex | None = None) -> Chart | None:
    """One lane per container: running, restarting (the backoff delay), and a cross where the OOM killer
    or the cgroup limit killed it. Drawn when some container restarted or was OOM-killed."""
    if not result.spans_of(SpanKind.RESTARTING) and not any(result.attr_column(SpanKind.PROCESS, "oom")):
        return None  # nothing to draw: known from two columns, without reading every run
    runs = _process_runs(result)
    restarts: dict[tuple[str, str], list[Span]] = defaultdict(list)
    for span in result.spans_of(SpanKind.RESTARTING):
        restarts[(span.host, span.subject)].append(span)
    eventful = [key for key, spans in runs.items()
                if key in restarts or any(s.attrs.get("oom") for s in spans)]
    if not eventful:
        return None
    eventful.sort(key=lambda key: (-len(restarts.get(key, [])), natural_key(key[0]), natural_key(key[1])))
    shown = sorted(eventful[:MAX_LANES], key=lambda key: (natural_key(key[0]), natural_key(key[1])))
    end = max([s.end for spans in runs.values() for s in spans] + [result.makespan_s, 1e-9])
    unit, div = time_unit(end)
    kills = 0
    with figure(10, max(2.6, 0.32 * len(shown) + 1.4)) as (fig, ax):
        for lane, key in enumerate(shown):
            for span in runs[key]:
                ax.broken_barh([(span.start / div, max(span.duration, 0.0) / div)], (lane - 0.35, 0.7),
                               color=STATE_COLOURS["running"])
                if span.attrs.get("oom"):
                    kills += 1
                    ax.plot(span.end / div, lane, marker="X", color="#D55E00", markersize=8, linestyle="none")
            for span in restarts.get(key, []):
                ax.broken_barh([(span.start / div, max(span.duration, 0.0) / div)], (lane - 0.2, 0.4),
                               color=STATE_COLOURS["restarting"])
        of_job = {done.job: done.workload for done in result.job_ends}
        workload = {key: of_job.get(runs[key][0].job, "") for key in shown}  # the job that created it
        ax.set_yticks(range(len(shown)), [f"{name} ({host})" if workload[(host, name)] in ("", name)
                                          else f"{name} ({workload[(host, name)]} on {host})" for host, name in shown])
        ax.set_ylim(len(shown) - 0.4, -0.6)
        ax.set_xlabel(f"simulated time ({unit})")
        handles = [Patch(color=STATE_COLOURS["running"], label="running"),
                   Patch(color=STATE_COLOURS["restarting"], label="restarting (backoff delay)"),
                   Line2D([], [], marker="X", color="#D55E00", linestyle="none", label="OOM-killed")]
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.12 - 0.4 / max(len(shown), 1)),
                  ncol=3)
        more = f" ({len(eventful) - len(shown)} more not drawn)" if len(eventful) > len(shown) else ""
        ax.set_title(f"{result.scenario}: containers that restarted or were OOM-killed{more}")
        save(fig, path)
    return Chart("container_states", path, "Container states",
                 f"Each container that restarted or was OOM-killed: running (green), waiting out its restart "
                 f"backoff (orange), and a cross where it was killed for memory ({kills} kills drawn).")


def density(result: SimResult, path: Path, info: ScenarioInfo | None = None,
            index: SpanIndex | None = None) -> Chart | None:
    """Sandboxes (containers, VMs, microVMs) running over time, one line per workload: how many fit.
    Drawn when several workloads ran containers."""
    if len(set(map(attrgetter("workload"), result.job_ends))) < 2:
        return None  # one workload at most: no span need be read
    of_job = {end.job: end.workload for end in result.job_ends}
    edges: dict[str, list[tuple[float, int]]] = defaultdict(list)
    kinds: dict[str, set[str]] = defaultdict(set)
    hosts: dict[str, set[str]] = defaultdict(set)
    for span in result.spans_of(SpanKind.PROCESS):
        workload = of_job.get(span.job)
        if workload is None:
            continue
        running_at_end = span.attrs.get("status") == "running"
        edges[workload] += [(span.start, 1), (float("inf") if running_at_end else span.end, -1)]
        kinds[workload].add(str(span.attrs.get("isolation", "container")))
        hosts[workload].add(span.host)
    if len(edges) < 2:
        return None
    end = max([result.makespan_s, result.horizon_s, 1e-9])
    unit, div = time_unit(end)
    with figure(9, 4.2) as (fig, ax):
        order = list(dict.fromkeys(end.workload for end in sorted(result.job_ends, key=lambda e: e.job)))
        for i, workload in enumerate(w for w in order if w in edges):
            times, counts, running = [0.0], [0], 0
            for at, step in sorted(edges[workload]):  # at equal times an end (-1) before a start (+1)
                running += step
                times.append(min(at, end) / div)
                counts.append(running)
            times.append(end / div)
            counts.append(running)
            kind = "/".join(sorted(kinds[workload]))
            label = f"{workload} ({kind} on {len(hosts[workload])} host(s), peak {max(counts)})"
            ax.step(times, counts, where="post", color=extra_colour(i), linewidth=1.8, label=label)
        ax.set_xlabel(f"simulated time ({unit})")
        ax.set_ylabel("sandboxes running")
        ax.set_ylim(bottom=0)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=1)
        ax.set_title(f"{result.scenario}: sandboxes running, per workload")
        if not ax.lines:
            no_data(ax, "no container ran")
        save(fig, path)
    return Chart("density", path, "Density: sandboxes running",
                 "How many containers, VMs or microVMs of each workload were running at each moment: the peak "
                 "is how many fit (a start that did not fit failed, see the Workloads table).")
