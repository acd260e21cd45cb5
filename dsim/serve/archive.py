"""``docker cp``: ``HEAD``, ``GET`` and ``PUT /containers/{id}/archive`` over the files dsim models.

What a container's filesystem holds here (:func:`container_tree`): the files its commands wrote and the files
its image carries whose contents are known (a commit's, a build's RUN steps': ``Served.files``), its volumes'
files under their mount points, the files dockerd writes for it (/etc/hostname, /etc/hosts: utilities.py, as
``cat`` prints them; before its first start the init layer's empty ones, moby daemon/initlayer), and the
directories these imply, its mount points, its working directory and the directories every distribution's
base image has (:data:`SKELETON`), and the directories and symbolic links ``docker cp`` put there (``Served.nodes``,
``Volume.nodes``: kept even when empty, a link as a link). An image's own files are not modelled: a copy of one
is moby's 404, as ``cat`` of one prints nothing. Device files and FIFOs an archive brings in are not kept; a
hard link keeps its target's contents (a file of its own: inodes are not modelled).

moby's behaviour (v28.5.2): api/server/router/container/copy.go (the stat header, gzip/deflate as the client
accepts), daemon/archive.go (``Could not find the file PATH in container NAME``, 404), daemon/archive_unix.go
(the archive of a file is its base name, of a directory the directory then what is under it; extraction into
a directory only, the destination's links evaluated, refused on a read-only rootfs or volume with 400),
daemon/containerfs_linux.go Stat (lstat: a link's stat is its own, ``linkTarget`` the path it resolves to),
go-archive's archive.go Unpack (each entry's path cleaned and kept inside the destination,
``noOverwriteDirNonDir``, parents created as needed, directories' times set last) and createTarFile (a
directory merged into one that exists, a symbolic link made as written unless it points outside the
destination).
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
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dsim.components.errors import ApiError
from dsim.components.storage import Node
from dsim.serve.fs_links import TooManyLinks, go_join, resolve
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
GO_DIR, GO_SYMLINK, GO_SETUID, GO_SETGID, GO_STICKY = 1 << 31, 1 << 27, 1 << 23, 1 << 22, 1 << 20
#: a symbolic link's permission bits as lstat reports them on Linux (symlink(7): always 0777)
LINK_MODE = 0o777
#: the mode go-archive gives the directories an entry implies (archive.go ImpliedDirectoryMode)
IMPLIED_DIR_MODE = 0o755
#: entries an uploaded archive may hold (beyond, refused: bounded work per request, as a build context)
MAX_ENTRIES = 100_000


@dataclass(frozen=True, slots=True)
class Entry:
    """One path of the container's filesystem: a directory, a regular file with its contents or a symbolic
    link (``link``: its target)."""

    is_dir: bool
    mode: int  # permission bits, setuid/setgid/sticky included (0o7777)
    mtime: float  # Unix time
    data: bytes = b""
    link: str | None = None

    @property
    def size(self) -> int:
        """lstat's size: a directory's block, a file's bytes, a link's target's length (symlink(7))."""
        return DIR_SIZE if self.is_dir else len(self.link) if self.link is not None else len(self.data)


