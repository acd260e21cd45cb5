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
- ``fsync`` writes one file's dirty bytes: containerd's content store writes each blob as it downloads
  (``content/local/writer.go``, ``Write``) and syncs it as it commits it (``Commit``: ``fp.Sync()``).
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

A file written over a while (a blob as it downloads, a layer's files as they are inflated) is a ``stream``: its
bytes are taken as written at an even pace, and worked out when it ends, as its time is known only then (the
network's and the cores' shares change meanwhile). They go into the page cache with their ages, the writeback
they called for meanwhile (past the background threshold, or expired) is done as far as the device was idle,
and the writer is held back for what is left past the setpoint. What they would have done to others meanwhile
(a syncfs or a writer held back while they came) is not worked out again.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Callable, Generator
from operator import itemgetter
from typing import Any

import simpy

from dsim.components.cpu import CpuScheduler, CpuTask
from dsim.domain.hosts import DirtyLimits, HostSpec
from dsim.records import Recorder, SpanKind

#: the span kind an overlay unmount's sync records, read once (records.py: a kind read from its class is slow)
_SYNCFS = SpanKind.SYNCFS

#: bytes below which a flush target counts as reached (float error only)
_BYTE_TOL = 1e-6
#: a sync whose wait left is this close (relative to the clock's time) to none is done: float error only
_TIME_TOL = 1e-9
#: and bytes due this close, relative to the bytes written and dirty they are worked out from, are none
_COUNTER_TOL = 1e-12
#: a stream's bytes go into the page cache in pieces of at most this share of the expiry, each dated at its
#: middle (their ages to within a twentieth of the expiry)
_PIECE = 0.1
#: an entry's time (the key pieces are placed by) and bytes
_WHEN, _BYTES = itemgetter(0), itemgetter(1)


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
        #: dirty bytes the fsyncs under way have still to write (they go first); fsyncs called so far
        self._claimed = 0.0
        self._fsync_calls = 0
        #: the entry ``buffer`` made last (later writes at the same instant join it; a stream's pieces are apart)
        self._last: list[float] | None = None
        #: seconds the device has been idle since the start, less what streams have since claimed of them
        self._idle = 0.0
        #: the time the state above was worked out for
        self._at = env.now
        #: the dirtyable memory the kernel's bounds were last worked out over, and those bounds (``_bounds``)
        self._bounds_of = math.nan
        self._bounds_now = (0.0, 0.0)
        #: throttled writers share the device's rate (their own work: their excess bytes / rate)
        self._throttle = CpuScheduler(env, 1.0, utilisation=False)
        #: the fsyncs under way share the device (their work: their bytes / rate)
        self._fsyncs = CpuScheduler(env, 1.0, utilisation=False)
        #: and their pieces, oldest first (a stream's writeback owed may take their bytes: they were dirty too)
        self._fsyncing: list[tuple[CpuTask, list[list[float]]]] = []

    # ------------------------------------------------------------------ writes and syncs

    def buffer(self, nbytes: float) -> simpy.Event | None:
        """Write ``nbytes`` into the page cache: None when they are taken at once, else an event that fires
        when the writer, throttled, has got them in."""
        if nbytes <= 0 or math.isinf(self.rate):
            return None
        self._advance()
        over = self.dirty + nbytes - self._bounds()[1]
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

    def mark(self) -> float:
        """Where a stream starts: the device's idle seconds so far (``stream`` spends those after it)."""
        if not self._ages and not self._claimed:  # nothing to write since the last time worked out: idle since
            return self._idle + (self.env.now - self._at)
        self._advance()
        return self._idle

    def stream(self, nbytes: float, began: float, mark: float) -> tuple[simpy.Event | None, list[list[float]]]:
        """A file of ``nbytes`` written at an even pace since ``began`` (``mark()`` then), worked out now that
        it ends: its bytes go into the page cache with their ages; the writeback they called for meanwhile,
        from when the dirty bytes would have passed the background threshold or its first bytes expired,
        oldest first, as far as the device was idle since (and no longer is); then the writer is held back
        as ``buffer`` holds it for what is left past the setpoint. Returns that wait (None: none) and the
        file's pieces in the page cache (``fsync`` takes what is left of them)."""
        if nbytes <= 0 or math.isinf(self.rate):
            return None, []
        self._advance()
        now, rate, expire = self.env.now, self.rate, self.limits.expire
        background, wall = self._bounds()
        took = now - began
        due_from = began + expire
        if took > 0 and self.dirty + nbytes > background:  # else the dirty bytes never passed the threshold
            due_from = min(due_from, self._crossing(background, nbytes / took, began))
        pieces = self._arrive(nbytes, began, now, expire)
        if took > 0:
            idle = min(self._idle - mark, now - due_from)
            if idle > 0:
                wrote = min(max(self.dirty - background, self._expired(now, expire)), idle * rate)
                if wrote > 0:
                    self._owed(wrote)
                    self._idle -= wrote / rate
        over = self.dirty - wall
        if over <= _BYTE_TOL:
            return None, pieces
        self._forced = max(self._forced, self.flushed + over)
        return self._throttle.run(min(nbytes, over) / rate, 1.0).done, pieces

    def committed(self, nbytes: float, began: float, mark: float) -> Generator[Any, Any, None]:
        """A blob containerd's content store wrote as it came since ``began`` (``mark()`` then) and fsyncs as it
        commits it (containerd content/local/writer.go, ``Commit``: ``fp.Sync()``): a pulled blob, or one
        BuildKit's export compressed. Waits for a writer held past the setpoint, then for the fsync."""
        written, pieces = self.stream(nbytes, began, mark)
        if written is not None:
            yield written
        synced = self.fsync(pieces)
        if synced is not None:
            yield synced

    def fsync(self, pieces: list[list[float]]) -> simpy.Event | None:
        """``fsync`` of a file (``stream``'s pieces): its bytes still dirty (the writeback may have taken the
        older ones) go to the disk before any writeback, sharing it with the other fsyncs under way. None when
        there is nothing to write."""
        self._advance()
        claimed = math.fsum(map(_BYTES, pieces))
        if claimed <= _BYTE_TOL:
            return None
        held = [piece for piece in pieces if piece[1] > 0]
        ages = self._ages
        for piece in held:  # out of the ages: found by its time, then by identity among those of that time
            i = bisect_left(ages, piece[0], key=_WHEN)
            while ages[i] is not piece:
                i += 1
            del ages[i]
        self._claimed += claimed
        self._fsync_calls += 1
        if not self._ages:
            self.dirty = self._claimed  # no float residue once nothing else is dirty
        task = self._fsyncs.run(claimed / self.rate, 1.0)
        self._fsyncing = [(other, its) for other, its in self._fsyncing if not other.done.triggered]
        self._fsyncing.append((task, held))
        return task.done

    def sync(self) -> Generator[Any, Any, float]:
        """``syncfs``: wait until every byte dirty now is on the disk; returns those bytes (0: nothing was
        dirty, no wait). The fsyncs' bytes go first, then the writeback's, oldest first, up to the newest byte
        dirty now: one timer, and another only when an fsync called meanwhile has taken the device (else the
        timer's end is the device's, with nothing to work out again)."""
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
            calls = self._fsync_calls
            yield self.env.timeout(wait)
            if self._fsync_calls == calls:  # no fsync has put it back: the wait was the device's
                return dirty
            self._advance()

    def dirty_now(self) -> float:
        """The bytes dirty at this instant (the writeback worked out to now)."""
        self._advance()
        return self.dirty

    # ------------------------------------------------------------------ the writeback, worked out

    def _bounds(self) -> tuple[float, float]:
        """(bg_thresh, the setpoint) over the dirtyable memory now (worked out again when that has changed)."""
        dirtyable = self.dirtyable()
        if dirtyable != self._bounds_of:
            self._bounds_of = dirtyable
            self._bounds_now = (self.limits.background(dirtyable), self.limits.wall(dirtyable))
        return self._bounds_now

    def _dirty(self, nbytes: float) -> None:
        now = self.env.now
        ages, last = self._ages, self._last
        if last is not None and last[0] == now and ages and ages[-1] is last:
            last[1] += nbytes
        else:
            self._last = last = [now, nbytes]
            ages.append(last)
        self.dirty += nbytes

    def _arrive(self, nbytes: float, began: float, now: float, expire: float) -> list[list[float]]:
        """A stream's bytes into the page cache, in their places by age, each piece dated at its middle: those
        already ``expire`` old now in one piece (expired, to the byte: their ages matter no more), the others
        in even pieces of at most ``_PIECE`` of the expiry."""
        took = now - began
        if took <= 0:
            pieces = [[now, nbytes]]
        else:
            pieces = []
            split = max(began, now - expire)
            if split > began:
                pieces.append([(began + split) / 2, nbytes * (split - began) / took])
            if now > split:
                count = math.ceil((now - split) / (_PIECE * expire))
                span, share = (now - split) / count, nbytes * (now - split) / took / count
                pieces += [[split + (i + 0.5) * span, share] for i in range(count)]
        ages = self._ages
        if not ages or ages[-1][0] <= pieces[0][0]:
            ages.extend(pieces)
        else:  # other streams' newer bytes: each piece in its place (after those of its time)
            for piece in pieces:
                ages.insert(bisect_right(ages, piece[0], key=_WHEN), piece)
        self.dirty += nbytes
        return pieces

    def _advance(self) -> None:
        """The device from the last time worked out to now, with no write in between: the fsyncs' bytes
        first; then the oldest bytes at ``rate`` while a throttled writer or a sync waits, while more than the
        background threshold is dirty, or while bytes older than the expiry are dirty; otherwise it waits for
        the oldest bytes to expire."""
        now, t = self.env.now, self._at
        if now <= t:  # worked out already
            return
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
        ages = self._ages
        if not ages:  # nothing to write: idle (the limits not worked out)
            self.dirty = self._claimed  # no float residue
            if t < now:
                self._idle += now - t
            return
        background, expire = self._bounds()[0], self.limits.expire
        # what is due counts as none below the float error of the running counters it is worked out from
        tol = _BYTE_TOL + _COUNTER_TOL * (self.flushed + self.dirty)
        while t < now and ages:
            due = max(self._forced - self.flushed, self._synced - self._written, self.dirty - background,
                      self._expired(t, expire))
            if due <= tol:  # idle until the oldest dirty bytes expire
                oldest = ages[0]
                if oldest[0] + expire <= t:  # expired, but within float error of nothing (else due would count it)
                    self._flush(oldest[1])
                else:
                    self._idle += min(oldest[0] + expire, now) - t
                    t = oldest[0] + expire
                continue
            took = due / rate
            if t + took >= now:
                self._flush((now - t) * rate)
                return
            t += self._flush(due) / rate
        if t < now:  # nothing dirty
            self._idle += now - t

    def _expired(self, t: float, expire: float) -> float:
        """Dirty bytes that have expired at ``t`` (dirtied ``expire`` or more before it; the same sum as the
        idle branch's test, so that a float rounding cannot tell them apart)."""
        total = 0.0
        for when, nbytes in self._ages:
            if when + expire > t:
                break
            total += nbytes
        return total

    def _held(self) -> list[tuple[float, float, CpuTask]]:
        """The fsyncs' bytes still dirty: (when dirtied, bytes, its task); each has written its own oldest
        first, so what it has left are its newest."""
        rate, fsyncs = self.rate, self._fsyncs
        held: list[tuple[float, float, CpuTask]] = []
        for task, pieces in self._fsyncing:
            left = 0.0 if task.done.triggered else (task.work - fsyncs.received(task)) * rate
            for when, piece_bytes in reversed(pieces):
                if left <= _BYTE_TOL:
                    break
                take = min(piece_bytes, left)
                left -= take
                held.append((when, take, task))
        return held

    def _crossing(self, background: float, pace: float, began: float) -> float:
        """When the dirty bytes passed the background threshold, with a stream's coming at ``pace`` since
        ``began``: those dirty now counted from when they were dirtied (a stream worked out just before this
        one came over the same while), the bytes written back meanwhile not counted."""
        later = [(when, nbytes) for when, nbytes, _ in self._held() if when > began]
        for when, nbytes in reversed(self._ages):
            if when <= began:
                break
            later.append((when, nbytes))
        level = self.dirty - sum(nbytes for _, nbytes in later)
        later.sort()
        for when, nbytes in later:
            if level + pace * (when - began) >= background:
                break
            level += nbytes
            if level + pace * (when - began) >= background:
                return when
        return began + max(0.0, background - level) / pace

    def _owed(self, nbytes: float) -> None:
        """The oldest ``nbytes`` dirty go to the disk, as a stream finds them owed, the bytes of the fsyncs under
        way included: an fsync they take from ends that much sooner."""
        held = self._held()
        if not held:
            self._flush(nbytes)
            return
        held.sort(key=_WHEN)
        ages, taken = self._ages, dict.fromkeys((entry[2] for entry in held), 0.0)
        i = 0
        while nbytes > _BYTE_TOL and (ages or i < len(held)):
            # the oldest bytes, those dirtied at one instant (the same pieces of two streams) taken alike
            when = min(ages[0][0] if ages else math.inf, held[i][0] if i < len(held) else math.inf)
            mine = 0.0
            for entry in ages:
                if entry[0] != when:
                    break
                mine += entry[1]
            j = i
            while j < len(held) and held[j][0] == when:
                j += 1
            total = mine + sum(entry[1] for entry in held[i:j])
            share = 1.0 if total <= nbytes else nbytes / total
            if mine > 0:
                self._flush(mine * share)
            for _, piece_bytes, task in held[i:j]:
                taken[task] += piece_bytes * share
                self._fsynced(piece_bytes * share)
            nbytes -= total * share
            i = j
        for task, took in taken.items():
            self._fsyncs.shorten(task, took / self.rate)

    def _fsynced(self, nbytes: float) -> None:
        self._claimed -= nbytes
        self.dirty -= nbytes
        self.flushed += nbytes

    def _flush(self, nbytes: float) -> float:
        """The writeback of the oldest ``nbytes`` dirty (fewer when fewer are): returns what it wrote."""
        ages, wrote = self._ages, 0.0
        while ages and wrote < nbytes:
            oldest, left = ages[0], nbytes - wrote
            if oldest[1] <= left + _BYTE_TOL:
                wrote += oldest[1]
                oldest[1] = 0.0  # a stream's piece: on the disk (``fsync`` finds nothing left of it)
                ages.popleft()
            else:
                oldest[1] -= left
                wrote = nbytes
        self.flushed += wrote
        self._written += wrote
        self.dirty -= wrote
        if not ages:
            self.dirty = self._claimed  # no float residue once nothing else is dirty
        return wrote


def unmount_sync(disk: Disk, recorder: Recorder, subject: str, *, host: str, job: int,
                 at: str) -> Generator[Any, Any, None]:
    """An overlay unmount: ``syncfs`` of Docker's filesystem (``ovl_sync_fs`` waits for every dirty byte, whoever
    wrote it), recorded as a ``syncfs`` span (``at``: create, exit or apply) when something was dirty."""
    began = disk.env.now
    nbytes = yield from disk.sync()
    if nbytes > 0:
        recorder.span(_SYNCFS, subject, began, disk.env.now, host=host, job=job, at=at, bytes=nbytes)
