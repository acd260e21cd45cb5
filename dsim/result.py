"""SimResult: what a run produced (spans and job outcomes) and every figure derived from them.

Phase samples are the durations of the spans of that kind (one per operation: each pull, each create,
each start, each run); ``queue`` samples are each API call's wait for a daemon worker; ``job`` samples
are each ended job's arrival-to-end time.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from dsim.records import SUMMARY_PHASE_KINDS, JobEnd, Span, SpanKind
from dsim.span_store import SpanStore
from dsim.workload_results import workload_summaries

#: Per-job phases: ``queue`` (each API call's wait for a daemon worker, from the ``api`` spans), then span kinds.
PHASES: tuple[str, ...] = ("queue", *SUMMARY_PHASE_KINDS)
#: With job slots (hosts.<group>.job_slots), a job's wait for a slot comes first: reported only by runs
#: in which some job waited, so runs without slots keep their columns.
SLOT_PHASES: tuple[str, ...] = (SpanKind.SLOT, *PHASES)
#: Phases of steps only some workloads take (``stop``, ``restart``: the stop; ``commit``; ``exec``), reported after
#: the others by runs that have them, so runs without keep their columns.
STEP_PHASES: tuple[str, ...] = (SpanKind.STOP, SpanKind.COMMIT, SpanKind.DOCKER_EXEC)


def job_columns(phases: tuple[str, ...]) -> tuple[str, ...]:
    """jobs.csv's header for these phases."""
    return ("job", "workload", "host", "arrival_s", "end_s", "status", *(f"{p}_s" for p in phases), "error")


JOB_COLUMNS = job_columns(PHASES)


