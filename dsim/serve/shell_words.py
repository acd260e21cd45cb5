"""A POSIX shell's reading of a script, as far as commands.py interprets one: the script cut into lists and
pipelines where ``;``, newlines, ``&``, ``&&``, ``||`` and ``|`` stand outside quotes, comments dropped, then, as
each command is reached, its parameters expanded and its words split.

Expansion follows the Shell Command Language
(https://pubs.opengroup.org/onlinepubs/9799919799/utilities/V3_chap02.html, 2.6): ``$NAME``, ``${NAME}``,
``${NAME:-word}``, ``${NAME-word}``, ``$?`` (the last status), ``$$`` (the shell's PID: 1, the container's
first process), the positional parameters (``$0``, ``$1``, ``${10}``, ``$#``, ``$*``, ``$@``: ``"$@"`` a word
each), the command substitution ``$(command)`` (its output less trailing newlines, 2.6.3) and the
arithmetic expansion ``$((expression))`` (integers: ``+ - * / %``, parentheses, variables read as integers, 2.6.4)
expand outside single quotes; an unquoted expansion is split into fields at blanks and an empty one disappears,
a double-quoted one stays one word. Backquotes and globbing are not modelled.
"""

from __future__ import annotations

import ast
import re
import shlex
from collections.abc import Callable, Mapping

