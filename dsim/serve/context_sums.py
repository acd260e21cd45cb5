"""The legacy builder's hashes of build-context sources: what its COPY/ADD history line names.

dockerd reads the context tar through a tarsum (moby daemon/builder/remotecontext/archive.go ``FromArchive``,
``tarsum.NewTarSum(..., tarsum.Version1)``): each entry's sum is the hex SHA-256 of its selected tar header
fields, then its content (daemon/builder/remotecontext/internal/tarsum/tarsum.go ``encodeHeader``,
versioning.go ``v1TarHeaderSelect``: name, mode, uid, gid, size, typeflag, linkname, uname, gname, devmajor,
devminor, each written as the field's name and value, uname and gname blanked, then the sorted
``SCHILY.xattr.`` records). A COPY/ADD of one file names ``file:<sum>``; of a directory ``dir:`` and the SHA-256
of the sorted sums of everything under it (itself included) joined by commas; of several sources ``multi:``
and the SHA-256 of their hashes, in order, joined by commas (daemon/builder/dockerfile/copy.go
``copyInfoForFile``, ``walkSource``; internals.go ``getSourceHashFromInfos``, ``hashStringSlice``).
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import tarfile
from dataclasses import dataclass, field

from dsim.serve.filters import glob_regex

#: tar type flags as Go's archive/tar reports them (it reads the old regular-file flag NUL as '0')
_REGULAR = (tarfile.REGTYPE, tarfile.AREGTYPE)


def entry_sum(member: tarfile.TarInfo, content: bytes = b"") -> str:
    """An entry's tarsum (version 1): hex SHA-256 of its header fields, then its content."""
    name = member.name + "/" if member.isdir() else member.name  # Python drops a directory's trailing slash
    typeflag = tarfile.REGTYPE if member.type in _REGULAR else member.type
    fields = [("name", name), ("mode", str(member.mode)), ("uid", str(member.uid)), ("gid", str(member.gid)),
              ("size", str(member.size)), ("typeflag", typeflag.decode("latin-1")), ("linkname", member.linkname),
              ("uname", ""), ("gname", ""), ("devmajor", str(member.devmajor)), ("devminor", str(member.devminor))]
    prefix = "SCHILY.xattr."
    fields += sorted((key[len(prefix):], value) for key, value in member.pax_headers.items()
                     if key.startswith(prefix))
    digest = hashlib.sha256()
    for key, value in fields:
        digest.update((key + value).encode("utf-8", "surrogateescape"))
    digest.update(content)
    return digest.hexdigest()


def _clean(name: str) -> str:
    """An entry's path as the tarsum records it (``path.Join(".", path.Join("/", name))``)."""
    return posixpath.normpath("/" + name).lstrip("/") or "."


@dataclass
class ContextSums:
    """Every context entry's sum by cleaned path (the first of duplicates, as ``FileInfoSums.GetFile``), and the
    symlinks' targets (a source's hash is its followed path's)."""

    sums: dict[str, str] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)
    dirs: set[str] = field(default_factory=set)

    def add(self, member: tarfile.TarInfo, content: bytes = b"") -> None:
        path = _clean(member.name)
        self.sums.setdefault(path, entry_sum(member, content))
        if member.issym():
            self.links.setdefault(path, member.linkname)
        if member.isdir():
            self.dirs.add(path)

    def _follow(self, path: str) -> str:
        """``path`` with its symlinks followed inside the context (moby ``symlink.FollowSymlinkInScope``)."""
        for _ in range(255):
            parts = path.split("/")
            for i in range(1, len(parts) + 1):
                head = "/".join(parts[:i])
                if head in self.links:
                    target = self.links[head]
                    base = "" if target.startswith("/") else posixpath.dirname(head)
                    path = _clean(posixpath.join(base, target, *parts[i:]))
                    break
            else:
                return path
        return path

    def _hash(self, path: str) -> str:
        """``archiveContext.Hash``: the followed path's sum, else the path itself."""
        return self.sums.get(self._follow(path), path)

    def _paths(self) -> list[str]:
        """Every path of the extracted context: the entries and the directories above them, in the order
        ``filepath.WalkDir`` visits them (lexical, component by component)."""
        paths = set(self.sums)
        for path in self.sums:
            while (path := posixpath.dirname(path)) not in ("", "."):
                paths.add(path)
        return sorted(paths, key=lambda path: path.split("/"))

    def _info(self, path: str) -> str | None:
        """``calcCopyInfo`` of one path: ``file:`` its sum, ``dir:`` its tree's, None if it is not there."""
        followed = self._follow(path)
        prefix = followed + "/" if followed != "." else ""
        under = [other for other in self._paths() if other == followed or other.startswith(prefix)]
        if followed in self.dirs or len(under) > 1 or followed == ".":
            return "dir:" + hashlib.sha256(",".join(sorted(self._hash(other) for other in under)).encode()).hexdigest()
        if followed in self.sums:
            return "file:" + self.sums[followed]
        return None

    def source_hash(self, sources: list[str]) -> str | None:
        """What a COPY/ADD of ``sources`` (expanded, context-relative) names, or None when one is a URL or is
        not in the context (the build fails there, or the hash is a download's)."""
        infos: list[str] = []
        for source in sources:
            if re.match(r"^https?://", source):
                return None
            path = _clean(source)
            if re.search(r"[*?\[]", path):  # copyWithWildcards: every entry the pattern matches, in walk order
                try:
                    pattern = glob_regex(path)  # filepath.Match, which on Linux is path.Match
                except ValueError:  # ErrBadPattern: the COPY fails there
                    return None
                infos += [info for other in self._paths() if pattern.fullmatch(other)
                          for info in (self._info(other),) if info is not None]
                continue
            info = self._info(path)
            if info is None:
                return None
            infos.append(info)
        if not infos:
            return None
        if len(infos) == 1:
            return infos[0]
        return "multi:" + hashlib.sha256(",".join(infos).encode()).hexdigest()
