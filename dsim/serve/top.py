"""``docker top CONTAINER [ps OPTIONS]``: what dockerd's ContainerTop makes of ``ps`` run on the host
(github.com/moby/moby daemon/top_unix.go, v28): it refuses ``-o X=PID`` renames but pid's, runs
``ps ARGS -qPIDS`` (the arguments split at each space), and keeps the header's words as Titles and the rows of
the container's PIDs, a row's overhanging words joined into the last column.

dsim has no host ``ps``: :func:`ps_output` writes what procps-ng's ps (4.0) prints for the container's
processes with the options dsim models: SysV ``-e -A -a -d -f``, BSD ``a u x w``, and formats ``-o``, ``o``,
``--format`` with procps's column names and headers (``pid=TITLE`` renames). procps's own refusals (an option
letter it does not have, a format it does not know) are dockerd's 500 ``ps: error: ...``; an option procps has
but dsim does not model (``-l``, ``j``, a sort) is a 501. :func:`parse_ps_output` is dockerd's parsePSOutput.
"""

from __future__ import annotations

import posixpath
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dsim.components.errors import ApiError

#: dockerd's check of ps_args (top_unix.go psArgsRegexp): only pid may be titled PID
_PS_ARGS = re.compile(r"\s+([^\s]*)=\s*(PID[^\s]*)")
#: option letters procps-ng 4.0's ps refuses (``ps -B``: "unsupported SysV option"; ``ps b``: "unsupported
#: option (BSD syntax)"), as ``ps -X -q PID`` / ``ps X -q PID`` answer on a procps-ng 4.0.2 host
_SYSV_UNSUPPORTED = frozenset("bikzBDEIJKQRWY")
_BSD_UNSUPPORTED = frozenset("bdiyzABCDEFGIJKNPQRY")


@dataclass(frozen=True)
class Proc:
    """One process of the container as ps sees it from the host."""

    pid: int
    ppid: int
    argv: list[str]
    started: float  # Unix time
    cpu: float  # CPU seconds received
    rss: int  # bytes resident
    tty: str  # "?" or the terminal, "pts/0"


def _clock(seconds: float, days: bool = True) -> str:
    """[DD-]HH:MM:SS (ps's TIME)."""
    whole = int(seconds)
    day, rest = divmod(whole, 86400)
    text = f"{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"
    return f"{day}-{text}" if day and days else text


def _elapsed(seconds: float) -> str:
    """[[DD-]HH:]MM:SS (ps's ELAPSED)."""
    whole = int(seconds)
    day, rest = divmod(whole, 86400)
    text = f"{rest % 3600 // 60:02d}:{rest % 60:02d}"
    if whole >= 3600:
        text = f"{rest // 3600:02d}:{text}"
    return f"{day}-{text}" if day else text


def _start(started: float, now: float, seconds: bool) -> str:
    """STIME / START: the time of day within 24 hours, else the month and day (``Dec05``)."""
    local = time.localtime(started)
    if now - started < 86400:
        return time.strftime("%H:%M:%S" if seconds else "%H:%M", local)
    return time.strftime("%b %d" if seconds else "%b%d", local)


