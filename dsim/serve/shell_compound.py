"""Compound commands of an ``sh -c`` script (POSIX 2.9.4): ``for``, ``while``, ``until`` and ``if``, grouped
from the lists shell_words.split_lists cut the script into (``while true; do echo hi; sleep 1; done`` is the
lists ``while true``, ``do echo hi``, ``sleep 1``, ``done``). commands.py runs what this returns.

A reserved word counts only as the first word of a list, as sh reads it. ``case``, functions and compound
commands inside a pipeline are not interpreted: such a script is a syntax error here (status 2), never
silently skipped (https://pubs.opengroup.org/onlinepubs/9799919799/utilities/V3_chap02.html, 2.9.4).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

Item = tuple[str, list[str]]

#: the reserved words of the compound commands interpreted here (and ``case``, refused)
_RESERVED = frozenset({"for", "while", "until", "if", "then", "elif", "else", "fi", "do", "done", "case", "esac"})
#: reserved words whose rest of the list is a command of the list they open (``do echo hi``)
_OPENING = frozenset({"while", "until", "if", "then", "elif", "else", "do"})
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


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


Node = Simple | ForLoop | WhileLoop | IfClause


def compound(items: Sequence[Item]) -> list[Node]:
    """The script's lists as commands, compound ones grouped; ValueError for a syntax error."""
    tokens = _separated(items)
    nodes, end = _block(tokens, 0, frozenset())
    if end < len(tokens):
        raise ValueError(f'unexpected "{_reserved(tokens[end])}"')
    return nodes


def _reserved(item: Item) -> str:
    """The reserved word an item starts with, or ''."""
    _, pipeline = item
    first = pipeline[0].split(None, 1)[0] if pipeline and pipeline[0].split() else ""
    return first if first in _RESERVED else ""


def _separated(items: Sequence[Item]) -> list[Item]:
    """Each opening reserved word its own item, the command after it the next (``do echo hi`` -> ``do``,
    ``echo hi``); a compound command inside a pipeline, or ``case``, is refused."""
    out: list[Item] = []
    for op, pipeline in items:
        word = _reserved((op, pipeline))
        if word and len(pipeline) > 1:
            raise ValueError(f'"{word}" inside a pipeline is not interpreted by dsim serve')
        if word == "case":
            raise ValueError('"case" is not interpreted by dsim serve')
        rest = pipeline[0].split(None, 1)[1].strip() if word and len(pipeline[0].split(None, 1)) > 1 else ""
        if word in _OPENING:
            out.append((op, [word]))
            if rest:
                out.append((";", [rest]))
        elif word in ("done", "fi", "esac") and rest:
            raise ValueError(f'"{word} {rest}": redirecting a compound command is not interpreted by dsim serve')
        else:
            out.append((op, pipeline))
    return out


def _block(tokens: list[Item], i: int, ends: frozenset[str]) -> tuple[list[Node], int]:
    """Commands from ``i`` up to (not including) a reserved word in ``ends``."""
    nodes: list[Node] = []
    while i < len(tokens):
        word = _reserved(tokens[i])
        if word in ends:
            return nodes, i
        node: Node
        if word == "for":
            node, i = _for(tokens, i)
        elif word in ("while", "until"):
            node, i = _while(tokens, i)
        elif word == "if":
            node, i = _if(tokens, i)
        elif word:
            raise ValueError(f'unexpected "{word}"')
        else:
            node, i = Simple(*tokens[i]), i + 1
        nodes.append(node)
    if ends:
        raise ValueError(f'unexpected end of script (expecting "{sorted(ends)[0]}")')
    return nodes, i


def _expect(tokens: list[Item], i: int, word: str) -> int:
    if i >= len(tokens) or _reserved(tokens[i]) != word:
        raise ValueError(f'expecting "{word}"')
    return i + 1


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
    return ForLoop(op, name, rest[2:].strip(), body), end + 1


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
        body, at = _block(tokens, _expect(tokens, at, "then"), frozenset({"elif", "else", "fi"}))
        branches.append((condition, body))
        if _reserved(tokens[at]) != "elif":
            break
    otherwise: list[Node] = []
    if _reserved(tokens[at]) == "else":
        otherwise, at = _block(tokens, at + 1, frozenset({"fi"}))
    return IfClause(op, branches, otherwise), _expect(tokens, at, "fi")