class FileTree:
    """A container's modelled files and directories by absolute path; ``/`` always exists."""

    def __init__(self, mtime: float) -> None:
        self.entries: dict[str, Entry] = {"/": Entry(True, DIR_MODE, mtime)}
        self.links: dict[str, str] = {}  # the symbolic links' targets by path

    def add_dir(self, path: str, mode: int, mtime: float) -> None:
        self._parents(path, mtime)
        before = self.entries.get(path)
        if before is None or not before.is_dir:
            self.links.pop(path, None)
            self.entries[path] = Entry(True, mode, mtime)

    def add_node(self, path: str, node: Node) -> None:
        """A directory (its mode and mtime exactly: set after what is in it) or a symbolic link."""
        self._parents(path, node.mtime)
        if node.link is None:
            self.links.pop(path, None)
            self.entries[path] = Entry(True, node.mode, node.mtime)
        else:
            self.links[path] = node.link
            self.entries[path] = Entry(False, LINK_MODE, node.mtime, link=node.link)

    def add_nodes(self, nodes: Iterable[tuple[str, Node]]) -> None:
        """Nodes, then each directory's mode and time set exactly (its entries do not change it after)."""
        kept = list(nodes)
        for path, node in kept:
            self.add_node(path, node)
        for path, node in kept:
            if node.link is None:
                self.entries[path] = Entry(True, node.mode, node.mtime)

    def add_file(self, path: str, data: bytes, mode: int, mtime: float) -> None:
        """A file, its directories made as needed; a directory's mtime is its newest entry's (a new entry
        changes it)."""
        self._parents(path, mtime)
        self.links.pop(path, None)
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
        """The entry at ``shown`` (relative: from ``/``) as lstat finds it, and its path with the links on the way
        resolved (the last one too when ``shown`` ends in ``/`` or ``/.``): FileNotFoundError when nothing is
        there, NotADirectoryError when a file is named as a directory (a trailing ``/``, or a path under it),
        TooManyLinks."""
        trailing = shown.endswith("/") or shown.endswith("/.")
        path = resolve(absolute(shown), self.links, follow_last=trailing)
        entry = self.entries.get(path)
        if entry is None:
            parent = path
            while parent != "/":
                parent = posixpath.dirname(parent)
                above = self.entries.get(parent)
                if above is not None and not above.is_dir:
                    raise NotADirectoryError(shown)
            raise FileNotFoundError(shown)
        if not entry.is_dir and trailing:
            raise NotADirectoryError(shown)
        return path, entry

    def link_target(self, path: str) -> str:
        """The stat's ``linkTarget`` of the link at ``path``: the path it resolves to (FollowSymlinkInScope)."""
        return resolve(path, self.links)

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
    return mode | (GO_DIR if entry.is_dir else GO_SYMLINK if entry.link is not None else 0)


def go_time(unix: float) -> str:
    """A Unix time as Go's time.Time marshals to JSON in UTC: RFC 3339 with nanoseconds, trailing zeros cut."""
    seconds = math.floor(unix)
    nanos = round((unix - seconds) * 1e9)
    if nanos >= 1_000_000_000:
        seconds, nanos = seconds + 1, 0
    fraction = f".{nanos:09d}".rstrip("0") if nanos else ""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + fraction + "Z"


def stat_header(name: str, entry: Entry, link_target: str = "") -> str:
    """``X-Docker-Container-Path-Stat``: the PathStat as JSON in standard base64 (copy.go
    setContainerPathStatHeader; api/types/container PathStat); ``link_target`` a link's resolved path."""
    stat = {"name": name, "size": entry.size, "mode": go_mode(entry), "mtime": go_time(entry.mtime),
            "linkTarget": link_target}
    return base64.b64encode(json.dumps(stat, separators=(",", ":")).encode()).decode()


def stat_of(tree: FileTree, shown: str, entry: Entry) -> str:
    """The stat header of ``entry`` found at ``shown``: its base name, a link's ``linkTarget`` resolved."""
    target = ""
    if entry.link is not None:
        try:
            target = tree.link_target(tree.lookup(shown)[0])
        except TooManyLinks:
            raise ApiError(500, f"evalSymlinksInScope: too many links in {shown}") from None
    return stat_header(go_base(shown), entry, target)


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
    # after the files: a directory's time is set after its entries' (Unpack)
    tree.add_nodes([*served.nodes.items(), *((absolute(posixpath.join(target, inside)), node)
                                             for target, volume in engine.volume_mounts(served)
                                             for inside, node in volume.nodes.items())])
    return tree


def find_path(tree: FileTree, shown: str, container: str) -> tuple[str, Entry]:
    """The entry at ``shown``, or dockerd's error: 404 containerFileNotFound (daemon/errors.go) for a path that
    is not there, 500 for lstat's ENOTDIR (a system error: daemon/archive.go wraps what is not NotExist)."""
    try:
        return tree.lookup(shown)
    except NotADirectoryError:
        raise ApiError(500, f"lstat {shown}: not a directory") from None
    except TooManyLinks:
        raise ApiError(500, f"lstat {shown}: too many levels of symbolic links") from None
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
            root, _ = tree.lookup(shown)
            prefix = "" if base == "/" else base
            for path, found in tree.walk(root):
                inside = posixpath.relpath(path, root)
                _add(archive, prefix if inside == "." else f"{prefix}/{inside}", found)
    return buffer.getvalue()


