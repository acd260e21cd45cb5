"""Service call latency, tier by tier: one panel per container called (proxy, app, db), one CDF per
workload that called it, on one shared time axis, so a request's time reads as the sum of its tiers (a
caller's latency includes the calls it made in turn) and one setup sits against another (db on the same
host against db across a link).

A call belongs to the workload of the job whose container made it (as in summary.json's
``workloads.<name>.calls``); each panel also names the workloads whose containers answered.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dsim.records import Span, SpanKind
from dsim.reports.charts.common import Chart
from dsim.reports.charts.labels import legend_outside, seconds_label, set_scale
from dsim.reports.context import ScenarioInfo
from dsim.reports.derive import SpanIndex, cdf_steps
from dsim.reports.style import extra_colour, figure, save
from dsim.result import SimResult


def _duration(seconds: float) -> str:
    """Call latencies are milliseconds: three significant digits of them (1.69 ms, not 2ms)."""
    return f"{seconds * 1000:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"


def callee_host(span: Span, hosts: Sequence[str]) -> str:
    """Where the answering container ran: the host named in ``host:port`` (a published port, reached across
    hosts), else the caller's own host (a name resolves only on its host: service_calls.py)."""
    target = span.subject.rpartition(":")[0]
    return target if target in hosts else span.host


def servers(result: SimResult, of_job: dict[int, str]) -> dict[tuple[str, str], str]:
    """(host, container name) -> the workload whose job ran that container."""
    found: dict[tuple[str, str], str] = {}
    for span in result.spans_of(SpanKind.PROCESS):
        workload = of_job.get(span.job)
        if workload is not None:
            found.setdefault((span.host, span.subject), workload)
    return found


def call_latency(result: SimResult, path: Path, info: ScenarioInfo | None = None,
                 index: SpanIndex | None = None) -> Chart | None:
    """Drawn when some container made service calls (``calls:`` of a run step)."""
    calls = result.spans_of(SpanKind.SERVICE_CALL)
    if not calls:
        return None
    order = list(dict.fromkeys(end.workload for end in sorted(result.job_ends, key=lambda e: e.job)))
    of_job = {end.job: end.workload for end in result.job_ends}
    answered_by = servers(result, of_job)
    hosts = list(result.hosts)
    latencies: dict[str, dict[tuple[str, str], list[float]]] = defaultdict(lambda: defaultdict(list))
    failed: Counter[tuple[str, str, str]] = Counter()
    served: dict[str, dict[str, None]] = defaultdict(dict)
    first: dict[str, float] = {}
    for span in calls:
        workload = of_job.get(span.job)
        if workload is None:
            continue
        tier = span.attrs["callee"] or span.subject  # a call that found no container: named as it was made
        first[tier] = min(first.get(tier, math.inf), span.start)
        line = latencies[tier][(workload, span.subject)]
        if span.attrs["status"] == "ok":
            line.append(span.duration)
            host = callee_host(span, hosts)
            server = answered_by.get((host, span.attrs["callee"]))
            served[tier][f"{server} on {host}" if server else host] = None
        else:
            failed[(tier, workload, span.subject)] += 1
    tiers = sorted(latencies, key=lambda tier: (first[tier], tier))  # the outermost tier is called first
    every = [v for tier in tiers for values in latencies[tier].values() for v in values]
    with figure(10.5, 2.4 * len(tiers) + 0.9, len(tiers), 1, squeeze=False, sharex=True) as (fig, axes):
        scale = "linear"
        for ax, tier in zip((row[0] for row in axes), tiers, strict=True):
            for workload, to in sorted(latencies[tier], key=lambda line: (order.index(line[0]), line[1])):
                _line(ax, sorted(latencies[tier][(workload, to)]), workload if to == tier else f"{workload} via {to}",
                      failed[(tier, workload, to)], extra_colour(order.index(workload)))
            scale = set_scale(ax, every)
            ax.set_ylim(0, 1.02)
            ax.set_ylabel("fraction of calls")
            ax.grid(alpha=0.3)
            by = f" (answered by {', '.join(served[tier])})" if served[tier] else ""
            ax.set_title(f"calls to {tier}{by}", fontsize=9)
            legend_outside(ax)
        axes[-1][0].set_xlabel(f"call latency ({seconds_label(scale)})")
        fig.suptitle(f"{result.scenario}: service call latency, tier by tier", fontweight="bold")
        save(fig, path)
    return Chart("calls", path, "Service call latency by tier",
                 "Share of each workload's calls that were answered within x, one panel per container called, "
                 "on one time axis: a caller's latency includes the calls it made in turn, so the panels add up "
                 "tier by tier. Each line is the workload whose container made the calls; p50 and p95 in the "
                 "legend, failed calls counted there too.")


def _line(ax: Any, values: list[float], name: str, failures: int, colour: str) -> None:
    """One workload's CDF of answered calls (a legend entry only, when every call failed)."""
    lost = f", {failures:,} failed" if failures else ""
    if not values:
        ax.plot([], [], color=colour, linewidth=1.6, label=f"{name}: all {failures:,} calls failed")
        return
    n = len(values)
    p50, p95 = values[(n - 1) // 2], values[min(n - 1, math.ceil(0.95 * n) - 1)]
    ax.step(*cdf_steps(values), where="post", color=colour, linewidth=1.6,
            label=f"{name} (n={n:,}{lost}; p50 {_duration(p50)}, p95 {_duration(p95)})")