def percentile(sorted_values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (NumPy's default), q in [0, 100]; a sorted NumPy array
    works too."""
    if len(sorted_values) == 0:
        return 0.0
    position = (len(sorted_values) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def describe(values: list[float]) -> dict[str, float | int]:
    ordered = sorted(values)
    if not ordered:
        return {"count": 0, "mean_s": 0.0, "p50_s": 0.0, "p95_s": 0.0, "p99_s": 0.0, "max_s": 0.0}
    return {
        "count": len(ordered),
        "mean_s": _r(sum(ordered) / len(ordered)),
        "p50_s": _r(percentile(ordered, 50)),
        "p95_s": _r(percentile(ordered, 95)),
        "p99_s": _r(percentile(ordered, 99)),
        "max_s": _r(ordered[-1]),
    }


def _r(value: float) -> float:
    return round(value, 6)


@dataclass(frozen=True)
class HostStats:
    cpu_util: float
    peak_memory_bytes: float
    disk_used_bytes: float
    peak_page_cache_bytes: float = 0.0


@dataclass(frozen=True, slots=True)
class JobRecord:
    job: int
    workload: str
    host: str
    arrival_s: float
    end_s: float
    status: str
    phases: dict[str, float]
    error: str

    @property
    def duration_s(self) -> float:
        return self.end_s - self.arrival_s


@dataclass
class SimResult:
    scenario: str
    seed: int
    spans: Sequence[Span]  # a Recorder's SpanStore (spans made when read) or a plain list
    job_ends: list[JobEnd]
    expected_jobs: int
    registries: tuple[str, ...]
    hosts: dict[str, HostStats]
    events: int
    wall_s: float
    makespan_s: float
    horizon_s: float
    extra: dict[str, Any] = field(default_factory=dict)
    #: jobs each workload brings (the scenario's order); serve adds the workload of its API calls
    expected_by_workload: dict[str, int] = field(default_factory=dict)

    def spans_of(self, kind: SpanKind | str) -> Sequence[Span]:
        """The spans of ``kind`` in the order recorded (dsim passes SpanKind members, tests/test_records.py
        checks; a member's value finds the same spans). From a SpanStore, a view whose spans are made as it
        is iterated: iterate it, do not keep them."""
        if isinstance(self.spans, SpanStore):
            return self.spans.of_kind(kind)
        return self._by_kind.get(kind, [])

    @cached_property
    def _by_kind(self) -> dict[str, list[Span]]:
        """Spans by kind; keyed by str, which a SpanKind is (and hashes as), so a phase name finds its kind."""
        grouped: dict[str, list[Span]] = defaultdict(list)
        for span in self.spans:
            grouped[span.kind].append(span)
        return dict(grouped)

    @cached_property
    def jobs(self) -> Sequence[JobRecord]:
        """One record per ended job, in job order, with its time per phase summed from its spans (from a
        SpanStore: a ``JobTable``, columns whose records are made when read)."""
        if isinstance(self.spans, SpanStore):
            from dsim.job_phases import phase_sums
            from dsim.job_table import JobTable

            ordered = sorted(self.job_ends, key=lambda e: e.job)
            return JobTable(ordered, self.phases, phase_sums(self.spans, ordered, self.phases), JobRecord)
        per_job: dict[int, dict[str, float]] = defaultdict(lambda: dict.fromkeys(self.phases, 0.0))
        for span in self.spans_of(SpanKind.API):
            per_job[span.job]["queue"] += span.attrs["queue"]
        for phase in (k for k in self.phases if k != "queue"):
            for span in self.spans_of(phase):
                per_job[span.job][phase] += span.duration
        return [
            JobRecord(end.job, end.workload, end.host, end.arrival, end.end, end.status,
                      dict(per_job[end.job]), end.error)
            for end in sorted(self.job_ends, key=lambda e: e.job)
        ]

    @cached_property
    def phases(self) -> tuple[str, ...]:
        """The per-job phases this run reports: PHASES, led by ``slot`` when some job waited for a slot, then
        the STEP_PHASES some job took, and ``downtime`` when compose replaced or restarted a container (runs without
        keep their columns)."""
        phases = SLOT_PHASES if self.spans_of(SpanKind.SLOT) else PHASES
        phases = (*phases, *(kind for kind in STEP_PHASES if self.spans_of(kind)))
        return (*phases, SpanKind.DOWNTIME) if self.spans_of(SpanKind.DOWNTIME) else phases

    def attr_column(self, kind: SpanKind | str, key: str) -> list[Any]:
        """Attribute ``key`` of each of ``kind``'s spans in record order (None where absent), from a SpanStore's
        columns without making the spans (a pulled layer's progress words are not derived for a count)."""
        if isinstance(self.spans, SpanStore):
            return self.spans.kind_attr(kind, key)
        return [span.attrs.get(key) for span in self.spans_of(kind)]

    def phase_samples(self, phase: str) -> list[float]:
        if phase == "queue":
            return self.attr_column(SpanKind.API, "queue")
        if phase == "job":
            return [end.end - end.arrival for end in self.job_ends]
        if isinstance(self.spans, SpanStore):
            starts, ends = self.spans.kind_times(phase)
            samples: list[float] = (ends - starts).tolist()  # the same double subtraction, span by span
            return samples
        return [span.end - span.start for span in self.spans_of(phase)]

    def peak_running(self) -> dict[str, int]:
        """Per host, the most container processes (or VMs) running at once, from the ``process`` spans."""
        edges: dict[str, list[tuple[float, int]]] = defaultdict(list)
        for span in self.spans_of(SpanKind.PROCESS):  # one still running at the end counts as running then
            end = math.inf if span.attrs.get("status") == "running" else span.end
            edges[span.host] += [(span.start, 1), (end, -1)]
        peaks: dict[str, int] = {}
        for host, points in edges.items():
            running = peak = 0
            for _, step in sorted(points):  # at equal times an end (-1) sorts before a start (+1)
                running += step
                peak = max(peak, running)
            peaks[host] = peak
        return peaks

    def _containers_summary(self) -> dict[str, Any]:
        """Runs of container processes, restarts, OOM kills and exit codes, from the ``process`` spans."""
        runs = ended = restarts = oom_killed = 0  # one pass, no span kept (a million runs: 400 MB)
        codes: dict[str, int] = defaultdict(int)
        for span in self.spans_of(SpanKind.PROCESS):
            attrs = span.attrs
            runs += 1
            restarts += attrs.get("run", 0) > 0
            if attrs.get("status") == "exited":
                ended += 1
                codes[str(attrs["exit_code"])] += 1
                oom_killed += bool(attrs.get("oom"))
        return {
            "runs": runs,
            "restarts": restarts,
            "oom_killed": oom_killed,
            "running_at_end": runs - ended,
            "exit_codes": dict(sorted(codes.items(), key=lambda item: int(item[0]))),
            "port_conflicts": sum(1 for end in self.job_ends if "port is already allocated" in end.error),
        }

    def summary(self) -> dict[str, Any]:
        """summary.json (docs/reports.md: Output files): keys may be added, never renamed."""
        peak_running = self.peak_running()
        statuses = [end.status for end in self.job_ends]
        requests: dict[str, int] = defaultdict(int)
        rejected: dict[str, int] = defaultdict(int)
        column = self.attr_column  # attributes read by column: no span made for a count or a sum
        for registry, status in zip(column(SpanKind.REQUEST, "registry"), column(SpanKind.REQUEST, "status"),
                                    strict=True):
            requests[registry] += 1
            rejected[registry] += status == 429
        sent: dict[str, float] = defaultdict(float)
        received: dict[str, float] = defaultdict(float)
        from_peers: dict[str, float] = defaultdict(float)
        cache_counts: dict[tuple[str, str], int] = defaultdict(int)
        downloads = zip(column(SpanKind.DOWNLOAD, "registry"), column(SpanKind.DOWNLOAD, "bytes"),
                        column(SpanKind.DOWNLOAD, "peer_bytes"), column(SpanKind.DOWNLOAD, "cache"), strict=True)
        for registry, size, peer, cache in downloads:  # bytes a registry served (peers' stripes aside, p2p)
            peer = 0.0 if peer is None else peer
            sent[registry] += size - peer
            from_peers[registry] += peer
            if cache:
                cache_counts[(registry, cache)] += 1
        for span in self.spans_of(SpanKind.CACHE_FILL):  # a pull-through cache's misses, from its upstream
            sent[span.attrs["registry"]] += span.attrs["bytes"]
            received[span.attrs["cache"]] += span.attrs["bytes"]
        for span in self.spans_of(SpanKind.UPLOAD):  # pushes
            received[span.attrs["registry"]] += span.attrs["bytes"]
        steps = list(self.spans_of(SpanKind.BUILD_STEP))
        run_mounts = [span.attrs["mounts"] for span in steps if span.attrs.get("mounts")]
        layer_statuses = column(SpanKind.PULL_LAYER, "status")
        layers = len(layer_statuses)
        hits = layer_statuses.count("Already exists")
        shared = sum(map(bool, column(SpanKind.PULL_LAYER, "shared")))
        return {
            "scenario": self.scenario,
            "seed": self.seed,
            "makespan_s": _r(self.makespan_s),
            "events": self.events,
            "wall_s": round(self.wall_s, 3),
            "jobs": {
                "total": self.expected_jobs,
                "completed": statuses.count("completed"),
                "failed": statuses.count("failed"),
                "unfinished": self.expected_jobs - len(statuses) + statuses.count("unfinished"),  # serve's, at a stop
            },
            "phases": {phase: describe(self.phase_samples(phase)) for phase in (*self.phases, "job")},
            "workloads": workload_summaries(self.job_ends, self.spans_of, self.phases, self.expected_by_workload,
                                            describe),
            "registries": {
                name: {
                    "bytes_sent": round(sent[name]),
                    "requests": requests[name],
                    "rejected_429": rejected[name],
                    "bytes_received": round(received[name]),
                    "hits": cache_counts[(name, "hit")],
                    "misses": cache_counts[(name, "miss")],
                    "bytes_from_peers": round(from_peers[name]),
                }
                for name in self.registries
            },
            "cache": {
                "layer_hits": hits,
                "layer_misses": layers - hits - shared,
                "layer_shared": shared,
                # build steps (RUN, COPY, ADD, WORKDIR other than /): each build_step span, cached or run
                "build_steps_cached": sum(1 for span in steps if span.attrs["cached"]),
                "build_steps_run": sum(1 for span in steps if not span.attrs["cached"]),
                "build_steps_shared": sum(1 for span in steps if span.attrs["cache"] == "shared"),
                "build_steps_remote": sum(1 for span in steps if span.attrs["cache"] == "remote"),
                # RUN steps that executed with cache mounts (RUN --mount=type=cache): every mount warm, or not
                "build_runs_mounts_warm": sum(1 for mounts in run_mounts if "cold" not in mounts.values()),
                "build_runs_mounts_cold": sum(1 for mounts in run_mounts if "cold" in mounts.values()),
            },
            "hosts": {
                name: {
                    "cpu_util": round(stats.cpu_util, 6),
                    "peak_memory_bytes": round(stats.peak_memory_bytes),
                    "disk_used_bytes": round(stats.disk_used_bytes),
                    "peak_page_cache_bytes": round(stats.peak_page_cache_bytes),
                    "peak_containers": peak_running.get(name, 0),
                }
                for name, stats in self.hosts.items()
            },
            "containers": self._containers_summary(),
        }
