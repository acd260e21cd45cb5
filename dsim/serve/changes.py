"""``GET /containers/{id}/changes`` (``docker diff``) from the writable-layer model.

On overlay2 a container's writable layer (the upperdir) holds the files its processes created and the files
of the image's layers they modified, each copied up whole at its first write (docs/networks-storage.md).
``docker diff`` lists that layer: Kind 0 a path modified (a copied-up file), 1 added, 2 deleted (swagger
``FilesystemChange``). dsim's storage model keeps the layer's bytes by kind, not file names
(``ContainerStorage.diffs``: bytes added by ``writes``, bytes changed by ``copy_up``), so the answer has one
entry per kind the layer holds, named for what it stands for: ``C /dsim-copied-up`` (the image's files the
run modified) and ``A /dsim-written`` (the files it created), sorted by path as dockerd sorts its changes.
The model deletes nothing, so Kind 2 never appears. Writes into volumes, bind mounts and tmpfs are not in
the layer, and a layer nothing has written to yet has no changes (``[]``).
"""

from __future__ import annotations

from typing import Any

#: swagger FilesystemChange.Kind
MODIFIED, ADDED, DELETED = 0, 1, 2
#: the paths standing for the layer's modelled contents
COPIED_UP_PATH = "/dsim-copied-up"
WRITTEN_PATH = "/dsim-written"


def layer_changes(added: float, changed: float) -> list[dict[str, Any]]:
    """The FilesystemChange list of a writable layer holding ``added`` new bytes and ``changed`` copied-up
    bytes (either 0: no entry for that kind)."""
    changes: list[dict[str, Any]] = []
    if changed > 0:
        changes.append({"Path": COPIED_UP_PATH, "Kind": MODIFIED})
    if added > 0:
        changes.append({"Path": WRITTEN_PATH, "Kind": ADDED})
    return sorted(changes, key=lambda change: str(change["Path"]))
