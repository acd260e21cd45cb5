"""Workloads: when each job arrives, which host it goes to, and the process that launches its client.

Every random choice has its own stream derived from (seed, name), as everywhere in dsim (dsim/rng.py):
Poisson gaps from ``arrivals/<workload>``, random placement from ``placement/<workload>``, each job's
client from ``client/<job>``.
"""

from __future__ import annotations

import functools
import itertools
from collections import deque
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from typing import Any

import simpy

from dsim.components.client import Client
from dsim.components.daemon import Daemon
from dsim.domain.workloads import Burst, Every, Poisson, Workload
from dsim.records import Recorder, SpanKind
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


def candidate_hosts(workload: Workload, hosts: Sequence[str], groups: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
    """The hosts a workload's jobs may go to: its placement's group or host, else every host in order."""
    policy = workload.placement
    if policy in groups:
        return groups[policy]
    if policy in hosts:
        return (policy,)
    return tuple(hosts)


def placement(name: str, workload: Workload, candidates: Sequence[str], active: Mapping[str, int], seed: int,
              has_room: Callable[[str], bool]) -> Callable[[], str | None]:
    """A function picking the host of the next job of workload ``name`` among ``candidates`` that have
    room (a free job slot), or None when none has.

    ``round-robin`` cycles through them, skipping hosts without room; ``least-loaded`` takes the host with
    the fewest jobs running (``active``, read at each call), ties going to the first in scenario order;
    ``random`` draws uniformly from stream ``placement/<name>`` among those with room. A group or host
    (``candidates`` of one) is placed in round robin. Without job slots every host has room, so each
    policy picks as it always did.
    """
    policy = workload.placement
    if policy == "random":
        rng = stream(seed, f"placement/{name}")

        def pick_random() -> str | None:
            free = [h for h in candidates if has_room(h)]
            return free[rng.randrange(len(free))] if free else None
        return pick_random
    if policy == "least-loaded":
        def pick_least() -> str | None:
            free = [h for h in candidates if has_room(h)]
            return min(free, key=lambda h: active[h]) if free else None  # min keeps the first of equal keys
        return pick_least
    cycle = itertools.cycle(candidates)

    def pick_next() -> str | None:
        for _ in candidates:
            host = next(cycle)
            if has_room(host):
                return host
        return None
    return pick_next


class Jobs:
    """Launches every workload's jobs: at each arrival, a Client on the placed host's daemon.

    Job numbers come from one counter (``next_job``), which ``dsim serve`` numbers its API operations from
    too. A host with ``job_slots`` runs at most that many jobs at once; a job finding no candidate host with
    a free slot waits in one queue, first come first served, and takes the first slot freed on one of its
    candidates (as CI runners pick the oldest pending job when they have capacity), recording a ``slot``
    span for its wait. Without ``until`` the run goes on until nothing is left to happen; so that a restart policy
    cannot keep it going forever, containers stop restarting once the last job has ended (runtime.py).
    """

    def __init__(self, env: simpy.Environment, workloads: Mapping[str, Workload], job_counts: Mapping[str, int],
                 daemons: Mapping[str, Daemon], groups: Mapping[str, tuple[str, ...]], recorder: Recorder,
                 seed: int, *, until: float | None, slots: Mapping[str, int | None] | None = None) -> None:
        self.env = env
        self.workloads = workloads
        self.daemons = daemons
        self.groups = groups
        self.recorder = recorder
        self.seed = seed
        self.until = until
        #: jobs running per host (least-loaded placement reads it)
        self.active: dict[str, int] = {host: 0 for host in daemons}
        #: job slots per host (hosts.<group>.job_slots); a host missing here has no limit
        self.slots: dict[str, int] = {host: n for host, n in (slots or {}).items() if n is not None}
        #: jobs waiting for a slot, oldest first: (job, workload name, its steps, arrival, candidate hosts)
        self._waiting: deque[tuple[int, str, Workload, float, frozenset[str]]] = deque()
        self._job_ids = itertools.count(1)
        self._pending = sum(job_counts.values())

    def next_job(self) -> int:
        """A fresh job number."""
        return next(self._job_ids)

    def start(self) -> None:
        """One arrival process per workload, in the scenario's order (before time 0)."""
        for name, workload in self.workloads.items():
            self.env.process(self._arrivals(name, workload))

    def has_room(self, host: str) -> bool:
        """Whether ``host`` has a free job slot (always, without job_slots)."""
        limit = self.slots.get(host)
        return limit is None or self.active[host] < limit

    def _arrivals(self, name: str, workload: Workload) -> Generator[Any, Any, None]:
        env = self.env
        candidates = candidate_hosts(workload, tuple(self.daemons), self.groups)
        place = placement(name, workload, candidates, self.active, self.seed, self.has_room)
        for at in arrival_times(name, workload, self.seed):
            if at > env.now:
                yield env.timeout(at - env.now)
            job = self.next_job()
            host = place()
            if host is None:
                self._waiting.append((job, name, workload, env.now, frozenset(candidates)))
            else:
                self._launch(job, name, workload, host, env.now)

    def _launch(self, job: int, name: str, workload: Workload, host: str, arrival: float) -> None:
        self.active[host] += 1
        client = Client(self.env, self.daemons[host], self.recorder,
                        functools.partial(stream, self.seed, f"client/{job}"), job, name)
        self.env.process(client.run(workload.steps, arrival, functools.partial(self._done, host)))

    def _done(self, host: str) -> None:
        self.active[host] -= 1
        if self._waiting:
            self._take_waiting(host)
        self._pending -= 1
        if self._pending == 0 and self.until is None:
            for daemon in self.daemons.values():
                daemon.runtime.no_more_restarts = True

    def _take_waiting(self, host: str) -> None:
        """The slot just freed on ``host`` goes to the oldest waiting job that may run there."""
        for i, (job, name, workload, arrival, candidates) in enumerate(self._waiting):
            if host in candidates:
                del self._waiting[i]
                self.recorder.span(SpanKind.SLOT, name, arrival, self.env.now, host=host, job=job)
                self._launch(job, name, workload, host, arrival)
                return
