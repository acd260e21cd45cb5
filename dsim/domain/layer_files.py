"""The files a run puts in its container's writable layer, and ``docker diff``'s list of them
(docs/networks-storage.md: The writable layer).

A run declares the paths it adds (``writes``) and the image files it modifies (``copy_up``: each copied up
whole at its first write). ``docker diff`` (``GET /containers/{id}/changes``) walks the layer as the storage
driver's ``Changes`` does; on overlay2 (moby ``daemon/graphdriver/overlay2``, ``Driver.Changes``):

- **native diff** (the usual setup): ``archive.OverlayChanges`` walks the upperdir (moby/go-archive
  ``changes.go``, ``changes()``). A file that is not in the image's layers is Added (Kind 1), one that is
  there is Modified (Kind 0). A directory whose size, mode and mtime equal the lower one's is skipped:
  overlayfs copies a file's parent directories up with their attributes, so a copied-up file's directories
  are not listed. The parent of an added (or deleted) file is always listed as Modified ("If
  /foo/bar/file.txt is modified, then /foo/bar must be part of the changed files", moby#13590), except
  ``/``. So ``A /var/log/nginx/access.log`` comes with ``C /var/log/nginx`` but not ``C /var/log``, as in
  the ``docker container diff`` reference's nginx example
  (https://docs.docker.com/reference/cli/docker/container/diff/).
- **naive diff** (``storage.overlay_diff: naive``): ``archive.ChangesDirs`` compares the two trees
  (``FileInfo.addChanges``): a directory with any change inside it is listed as Modified "even if the
  directory itself wasn't changed", every ancestor up to (not including) ``/``.

dsim's images carry no file lists, so every declared path's directories are taken to exist in the image
(a path's parent is never itself Added), and a ``copy_up`` path is taken to be a file of the image.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

#: swagger FilesystemChange.Kind (docker diff's C, A, D)
MODIFIED, ADDED, DELETED = 0, 1, 2
#: docker diff's letter of each Kind
LETTERS = {MODIFIED: "C", ADDED: "A", DELETED: "D"}


@dataclass(frozen=True, slots=True)
class LayerFile:
    """One file of a writable layer: ``kind`` ADDED (a new file, ``writes``) or MODIFIED (an image file
    copied up, ``copy_up``), and the bytes it takes in the layer."""

    path: str
    size: float
    kind: int


def path_problem(path: str) -> str | None:
    """Why ``path`` cannot name a file in a container, or None: absolute, normalised, not ``/``."""
    if not path.startswith("/"):
        return f"{path!r} is not an absolute path"
    if path == "/" or path.endswith("/"):
        return f"{path!r} names a directory, not a file"
    if posixpath.normpath(path) != path:
        return f"{path!r} is not a normalised path (no '.', '..' or '//')"
    return None


def conflicts(paths: list[str]) -> str | None:
    """Why these paths cannot all be files of one layer, or None: each once, none inside another."""
    seen: set[str] = set()
    for path in paths:
        if path in seen:
            return f"{path!r} is declared twice"
        seen.add(path)
    for path in paths:
        parent = posixpath.dirname(path)
        while parent != "/":
            if parent in seen:
                return f"{path!r} is inside {parent!r}, which is declared as a file"
            parent = posixpath.dirname(parent)
    return None


def changes(files: tuple[LayerFile, ...], *, naive: bool = False) -> list[tuple[str, int]]:
    """``docker diff`` of a layer holding ``files``: (path, Kind), sorted by path as dockerd's list is."""
    listed: dict[str, int] = {file.path: file.kind for file in files}
    for file in files:
        if naive:
            parent = posixpath.dirname(file.path)
            while parent != "/":
                listed.setdefault(parent, MODIFIED)
                parent = posixpath.dirname(parent)
        elif file.kind in (ADDED, DELETED):
            parent = posixpath.dirname(file.path)
            if parent != "/":
                listed.setdefault(parent, MODIFIED)
    return sorted(listed.items())


def diff_lines(files: tuple[LayerFile, ...], *, naive: bool = False) -> list[str]:
    """The lines ``docker diff`` prints: ``C /var/log/nginx``, ``A /var/log/nginx/access.log``."""
    return [f"{LETTERS[kind]} {path}" for path, kind in changes(files, naive=naive)]


#: the stand-ins for bytes a run declared without paths (a plain ``copy_up`` or ``writes`` size)
COPIED_UP_PATH = "/dsim-copied-up"
WRITTEN_PATH = "/dsim-written"


def layer_changes(sizes: tuple[float, float], files: tuple[LayerFile, ...], *,
                  naive: bool = False) -> list[tuple[str, int]]:
    """``docker diff`` of a layer with ``sizes`` = (bytes added, bytes changed) of which ``files`` are the
    declared part: the declared files with their directories, and one stand-in entry for each kind whose
    bytes were given as a plain size (``C /dsim-copied-up``, ``A /dsim-written``)."""
    added, changed = sizes
    listed = dict(changes(files, naive=naive))
    if changed > 0 and not any(f.kind == MODIFIED for f in files):
        listed[COPIED_UP_PATH] = MODIFIED
    if added > 0 and not any(f.kind == ADDED for f in files):
        listed[WRITTEN_PATH] = ADDED
    return sorted(listed.items())
