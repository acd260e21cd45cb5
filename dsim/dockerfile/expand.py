"""Variable substitution in one Dockerfile word, with BuildKit's rules (``frontend/dockerfile/shell``).

BuildKit expands ``$VAR``, ``${VAR}`` and the modifiers ``${VAR:-w}``, ``${VAR-w}``, ``${VAR:+w}``, ``${VAR+w}``,
``${VAR:?msg}``, ``${VAR?msg}``, ``${VAR#p}``, ``${VAR##p}``, ``${VAR%p}``, ``${VAR%%p}``, ``${VAR/p/r}`` and
``${VAR//p/r}`` in the arguments of FROM, ARG, ENV, LABEL, WORKDIR, COPY, ADD, USER, EXPOSE, VOLUME, STOPSIGNAL and
in RUN ``--mount`` options; it also removes quotes and honours the file's escape character (``\\`` or the
backquote). This is a re-implementation of those rules for single words, not a Dockerfile lexer: the file itself
is split into instructions and words by BuildKit's own parser (see :mod:`dsim.dockerfile.parse`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

__all__ = ["ExpansionError", "Expansion", "expand_word"]

_SPECIAL_PARAMS = frozenset("@*#?-$!0")


class ExpansionError(ValueError):
    """A malformed substitution (``${}``, ``${a``, ``${a:?must be set}``...), as BuildKit reports it."""


@dataclass
class Expansion:
    """The result of expanding one word: the text and the variable names it referred to."""

    text: str
    matched: set[str] = field(default_factory=set)
    unmatched: set[str] = field(default_factory=set)

    @property
    def referenced(self) -> set[str]:
        """Every name the word looked up, found or not."""
        return self.matched | self.unmatched


def expand_word(word: str, env: Mapping[str, str], *, escape: str = "\\",
                keep_unset: Callable[[str], bool] | None = None) -> Expansion:
    """Expand ``word`` against ``env`` as BuildKit's ``ProcessWord`` does.

    ``keep_unset(name)`` says whether an unset variable is kept literally (``$NAME``) instead of becoming empty:
    dsim uses it for variables a base image may define, whose values a static plan cannot know (BuildKit's own
    ``SkipUnsetEnv`` switch does the same).
    """
    scanner = _Scanner(word, env, escape, keep_unset)
    text = scanner.until(None, raw_escapes=False)
    return Expansion(text, scanner.matched, scanner.unmatched)


class _Scanner:
    """A cursor over one word; each method consumes what it expands."""

    def __init__(self, word: str, env: Mapping[str, str], escape: str,
                 keep_unset: Callable[[str], bool] | None) -> None:
        self.s = word
        self.pos = 0
        self.env = env
        self.escape = escape
        self.keep_unset = keep_unset
        self.matched: set[str] = set()
        self.unmatched: set[str] = set()

    def peek(self) -> str:
        return self.s[self.pos] if self.pos < len(self.s) else ""

    def next(self) -> str:
        ch = self.peek()
        if ch:
            self.pos += 1
        return ch

    def lookup(self, name: str) -> tuple[str, bool]:
        if name in self.env:
            self.matched.add(name)
            return self.env[name], True
        self.unmatched.add(name)
        return "", False

    def keep(self, name: str) -> bool:
        return self.keep_unset is not None and self.keep_unset(name)

    def until(self, stop: str | None, *, raw_escapes: bool) -> str:
        """Expand up to ``stop`` (consumed) or the end of the word; quotes are removed, escapes applied."""
        out: list[str] = []
        while self.pos < len(self.s):
            ch = self.peek()
            if stop is not None and ch == stop:
                self.pos += 1
                return "".join(out)
            if ch == "$":
                out.append(self.dollar())
            elif ch == "'":
                out.append(self.single_quoted())
            elif ch == '"':
                out.append(self.double_quoted(raw_escapes))
            else:
                self.pos += 1
                out.append(self.escaped(raw_escapes) if ch == self.escape else ch)
        if stop is not None:
            raise ExpansionError(f"unexpected end of statement while looking for matching {stop}")
        return "".join(out)

    def until_closed(self, stop: str, *, raw_escapes: bool, missing: str) -> str:
        """``until(stop)``, where a word that ends before ``stop`` is the syntax error ``missing``."""
        try:
            return self.until(stop, raw_escapes=raw_escapes)
        except ExpansionError:
            if not self.peek():
                raise ExpansionError(missing) from None
            raise

    def single_quoted(self) -> str:
        self.pos += 1
        end = self.s.find("'", self.pos)
        if end < 0:
            raise ExpansionError("unexpected end of statement while looking for matching single-quote")
        text = self.s[self.pos:end]
        self.pos = end + 1
        return text

    def double_quoted(self, raw_escapes: bool) -> str:
        self.pos += 1
        out: list[str] = []
        while True:
            ch = self.peek()
            if not ch:
                raise ExpansionError("unexpected end of statement while looking for matching double-quote")
            if ch == '"':
                self.pos += 1
                return "".join(out)
            if ch == "$":
                out.append(self.dollar())
                continue
            self.pos += 1
            out.append(self.escaped(raw_escapes, in_double_quotes=True) if ch == self.escape else ch)

    def escaped(self, raw_escapes: bool, *, in_double_quotes: bool = False) -> str:
        """What an escape character (just consumed) and the character after it stand for.

        Outside double quotes the escape makes the next character literal; inside them it escapes only ``"``,
        ``$`` and itself and otherwise stands for itself. With ``raw_escapes`` (patterns, which read escapes
        themselves) the escape character is kept in front.
        """
        kept = self.escape if raw_escapes else ""
        if in_double_quotes and self.peek() not in ('"', "$", self.escape):
            return kept + self.escape
        return kept + self.next()

    def name(self) -> str:
        """A variable name: digits only, one special parameter, or letters, digits and underscores."""
        start = self.pos
        first = self.peek()
        if first and unicodedata.category(first) == "Nd":
            while self.peek() and unicodedata.category(self.peek()) == "Nd":
                self.pos += 1
            return self.s[start:self.pos]
        if first in _SPECIAL_PARAMS and first:
            self.pos += 1
            return first
        while self.peek() and (self.peek().isalpha() or unicodedata.category(self.peek()) == "Nd"
                               or self.peek() == "_"):
            self.pos += 1
        return self.s[start:self.pos]

    def dollar(self) -> str:
        self.pos += 1
        if self.peek() != "{":
            name = self.name()
            if not name:
                return "$"
            value, found = self.lookup(name)
            if not found and self.keep(name):
                return "$" + name
            return value
        self.pos += 1
        if not self.peek():
            raise ExpansionError("syntax error: missing '}'")
        if self.peek() in "{}:":
            raise ExpansionError("syntax error: bad substitution")
        name = self.name()
        op = self.next()
        if op == "}":
            value, found = self.lookup(name)
            if not found and self.keep(name):
                return "${" + name + "}"
            return value
        if op == "/":
            return self.replace(name)
        null_is_unset = op == ":"
        if null_is_unset:
            op = self.next()
        ops = (":" if null_is_unset else "") + op
        word = self.until_closed("}", raw_escapes=op in ("#", "%"), missing="syntax error: missing '}'")
        value, found = self.lookup(name)
        if not found and self.keep(name):
            return "${" + name + ops + word + "}"
        empty = not found or (null_is_unset and value == "")
        if op == "-":
            return word if empty else value
        if op == "+":
            return "" if empty else word
        if op == "?":
            if not found or (null_is_unset and value == ""):
                default = "is not allowed to be unset" if not found else "is not allowed to be empty"
                raise ExpansionError(f"{name}: {word or default}")
            return value
        if op in ("#", "%"):
            greedy = word.startswith(op)
            if greedy:
                word = word[1:]
            if op == "%":
                return _trim_suffix(word, value, greedy)
            return _trim_prefix(word, value, greedy)
        raise ExpansionError(f"unsupported modifier ({ops}) in substitution")

    def replace(self, name: str) -> str:
        replace_all = self.peek() == "/"
        if replace_all:
            self.pos += 1
        pattern = self.until_closed("/", raw_escapes=True, missing="syntax error: missing '/' in ${}")
        replacement = self.until_closed("}", raw_escapes=True, missing="syntax error: missing '}'")
        value, found = self.lookup(name)
        if not found and self.keep(name):
            return "${" + name + "/" + ("/" if replace_all else "") + pattern + "/" + replacement + "}"
        regex = _pattern_regex(pattern, greedy=True, anchored=False)
        if replace_all:
            return regex.sub(lambda _m: replacement, value)
        match = regex.search(value)
        if match is None:
            return value
        return value[:match.start()] + replacement + value[match.end():]


def _pattern_regex(pattern: str, *, greedy: bool, anchored: bool) -> re.Pattern[str]:
    """A shell wildcard pattern (``*``, ``?``, backslash escapes; no brackets) as a regular expression."""
    out = ["^"] if anchored else []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        i += 1
        if ch == "*":
            out.append(".*" if greedy else ".*?")
        elif ch == "?":
            out.append(".")
        elif ch == "\\":
            if i < len(pattern) and pattern[i] in "}/":
                continue
            escaped = pattern[i] if i < len(pattern) else ""
            i += 1
            if escaped not in ("*", "?", "\\"):
                raise ExpansionError(f"invalid pattern ({pattern}) in substitution: invalid escape '\\{escaped}'")
            out.append(re.escape(escaped))
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out), re.DOTALL)


def _trim_prefix(pattern: str, value: str, greedy: bool) -> str:
    match = _pattern_regex(pattern, greedy=greedy, anchored=True).match(value)
    return value[match.end():] if match else value


def _reverse_pattern(pattern: str) -> str:
    """Reverse a pattern but keep each backslash escape in front of the character it escapes."""
    tokens: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern[i] == "\\" and i + 1 < len(pattern):
            tokens.append(pattern[i:i + 2])
            i += 2
        else:
            tokens.append(pattern[i])
            i += 1
    return "".join(reversed(tokens))


def _trim_suffix(pattern: str, value: str, greedy: bool) -> str:
    """Shortest/longest suffix removal, done as a prefix removal on the reversed value (as BuildKit does)."""
    return _trim_prefix(_reverse_pattern(pattern), value[::-1], greedy)[::-1]
