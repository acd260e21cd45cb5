"""Workloads: when each job arrives, which host it goes to, and the process that launches its client.

Every random choice has its own stream derived from (seed, name), as everywhere in dsim (dsim/rng.py):
Poisson gaps from ``arrivals/<workload>``, random placement from ``placement/<workload>``, each job's
client from ``client/<job>``.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from typing import Any

import simpy

from dsim.components.client import Client
from dsim.components.daemon import Daemon
from dsim.domain.workloads import Burst, Every, Poisson, Workload
from dsim.records import Recorder
from dsim.rng import stream


def arrival_times(name: str, workload: Workload, seed: int) -> Iterator[float]:
    """The simulated times at which the jobs of workload ``name`` arrive, in order."""
    arrival = workload.arrival
    if isinstance(arrival, Burst):
        yield from itertools.repeat(arrival.at, arrival.burst)
    elif isinstance(arrival, Every):
        yield from (arrival.at + k * arrival.every for k in range(arrival.count))
    elif isinstance(arrival, Poisson):
        rng = stream(seed, f"arrivals/{name}")
        t = arrival.at
        for _ in range(arrival.count):
            t += rng.expovariate(arrival.rate)
            yield t
    else:
        yield from sorted(arrival.times)


def placement(name: str, workload: Workload, hosts: Sequence[str], groups: Mapping[str, tuple[str, ...]],
              active: Mapping[str, int], seed: int) -> Callable[[], str]:
    """A function picking the host of the next job of workload ``name``.

    ``workload.placement`` is a host group (its hosts), a host (that one) or a policy over every host in
    scenario order (``hosts``): ``round-robin`` cycles through them; ``least-loaded`` takes the host with
    the fewest jobs running (``active``, read at each call), ties going to the first in scenario order;
    ``random`` draws uniformly from stream ``placement/<name>``. A group or host with a policy's name is
    taken as that group or host, then placed in by that policy.
    """
    policy = workload.placement
    if policy in groups:
        candidates = groups[policy]
    elif policy in active:
        candidates = (policy,)
    else:
        candidates = tuple(hosts)
    if policy == "random":
        rng = stream(seed, f"placement/{name}")
        return lambda: candidates[rng.randrange(len(candidates))]
    if policy == "least-loaded":
        return lambda: min(candidates, key=lambda h: active[h])  # min keeps the first of equal keys
    cycle = itertools.cycle(candidates)
    return lambda: next(cycle)


class Jobs:
    """Launches every workload's jobs: at each arrival, a Client on the placed host's daemon.

    Job numbers come from one counter (``next_job``), which ``dsim serve`` numbers its API operations from
    too. Without ``until`` the run goes on until nothing is left to happen; so that a restart policy
    cannot keep it going forever, containers stop restarting once the last job has ended (runtime.py).
    """

    def __init__(self, env: simpy.Environment, workloads: Mapping[str, Workload], job_counts: Mapping[str, int],
                 daemons: Mapping[str, Daemon], groups: Mapping[str, tuple[str, ...]], recorder: Recorder,
                 seed: int, *, until: float | None) -> None:
        self.env = env
        self.workloads = workloads
        self.daemons = daemons
        self.groups = groups
        self.recorder = recorder
        self.seed = seed
        self.until = until
        #: jobs running per host (least-loaded placement reads it)
        self.active: dict[str, int] = {host: 0 for host in daemons}
        self._job_ids = itertools.count(1)
        self._pending = sum(job_counts.values())

    def next_job(self) -> int:
        """A fresh job number."""
        return next(self._job_ids)

    def start(self) -> None:
        """One arrival process per workload, in the scenario's order (before time 0)."""
        for name, workload in self.workloads.items():
            self.env.process(self._arrivals(name, workload))

    def _arrivals(self, name: str, workload: Workload) -> Generator[Any, Any, None]:
        env = self.env
        place = placement(name, workload, tuple(self.daemons), self.groups, self.active, self.seed)
        for at in arrival_times(name, workload, self.seed):
            if at > env.now:
                yield env.timeout(at - env.now)
            job = self.next_job()
            host = place()
            self.active[host] += 1
            client = Client(env, self.daemons[host], self.recorder,
                            functools.partial(stream, self.seed, f"client/{job}"), job, name)
            env.process(client.run(workload.steps, env.now, functools.partial(self._done, host)))

    def _done(self, host: str) -> None:
        self.active[host] -= 1
        self._pending -= 1
        if self._pending == 0 and self.until is None:
            for daemon in self.daemons.values():
                daemon.runtime.no_more_restarts = True