#: ``$NAME``, ``${NAME}``, ``${NAME:-word}`` / ``${NAME-word}``, ``$?``, ``$$``, the positional ``$1``, ``${10}``,
#: ``$#``, ``$@``, ``$*``
_PARAMETER = re.compile(r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*|[0-9]+|[?$#@*])"
                        r"(?:(?P<colon>:?)-(?P<default>[^}]*))?\}"
                        r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<special>[?$#@*0-9]))")


#: ``case WORD`` (after any opening reserved words), where ash's parser skips newlines before ``in`` (its
#: parse_command reads TIN with CHKNL, https://git.busybox.net/busybox/tree/shell/ash.c)
_CASE_HEAD = re.compile(r"\s*(?:(?:then|else|do|\{|if|elif|while|until)\s+)*case\s+"
                        r"(?:[^\s'\"\\]|\\.|'[^']*'|\"(?:[^\"\\]|\\.)*\")+\s*", re.DOTALL)


#: the start of an assignment word, ``NAME=``
_ASSIGNMENT_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")


class Unfinished(ValueError):
    """The script ended inside a command: an open quote or ``$(``, a compound command not closed, a line ending in
    ``&&``, ``||`` or ``|``. The message is busybox ash's for the end of its input there (its parser's
    raise_error_unexpected_syntax and tokname_array, https://git.busybox.net/busybox/tree/shell/ash.c); an
    interactive shell reads more lines instead (shell_session.py)."""


def joined(script: str) -> str:
    """The script with each backslash-newline removed (a line continuation, POSIX 2.2.1), except inside single
    quotes (2.2.2) and comments: in double quotes too (2.2.3). A backslash escapes the character after it, so
    ``\\\\`` then a newline keeps the newline (ash's pgetc_eatbnl, https://git.busybox.net/busybox/tree/shell/ash.c);
    one at the end of the script stands for itself (ash's readtoken1 at PEOF)."""
    out: list[str] = []
    quote, i = "", 0
    while i < len(script):
        char = script[i]
        if char == "\\" and not quote and i + 1 == len(script):
            out.append("\\\\")
            break
        if char == "\\" and quote != "'" and i + 1 < len(script):
            if script[i + 1] != "\n":
                out.append(script[i:i + 2])
            i += 2
            continue
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (not out or out[-1][-1] in " \t\n;&|()"):
            end = script.find("\n", i)
            end = len(script) if end < 0 else end
            out.append(script[i:end])
            i = end
            continue
        out.append(char)
        i += 1
    return "".join(out)


def split_lists(script: str) -> list[tuple[str, list[str]]]:
    """The script as (the operator before it: ``;``, ``&&`` or ``||``; its pipeline's commands, unexpanded
    text). Raises Unfinished for an unclosed quote (ash's readtoken1: "unterminated quoted string")."""
    items: list[tuple[str, list[str]]] = []
    stages: list[str] = []
    text: list[str] = []
    op = ";"
    quote, i = "", 0
    while i < len(script):
        char = script[i]
        if quote:
            text.append(char)
            if char == "\\" and quote == '"' and i + 1 < len(script):
                text.append(script[i + 1])
                i += 1
            elif char == quote:
                quote = ""
        elif char == "\\" and i + 1 < len(script):
            text.append(script[i:i + 2])
            i += 1
        elif script.startswith("$(", i):  # a command substitution's operators are its own
            end = closing(script, i + 2)
            text.append(script[i:end + 1])
            i = end
        elif char in "'\"":
            quote = char
            text.append(char)
        elif char == "#" and (not text or text[-1] in " \t"):
            while i + 1 < len(script) and script[i + 1] != "\n":
                i += 1
        elif char == "\n" and _CASE_HEAD.fullmatch("".join(text)):  # case WORD, then newlines before "in"
            text.append(" ")
        elif char in ";\n&|":
            pair = script[i:i + 2]
            token = pair if pair in ("&&", "||", ";;") else char
            i += len(token) - 1
            if token in ("&&", "||", "|"):  # a linebreak may follow (POSIX 2.10.2: and_or AND_IF linebreak ...)
                after = _linebreak(script, i + 1)
                i = after - 1 if "\n" in script[i + 1:after] else i
            stages.append("".join(text))
            text = []
            if token != "|":
                items.append((op, stages))
                op, stages = (token if token in ("&&", "||") else ";"), []
            if token == ";;":  # the end of a case item: an item of its own (no command is the bare ";;")
                items.append((";", [";;"]))
        else:
            text.append(char)
        i += 1
    if quote:
        raise Unfinished("unterminated quoted string")
    if not "".join(text).strip() and (stages or op != ";"):  # the script ends after &&, || or |
        raise Unfinished("unexpected end of file")
    stages.append("".join(text))
    items.append((op, stages))
    return [(op, [s for s in stages if s.strip()]) for op, stages in items if any(s.strip() for s in stages)]


def _linebreak(script: str, i: int) -> int:
    """Where the blanks, newlines and comments from ``i`` on end."""
    while i < len(script) and script[i] in " \t\n#":
        if script[i] == "#":
            while i < len(script) and script[i] != "\n":
                i += 1
        else:
            i += 1
    return i


def expand(text: str, lookup: Callable[[str], str | None], status: int,
           substitute: Callable[[str], str] = lambda script: "", render: Callable[[str], str] | None = None,
           *, assignments: bool = False) -> str:
    """``text`` with its parameters replaced, quoted so that :func:`words` keeps an expansion in double quotes
    one word and splits an unquoted one into its fields; ``substitute`` runs a command substitution's script and
    returns its standard output; ``render`` quotes an unquoted expansion instead (``case`` splits no fields).
    ``assignments``: ``text`` is a simple command, whose leading ``NAME=value`` words split no fields (2.9.1)."""
    out: list[str] = []
    quote, i, opened = "", 0, 0
    word, prefix = 0, assignments  # where the word being read began; whether all before it were assignments

    def unquoted(value: str) -> str:
        if prefix and _ASSIGNMENT_WORD.match(text, word):
            return '"' + _in_double_quotes(value) + '"'
        return (render or _fields)(value)

    while i < len(text):
        char = text[i]
        if text.startswith("$(", i) and quote != "'":
            end = closing(text, i + 2)
            inner = text[i + 2:end]
            if text.startswith("$((", i) and inner.endswith(")"):
                value = str(_arithmetic(_PARAMETER.sub(lambda m: _value(m, lookup, status), inner), lookup))
            else:
                value = substitute(inner).rstrip("\n")
            out.append(_in_double_quotes(value) if quote == '"' else unquoted(value))
            i = end + 1
            continue
        found = _PARAMETER.match(text, i) if char == "$" and quote != "'" else None
        if found is not None:
            value = _value(found, lookup, status)
            i = found.end()
            if quote == '"' and (found.group("special") or found.group("braced")) == "@":
                # "$@": each parameter its own word; none, and "$@" alone, no word at all (2.5.2)
                parameters = lookup("@")
                if parameters is None and opened == len(out) and text.startswith('"', i):
                    out.pop()
                    quote, i = "", i + 1
                elif parameters is not None:
                    out.append('" "'.join(_in_double_quotes(part) for part in parameters.split("\0")))
                continue
            value = value.replace("\0", " ")  # $*, and $@ unquoted: joined by a space, IFS's first character
            out.append(_in_double_quotes(value) if quote == '"' else unquoted(value))
            continue
        out.append(char)
        if not quote and char in " \t\n":
            prefix = prefix and (word == i or bool(_ASSIGNMENT_WORD.match(text, word)))
            word = i + 1
        if char == "\\" and quote != "'" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 1
        elif quote and char == quote:
            quote = ""
        elif not quote and char in "'\"":
            quote, opened = char, len(out)
        i += 1
    return "".join(out)


_OPERATIONS: dict[type[ast.operator], Callable[[int, int], int]] = {
    ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
    # C's division and remainder, which sh uses: the quotient truncated toward zero
    ast.Div: lambda a, b: (abs(a) // abs(b)) * (1 if (a < 0) == (b < 0) else -1),
    ast.Mod: lambda a, b: a - b * ((abs(a) // abs(b)) * (1 if (a < 0) == (b < 0) else -1)),
}


def _arithmetic(expression: str, lookup: Callable[[str], str | None]) -> int:
    """An arithmetic expansion's value; ValueError for what sh calls a syntax error (or a division by zero)."""
    try:
        tree = ast.parse(expression.strip(), mode="eval").body
    except SyntaxError:
        raise ValueError(f"arithmetic syntax error: {expression.strip()}") from None
    return _evaluate(tree, lookup)


def _evaluate(node: ast.expr, lookup: Callable[[str], str | None]) -> int:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.Name):
        text = (lookup(node.id) or "0").strip()
        return int(text) if re.fullmatch(r"[+-]?\d+", text) else 0
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _evaluate(node.operand, lookup)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATIONS:
        left, right = _evaluate(node.left, lookup), _evaluate(node.right, lookup)
        if isinstance(node.op, ast.Div | ast.Mod) and right == 0:
            raise ValueError("arithmetic: division by zero")
        return _OPERATIONS[type(node.op)](left, right)
    raise ValueError("arithmetic syntax error")


def closing(text: str, start: int) -> int:
    """Where the ``)`` that closes a ``$(`` opened before ``start`` is (nested parentheses and quotes skipped; a
    ``case`` pattern's ``)`` between ``case`` and ``esac`` closes nothing). Raises Unfinished when there is none
    (ash's parsebackq wants the ``)``)."""
    depth, quote = 1, ""
    cases: list[int] = []  # the depth at which each open case was read
    for i in range(start, len(text)):
        char = text[i]
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif _reserved_at(text, i, "case", start):
            cases.append(depth)
        elif _reserved_at(text, i, "esac", start) and cases and cases[-1] == depth:
            cases.pop()
        elif char == "(":
            depth += 1
        elif char == ")" and not (cases and cases[-1] == depth):
            depth -= 1
            if depth == 0:
                return i
    raise Unfinished('unexpected end of file (expecting ")")')


def _reserved_at(text: str, i: int, word: str, start: int) -> bool:
    """Whether ``word`` stands at ``i`` as a word of its own (``case``, ``esac``)."""
    before = text[i - 1] if i > start else " "
    after = text[i + len(word)] if i + len(word) < len(text) else " "
    return text.startswith(word, i) and before in " \t\n;(&|" and after in " \t\n;)&|"


def words(text: str) -> list[str]:
    """The words of one expanded command, quotes removed."""
    lexer = shlex.shlex(_dollar_escapes(text), posix=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    return list(lexer)


def _dollar_escapes(text: str) -> str:
    """``text`` with the backslash of each ``\\$`` and ``\\``` between double quotes removed: there it escapes
    those too (POSIX 2.2.3), where shlex only knows ``\\"`` and ``\\\\``, and a lone ``$`` is a plain character."""
    out: list[str] = []
    quote, i = "", 0
    while i < len(text):
        char = text[i]
        pair = text[i:i + 2]
        if char == "\\" and quote != "'":
            out.append(pair[1:] if quote == '"' and pair[1:] in ("$", "`") else pair)
            i += 2
            continue
        if char in "'\"" and quote in ("", char):
            quote = "" if quote else char
        out.append(char)
        i += 1
    return "".join(out)


def _value(found: re.Match[str], lookup: Callable[[str], str | None], status: int) -> str:
    name = found.group("braced") or found.group("name") or found.group("special")
    if name == "?":
        return str(status)
    if name == "$":
        return "1"
    value = lookup(name)
    default = found.group("default")
    if default is not None and (value is None or (found.group("colon") and value == "")):
        return default
    return value or ""


def _in_double_quotes(value: str) -> str:
    return re.sub(r'(["\\$`])', r"\\\1", value)


def _fields(value: str) -> str:
    """An unquoted expansion: each field single-quoted (so nothing in it is read again), fields apart."""
    return " ".join("'" + field.replace("'", "'\"'\"'") + "'" for field in value.split())


def environment(env: Mapping[str, str]) -> list[str]:
    """``NAME=value`` lines in the environment's order."""
    return [f"{name}={value}" for name, value in env.items()]
