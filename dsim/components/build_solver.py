"""BuildKit's solver overhead per vertex, as CPU work on the host's processor-sharing scheduler.

Before a build step (an LLB vertex) can be found in the cache or run, BuildKit's solver loads the vertex into
its job, computes its cache key (the op's digest combined with its inputs' keys: moby/buildkit solver/edge.go,
``CacheMap``) and looks that key up in the cache's bolt database (solver/bboltcachestorage). Every vertex of
a build pays this, cached or not, in goroutines of their own: CPU on the daemon's host, competing with RUNs,
unpacks and containers. The content checksums of COPY sources are separate (layer_work.py ``hash``); the
scheduler's one dispatch loop (solver/scheduler.go) only moves edge states, not modelled as a lock.

The cost is ``daemon.buildkit_vertex`` CPU-seconds on one core (default 0.53 ms: measured on Docker 20.10.24's
BuildKit, the CPU slope of fully cached rebuilds over their step count, tools/real_docker.py; docs/build.md:
Solver overheads).
A chain of n vertices therefore costs n x c on an idle core, and k builds solving at once on fewer than k cores
share them (processor sharing).
"""

from __future__ import annotations

import random
from collections.abc import Generator
from typing import Any

from dsim.components.cpu_group import Cpu
from dsim.distributions import Distribution


class SolverOverhead:
    """Per-vertex solver work of one daemon's BuildKit."""

    def __init__(self, cpu: Cpu, per_vertex: Distribution) -> None:
        self.cpu = cpu
        self.per_vertex = per_vertex
        #: nothing to do (``buildkit_vertex: 0s``): no events at all, so outputs are those of a model without it
        self.free = per_vertex.kind == "const" and per_vertex.params[0] <= 0

    def vertex(self, rng: random.Random) -> Generator[Any, Any, float]:
        """Load, key and look up one vertex: returns the CPU-seconds it took."""
        if self.free:
            return 0.0
        work = self.per_vertex.sample(rng)
        if work > 0:
            yield self.cpu.run(work, 1.0).done
        return work
