"""A host's container storage (docs/networks-storage.md): the disk's write bandwidth shared by every writer,
the containers' writable layers, named and anonymous volumes, bind mounts and tmpfs.

- Writes go into the kernel's page cache and back to the disk at ``storage.write_rate`` (disk.py): at once
  under the dirty limits, held to the writeback's pace (shared equally) past them.
- A container's writable layer (overlay2's upperdir): new files (``writes``) and copied-up image files
  (``copy_up``: the first write to a file of a lower layer copies the WHOLE file up) take their bytes on the
  disk and go through the page cache, once, on the first run; ``docker rm`` frees them. The WRITE span
  carries ``docker diff``'s view: bytes added, bytes changed.
- Volumes live on the same disk (``/var/lib/docker/volumes``): created by ``docker volume create`` or by the
  first container that mounts a name, reused by every container that mounts it, kept after ``docker rm``
  (``rm -v`` removes the container's anonymous volumes only), removed by ``docker volume rm`` unless a
  container uses it. Image GC never removes a volume; its bytes count in the disk use GC sees.
- A bind mount writes through to the host's disk (time) but dockerd does not account its bytes; tmpfs
  writes are memory, charged to the container (and so against its ``--memory`` limit).
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import itertools
from collections.abc import Collection, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any

import simpy

from dsim.components.container import Container
from dsim.components.disk import Disk, host_disk
from dsim.components.errors import ApiError
from dsim.components.image_store import DiskFull, ImageStore
from dsim.domain.containers import ContainerSpec
from dsim.domain.hosts import HostSpec
from dsim.domain.layer_files import ADDED, MODIFIED, LayerFile, diff_lines, layer_changes
from dsim.domain.networking import MountSpec
from dsim.records import Recorder, SpanKind

VOLUMES = "/var/lib/docker/volumes"


@dataclass(frozen=True, slots=True)
class Node:
    """A directory or a symbolic link ``docker cp`` put in a container or a volume (dsim serve's archive.py:
    kept even when empty, and a link as a link): ``link`` its target as written (None: a directory), its mtime
    as a Unix time and permission bits."""

    link: str | None
    mtime: float
    mode: int


@dataclass(eq=False)
class Volume:
    """A volume of the ``local`` driver: a directory under /var/lib/docker/volumes."""

    name: str
    created: float
    anonymous: bool
    bytes: float = 0.0
    #: IDs of the containers that mount it (any state), in mount order: a dict, so that a container's unmount
    #: finds its ID at once on a volume thousands of containers share (and counts a container once, as
    #: Docker's reference counts do)
    users: dict[str, None] = field(default_factory=dict)
    #: contents of the files commands wrote into it (dsim serve's shell), by path under its root
    files: dict[str, builtins.bytes] = field(default_factory=dict)  # builtins: ``bytes`` above is a field
    #: those files' (mtime as a Unix time, permission bits), by the same paths (dsim serve's ``docker cp``)
    meta: dict[str, tuple[float, int]] = field(default_factory=dict)
    #: the directories and symbolic links ``docker cp`` put in it, by path under its root
    nodes: dict[str, Node] = field(default_factory=dict)

    @property
    def mountpoint(self) -> str:
        return f"{VOLUMES}/{self.name}/_data"


class ContainerStorage:
    """The writable layers' and volumes' side of one daemon."""

    def __init__(self, env: simpy.Environment, host: str, spec: HostSpec, store: ImageStore,
                 recorder: Recorder, disk: Disk | None = None) -> None:
        self.env = env
        self.host = host
        self.store = store
        self.recorder = recorder
        #: Docker's filesystem with the kernel's page cache (disk.py), shared with pulls and builds
        self.disk = disk or host_disk(env, spec, lambda: spec.memory)
        self.volumes: dict[str, Volume] = {}
        self._anonymous = itertools.count(1)
        #: container ID -> (bytes added, bytes changed) in its writable layer: ``docker diff``'s accounting
        self.diffs: dict[str, tuple[float, float]] = {}
        #: container ID -> the files its run declared in its writable layer (domain/layer_files.py)
        self.files: dict[str, tuple[LayerFile, ...]] = {}
        #: overlay2 without native diff: docker diff lists every directory above a change
        self.naive_diff = spec.storage.overlay_diff == "naive"
        #: container ID -> the volumes it mounts
        self._mounted: dict[str, list[Volume]] = {}
        for name in spec.volumes:
            self.create(name)

    # ------------------------------------------------------------------ volumes

    def create(self, name: str | None = None, *, anonymous: bool = False) -> Volume:
        """``docker volume create [NAME]``: an existing name is returned as it is (as dockerd does)."""
        if name is None:
            name = hashlib.sha256(f"dsim-volume {self.host} {next(self._anonymous)}".encode()).hexdigest()
            anonymous = True
        volume = self.volumes.get(name)
        if volume is None:
            volume = self.volumes[name] = Volume(name, self.env.now, anonymous)
        return volume

    def find(self, name: str) -> Volume:
        volume = self.volumes.get(name)
        if volume is None:
            raise ApiError(404, f"get {name}: no such volume")
        return volume

    def remove(self, name: str, *, ids: dict[str, str] | None = None) -> Volume:
        """``docker volume rm``: 409 while a container (any state) mounts it; its bytes leave the disk.
        ``ids``: the IDs a face names users by (runtime container ID -> its ID)."""
        volume = self.find(name)
        if volume.users:
            users = ", ".join((ids or {}).get(user, user) for user in volume.users)
            raise ApiError(409, f"remove {name}: volume is in use - [{users}]")
        del self.volumes[name]
        self.store.remove_volume(name)
        return volume

    def prune(self, *, all_volumes: bool = False) -> list[Volume]:
        """``docker volume prune``: unused anonymous volumes (``all_volumes``: named ones too, as ``-a``)."""
        unused = [v for v in self.volumes.values() if not v.users and (v.anonymous or all_volumes)]
        for volume in unused:
            self.remove(volume.name)
        return unused

    def mount(self, spec: ContainerSpec, container_id: str) -> None:
        """At ``docker create``: each volume mount names a volume (made if missing) or an anonymous one."""
        mounted = self._mounted[container_id] = []
        for mount in spec.mounts:
            if mount.type == "volume":
                volume = self.create(mount.source)
                volume.users[container_id] = None
                mounted.append(volume)

    def unmount(self, container: Container, *, remove_anonymous: bool) -> None:
        """At ``docker rm``: the container no longer uses its volumes; ``-v`` removes its anonymous ones."""
        for volume in self._mounted.pop(container.id, []):
            volume.users.pop(container.id, None)
            if remove_anonymous and volume.anonymous and not volume.users and volume.name in self.volumes:
                self.remove(volume.name)
        self.diffs.pop(container.id, None)
        self.files.pop(container.id, None)
        self.store.remove_container_layer(container.id)

    def mounted(self, container: Container) -> list[Volume]:
        return list(self._mounted.get(container.id, ()))

    def usage(self) -> tuple[float, float]:
        """(bytes in writable layers, bytes in volumes): ``docker system df``'s Containers and Local Volumes."""
        layers = sum(added + changed for added, changed in self.diffs.values())
        return layers, sum(v.bytes for v in self.volumes.values())

    # ------------------------------------------------------------------ a run's writes

    @staticmethod
    def tmpfs_bytes(spec: ContainerSpec) -> float:
        """Memory a run's tmpfs writes take (charged to the container)."""
        return sum(m.writes for m in spec.mounts if m.type == "tmpfs")

    def write(self, container: Container, job: int) -> Generator[Any, Any, bool]:
        """One run's writes: the writable layer on the first run (copy-up, then new files), then each mount.
        False: the write failed (no space left on device; ``container.error`` says where)."""
        spec = container.spec
        if not container.layer_written and (spec.writes > 0 or spec.copy_up > 0):
            container.layer_written = True
            ok = yield from self._layer(container, job)
            if not ok:
                return False
        volumes = iter(self._mounted.get(container.id, ()))
        for mount in spec.mounts:
            volume = next(volumes) if mount.type == "volume" else None
            ok = yield from self._mount_write(container, mount, volume, job)
            if not ok:
                return False
        return True

    def _layer(self, container: Container, job: int) -> Generator[Any, Any, bool]:
        spec, env = container.spec, self.env
        try:
            self.store.add_container_layer(container.id, spec.writes + spec.copy_up)
        except DiskFull as err:
            container.error = str(err)
            return False
        began = env.now
        if spec.copy_up > 0:
            yield self.disk.write(spec.copy_up)
            self.recorder.span(SpanKind.COPY_UP, container.name, began, env.now, host=self.host, job=job,
                               bytes=spec.copy_up)
        if spec.writes > 0:
            yield self.disk.write(spec.writes)
        added, changed = self.diffs.get(container.id, (0.0, 0.0))  # files a command wrote meanwhile stay
        self.diffs[container.id] = (added + spec.writes, changed + spec.copy_up)
        self.recorder.span(SpanKind.WRITE, container.name, began, env.now, host=self.host, job=job, target="layer",
                           bytes=spec.writes + spec.copy_up, added=spec.writes, changed=spec.copy_up,
                           **self._declared(container))
        return True

    def _declared(self, container: Container) -> dict[str, Any]:
        """The write span's file accounting when the run declared its files: how many it added and changed,
        and ``docker diff``'s lines for the layer (none declared: nothing, so bytes-only runs keep their
        outputs)."""
        files = container.spec.layer_files
        if not files:
            return {}
        self.files[container.id] = self.files.get(container.id, ()) + files
        return {"files_added": sum(1 for f in files if f.kind == ADDED),
                "files_changed": sum(1 for f in files if f.kind == MODIFIED),
                "changes": diff_lines(files, naive=self.naive_diff)}

    def write_files(self, container: Container, files: Mapping[str, float],
                    image_paths: Collection[str] = ()) -> Generator[Any, Any, None]:
        """Files a command wrote into the writable layer (dsim serve: a shell's ``> /path``), by size: a new
        path is added, one of the image (``image_paths``) copied up, one written before resized; what the layer
        grows by goes through the host's disk. A full disk is not checked for these few bytes."""
        known = {file.path: file for file in self.files.get(container.id, ())}
        added, changed = self.diffs.get(container.id, (0.0, 0.0))
        grown = 0.0
        for path, size in files.items():
            before = known.get(path)
            delta = size - (before.size if before is not None else 0.0)
            kind = before.kind if before is not None else (MODIFIED if path in image_paths else ADDED)
            known[path] = LayerFile(path, size, kind)
            added, changed = (added + delta, changed) if kind == ADDED else (added, changed + delta)
            grown += delta
        self.files[container.id] = tuple(known.values())
        self.diffs[container.id] = (added, changed)
        if grown > 0:
            with contextlib.suppress(DiskFull):
                self.store.add_container_layer(container.id, grown)
            yield self.disk.write(grown)

    def written(self, container_id: str) -> float:
        """Bytes of a container's writable layer: its new files and the image files it copied up."""
        return sum(self.diffs.get(container_id, (0.0, 0.0)))

    def changes(self, container_id: str) -> list[tuple[str, int]]:
        """``docker diff`` of a container's writable layer: the declared files (and the directories listed
        with them), and for bytes declared without paths one stand-in entry per kind (serve/changes.py)."""
        return layer_changes(self.diffs.get(container_id, (0.0, 0.0)), self.files.get(container_id, ()),
                             naive=self.naive_diff)

    def _mount_write(self, container: Container, mount: MountSpec, volume: Volume | None,
                     job: int) -> Generator[Any, Any, bool]:
        if mount.writes <= 0:
            return True
        if mount.type == "tmpfs":
            if mount.size is not None and mount.writes > mount.size:
                container.error = f"write {mount.target}: no space left on device"
                return False
            return True  # memory: charged with the run's usage
        if volume is not None:
            try:
                self.store.add_volume(volume.name, mount.writes)
            except DiskFull as err:
                container.error = str(err)
                return False
            volume.bytes += mount.writes
        began = self.env.now
        yield self.disk.write(mount.writes)
        target = volume.name if volume is not None else f"bind:{mount.source}"
        self.recorder.span(SpanKind.WRITE, container.name, began, self.env.now, host=self.host, job=job,
                           target=target, bytes=mount.writes, added=mount.writes, changed=0.0)
        return True
