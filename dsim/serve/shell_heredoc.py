"""Here-documents (``<<WORD``, ``<<-WORD``) and the ``read`` builtin that usually consumes them, as busybox ash
has them (https://git.busybox.net/busybox/tree/shell/ash.c: readtoken1, checkend, parseheredoc, parsefname;
shell/shell_common.c: shell_builtin_read) and POSIX specifies them
(https://pubs.opengroup.org/onlinepubs/9699919799/utilities/V3_chap02.html#tag_18_07_04).

A body is read before the script is cut into commands (:func:`extract`), since its lines are no commands: after
the line of the ``<<`` (the first newline outside quotes), up to a line equal to the delimiter (``<<-`` strips
the leading tabs of each line first), several in the order of their operators. The end of input ends a body whose
delimiter never comes, with no message (ash's readtoken1 ends the word at PEOF; dash does the same). The
operator becomes one word (:data:`MARKER`, the body hex-encoded, so no later reading of the script touches it);
:func:`here_input` turns it into the command's standard input when the command runs: a quoted delimiter
(``'EOF'``, ``"EOF"``, ``\\EOF``, ``E"O"F``) keeps the body as written, else its parameters, command
substitutions (``$(...)``, backquotes) and arithmetic expand, and a backslash escapes only ``$``, a backquote, a
backslash and a newline (ash reads an unquoted body as DQSYNTAX with ``"`` plain).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from dsim.serve.shell_state import STDERR, ShellRun
from dsim.serve.shell_words import Unfinished, closing, expand

#: the word a here-document becomes: then "x" (expand it), "q" (as written) or "n" (another descriptor than
#: the standard input: nothing reads it), "_", the body's UTF-8 in hex
MARKER = "__dsim_heredoc_"
#: the characters that end a here-document's delimiter word (ash's readtoken1: a blank or an operator)
_WORD_END = " \t\n;&|<>()"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class _Pending:
    """A here-document whose operator was read: its delimiter, whether it expands, strips tabs, feeds fd 0."""

    def __init__(self, delimiter: str, expands: bool, strip: bool, stdin: bool) -> None:
        self.delimiter, self.expands, self.strip, self.stdin = delimiter, expands, strip, stdin
        self.index = 0  # where its marker's body goes in the output


def extract(script: str) -> str:
    """The script with each here-document's operator, word and body replaced by its marker word."""
    return _extract(script)[0]


def body_open(script: str) -> bool:
    """Whether the script ends inside a here-document: its operator's line, or its body before the delimiter
    (an interactive shell then reads on, writing PS2)."""
    return _extract(script)[1]


def _extract(script: str) -> tuple[str, bool]:
    """The script with its markers, and whether it ends inside a here-document. Quotes, escapes, comments and
    arithmetic are skipped as the shell's lexer skips them: no ``<<`` there is an operator."""
    out: list[str] = []
    pending: list[_Pending] = []
    quote, i = "", 0
    while i < len(script):
        char = script[i]
        if quote:
            if char == "\\" and quote == '"':
                out.append(script[i:i + 2])
                i += 2
                continue
            quote = "" if char == quote else quote
        elif char == "\\":
            out.append(script[i:i + 2])
            i += 2
            continue
        elif char in "'\"":
            quote = char
        elif char == "#" and (not out or out[-1] in ("", " ", "\t", "\n", ";", "&", "|", "(", ")")):
            end = script.find("\n", i)  # a comment: dropped
            i = len(script) if end < 0 else end
            continue
        elif script.startswith("$((", i):  # arithmetic: its << is a shift
            end = closing(script, i + 2)
            out.append(script[i:end + 1])
            i = end + 1
            continue
        elif script.startswith("<<", i) and not script.startswith("<<<", i):
            i = _operator(script, i, out, pending)
            continue
        elif char == "\n" and pending:
            out.append(char)
            i = _bodies(script, i + 1, out, pending)
            pending = []
            if i < 0:
                return "".join(out), True
            continue
        out.append(char)
        i += 1
    opened = bool(pending)
    for here in pending:  # the end of input before the body's first line: an empty body
        out[here.index] = _marker(here, "")
    return "".join(out), opened


