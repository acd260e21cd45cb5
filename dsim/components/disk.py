"""The filesystem under Docker's data root on one host's disk, with the kernel's page cache in front of it
(docs/networks-storage.md: The page cache).

Linux writes files into memory and back to the disk later (Documentation/admin-guide/sysctl/vm.rst,
https://docs.kernel.org/admin-guide/sysctl/vm.html; mm/page-writeback.c):

- A write dirties pages and returns at once while the dirty bytes stay under the throttling point; past it
  ``balance_dirty_pages`` holds writers back to the pace of writeback. The kernel throttles from its freerun
  ceiling, (thresh + bg_thresh) / 2, and steers the dirty bytes to its setpoint, (freerun + thresh) / 2: a
  writer much faster than the disk settles there, so that setpoint is where dsim's writers wait. Throttled
  writers share the writeback's rate equally (the kernel ratelimits each dirtier to its share of the device's
  bandwidth: processor sharing).
- ``thresh`` and ``bg_thresh`` are ``dirty_ratio`` (20%) and ``dirty_background_ratio`` (10%) of the dirtyable
  memory (free and page-cache memory: the host's memory less what processes hold); a background ratio not
  below the ratio is halved, as ``domain_dirty_limits`` does.
- Writeback writes the oldest dirty bytes first at the disk's ``write_rate``: in the background while more than
  ``bg_thresh`` is dirty, for bytes dirty longer than ``dirty_expire_centisecs`` (30 s), and for anyone who
  waits: a throttled writer, a ``syncfs``.
- ``fsync`` writes one file's dirty bytes now: containerd's content store syncs each blob as it commits it
  (``content/local/writer.go``, ``Commit``: ``fp.Sync()``).
- ``syncfs`` returns when every byte dirty at its call is on the disk. Unmounting an overlay syncs the
  filesystem under it (``ovl_sync_fs``, https://github.com/moby/moby/issues/47630): a create's init layer and an
  exit's rootfs wait for every dirty byte of Docker's filesystem, the image a pull has just unpacked included
  (measured: docs/validation.md, A real Docker, measured here).

The writeback is worked out when someone writes or syncs, from the dirty bytes and their ages (one device, its
rate constant while it works): it costs no simulation event, and a wait is one timer (a sync) or a task of
the throttled writers' processor-sharing server.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

import simpy

from dsim.components.cpu import CpuScheduler
from dsim.domain.hosts import DirtyLimits, HostSpec

#: bytes below which a flush target counts as reached (float error only)
_BYTE_TOL = 1e-6


def host_disk(env: simpy.Environment, spec: HostSpec, free_memory: Callable[[], float]) -> Disk:
    """A host's Docker filesystem: its disk's write rate, the kernel's dirty limits over the memory processes
    leave free (the kernel's ``free_memory``)."""
    return Disk(env, spec.storage.write_rate, spec.storage.dirty, free_memory)


class Disk:
    """Docker's filesystem on the host's disk: buffered writes, writeback at ``rate``, syncs."""

    def __init__(self, env: simpy.Environment, rate: float, limits: DirtyLimits,
                 dirtyable: Callable[[], float]) -> None:
        self.env = env
        self.rate = rate
        #: the kernel's dirty limits (a ratio of 0: every write goes to the disk as it is made)
        self.limits = limits
        #: the dirtyable memory now (the host's memory less what processes hold)
        self.dirtyable = dirtyable
        #: bytes dirty in the page cache
        self.dirty = 0.0
        #: bytes written back since the start
        self.flushed = 0.0
        #: [when dirtied, bytes still dirty], oldest first (writeback takes the oldest first)
        self._ages: deque[list[float]] = deque()
        #: writeback must reach this many flushed bytes without pausing (syncs and throttled writers wait)
        self._forced = 0.0
        #: the time the writeback's state above was worked out for
        self._at = env.now
        #: throttled writers share the writeback's rate (their own work: their excess bytes / rate)
        self._throttle = CpuScheduler(env, 1.0, utilisation=False)

    # ------------------------------------------------------------------ writes and syncs

    def buffer(self, nbytes: float) -> simpy.Event | None:
        """Write ``nbytes`` into the page cache: None when they are taken at once, else an event that fires
        when the writer, throttled, has got them in."""
        if nbytes <= 0 or math.isinf(self.rate):
            return None
        self._advance()
        over = self.dirty + nbytes - self.limits.wall(self.dirtyable())
        self._dirty(nbytes)
        if over <= _BYTE_TOL:
            return None
        # the writeback must bring the dirty bytes back to the wall: flush ``over`` more, oldest first; the
        # writer waits for its own bytes beyond the wall, sharing the rate with the other throttled writers
        self._forced = max(self._forced, self.flushed + over)
        return self._throttle.run(min(nbytes, over) / self.rate, 1.0).done

    def write(self, nbytes: float) -> simpy.Event:
        """``buffer`` as an event to yield in any case (already fired when the bytes went in at once)."""
        waited = self.buffer(nbytes)
        if waited is None:
            waited = self.env.event()
            waited.succeed(self.env.now)
        return waited

    def fsync(self, nbytes: float) -> simpy.Event | None:
        """``fsync`` of a file whose ``nbytes`` are still dirty: they go to the disk now, sharing it with the
        throttled writers (the background writeback of the other dirty bytes is not slowed by it). None when
        there is nothing to write."""
        if nbytes <= 0 or math.isinf(self.rate):
            return None
        return self._throttle.run(nbytes / self.rate, 1.0).done

    def sync(self) -> simpy.Event | None:
        """``syncfs``: None when nothing is dirty, else a timer until every byte dirty now is on the disk (its
        value: those bytes)."""
        if self.dirty <= 0:
            return None
        self._advance()
        if self.dirty <= _BYTE_TOL:
            return None
        target = self.flushed + self.dirty
        self._forced = max(self._forced, target)
        return self.env.timeout(self.dirty / self.rate, self.dirty)

    def dirty_now(self) -> float:
        """The bytes dirty at this instant (the writeback worked out to now)."""
        self._advance()
        return self.dirty

    # ------------------------------------------------------------------ the writeback, worked out

    def _dirty(self, nbytes: float) -> None:
        now = self.env.now
        ages = self._ages
        if ages and ages[-1][0] == now:
            ages[-1][1] += nbytes
        else:
            ages.append([now, nbytes])
        self.dirty += nbytes

    def _advance(self) -> None:
        """The writeback from the last time worked out to now, with no write in between: the device writes
        the oldest bytes at ``rate`` while anyone waits, while more than the background threshold is dirty,
        or while bytes older than the expiry are dirty; otherwise it waits for the oldest bytes to expire."""
        now, t = self.env.now, self._at
        self._at = now
        background, expire = self.limits.background(self.dirtyable()), self.limits.expire
        rate, ages = self.rate, self._ages
        while t < now and self.dirty > _BYTE_TOL:
            due = max(self._forced - self.flushed, self.dirty - background, self._expired(t, expire))
            if due <= _BYTE_TOL:  # idle until the oldest dirty bytes expire
                oldest = ages[0]
                if oldest[0] + expire <= t:  # expired, but within float error of nothing (else due would count it)
                    self._flush(oldest[1])
                else:
                    t = oldest[0] + expire
                continue
            took = due / rate
            if t + took >= now:
                self._flush((now - t) * rate)
                return
            self._flush(due)
            t += took

    def _expired(self, t: float, expire: float) -> float:
        """Dirty bytes that have expired at ``t`` (dirtied ``expire`` or more before it; the same sum as the
        idle branch's test, so that a float rounding cannot tell them apart)."""
        total = 0.0
        for when, nbytes in self._ages:
            if when + expire > t:
                break
            total += nbytes
        return total

    def _flush(self, nbytes: float) -> None:
        nbytes = min(nbytes, self.dirty)
        self.flushed += nbytes
        self.dirty -= nbytes
        ages = self._ages
        while nbytes > 0 and ages:
            oldest = ages[0]
            if oldest[1] <= nbytes + _BYTE_TOL:
                nbytes -= oldest[1]
                ages.popleft()
            else:
                oldest[1] -= nbytes
                nbytes = 0.0
        if not ages:
            self.dirty = 0.0
