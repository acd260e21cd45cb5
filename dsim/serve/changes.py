"""``GET /containers/{id}/changes`` (``docker diff``) from the writable-layer model.

On overlay2 a container's writable layer (the upperdir) holds the files its processes created and the files
of the image's layers they modified, each copied up whole at its first write (docs/networks-storage.md).
``docker diff`` lists that layer: Kind 0 a path modified (a copied-up file, or a directory listed with a
change inside it), 1 added, 2 deleted (swagger ``FilesystemChange``), sorted by path. A run that declares
its files (``writes`` / ``copy_up`` as lists of {path, size}) gets them listed with their directories as
the storage driver lists them (dsim/domain/layer_files.py: native diff lists an added file's parent, naive
diff every directory above a change). Bytes given as a plain size have no paths: one entry stands for them,
``C /dsim-copied-up`` (image files modified) or ``A /dsim-written`` (files created). The model deletes
nothing, so Kind 2 never appears. Writes into volumes, bind mounts and tmpfs are not in the layer, and a
layer nothing has written to yet has no changes (``[]``). The directories and symbolic links ``docker cp``
makes are paths of the layer too (archive.py): added (``A``, a new directory's entries with it, as the
upperdir holds them all), or modified (``C``) for a directory that was there, whose mode and time it set.
"""

from __future__ import annotations

from typing import Any

from dsim.domain.layer_files import ADDED, COPIED_UP_PATH, DELETED, MODIFIED, WRITTEN_PATH, LayerFile
from dsim.domain.layer_files import layer_changes as layer_entries

__all__ = ["ADDED", "COPIED_UP_PATH", "DELETED", "MODIFIED", "WRITTEN_PATH", "changes_json", "layer_changes"]


def changes_json(entries: list[tuple[str, int]]) -> list[dict[str, Any]]:
    """The FilesystemChange list of (path, Kind) entries."""
    return [{"Path": path, "Kind": kind} for path, kind in entries]


def layer_changes(added: float, changed: float, files: tuple[LayerFile, ...] = (), *,
                  naive: bool = False) -> list[dict[str, Any]]:
    """The FilesystemChange list of a writable layer holding ``added`` new bytes and ``changed`` copied-up
    bytes, ``files`` the part of them declared with paths (either size 0: no entry for that kind)."""
    return changes_json(layer_entries((added, changed), files, naive=naive))


def label_files(value: str) -> str | list[dict[str, str]]:
    """A ``dsim.writes`` / ``dsim.copy_up`` label: a size (``1GB``), or files as ``PATH=SIZE`` joined by
    commas (``/var/log/app.log=1MB,/tmp/x=2KB``), as the run step's list of {path, size}."""
    if not value.startswith("/"):
        return value
    files = []
    for entry in value.split(","):
        path, _, size = entry.rpartition("=")
        files.append({"path": path, "size": size})
    return files
