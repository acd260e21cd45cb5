"""The utilities that print what a container is: ``hostname`` (``-i``), ``id``/``whoami``, ``uname``, ``env``/
``printenv`` (and ``export``/``unset``), ``date``, ``ping`` over the daemon's networks (ping.py), and the files
dockerd writes into every container (/etc/hosts, /etc/hostname); and ``printf``. commands.py runs them."""

from __future__ import annotations

import math
import re
import time

from dsim.serve.ping import ping
from dsim.serve.shell_state import STDERR, STDOUT, Context, Repeat, ShellRun
from dsim.serve.shell_words import environment


def docker_file(ctx: Context, path: str) -> str | None:
    """The files dockerd writes for every container and bind-mounts into it: /etc/hosts (netview.py) and
    /etc/hostname (its hostname and a newline; moby ``container.BuildHostnameFile``)."""
    if path == "/etc/hosts":
        return ctx.net().hosts_file()
    return ctx.hostname + "\n" if path == "/etc/hostname" else None


def hostname(run: ShellRun, args: list[str]) -> None:
    """``hostname``, and ``hostname -i``: the addresses its /etc/hosts gives the hostname (busybox's
    ``gethostbyname``), space-separated."""
    ctx = run.context
    if "-i" not in args:
        run.write(ctx.hostname + "\n")
        return
    view = ctx.net()
    named = [address for address, names in view.hosts or () if ctx.hostname in names.split() and ":" not in address]
    addresses = named or list(view.addresses)  # before the process starts its hostname may not be known yet
    if addresses:
        run.write(" ".join(addresses) + "\n")
    else:
        run.write(f"hostname: {ctx.hostname}: Unknown host\n", STDERR)
        run.status = 1


def ping_command(run: ShellRun, args: list[str]) -> None:
    """busybox ping over the container's networks (ping.py); without a count or deadline it runs until stopped,
    and as PID 1 it handles SIGINT."""
    done = ping(args, run.context.net())
    start = run.t
    for at, stream, text in done.writes:
        run.t = start + at
        run.write(text, stream)
    run.t, run.status = start + done.duration, done.status
    target = run.redirect.get(STDOUT, STDOUT)
    if done.repeat is not None and isinstance(target, int) and target:  # into a file or /dev/null: not shown
        at, every, line = done.repeat
        run.repeat = Repeat(start + at, every, target, line)
    if math.isinf(done.duration):
        run.signals = {"INT": "exit"}


#: busybox date's default format (coreutils/date.c), in UTC: the model keeps no time zone
_DATE_FORMAT = "%a %b %e %H:%M:%S %Z %Y"


def date(run: ShellRun, args: list[str]) -> None:
    """``date``, ``date -u``, ``date +FORMAT``: the time the command runs at, on the API's clock (as ``docker logs
    -t`` stamps what it prints), in UTC."""
    formats = [arg[1:] for arg in args if arg.startswith("+")]
    unix = run.context.unix_time(run.t)
    moment = time.gmtime(unix)
    # %e, %Z and %s written out: C's strftime pads %e by platform and reads %Z and %s in the local time zone
    text = (formats[0] if formats else _DATE_FORMAT).replace("%e", f"{moment.tm_mday:2d}").replace(
        "%Z", "UTC").replace("%s", str(int(unix)))
    run.write(time.strftime(text, moment) + "\n")


#: uname's fields: -s -n -r -v -m, and -a all of them then the operating system (busybox's order)
_UNAME = {"-s": "Linux", "-r": "6.0.0", "-v": "#1 SMP", "-m": "x86_64"}


def uname(run: ShellRun, args: list[str]) -> None:
    fields = {**_UNAME, "-n": run.context.hostname}
    if "-a" in args:
        shown = [fields[flag] for flag in ("-s", "-n", "-r", "-v", "-m")] + ["Linux"]
    else:
        flags = [f"-{letter}" for arg in args for letter in arg.lstrip("-")] or ["-s"]
        if any(flag not in fields for flag in flags):
            run.known, run.status = False, 0
            return
        shown = [fields[flag] for flag in ("-s", "-n", "-r", "-v", "-m") if flag in flags]
    run.write(" ".join(shown) + "\n")


def identity(run: ShellRun, name: str, args: list[str]) -> None:
    """``whoami``, ``id``, ``id -u``, ``id -g``: root by name, another user by number (busybox's words for a
    uid not in /etc/passwd); a named user other than root is not modelled (its ids are the image's)."""
    uid, gid = run.context.ids
    if uid is None:
        if name == "whoami":
            run.write(run.context.user.partition(":")[0] + "\n")
        else:
            run.known = False
        return
    if name == "whoami" or args in (["-un"], ["-nu"]):
        if uid == 0:
            run.write("root\n")
        else:
            run.write(f"{name}: unknown uid {uid}\n", STDERR)
            run.status = 1
    elif args in (["-u"], ["-g"]):
        run.write(f"{uid if args == ['-u'] else gid}\n")
    elif not args and uid == 0 and gid == 0:
        run.write("uid=0(root) gid=0(root) groups=0(root)\n")
    elif not args and uid != 0:  # a uid /etc/passwd does not list: numbers, group 0 by its name (busybox id)
        group = "0(root)" if gid == 0 else str(gid)
        run.write(f"uid={uid} gid={group} groups={group}\n")
    else:
        run.known = False


def variables(run: ShellRun, name: str, args: list[str]) -> None:
    """``env`` and ``printenv`` print the environment (``printenv NAME``: its value, 1 when unset); ``export``
    and ``unset`` change the shell's variables."""
    if name == "printenv" and args:
        values = [run.env.get(arg) for arg in args]
        run.write("".join(f"{value}\n" for value in values if value is not None))
        run.status = 0 if all(value is not None for value in values) else 1
        return
    if name in ("env", "printenv"):
        run.write("".join(f"{line}\n" for line in environment(run.env)))
    for arg in args if name == "export" else ():
        variable, equals, value = arg.partition("=")
        if equals:
            run.local.pop(variable, None)
            run.env[variable] = value
        elif variable in run.local:
            run.env[variable] = run.local.pop(variable)
    for arg in args if name == "unset" else ():
        run.env.pop(arg, None)
        run.local.pop(arg, None)
    run.status = 0


def printf(run: ShellRun, args: list[str]) -> None:
    """POSIX printf: %s, %d, %%, ``\\n \\t``; the format is reused while arguments remain."""
    run.write(_printf(args))
    run.status = 0 if args else 1
    if not args:
        run.write("printf: usage: printf format [arguments]\n", STDERR)


def _escapes(text: str) -> str:
    return (text.replace("\\n", "\n").replace("\\t", "\t").replace("\\\\", "\\"))


def _printf(words: list[str]) -> str:
    """POSIX printf: %s, %d, %%; the format is reused while arguments remain."""
    if not words:
        return ""
    fmt, args = _escapes(words[0]), list(words[1:])
    out: list[str] = []
    while True:
        text, used = _format_once(fmt, args)
        out.append(text)
        args = args[used:]
        if not args or used == 0:
            return "".join(out)


def _format_once(fmt: str, args: list[str]) -> tuple[str, int]:
    used = 0

    def conv(match: re.Match[str]) -> str:
        nonlocal used
        if match.group(0) == "%%":
            return "%"
        value = args[used] if used < len(args) else ""
        used += 1
        if match.group(1) == "d":
            number = re.match(r"[+-]?\d+", value)
            return str(int(number.group(0))) if number else "0"
        return value

    return re.sub(r"%%|%([sd])", conv, fmt), used
