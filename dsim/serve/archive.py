"""``docker cp``: ``HEAD``, ``GET`` and ``PUT /containers/{id}/archive`` over the files dsim models.

What a container's filesystem holds here (:func:`container_tree`): the files its commands wrote and the files
its image carries whose contents are known (a commit's, a build's RUN steps': ``Served.files``), its volumes'
files under their mount points, the files dockerd writes for it (/etc/hostname, /etc/hosts: utilities.py, as
``cat`` prints them; before its first start the init layer's empty ones, moby daemon/initlayer), and the
directories these imply, its mount points, its working directory and the directories every distribution's
base image has (:data:`SKELETON`). An image's own files are not modelled: a copy of one is moby's 404, as
``cat`` of one prints nothing. Empty directories, symbolic links and device files an archive brings in are
not kept (regular files only).

moby's behaviour (v28.5.2): api/server/router/container/copy.go (the stat header, gzip/deflate as the client
accepts), daemon/archive.go (``Could not find the file PATH in container NAME``, 404), daemon/archive_unix.go
(the archive of a file is its base name, of a directory the directory then what is under it; extraction into
a directory only, refused on a read-only rootfs or volume with 400), go-archive's archive.go Unpack (each
entry's path cleaned and kept inside the destination, ``noOverwriteDirNonDir``, parents created as needed).
Mode bits are Go's ``os.FileMode`` (https://pkg.go.dev/io/fs#FileMode), times Go's ``time.Time`` JSON.
"""

from __future__ import annotations

import base64
import io
import json
import math
import posixpath
import tarfile
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dsim.components.errors import ApiError
from dsim.serve.objects import container_mounts
from dsim.serve.utilities import docker_file

if TYPE_CHECKING:
    from dsim.serve.engine import Engine
    from dsim.serve.views import Served

#: the files dockerd bind-mounts into every container (moby container/container_unix.go NetworkMounts): a write
#: to one is the container's own copy, outside its writable layer (``docker diff`` does not list it)
DOCKERD_FILES = frozenset({"/etc/hostname", "/etc/hosts", "/etc/resolv.conf"})
#: of them, those whose contents dsim knows (``cat`` prints them: utilities.docker_file)
KNOWN_DOCKERD_FILES = ("/etc/hostname", "/etc/hosts")
#: directories of every distribution's base image (alpine, debian, ubuntu: the FHS's top level that is a
#: directory in all of them) with their permission bits, so ``docker cp f web:/tmp/`` finds /tmp
SKELETON = {"/etc": 0o755, "/home": 0o755, "/media": 0o755, "/mnt": 0o755, "/opt": 0o755, "/root": 0o700,
            "/run": 0o755, "/srv": 0o755, "/tmp": 0o1777, "/usr": 0o755, "/usr/local": 0o755, "/var": 0o755,
            "/var/lib": 0o755, "/var/log": 0o755, "/var/tmp": 0o1777}
#: what a file a shell creates gets (0666 under the umask 022), and a directory mkdir creates (0777 under it)
FILE_MODE, DIR_MODE = 0o644, 0o755
#: a directory's size as ext4 and overlayfs report it (one block)
DIR_SIZE = 4096
#: Go's os.FileMode bits (io/fs): the type and the special permission bits
GO_DIR, GO_SETUID, GO_SETGID, GO_STICKY = 1 << 31, 1 << 23, 1 << 22, 1 << 20
#: entries an uploaded archive may hold (beyond, refused: bounded work per request, as a build context)
MAX_ENTRIES = 100_000


@dataclass(frozen=True, slots=True)
class Entry:
    """One path of the container's filesystem: a directory or a regular file with its contents."""

    is_dir: bool
    mode: int  # permission bits, setuid/setgid/sticky included (0o7777)
    mtime: float  # Unix time
    data: bytes = b""

    @property
    def size(self) -> int:
        return DIR_SIZE if self.is_dir else len(self.data)


