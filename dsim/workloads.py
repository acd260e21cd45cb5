"""Workloads: when each job arrives, which host it goes to, and the process that launches its client.

Every random choice has its own stream derived from (seed, name), as everywhere in dsim (dsim/rng.py):
Poisson gaps from ``arrivals/<workload>``, random placement from ``placement/<workload>``, each job's
client from ``client/<job>``.
"""

from __future__ import annotations

import bisect
import functools
import heapq
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


class Rooms:
    """Which hosts have a free job slot (hosts.<group>.job_slots), and how many jobs each runs.

    Placing a job reads structures kept up to date as jobs take and give back slots, never a scan of the
    candidates: 20,000 jobs landing at once on 2,000 runners of 4 slots tested 24 million hosts, one scan of
    every runner for each of the 12,000 jobs that found them all full, and least-loaded placement compared
    every host's load for each job. For each candidate list a placement asks for:
    - ``free``: the sorted positions of its hosts with room (round robin, random);
    - ``loads``: a heap of (jobs running, position) over its hosts with room (least-loaded). An entry whose
      count is no longer the host's is stale and dropped when it reaches the top; a host's fresh count is
      pushed at each change, so the top entry that is not stale is the least-loaded host, the first in
      scenario order among equals.
    """

    def __init__(self, hosts: Sequence[str], slots: Mapping[str, int]) -> None:
        #: jobs running per host
        self.active: dict[str, int] = dict.fromkeys(hosts, 0)
        #: job slots per host; a host missing here has no limit
        self.slots = slots
        self._free: dict[tuple[str, ...], list[int]] = {}
        self._in_free: dict[str, list[tuple[list[int], int]]] = {}
        self._loads: dict[tuple[str, ...], list[tuple[int, int]]] = {}
        self._in_loads: dict[str, list[tuple[list[tuple[int, int]], int, tuple[str, ...]]]] = {}

    def has_room(self, host: str) -> bool:
        """Whether ``host`` has a free job slot (always, without job_slots)."""
        limit = self.slots.get(host)
        return limit is None or self.active[host] < limit

    def free(self, candidates: tuple[str, ...]) -> list[int]:
        """The positions in ``candidates`` of the hosts with room, in order; the list stays up to date."""
        free = self._free.get(candidates)
        if free is None:
            free = self._free[candidates] = [i for i, host in enumerate(candidates) if self.has_room(host)]
            for i, host in enumerate(candidates):
                self._in_free.setdefault(host, []).append((free, i))
        return free

    def loads(self, candidates: tuple[str, ...]) -> list[tuple[int, int]]:
        """A heap of (jobs running, position in ``candidates``) over the hosts with room, with stale entries
        (see the class); it stays up to date."""
        heap = self._loads.get(candidates)
        if heap is None:
            heap = self._loads[candidates] = []
            self._fill(heap, candidates)
            for i, host in enumerate(candidates):
                self._in_loads.setdefault(host, []).append((heap, i, candidates))
        return heap

    def _fill(self, heap: list[tuple[int, int]], candidates: tuple[str, ...]) -> None:
        active = self.active
        heap[:] = [(active[host], i) for i, host in enumerate(candidates) if self.has_room(host)]
        heapq.heapify(heap)

    def take(self, host: str) -> None:
        """A job starts on ``host``: the host leaves the free lists when that was its last slot."""
        self.active[host] += 1
        if self.active[host] == self.slots.get(host):
            for free, i in self._in_free.get(host, ()):
                del free[bisect.bisect_left(free, i)]
        self._count_changed(host)

    def give_back(self, host: str) -> None:
        """A job on ``host`` ended: the host is back in the free lists when it was full."""
        self.active[host] -= 1
        if self.active[host] + 1 == self.slots.get(host):
            for free, i in self._in_free.get(host, ()):
                bisect.insort(free, i)
        self._count_changed(host)

    def _count_changed(self, host: str) -> None:
        """Push the host's fresh count on its heaps; a heap grown to 4 entries a host (stale ones mostly) is
        built again, so that a long run's heaps stay the size of their hosts."""
        if not self.has_room(host):
            return
        load = self.active[host]
        for heap, i, candidates in self._in_loads.get(host, ()):
            heapq.heappush(heap, (load, i))
            if len(heap) > 4 * len(candidates) + 16:
                self._fill(heap, candidates)


