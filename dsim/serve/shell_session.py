"""An interactive shell in a container (``docker run -it alpine sh``, ``docker exec -it``): each command the
client types is run by commands.py's rules, with the shell's variables and the container's files kept from one
command to the next.

A command may take several lines, as busybox ash reads it (https://git.busybox.net/busybox/tree/shell/ash.c):
while the lines read end inside a command (a compound command not closed, an open quote or ``$(``, a last line
ending in a backslash, ``&&``, ``||`` or ``|``: commands.parse raises shell_words.Unfinished; a here-document
before its delimiter's line: shell_heredoc.body_open) the shell reads on,
writing its PS2 prompt ``> `` first on a terminal (ash's setprompt_if(needprompt, 2)), and runs them once whole;
a real syntax error (``done`` with no loop) fails at once. Ctrl-C drops the lines read (ash's raise_interrupt:
a new command, PS1, ``$?`` 130). The end of input inside a command is ash's syntax error for it (``unexpected end
of file (expecting "done")``, ``unterminated quoted string``), status 2: on a terminal (Ctrl-D on an empty line) the
shell then reads on, as an interactive ash does; at the end of its input it exits."""

from __future__ import annotations

import posixpath

from dsim.serve.commands import STDERR, STDOUT, Context, ShellFiles, ShellRun, Write, parse, run_script
from dsim.serve.shell_compound import Node
from dsim.serve.shell_heredoc import body_open, extract
from dsim.serve.shell_words import Unfinished, split_lists

#: busybox ash's PS2 (its varinit: "PS2=> "), bash's too
PS2 = b"> "


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
        #: the lines of a command not complete yet, and what joins the next line to them ("" after a backslash)
        self.pending: str | None = None
        self.glue = "\n"
        self.status = 0
        self.ended = False
        #: the shell's variables and the container's files, kept from one line to the next
        self.env = context.environ()
        self.local = {"PWD": context.workdir}
        self.files = ShellFiles.of(context)
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
            elif self.tty and char == b"\x03":  # SIGINT: ash's raise_interrupt sets $? to 128 + SIGINT
                self.line, self.pending, self.status = b"", None, 130
                out.append(Write(0.0, STDOUT, b"^C\r\n" + self.prompt.encode()))
            elif self.tty and char == b"\x04":
                if not self.line and self.pending is not None:
                    out += self._end_of_input()
                elif not self.line:
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
        out: list[Write] = []
        line = self.line.decode(errors="replace")
        if self.cat and line and not self.ended:
            out = self._line(line)
        elif not self.cat and not self.ended and (line or self.pending is not None):
            self.pending = line if self.pending is None else self.pending + self.glue + line
            out = self._end_of_input()
        self.ended = True
        return out

    def _line(self, line: str) -> list[Write]:
        if self.cat:
            return [Write(0.0, STDOUT, self._out(line + "\n"))]
        text = line if self.pending is None else self.pending + self.glue + line
        self.pending = None
        if _in_body(text):  # a here-document's lines go on as typed up to its delimiter's
            self.pending, self.glue = text, "\n"
        elif _continued(text):  # backslash-newline: both go, the line goes on (POSIX 2.2.1)
            self.pending, self.glue = text[:-1], ""
        elif _unfinished(text) is not None:
            self.pending, self.glue = text, "\n"
        else:
            return self._run(text)
        return [Write(0.0, STDOUT, PS2)] if self.prompt else []

    def _end_of_input(self) -> list[Write]:
        """The end of input with lines read: the command they make, or ash's syntax error for where it ends."""
        text, self.pending = self.pending or "", None
        said = _unfinished(text)
        if said is None:
            return self._run(text)
        self.status = 2
        return [Write(0.0, STDERR, self._out(f"sh: syntax error: {said}\n")),
                *([Write(0.0, STDOUT, self.prompt.encode())] if self.prompt else [])]

    def _run(self, text: str) -> list[Write]:
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


def _unfinished(text: str) -> str | None:
    """ash's syntax error for the end of input after ``text`` when it ends inside a command; None when it is whole
    or wrong anyway (run_script says how)."""
    try:
        parse(text)
    except Unfinished as err:
        return str(err)
    except ValueError:
        return None
    return None


def _in_body(text: str) -> bool:
    """Whether ``text`` ends inside a here-document (after its operator's line, before its delimiter)."""
    try:
        return body_open(text)
    except ValueError:  # wrong or unfinished before it: parse says how
        return False


def _continued(text: str) -> bool:
    """Whether the line ends in a backslash that escapes its newline (one in quotes leaves the quote open); the
    lines of here-documents are no commands."""
    try:
        items = split_lists(extract(text) + "\n")
    except ValueError:
        return False
    return bool(items) and items[-1][1][-1].endswith("\\\n")