def _add(archive: tarfile.TarFile, name: str, entry: Entry) -> None:
    info = tarfile.TarInfo(name or "/")
    info.type = tarfile.DIRTYPE if entry.is_dir else tarfile.SYMTYPE if entry.link is not None else tarfile.REGTYPE
    info.mode = entry.mode
    info.mtime = math.floor(entry.mtime)
    if entry.link is not None:  # go-archive FileInfoHeader: typeflag '2', the target as Readlink gives it
        info.linkname = entry.link
    regular = not entry.is_dir and entry.link is None
    info.size = len(entry.data) if regular else 0
    archive.addfile(info, io.BytesIO(entry.data) if regular else None)


# ---------------------------------------------------------------------------------------------- extraction


@dataclass(frozen=True, slots=True)
class Member:
    """One entry of an uploaded archive: ``dir``, ``file`` (a hard link: its target's contents), ``symlink``
    (``link``: its target) or ``other``."""

    name: str
    kind: str
    mode: int
    mtime: float
    data: bytes = b""
    link: str = ""


def _kind(member: tarfile.TarInfo) -> str:
    if member.isdir():
        return "dir"
    if member.issym():
        return "symlink"
    return "file" if member.isfile() or member.islnk() else "other"


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
                kind = _kind(member)
                handle = archive.extractfile(member) if kind == "file" else None
                members.append(Member(member.name, kind, member.mode & 0o7777, float(member.mtime),
                                      handle.read() if handle is not None else b"", member.linkname))
        except (tarfile.TarError, EOFError, OSError, KeyError) as err:  # KeyError: a hard link to nothing
            return members, ApiError(500, f"archive/tar: {err}")
    return members, None


def check_destination(tree: FileTree, path: str, container: str, refused: Callable[[str], str | None]) -> str:
    """PUT's destination (archive_unix.go containerExtractToDir): its links evaluated (EvalSymlinks), there
    (else 404), a directory (else 400 ``extraction point is not a directory``), writable (else 400,
    checkWritablePath); returns it resolved and cleaned."""
    try:
        resolved = resolve(absolute(path), tree.links)
    except TooManyLinks:
        raise ApiError(500, f"lstat {path}: too many levels of symbolic links") from None
    shown = preserve_trailing(resolved, path)
    found, entry = find_path(tree, shown, container)
    if not entry.is_dir:
        raise ApiError(400, "extraction point is not a directory")
    why = refused(found)
    if why is not None:
        raise ApiError(400, why)
    return found


@dataclass(slots=True)
class Extracted:
    """What an upload changed, in order: the regular files written (path, contents, mtime, bits), the
    directories and links made or changed (a directory's time set last, as Unpack does), and the paths whose
    file or link was removed to make room for an entry of another type."""

    files: list[tuple[str, bytes, float, int]]
    nodes: dict[str, Node]
    removed: list[str]


def extract(tree: FileTree, dest: str, members: list[Member], no_overwrite: bool,
            read_only: Callable[[str], bool], now: float) -> tuple[Extracted, ApiError | None]:
    """Unpack the members into ``dest`` of the tree (go-archive Unpack): each name cleaned and kept under
    ``dest``, an existing directory never replaced by a non-directory nor a non-directory by a directory with
    ``no_overwrite`` (the CLI always asks it). Returns what changed and the error that stopped it (moby keeps
    what it wrote before one; the directories' times, set at the end, are then left at ``now``)."""
    done = Extracted([], {}, [])
    dirs: list[tuple[str, Member]] = []
    try:
        for member in members:
            _unpack(member, tree, dest, no_overwrite, read_only, now, done, dirs)
    except ApiError as err:
        return done, err
    for path, member in dirs:  # Unpack's last loop: each directory's time the archive's
        done.nodes[path] = Node(None, member.mtime, tree.entries[path].mode)
    tree.add_nodes((path, done.nodes[path]) for path, _ in dirs)
    return done, None