def placement(name: str, workload: Workload, candidates: tuple[str, ...], rooms: Rooms,
              seed: int) -> Callable[[], str | None]:
    """A function picking the host of the next job of workload ``name`` among ``candidates`` that have
    room (a free job slot: ``rooms``), or None when none has.

    ``round-robin`` cycles through them, skipping hosts without room; ``least-loaded`` takes the host with
    the fewest jobs running (as ``rooms`` counts them at the call), ties going to the first in scenario order;
    ``random`` draws uniformly from stream ``placement/<name>`` among those with room. A group or host
    (``candidates`` of one) is placed in round robin. Without job slots every host has room, so each
    policy picks as it always did.
    """
    policy = workload.placement
    if policy == "random":
        free = rooms.free(candidates)
        rng = stream(seed, f"placement/{name}")

        def pick_random() -> str | None:
            return candidates[free[rng.randrange(len(free))]] if free else None
        return pick_random
    if policy == "least-loaded":
        active, heap = rooms.active, rooms.loads(candidates)

        def pick_least() -> str | None:
            while heap and heap[0][0] != active[candidates[heap[0][1]]]:
                heapq.heappop(heap)  # stale: the host's count changed since
            return candidates[heap[0][1]] if heap else None
        return pick_least
    free = rooms.free(candidates)
    after = 0  # the cycle's position: the next pick is the first host with room from here on, wrapping

    def pick_next() -> str | None:
        nonlocal after
        if not free:
            return None
        k = bisect.bisect_left(free, after)
        i = free[k] if k < len(free) else free[0]
        after = i + 1
        return candidates[i]
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
        self.rooms = Rooms(tuple(daemons), {host: n for host, n in (slots or {}).items() if n is not None})
        #: jobs waiting for a slot, oldest first, one queue per candidate list: (job, workload name, its steps,
        #: arrival); job numbers grow with arrival, so the oldest of several queues' heads has the lowest
        self._waiting: dict[tuple[str, ...], deque[tuple[int, str, Workload, float]]] = {}
        #: per host, the queues of the candidate lists it is in
        self._queues_of: dict[str, list[deque[tuple[int, str, Workload, float]]]] = {}
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
        candidates = candidate_hosts(workload, tuple(self.daemons), self.groups)
        place = placement(name, workload, candidates, self.rooms, self.seed)
        waiting = self._queue(candidates)
        for at in arrival_times(name, workload, self.seed):
            if at > env.now:
                yield env.timeout(at - env.now)
            job = self.next_job()
            host = place()
            if host is None:
                waiting.append((job, name, workload, env.now))
            else:
                self._launch(job, name, workload, host, env.now)

    def _launch(self, job: int, name: str, workload: Workload, host: str, arrival: float) -> None:
        self.rooms.take(host)
        client = Client(self.env, self.daemons[host], self.recorder,
                        functools.partial(stream, self.seed, f"client/{job}"), job, name)
        self.env.process(client.run(workload.steps, arrival, functools.partial(self._done, host)))

    def _done(self, host: str) -> None:
        self.rooms.give_back(host)
        self._take_waiting(host)
        self._pending -= 1
        if self._pending == 0 and self.until is None:
            for daemon in self.daemons.values():
                daemon.runtime.no_more_restarts = True

    def _queue(self, candidates: tuple[str, ...]) -> deque[tuple[int, str, Workload, float]]:
        """The queue of the jobs waiting for a slot on one of ``candidates``."""
        queue = self._waiting.get(candidates)
        if queue is None:
            queue = self._waiting[candidates] = deque()
            for host in candidates:
                self._queues_of.setdefault(host, []).append(queue)
        return queue

    def _take_waiting(self, host: str) -> None:
        """The slot just freed on ``host`` goes to the oldest waiting job that may run there: the oldest head of
        the queues of the candidate lists ``host`` is in (a look at each, not at every waiting job)."""
        oldest = None
        for queue in self._queues_of.get(host, ()):
            if queue and (oldest is None or queue[0][0] < oldest[0][0]):
                oldest = queue
        if oldest is not None:
            job, name, workload, arrival = oldest.popleft()
            self.recorder.span(SpanKind.SLOT, name, arrival, self.env.now, host=host, job=job)
            self._launch(job, name, workload, host, arrival)
