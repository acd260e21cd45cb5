"""``docker cp`` of the real docker CLI against ``dsim serve``, both ways (dsim/serve/archive.py).

Out of a container: the CLI asks ``GET /containers/{id}/archive?path=SRC`` and extracts the tar; to stdout
(``-``) it prints the tar as is. Into one: ``HEAD`` of the destination (is it a directory?), then ``PUT`` of a
tar to the directory the CLI picks (the destination, or its parent when the destination is the new name).
What a container has: the files its commands wrote, its volumes' files, the files dockerd writes
(/etc/hostname, /etc/hosts) and the directories they imply; an image's own files are not modelled (a copy of
one is refused as missing). Each test makes its own containers, on the module's server, and removes them.
"""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.serve.test_docker_cli import DOCKER, SCENARIO, ServeProcess, docker, needs_cli

SPEED = 20.0

pytestmark = needs_cli


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    proc = ServeProcess(tmp_path_factory.mktemp("serve-cp"), speed=SPEED, scenario=SCENARIO)
    assert docker(proc, "pull", "alpine").returncode == 0
    yield proc
    proc.stop()


@contextmanager
def container(server: ServeProcess, name: str, *options: str, start: bool = True) -> Iterator[str]:
    """A container of alpine that runs until removed (``sleep``), removed at the end whatever happened."""
    verb = "run" if start else "create"
    made = docker(server, verb, *(["-d"] if start else []), "--name", name, *options, "alpine", "sleep", "100000")
    assert made.returncode == 0, made.stderr
    try:
        yield name
    finally:
        docker(server, "rm", "-f", name)