def _unpack(member: Member, tree: FileTree, dest: str, no_overwrite: bool, read_only: Callable[[str], bool],
            now: float, done: Extracted, dirs: list[tuple[str, Member]]) -> None:
    name = posixpath.normpath(member.name) if member.name else "."
    path = posixpath.normpath(posixpath.join(dest, name))
    inside = posixpath.relpath(path, dest)
    if inside == ".." or inside.startswith("../"):
        raise ApiError(500, f"{json.dumps(name)} is outside of {json.dumps(dest)}")
    if member.kind == "other" or path == dest:
        return  # devices, FIFOs are not modelled; the destination is a directory already
    is_dir = member.kind == "dir"
    _implied_parents(tree, path, read_only, now, done)
    before = tree.entries.get(path)
    if before is not None and no_overwrite and before.is_dir and not is_dir:
        raise ApiError(500, f"cannot overwrite directory {json.dumps(path)} with non-directory {json.dumps(dest)}")
    if before is not None and no_overwrite and not before.is_dir and is_dir:
        raise ApiError(500, f"cannot overwrite non-directory {json.dumps(path)} with directory {json.dumps(dest)}")
    if before is not None and before.is_dir and not is_dir:
        raise ApiError(501, f"dsim serve does not simulate replacing the directory {path} by a {member.kind}")
    if read_only(path):
        raise ApiError(500, f"{'mkdir' if is_dir else 'symlink' if member.kind == 'symlink' else 'open'} {path}: "
                            "read-only file system")
    if before is not None and not before.is_dir and (member.kind != "file" or before.link is not None):
        done.removed.append(path)  # Unpack's RemoveAll of what is not merged or written over
        done.nodes.pop(path, None)
        done.files = [written for written in done.files if written[0] != path]  # an earlier entry's
        del tree.entries[path]
        tree.links.pop(path, None)
    if member.kind == "symlink":  # createTarFile: the target joined to the link's directory stays in dest
        joined = go_join(posixpath.dirname(path), member.link)
        if not joined.startswith(dest):
            raise ApiError(500, f"invalid symlink {json.dumps(path)} -> {json.dumps(member.link)}")
    if is_dir:
        tree.add_node(path, Node(None, now, member.mode))  # mkdir now; its time the archive's at the end
        done.nodes[path] = Node(None, now, member.mode)
        dirs.append((path, member))
    elif member.kind == "symlink":
        done.nodes[path] = Node(member.link, member.mtime, LINK_MODE)  # lchtimes: the archive's time
        tree.add_node(path, done.nodes[path])
    else:
        tree.add_file(path, member.data, member.mode, member.mtime)
        done.files.append((path, member.data, member.mtime, member.mode))


def _implied_parents(tree: FileTree, path: str, read_only: Callable[[str], bool], now: float,
                     done: Extracted) -> None:
    """An entry's directories: a file among them is ENOTDIR at its open, a link is not followed here (501);
    missing ones are made now with mode 0755, which a read-only filesystem refuses (go-archive
    createImpliedDirectories)."""
    missing: list[str] = []
    parent = posixpath.dirname(path)
    while parent != "/":
        above = tree.entries.get(parent)
        if above is not None and above.link is not None:
            raise ApiError(501, f"dsim serve does not simulate extracting {path} through the symbolic link {parent}")
        if above is not None and not above.is_dir:
            raise ApiError(500, f"open {path}: not a directory")
        if above is None:
            if read_only(parent):
                raise ApiError(500, f"mkdir {parent}: read-only file system")
            missing.append(parent)
        parent = posixpath.dirname(parent)
    for made in reversed(missing):
        done.nodes[made] = Node(None, now, IMPLIED_DIR_MODE)
        tree.add_node(made, done.nodes[made])


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
    Running or not, as moby allows. A directory that was there before (its mode and time changed) is a
    modified path of the layer, a new one or a link an added one."""
    yield from engine.daemon.api("cp", job=job)
    tree = container_tree(engine, served)
    refused, read_only = write_rules(engine, served)
    dest = check_destination(tree, path, named, refused)
    before = frozenset(tree.entries)
    done, failure = extract(tree, dest, members, no_overwrite, read_only, engine.epoch(engine.env.now))
    engine.remove_paths(served, done.removed)
    layer = engine.place_files(served, done.files)
    layer.update(engine.place_nodes(served, done.nodes))
    if layer:
        existed = frozenset(p for p in done.nodes if p in before and p not in done.removed)
        yield from engine.daemon.runtime.storage.write_files(served.container, layer, served.image_files | existed)
    problem = failure or error
    if problem is not None:
        raise problem
    engine.container_event(served, "extract-to-dir")