class FileTree:
    """A container's modelled files and directories by absolute path; ``/`` always exists."""

    def __init__(self, mtime: float) -> None:
        self.entries: dict[str, Entry] = {"/": Entry(True, DIR_MODE, mtime)}

    def add_dir(self, path: str, mode: int, mtime: float) -> None:
        self._parents(path, mtime)
        before = self.entries.get(path)
        if before is None or not before.is_dir:
            self.entries[path] = Entry(True, mode, mtime)

    def add_file(self, path: str, data: bytes, mode: int, mtime: float) -> None:
        """A file, its directories made as needed; a directory's mtime is its newest entry's (a new entry
        changes it)."""
        self._parents(path, mtime)
        self.entries[path] = Entry(False, mode, mtime, data)

    def _parents(self, path: str, mtime: float) -> None:
        parent = posixpath.dirname(path)
        while True:
            before = self.entries.get(parent)
            if before is None or not before.is_dir:
                self.entries[parent] = Entry(True, DIR_MODE, mtime)
            elif before.mtime < mtime:
                self.entries[parent] = Entry(True, before.mode, mtime)
            if parent == "/":
                return
            parent = posixpath.dirname(parent)

    def lookup(self, shown: str) -> tuple[str, Entry]:
        """The entry at ``shown`` (relative: from ``/``) as lstat finds it: FileNotFoundError when nothing is
        there, NotADirectoryError when a file is named as a directory (a trailing ``/``, or a path under it)."""
        path = absolute(shown)
        entry = self.entries.get(path)
        if entry is None:
            parent = path
            while parent != "/":
                parent = posixpath.dirname(parent)
                above = self.entries.get(parent)
                if above is not None and not above.is_dir:
                    raise NotADirectoryError(shown)
            raise FileNotFoundError(shown)
        if not entry.is_dir and (shown.endswith("/") or shown.endswith("/.")):
            raise NotADirectoryError(shown)
        return path, entry

    def walk(self, root: str) -> Iterator[tuple[str, Entry]]:
        """``root`` and everything under it, depth first, each directory's entries by name (Go's WalkDir)."""
        children: dict[str, list[str]] = {}
        prefix = root.rstrip("/") + "/"
        for path in self.entries:
            if path.startswith(prefix) and path != "/":
                children.setdefault(posixpath.dirname(path), []).append(path)
        stack = [root]
        while stack:
            path = stack.pop()
            yield path, self.entries[path]
            stack.extend(sorted(children.get(path, ()), reverse=True))


def absolute(path: str) -> str:
    """A container path as lstat inside it resolves it: relative to ``/``, ``.``/``..`` and repeated slashes
    gone (Go's filepath.Join("/", path))."""
    return "/" + posixpath.normpath("/" + path).lstrip("/")


def go_base(path: str) -> str:
    """Go's filepath.Base: the last element, trailing slashes dropped; ``/`` for the root, ``.`` for none."""
    if not path:
        return "."
    stripped = path.rstrip("/")
    return posixpath.basename(stripped) if stripped else "/"


def go_mode(entry: Entry) -> int:
    """The entry's mode as Go's os.FileMode (the PathStat's ``mode``): permission bits, then the type and the
    special bits moved to Go's own (os/stat_linux.go fillFileStatFromSys)."""
    mode = entry.mode & 0o777
    for unix, go in ((0o4000, GO_SETUID), (0o2000, GO_SETGID), (0o1000, GO_STICKY)):
        if entry.mode & unix:
            mode |= go
    return mode | (GO_DIR if entry.is_dir else 0)


def go_time(unix: float) -> str:
    """A Unix time as Go's time.Time marshals to JSON in UTC: RFC 3339 with nanoseconds, trailing zeros cut."""
    seconds = math.floor(unix)
    nanos = round((unix - seconds) * 1e9)
    if nanos >= 1_000_000_000:
        seconds, nanos = seconds + 1, 0
    fraction = f".{nanos:09d}".rstrip("0") if nanos else ""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + fraction + "Z"


