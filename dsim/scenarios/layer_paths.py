"""A run's writable-layer files as written (``writes`` / ``copy_up``: a size, or a list of {path, size}),
checked and turned into the domain's LayerFile list (dsim/domain/layer_files.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from dsim.domain.layer_files import ADDED, MODIFIED, LayerFile, conflicts, path_problem


class WrittenFile(Protocol):
    """One ``{path, size}`` entry (scenarios/model/containers.py LayerFileSpec)."""

    @property
    def path(self) -> str: ...

    @property
    def size(self) -> float: ...


#: a size, or the files
Written = float | Sequence[WrittenFile]


def _files(written: Written) -> list[WrittenFile]:
    return [] if isinstance(written, (int, float)) else list(written)


def check_layer_files(writes: Written, copy_up: Written) -> None:
    """ValueError when a declared path is not a file's absolute path, or paths clash (twice, or one inside
    another: a file is not a directory)."""
    paths = [file.path for file in (*_files(writes), *_files(copy_up))]
    for path in paths:
        problem = path_problem(path)
        if problem is not None:
            raise ValueError(f"writable-layer file {problem}")
    clash = conflicts(paths)
    if clash is not None:
        raise ValueError(f"writable-layer file {clash}")


def total(written: Written) -> float:
    """The bytes: the size given, or the files' sizes added up."""
    return float(written) if isinstance(written, (int, float)) else sum(file.size for file in written)


def layer_files(writes: Written, copy_up: Written) -> tuple[LayerFile, ...]:
    """The declared files: ``copy_up``'s Modified, ``writes``' Added (a plain size declares none)."""
    return (*(LayerFile(f.path, f.size, MODIFIED) for f in _files(copy_up)),
            *(LayerFile(f.path, f.size, ADDED) for f in _files(writes)))
