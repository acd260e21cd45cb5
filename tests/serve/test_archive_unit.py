"""``docker cp``'s endpoints without the CLI (dsim/serve/archive.py, archive_routes.py): Go's formats, the
file tree, the archive's names, the unpacking rules, then ``HEAD``/``GET``/``PUT /containers/{id}/archive`` on
an in-process server. The expected values are moby's (v28.5.2 file references beside each)."""

from __future__ import annotations

import base64
import gzip
import io
import json
import tarfile
import zlib
from collections.abc import Iterator
from typing import Any

import pytest

from dsim.components.errors import ApiError
from dsim.components.storage import Node
from dsim.serve import archive
from dsim.serve.archive_routes import bool_value, negotiate_encoding, path_value
from dsim.serve.server import Server, serve_scenario
from tests.serve.test_docker_cli import SCENARIO
from tests.serve.test_unit import request

# ---------------------------------------------------------------------------------------------- Go's formats


def test_go_formats() -> None:
    assert archive.go_time(0) == "1970-01-01T00:00:00Z"  # whole seconds: no fraction (RFC3339Nano)
    assert archive.go_time(1.5) == "1970-01-01T00:00:01.5Z"  # trailing zeros cut
    assert archive.go_time(1.000000001) == "1970-01-01T00:00:01.000000001Z"
    assert archive.go_mode(archive.Entry(False, 0o644, 0)) == 0o644
    assert archive.go_mode(archive.Entry(True, 0o755, 0)) == (1 << 31) | 0o755  # fs.ModeDir
    assert archive.go_mode(archive.Entry(True, 0o1777, 0)) == (1 << 31) | (1 << 20) | 0o777  # fs.ModeSticky
    assert archive.go_mode(archive.Entry(False, 0o4755, 0)) == (1 << 23) | 0o755  # fs.ModeSetuid
    assert [archive.go_base(p) for p in ("/etc/hosts", "/tmp/", "/", "/d/.", "rel")] == ["hosts", "tmp", "/", ".",
                                                                                         "rel"]
    assert archive.preserve_trailing("/d", "d/.") == "/d/." and archive.preserve_trailing("/d", "/d/") == "/d/"


def test_query_values_as_moby_reads_them() -> None:
    with pytest.raises(ApiError, match="bad parameter: pathcannot be empty"):  # httputils/form.go
        path_value({})
    assert path_value({"path": ["/a", "/b"]}) == "/a"  # r.Form.Get: the first
    assert [bool_value({"x": [v]}, "x") for v in ("1", "true", "True", "yes", "")] == [True, True, True, True, False]
    assert [bool_value({"x": [v]}, "x") for v in ("0", "false", "no", "none")] == [False] * 4  # httputils.BoolValue


def test_content_encoding_negotiation() -> None:
    """gddo's NegotiateContentEncoding over gzip then deflate: the highest q wins, the first on a tie."""
    assert negotiate_encoding("") == ""
    assert negotiate_encoding("gzip") == "gzip"
    assert negotiate_encoding("gzip, deflate") == "gzip"
    assert negotiate_encoding("gzip;q=0.5, deflate") == "deflate"
    assert negotiate_encoding("*") == "gzip"
    assert negotiate_encoding("gzip;q=0") == ""
    assert negotiate_encoding("br") == ""


# ---------------------------------------------------------------------------------------------- the tree


def tree() -> archive.FileTree:
    files = archive.FileTree(100.0)
    files.add_dir("/tmp", 0o1777, 100.0)
    files.add_file("/data/b", b"bb", 0o644, 300.0)
    files.add_file("/data/a/x", b"x", 0o600, 200.0)
    files.add_file("/f", b"f\n", 0o644, 150.0)
    return files


def test_lookup_as_lstat_answers() -> None:
    files = tree()
    assert files.lookup("data/a/x")[0] == "/data/a/x"  # relative: from /
    assert files.lookup("/data")[1].is_dir and files.lookup("/data")[1].mtime == 300.0  # its newest entry
    with pytest.raises(FileNotFoundError):
        files.lookup("/nope")
    for path in ("/f/", "/f/.", "/f/under"):  # a file named as a directory: ENOTDIR
        with pytest.raises(NotADirectoryError):
            files.lookup(path)


def _names(data: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(data)) as opened:
        return [m.name + ("/" if m.isdir() else "") for m in opened.getmembers()]