Column = Callable[[Proc, float, int], str]
#: procps's format specifiers dsim models: (header, value from the process, now and the host's memory)
_COLUMNS: dict[str, tuple[str, Column]] = {
    "pid": ("PID", lambda p, now, mem: str(p.pid)),
    "ppid": ("PPID", lambda p, now, mem: str(p.ppid)),
    "pgid": ("PGID", lambda p, now, mem: str(p.pid)),
    "uid": ("UID", lambda p, now, mem: "0"),
    "user": ("USER", lambda p, now, mem: "root"),
    "euser": ("EUSER", lambda p, now, mem: "root"),
    "gid": ("GID", lambda p, now, mem: "0"),
    "group": ("GROUP", lambda p, now, mem: "root"),
    "comm": ("COMMAND", lambda p, now, mem: posixpath.basename(p.argv[0])[:15]),
    "args": ("COMMAND", lambda p, now, mem: " ".join(p.argv)),
    "cmd": ("CMD", lambda p, now, mem: " ".join(p.argv)),
    "command": ("COMMAND", lambda p, now, mem: " ".join(p.argv)),
    "etime": ("ELAPSED", lambda p, now, mem: _elapsed(now - p.started)),
    "etimes": ("ELAPSED", lambda p, now, mem: str(int(now - p.started))),
    "time": ("TIME", lambda p, now, mem: _clock(p.cpu)),
    "cputime": ("TIME", lambda p, now, mem: _clock(p.cpu)),
    "%cpu": ("%CPU", lambda p, now, mem: f"{_percent(p.cpu, now - p.started):.1f}"),
    "%mem": ("%MEM", lambda p, now, mem: f"{_percent(p.rss, mem):.1f}"),
    "rss": ("RSS", lambda p, now, mem: str(p.rss // 1024)),
    # the model has no virtual memory: the virtual size is the resident one
    "vsz": ("VSZ", lambda p, now, mem: str(p.rss // 1024)),
    "stat": ("STAT", lambda p, now, mem: "Ss+" if p.tty != "?" else "Ss"),
    "s": ("S", lambda p, now, mem: "S"),
    "tty": ("TT", lambda p, now, mem: p.tty),
    "tname": ("TTY", lambda p, now, mem: p.tty),
    "stime": ("STIME", lambda p, now, mem: _start(p.started, now, False)),
    "start_time": ("START", lambda p, now, mem: _start(p.started, now, False)),
    "start": ("STARTED", lambda p, now, mem: _start(p.started, now, True)),
    "lstart": ("STARTED", lambda p, now, mem: time.strftime("%a %b %e %H:%M:%S %Y", time.localtime(p.started))),
    "ni": ("NI", lambda p, now, mem: "0"),
    "pri": ("PRI", lambda p, now, mem: "19"),
    "nlwp": ("NLWP", lambda p, now, mem: "1"),
    "c": ("C", lambda p, now, mem: str(int(_percent(p.cpu, now - p.started)))),
}
for _alias, _name in (("pcpu", "%cpu"), ("pmem", "%mem"), ("rssize", "rss"), ("vsize", "vsz"), ("tt", "tty"),
                      ("nice", "ni"), ("thcount", "nlwp")):
    _COLUMNS[_alias] = _COLUMNS[_name]
#: the formats procps's options select (ps -e, ps -ef, ps ax, ps aux)
_SYSV = ["pid", "tname", "time", "comm=CMD"]
_SYSV_FULL = ["user=UID", "pid", "ppid", "c", "stime", "tname", "time", "args=CMD"]
_BSD = ["pid", "tname", "stat", "bsdtime", "args"]
_BSD_USER = ["user", "pid", "%cpu", "%mem", "vsz", "rss", "tname", "stat", "start_time", "bsdtime", "args"]
_COLUMNS["bsdtime"] = ("TIME", lambda p, now, mem: f"{int(p.cpu) // 60}:{int(p.cpu) % 60:02d}")


def _percent(part: float, whole: float) -> float:
    return 100.0 * part / whole if whole > 0 else 0.0


def _ps_error(message: str) -> ApiError:
    """ps exited non-zero: dockerd answers the first line of its stderr (errdefs.System: 500)."""
    return ApiError(500, f"ps: error: {message}")


def _not_modelled(option: str) -> ApiError:
    return ApiError(501, f'ps option "{option}" of docker top is not modelled by dsim serve')


def _format(spec: str, out: list[tuple[str, str]]) -> None:
    """One ``-o`` argument: names apart by commas, ``NAME=TITLE`` titles one (procps 4.0: ``-o pid=X,comm`` is
    ``X COMMAND``)."""
    if not spec.strip():
        raise _ps_error("format specification must follow -o")
    for item in spec.split(","):
        name, equals, title = item.partition("=")
        if name.strip() not in _COLUMNS:
            raise _ps_error(f'unknown user-defined format specifier "{name.strip()}"')
        out.append((name.strip(), title if equals else _COLUMNS[name.strip()][0]))


def ps_columns(ps_args: str) -> list[tuple[str, str]]:
    """The columns (specifier, title) ``ps ARGS`` prints, as procps reads the arguments dockerd gives it."""
    args = [arg for arg in ps_args.split(" ") if arg]
    custom: list[tuple[str, str]] = []
    full = user = bsd = False
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("--"):
            name, equals, value = arg[2:].partition("=")
            if name != "format":
                raise _not_modelled(arg)
            if not equals:
                i += 1
                value = args[i] if i < len(args) else ""
            _format(value, custom)
        else:
            sysv = arg.startswith("-")
            letters = arg[1:] if sysv else arg
            for at, letter in enumerate(letters):
                if letter in (_SYSV_UNSUPPORTED if sysv else _BSD_UNSUPPORTED):
                    raise _ps_error("unsupported SysV option" if sysv else "unsupported option (BSD syntax)")
                if letter == "o":
                    value = letters[at + 1:]
                    if not value:
                        i += 1
                        value = args[i] if i < len(args) else ""
                    _format(value, custom)
                    break
                if sysv and letter == "f":
                    full = True
                elif not sysv and letter == "u":
                    user = True
                elif letter not in ("eAad" if sysv else "axw"):
                    raise _not_modelled(("-" if sysv else "") + letter)
            bsd = bsd or not sysv
        i += 1
    if custom and user:
        raise _ps_error("conflicting format options")
    if custom:
        return custom
    names = _BSD_USER if user else _SYSV_FULL if full else _BSD if bsd else _SYSV
    return [(name.partition("=")[0], name.partition("=")[2] or _COLUMNS[name.partition("=")[0]][0])
            for name in names]


def ps_output(ps_args: str, procs: list[Proc], now: float, memory: int) -> str:
    """What ``ps ARGS -qPIDS`` prints: the header (none when every title is empty), a line a process."""
    columns = ps_columns(ps_args)
    lines = [" ".join(title for _, title in columns)] if any(title for _, title in columns) else []
    lines += [" ".join(_COLUMNS[name][1](proc, now, memory) for name, _ in columns) for proc in procs]
    return "\n".join(lines) + "\n"


def parse_ps_output(output: str, pids: set[int]) -> dict[str, Any]:
    """moby's parsePSOutput: the first line's words are the Titles; each line of one of ``pids`` a row, its
    words beyond the titles' number joined into its last column."""
    lines = output.split("\n")
    titles = lines[0].split()
    if "PID" not in titles:
        raise ApiError(500, "Couldn't find PID field in ps output")
    at = titles.index("PID")
    rows: list[list[str]] = []
    for line in lines[1:]:
        fields = line.split()
        if len(fields) <= at:
            continue
        if not fields[at].isdigit():
            raise ApiError(500, f"Unexpected pid '{fields[at]}': strconv.Atoi: parsing \"{fields[at]}\": "
                                "invalid syntax")
        if int(fields[at]) in pids:
            rows.append([*fields[:len(titles) - 1], " ".join(fields[len(titles) - 1:])])
    return {"Titles": titles, "Processes": rows}


def check_ps_args(ps_args: str) -> None:
    """dockerd's validatePSArgs: ``-o X=PID`` is refused unless X is pid (a 500: a plain error)."""
    for key, value in _PS_ARGS.findall(ps_args):
        if key != "pid":
            raise ApiError(500, f'specifying "{key}={value}" is not allowed')
