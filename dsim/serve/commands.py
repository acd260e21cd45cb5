"""What a container's process does, decided from its command line (the image's program is never run).

``docker run alpine echo hi`` must print ``hi`` and exit 0; ``sh -c 'exit 3'`` exits 3; ``sleep 5`` sleeps
five simulated seconds. :func:`interpret` reads the effective command (Entrypoint + Cmd) as a POSIX shell
would and returns a :class:`Program`: how long it runs, its exit code, and what it writes when. The rules
(POSIX utilities, https://pubs.opengroup.org/onlinepubs/9799919799/idx/utilities.html):

- ``echo`` (``-n``), ``printf`` (``%s %d %%``, ``\\n \\t``, the format reused while arguments remain) write and
  exit 0; ``true``/``:`` exit 0, ``false`` 1; ``exit N`` ends the shell with N (mod 256); ``sleep N``
  (``s m h d`` suffixes, several add up, ``infinity``) takes N seconds; ``cat`` copies its standard input
  (closed in a container run without ``-i``: nothing, exit 0) and the files commands wrote (``> FILE``,
  ``>> FILE``: Program.files, the container's layer); an image's own files' contents are not modelled
  (nothing is printed), but the files dockerd writes are (/etc/hosts, /etc/hostname). ``hostname`` (``-i``),
  ``whoami``, ``id``, ``pwd``, ``uname``, ``env``/``printenv``, ``date`` print the container's values, and
  ``ping`` reaches what its networks let it (utilities.py, ping.py, netview.py).
- ``sh -c SCRIPT`` (also ``bash``, ``/bin/sh``...): commands separated by ``;`` or newlines, ``&&``, ``||``
  and ``|`` (a pipeline's stages run together: it lasts as long as its longest stage, the last stage's
  output and exit code are its own); ``exec CMD`` runs CMD and ends the script; ``VAR=x`` assigns a
  variable, ``VAR=x CMD`` and ``env VAR=x CMD`` set it for CMD only, ``export`` and ``unset`` as in sh;
  parameters and command substitutions expand as each command is reached (shell_words.py). The environment
  is Docker's (:meth:`Context.environ`). ``for``, ``while``, ``until``, ``if`` and ``case`` (shell_compound.py) with
  ``test`` / ``[`` (shell_test.py); a loop that repeats itself exactly runs until stopped (:func:`_loop`);
  ``break N``, ``continue N``. Here-documents (``<<EOF``, ``<<-EOF``) are the standard input of the command
  or compound command they follow, which ``cat``, ``read`` and ``sh`` read (shell_heredoc.py).
  Functions (``f() { ...; }``) run in the shell with their arguments as ``$1``...; ``return N``, ``shift N``,
  ``local``.
- A shell with no ``-c`` reads commands from its standard input: closed (no ``-i``), it exits 0 at once
  (``docker run alpine`` does); open (``-i``, ``-it``), it is an interactive session (shell_session.py).
- Entrypoint wrappers (``docker-entrypoint.sh``, ``tini``, ``dumb-init``) run the command they are given.
- A program dsim does not know: given on the command line, it does nothing and exits 0 at once (the
  labels ``dsim.duration``/``dsim.exit_code`` say otherwise); the image's own default program (nginx,
  redis, postgres) is the service the image exists for: it runs until stopped (postgres's entrypoint first wants
  a password: :data:`POSTGRES_NO_PASSWORD`).

Signals: a process is PID 1 of its container, and Linux delivers to PID 1 only the signals it installed a
handler for (https://docs.docker.com/reference/cli/docker/container/run/#foreground, "A process running as
PID 1 inside a container is treated specially by Linux: it ignores any signal with the default action").
The shells and utilities above install none: ``docker stop`` of ``sleep 60`` waits the stop timeout and
kills (exit 137). Servers handle SIGTERM; nginx also handles HUP (reload its configuration), USR1 (reopen
logs), USR2 and WINCH (binary upgrade, worker shutdown), and exits on TERM, INT and QUIT
(https://nginx.org/en/docs/control.html).
"""

from __future__ import annotations

import math
import posixpath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial

