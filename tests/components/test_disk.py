"""The page cache in front of Docker's filesystem (components/disk.py) against the kernel's rules worked out by
hand: Linux's dirty limits (Documentation/admin-guide/sysctl/vm.rst, mm/page-writeback.c), writeback of the
oldest bytes at the disk's rate, syncfs waiting for every dirty byte."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Generator
from typing import Any

import pytest
import simpy

from dsim.components.cpu import CpuScheduler
from dsim.components.disk import Disk
from dsim.domain.hosts import DirtyLimits
from dsim.environment import CountingEnvironment

GB = 1e9
RATE = 100e6  # bytes a second the disk writes back
LINUX = DirtyLimits()  # 20%, 10%, 30 s


def disk(memory: float = 10 * GB, limits: DirtyLimits = LINUX) -> tuple[simpy.Environment, Disk]:
    env = CountingEnvironment()
    return env, Disk(env, RATE, limits, lambda: memory)


def at(env: simpy.Environment, when: float, work: Any) -> list[float]:
    """Run ``work()`` (a generator function) at ``when``; the list gets the time it ends."""
    ended: list[float] = []

    def proc() -> Generator[Any, Any, None]:
        yield env.timeout(when)
        yield from work()
        ended.append(env.now)

    env.process(proc())
    return ended


def synced_at_once(d: Disk) -> float:
    """A sync that has nothing to wait for: what it returns, with no event."""
    with pytest.raises(StopIteration) as stop:
        next(d.sync())
    return float(stop.value.value)


def test_limits_are_the_kernels_thresholds_and_setpoint() -> None:
    """10 GB dirtyable: thresh 2 GB, bg_thresh 1 GB; freerun (2 + 1) / 2 = 1.5 GB; setpoint (1.5 + 2) / 2 =
    1.75 GB. A background ratio not below the ratio is halved from the ratio: 20% and 30% give bg 1 GB."""
    assert LINUX.thresholds(10 * GB) == pytest.approx((2 * GB, 1 * GB))
    assert LINUX.wall(10 * GB) == pytest.approx(1.75 * GB)
    assert DirtyLimits(0.2, 0.3).background(10 * GB) == pytest.approx(1 * GB)


def test_a_write_under_the_limits_returns_at_once_and_a_sync_waits_for_it() -> None:
    """500 MB (under the 1 GB background threshold) go into memory at once; a syncfs at 1 s writes them back
    at 100 MB/s: 5 s, so it returns at 6 s with the 500 MB as its value; a second sync has nothing to do."""
    env, d = disk()
    assert d.buffer(0.5 * GB) is None
    values: list[float] = []

    def sync() -> Generator[Any, Any, None]:
        values.append((yield from d.sync()))
        assert synced_at_once(d) == 0.0

    ended = at(env, 1.0, sync)
    env.run()
    assert ended == [pytest.approx(6.0)] and values == [pytest.approx(0.5 * GB)]


def test_dirty_bytes_are_written_back_once_they_expire() -> None:
    """500 MB dirtied at 0 stay dirty (under the background threshold) until they are 30 s old, then go back at
    100 MB/s: at 32 s 300 MB are left, so a sync then takes 3 s; at 40 s nothing is dirty."""
    env, d = disk()
    d.buffer(0.5 * GB)
    dirty: dict[float, float] = {}

    def probe(when: float) -> None:
        def look() -> Generator[Any, Any, None]:
            dirty[when] = d.dirty_now()
            yield from ()
        at(env, when, look)

    for when in (10.0, 29.0, 32.0, 40.0):
        probe(when)
    env.run()
    assert dirty == pytest.approx({10.0: 0.5 * GB, 29.0: 0.5 * GB, 32.0: 0.3 * GB, 40.0: 0.0})


def test_background_writeback_brings_the_dirty_bytes_down_to_its_threshold() -> None:
    """1.5 GB dirtied at once with a 1 GB background threshold: the 0.5 GB above it go back at 100 MB/s (5 s),
    then writeback stops: a sync at 10 s has 1 GB to write, 10 s."""
    env, d = disk()
    assert d.buffer(1.5 * GB) is None  # under the 1.75 GB setpoint: not throttled

    synced: list[float] = []

    def sync() -> Generator[Any, Any, None]:
        assert d.dirty == pytest.approx(1.5 * GB)  # not worked out before anyone asks
        synced.append((yield from d.sync()))

    ended = at(env, 10.0, sync)
    env.run()
    assert synced == [pytest.approx(1 * GB)] and ended == [pytest.approx(20.0)]


def test_a_writer_past_the_setpoint_waits_for_writeback_of_the_excess() -> None:
    """2.75 GB written at once with a 1.75 GB setpoint: the writer waits until 1 GB is written back, 10 s."""
    env, d = disk()
    ended = at(env, 0.0, lambda: (yield d.buffer(2.75 * GB)))
    env.run()
    assert ended == [pytest.approx(10.0)]


def test_throttled_writers_share_the_writeback_rate() -> None:
    """Two writers past the setpoint at once, each with 1 GB beyond it (2.75 GB, then 1 GB more): they share
    the 100 MB/s, so both end at 20 s (first come, first served would end one at 10 s)."""
    env, d = disk()
    first = at(env, 0.0, lambda: (yield d.buffer(2.75 * GB)))
    second = at(env, 0.0, lambda: (yield d.buffer(1 * GB)))
    env.run()
    assert first == [pytest.approx(20.0)] and second == [pytest.approx(20.0)]


def test_the_dirtyable_memory_sets_the_limits_as_it_is_now() -> None:
    """Processes holding 8 of 10 GB leave 2 GB dirtyable: a setpoint of 350 MB, so 450 MB written wait for
    100 MB of writeback, 1 s."""
    env = CountingEnvironment()
    d = Disk(env, RATE, LINUX, lambda: 2 * GB)
    ended = at(env, 0.0, lambda: (yield d.buffer(0.45 * GB)))
    env.run()
    assert ended == [pytest.approx(1.0)]


def test_without_a_page_cache_writes_share_the_disk_as_they_are_made() -> None:
    """dirty_ratio 0: nothing stays dirty; two 100 MB writes at once at 100 MB/s end together at 2 s, as a
    processor-sharing disk; a sync after them has nothing to do."""
    env, d = disk(limits=DirtyLimits(0.0, 0.0))
    first = at(env, 0.0, lambda: (yield d.buffer(0.1 * GB)))
    second = at(env, 0.0, lambda: (yield d.buffer(0.1 * GB)))
    env.run()
    assert first == second == [pytest.approx(2.0)]
    assert synced_at_once(d) == 0.0


def test_a_sync_waits_for_the_bytes_before_it_not_after() -> None:
    """1 GB dirty at 0 and a sync at 0 (10 s); 500 MB more at 1 s go after the sync's bytes: the sync still
    ends at 10 s."""
    env, d = disk()
    d.buffer(1 * GB)
    synced = at(env, 0.0, d.sync)

    def later() -> Generator[Any, Any, None]:
        assert d.buffer(0.5 * GB) is None  # 1.5 GB dirty: under the 1.75 GB setpoint
        yield from ()

    at(env, 1.0, later)
    env.run()
    assert synced == [pytest.approx(10.0)]


@pytest.mark.parametrize("when", [0.1, 0.7, 4.14, 8.48, 8.5, 9.37])
def test_expired_bytes_go_back_at_the_disks_rate_whenever_they_were_dirtied(when: float) -> None:
    """186.2 MB dirtied at ``when`` (under the background threshold of 8 GiB) expire at ``when`` + 30 s; 0.5 s
    later an 18 MB/s disk has written back 9 MB of them, whatever float rounding does to ``when`` + 30 - 30
    (a check of expiry written two ways once wrote the whole batch back for free at some instants)."""
    env = CountingEnvironment()
    d = Disk(env, 18e6, LINUX, lambda: 8 * 2**30)
    seen: list[float] = []

    def proc() -> Generator[Any, Any, None]:
        yield env.timeout(when)
        d.buffer(186.2e6)
        yield env.timeout(30.5)
        seen.append(d.dirty_now())

    env.process(proc())
    env.run()
    assert seen == [pytest.approx(186.2e6 - 9e6)]


# ---------------------------------------------------------------------- one device: fsyncs, syncs, writeback


def file_synced(d: Disk, nbytes: float) -> Callable[[], Generator[Any, Any, None]]:
    """A file of ``nbytes`` written, then fsynced (containerd's content store committing a blob)."""
    def work() -> Generator[Any, Any, None]:
        written, pieces = d.stream(nbytes, d.env.now, d.mark())
        if written is not None:
            yield written
        synced = d.fsync(pieces)
        if synced is not None:
            yield synced
    return work


def file_at_once(d: Disk, nbytes: float) -> list[list[float]]:
    """A file of ``nbytes`` written at this instant, under the setpoint: its pieces, for ``fsync``."""
    written, pieces = d.stream(nbytes, d.env.now, d.mark())
    assert written is None
    return pieces


def probes(env: simpy.Environment, d: Disk, times: list[float]) -> dict[float, float]:
    """The dirty bytes at each of ``times`` (worked out then)."""
    seen: dict[float, float] = {}
    for when in times:
        def look(when: float = when) -> Generator[Any, Any, None]:
            seen[when] = d.dirty_now()
            yield from ()
        at(env, when, look)
    return seen


def test_an_fsync_delays_the_background_writeback_by_its_own_bytes() -> None:
    """1.2 GB dirty with a 1 GB background threshold: 200 MB of background writeback, 2 s at 100 MB/s alone.
    A 100 MB fsync at 0 takes the device first (0 to 1 s), so the background writeback runs from 1 to 3 s:
    1.1 GB dirty at 2 s, 1 GB from 3 s on (not from 2 s: the disk never writes at twice its rate)."""
    env, d = disk()
    d.buffer(1.2 * GB)
    synced = d.fsync(file_at_once(d, 0.1 * GB))
    assert synced is not None and d.dirty == pytest.approx(1.3 * GB)  # its bytes are dirty until written
    seen = probes(env, d, [1.0, 2.0, 3.0, 4.0])
    env.run(until=synced)
    assert env.now == pytest.approx(1.0)
    env.run()
    assert seen == pytest.approx({1.0: 1.2 * GB, 2.0: 1.1 * GB, 3.0: 1 * GB, 4.0: 1 * GB})


def test_an_fsync_called_during_the_background_writeback_pauses_it() -> None:
    """The same 200 MB of background writeback; the 100 MB fsync at 0.5 s (50 MB written by then) runs from
    0.5 to 1.5 s, and the other 150 MB from 1.5 to 3 s."""
    env, d = disk()
    d.buffer(1.2 * GB)
    ended = at(env, 0.5, file_synced(d, 0.1 * GB))
    seen = probes(env, d, [0.5, 1.5, 2.5, 3.0])
    env.run()
    assert ended == [pytest.approx(1.5)]
    assert seen == pytest.approx({0.5: 1.15 * GB + 0.1 * GB, 1.5: 1.15 * GB, 2.5: 1.05 * GB, 3.0: 1 * GB})


def test_a_sync_during_an_fsync_waits_for_the_fsyncs_bytes_too() -> None:
    """500 MB dirty (under the background threshold), a 100 MB fsync at 0 (to 1 s), a sync at 0.5 s: 50 MB of
    the fsync's are left, then the 500 MB: it ends at 6 s (5.5 s if the device wrote both at once), with 550 MB
    as its value."""
    env, d = disk()
    d.buffer(0.5 * GB)
    d.fsync(file_at_once(d, 0.1 * GB))
    values: list[float] = []
    ended = at(env, 0.5, recorded_sync(d, values))
    env.run()
    assert ended == [pytest.approx(6.0)] and values == [pytest.approx(0.55 * GB)]


def test_an_fsync_called_during_a_sync_goes_first_and_puts_the_sync_back() -> None:
    """500 MB dirty, a sync at 0 (5 s alone); a 100 MB fsync at 1 s takes the device (1 to 2 s), so the sync ends
    at 6 s, and so does a second sync at 2 s (the same 400 MB left, nothing newer). Two fsyncs at 7 s share
    the device: both end at 9 s."""
    env, d = disk()
    d.buffer(0.5 * GB)
    first = at(env, 0.0, d.sync)
    fsynced = at(env, 1.0, file_synced(d, 0.1 * GB))
    second = at(env, 2.0, d.sync)
    later = [at(env, 7.0, file_synced(d, 0.1 * GB)) for _ in range(2)]
    env.run()
    assert (first, fsynced, second) == ([pytest.approx(6.0)], [pytest.approx(2.0)], [pytest.approx(6.0)])
    assert later == [[pytest.approx(9.0)], [pytest.approx(9.0)]]


def test_a_sync_with_only_an_fsyncs_bytes_dirty_waits_for_them() -> None:
    """Nothing dirty but a 100 MB fsync's bytes (0 to 1 s): a sync at 0.5 s waits for the 50 MB left, to 1 s."""
    env, d = disk()
    d.fsync(file_at_once(d, 0.1 * GB))
    values: list[float] = []
    ended = at(env, 0.5, recorded_sync(d, values))
    env.run()
    assert ended == [pytest.approx(1.0)] and values == [pytest.approx(0.05 * GB)]


def test_the_device_never_writes_faster_than_its_rate() -> None:
    """Background writeback, expiry, fsyncs and syncs mixed: the bytes written between any two probes are at
    most the rate times the time between them, and every byte is written in the end."""
    env, d = disk()
    d.buffer(1.5 * GB)
    at(env, 1.0, file_synced(d, 0.2 * GB))
    at(env, 2.0, d.sync)
    at(env, 3.0, file_synced(d, 0.1 * GB))
    at(env, 40.0, lambda: (yield d.write(0.3 * GB)))
    at(env, 41.0, file_synced(d, 0.05 * GB))
    flushed: list[tuple[float, float]] = []

    def probe() -> Generator[Any, Any, None]:
        while env.now < 80:
            d.dirty_now()
            flushed.append((env.now, d.flushed))
            yield env.timeout(0.25)

    env.process(probe())
    env.run()
    for (t0, f0), (t1, f1) in itertools.pairwise(flushed):
        assert f1 - f0 <= RATE * (t1 - t0) * (1 + 1e-9) + 1.0
    assert d.flushed == pytest.approx(2.15 * GB) and d.dirty_now() == pytest.approx(0.0, abs=1.0)


def test_an_fsyncs_writes_make_room_for_a_throttled_writer() -> None:
    """A 100 MB file, then a writer of 2.65 GB that waits for 1 GB of writeback (10 s); the file's fsync at 0
    takes the device first, and its writes count as room (the kernel counts bytes under writeback as dirty):
    the writer still gets in at 10 s, when the dirty bytes are back at the 1.75 GB setpoint, and not before."""
    env, d = disk()
    pieces = file_at_once(d, 0.1 * GB)
    writer = at(env, 0.0, lambda: (yield d.buffer(2.65 * GB)))
    fsynced = at(env, 0.0, lambda: (yield d.fsync(pieces)))
    seen = probes(env, d, [1.0, 10.0])
    env.run()
    assert (writer, fsynced) == ([pytest.approx(10.0)], [pytest.approx(1.0)])
    assert seen == pytest.approx({1.0: 2.65 * GB, 10.0: 1.75 * GB})


def test_a_file_written_past_the_setpoint_waits_before_its_fsync() -> None:
    """1.7 GB dirty (under the 1.75 GB setpoint); a 100 MB file goes 50 MB past it: its writer waits for 50 MB
    of writeback (0.5 s), then fsyncs the file's 100 MB, still dirty (the writeback took the oldest): 1.5 s."""
    env, d = disk()
    d.buffer(1.7 * GB)
    ended = at(env, 0.0, file_synced(d, 0.1 * GB))
    env.run()
    assert ended == [pytest.approx(1.5)]


# ---------------------------------------------------------------------- a file written over a while (a blob)


def test_a_slow_download_has_only_its_last_30_seconds_left_to_fsync() -> None:
    """100 MB written at 1 MB/s from 0 to 100 s on an idle disk: the bytes of the first 70 s have expired by
    100 s and the device, idle all along, has written them back; the fsync writes the other 30 MB: 0.3 s."""
    env, d = disk()
    mark = d.mark()

    def download() -> Generator[Any, Any, None]:
        yield env.timeout(100.0)
        written, pieces = d.stream(0.1 * GB, 0.0, mark)
        assert written is None
        assert sum(piece[1] for piece in pieces) == pytest.approx(0.03 * GB)
        yield d.fsync(pieces)

    ended = at(env, 0.0, download)
    env.run()
    assert ended == [pytest.approx(100.3)]


def test_a_busy_disk_has_not_written_back_a_slow_downloads_bytes() -> None:
    """The same download (100 MB over 40 s, 25 MB expired by its end) on a 10 MB/s disk busy from 0 to 75 s
    with 750 MB of background writeback (1.75 GB dirty, 1 GB threshold): no idle time, so nothing of the blob
    is on the disk at its commit and the fsync writes all 100 MB: 10 s."""
    env = CountingEnvironment()
    d = Disk(env, 10e6, LINUX, lambda: 10 * GB)
    d.buffer(1.75 * GB)
    mark = d.mark()

    def download() -> Generator[Any, Any, None]:
        yield env.timeout(40.0)
        written, pieces = d.stream(0.1 * GB, 0.0, mark)
        assert written is None
        yield d.fsync(pieces)

    ended = at(env, 0.0, download)
    env.run()
    assert ended == [pytest.approx(50.0)]


def test_a_download_past_the_background_threshold_is_written_back_as_it_comes() -> None:
    """800 MB dirty; 600 MB come at 100 MB/s from 0 to 6 s: the dirty bytes pass the 1 GB background
    threshold at 2 s, and from then the 100 MB/s disk keeps them there, writing the oldest (the 800 MB's):
    400 MB by 6 s. The blob's own 600 MB are all still dirty for its fsync: 6 to 12 s."""
    env, d = disk()
    d.buffer(0.8 * GB)
    mark = d.mark()
    dirty: list[float] = []

    def download() -> Generator[Any, Any, None]:
        yield env.timeout(6.0)
        written, pieces = d.stream(0.6 * GB, 0.0, mark)
        assert written is None
        dirty.append(d.dirty)
        yield d.fsync(pieces)

    ended = at(env, 0.0, download)
    env.run()
    assert dirty == [pytest.approx(1 * GB)] and ended == [pytest.approx(12.0)]


def test_a_writer_faster_than_the_disk_is_held_back_from_where_it_reaches_the_setpoint() -> None:
    """3 GB written at 300 MB/s from 0 to 10 s, 100 MB/s disk, nothing else dirty: the bytes pass the 1 GB
    background threshold at 3.33 s and grow at 200 MB/s to the 1.75 GB setpoint at 7.08 s, 2.125 GB in; the
    other 875 MB go at the disk's pace, 8.75 s: the writer is done at 15.83 s. Worked out at 10 s: 667 MB
    written back since 3.33 s, 2.333 GB dirty, 583 MB past the setpoint to wait for (5.83 s)."""
    env, d = disk()
    mark = d.mark()

    def writer() -> Generator[Any, Any, None]:
        yield env.timeout(10.0)
        written, _ = d.stream(3 * GB, 0.0, mark)
        assert written is not None
        yield written

    ended = at(env, 0.0, writer)
    env.run()
    assert ended == [pytest.approx(10 + 7 / 1.2)]


def test_a_streams_bytes_age_from_when_they_came() -> None:
    """300 MB written evenly from 0 to 30 s go into the page cache as ten 3-second pieces of 30 MB, dated at
    their middles (1.5, 4.5, ... 28.5 s): at 40 s the three from before 10 s have expired and gone back (210 MB
    left); by 60 s, all (the last at 58.5 s + 0.3 s)."""
    env, d = disk()
    mark = d.mark()

    def writer() -> Generator[Any, Any, None]:
        yield env.timeout(30.0)
        written, pieces = d.stream(0.3 * GB, 0.0, mark)
        assert written is None and [piece[0] for piece in pieces] == pytest.approx([1.5 + 3 * i for i in range(10)])

    at(env, 0.0, writer)
    seen = probes(env, d, [31.0, 40.0, 60.0])
    env.run()
    assert seen == pytest.approx({31.0: 0.3 * GB, 40.0: 0.21 * GB, 60.0: 0.0})


def test_two_downloads_that_end_together_are_written_back_alike() -> None:
    """Two 800 MB blobs, each at 100 MB/s from 0 to 8 s, on the 100 MB/s disk: the first worked out finds the
    dirty bytes never past the 1 GB background threshold (its own alone) and its fsync holds its 800 MB. The
    second counts the first's as they came, in its three pieces of 266.7 MB dated 1.33, 4 and 6.67 s: the
    threshold passed at 4.67 s, so 333 MB of writeback by 8 s, taken from the oldest pieces of both alike
    (166.7 MB each, the first's fsync shortened). Both fsyncs then hold 633 MB and share the disk: 20.67 s."""
    env, d = disk()
    mark = d.mark()

    def download() -> Generator[Any, Any, None]:
        yield env.timeout(8.0)
        written, pieces = d.stream(0.8 * GB, 0.0, mark)
        assert written is None
        yield d.fsync(pieces)

    ended = [at(env, 0.0, download) for _ in range(2)]
    env.run()
    assert ended == [[pytest.approx(8 + 2 * (0.8 - 1 / 6) * 10)]] * 2


def test_long_downloads_leave_no_dirty_residue() -> None:
    """Six long downloads at once (100 MB/s disk; minutes each, as 100 runners sharing a 1 Gbps registry have):
    their pieces written back or fsynced, float error never leaves the dirty count above an empty page cache
    (a residue once sent the writeback looking for bytes that were not there)."""
    env = CountingEnvironment()
    d = Disk(env, 1e8, LINUX, lambda: 10e9)
    blobs = [(422366503.910999, 554.7726417641815, 21.02857904154225),
             (130199458.3961887, 406.7648328211651, 20.246706872520715),
             (392115495.9283515, 281.98763564735646, 23.82984770761779),
             (292107637.6880606, 644.8677311172011, 25.234342790869512),
             (141637084.3554522, 553.4825224943344, 30.91844983376658),
             (126002664.33985783, 645.8477535809441, 49.13927380188265)]

    def blob(size: float, took: float, delay: float) -> Generator[Any, Any, None]:
        yield env.timeout(delay)
        began, mark = env.now, d.mark()
        yield env.timeout(took)
        written, pieces = d.stream(size, began, mark)
        if written is not None:
            yield written
        synced = d.fsync(pieces)
        if synced is not None:
            yield synced
        yield env.timeout(1.0)
        d.dirty_now()

    for size, took, delay in blobs:
        env.process(blob(size, took, delay))
    env.run()
    assert d.dirty_now() == 0.0 and d.flushed == pytest.approx(sum(size for size, _, _ in blobs))


def test_a_shortened_task_ends_that_much_sooner() -> None:
    """CpuScheduler.shorten (an fsync whose bytes a stream's writeback took): two 10 s tasks share one core; at
    4 s (2 s received each) the first turns out 5 s shorter: 3 s left, done at 10 s (sharing), the other then
    alone with the 5 s it has left: 15 s. What the first had received stands."""
    env = CountingEnvironment()
    cpu = CpuScheduler(env, 1.0, utilisation=False)
    first, second = cpu.run(10.0, 1.0), cpu.run(10.0, 1.0)
    ends: dict[str, float] = {}

    def ended(name: str) -> Callable[[simpy.Event], None]:
        def record(_: simpy.Event) -> None:
            ends[name] = env.now
        return record

    first.done.callbacks.append(ended("first"))
    second.done.callbacks.append(ended("second"))

    def later() -> Generator[Any, Any, None]:
        yield env.timeout(4.0)
        cpu.shorten(first, 5.0)
        assert cpu.received(first) == pytest.approx(2.0)

    env.process(later())
    env.run()
    assert ends == pytest.approx({"first": 10.0, "second": 15.0})


def recorded_sync(d: Disk, values: list[float]) -> Callable[[], Generator[Any, Any, None]]:
    """A syncfs whose value (the bytes it waited for) is appended to ``values``."""
    def sync() -> Generator[Any, Any, None]:
        values.append((yield from d.sync()))
    return sync
