"""The page cache in front of Docker's filesystem (components/disk.py) against the kernel's rules worked out by
hand: Linux's dirty limits (Documentation/admin-guide/sysctl/vm.rst, mm/page-writeback.c), writeback of the
oldest bytes at the disk's rate, syncfs waiting for every dirty byte."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Generator
from typing import Any

import pytest
import simpy

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
        written = d.buffer(nbytes)
        if written is not None:
            yield written
        synced = d.fsync(nbytes)
        if synced is not None:
            yield synced
    return work


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
    d.buffer(0.1 * GB)  # the file
    synced = d.fsync(0.1 * GB)
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
    d.buffer(0.6 * GB)
    d.fsync(0.1 * GB)
    values: list[float] = []

    def sync() -> Generator[Any, Any, None]:
        values.append((yield from d.sync()))

    ended = at(env, 0.5, sync)
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
    d.buffer(0.1 * GB)
    d.fsync(0.1 * GB)
    values: list[float] = []

    def sync() -> Generator[Any, Any, None]:
        values.append((yield from d.sync()))

    ended = at(env, 0.5, sync)
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
    """A writer of 2.75 GB waits for 1 GB of writeback (10 s); a 100 MB fsync of dirty bytes at 0 takes the
    device first, and its writes count as room (the kernel counts bytes under writeback as dirty): the writer
    still gets in at 10 s, when the dirty bytes are back at the 1.75 GB setpoint, and not before."""
    env, d = disk()
    writer = at(env, 0.0, lambda: (yield d.buffer(2.75 * GB)))
    fsynced = at(env, 0.0, lambda: (yield d.fsync(0.1 * GB)))
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
