"""The legacy builder's COPY/ADD history line names its sources by their tarsum (dsim/serve/context_sums.py).

The expected hashes are worked out here from moby's algorithm as its source states it, not from dsim's code:
daemon/builder/remotecontext/internal/tarsum/versioning.go ``v1TarHeaderSelect`` (the header fields, in order,
without mtime), tarsum.go ``encodeHeader`` (each written as name then value, uname and gname blanked; then the
content), copy.go ``copyInfoForFile`` (``file:``), ``walkSource`` (``dir:``, sorted sums) and internals.go
``hashStringSlice`` / ``performCopy`` (``multi:``; ``<cmd> <hash> in <dest> ``)."""

from __future__ import annotations

import hashlib
import io
import tarfile

from dsim.dockerfile.parse import parse_dockerfile
from dsim.serve.build import read_context
from dsim.serve.image_config import ImageConfig, built_config

APP = b'print("hi")\n'  # docs/serve.md's app.py: 12 bytes


def _tar(*entries: tuple[str, bytes | None, int]) -> bytes:
    """A context tar as the CLI sends it (uid/gid 0): (name, content or None for a directory, mode)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content, mode in entries:
            info = tarfile.TarInfo(name)
            info.mode, info.uname, info.gname = mode, "alice", "staff"  # names the sum leaves out
            if content is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return out.getvalue()


def _sum(name: str, mode: int, size: int, typeflag: str, content: bytes = b"") -> str:
    header = (f"name{name}mode{mode}uid0gid0size{size}typeflag{typeflag}linkname"
              "unamegnamedevmajor0devminor0")
    return hashlib.sha256(header.encode() + content).hexdigest()


CONTEXT = _tar(("Dockerfile", b"FROM alpine\nCOPY app.py .\n", 0o644), ("app.py", APP, 0o644),
               ("src/", None, 0o755), ("src/a.txt", b"a\n", 0o600))


def test_a_file_is_named_by_its_header_and_content_sum() -> None:
    sums = read_context(CONTEXT).sums
    assert sums.source_hash(["app.py"]) == "file:" + _sum("app.py", 0o644, 12, "0", APP)
    assert sums.source_hash(["./app.py"]) == sums.source_hash(["/app.py"]) == sums.source_hash(["app.py"])
    assert sums.source_hash(["missing"]) is None and sums.source_hash(["https://example.com/x"]) is None


def test_a_directory_and_several_sources() -> None:
    sums = read_context(CONTEXT).sums
    tree = sorted([_sum("src/", 0o755, 0, "5"), _sum("src/a.txt", 0o600, 2, "0", b"a\n")])
    assert sums.source_hash(["src"]) == "dir:" + hashlib.sha256(",".join(tree).encode()).hexdigest()
    both = ["file:" + _sum("app.py", 0o644, 12, "0", APP), "file:" + _sum("src/a.txt", 0o600, 2, "0", b"a\n")]
    assert sums.source_hash(["app.py", "src/a.txt"]) == "multi:" + hashlib.sha256(",".join(both).encode()).hexdigest()
    assert sums.source_hash(["src/*.txt"]) == both[1]  # one match: that file's hash


def test_the_history_line_names_the_hash_and_the_destination() -> None:
    sums = read_context(CONTEXT).sums
    text = "FROM alpine\nWORKDIR /app\nCOPY app.py .\nCOPY --chown=1000 src /srv/\nCOPY --from=alpine /etc/x /x\n"
    config = built_config(parse_dockerfile(text), {"docker.io/library/alpine:latest": ImageConfig()},
                          sources=sums.source_hash)
    app = _sum("app.py", 0o644, 12, "0", APP)
    assert [h.created_by for h in config.history[:3]] == [
        "/bin/sh -c #(nop) WORKDIR /app",
        f"/bin/sh -c #(nop) COPY file:{app} in . ",
        f"/bin/sh -c #(nop) COPY --chown=1000 {sums.source_hash(['src'])} in /srv/ "]
    assert ":" not in config.history[3].created_by.split("#(nop) ")[1]  # another image's files: no context sum
