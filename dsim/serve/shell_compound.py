"""Compound commands of an ``sh -c`` script (POSIX 2.9.4): ``for``, ``while``, ``until``, ``if`` and ``case``,
grouped from the lists shell_words.split_lists cut the script into (``while true; do echo hi; sleep 1; done`` is
the lists ``while true``, ``do echo hi``, ``sleep 1``, ``done``). commands.py runs what this returns.

A reserved word counts only as the first word of a list, as sh reads it. A ``case`` item's ``;;`` is an item of
its own (shell_words.split_lists). A function definition ``NAME() COMPOUND`` (2.9.5) keeps its body, usually a
``{ ...; }`` group. Compound commands inside a pipeline are not interpreted: such a script is a syntax error here
(status 2), never silently skipped
(https://pubs.opengroup.org/onlinepubs/9799919799/utilities/V3_chap02.html, 2.9.4).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from dsim.serve.shell_heredoc import MARKER
from dsim.serve.shell_words import Unfinished, closing, split_lists

Item = tuple[str, list[str]]

#: the reserved words of the compound commands interpreted here
_RESERVED = frozenset({"for", "while", "until", "if", "then", "elif", "else", "fi", "do", "done", "case", "esac",
                       "{", "}"})
#: reserved words whose rest of the list is a command of the list they open (``do echo hi``)
_OPENING = frozenset({"while", "until", "if", "then", "elif", "else", "do", "{"})
#: the reserved words that end a list (ash's tokendlist, https://git.busybox.net/busybox/tree/shell/ash.c)
_CLOSING = frozenset({"then", "elif", "else", "fi", "do", "done", "esac", "}", ";;"})
#: the ends of the one list that may be empty: a case item's (ash reads it with list(2); the others with list(0),
#: whose first command may not be a closing word)
_MAY_BE_EMPTY = frozenset({";;", "esac"})
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: the reserved words a function's body may start with: a compound command (POSIX 2.9.5)
_BODIES = frozenset({"for", "while", "until", "if", "case", "{"})
#: the start of a function definition, ``NAME()``, and what follows it on its line
_FUNCTION = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*\(\s*\)(.*)", re.DOTALL)


@dataclass(frozen=True)
class Simple:
    """A pipeline: ``op`` the operator before it (``;``, ``&&``, ``||``)."""

    op: str
    pipeline: list[str]


@dataclass(frozen=True)
class ForLoop:
    """``for NAME in WORDS; do BODY; done`` (WORDS unexpanded)."""

    op: str
    name: str
    words: str
    body: list[Node]


@dataclass(frozen=True)
class WhileLoop:
    """``while COND; do BODY; done`` (``until``: while COND fails)."""

    op: str
    until: bool
    condition: list[Node]
    body: list[Node]


@dataclass(frozen=True)
class IfClause:
    """``if COND; then A; elif COND; then B; else C; fi``."""

    op: str
    branches: list[tuple[list[Node], list[Node]]]
    otherwise: list[Node]


@dataclass(frozen=True)
class CaseClause:
    """``case WORD in PATTERN|PATTERN) LIST;; ... esac`` (WORD and the patterns unexpanded)."""

    op: str
    word: str
    items: list[tuple[list[str], list[Node]]]


@dataclass(frozen=True)
class Group:
    """``{ LIST; }``: the list, in the current shell."""

    op: str
    body: list[Node]


@dataclass(frozen=True)
class FunctionDef:
    """``NAME() COMPOUND``: defines NAME (runs nothing)."""

    op: str
    name: str
    body: list[Node]


@dataclass(frozen=True)
class Redirected:
    """A compound command with here-documents after its closing word (``done <<EOF``): ``words`` their
    markers (shell_heredoc.py), its standard input each time it runs."""

    op: str
    node: Node
    words: str


Node = Simple | ForLoop | WhileLoop | IfClause | CaseClause | Group | FunctionDef | Redirected


def compound(items: Sequence[Item]) -> list[Node]:
    """The script's lists as commands, compound ones grouped; ValueError for a syntax error, Unfinished (one) when
    the script ends inside a compound command, with ash's words: ``unexpected end of file (expecting "done")``."""
    tokens = _separated(items)
    nodes, end = _block(tokens, 0, frozenset())
    if end < len(tokens):
        raise ValueError(f'unexpected "{_reserved(tokens[end])}"')
    return nodes


def _reserved(item: Item) -> str:
    """The reserved word an item starts with, or ''."""
    _, pipeline = item
    if pipeline == [";;"]:
        return ";;"
    if len(pipeline) == 1 and pipeline[0].endswith("()") and _NAME.fullmatch(pipeline[0][:-2]):
        return "()"  # a function definition's NAME() (:func:`_separated` made it)
    first = pipeline[0].split(None, 1)[0] if pipeline and pipeline[0].split() else ""
    return first if first in _RESERVED else ""


