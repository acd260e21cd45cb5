"""The container start path as work: CPU on the host's scheduler, waiting, and the daemon's locks.

Every lifecycle cost (``hosts.X.runtime``: create, mount, netns, runc create, runc start) is split into CPU
work (``runtime.cpu``, one core at most, processor-shared with every other process of the host) and a wait
(disk, kernel) that a busy CPU does not slow: idle, a step takes exactly its cost; on a busy or small host
its CPU part stretches. Where real Docker serializes, a lock of capacity 1 is held for the work done under
it, so a storm of creates or starts queues there and the spread of start times grows with the storm:

- ``metadata``: containerd's metadata store is one bbolt database, and bbolt admits one read-write
  transaction at a time, each commit ending in fdatasync (https://github.com/etcd-io/bbolt, README:
  "only one read-write transaction is allowed at a time"). A create commits the writable layer's
  snapshot, a start containerd's container record (``daemon.create_commits``, ``start_commits``); each
  holds the lock for ``daemon.metadata_commit``, carved out of the step's wait.
- ``layer_store``: dockerd before 19.03 held one layer-store lock for the whole of CreateRWLayer
  (moby#39135, https://github.com/moby/moby/pull/39135); ``daemon.layer_store_lock: global`` brings it back.
- the network sandbox's kernel lock (``Kernel.netns_lock``) is taken by the start path's
  ``network_setup`` step (components/runtime.py), the hook network modes replace.
"""

from __future__ import annotations

import random
from collections.abc import Generator
from typing import Any

import simpy

from dsim.components.cpu_group import Cpu
from dsim.domain.start_path import DaemonLocksSpec

#: start-path work runs on one thread: a Go daemon's request, runc, the shim each advance one step at a time
START_PATH_THREADS = 1.0


class DaemonLocks:
    """One host's serialization points on the create and start path."""

    def __init__(self, env: simpy.Environment, spec: DaemonLocksSpec) -> None:
        self.env = env
        self.spec = spec
        #: when the metadata lock is next free: a FIFO lock whose holders know their hold time when they queue
        #: is Lindley's recursion (start = max(arrival, previous end)), so a commit costs one timeout rather
        #: than a Resource's request, grant and release (the same times; docs/performance.md)
        self.metadata_free_at = 0.0
        self.layer_store = simpy.Resource(env, capacity=1) if spec.layer_store_lock == "global" else None


def step(env: simpy.Environment, cpu: Cpu, locks: DaemonLocks, rng: random.Random, cost: float,
         share: float, commits: int = 0) -> Generator[Any, Any, None]:
    """One lifecycle step that takes ``cost`` seconds on an idle host: ``cost * share`` CPU-seconds in the
    cgroup of the daemon whose step it is (``cpu``: ``Kernel.dockerd`` or ``Kernel.containerd``; one thread, or
    ``share`` cores' worth at once when above 1: then all of the step is CPU), then ``commits`` metadata
    transactions under the metadata lock, then the rest of the cost as a wait. The transactions are part of the
    wait (never more than it), so idle the step takes exactly ``cost``; under load the CPU part stretches and the
    transactions queue."""
    work = cost * share
    if work > 0.0:  # floats against 0.0: specialised comparisons (against 0 generic ones)
        if share > START_PATH_THREADS:
            yield cpu.run(work, share).done
            return
        yield cpu.run(work, START_PATH_THREADS).done
    wait = cost - work
    if commits and wait > 0.0:
        end, held = commit(env.now, locks, commits, rng, wait)
        wait = (end - env.now) + (wait - held)  # queueing and transactions, then the rest of the wait
    if wait > 0.0:
        yield env.timeout(wait)


def commit(now: float, locks: DaemonLocks, count: int, rng: random.Random, budget: float) -> tuple[float, float]:
    """``count`` metadata transactions from ``now``, one at a time under the host's metadata lock (first come
    first served), together holding it for no more than ``budget`` (the step's wait they are part of).
    Returns (when the last ends, the time they held the lock); the queueing is the difference."""
    held, at = 0.0, now
    for _ in range(count):
        took = min(locks.spec.metadata_commit.sample(rng), budget - held)
        if took <= 0:
            break
        at = max(at, locks.metadata_free_at) + took
        locks.metadata_free_at = at
        held += took
    return at, held
