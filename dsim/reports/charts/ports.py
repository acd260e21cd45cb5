"""The host's port table over time: which container holds which published host port, and each bind that
failed because another container held the port (``Bind for 0.0.0.0:8080 failed: port is already allocated``).

Read from the records only: a ``publish`` span (instant) says which host ports a container bound when it
started; dockerd releases them with the container's network sandbox, so a binding lasts until the
container's process exits (its ``process`` span ends with a status other than ``running``), it is stopped
or removed, or it publishes again (a restart). A failed bind leaves no span (the start fails before runc):
it is the failed job's error line, the message docker prints, at the time the job ended.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from matplotlib.lines import Line2D

from dsim.records import SpanKind
from dsim.reports.charts.common import Chart, end_time, natural_key
from dsim.reports.context import ScenarioInfo
from dsim.reports.derive import SpanIndex
from dsim.reports.style import extra_colour, figure, save, time_unit
from dsim.result import SimResult

#: At most this many host ports get a row: the ports that saw a conflict first, then in natural order.
MAX_PORT_ROWS = 30
_MAPPING = re.compile(r"^(?P<ip>[^:]+):(?P<port>\d+)->\d+/(?P<proto>\w+)$")
_FAILED_BIND = re.compile(r"Bind for (?P<ip>[\d.:]+?):(?P<port>\d+) failed: port is already allocated")
_ENDPOINT = re.compile(r"endpoint (?P<name>\S+) \(")


@dataclass(frozen=True)
class Binding:
    """A host port held by a container from ``start`` until ``end`` (None: still held when the run ended)."""

    host: str
    port: str  # "8080/tcp"
    container: str
    start: float
    end: float | None


@dataclass(frozen=True)
class FailedBind:
    """A start that could not bind ``port`` because ``holder`` held it (empty when no binding explains it)."""

    host: str
    port: str
    container: str
    at: float
    job: int
    message: str
    holder: str


def _release(times: list[float], after: float) -> float | None:
    """The first release after a binding began (its own publish instant excluded)."""
    return min((t for t in times if t > after + 1e-9), default=None)


def port_table(result: SimResult) -> tuple[list[Binding], list[FailedBind]]:
    """Every binding of a host port, and every bind that failed, in time order."""
    # most runs publish no port: then no span need be read for the bindings
    bindings = _bindings(result) if any(result.attr_column(SpanKind.PUBLISH, "ports")) else []
    failed: list[FailedBind] = []
    found = [(done, match) for done in result.job_ends
             if done.status == "failed" and (match := _FAILED_BIND.search(done.error)) is not None]
    for done, match in sorted(found, key=lambda pair: (pair[0].end, pair[0].job)):  # only the binds that failed
        port = f"{match['port']}/tcp"
        name = _ENDPOINT.search(done.error)
        holder = next((b.container for b in bindings if b.host == done.host and b.port == port
                       and b.start <= done.end and (b.end is None or done.end < b.end)), "")
        failed.append(FailedBind(done.host, port, name["name"] if name else "", done.end, done.job,
                                 done.error, holder))
    return bindings, failed


def _bindings(result: SimResult) -> list[Binding]:
    releases: dict[tuple[str, str], list[float]] = defaultdict(list)
    for span in result.spans_of(SpanKind.PROCESS):
        if span.attrs.get("status") != "running":
            releases[(span.host, span.subject)].append(span.end)
    for kind in (SpanKind.STOP, SpanKind.RM):
        for span in result.spans_of(kind):
            releases[(span.host, span.subject)].append(span.end if kind == SpanKind.STOP else span.start)
    publishes = sorted(result.spans_of(SpanKind.PUBLISH), key=lambda s: (s.start, natural_key(s.subject)))
    for span in publishes:  # publishing again (a restart) means the earlier binding was released
        releases[(span.host, span.subject)].append(span.start)
    bindings: list[Binding] = []
    for span in publishes:
        end = _release(releases[(span.host, span.subject)], after=span.start)
        for mapping in span.attrs.get("ports", []):
            match = _MAPPING.match(str(mapping))
            if match:
                bindings.append(Binding(span.host, f"{match['port']}/{match['proto']}", span.subject, span.start, end))
    return bindings


def ports_chart(result: SimResult, path: Path, info: ScenarioInfo | None = None,
                index: SpanIndex | None = None) -> Chart | None:
    """One row per host port: a bar for each container that held it, a cross at each bind that failed."""
    bindings, failed = port_table(result)
    if not bindings and not failed:
        return None
    end = end_time(result, index)
    unit, div = time_unit(end)
    conflicted = {(f.host, f.port) for f in failed}
    keys = {(b.host, b.port) for b in bindings} | conflicted
    ordered = sorted(keys, key=lambda k: (k not in conflicted, natural_key(k[0]), natural_key(k[1])))
    shown = sorted(ordered[:MAX_PORT_ROWS], key=lambda k: (natural_key(k[0]), natural_key(k[1])))
    row = {key: i for i, key in enumerate(shown)}
    several_hosts = len({host for host, _ in keys}) > 1
    containers = list(dict.fromkeys(b.container for b in sorted(bindings, key=lambda b: b.start)))
    colour_of = {name: extra_colour(i) for i, name in enumerate(containers)}
    # the workload whose job started each binding (bob's container started again by bob-again is bob-again's)
    of_job = {done.job: done.workload for done in result.job_ends}
    started_by = {(s.host, s.subject, s.start): of_job.get(s.job, "") for s in result.spans_of(SpanKind.PUBLISH)}
    with figure(10, max(2.8, 0.3 * len(shown) + 2.0)) as (fig, ax):
        for b in bindings:
            if (b.host, b.port) not in row:
                continue
            y = row[(b.host, b.port)]
            stop = end if b.end is None else b.end
            ax.broken_barh([(b.start / div, max(stop - b.start, 0.0) / div)], (y - 0.3, 0.6),
                           color=colour_of[b.container])
            ax.text(b.start / div + (end / div) * 0.006, y,
                    _named(b.container, started_by.get((b.host, b.container, b.start), "")), ha="left", va="center",
                    fontsize=8,
                    color="white" if colour_of[b.container] in ("#0072B2", "#D55E00", "#000000") else "black")
        for f in failed:
            if (f.host, f.port) not in row:
                continue
            y = row[(f.host, f.port)]
            ax.plot(f.at / div, y, marker="X", color="#D55E00", markersize=11, markeredgecolor="black",
                    linestyle="none", zorder=4)
            held = f" (held by {f.holder})" if f.holder else ""
            who = _named(f.container, of_job.get(f.job, ""))
            ax.annotate(f"{who}: Bind for 0.0.0.0:{f.port.split('/')[0]} failed: port is already "
                        f"allocated{held}", (f.at / div, y), xytext=(8, 0), textcoords="offset points",
                        ha="left", va="center", fontsize=7.5, color="#B00000", zorder=5,
                        bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "#B00000",
                              "linewidth": 0.6, "alpha": 0.95})
        ax.set_yticks(range(len(shown)), [f"{host} {port}" if several_hosts else port for host, port in shown])
        ax.set_ylim(len(shown) - 0.3, -0.7)
        ax.set_xlim(0, end / div * 1.02)
        ax.set_xlabel(f"simulated time ({unit})")
        ax.set_ylabel("host port" if several_hosts else f"host port on {shown[0][0]}" if shown else "host port")
        ax.grid(axis="x", alpha=0.3)
        if failed:  # each bar names its container: the legend is only for the cross
            ax.legend(handles=[Line2D([], [], marker="X", color="#D55E00", markeredgecolor="black", linestyle="none",
                                      markersize=9, label="bind failed: port is already allocated")],
                      loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7)
        more = f" ({len(ordered) - len(shown)} more ports not drawn)" if len(ordered) > len(shown) else ""
        ax.set_title(f"{result.scenario}: who holds each host port over time{more}")
        save(fig, path)
    caption = ("Each published host port over time, a bar per container while it holds the port (from its start "
               "until it exits, is stopped or restarts). ")
    if failed:
        caption += (f"{len(failed)} start(s) failed to bind a port another container held (cross): docker printed "
                    f"'{failed[0].message}'.")
    else:
        caption += "No bind failed."
    return Chart("ports", path, "Host ports over time", caption)


def _named(container: str, workload: str) -> str:
    """A container with the workload that started it, when the names differ: ``web-b (bob-again)``."""
    return f"{container} ({workload})" if workload and workload != container else container