def _separated(items: Sequence[Item]) -> list[Item]:
    """Each opening reserved word its own item, the command after it the next (``do echo hi | cat`` -> ``do``,
    ``echo hi | cat``, itself read the same way); a compound command inside a pipeline is refused. A ``case``
    line stays whole: its ``|`` are its patterns' (:func:`_case` reads it)."""
    out: list[Item] = []
    pending = list(items)
    while pending:
        op, pipeline = pending.pop(0)
        word = _reserved((op, pipeline))
        rest = pipeline[0].split(None, 1)[1].strip() if word and len(pipeline[0].split(None, 1)) > 1 else ""
        if word in _OPENING:
            out.append((op, [word]))
            if not rest and len(pipeline) > 1:
                raise ValueError('unexpected "|"')
            if rest:
                pending.insert(0, (";", [rest, *pipeline[1:]]))
        elif word == "case":
            out.append((op, pipeline))
        elif not word and (function := _FUNCTION.fullmatch(pipeline[0])):
            out.append((op, [function.group(1) + "()"]))
            if not function.group(2).strip() and len(pipeline) > 1:
                raise ValueError('unexpected "|"')
            if function.group(2).strip():
                pending.insert(0, (";", [function.group(2).strip(), *pipeline[1:]]))
        elif word and len(pipeline) > 1:
            raise ValueError(f'"{word}" inside a pipeline is not interpreted by dsim serve')
        elif word in ("done", "fi", "esac", "}") and rest and not _here_documents(rest):
            raise ValueError(f'"{word} {rest}": redirecting a compound command is not interpreted by dsim serve')
        else:
            out.append((op, pipeline))
    return out


def _block(tokens: list[Item], i: int, ends: frozenset[str], wanted: str = "") -> tuple[list[Node], int]:
    """Commands from ``i`` up to (not including) a reserved word in ``ends`` (``wanted`` the one ash names when
    the script ends first; the first of ``ends`` by default)."""
    nodes: list[Node] = []
    while i < len(tokens):
        word = _reserved(tokens[i])
        if word in ends and (nodes or not ends.isdisjoint(_MAY_BE_EMPTY)):
            return nodes, i
        if word in _CLOSING and ends and (nodes or not ends.isdisjoint(_MAY_BE_EMPTY)):
            # ash's list() stops at it, then parse_command reads the wrong word
            raise ValueError(f'unexpected "{word}" (expecting "{wanted or sorted(ends)[0]}")')
        node: Node
        if word:
            node, i = _compound(tokens, i, word)
        else:
            node, i = Simple(*tokens[i]), i + 1
        nodes.append(node)
    if ends:
        raise Unfinished(f'unexpected end of file (expecting "{wanted or sorted(ends)[0]}")')
    return nodes, i


def _here_documents(text: str) -> bool:
    """Whether the words after a closing reserved word are here-documents only (a compound command's input)."""
    return all(word.startswith(MARKER) for word in text.split())


def _compound(tokens: list[Item], i: int, word: str) -> tuple[Node, int]:
    """The compound command (or function definition) that starts at ``i`` with the reserved ``word``, with
    the here-documents its closing word carries."""
    node, end = _bare_compound(tokens, i, word)
    closing_word = tokens[end - 1][1][0].split(None, 1)
    if isinstance(node, FunctionDef) or len(closing_word) < 2:
        return node, end
    return Redirected(node.op, node, closing_word[1]), end


def _bare_compound(tokens: list[Item], i: int, word: str) -> tuple[Node, int]:
    if word == "for":
        return _for(tokens, i)
    if word in ("while", "until"):
        return _while(tokens, i)
    if word == "if":
        return _if(tokens, i)
    if word == "case":
        return _case(tokens, i)
    if word == "{":
        body, end = _block(tokens, i + 1, frozenset({"}"}))
        return Group(tokens[i][0], body), end + 1
    if word == "()" and i + 1 < len(tokens) and _reserved(tokens[i + 1]) in _BODIES:
        body_node, end = _compound(tokens, i + 1, _reserved(tokens[i + 1]))
        return FunctionDef(tokens[i][0], tokens[i][1][0][:-2], [body_node]), end
    if word == "()" and i + 1 == len(tokens):
        raise Unfinished("unexpected end of file")  # ash's parse_command: any command would do
    if word == "()":
        raise ValueError(f'expecting a compound command after "{tokens[i][1][0]}"')
    raise ValueError(f'unexpected "{word}"')


def _expect(tokens: list[Item], i: int, word: str) -> int:
    if i >= len(tokens):
        raise Unfinished(f'unexpected end of file (expecting "{word}")')
    if _reserved(tokens[i]) != word:
        raise ValueError(f"unexpected {_token_name(tokens[i][1][0])} (expecting \"{word}\")")
    return i + 1


def _token_name(text: str) -> str:
    """How ash's raise_error_unexpected_syntax names the token ``text`` starts with (its tokname: a reserved
    word or operator quoted, else its kind: ``word``, ``redirection``)."""
    first = text.split(None, 1)[0] if text.split() else ""
    if first in _RESERVED or first in (";;", "in"):
        return f'"{first}"'
    return "redirection" if first.startswith("__dsim_to_") else "word"