def stat_header(name: str, entry: Entry) -> str:
    """``X-Docker-Container-Path-Stat``: the PathStat as JSON in standard base64 (copy.go
    setContainerPathStatHeader; api/types/container PathStat)."""
    stat = {"name": name, "size": entry.size, "mode": go_mode(entry), "mtime": go_time(entry.mtime),
            "linkTarget": ""}
    return base64.b64encode(json.dumps(stat, separators=(",", ":")).encode()).decode()


# ---------------------------------------------------------------------------------------------- the model


def container_tree(engine: Engine, served: Served) -> FileTree:
    """The container's modelled filesystem now (simulation thread): what it holds is immutable, so the tree
    can be archived elsewhere. Files with no recorded time date from the container's creation."""
    created = engine.epoch(served.created)
    tree = FileTree(created)
    for path, mode in SKELETON.items():
        tree.add_dir(path, mode, created)
    for mount in served.container.spec.mounts:
        tree.add_dir(absolute(mount.target), 0o1777 if mount.type == "tmpfs" else DIR_MODE, created)
    workdir = served.config.get("WorkingDir")
    if workdir:
        tree.add_dir(absolute(str(workdir)), DIR_MODE, created)
    started = served.container.started_at
    context = engine.context(served) if started is not None else None
    written = engine.epoch(started) if started is not None else created
    for path in KNOWN_DOCKERD_FILES:  # the init layer's empty files until dockerd writes them at a start
        text = docker_file(context, path) if context is not None else ""
        if text is not None:
            tree.add_file(path, text.encode(), FILE_MODE, written)
    for path, data in served.files.items():
        mtime, mode = served.file_meta.get(path, (created, FILE_MODE))
        tree.add_file(absolute(path), data, mode, mtime)
    for target, volume in engine.volume_mounts(served):
        for inside, data in volume.files.items():
            mtime, mode = volume.meta.get(inside, (created, FILE_MODE))
            tree.add_file(absolute(posixpath.join(target, inside)), data, mode, mtime)
    return tree


def find_path(tree: FileTree, shown: str, container: str) -> tuple[str, Entry]:
    """The entry at ``shown``, or dockerd's error: 404 containerFileNotFound (daemon/errors.go) for a path that
    is not there, 500 for lstat's ENOTDIR (a system error: daemon/archive.go wraps what is not NotExist)."""
    try:
        return tree.lookup(shown)
    except NotADirectoryError:
        raise ApiError(500, f"lstat {shown}: not a directory") from None
    except FileNotFoundError:
        raise ApiError(404, f"Could not find the file {shown} in container {container}") from None


def preserve_trailing(cleaned: str, original: str) -> str:
    """go-archive PreserveTrailingDotOrSeparator: a path's trailing ``/.`` or ``/`` survives the cleaning
    (``docker cp web:/dir/. x`` copies the directory's contents, not the directory)."""
    if original.endswith("/.") and not cleaned.endswith("/."):
        return cleaned.rstrip("/") + "/."
    if original.endswith("/") and not cleaned.endswith("/"):
        return cleaned + "/"
    return cleaned


def archive_path(tree: FileTree, path: str, container: str) -> tuple[str, Entry]:
    """GET's source: the request's path made absolute, its trailing ``/`` or ``/.`` kept (archive_unix.go
    containerArchivePath), and what is there."""
    shown = preserve_trailing(absolute(path), path)
    _, entry = find_path(tree, shown, container)
    return shown, entry


def tar_of(tree: FileTree, shown: str, entry: Entry) -> bytes:
    """The archive GET answers (archive_unix.go: TarResourceRebaseOpts(sourceBase, Base(path))): a file as
    its base name; a directory as its base name then each entry under it as ``base/relative`` (the root:
    ``/relative``; ``dir/.``: ``./relative``), PAX headers, mtimes to the second, owner root."""
    base = go_base(shown)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        if not entry.is_dir:
            _add(archive, base, entry)
        else:
            root = absolute(shown)
            prefix = "" if base == "/" else base
            for path, found in tree.walk(root):
                inside = posixpath.relpath(path, root)
                _add(archive, prefix if inside == "." else f"{prefix}/{inside}", found)
    return buffer.getvalue()


