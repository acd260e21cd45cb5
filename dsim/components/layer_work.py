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

- **containerd's commit** (the containerd image store, Docker 29's default): moby's image service commits a
  container or a legacy builder's layer through containerd's walking differ, whatever the kernel's overlay
  diff (``containerd_diff``), and applies the blob into a new snapshot (``apply``); see its docstring.
- **Unpack** (``unpack_stages``, ``inflate_into``): a blob's inflate and the digest of its tar stream, and the
  files into the page cache, for a pulled layer (pull.py) and a committed diff applied alike.

Push compression is the same kind of work, in push.py (``compress_rate`` per core, ``compress_cores``).
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any

import simpy

from dsim.components.cpu_group import Cpu
from dsim.components.disk import Disk
from dsim.domain.hosts import StorageSpec
from dsim.domain.images import DEFAULT_UNCOMPRESSED_RATIO

#: (CPU-seconds, cores) of each piece of CPU work that runs beside the others
Stages = tuple[tuple[float, float], ...]


def cpu_seconds(nbytes: float, rate: float) -> float:
    """CPU-seconds to process ``nbytes`` at ``rate`` bytes/s on one core (``inf``: free)."""
    return 0.0 if nbytes <= 0 or math.isinf(rate) else nbytes / rate


def tar_entries(storage: StorageSpec, nbytes: float, files: float | None = None) -> float:
    """The entries of a layer's tar of ``nbytes``: ``files`` where the layer declares them, else its bytes over the
    images' mean file size (``file_size``)."""
    if files is not None:
        return files
    return nbytes / storage.file_size if nbytes > 0 else 0.0


def unpack_stages(storage: StorageSpec, nbytes: float, compression: str, *, applied: bool = True,
                  files: float | None = None) -> Stages:
    """The CPU work of unpacking ``nbytes`` (uncompressed) as (CPU-seconds, cores) per stage that runs beside the
    others (docs/distribution.md: Unpack as CPU work). The inflate: bytes / decompress_rate on up to
    ``decompress_cores``. The apply, in the goroutine that reads the inflated stream and writes the files: the
    digest of the tar stream, the layer's DiffID (containerd ``core/diff/apply/apply.go``: a TeeReader into a sha256
    digester; moby ``layer/layer_store.go`` ``applyTar``), bytes / hash_rate; the stream's bytes read and written
    into files, bytes / apply_rate; and every tar entry's create and metadata, ``apply_per_file`` each (the
    layer's ``files``, else bytes / file_size), on one core. igzip or unpigz (``gzip_decoder: external``) inflate
    in a process of their own, joined to the applier by a pipe (``piped``); klauspost's zstd decoder inflates in
    goroutines of its own, so the two run side by side; Go's compress/gzip (``go``) inflates inside the applying
    goroutine, so they run in turn. A lazy snapshotter's reads (``applied=False``) are no tar
    stream: inflate only (its own chunk checks are not modelled). ``inf`` disables a rate's cost."""
    decompress = math.inf if compression == "none" else storage.decompress_rate[compression]
    inflate = cpu_seconds(nbytes, decompress)
    apply = 0.0
    if applied and nbytes > 0:
        apply = (cpu_seconds(nbytes, storage.hash_rate) + cpu_seconds(nbytes, storage.apply_rate)
                 + tar_entries(storage, nbytes, files) * storage.apply_per_file)
    if compression == "gzip" and storage.gzip_decoder == "go":
        return ((inflate + apply, storage.decompress_cores),)
    if compression == "gzip" and inflate > 0 and apply > 0:
        return piped(inflate, storage.decompress_cores, apply, storage.pipe_colocation)
    return (inflate, storage.decompress_cores), (apply, 1.0)


def piped(inflate: float, cores: float, apply: float, colocation: float) -> Stages:
    """An external inflate (igzip, unpigz: a process of its own) and the applier, joined by a pipe: both move the
    stream at one pace, and the kernel runs them on one core ``colocation`` of the shorter one's time (a pipe's
    reader is woken on its writer's core), so on an idle host the pair takes the longer stage's time plus that
    share of the shorter's (``storage.pipe_colocation``; docs/distribution.md, "A piped unpack shares a core").
    Each stage's cores are capped at its share of that pace, so a busy host slows both, never one alone."""
    inflating, applying = inflate / cores, apply
    together = max(inflating, applying) + colocation * min(inflating, applying)
    return (inflate, inflate / together), (apply, apply / together)


