"""An interactive shell in a container (``docker run -it alpine sh``, ``docker exec -it``): each line the client
types is run by commands.py's rules, with the shell's variables and the container's files kept from one line to
the next."""

from __future__ import annotations

import posixpath

from dsim.serve.commands import STDOUT, Context, ShellFiles, ShellRun, Write, run_script
from dsim.serve.shell_compound import Node


class ShellSession:
    """An interactive shell (``docker run -it alpine sh``) or ``cat`` fed by the attach stream's standard
    input: each line is run by the rules above. With a TTY the terminal is in raw mode (the CLI's
    ``-t``): the session echoes what is typed, reads a line at carriage return, draws the prompt, and
    Ctrl-D on an empty line ends it, as a shell on a terminal does; without one, lines are read as sent.
    """

    def __init__(self, argv: list[str], context: Context, *, tty: bool) -> None:
        self.context = context
        self.tty = tty
        self.cat = bool(argv) and posixpath.basename(argv[-1]) == "cat"
        shell = posixpath.basename(argv[-1]) if argv else "sh"
        # busybox ash's PS1 on alpine is '\w # ', bash's default as root on Debian/Ubuntu '\u@\h:\w# '
        self.prompt = "" if self.cat or not tty else (
            f"{context.user}@{context.hostname}:{context.workdir}# " if shell == "bash" else f"{context.workdir} # ")
        self.line = b""
        self.status = 0
        self.ended = False
        #: the shell's variables and the container's files, kept from one line to the next
        self.env = context.environ()
        self.local = {"PWD": context.workdir}
        self.files = ShellFiles(dict(context.files))
        self.functions: dict[str, list[Node]] = {}
        #: seconds after the last input at which the shell exited (its last line's sleeps)
        self.exit_at = 0.0

    def take_files(self) -> tuple[tuple[str, bytes], ...]:
        """The files written since the last time they were taken (the container's layer gets them)."""
        written = self.files.result()
        self.files.written.clear()
        return written

    def begin(self) -> list[Write]:
        return [Write(0.0, STDOUT, self.prompt.encode())] if self.prompt else []

    def _out(self, data: str) -> bytes:
        return data.replace("\n", "\r\n").encode() if self.tty else data.encode()

    def feed(self, data: bytes) -> list[Write]:
        """Input from the client: what the process writes in answer (offsets from now); ``ended`` when the
        session is over (``exit``, end of input)."""
        out: list[Write] = []
        for byte in data:
            if self.ended:
                break
            char = bytes([byte])
            if self.tty and char in (b"\x7f", b"\x08"):
                if self.line:
                    self.line = self.line[:-1]
                    out.append(Write(0.0, STDOUT, b"\b \b"))
            elif self.tty and char == b"\x03":
                self.line = b""
                out.append(Write(0.0, STDOUT, b"^C\r\n" + self.prompt.encode()))
            elif self.tty and char == b"\x04":
                if not self.line:
                    out.append(Write(0.0, STDOUT, b"exit\r\n" if not self.cat else b""))
                    self.ended = True
            elif char in (b"\r", b"\n"):
                if self.tty:
                    out.append(Write(0.0, STDOUT, b"\r\n"))
                out += self._line(self.line.decode(errors="replace"))
                self.line = b""
            else:
                self.line += char
                if self.tty:
                    out.append(Write(0.0, STDOUT, char))
        return out

    def close(self) -> list[Write]:
        """The client closed its input (end of file): the shell runs what is left and exits."""
        out = self._line(self.line.decode(errors="replace")) if self.line and not self.ended else []
        self.ended = True
        return out

    def _line(self, text: str) -> list[Write]:
        if self.cat:
            return [Write(0.0, STDOUT, self._out(text + "\n"))]
        run = ShellRun(self.context, None, self.env, self.local, self.files)
        run.functions = self.functions
        run.status = self.status
        run_script(run, text)
        self.status = run.status
        writes = [Write(w.at, w.stream, self._out(w.data.decode(errors="replace"))) for w in run.out]
        if run.exited:
            self.ended = True
            self.exit_at = run.t
        elif self.prompt:
            writes.append(Write(run.t, STDOUT, self.prompt.encode()))
        return writes