def _operator(script: str, i: int, out: list[str], pending: list[_Pending]) -> int:
    """``<<`` or ``<<-`` at ``i`` and its word: a placeholder for the marker in ``out``; where reading goes on."""
    fd = re.search(r"(?:^|(?<=[\s;&|()]))(\d+)$", script[:i])
    if fd:  # "0<<EOF": the descriptor's digits (one item of ``out`` each) are part of the operator
        del out[-len(fd.group(1)):]
    strip = script.startswith("<<-", i)
    i += 3 if strip else 2
    while i < len(script) and script[i] in " \t":
        i += 1
    word, quoted, i = _word(script, i)
    if not word and not quoted:
        if i >= len(script):
            raise Unfinished("unexpected end of file")
        raise ValueError("unexpected newline" if script[i] == "\n" else f'unexpected "{script[i]}"')
    here = _Pending(word, not quoted, strip, not fd or int(fd.group(1)) == 0)
    out.append(" ")
    here.index = len(out)
    out.append("")  # the marker, once the body is read
    out.append(" ")
    pending.append(here)
    return i


def _word(script: str, i: int) -> tuple[str, bool, int]:
    """The delimiter word at ``i``, its quotes removed (ash's rmescapes); whether any part was quoted; its end."""
    word: list[str] = []
    quoted = False
    while i < len(script) and script[i] not in _WORD_END:
        char = script[i]
        if char == "\\" and i + 1 < len(script):
            word.append(script[i + 1])
            quoted, i = True, i + 2
        elif char in "'\"":
            end = script.find(char, i + 1)
            end = len(script) if end < 0 else end
            word.append(script[i + 1:end])
            quoted, i = True, end + 1
        else:
            word.append(char)
            i += 1
    return "".join(word), quoted, i


def _bodies(script: str, i: int, out: list[str], pending: list[_Pending]) -> int:
    """The bodies of ``pending`` from ``i`` on, each up to its delimiter's line: where the script goes on after
    the last, or -1 when the input ended inside one."""
    for here in pending:
        lines: list[str] = []
        ended = False
        while i < len(script):
            line, end = _physical(script, i)
            i = end + 1
            if (line.lstrip("\t") if here.strip else line) == here.delimiter:
                ended = True  # ash's checkend compares the line as read, before any backslash-newline
                break
            while here.expands and _continues(line) and end < len(script):
                more, end = _physical(script, end + 1)  # a backslash-newline joins the next line (pgetc_eatbnl)
                line, i = line[:-1] + more, end + 1
            lines.append((line.lstrip("\t") if here.strip else line) + ("\n" if end < len(script) else ""))
        out[here.index] = _marker(here, "".join(lines))
        if not ended:
            for rest in pending[pending.index(here) + 1:]:
                out[rest.index] = _marker(rest, "")
            return -1
    return i


def _physical(script: str, i: int) -> tuple[str, int]:
    """The line that starts at ``i`` and where it ends (its newline, or the end of the script)."""
    end = script.find("\n", i)
    end = len(script) if end < 0 else end
    return script[i:end], end


def _continues(line: str) -> bool:
    """Whether the line ends in a backslash that escapes its newline (an odd number of them)."""
    return (len(line) - len(line.rstrip("\\"))) % 2 == 1


def _marker(here: _Pending, body: str) -> str:
    mode = ("x" if here.expands else "q") if here.stdin else "n"
    return f"{MARKER}{mode}_{body.encode().hex()}"


def here_input(run: ShellRun, words: list[str], substitute: Callable[[str], str]) -> tuple[list[str], bytes | None]:
    """The command's words without its here-documents' markers, and the standard input they give it (None: no
    here-document; the last one for fd 0 wins, as the last redirection does). An arithmetic error while a body
    expands ends the shell, status 2, as one in the command's words does."""
    kept: list[str] = []
    stdin: bytes | None = None
    for word in words:
        if not word.startswith(MARKER):
            kept.append(word)
            continue
        mode, _, encoded = word.removeprefix(MARKER).partition("_")
        body = bytes.fromhex(encoded).decode()
        if mode == "x":
            try:
                body = expand_body(body, run, substitute)
            except ValueError as err:
                run.write(f"sh: {err}\n", STDERR)
                run.status, run.exited = 2, True
                return [], None
        if mode != "n":
            stdin = body.encode()
    return kept, stdin