from dsim.serve import utilities
from dsim.serve.shell_compound import (
    CaseClause,
    ForLoop,
    FunctionDef,
    Group,
    IfClause,
    Node,
    Redirected,
    WhileLoop,
    compound,
)
from dsim.serve.shell_heredoc import extract, here_input, read_command
from dsim.serve.shell_pattern import as_pattern, as_word, matches, unquoted
from dsim.serve.shell_state import (
    DEFAULT_PATH,
    STDERR,
    STDOUT,
    Context,
    FunctionReturn,
    LoopJump,
    Repeat,
    ShellFiles,
    ShellRun,
    Write,
    config_context,
)
from dsim.serve.shell_test import test_command
from dsim.serve.shell_words import expand, joined, split_lists, words

__all__ = ["DEFAULT_PATH", "STDERR", "STDOUT", "Context", "Program", "ShellFiles", "ShellRun", "Write",
           "config_context", "interpret", "run_script", "signal_name", "valid_signal"]

SHELLS = frozenset({"sh", "bash", "ash", "dash", "zsh", "busybox"})
WRAPPERS = frozenset({"docker-entrypoint.sh", "entrypoint.sh", "tini", "dumb-init"})
#: a shell killed by SIGSEGV (128 + 11): its stack overflowed (run_script)
SEGFAULT_STATUS = 139
#: Servers and the signals they handle: "exit" ends the process (after its stop time), "keep" is handled
#: without exiting (nginx.org/en/docs/control.html for nginx; the others end on TERM/INT/QUIT).
SERVER_SIGNALS: dict[str, dict[str, str]] = {
    "nginx": {"TERM": "exit", "INT": "exit", "QUIT": "exit", "HUP": "keep", "USR1": "keep", "USR2": "keep",
              "WINCH": "keep"},
    "redis-server": {"TERM": "exit", "INT": "exit"},
    "postgres": {"TERM": "exit", "INT": "exit", "QUIT": "exit", "HUP": "keep"},
}
_SUFFIX = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
#: The postgres image's entrypoint refuses to initialise a database without a superuser password, unless every
#: connection is trusted (docker-library/postgres docker-entrypoint.sh, ``docker_verify_minimum_env``).
POSTGRES_NO_PASSWORD = """\
Error: Database is uninitialized and superuser password is not specified.
       You must specify POSTGRES_PASSWORD to a non-empty value for the
       superuser. For example, "-e POSTGRES_PASSWORD=password" on "docker run".

       You may also use "POSTGRES_HOST_AUTH_METHOD=trust" to allow all
       connections without a password. This is *not* recommended.

       See PostgreSQL documentation about "trust":
       https://www.postgresql.org/docs/current/auth-trust.html
"""
#: a server's options that print something (its version, a configuration test, its usage) and exit instead of
#: serving: nginx -v -V -t -T -h -? (nginx.org/en/docs/switches.html), redis-server and postgres --version, --help
_INFORMATION = frozenset({"-v", "-V", "-t", "-T", "-h", "-?", "--version", "--help"})


@dataclass(frozen=True)
class Program:
    """What one run of the process does."""

    #: seconds it runs (inf: until stopped, or until its standard input ends when ``reads_stdin``)
    duration: float
    exit_code: int
    output: tuple[Write, ...] = ()
    #: an interactive shell or ``cat`` with ``-i``: its life is its standard input (ShellSession)
    reads_stdin: bool = False
    #: a command dsim knows (False: the documented default applied)
    known: bool = True
    #: signal name (no SIG) -> "exit" | "keep"; absent: PID 1 ignores it. KILL always ends it.
    signals: Mapping[str, str] = field(default_factory=dict)
    #: files it wrote (a shell's ``> /path``, ``>> /path``), path -> their contents after it
    files: tuple[tuple[str, bytes], ...] = ()
    #: a line it goes on writing until it ends (``output`` holds what comes once)
    repeat: Repeat | None = None

    def reaction(self, signal: str) -> str:
        """What the process does on ``signal`` (``TERM``, ``SIGHUP``, ``9``): "exit", "keep" or "ignore"."""
        name = signal_name(signal)
        if name == "KILL":
            return "exit"
        return self.signals.get(name, "ignore")

    @property
    def handles_term(self) -> bool:
        return self.reaction("TERM") == "exit"


