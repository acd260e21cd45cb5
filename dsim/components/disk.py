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
- ``fsync`` writes one file's dirty bytes: containerd's content store syncs each blob as it commits it
  (``content/local/writer.go``, ``Commit``: ``fp.Sync()``).
- ``syncfs`` returns when every byte dirty at its call is on the disk. Unmounting an overlay syncs the
  filesystem under it (``ovl_sync_fs``, https://github.com/moby/moby/issues/47630): a create's init layer and an
  exit's rootfs wait for every dirty byte of Docker's filesystem, the image a pull has just unpacked included
  (measured: docs/validation.md, A real Docker, measured here).

One device writes all of it at ``rate``, never faster. The fsyncs under way share it equally (processor
sharing: each caller writes its own file) and go first; the writeback (the flusher's: background, expiry, a
syncfs, throttled writers' excess, oldest first) gets the device whenever no fsync runs. A throttled writer
gets room as fast as the device writes, whatever it writes (the kernel counts bytes under writeback with the
dirty ones).

All of it is worked out when someone writes or syncs, from the dirty bytes, their ages and the fsyncs' bytes
left: it costs no simulation event. A wait is a task of a processor-sharing server (a throttled writer, an
fsync) or a timer (a syncfs: another when an fsync called meanwhile has put it back).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Generator
from typing import Any

import simpy

from dsim.components.cpu import CpuScheduler
from dsim.domain.hosts import DirtyLimits, HostSpec

#: bytes below which a flush target counts as reached (float error only)
_BYTE_TOL = 1e-6
#: a sync whose wait left is this close (relative to the clock's time) to none is done: float error only
_TIME_TOL = 1e-9


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
        #: bytes written since the start, by fsyncs and by the writeback
        self.flushed = 0.0
        #: of them, the writeback's (the oldest dirty bytes)
        self._written = 0.0
        #: [when dirtied, bytes still dirty], oldest first (writeback takes the oldest first); not the fsyncs'
        self._ages: deque[list[float]] = deque()
        #: the writeback goes on without pausing until ``flushed`` reaches this (throttled writers wait for room)
        self._forced = 0.0
        #: and until ``_written`` reaches this (a syncfs waits for the oldest bytes, up to the newest at its call)
        self._synced = 0.0
        #: dirty bytes the fsyncs under way have still to write (they go first)
        self._claimed = 0.0
        #: the time the state above was worked out for
        self._at = env.now
        #: throttled writers share the device's rate (their own work: their excess bytes / rate)
        self._throttle = CpuScheduler(env, 1.0, utilisation=False)
        #: the fsyncs under way share the device (their work: their bytes / rate)
        self._fsyncs = CpuScheduler(env, 1.0, utilisation=False)

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
        """``fsync`` of the file its caller has just written: its ``nbytes`` still dirty, the newest (fewer
        when the writeback has taken some), go to the disk before any writeback, sharing it with the other
        fsyncs under way. None when there is nothing to write."""
        if nbytes <= 0 or math.isinf(self.rate):
            return None
        self._advance()
        ages, claimed = self._ages, 0.0
        while ages and claimed < nbytes - _BYTE_TOL:
            newest = ages[-1]
            take = min(newest[1], nbytes - claimed)
            claimed += take
            newest[1] -= take
            if newest[1] <= _BYTE_TOL:
                ages.pop()
        if claimed <= _BYTE_TOL:
            return None
        self._claimed += claimed
        if not ages:
            self.dirty = self._claimed  # no float residue once nothing else is dirty
        return self._fsyncs.run(claimed / self.rate, 1.0).done

    def sync(self) -> Generator[Any, Any, float]:
        """``syncfs``: wait until every byte dirty now is on the disk; returns those bytes (0: nothing was
        dirty, no wait). The fsyncs' bytes go first, then the writeback's, oldest first, up to the newest byte
        dirty now: one timer, and another whenever an fsync called meanwhile has taken the device."""
        if self.dirty <= 0:
            return 0.0
        self._advance()
        dirty = self.dirty
        if dirty <= _BYTE_TOL:
            return 0.0
        rate, claimed = self.rate, self._claimed
        target = self._written + dirty - claimed
        if target > self._synced:
            self._synced = target
        fsynced = self.flushed - self._written + claimed  # the fsyncs' bytes dirty now, once written
        while True:
            ahead = target - self._written
            if ahead > _BYTE_TOL:  # the fsyncs under way (all: they go first), then the writeback up to target
                wait = (self._claimed + ahead) / rate
            else:  # only fsyncs' bytes were dirty: until that many more are written
                wait = (fsynced - (self.flushed - self._written)) / rate
            if wait <= _TIME_TOL * max(self.env.now, 1.0):
                return dirty
            yield self.env.timeout(wait)
            self._advance()

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
        """The device from the last time worked out to now, with no write in between: the fsyncs' bytes
        first; then the oldest bytes at ``rate`` while a throttled writer or a sync waits, while more than the
        background threshold is dirty, or while bytes older than the expiry are dirty; otherwise it waits for
        the oldest bytes to expire."""
        now, t = self.env.now, self._at
        self._at = now
        rate = self.rate
        claimed = self._claimed
        if claimed > 0 and t < now:
            took = claimed / rate
            if t + took > now:
                self._fsynced((now - t) * rate)
                return
            self._fsynced(claimed)  # leaves exactly none
            t += took
        background, expire = self.limits.background(self.dirtyable()), self.limits.expire
        ages = self._ages
        while t < now and self.dirty > _BYTE_TOL:
            due = max(self._forced - self.flushed, self._synced - self._written, self.dirty - background,
                      self._expired(t, expire))
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

    def _fsynced(self, nbytes: float) -> None:
        self._claimed -= nbytes
        self.dirty -= nbytes
        self.flushed += nbytes

    def _flush(self, nbytes: float) -> None:
        """The writeback of the oldest ``nbytes`` dirty."""
        nbytes = min(nbytes, self.dirty - self._claimed)
        self.flushed += nbytes
        self._written += nbytes
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
            self.dirty = self._claimed