def expand_body(body: str, run: ShellRun, substitute: Callable[[str], str]) -> str:
    """An unquoted here-document's body expanded: read as the inside of double quotes in which ``"`` is a plain
    character (shell_words.expand does the expansions), then its escapes removed."""
    quoted = '"' + _as_double_quoted(body) + '"'
    expanded = expand(quoted, run.lookup, run.status, substitute)[1:-1]
    return re.sub(r'\\([\\"$`])', r"\1", expanded)


def _as_double_quoted(body: str) -> str:
    """The body as the text between double quotes that means the same: ``"`` and a lone backslash escaped,
    ``\\$``, ``\\```, ``\\\\`` and expansions kept, a backquoted command as ``$(...)``, ``$@`` as ``$*``."""
    out: list[str] = []
    i = 0
    while i < len(body):
        char = body[i]
        if char == "\\":
            escaped = i + 1 < len(body) and body[i + 1] in "$`\\"
            out.append(body[i:i + 2] if escaped else "\\\\")
            i += 2 if escaped else 1
            continue
        if body.startswith("$(", i):
            end = closing(body, i + 2)
            out.append(body[i:end + 1])
            i = end + 1
            continue
        if char == "`":
            end = _backquote_end(body, i + 1)
            inner = re.sub(r"\\([$`\\])", r"\1", body[i + 1:end])
            out.append(f"$({inner})")
            i = end + 1
            continue
        if char == '"':
            out.append('\\"')
        else:
            out.append("*" if char == "@" and body[i - 1:i] == "$" else char)
        i += 1
    return "".join(out)


def _backquote_end(text: str, i: int) -> int:
    """The backquote that closes one opened before ``i`` (a backslash escapes one); ash's parsebackq wants it."""
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == "`":
            return i
        i += 1
    raise ValueError('syntax error: unterminated quoted string')


def read_command(run: ShellRun, args: list[str], stdin: bytes | None) -> None:
    """busybox ash's ``read [-r] [-p PROMPT] [NAME...]``: one line of the standard input (the shell's own is
    consumed by it), split at blanks into the names, the last taking the rest (REPLY, unsplit, without names);
    without ``-r`` a backslash escapes the next character and a backslash-newline joins the next line. At the end
    of input before a newline: what was read is assigned and the status is 1."""
    raw = False
    while args and args[0].startswith("-") and len(args[0]) > 1:
        option, args = args[0], args[1:]
        raw = raw or "r" in option
        if option.endswith(("p", "t", "n", "u", "d")) and args:  # an option with a value (-p prompt)
            args = args[1:]
    bad = next((name for name in args if not _NAME.fullmatch(name)), None)
    if bad is not None:
        run.write(f"sh: read: '{bad}': bad variable name\n", STDERR)
        run.status = 1
        return
    text = (stdin or b"").decode(errors="replace")
    line, used, complete = _line(text, raw)
    if stdin is not None and stdin is run.stdin:
        run.stdin = text[used:].encode()
    _assign(run, args or ["REPLY"], line, split=bool(args), raw=raw)
    run.status = 0 if complete else 1


def _line(text: str, raw: bool) -> tuple[str, int, bool]:
    """The line read from ``text``: its characters (escapes removed unless ``raw``), how many characters it
    used, whether a newline ended it."""
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\" and not raw:  # a backslash at the end of input is lost
            if text[i + 1:i + 2] not in ("", "\n"):
                out.append("\\" + text[i + 1])  # kept escaped until split, which it protects from
            i += 2
            continue
        if char == "\n":
            return "".join(out), i + 1, True
        out.append(char)
        i += 1
    return "".join(out), i, False


def _assign(run: ShellRun, names: list[str], line: str, *, split: bool, raw: bool) -> None:
    """Each name its field of ``line`` (the last the rest, blanks around it removed); ``raw``: a backslash is
    a character, else it escaped the one after it."""
    fields = re.findall(r"[^ \t]+" if raw else r"(?:\\.|[^ \t\\])+", line) if split else [line]
    rest = line
    for index, name in enumerate(names):
        if index == len(names) - 1:
            value = rest.strip(" \t") if split else rest
        else:
            value = fields[index] if index < len(fields) else ""
            rest = rest.lstrip(" \t")[len(value):] if value else ""
        run.assign(name, value if raw else re.sub(r"\\(.)", r"\1", value))