def _add(archive: tarfile.TarFile, name: str, entry: Entry) -> None:
    info = tarfile.TarInfo(name or "/")
    info.type = tarfile.DIRTYPE if entry.is_dir else tarfile.REGTYPE
    info.mode = entry.mode
    info.mtime = math.floor(entry.mtime)
    info.size = 0 if entry.is_dir else len(entry.data)
    archive.addfile(info, None if entry.is_dir else io.BytesIO(entry.data))


# ---------------------------------------------------------------------------------------------- extraction


@dataclass(frozen=True, slots=True)
class Member:
    """One entry of an uploaded archive: ``dir``, ``file`` (a hard link: its target's contents) or ``other``."""

    name: str
    kind: str
    mode: int
    mtime: float
    data: bytes = b""


def read_archive(data: bytes) -> tuple[list[Member], ApiError | None]:
    """An uploaded tar (plain, gzip, bzip2 or xz, as the API allows: go-archive DecompressStream) read in
    memory, never extracted; the error that ended it, if any (what came before it is still unpacked)."""
    members: list[Member] = []
    if not data.strip(b"\0"):
        return members, None  # nothing, or only the end-of-archive blocks: Go's tar reader ends at once
    try:
        archive = tarfile.open(fileobj=io.BytesIO(data), mode="r:*")  # noqa: SIM115 - closed by the with below
    except (tarfile.TarError, EOFError, OSError):
        return members, ApiError(500, "archive/tar: invalid tar header")
    with archive:
        try:
            for member in archive:
                if len(members) >= MAX_ENTRIES:
                    return members, ApiError(400, f"an archive of more than {MAX_ENTRIES} entries")
                kind = "dir" if member.isdir() else "file" if member.isfile() or member.islnk() else "other"
                handle = archive.extractfile(member) if kind == "file" else None
                members.append(Member(member.name, kind, member.mode & 0o7777, float(member.mtime),
                                      handle.read() if handle is not None else b""))
        except (tarfile.TarError, EOFError, OSError) as err:
            return members, ApiError(500, f"archive/tar: {err}")
    return members, None


def check_destination(tree: FileTree, path: str, container: str, refused: Callable[[str], str | None]) -> str:
    """PUT's destination (archive_unix.go containerExtractToDir): there (else 404), a directory (else 400
    ``extraction point is not a directory``), writable (else 400, checkWritablePath); returns it cleaned."""
    shown = preserve_trailing(absolute(path), path)
    found, entry = find_path(tree, shown, container)
    if not entry.is_dir:
        raise ApiError(400, "extraction point is not a directory")
    why = refused(found)
    if why is not None:
        raise ApiError(400, why)
    return found


def extract(tree: FileTree, dest: str, members: list[Member], no_overwrite: bool,
            read_only: Callable[[str], bool]) -> tuple[list[tuple[str, bytes, float, int]], ApiError | None]:
    """Unpack the members into ``dest`` of the tree (go-archive Unpack): each name cleaned and kept under
    ``dest``, an existing directory never replaced by a file nor a file by a directory with ``no_overwrite``
    (the CLI always asks it). Returns the files written, in order, as (path, contents, mtime, bits), and the
    error that stopped it (moby keeps what it wrote before one)."""
    files: list[tuple[str, bytes, float, int]] = []
    try:
        for member in members:
            path = _unpack(member, tree, dest, no_overwrite, read_only)
            if path is not None:
                files.append((path, member.data, member.mtime, member.mode))
    except ApiError as err:
        return files, err
    return files, None