def inflate_into(env: simpy.Environment, cpu: Cpu, disk: Disk, stages: Stages,
                 nbytes: float) -> Generator[Any, Any, None]:
    """Unpack ``nbytes`` of files: ``stages`` on the host's processor-sharing scheduler, each at no more than its
    cores, and the files into the page cache (disk.py) at the stages' mean pace (worked out when the last ends),
    the writer held back past the kernel's setpoint for what the disk has not written back by then."""
    began, mark = env.now, disk.mark()
    tasks = [cpu.run(work, cores) for work, cores in stages if work > 0]
    for task in tasks:
        yield task.done
    written, _ = disk.stream(nbytes, began, mark)
    if written is not None:
        yield written


class LayerWork:
    """Hashing and diff walks on one host's cores and disk."""

    def __init__(self, env: simpy.Environment, storage: StorageSpec, cpu: Cpu, disk: Disk,
                 store_cpu: Cpu | None = None) -> None:
        """``cpu``: dockerd's (hashes, walks, the graphdriver store's work); ``store_cpu``: containerd's, where the
        containerd store's differ and applier run (default ``cpu``)."""
        self.env = env
        self.storage = storage
        self.cpu = cpu
        self.store_cpu = store_cpu if store_cpu is not None else cpu
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
        """CPU-seconds of a naive diff (``tree_walk_seconds``); none with native diff."""
        if self.storage.overlay_diff != "naive":
            return 0.0
        return self.tree_walk_seconds(parent_bytes, nbytes)

    def tree_walk_seconds(self, parent_bytes: float, nbytes: float) -> float:
        """CPU-seconds of a walk of two trees: every file of the parent's tree and of the container's (the
        parent's files plus the new ones) visited once."""
        storage = self.storage
        return (2 * parent_bytes + nbytes) / storage.file_size * storage.walk_per_file

    def containerd_diff(self, parent_bytes: float, nbytes: float) -> Generator[Any, Any, None]:
        """A diff made by containerd's walking differ, as moby's containerd image service commits a container
        (``daemon/containerd/image_commit.go``, ``createDiff``) or a legacy COPY's layer (``image_builder.go``,
        ``rwlayer.Commit``). An empty diff is walked and makes no blob (nor a layer).

        The differ (containerd ``plugins/diff/walking/differ.go``) mounts both trees read-only and walks them whole
        (continuity ``fs.Changes``: ``detectDirDiff`` finds no overlay upper directory, so ``doubleWalkDiff``,
        whatever the kernel's overlay diff): ``tree_walk_seconds`` on one core. Beside the walk, the changes' tar
        goes through Go's compress/gzip (``compression.CompressStream``: ``gzip.NewWriter``, the default level),
        a sha256 of the tar (the DiffID) and the content writer's sha256 of the blob, in one goroutine:
        ``bytes / compress_rate + (bytes + blob) / hash_rate`` on one core. The blob is written as it comes and
        fsynced when the content store commits it. Read-only mounts' unmounts sync nothing. Not modelled:
        continuity compares the contents of two files whose mtimes are whole seconds (``sameFile``)."""
        storage = self.storage
        blob = float(round(nbytes / DEFAULT_UNCOMPRESSED_RATIO))  # an estimate, of whole bytes, as for any layer
        deflate = (cpu_seconds(nbytes, storage.compress_rate) + cpu_seconds(nbytes, storage.hash_rate)
                   + cpu_seconds(blob, storage.hash_rate))
        began, mark = self.env.now, self.disk.mark()
        tasks = [self.store_cpu.run(work, 1.0).done for work in (self.tree_walk_seconds(parent_bytes, nbytes), deflate)
                 if work > 0]
        if tasks:
            yield self.env.all_of(tasks)
        if blob > 0:
            yield from self.disk.committed(blob, began, mark)

    def apply(self, nbytes: float) -> Generator[Any, Any, None]:
        """A committed diff's gzip blob applied into a new snapshot (moby ``applyDiffLayer``: containerd's
        applier, as a pulled layer is unpacked: ``unpack_stages``), its files written again."""
        if nbytes > 0:
            stages = unpack_stages(self.storage, nbytes, "gzip")
            yield from inflate_into(self.env, self.store_cpu, self.disk, stages, nbytes)

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
