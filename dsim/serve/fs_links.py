"""Symbolic links of a container's modelled filesystem (dsim serve): how a path through them resolves.

A link's target is kept as written (``os.Symlink``: moby go-archive ``createTarFile``); a path through one
resolves as the kernel's path walk does inside the container's root (``/`` is the scope: ``..`` of ``/`` is
``/``, an absolute target starts again from ``/``), which is what moby's ``symlink.FollowSymlinkInScope(path,
"/")`` computes for the ``linkTarget`` of ``docker cp``'s stat (daemon/containerfs_linux.go Stat; a dangling
link resolves as far as it goes; more than 255 links is an error: moby/sys symlink/fs.go ``maxIter``).
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping

#: links followed in one resolution before it gives up (moby/sys symlink/fs.go evalSymlinksInScope maxIter)
MAX_LINKS = 255


class TooManyLinks(Exception):
    """More than :data:`MAX_LINKS` links on one path."""


def go_join(base: str, name: str) -> str:
    """Go's filepath.Join of two elements: joined with ``/`` (an absolute ``name`` does not restart from ``/``,
    unlike Python's), then cleaned."""
    return posixpath.normpath(f"{base}/{name}") if base else posixpath.normpath(name)


def resolve(path: str, links: Mapping[str, str], *, follow_last: bool = True) -> str:
    """The absolute ``path`` with every link on it replaced by its target (``follow_last`` False: all but its
    last element, as lstat does); raises TooManyLinks."""
    parts = [p for p in path.split("/") if p and p != "."]
    done = "/"
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            done = posixpath.dirname(done)
            continue
        here = posixpath.join(done, part)
        target = links.get(here)
        if target is None or (not parts and not follow_last):
            done = here
            continue
        hops += 1
        if hops > MAX_LINKS:
            raise TooManyLinks(path)
        if target.startswith("/"):
            done = "/"
        parts = [p for p in target.split("/") if p and p != "."] + parts
    return done
