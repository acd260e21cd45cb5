"""Charts of a run (matplotlib, Agg backend, no timestamps in files): they read SimResult only."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from dsim.result import SimResult  # noqa: E402

#: Okabe-Ito, a colour-blind-safe palette.
PALETTE = {
    "queue": "#999999", "pull": "#0072B2", "build": "#E69F00", "push": "#CC79A7",
    "create": "#009E73", "start": "#D55E00", "run": "#56B4E9", "stop": "#F0E442",
}
TIMELINE_MAX_JOBS = 400
PNG_METADATA = {"Software": None}


def _save(fig: Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=100, metadata=PNG_METADATA)
    plt.close(fig)
    return path


def timeline(result: SimResult, path: Path) -> Path:
    """Gantt of jobs grouped by host, each job's phases coloured; samples evenly beyond a size."""
    jobs = result.jobs
    shown = jobs if len(jobs) <= TIMELINE_MAX_JOBS else jobs[:: -(-len(jobs) // TIMELINE_MAX_JOBS)]
    ids = {job.job for job in shown}
    order = sorted(shown, key=lambda job: (job.host, job.job))
    row = {job.job: i for i, job in enumerate(order)}
    bars: dict[str, list[tuple[float, float, int]]] = defaultdict(list)
    for span in result.spans_of("api"):
        if span.job in ids and span.attrs["queue"] > 0:
            bars["queue"].append((span.start, span.attrs["queue"], row[span.job]))
    for phase in ("pull", "create", "start", "run", "stop"):
        for span in result.spans_of(phase):
            if span.job in ids:
                bars[phase].append((span.start, span.duration, row[span.job]))
    fig, ax = plt.subplots(figsize=(11, max(3.0, min(14.0, 0.03 * len(order) + 2))))
    for phase, items in bars.items():
        ax.barh([r for _, _, r in items], [d for _, d, _ in items], left=[s for s, _, _ in items], height=0.8,
                color=PALETTE[phase], label=phase, linewidth=0)
    hosts = sorted({job.host for job in order})
    ticks = [min(row[j.job] for j in order if j.host == h) for h in hosts]
    if len(hosts) <= 40:
        ax.set_yticks(ticks, hosts, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("simulated time (s)")
    sampled = "" if len(shown) == len(jobs) else f" (every {len(jobs) // len(shown)}th of {len(jobs)} jobs)"
    ax.set_title(f"{result.scenario}: job timeline by host{sampled}")
    ax.legend(loc="lower right", fontsize=8, ncols=3)
    return _save(fig, path)


def latency_cdfs(result: SimResult, path: Path) -> Path:
    """Empirical CDFs of pull, start and whole-job latency."""
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for phase, colour in (("pull", PALETTE["pull"]), ("start", PALETTE["start"]), ("job", "#000000")):
        values = sorted(result.phase_samples(phase))
        if values:
            n = len(values)
            ax.step(values, [(i + 1) / n for i in range(n)], where="post", color=colour, label=f"{phase} (n={n})")
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlabel("latency (s)")
    ax.set_ylabel("fraction of operations")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(f"{result.scenario}: latency CDFs")
    return _save(fig, path)


def registry_egress(result: SimResult, path: Path, bins: int = 200) -> Path:
    """Bytes per second each registry sent over time (each download spread evenly over its span)."""
    end = max((span.end for span in result.spans_of("download")), default=0.0) or 1.0
    width = end / bins
    fig, ax = plt.subplots(figsize=(9, 4))
    series: dict[str, list[float]] = defaultdict(lambda: [0.0] * bins)
    for span in result.spans_of("download"):
        rate = span.attrs["bytes"] / span.duration if span.duration > 0 else 0.0
        first, last = int(span.start / width), min(bins - 1, int(span.end / width))
        for b in range(first, last + 1):
            overlap = min(span.end, (b + 1) * width) - max(span.start, b * width)
            series[span.attrs["registry"]][b] += rate * max(0.0, overlap) / width
    xs = [(b + 0.5) * width for b in range(bins)]
    for name in sorted(series):
        ax.plot(xs, [v * 8 / 1e9 for v in series[name]], label=name)
    ax.set_xlabel("simulated time (s)")
    ax.set_ylabel("egress (Gbit/s)")
    ax.set_title(f"{result.scenario}: registry egress over time")
    if series:
        ax.legend()
    ax.grid(alpha=0.3)
    return _save(fig, path)


def write_charts(result: SimResult, out: Path) -> list[Path]:
    charts = out / "charts"
    charts.mkdir(parents=True, exist_ok=True)
    return [
        timeline(result, charts / "timeline.png"),
        latency_cdfs(result, charts / "latency_cdf.png"),
        registry_egress(result, charts / "registry_egress.png"),
    ]
