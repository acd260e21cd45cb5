"""``test`` and ``[`` (POSIX test, https://pubs.opengroup.org/onlinepubs/9799919799/utilities/test.html): strings
and integers compared, ``!``, and file tests. Status 0 true, 1 false, 2 an error (busybox's words).

Files: a container's image files are not modelled (commands.py), so a file test knows the files commands wrote
(``> FILE``), the files dockerd writes into every container (/etc/hosts, /etc/hostname, /etc/resolv.conf), and
what every Linux image has: the root's usual directories and /etc/passwd, /etc/group. Any other path is taken as
absent, which a real image may contradict.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable

from dsim.serve.shell_state import STDERR, ShellRun

#: directories and files every Linux image's root holds (the FHS's, and those base images ship)
_DIRECTORIES = frozenset({"/", "/bin", "/dev", "/etc", "/home", "/lib", "/proc", "/root", "/sbin", "/sys", "/tmp",
                          "/usr", "/usr/bin", "/usr/lib", "/usr/local", "/usr/local/bin", "/usr/sbin", "/var"})
_FILES = frozenset({"/etc/passwd", "/etc/group", "/etc/hosts", "/etc/hostname", "/etc/resolv.conf"})
_INTEGER = {"-eq": int.__eq__, "-ne": int.__ne__, "-lt": int.__lt__, "-le": int.__le__, "-gt": int.__gt__,
            "-ge": int.__ge__}
_STRING: dict[str, Callable[[str, str], bool]] = {"=": str.__eq__, "==": str.__eq__, "!=": str.__ne__}


class _Error(ValueError):
    """A malformed expression: status 2 with this message."""


def test_command(run: ShellRun, name: str, args: list[str]) -> None:
    """``test EXPR`` / ``[ EXPR ]``: the run's status from the expression."""
    if name == "[":
        if not args or args[-1] != "]":
            run.write("[: missing ]\n", STDERR)
            run.status = 2
            return
        args = args[:-1]
    try:
        run.status = 0 if _evaluate(run, args) else 1
    except _Error as err:
        run.write(f"{name}: {err}\n", STDERR)
        run.status = 2


def _evaluate(run: ShellRun, args: list[str]) -> bool:
    if args and args[0] == "!":
        return not _evaluate(run, args[1:])
    if not args:
        return False
    if len(args) == 1:
        return args[0] != ""
    if len(args) == 2:
        return _unary(run, args[0], args[1])
    if len(args) == 3:
        left, op, right = args
        if op in _STRING:
            return _STRING[op](left, right)
        if op in _INTEGER:
            return bool(_INTEGER[op](_number(left), _number(right)))
    raise _Error(f"unknown operand {args[1]}" if len(args) > 1 else "syntax error")


def _unary(run: ShellRun, op: str, operand: str) -> bool:
    if op == "-z":
        return operand == ""
    if op == "-n":
        return operand != ""
    if op in ("-e", "-f", "-d", "-s", "-r", "-w", "-x"):
        path = posixpath.normpath(posixpath.join(run.context.workdir, operand))
        written = run.files.read(path)
        is_file = written is not None or path in _FILES
        is_dir = path in _DIRECTORIES or run.files.is_dir(path)
        if op == "-f":
            return is_file
        if op == "-d":
            return is_dir
        if op == "-s":
            return is_file and (written is None or written != b"")
        return is_file or is_dir
    raise _Error(f"unknown operand {op}")


def _number(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise _Error(f"invalid number '{text}'") from None