def _for(tokens: list[Item], i: int) -> tuple[ForLoop, int]:
    op, pipeline = tokens[i]
    header = pipeline[0].split(None, 1)[1] if len(pipeline[0].split(None, 1)) > 1 else ""
    name, _, rest = header.strip().partition(" ")
    if not _NAME.fullmatch(name):
        raise ValueError(f'bad for loop variable "{name}"')
    rest = rest.strip()
    if rest and not (rest == "in" or rest.startswith("in ")):
        raise ValueError('expecting "in"')
    body, end = _block(tokens, _expect(tokens, i + 1, "do"), frozenset({"done"}))
    return ForLoop(op, name, rest[2:].strip() if rest else '"$@"', body), end + 1  # no "in": the parameters


def _while(tokens: list[Item], i: int) -> tuple[WhileLoop, int]:
    op = tokens[i][0]
    condition, at = _block(tokens, i + 1, frozenset({"do"}))
    body, end = _block(tokens, _expect(tokens, at, "do"), frozenset({"done"}))
    return WhileLoop(op, _reserved(tokens[i]) == "until", condition, body), end + 1


def _if(tokens: list[Item], i: int) -> tuple[IfClause, int]:
    op = tokens[i][0]
    branches: list[tuple[list[Node], list[Node]]] = []
    at = i
    while True:
        condition, at = _block(tokens, at + 1, frozenset({"then"}))
        body, at = _block(tokens, _expect(tokens, at, "then"), frozenset({"elif", "else", "fi"}), "fi")
        branches.append((condition, body))
        if _reserved(tokens[at]) != "elif":
            break
    otherwise: list[Node] = []
    if _reserved(tokens[at]) == "else":
        otherwise, at = _block(tokens, at + 1, frozenset({"fi"}))
    return IfClause(op, branches, otherwise), _expect(tokens, at, "fi")


def _scan(text: str, i: int, stops: str) -> int:
    """The index of the first character of ``stops`` from ``i`` on outside quotes, escapes and ``$(...)``
    (``len(text)`` when there is none)."""
    quote = ""
    while i < len(text):
        char = text[i]
        if quote:
            if char == "\\" and quote == '"':
                i += 1
            elif char == quote:
                quote = ""
        elif char == "\\":
            i += 1
        elif char in "'\"":
            quote = char
        elif text.startswith("$(", i):
            i = closing(text, i + 2)
        elif char in stops:
            return i
        i += 1
    return len(text)


def _case(tokens: list[Item], i: int) -> tuple[CaseClause, int]:
    """``case WORD in`` then items up to ``esac``: each ``PATTERN|PATTERN)`` and the list after it up to ``;;``
    (the last item may end at ``esac`` without one). The list's first command may follow the ``)`` on its line:
    it is cut off and read as a list of its own."""
    op, pipeline = tokens[i]
    header = "|".join(pipeline).strip()[len("case"):].lstrip()
    end = _scan(header, 0, " \t")
    word, rest = header[:end], header[end:].strip()
    if not word:
        raise ValueError('unexpected end of "case" (expecting a word)')
    at = i + 1
    if not rest and at >= len(tokens):
        raise Unfinished('unexpected end of file (expecting "in")')
    if not rest:  # the list ended after the word: ";", "&&", "||" where "in" is due
        raise ValueError(f'unexpected "{tokens[at][0]}" (expecting "in")')
    if rest != "in" and not rest.startswith(("in ", "in\t")):
        raise ValueError(f'unexpected {_token_name(rest)} (expecting "in")')
    if rest[2:].strip():
        tokens.insert(at, (";", [rest[2:].strip()]))
    items: list[tuple[list[str], list[Node]]] = []
    while True:
        if at >= len(tokens):  # ash reads a pattern next: it wants its ")"
            raise Unfinished('unexpected end of file (expecting ")")')
        if _reserved(tokens[at]) == "esac":
            return CaseClause(op, word, items), at + 1
        text = "|".join(tokens[at][1]).strip()
        start = 1 if text.startswith("(") else 0
        patterns: list[str] = []
        while True:
            stop = _scan(text, start, "|)")
            pattern = text[start:stop].strip()
            if pattern and _scan(pattern, 0, " \t") < len(pattern):  # a second word where ")" or "|" is due
                raise ValueError('unexpected word (expecting ")")')
            if stop == len(text) or not pattern:
                raise ValueError(f'unexpected "{text[stop:stop + 1] or text}" (expecting ")")')
            patterns.append(text[start:stop].strip())
            start = stop + 1
            if text[stop] == ")":
                break
        tokens[at:at + 1] = _separated(split_lists(text[start:])) if text[start:].strip() else []
        body, at = _block(tokens, at, frozenset({";;", "esac"}))
        items.append((patterns, body))
        if _reserved(tokens[at]) == ";;":
            at += 1