def raw_docker(server: ServeProcess, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """The CLI with bytes in and out (a tar on stdin or stdout)."""
    assert DOCKER is not None
    env = {**os.environ, "DOCKER_HOST": server.address, "DOCKER_CONFIG": str(server.tmp / "docker-config")}
    env.pop("DOCKER_CONTEXT", None)
    return subprocess.run([DOCKER, *args], input=stdin, capture_output=True, timeout=120, env=env)


# ---------------------------------------------------------------------------------------------- out


def test_cp_out_a_file_an_exec_wrote(server: ServeProcess, tmp_path: Path) -> None:
    with container(server, "cp-out-file"):
        assert docker(server, "exec", "cp-out-file", "sh", "-c", "echo x > /f").returncode == 0
        result = docker(server, "cp", "cp-out-file:/f", str(tmp_path / "x"))
        assert result.returncode == 0, result.stderr
        assert (tmp_path / "x").read_text() == "x\n"
        # the CLI sets the local file's mtime from the tar's: the simulated instant of the write, placed on the
        # wall clock (speed 20: within the test's few seconds of now)
        assert abs((tmp_path / "x").stat().st_mtime - time.time()) < 60
        assert (tmp_path / "x").stat().st_mode & 0o777 == 0o644  # a shell's new file: 0666 under umask 022


def test_cp_out_the_hostname_dockerd_wrote(server: ServeProcess, tmp_path: Path) -> None:
    with container(server, "cp-out-hostname", "--hostname", "box"):
        result = docker(server, "cp", "cp-out-hostname:/etc/hostname", str(tmp_path / "hostname"))
        assert result.returncode == 0, result.stderr
        assert (tmp_path / "hostname").read_text() == "box\n"  # moby container.BuildHostnameFile
        assert docker(server, "cp", "cp-out-hostname:/etc/hosts", str(tmp_path / "hosts")).returncode == 0
        assert "box" in (tmp_path / "hosts").read_text()  # the container's own line names it


def test_cp_out_a_directory(server: ServeProcess, tmp_path: Path) -> None:
    with container(server, "cp-out-dir"):
        script = "echo a > /data/a; echo b > /data/sub/b"
        assert docker(server, "exec", "cp-out-dir", "sh", "-c", script).returncode == 0
        assert docker(server, "cp", "cp-out-dir:/data", str(tmp_path / "copy")).returncode == 0
        assert (tmp_path / "copy" / "a").read_text() == "a\n"
        assert (tmp_path / "copy" / "sub" / "b").read_text() == "b\n"
        assert sorted(p.name for p in (tmp_path / "copy").iterdir()) == ["a", "sub"]


def test_cp_to_stdout_is_a_tar(server: ServeProcess) -> None:
    with container(server, "cp-stdout"):
        assert docker(server, "exec", "cp-stdout", "sh", "-c", "printf hello > /srv/greeting").returncode == 0
        result = raw_docker(server, "cp", "cp-stdout:/srv/greeting", "-")
        assert result.returncode == 0, result.stderr
        with tarfile.open(fileobj=io.BytesIO(result.stdout)) as archive:
            members = archive.getmembers()
            assert [m.name for m in members] == ["greeting"]  # a file: its base name alone (moby archive.go)
            handle = archive.extractfile(members[0])
            assert handle is not None and handle.read() == b"hello"
        result = raw_docker(server, "cp", "cp-stdout:/srv", "-")
        with tarfile.open(fileobj=io.BytesIO(result.stdout)) as archive:
            assert archive.getnames() == ["srv", "srv/greeting"]  # a directory: itself, then what is in it


def test_a_missing_path_is_moby_s_404(server: ServeProcess, tmp_path: Path) -> None:
    with container(server, "cp-missing"):
        result = docker(server, "cp", "cp-missing:/nope", str(tmp_path / "x"))
        assert result.returncode == 1
        assert "Could not find the file /nope in container cp-missing" in result.stderr  # daemon/errors.go
        # an image's own file: its contents are not modelled, so it is not there to copy
        assert docker(server, "cp", "cp-missing:/bin/busybox", str(tmp_path / "y")).returncode == 1
        assert not (tmp_path / "x").exists()
    assert "No such container: cp-missing" in docker(server, "cp", "cp-missing:/f", str(tmp_path / "z")).stderr


# ---------------------------------------------------------------------------------------------- in


def test_cp_in_then_exec_cat_and_diff(server: ServeProcess, tmp_path: Path) -> None:
    (tmp_path / "note.txt").write_text("from the host\n")
    with container(server, "cp-in"):
        result = docker(server, "cp", str(tmp_path / "note.txt"), "cp-in:/tmp/")
        assert result.returncode == 0, result.stderr
        assert docker(server, "exec", "cp-in", "cat", "/tmp/note.txt").stdout == "from the host\n"
        # a new name: the CLI extracts to the parent and renames the entry (go-archive PrepareArchiveCopy)
        assert docker(server, "cp", str(tmp_path / "note.txt"), "cp-in:/renamed").returncode == 0
        assert docker(server, "exec", "cp-in", "cat", "/renamed").stdout == "from the host\n"
        diff = docker(server, "diff", "cp-in").stdout.splitlines()
        assert "A /tmp/note.txt" in diff and "A /renamed" in diff  # in the writable layer (changes.py)
        back = docker(server, "cp", "cp-in:/tmp/note.txt", str(tmp_path / "back.txt"))
        assert back.returncode == 0 and (tmp_path / "back.txt").read_text() == "from the host\n"


def test_cp_in_a_directory(server: ServeProcess, tmp_path: Path) -> None:
    (tmp_path / "app" / "conf").mkdir(parents=True)
    (tmp_path / "app" / "conf" / "a.ini").write_text("[a]\n")
    (tmp_path / "app" / "run.sh").write_text("echo run\n")
    (tmp_path / "app" / "run.sh").chmod(0o755)
    with container(server, "cp-in-dir"):
        assert docker(server, "cp", str(tmp_path / "app"), "cp-in-dir:/opt/app").returncode == 0
        assert docker(server, "exec", "cp-in-dir", "cat", "/opt/app/conf/a.ini").stdout == "[a]\n"
        assert docker(server, "cp", "cp-in-dir:/opt/app/run.sh", str(tmp_path / "back.sh")).returncode == 0
        assert (tmp_path / "back.sh").stat().st_mode & 0o777 == 0o755  # the tar's mode is kept


def test_cp_in_from_stdin(server: ServeProcess) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo("piped.txt")
        info.size = 3
        archive.addfile(info, io.BytesIO(b"abc"))
    with container(server, "cp-stdin"):
        result = raw_docker(server, "cp", "-", "cp-stdin:/tmp", stdin=buffer.getvalue())
        assert result.returncode == 0, result.stderr
        assert docker(server, "exec", "cp-stdin", "cat", "/tmp/piped.txt").stdout == "abc"


def test_cp_into_a_stopped_container(server: ServeProcess, tmp_path: Path) -> None:
    (tmp_path / "greeting").write_text("hi from cp\n")
    made = docker(server, "create", "--name", "cp-stopped", "alpine", "cat", "/etc/greeting")
    assert made.returncode == 0, made.stderr
    try:
        assert docker(server, "cp", str(tmp_path / "greeting"), "cp-stopped:/etc/greeting").returncode == 0
        assert docker(server, "start", "-a", "cp-stopped").stdout == "hi from cp\n"  # its process reads it
        # and out of the exited container: moby allows both
        assert docker(server, "cp", "cp-stopped:/etc/greeting", str(tmp_path / "out")).returncode == 0
        assert (tmp_path / "out").read_text() == "hi from cp\n"
    finally:
        docker(server, "rm", "-f", "cp-stopped")


def test_cp_into_a_volume_is_seen_by_its_other_containers(server: ServeProcess, tmp_path: Path) -> None:
    (tmp_path / "shared.txt").write_text("shared\n")
    with container(server, "cp-vol-a", "-v", "cp-vol:/data"), container(server, "cp-vol-b", "-v", "cp-vol:/mnt/v"):
        assert docker(server, "cp", str(tmp_path / "shared.txt"), "cp-vol-a:/data/").returncode == 0
        assert docker(server, "exec", "cp-vol-b", "cat", "/mnt/v/shared.txt").stdout == "shared\n"
        assert "/data" not in docker(server, "diff", "cp-vol-a").stdout  # a volume is outside the layer
    docker(server, "volume", "rm", "cp-vol")


def test_the_refusals_of_dockerd(server: ServeProcess, tmp_path: Path) -> None:
    (tmp_path / "x").write_text("file\n")
    with container(server, "cp-refused"), container(server, "cp-readonly", "--read-only"):
        assert docker(server, "exec", "cp-refused", "sh", "-c", "echo in > /x/inner").returncode == 0
        # a file over a directory: the CLI always sends noOverwriteDirNonDir (go-archive Unpack's error)
        result = docker(server, "cp", str(tmp_path / "x"), "cp-refused:/")
        assert result.returncode == 1
        assert 'cannot overwrite directory "/x" with non-directory "/"' in result.stderr
        result = docker(server, "cp", str(tmp_path / "x"), "cp-readonly:/tmp/")
        assert result.returncode == 1
        assert "container rootfs is marked read-only" in result.stderr  # daemon/archive_unix.go checkWritablePath


# ---------------------------------------------------------------------------------------------- directories, links


def _tree_with_links(tmp_path: Path) -> Path:
    """tree/: an empty directory (0700, mtime 10^9), a file, a relative and an absolute link, its own mtime set
    last (1.1 * 10^9)."""
    root = tmp_path / "tree"
    (root / "empty").mkdir(parents=True)
    (root / "empty").chmod(0o700)
    (root / "f").write_text("content\n")
    (root / "link").symlink_to("f")
    (root / "abs").symlink_to("/tmp/tree/f")
    os.utime(root / "empty", (1_000_000_000, 1_000_000_000))
    os.utime(root, (1_100_000_000, 1_100_000_000))
    return root


def test_cp_keeps_empty_directories_and_symbolic_links(server: ServeProcess, tmp_path: Path) -> None:
    """go-archive Unpack/createTarFile: a directory entry is a directory (kept empty, with its mode and mtime),
    a symlink entry a link to its target as written; reading through it reads the target; docker diff lists
    them as added; back out, the archive holds them as they are (typeflag 2), ``-L`` copies the target."""
    root = _tree_with_links(tmp_path)
    with container(server, "cp-links"):
        result = docker(server, "cp", str(root), "cp-links:/tmp/")
        assert result.returncode == 0, result.stderr
        shell = docker(server, "exec", "cp-links", "sh", "-c",
                       "cat /tmp/tree/link /tmp/tree/abs; test -d /tmp/tree/empty && echo dir")
        assert shell.stdout == "content\ncontent\ndir\n"
        diff = docker(server, "diff", "cp-links").stdout.splitlines()
        assert [line for line in diff if "/tmp" in line] == [  # sorted by path (changes.go)
            "C /tmp", "A /tmp/tree", "A /tmp/tree/abs", "A /tmp/tree/empty", "A /tmp/tree/f", "A /tmp/tree/link"]
        out = tmp_path / "out"
        assert docker(server, "cp", "cp-links:/tmp/tree", str(out)).returncode == 0
        assert (out / "empty").is_dir() and not any((out / "empty").iterdir())
        assert (out / "empty").stat().st_mode & 0o777 == 0o700
        assert (out / "empty").stat().st_mtime == 1_000_000_000 and out.stat().st_mtime == 1_100_000_000
        assert os.readlink(out / "link") == "f" and os.readlink(out / "abs") == "/tmp/tree/f"
        # a link named alone: without -L the link itself; with -L what it resolves to, under the link's name
        assert docker(server, "cp", "cp-links:/tmp/tree/link", str(tmp_path / "plain")).returncode == 0
        assert os.readlink(tmp_path / "plain") == "f"
        assert docker(server, "cp", "-L", "cp-links:/tmp/tree/abs", str(tmp_path / "followed")).returncode == 0
        followed = tmp_path / "followed"
        assert not followed.is_symlink() and followed.read_text() == "content\n"
        # a link's stat is its own (the CLI's -L reads its linkTarget): to stdout, the tar holds the link
        raw = raw_docker(server, "cp", "cp-links:/tmp/tree/link", "-")
        with tarfile.open(fileobj=io.BytesIO(raw.stdout)) as archive:
            member = archive.getmember("link")
            assert member.issym() and member.linkname == "f"


def test_a_link_leaving_the_destination_is_refused(server: ServeProcess, tmp_path: Path) -> None:
    """createTarFile: the target joined to the link's directory must stay under the destination."""
    (tmp_path / "esc").symlink_to("../etc/passwd")
    with container(server, "cp-escape"):
        result = docker(server, "cp", str(tmp_path / "esc"), "cp-escape:/tmp/")
        assert result.returncode == 1
        assert 'invalid symlink "/tmp/esc" -> "../etc/passwd"' in result.stderr
        assert docker(server, "cp", "cp-escape:/tmp/esc", str(tmp_path / "back")).returncode == 1  # not made


def test_commit_keeps_directories_and_links(server: ServeProcess, tmp_path: Path) -> None:
    root = _tree_with_links(tmp_path)
    with container(server, "cp-commit"):
        assert docker(server, "cp", str(root), "cp-commit:/srv/").returncode == 0
        assert docker(server, "commit", "cp-commit", "cp-linked:1").returncode == 0
    try:
        made = docker(server, "run", "-d", "--name", "cp-committed", "cp-linked:1", "sleep", "100000")
        assert made.returncode == 0, made.stderr
        assert docker(server, "exec", "cp-committed", "cat", "/srv/tree/link").stdout == "content\n"
        result = raw_docker(server, "cp", "cp-committed:/srv/tree", "-")
        with tarfile.open(fileobj=io.BytesIO(result.stdout)) as archive:
            assert archive.getmember("tree/empty").isdir() and archive.getmember("tree/abs").linkname == "/tmp/tree/f"
        # the image's layer holds them: the new container's own layer has none of them
        assert "/srv" not in docker(server, "diff", "cp-committed").stdout
    finally:
        docker(server, "rm", "-f", "cp-committed")
        docker(server, "rmi", "cp-linked:1")


def test_a_destination_through_a_link_and_a_write_through_one(server: ServeProcess, tmp_path: Path) -> None:
    """The CLI stats a destination that is a link and copies to its ``linkTarget`` (cp.go copyToContainer);
    a shell's write to a link writes its target (open follows links)."""
    root = tmp_path / "tree"
    (root / "inbox").mkdir(parents=True)
    (root / "to-inbox").symlink_to("inbox")
    (root / "f").write_text("old\n")
    (root / "to-f").symlink_to("f")
    (tmp_path / "note").write_text("note\n")
    with container(server, "cp-through"):
        assert docker(server, "cp", str(root), "cp-through:/srv/").returncode == 0
        result = docker(server, "cp", str(tmp_path / "note"), "cp-through:/srv/tree/to-inbox")
        assert result.returncode == 0, result.stderr
        assert docker(server, "exec", "cp-through", "cat", "/srv/tree/inbox/note").stdout == "note\n"
        assert docker(server, "exec", "cp-through", "sh", "-c", "echo new > /srv/tree/to-f").returncode == 0
        assert docker(server, "exec", "cp-through", "cat", "/srv/tree/f").stdout == "new\n"
        raw = raw_docker(server, "cp", "cp-through:/srv/tree/to-f", "-")
        with tarfile.open(fileobj=io.BytesIO(raw.stdout)) as archive:
            assert archive.getmember("to-f").linkname == "f"  # still a link
