"""Reading a Dockerfile from disk safely: only a regular file, at most MAX_DOCKERFILE_BYTES, UTF-8.

A path a user writes could name ``/dev/zero`` (reading grows memory without bound) or a FIFO (opening it
blocks until a writer comes): the file is checked with ``os.stat`` before it is opened, opened with
``O_NONBLOCK`` (so a FIFO swapped in between never blocks) and checked again on the open descriptor.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

#: dsim's own limit on a Dockerfile's size (1 MiB). BuildKit states none for the Dockerfile itself; real
#: Dockerfiles are a few kB (the largest in this repository's tests is under 10 kB), so 1 MiB leaves room
#: for generated ones while keeping a mistaken path (a log, a disk image) from being read whole.
MAX_DOCKERFILE_BYTES = 2**20


class UnreadableDockerfile(Exception):
    """The file cannot be used as a Dockerfile; ``message`` never quotes its contents."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _check_regular(mode: int, size: int) -> None:
    if not stat.S_ISREG(mode):
        raise UnreadableDockerfile("not a regular file")
    if size > MAX_DOCKERFILE_BYTES:
        raise UnreadableDockerfile(f"{size:,} bytes is over dsim's limit of {MAX_DOCKERFILE_BYTES:,} bytes "
                                   f"(1 MiB) for a Dockerfile")


def read_dockerfile(path: Path) -> str:
    """The text of the Dockerfile at ``path``; raises UnreadableDockerfile saying why not."""
    try:
        info = os.stat(path)
        _check_regular(info.st_mode, info.st_size)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as err:
        raise UnreadableDockerfile(err.strerror or str(err)) from None
    try:
        with os.fdopen(fd, "rb") as file:
            info = os.fstat(file.fileno())
            _check_regular(info.st_mode, info.st_size)
            data = file.read(MAX_DOCKERFILE_BYTES + 1)
    except OSError as err:
        raise UnreadableDockerfile(err.strerror or str(err)) from None
    if len(data) > MAX_DOCKERFILE_BYTES:
        raise UnreadableDockerfile(f"over dsim's limit of {MAX_DOCKERFILE_BYTES:,} bytes (1 MiB) for a Dockerfile")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise UnreadableDockerfile(f"not UTF-8 text (byte {err.start}: {err.reason})") from None
