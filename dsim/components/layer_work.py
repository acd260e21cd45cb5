"""The work of making and hashing layers on one host, as CPU work on its processor-sharing
scheduler and writes on its disk (docs/build.md: Commit and hashing; docs/distribution.md: Push).

- **Hash and write** (tar + sha256 streamed into a new layer): moby's layer store registers a committed
  container's diff by reading its tar stream, digesting it (the diffID) and applying it as a new layer; the
  legacy builder's context is extracted and hashed file by file (tarsum) the same way. One goroutine digests
  (``bytes / hash_rate`` CPU-seconds on one core) while the writes go to the shared disk: done when both are.
- **Naive diff walk**: overlay2 without native diff (``overlay_diff: naive``) finds a container's changes by
  walking its whole tree and its parent's (moby ``archive.ChangesDirs``): one visit per file of each, the
  files counted as bytes / ``file_size``, ``walk_per_file`` CPU-seconds each, on one core. When the naive
  diff's tar stream is closed, it sleeps until the wall clock's next whole second after the diff began (moby
  ``daemon/graphdriver/fsdiff.go``, ``NaiveDiffDriver.Diff``, since Docker 1.13, moby#27209): parent layers
  hold mtimes of whole seconds, so two diffs in one second could miss a change. dsim's clock stands for the
  wall clock, its time 0 taken to be a whole second: the diff waits until ``floor(start) + 1``.

Push compression is the same kind of work, in push.py (``compress_rate`` per core, ``compress_cores``).
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any

import simpy

from dsim.components.disk import Disk
from dsim.components.host import CpuScheduler
from dsim.domain.hosts import StorageSpec


def cpu_seconds(nbytes: float, rate: float) -> float:
    """CPU-seconds to process ``nbytes`` at ``rate`` bytes/s on one core (``inf``: free)."""
    return 0.0 if nbytes <= 0 or math.isinf(rate) else nbytes / rate


class LayerWork:
    """Hashing and diff walks on one host's cores and disk."""

    def __init__(self, env: simpy.Environment, storage: StorageSpec, cpu: CpuScheduler, disk: Disk) -> None:
        self.env = env
        self.storage = storage
        self.cpu = cpu
        self.disk = disk

    def hash_and_write(self, nbytes: float) -> Generator[Any, Any, None]:
        """A tar stream digested while it is written as a layer: CPU and disk at once, done when both are;
        on an idle host ``max(bytes / hash_rate, bytes / write_rate)``."""
        if nbytes <= 0:
            return
        task = self.cpu.run(cpu_seconds(nbytes, self.storage.hash_rate), 1.0)
        yield self.env.all_of([task.done, self.disk.write(nbytes)])

    def syncfs(self) -> Generator[Any, Any, None]:
        """An overlay unmount in a build (a step container's init layer, a RUN's rootfs, the legacy COPY's bare
        layer, a BuildKit FileOp's snapshot): it waits for every dirty byte of Docker's filesystem (disk.py),
        inside the step's span."""
        if self.disk.dirty > 0:
            yield from self.disk.sync()

    def hash(self, nbytes: float) -> Generator[Any, Any, None]:
        """Digest ``nbytes`` (BuildKit's content hash of COPY sources): ``bytes / hash_rate`` CPU-seconds."""
        work = cpu_seconds(nbytes, self.storage.hash_rate)
        if work > 0:
            yield self.cpu.run(work, 1.0).done

    def walk_seconds(self, parent_bytes: float, nbytes: float) -> float:
        """CPU-seconds of a naive diff: every file of the parent's tree and of the container's (the parent's
        files plus the new ones) visited once; none with native diff."""
        storage = self.storage
        if storage.overlay_diff != "naive":
            return 0.0
        files = (2 * parent_bytes + nbytes) / storage.file_size
        return files * storage.walk_per_file

    def naive_diff_close(self, started: float) -> Generator[Any, Any, None]:
        """The close of a naive diff (of a layer on a parent) that began at ``started``: ``time.Sleep(time.Until(
        startTime.Truncate(time.Second).Add(time.Second)))``, a wait until the next whole second of the clock (at
        once if it has passed); nothing with native diff."""
        if self.storage.overlay_diff != "naive":
            return
        deadline = math.floor(started) + 1.0
        if deadline > self.env.now:
            yield self.env.timeout(deadline - self.env.now)

    def diff_walk(self, parent_bytes: float, nbytes: float) -> Generator[Any, Any, None]:
        work = self.walk_seconds(parent_bytes, nbytes)
        if work > 0:
            yield self.cpu.run(work, 1.0).done