_NUMBERS = {"1": "HUP", "2": "INT", "3": "QUIT", "9": "KILL", "10": "USR1", "12": "USR2", "15": "TERM",
            "28": "WINCH"}


def signal_name(signal: str) -> str:
    """``SIGHUP``, ``hup``, ``1`` -> ``HUP``; empty -> ``KILL`` (docker kill's default)."""
    text = signal.strip().upper().removeprefix("SIG")
    return _NUMBERS.get(text, text) if text else "KILL"


#: Linux's signal names (signal(7)), without SIG
LINUX_SIGNALS = frozenset({"HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "IOT", "BUS", "FPE", "KILL", "USR1", "SEGV",
                           "USR2", "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU",
                           "URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "POLL", "PWR", "SYS"})


def valid_signal(signal: str) -> bool:
    """A name of signal(7) (with or without SIG, any case), RTMIN+n, or a number 1-64, as moby parses it."""
    text = signal.strip().upper().removeprefix("SIG")
    if text.isdigit():
        return 1 <= int(text) <= 64
    return text in LINUX_SIGNALS or bool(re.fullmatch(r"RTM(IN|AX)([+-]\d+)?", text))


#: where a redirection's output goes nowhere or to a stream, not into a file of the container's layer
_DEVICES = {"/dev/null": 0, "/dev/stdout": STDOUT, "/dev/stderr": STDERR}


def _duration(word: str) -> float | None:
    if word == "infinity":
        return math.inf
    found = re.fullmatch(r"(\d+(?:\.\d*)?|\.\d+)([smhd]?)", word)
    return float(found.group(1)) * _SUFFIX[found.group(2)] if found else None


_REDIRECT = re.compile(r"(?<![\w>])([12]?)>&([12])|(?<![\w>&])([12]?)>>?\s*([^\s;&|]+)")


def _mark_redirections(script: str) -> str:
    """``>&2``, ``2>&1``, ``>/dev/null``, ``2>> file`` as words the lexer keeps: a stream's marker, or a file's
    marker (``w`` truncates, ``a`` appends) followed by the file's name as its own word."""

    def mark(match: re.Match[str]) -> str:
        if match.group(2):
            return f" __dsim_to_{match.group(1) or 1}_{match.group(2)} "
        mode = "a" if ">>" in match.group(0) else "w"
        return f" __dsim_to_{match.group(3) or 1}_{mode} {match.group(4)} "

    return _REDIRECT.sub(mark, script)


def _redirect(run: ShellRun, words: list[str]) -> list[str]:
    """Set the command's redirections from its markers (a file is truncated now with ``>``, as sh opens it);
    returns its other words."""
    run.redirect = {STDOUT: STDOUT, STDERR: STDERR}
    kept: list[str] = []
    pending: tuple[int, str] | None = None
    for word in words:
        if pending is not None:
            source, mode = pending
            pending = None
            path = posixpath.normpath(posixpath.join(run.context.workdir, word))
            if path in _DEVICES:
                run.redirect[source] = run.redirect.get(_DEVICES[path], _DEVICES[path]) if _DEVICES[path] else 0
                continue
            if mode == "w":
                run.files.truncate(path)
            run.redirect[source] = path
        elif word.startswith("__dsim_to_"):
            stream, target = word.removeprefix("__dsim_to_").split("_")
            if target in ("w", "a"):
                pending = (int(stream), target)
            else:
                run.redirect[int(stream)] = run.redirect[int(target)]
        else:
            kept.append(word)
    return kept


def _simple(run: ShellRun, words: list[str], stdin: bytes | None, *, redirected: bool = False) -> None:
    """One simple command: updates the run's clock, output and status. ``redirected``: the command a wrapper,
    ``exec``, ``env`` or an assignment prefix runs, whose redirections are already set."""
    if not redirected:
        words, here = here_input(run, _redirect(run, words), partial(_output_of, run))
        if here is not None or run.exited:  # a here-document: the command's standard input, and the shell's
            _with_stdin(run, here, partial(_simple, run, words, here, redirected=True))
            return
    assignments: list[tuple[str, str]] = []
    while words and _ASSIGNMENT.fullmatch(words[0]):
        variable, _, value = words.pop(0).partition("=")
        assignments.append((variable, value))
    if not words:  # the shell's own variables
        for name, value in assignments:
            run.assign(name, value)
        run.status = 0
        return
    if assignments:  # VAR=x CMD: in CMD's environment only
        saved = dict(run.env)
        run.env.update(assignments)
        try:
            _simple(run, words, stdin, redirected=True)
        finally:
            run.env.clear()
            run.env.update(saved)
        return
    if words[0] in run.functions:
        _call(run, run.functions[words[0]], words[1:])
        return
    name, args = posixpath.basename(words[0]), words[1:]
    ctx = run.context
    previous, run.status = run.status, 0
    if name in WRAPPERS or name == "exec":
        if name == "tini" and args[:1] == ["--"]:
            args = args[1:]
        if name == "exec":
            run.exited = True
        if args and not args[0].startswith("-"):
            _simple(run, args, stdin, redirected=True)
        else:
            run.status = 0
        return
    if name == "env" and args and "=" in args[0]:
        _simple(run, args, stdin, redirected=True)
        return
    if name in SHELLS:
        if args[:1] == ["-c"] and len(args) > 1:
            inner = run.subshell(stdin)
            inner.functions, inner.arg0, inner.params = {}, args[2] if len(args) > 2 else words[0], args[3:]
            run_script(inner, args[1])
            run.t, run.status, run.known = inner.t, inner.status, run.known and inner.known
            run.out += inner.out
        elif stdin:
            inner = run.subshell(None)
            run_script(inner, stdin.decode(errors="replace"))
            run.t, run.status = inner.t, inner.status
            run.out += inner.out
        else:
            run.status = 0
        return
    if name == "echo":
        newline = "\n"
        while args and args[0] in ("-n", "-e", "-E", "-ne", "-en"):
            if "n" in args[0]:
                newline = ""
            args = args[1:]
        run.write(" ".join(args) + newline)
        run.status = 0
    elif name == "printf":
        utilities.printf(run, args)
    elif name in ("true", ":"):
        run.status = 0
    elif name == "false":
        run.status = 1
    elif name == "exit":
        code = re.fullmatch(r"-?\d+", args[0]) if args else None
        run.status = int(args[0]) % 256 if code else (2 if args else run.status)
        run.exited = True
    elif name in ("return", "shift", "break", "continue"):
        number = args[0] if args else (str(previous) if name == "return" else "1")  # return: the last status
        if not re.fullmatch(r"\d+", number) or (name in ("break", "continue") and int(number) == 0):
            run.write(f"sh: {name}: Illegal number: {number}\n", STDERR)  # ash's number(): a special builtin's
            run.status, run.exited = 2, True  # error, which ends the script
        elif name == "return":
            raise FunctionReturn(int(number) % 256)
        elif name in ("break", "continue"):  # busybox ash's breakcmd: at most the loops it is in; none: nothing
            if run.loops:
                raise LoopJump(name, min(int(number), run.loops))
        else:  # busybox ash's shiftcmd: more than there are is status 1, nothing shifted
            run.status = 1 if int(number) > len(run.params) else 0
            run.params = run.params if run.status else run.params[int(number):]
    elif name == "local":  # a special builtin in ash: its error ends a script
        if not run.frames:
            run.write("sh: local: not in a function\n", STDERR)
            run.status, run.exited = 2, True
        for word in args if run.frames else []:
            run.make_local(word)
    elif name == "sleep":
        times = [_duration(word) for word in args]
        if not args or any(t is None for t in times):
            run.write(f"sleep: invalid number '{args[0] if args else ''}'\n", STDERR)
            run.status = 1
        else:
            run.t += sum(t for t in times if t is not None)
            run.status = 0
    elif name == "cat":
        for arg in args or ["-"]:
            path = posixpath.normpath(posixpath.join(ctx.workdir, arg))
            if arg == "-" and stdin:
                run.write(stdin.decode(errors="replace"))
                run.stdin = b"" if stdin is run.stdin else run.stdin  # the shell's own input: read to its end
            elif arg != "-" and (held := run.files.read(path)) is not None:  # through links
                run.write(held.decode(errors="replace"))
            elif arg != "-" and (docker := utilities.docker_file(ctx, path)) is not None:
                run.write(docker)
            # any other file is the image's: cat ends, its contents are not modelled
        run.status = 0
    elif name == "hostname":
        utilities.hostname(run, args)
    elif name == "ping":
        utilities.ping_command(run, args)
    elif name == "date":
        utilities.date(run, args)
    elif name in ("whoami", "id"):
        utilities.identity(run, name, args)
    elif name == "read":
        read_command(run, args, stdin)
    elif name in ("test", "["):
        test_command(run, name, args)
    elif name == "pwd":
        run.write(ctx.workdir + "\n")
    elif name == "uname":
        utilities.uname(run, args)
    elif name in ("env", "printenv", "export", "unset"):
        utilities.variables(run, name, args)
    else:
        run.known = False
        run.status = 0


_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=.*", re.DOTALL)


def run_script(run: ShellRun, script: str) -> None:
    """Each list of the script (shell_words.split_lists) in turn, its commands expanded as they are reached;
    ``for``, ``while``, ``until``, ``if`` and ``case`` grouped first (shell_compound.py).

    A shell parses and runs nested commands and function calls on its C stack, with no limit of its own: a
    function calling itself without end (``f() { f; }; f``) overflows the stack and the shell dies of SIGSEGV,
    status 139 (128 + 11), with no message of its own. dsim's interpreter recurses on Python's stack the same
    way, so Python's recursion limit stands for the end of the shell's stack: the shell that hit it ends so."""
    try:
        try:
            nodes = parse(script)
        except ValueError as err:  # unbalanced quotes, a compound command not closed
            run.write(f"sh: syntax error: {err}\n", STDERR)
            run.status = 2
            return
        try:
            _run_nodes(run, nodes)
        except FunctionReturn as returned:  # outside a function: the rest of the script is skipped (ash's returncmd)
            run.status = returned.status
    except RecursionError:
        run.status, run.exited = SEGFAULT_STATUS, True


def parse(script: str) -> list[Node]:
    """The script's commands, all parsed before any runs, as a shell does; ValueError for a syntax error
    (shell_words.Unfinished when the script ends inside a command)."""
    items = split_lists(_mark_redirections(joined(extract(script))))
    for _, pipeline in items:
        for command in pipeline:
            words(command)  # quotes are checked too
    return compound(items)


def _call(run: ShellRun, body: list[Node], args: list[str]) -> None:
    """A function: its body in this shell with ``args`` as the positional parameters (restored after, $0 kept);
    its status the last command's or ``return``'s. The call's redirections (``f > file``) take its output."""
    redirect, written = dict(run.redirect), len(run.out)
    saved, run.params = run.params, list(args)
    run.frames.append({})
    try:
        _run_nodes(run, body)
    except FunctionReturn as returned:
        run.status = returned.status
    finally:
        run.params = saved
        run.restore_locals()
    if redirect != {STDOUT: STDOUT, STDERR: STDERR}:
        writes, run.out[written:] = run.out[written:], []
        now = run.t
        for write in writes:
            run.redirect, run.t = redirect, write.at
            run.write(write.data.decode(errors="replace"), write.stream)
        run.t = now


def _run_nodes(run: ShellRun, nodes: list[Node]) -> None:
    for node in nodes:
        if run.exited:
            return
        if (node.op == "&&" and run.status != 0) or (node.op == "||" and run.status == 0):
            continue
        if isinstance(node, ForLoop):
            values = words(expand(node.words, run.lookup, run.status, partial(_output_of, run)))
            run.status = 0
            for value in values:
                run.assign(node.name, value)
                if _turn(run, node.body) == "break" or run.exited:
                    break
        elif isinstance(node, WhileLoop):
            _loop(run, node)
        elif isinstance(node, IfClause):
            _run_nodes(run, _branch(run, node))
        elif isinstance(node, Group):
            _run_nodes(run, node.body)
        elif isinstance(node, Redirected):  # a compound command's here-documents: its standard input
            _, here = here_input(run, node.words.split(), partial(_output_of, run))
            _with_stdin(run, here, partial(_run_nodes, run, [node.node]))
        elif isinstance(node, FunctionDef):
            run.functions[node.name] = node.body
            run.status = 0
        else:
            substitute = partial(_output_of, run)
            try:
                if isinstance(node, CaseClause):
                    body = _case_body(run, node)
                else:
                    stages = [words(expand(command, run.lookup, run.status, substitute, assignments=True))
                              for command in node.pipeline]
            except ValueError as err:  # an arithmetic error ends a non-interactive shell with status 2
                run.write(f"sh: {err}\n", STDERR)
                run.status, run.exited = 2, True
                return
            if isinstance(node, CaseClause):
                run.status = 0  # no item matched, or its list is empty: 0
                _run_nodes(run, body)
            else:
                _pipeline(run, stages)


def _case_body(run: ShellRun, node: CaseClause) -> list[Node]:
    """The list of the first item with a pattern the word matches (POSIX 2.9.4.3): the word expanded without
    field splitting, each pattern in turn only until one matches, what was quoted in it matching itself."""
    substitute = partial(_output_of, run)
    word = "".join(char for char, _ in unquoted(expand(node.word, run.lookup, run.status, substitute, as_word)))
    for patterns, body in node.items:
        for pattern in patterns:
            if matches(unquoted(expand(pattern, run.lookup, run.status, substitute, as_pattern)), word):
                return body
    return []


def _branch(run: ShellRun, node: IfClause) -> list[Node]:
    """The commands an ``if`` runs: those of the first condition that succeeds, else the ``else`` part (its
    status 0 when there is none)."""
    for condition, body in node.branches:
        _run_nodes(run, condition)
        if run.exited:
            return []
        if run.status == 0:
            return body
    run.status = 0
    return node.otherwise


#: turns of a loop that has not settled into a steady state before dsim stops reading it (it then runs on)
MAX_TURNS = 10_000


def _loop(run: ShellRun, node: WhileLoop) -> None:
    """``while``/``until``: the condition, then the body, until the condition decides. A turn that leaves the
    shell's variables as the previous one did, taking as long and writing the same, repeats forever (``while
    true; do echo tick; sleep 1; done``): the loop then runs until the process is stopped, its writes a
    :class:`Repeat` of that turn's (joined at its first write), or nothing more when a turn takes no time."""
    status, previous = 0, None
    for _ in range(MAX_TURNS):
        began, written, state = run.t, len(run.out), (dict(run.env), dict(run.local), list(run.params), run.stdin)
        jump = _turn(run, node.condition)
        if run.exited or jump == "break":
            return
        if jump != "continue" and (run.status == 0) == node.until:
            run.status = status
            return
        jump = "continue" if jump == "continue" else _turn(run, node.body)
        status = run.status
        if run.exited or jump == "break":
            return
        turn = (run.t - began, [(w.at - began, w.stream, w.data) for w in run.out[written:]], state,
                (dict(run.env), dict(run.local), list(run.params), run.stdin))
        if previous is not None and turn[:2] == previous[:2] and turn[2] == turn[3] == previous[3]:
            _forever(run, began, written, turn[0])
            return
        previous = turn
    run.t = math.inf  # still turning: it goes on until stopped


def _turn(run: ShellRun, body: list[Node]) -> str:
    """A loop's condition or body: "break" when a ``break`` ends the loop, "continue" when a ``continue`` ends
    the turn, else "". A jump out of more loops goes on to the enclosing one."""
    run.loops += 1
    try:
        _run_nodes(run, body)
    except LoopJump as jump:
        if jump.count > 1:
            jump.count -= 1
            raise
        run.status = 0  # break's and continue's own status
        return jump.kind
    finally:
        run.loops -= 1
    return ""


def _forever(run: ShellRun, began: float, written: int, period: float) -> None:
    """The loop's last turn repeats until the process ends."""
    turn = run.out[written:]
    del run.out[written:]
    run.t = math.inf
    if period > 0 and turn:
        text = b"".join(w.data for w in turn if w.stream == turn[0].stream).decode(errors="replace")
        run.repeat = Repeat(turn[0].at, period, turn[0].stream, text)


def _with_stdin(run: ShellRun, stdin: bytes | None, command: Callable[[], None]) -> None:
    """``command`` with ``stdin`` (None: the same) as the shell's standard input, what is left of it dropped
    after; nothing when the shell exited meanwhile (an error in a here-document's expansion)."""
    saved, run.stdin = run.stdin, run.stdin if stdin is None else stdin
    try:
        if not run.exited:
            command()
    finally:
        run.stdin = saved


def _output_of(run: ShellRun, script: str) -> str:
    """A command substitution: ``script`` in a subshell; its time passes, its errors show, its output is the
    value."""
    inner = run.subshell(None)
    run_script(inner, script)
    run.t = inner.t
    run.out += [w for w in inner.out if w.stream == STDERR]
    return b"".join(w.data for w in inner.out if w.stream == STDOUT).decode(errors="replace")


def _pipeline(run: ShellRun, stages: list[list[str]]) -> None:
    """Stages run together: each reads the previous stage's output; the longest sets the end."""
    began, end, stdin = run.t, run.t, run.stdin
    for i, command in enumerate(stages):
        last = i == len(stages) - 1
        stage = run if last else run.subshell(None)
        stage.t = began
        try:
            _simple(stage, command, stdin)
        except FunctionReturn as returned:  # each stage of a pipeline runs in a subshell (ash forks them)
            if len(stages) == 1:
                raise
            stage.status = returned.status
        end = max(end, stage.t)
        if not last:
            stdin = b"".join(w.data for w in stage.out if w.stream == STDOUT)
            run.out += [w for w in stage.out if w.stream == STDERR]
            run.known = run.known and stage.known
    run.t = end


def interpret(argv: list[str], context: Context | None = None, *, default: bool = False,
              stdin_open: bool = False) -> Program:
    """The process of ``argv`` (Entrypoint + Cmd). ``default``: the image's own command (an unknown
    program is its service: it runs until stopped); ``stdin_open``: ``-i``, the standard input stays open."""
    context = context or Context()
    words = list(argv)
    while words and posixpath.basename(words[0]) in WRAPPERS and len(words) > 1 and not words[1].startswith("-"):
        words = words[1:]
    if words and posixpath.basename(words[0]) == "tini" and words[1:2] == ["--"]:
        words = words[2:]
    if not words:
        return Program(math.inf if default else 0.0, 0, known=False)
    name = posixpath.basename(words[0])
    if name in SERVER_SIGNALS:
        if _INFORMATION.intersection(words[1:]):  # nginx -v, -t; redis-server --version: it answers and exits
            return Program(0.0, 0, known=False)
        if name == "postgres" and argv and posixpath.basename(argv[0]) == "docker-entrypoint.sh":
            environ = context.environ()
            if not environ.get("POSTGRES_PASSWORD") and environ.get("POSTGRES_HOST_AUTH_METHOD") != "trust":
                return Program(0.0, 1, (Write(0.0, STDERR, POSTGRES_NO_PASSWORD.encode()),))
        return Program(math.inf, 0, signals=SERVER_SIGNALS[name])
    reads_stdin = stdin_open and ((name in SHELLS and "-c" not in words[1:2]) or (name == "cat" and len(words) == 1))
    if reads_stdin:
        return Program(math.inf, 0, reads_stdin=True)
    run = ShellRun(context, None)
    if name in SHELLS and words[1:2] == ["-c"] and len(words) > 2:
        run.arg0, run.params = words[3] if len(words) > 3 else words[0], words[4:]
        run_script(run, words[2])
    else:
        try:
            _simple(run, words, None)
        except FunctionReturn:  # a shell's builtin given as the program: no such program in the image
            run.known, run.status = False, 0
    if default and not run.known and not (name in SHELLS and words[1:2] == ["-c"]):
        return Program(math.inf, 0, known=False, signals={"TERM": "exit", "INT": "exit"})
    return Program(run.t, run.status, tuple(run.out), known=run.known, files=run.files.result(),
                   signals=run.signals, repeat=run.repeat)