def test_the_archive_of_a_file_and_of_a_directory() -> None:
    """archive_unix.go containerArchivePath: a file as its base name; a directory as its base name, then
    what it holds depth first by name (WalkDir); ``dir/.`` as ``.``; the root with no prefix."""
    files = tree()
    assert _names(archive.tar_of(files, "/data/a/x", files.lookup("/data/a/x")[1])) == ["x"]
    assert _names(archive.tar_of(files, "/data", files.lookup("/data")[1])) == ["data/", "data/a/", "data/a/x",
                                                                                "data/b"]
    assert _names(archive.tar_of(files, "/data/.", files.lookup("/data")[1])) == ["./", "./a/", "./a/x", "./b"]
    with tarfile.open(fileobj=io.BytesIO(archive.tar_of(files, "/data", files.lookup("/data")[1]))) as opened:
        member = opened.getmember("data/a/x")
        assert (member.mode, member.mtime, member.uid, member.uname) == (0o600, 200, 0, "")


def _tar(*entries: tuple[str, bytes | None]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as made:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                made.addfile(info)
            else:
                info.size = len(data)
                made.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _extract(data: bytes, dest: str = "/", no_overwrite: bool = True,
             read_only: Any = lambda path: False) -> tuple[list[str], str | None]:
    members, error = archive.read_archive(data)
    assert error is None
    done, failure = archive.extract(tree(), dest, members, no_overwrite, read_only, 0.0)
    return [path for path, *_ in done.files], str(failure) if failure else None


def test_unpacking_rules_of_go_archive() -> None:
    """go-archive Unpack: names cleaned under the destination, parents made, breakouts and dir/non-dir
    replacements refused; what came before an error is kept."""
    assert _extract(_tar(("./new/deep/f", b"1"), ("g", b"2")), "/tmp") == (["/tmp/new/deep/f", "/tmp/g"], None)
    assert _extract(_tar(("../../etc/x", b"1")), "/tmp") == ([], '"../../etc/x" is outside of "/tmp"')
    assert _extract(_tar(("ok", b"1"), ("data", b"2"))) == (
        ["/ok"], 'cannot overwrite directory "/data" with non-directory "/"')
    assert _extract(_tar(("f", None))) == ([], 'cannot overwrite non-directory "/f" with directory "/"')
    assert _extract(_tar(("f/x", b"1"))) == ([], "open /f/x: not a directory")
    assert _extract(_tar(("f", b"new"))) == (["/f"], None)  # a file over a file: replaced
    assert _extract(_tar(("data", None), ("data/c", b"3"))) == (["/data/c"], None)  # a directory merges
    assert _extract(_tar(("r/x", b"1")), read_only=lambda p: p.startswith("/r")) == (
        [], "mkdir /r: read-only file system")
    assert archive.read_archive(b"")[0] == [] and archive.read_archive(b"\0" * 1024) == ([], None)
    assert str(archive.read_archive(b"not a tar" * 100)[1]) == "archive/tar: invalid tar header"
    compressed = archive.read_archive(gzip.compress(_tar(("z", b"zz"))))[0]  # DecompressStream: gzip, bzip2, xz
    assert [(m.name, m.data) for m in compressed] == [("z", b"zz")]


def _special_tar(*entries: tuple[str, str, str, int, int]) -> bytes:
    """A tar of (name, type: ``dir``/``sym``/``file``, link target or contents, mode, mtime) entries."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as made:
        for name, kind, text, mode, mtime in entries:
            info = tarfile.TarInfo(name)
            info.mode, info.mtime = mode, mtime
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                made.addfile(info)
            elif kind == "sym":
                info.type, info.linkname = tarfile.SYMTYPE, text
                made.addfile(info)
            else:
                info.size = len(text)
                made.addfile(info, io.BytesIO(text.encode()))
    return buffer.getvalue()


def test_directories_and_links_unpacked_as_createTarFile_makes_them() -> None:
    """go-archive createTarFile/Unpack: a directory entry makes a directory (kept empty, the archive's mode,
    its mtime set after its entries were written), a symlink entry a link to its target as written (not
    followed), an entry's missing parents implied at 0755 and the upload's time; a link whose target joined
    to its directory leaves the destination is refused (``invalid symlink``); a link replaces a file."""
    files = tree()
    members, _ = archive.read_archive(_special_tar(
        ("d", "dir", "", 0o750, 1000), ("d/empty", "dir", "", 0o700, 1001), ("d/f", "file", "hi", 0o644, 5000),
        ("d/link", "sym", "f", 0o777, 1002), ("abs", "sym", "/etc/hosts", 0o777, 1003),
        ("deep/er/l2", "sym", "../../d/f", 0o777, 1004), ("f", "sym", "d/f", 0o777, 1005)))
    done, failure = archive.extract(files, "/tmp", members, True, lambda path: False, 7000.0)
    assert failure is None
    assert [path for path, *_ in done.files] == ["/tmp/d/f"]
    nodes = {path: (node.link, node.mtime, node.mode) for path, node in done.nodes.items()}
    assert nodes == {"/tmp/d": (None, 1000, 0o750), "/tmp/d/empty": (None, 1001, 0o700),  # times: the archive's
                     "/tmp/d/link": ("f", 1002, 0o777), "/tmp/abs": ("/etc/hosts", 1003, 0o777),
                     "/tmp/deep": (None, 7000.0, 0o755), "/tmp/deep/er": (None, 7000.0, 0o755),  # implied: now
                     "/tmp/deep/er/l2": ("../../d/f", 1004, 0o777), "/tmp/f": ("d/f", 1005, 0o777)}
    assert done.removed == []
    # the tree as GET then reads it: the empty directory and the links are entries, a link's stat its own
    assert files.lookup("/tmp/d/empty")[1].is_dir
    path, link = files.lookup("/tmp/d/link")
    assert (path, link.link, link.size, archive.go_mode(link)) == ("/tmp/d/link", "f", 1, (1 << 27) | 0o777)
    assert files.link_target("/tmp/d/link") == "/tmp/d/f"  # FollowSymlinkInScope: relative to its directory
    assert files.link_target("/tmp/abs") == "/etc/hosts"  # absolute: from the container's root
    assert files.link_target("/tmp/deep/er/l2") == "/tmp/d/f"
    with pytest.raises(NotADirectoryError):
        files.lookup("/tmp/d/link/")  # a trailing / follows the link: to a file, ENOTDIR
    # over an existing file at the destination: the link replaces it (Unpack's RemoveAll)
    again = tree()
    members, _ = archive.read_archive(_special_tar(("f", "sym", "data/b", 0o777, 9)))
    done, failure = archive.extract(again, "/", members, True, lambda path: False, 10.0)
    assert failure is None and done.removed == ["/f"] and again.lookup("/f")[1].link == "data/b"
    # one archive writing a file then a link at the same path: the link is what stays
    members, _ = archive.read_archive(_special_tar(("n", "file", "x", 0o644, 9), ("n", "sym", "f", 0o777, 9)))
    done, failure = archive.extract(tree(), "/tmp", members, True, lambda path: False, 10.0)
    assert (failure, done.files, done.removed, list(done.nodes)) == (None, [], ["/tmp/n"], ["/tmp/n"])
    # breakouts: a relative target climbing out of /tmp; an absolute one joined under it stays in (Go's Join)
    members, _ = archive.read_archive(_special_tar(("esc", "sym", "../etc/passwd", 0o777, 9)))
    done, failure = archive.extract(tree(), "/tmp", members, True, lambda path: False, 10.0)
    assert str(failure) == 'invalid symlink "/tmp/esc" -> "../etc/passwd"' and done.nodes == {}
    # a directory over a link: noOverwriteDirNonDir refuses it as over a file
    members, _ = archive.read_archive(_special_tar(("f", "dir", "", 0o755, 9)))
    assert str(archive.extract(again, "/", members, True, lambda path: False, 10.0)[1]) == (
        'cannot overwrite non-directory "/f" with directory "/"')


def test_tar_of_links_and_empty_directories() -> None:
    """The archive GET answers holds a link as typeflag '2' with its target (go-archive FileInfoHeader,
    Readlink) and an empty directory as its own entry; a path through a link is the target's (lstat follows
    all but the last element); a link named with a trailing / is its target directory."""
    files = tree()
    files.add_node("/data/empty", Node(None, 400.0, 0o700))
    files.add_node("/data/l", Node("a/x", 500.0, 0o777))
    files.add_node("/top", Node("/data", 600.0, 0o777))
    with tarfile.open(fileobj=io.BytesIO(archive.tar_of(files, "/data", files.lookup("/data")[1]))) as opened:
        members = {m.name: m for m in opened.getmembers()}
    assert sorted(members) == ["data", "data/a", "data/a/x", "data/b", "data/empty", "data/l"]
    assert members["data/l"].type == tarfile.SYMTYPE and members["data/l"].linkname == "a/x"
    assert (members["data/empty"].type, members["data/empty"].mode) == (tarfile.DIRTYPE, 0o700)
    assert files.lookup("/top/a/x")[0] == "/data/a/x"  # through a link
    assert files.lookup("/top")[1].link == "/data"  # lstat: the link itself
    shown, entry = archive.archive_path(files, "/top/", "c")
    assert entry.is_dir and _names(archive.tar_of(files, shown, entry))[:2] == ["top/", "top/a/"]
    stat = json.loads(base64.b64decode(archive.stat_of(files, "/top", files.lookup("/top")[1])))
    assert (stat["name"], stat["size"], stat["mode"], stat["linkTarget"]) == ("top", 5, (1 << 27) | 0o777, "/data")
    files.add_node("/loop", Node("/loop", 1.0, 0o777))
    with pytest.raises(ApiError, match="too many links"):  # moby/sys symlink: more than 255
        archive.stat_of(files, "/loop", files.lookup("/loop")[1])


# ---------------------------------------------------------------------------------------------- over HTTP


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    path = tmp_path_factory.mktemp("archive") / "scenario.yaml"
    path.write_text(SCENARIO)
    server = Server(serve_scenario(path), port=0, speed=50.0)
    server.start()
    status, _, body = request(server, "POST", "/v1.50/images/create?fromImage=alpine&tag=latest")
    assert status == 200, body
    yield server
    server.stop()


def run(server: Server, name: str, host_config: dict[str, Any] | None = None, start: bool = True) -> None:
    config = {"Image": "alpine", "Cmd": ["sleep", "1000"], "Hostname": "box", "HostConfig": host_config or {}}
    status, _, body = request(server, "POST", f"/v1.50/containers/create?name={name}", json.dumps(config).encode(),
                              {"Content-Type": "application/json"})
    assert status == 201, body
    if start:
        assert request(server, "POST", f"/v1.50/containers/{name}/start")[0] == 204


def remove(server: Server, *names: str) -> None:
    for name in names:
        assert request(server, "DELETE", f"/v1.50/containers/{name}?force=1&v=1")[0] == 204


def stat_of(headers: dict[str, str]) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(base64.b64decode(headers["X-Docker-Container-Path-Stat"]))
    return value


def test_head_and_get_of_the_hostname(served: Server) -> None:
    run(served, "arch-host")
    try:
        status, headers, body = request(served, "HEAD", "/v1.50/containers/arch-host/archive?path=/etc/hostname")
        assert (status, body) == (200, b"")
        stat = stat_of(headers)
        assert (stat["name"], stat["size"], stat["mode"], stat["linkTarget"]) == ("hostname", 4, 0o644, "")
        assert stat["mtime"].endswith("Z") and stat["mtime"][:2] == "20"
        status, headers, body = request(served, "GET", "/v1.50/containers/arch-host/archive?path=etc/hostname")
        assert status == 200 and headers["Content-Type"] == "application/x-tar"
        with tarfile.open(fileobj=io.BytesIO(body)) as opened:
            handle = opened.extractfile("hostname")
            assert handle is not None and handle.read() == b"box\n"
        stat = stat_of(request(served, "HEAD", "/v1.50/containers/arch-host/archive?path=/")[1])
        assert (stat["name"], stat["mode"] >> 31) == ("/", 1)
        status, _, body = request(served, "GET", "/v1.50/containers/arch-host/archive?path=/bin/sh")
        assert (status, json.loads(body)["message"]) == (404, "Could not find the file /bin/sh in container arch-host")
        status, _, body = request(served, "GET", "/v1.50/containers/arch-host/archive")
        assert status == 400
        status, _, body = request(served, "GET", "/v1.50/containers/arch-none/archive?path=/")
        assert (status, json.loads(body)["message"]) == (404, "No such container: arch-none")
        status, headers, body = request(served, "GET", "/v1.50/containers/arch-host/archive?path=/etc/hostname",
                                        headers={"Accept-Encoding": "deflate"})
        assert headers["Content-Encoding"] == "deflate" and b"box\n" in zlib.decompress(body, wbits=-15)
    finally:
        remove(served, "arch-host")


def test_put_lands_in_the_layer_or_the_volume(served: Server) -> None:
    run(served, "arch-a", {"Binds": ["arch-vol:/data"]})
    run(served, "arch-b", {"Binds": ["arch-vol:/mnt/v:ro"]}, start=False)  # stopped: moby copies into it too
    try:
        upload = gzip.compress(_tar(("app/conf.ini", b"[x]\n"), ("shared.txt", b"s\n")))
        assert request(served, "PUT", "/v1.50/containers/arch-a/archive?path=/opt", upload)[0] == 200
        assert request(served, "PUT", "/v1.50/containers/arch-a/archive?path=/data", _tar(("v", b"v\n")))[0] == 200
        _, _, body = request(served, "GET", "/v1.50/containers/arch-a/changes")
        changes = {entry["Path"]: entry["Kind"] for entry in json.loads(body)}
        assert changes.get("/opt/app/conf.ini") == 1 and changes.get("/opt/shared.txt") == 1  # Kind 1: added
        assert not any(path.startswith("/data") for path in changes)  # the volume is outside the layer
        status, _, body = request(served, "GET", "/v1.50/containers/arch-b/archive?path=/mnt/v/v")
        assert status == 200 and b"v\n" in body  # the other container's mount of the volume
        status, _, body = request(served, "PUT", "/v1.50/containers/arch-b/archive?path=/mnt/v", _tar(("w", b"")))
        assert (status, json.loads(body)["message"]) == (400, "mounted volume is marked read-only")
        status, _, body = request(served, "PUT", "/v1.50/containers/arch-a/archive?path=/opt/shared.txt", b"")
        assert (status, json.loads(body)["message"]) == (400, "extraction point is not a directory")
        status, _, body = request(served, "PUT", "/v1.50/containers/arch-a/archive?path=/nope", b"")
        assert (status, json.loads(body)["message"]) == (404, "Could not find the file /nope in container arch-a")
    finally:
        remove(served, "arch-a", "arch-b")
    request(served, "DELETE", "/v1.50/volumes/arch-vol")


def test_put_through_a_link_and_its_stat(served: Server) -> None:
    """containerExtractToDir evaluates the destination's links (EvalSymlinks); HEAD of a link answers the
    link's own stat with ``linkTarget`` resolved (containerfs_linux.go Stat), GET its tar entry; a link in a
    volume lands in the volume, outside the layer."""
    run(served, "arch-link", {"Binds": ["arch-link-vol:/data"]})
    try:
        links = _special_tar(("dl", "sym", "/opt", 0o777, 1_000_000_000), ("rel", "sym", "dl/x", 0o777, 5))
        assert request(served, "PUT", "/v1.50/containers/arch-link/archive?path=/tmp", links)[0] == 200
        assert request(served, "PUT", "/v1.50/containers/arch-link/archive?path=/tmp/dl", _tar(("x", b"1")))[0] == 200
        status, _, body = request(served, "GET", "/v1.50/containers/arch-link/archive?path=/opt/x")
        assert status == 200 and b"1" in body  # extracted into /opt, where the link points
        stat = stat_of(request(served, "HEAD", "/v1.50/containers/arch-link/archive?path=/tmp/rel")[1])
        assert (stat["name"], stat["size"], stat["mode"], stat["linkTarget"]) == ("rel", 4, (1 << 27) | 0o777,
                                                                                  "/opt/x")
        assert stat["mtime"] == "1970-01-01T00:00:05Z"  # lchtimes: the archive's time
        stat = stat_of(request(served, "HEAD", "/v1.50/containers/arch-link/archive?path=/tmp/dl/")[1])
        assert (stat["name"], stat["mode"] >> 31, stat["linkTarget"]) == ("dl", 1, "")  # a trailing /: the target
        status, _, body = request(served, "GET", "/v1.50/containers/arch-link/archive?path=/tmp/dl")
        with tarfile.open(fileobj=io.BytesIO(body)) as opened:
            assert [(m.name, m.type, m.linkname) for m in opened.getmembers()] == [("dl", tarfile.SYMTYPE, "/opt")]
        volume = _special_tar(("keep", "dir", "", 0o711, 7), ("vl", "sym", "keep", 0o777, 8))
        assert request(served, "PUT", "/v1.50/containers/arch-link/archive?path=/data", volume)[0] == 200
        stat = stat_of(request(served, "HEAD", "/v1.50/containers/arch-link/archive?path=/data/keep")[1])
        assert (stat["mode"], stat["mtime"]) == ((1 << 31) | 0o711, "1970-01-01T00:00:07Z")
        _, _, body = request(served, "GET", "/v1.50/containers/arch-link/changes")
        changes = {entry["Path"]: entry["Kind"] for entry in json.loads(body)}
        assert changes.get("/tmp/dl") == 1 and changes.get("/tmp/rel") == 1 and changes.get("/opt/x") == 1
        assert not any(path.startswith("/data") for path in changes)
    finally:
        remove(served, "arch-link")
    request(served, "DELETE", "/v1.50/volumes/arch-link-vol")