def _unpack(member: Member, tree: FileTree, dest: str, no_overwrite: bool,
            read_only: Callable[[str], bool]) -> str | None:
    name = posixpath.normpath(member.name) if member.name else "."
    path = posixpath.normpath(posixpath.join(dest, name))
    inside = posixpath.relpath(path, dest)
    if inside == ".." or inside.startswith("../"):
        raise ApiError(500, f"{json.dumps(name)} is outside of {json.dumps(dest)}")
    if member.kind == "other" or path == dest:
        return None  # links, devices, FIFOs are not modelled; the destination is a directory already
    is_dir = member.kind == "dir"
    _parents_writable(tree, path, read_only)
    before = tree.entries.get(path)
    if before is not None and no_overwrite and before.is_dir and not is_dir:
        raise ApiError(500, f"cannot overwrite directory {json.dumps(path)} with non-directory {json.dumps(dest)}")
    if before is not None and no_overwrite and not before.is_dir and is_dir:
        raise ApiError(500, f"cannot overwrite non-directory {json.dumps(path)} with directory {json.dumps(dest)}")
    if before is not None and before.is_dir != is_dir:
        raise ApiError(501, f"dsim serve does not simulate replacing {path} (a "
                            f"{'directory' if before.is_dir else 'file'}) by a {'directory' if is_dir else 'file'}")
    if read_only(path):
        raise ApiError(500, f"{'mkdir' if is_dir else 'open'} {path}: read-only file system")
    if is_dir:
        tree.add_dir(path, member.mode, member.mtime)
        return None
    tree.add_file(path, member.data, member.mode, member.mtime)
    return path


def _parents_writable(tree: FileTree, path: str, read_only: Callable[[str], bool]) -> None:
    """An entry's directories: a file among them is ENOTDIR at its open; a missing one is made, which a
    read-only filesystem refuses (go-archive createImpliedDirectories)."""
    parent = posixpath.dirname(path)
    while parent != "/":
        above = tree.entries.get(parent)
        if above is not None and not above.is_dir:
            raise ApiError(500, f"open {path}: not a directory")
        if above is None and read_only(parent):
            raise ApiError(500, f"mkdir {parent}: read-only file system")
        parent = posixpath.dirname(parent)


# ---------------------------------------------------------------------------------------------- the engine's side


def write_rules(engine: Engine, served: Served) -> tuple[Callable[[str], str | None], Callable[[str], bool]]:
    """Where the container may be written (archive_unix.go checkWritablePath): under a mount, as the mount is
    (``ro``: ``mounted volume is marked read-only``); elsewhere, unless the rootfs is read-only. Returns the
    check of the destination (why not, or None) and of each entry (read-only or not)."""
    mounts = container_mounts(engine.daemon, served.container, served.host_config)
    rootfs_ro = bool(served.host_config.get("ReadonlyRootfs"))

    def refused(path: str) -> str | None:
        within = [m for m in mounts if path == m["Destination"] or path.startswith(m["Destination"].rstrip("/") + "/")]
        mount = max(within, key=lambda m: len(m["Destination"]), default=None)
        if mount is not None:
            return None if mount["RW"] else "mounted volume is marked read-only"
        return "container rootfs is marked read-only" if rootfs_ro else None

    return refused, lambda path: refused(path) is not None


def upload(engine: Engine, served: Served, named: str, path: str, members: list[Member], error: ApiError | None,
           no_overwrite: bool, job: int) -> Generator[Any, Any, None]:
    """``PUT /containers/{id}/archive`` (a job, under the container's lock as dockerd's container.Lock): the
    API front, the destination checked, the files unpacked where they land (volumes, mounts, the writable
    layer: Processes.place_files; the layer's bytes through the disk), dockerd's ``extract-to-dir`` event.
    Running or not, as moby allows."""
    yield from engine.daemon.api("cp", job=job)
    tree = container_tree(engine, served)
    refused, read_only = write_rules(engine, served)
    dest = check_destination(tree, path, named, refused)
    files, failure = extract(tree, dest, members, no_overwrite, read_only)
    layer = engine.place_files(served, files)
    if layer:
        yield from engine.daemon.runtime.storage.write_files(served.container, layer, served.image_files)
    problem = failure or error
    if problem is not None:
        raise problem
    engine.container_event(served, "extract-to-dir")
