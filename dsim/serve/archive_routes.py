"""The routes of ``docker cp`` (mixed into the HTTP handler): ``HEAD``, ``GET`` and ``PUT
/containers/{id}/archive``; the model is archive.py's.

Threads: the container's files are read in the simulation thread (``call``) as an immutable tree, archived and
compressed in the request's; an upload is read and parsed in the request's thread, then unpacked by a job in
the simulation thread (``operation``), under the container's lock.
"""

from __future__ import annotations

import gzip
import re
import zlib
from typing import TYPE_CHECKING, cast

from dsim.components.errors import ApiError
from dsim.serve import archive

if TYPE_CHECKING:
    from dsim.serve.handler import EngineHandler

ARCHIVE_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    (method, re.compile(r"^/containers/(?P<id>[^/]+)/archive$"), name)
    for method, name in [("HEAD", "archive_stat"), ("GET", "archive_get"), ("PUT", "archive_put")]
]


def path_value(query: dict[str, list[str]]) -> str:
    """The ``path`` parameter; none is moby's 400 (api/server/httputils/form.go ArchiveFormValues, whose
    message reads ``pathcannot``)."""
    path = (query.get("path") or [""])[0]  # Go's r.Form.Get: the first value
    if not path:
        raise ApiError(400, "bad parameter: pathcannot be empty")
    return path


def bool_value(query: dict[str, list[str]], name: str) -> bool:
    """moby's httputils.BoolValue: true unless empty, ``0``, ``no``, ``false`` or ``none`` (any case)."""
    value = (query.get(name) or [""])[0].strip().lower()
    return value not in ("", "0", "no", "false", "none")


def negotiate_encoding(accept: str) -> str:
    """The encoding GET answers in (copy.go writeCompressedResponse, gddo's NegotiateContentEncoding over
    ``gzip`` and ``deflate``): the offer with the highest ``q`` the client accepts (``*`` too), first one on
    a tie; none accepted, or ``q=0``: the tar as is ("")."""
    specs: list[tuple[str, float]] = []
    for part in accept.split(","):
        value, _, params = part.strip().partition(";")
        quality = 1.0
        found = re.search(r"q\s*=\s*([0-9.]+)", params)
        if found:
            try:
                quality = float(found.group(1))
            except ValueError:
                continue
        if value.strip():
            specs.append((value.strip().lower(), quality))
    best, best_q = "", -1.0
    for offer in ("gzip", "deflate"):
        for value, quality in specs:
            if quality > best_q and value in ("*", offer):
                best, best_q = offer, quality
    return "" if best_q <= 0 else best


def encode(data: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.compress(data, mtime=0)
    if encoding == "deflate":  # Go's compress/flate: raw DEFLATE, no zlib header
        packer = zlib.compressobj(wbits=-15)
        return packer.compress(data) + packer.flush()
    return data


class ArchiveRoutes:
    """The methods the routes above name; ``self`` is the EngineHandler."""

    def _ah(self) -> EngineHandler:
        return cast("EngineHandler", self)

    def _source(self, query: dict[str, list[str]], ident: str, get: bool) -> tuple[str, archive.Entry,
                                                                                 archive.FileTree]:
        """What the request names: the path as dockerd stats it (HEAD: as given; GET: made absolute), its
        entry and the container's tree; GET logs ``archive-path`` (archive_unix.go containerArchivePath)."""
        path = path_value(query)
        engine = self._ah().state.engine

        def look() -> tuple[str, archive.Entry, archive.FileTree]:
            served = engine.find(ident)
            tree = archive.container_tree(engine, served)
            if get:
                shown, entry = archive.archive_path(tree, path, ident)
                engine.container_event(served, "archive-path")
            else:
                shown, entry = path, archive.find_path(tree, path, ident)[1]
            return shown, entry, tree

        return cast("tuple[str, archive.Entry, archive.FileTree]", self._ah().call(look))

    def _answer(self, stat: str, body: bytes, encoding: str = "") -> None:
        h = self._ah()
        h.send_response(200)
        h._common_headers()
        h.send_header("X-Docker-Container-Path-Stat", stat)
        if h.command == "GET":
            h.send_header("Content-Type", "application/x-tar")
            if encoding:
                h.send_header("Content-Encoding", encoding)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if body:
            h.wfile.write(body)

    def api_archive_stat(self, query: dict[str, list[str]], id: str) -> None:  # noqa: A002
        """``HEAD``: the stat header alone (copy.go headContainersArchive)."""
        shown, entry, tree = self._source(query, id, get=False)
        self._answer(archive.stat_of(tree, shown, entry), b"")

    def api_archive_get(self, query: dict[str, list[str]], id: str) -> None:  # noqa: A002
        """``GET``: the stat header and the tar, compressed as the client accepts (copy.go
        getContainersArchive)."""
        shown, entry, tree = self._source(query, id, get=True)
        encoding = negotiate_encoding(self._ah().headers.get("Accept-Encoding") or "")
        body = encode(archive.tar_of(tree, shown, entry), encoding)
        self._answer(archive.stat_of(tree, shown, entry), body, encoding)

    def api_archive_put(self, query: dict[str, list[str]], id: str) -> None:  # noqa: A002
        """``PUT``: the tar unpacked into the directory ``path`` (copy.go putContainersArchive); 200, no body.
        ``copyUIDGID`` changes nothing: the files' owners are not modelled."""
        h = self._ah()
        data = h.read_body(h.state.max_context)
        path = path_value(query)
        no_overwrite = bool_value(query, "noOverwriteDirNonDir")
        members, error = archive.read_archive(data)
        engine = h.state.engine
        h._container_op("cp", id, lambda served, job, phase: archive.upload(
            engine, served, id, path, members, error, no_overwrite, job))
        h.send_empty(200)
