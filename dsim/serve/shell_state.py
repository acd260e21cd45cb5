"""The state a container's commands run in (commands.py's rules read and change it): what they know of their
container (:class:`Context`), one shell's run of them (:class:`ShellRun`: its clock, its output, its variables,
its files), and what a process writes when (:class:`Write`, :class:`Repeat`)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dsim.domain.networking import NetworkingSpec
from dsim.serve.fs_links import TooManyLinks, resolve
from dsim.serve.netview import NetView

if TYPE_CHECKING:
    from dsim.serve.shell_compound import Node

#: Standard output and standard error, as the multiplexed stream numbers them.
STDOUT, STDERR = 1, 2


@dataclass(frozen=True)
class Write:
    """``data`` written to ``stream`` at ``at`` seconds after the process started."""

    at: float
    stream: int
    data: bytes


@dataclass(frozen=True)
class Repeat:
    """A line written every ``every`` seconds from ``at`` on, for as long as the process runs (``ping`` without a
    count); ``{seq}`` in it numbers the lines from 0."""

    at: float
    every: float
    stream: int
    line: str

    def writes(self, until: float) -> Iterator[Write]:
        """Its writes due at or before ``until`` seconds after the process started."""
        seq = 0
        while self.at + seq * self.every <= until + 1e-9:
            yield Write(self.at + seq * self.every, self.stream, self.line.replace("{seq}", str(seq)).encode())
            seq += 1


#: the PATH Docker gives a Linux container whose image sets none (moby ``oci.DefaultPathEnv``)
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


#: a container with no daemon's networks around it (a build's RUN): its loopback on the model's default stack
LOOPBACK_ONLY = NetView(loopback=2 * NetworkingSpec().loopback_latency)


@dataclass(frozen=True)
class Context:
    """What the commands can print about their container: ``env`` is its Config.Env (the request's, then the
    image's that it does not set), ``user`` its Config.User (``name``, ``uid`` or ``uid:gid``; empty: root)."""

    hostname: str = "localhost"
    env: tuple[str, ...] = ()
    workdir: str = "/"
    user: str = "root"
    tty: bool = False
    #: the files a command can read back: those commands wrote into the container's layer or its image's
    #: (path -> contents); other files' contents are not modelled
    files: tuple[tuple[str, bytes], ...] = ()
    #: the symbolic links docker cp made in it (absolute path -> target: a read or write goes through them)
    #: and the directories it keeps even when empty (serve/archive.py)
    links: tuple[tuple[str, str], ...] = ()
    dirs: tuple[str, ...] = ()
    #: the daemon's networks as the container sees them when a command runs (netview.py); by default a
    #: container alone on its loopback
    net: Callable[[], NetView] = field(default=lambda: LOOPBACK_ONLY, compare=False)
    #: the Unix time of an instant given in seconds after the process started, on the API's clock (``date``;
    #: serve/views.py ``epoch``: a simulated second lasts 1/``--speed`` there)
    unix_time: Callable[[float], float] = field(default=float, compare=False)

    @property
    def ids(self) -> tuple[int | None, int]:
        """(uid, gid) of ``user``: root for root or empty; a number's gid 0 when not given (runc, for a user
        not in the image's /etc/passwd); None for a name other than root (the image's passwd is not modelled)."""
        name, _, group = self.user.partition(":")
        gid = int(group) if group.isdigit() else 0
        if name in ("", "root", "0"):
            return 0, gid
        return (int(name), gid) if name.isdigit() else (None, gid)

    def environ(self) -> dict[str, str]:
        """The process's environment in Docker's order (moby ``container.CreateDaemonEnvironment``): PATH and
        HOSTNAME, TERM=xterm with a TTY, then Config.Env replacing those or appended (a name without ``=``
        removes it); HOME last, as runc sets it when unset: /root for root, / for a user not in passwd."""
        env = {"PATH": DEFAULT_PATH, "HOSTNAME": self.hostname} | ({"TERM": "xterm"} if self.tty else {})
        for item in self.env:
            name, equals, value = item.partition("=")
            if equals:
                env[name] = value  # a dict keeps an existing name's place: replaced in place, else appended
            else:
                env.pop(name, None)
        env.setdefault("HOME", "/root" if self.ids[0] == 0 else "/")
        return env


class ShellFiles:
    """The container's files as the commands of one process see them: their contents by path, and which ones
    this process wrote (``Program.files``)."""

    def __init__(self, content: dict[str, bytes], links: Mapping[str, str] | None = None,
                 dirs: Collection[str] = ()) -> None:
        self.content = content
        self.links = links or {}
        self.dirs = dirs
        self.written: dict[str, None] = {}

    @classmethod
    def of(cls, context: Context) -> ShellFiles:
        return cls(dict(context.files), dict(context.links), frozenset(context.dirs))

    def real(self, path: str) -> str:
        """The path an open of ``path`` reaches: through the container's symbolic links (fs_links.py)."""
        if not self.links:
            return path
        try:
            return resolve(path, self.links)
        except TooManyLinks:
            return path

    def read(self, path: str) -> bytes | None:
        """The contents of the file at ``path`` (through links), None when they are not modelled."""
        return self.content.get(self.real(path))

    def is_dir(self, path: str) -> bool:
        """A directory kept or implied by the files (through links)."""
        real = self.real(path)
        return real in self.dirs or any(known.startswith(real + "/") for known in self.content)

    def truncate(self, path: str) -> None:
        path = self.real(path)
        self.content[path] = b""
        self.written[path] = None

    def append(self, path: str, data: bytes) -> None:
        path = self.real(path)
        self.content[path] = self.content.get(path, b"") + data
        self.written[path] = None

    def result(self) -> tuple[tuple[str, bytes], ...]:
        return tuple((path, self.content[path]) for path in self.written)


def config_context(config: Mapping[str, Any], hostname: str) -> Context:
    """What a container's commands can print, from its config (the API's Config: Env, WorkingDir, User, Tty)."""
    return Context(hostname=hostname, env=tuple(config.get("Env") or ()), workdir=config.get("WorkingDir") or "/",
                   user=config.get("User") or "root", tty=bool(config.get("Tty")))


class ShellRun:
    """One shell's state while a script is interpreted: the clock, what was written, the last status."""

    def __init__(self, context: Context, stdin: bytes | None, env: dict[str, str] | None = None,
                 local: dict[str, str] | None = None, files: ShellFiles | None = None) -> None:
        """``env``: the exported variables (default: the container's environment); ``local``: the shell's
        others (PWD, and what a script assigns without exporting); ``files``: the container's files, shared
        by every shell of the process."""
        self.context = context
        self.stdin = stdin
        self.env = context.environ() if env is None else env
        self.local = {"PWD": context.workdir} if local is None else local
        self.files = ShellFiles.of(context) if files is None else files
        self.t = 0.0
        self.out: list[Write] = []
        self.status = 0
        self.exited = False
        self.known = True
        #: a line the last command goes on writing until the process ends (``ping`` without a count)
        self.repeat: Repeat | None = None
        #: the signals the running program handles (name -> "exit"), when a command installs handlers
        self.signals: dict[str, str] = {}

        #: the functions the script defined (name -> body) and the positional parameters $0, $1...
        self.functions: dict[str, list[Node]] = {}
        self.arg0 = "sh"
        self.params: list[str] = []
        #: how many loops the running command is inside (``break N`` leaves at most that many)
        self.loops = 0
        #: each running function's ``local`` variables: name -> (the value before, whether it was exported)
        self.frames: list[dict[str, tuple[str | None, bool]]] = []
        #: where this command's streams go (a redirection: another stream, a file's path, or 0: nowhere)
        self.redirect: dict[int, int | str] = {STDOUT: STDOUT, STDERR: STDERR}

    def write(self, data: str, stream: int = STDOUT) -> None:
        target = self.redirect.get(stream, stream)
        if not data:
            return
        if isinstance(target, str):
            self.files.append(target, data.encode())
        elif target:
            self.out.append(Write(self.t, target, data.encode()))

    def lookup(self, name: str) -> str | None:
        """A variable, or a positional parameter: ``0``-``9``..., ``#``, and ``@``/``*`` (the parameters apart by
        NUL, which no argument can hold: shell_words.expand joins them; None when there are none)."""
        if name.isdigit():
            return self.arg0 if name == "0" else (self.params[int(name) - 1] if int(name) <= len(self.params) else None)
        if name == "#":
            return str(len(self.params))
        if name in ("@", "*"):
            return "\0".join(self.params) if self.params else None
        return self.env[name] if name in self.env else self.local.get(name)

    def subshell(self, stdin: bytes | None) -> ShellRun:
        """A child shell or a pipeline's stage: the exported variables, functions and parameters copied, the
        clock shared."""
        child = ShellRun(self.context, stdin, dict(self.env), {"PWD": self.context.workdir}, self.files)
        child.t = self.t
        child.functions, child.arg0, child.params = dict(self.functions), self.arg0, list(self.params)
        return child

    def make_local(self, word: str) -> None:
        """``local NAME[=value]``: NAME is restored when the function returns (busybox ash's mklocal: without
        a value it keeps the one it has; declared twice, the first declaration's value is the one restored)."""
        name, equals, value = word.partition("=")
        frame = self.frames[-1]
        if name not in frame:
            frame[name] = (self.lookup(name), name in self.env)
        if equals:
            self.assign(name, value)

    def restore_locals(self) -> None:
        """The function returned: its ``local`` variables take their values from before the call again."""
        for name, (value, exported) in self.frames.pop().items():
            self.env.pop(name, None)
            self.local.pop(name, None)
            if value is not None:
                (self.env if exported else self.local)[name] = value

    def assign(self, name: str, value: str) -> None:
        """``NAME=value``: an exported variable stays exported."""
        if name in self.env:
            self.env[name] = value
        else:
            self.local[name] = value


class FunctionReturn(Exception):
    """``return N``: the function (or, outside one, the script) ends with status N."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class LoopJump(Exception):
    """``break N`` / ``continue N``: ``count`` enclosing loops left (the last one continued, for continue)."""

    def __init__(self, kind: str, count: int) -> None:
        super().__init__(kind, count)
        self.kind, self.count = kind, count
