"""Pattern matching of a ``case`` command (POSIX 2.14.1, Patterns Matching a Single Character, and 2.14.2,
Patterns Matching Multiple Characters: https://pubs.opengroup.org/onlinepubs/9799919799/utilities/V3_chap02.html).

A pattern arrives as shell text already expanded (shell_words.expand, ``pattern`` rendering): what was quoted in
the script, or escaped with a backslash, matches itself; ``*``, ``?`` and bracket expressions left unquoted are
special. ``*`` matches ``/`` and a leading ``.`` too: those rules are pathname expansion's (2.14.3), not case's.
"""

from __future__ import annotations

import re

#: the character classes a bracket expression may name (``[[:digit:]]``), in the POSIX locale
_CLASSES = {
    "alnum": "a-zA-Z0-9", "alpha": "a-zA-Z", "blank": r" \t", "cntrl": r"\x00-\x1f\x7f", "digit": "0-9",
    "graph": r"!-~", "lower": "a-z", "print": r" -~", "punct": r"!-/:-@\[-`{-~", "space": r" \t\n\r\f\v",
    "upper": "A-Z", "xdigit": "0-9A-Fa-f",
}
#: the characters an unquoted expansion keeps special in a pattern (``p='a*'; case abc in $p)`` matches)
_SPECIAL = frozenset("*?[]!^-:")


def unquoted(text: str) -> list[tuple[str, bool]]:
    """``text``'s characters after quote removal, each with whether it was quoted (or escaped)."""
    out: list[tuple[str, bool]] = []
    quote, i = "", 0
    while i < len(text):
        char = text[i]
        if quote == "'":
            if char == "'":
                quote = ""
            else:
                out.append((char, True))
        elif quote == '"':
            if char == '"':
                quote = ""
            elif char == "\\" and i + 1 < len(text) and text[i + 1] in '"\\$`\n':
                i += 1
                out.append((text[i], True))
            else:
                out.append((char, True))
        elif char in "'\"":
            quote = char
        elif char == "\\" and i + 1 < len(text):
            i += 1
            out.append((text[i], True))
        else:
            out.append((char, False))
        i += 1
    return out


def as_pattern(value: str) -> str:
    """An unquoted expansion's value inside a pattern: its special characters stay special, the rest is
    escaped (so that blanks and quotes in it are plain characters)."""
    return "".join(char if char in _SPECIAL else "\\" + char for char in value)


def as_word(value: str) -> str:
    """An unquoted expansion's value in ``case``'s word: one word, not split into fields."""
    return "'" + value.replace("'", "'\"'\"'") + "'"


def matches(pattern: list[tuple[str, bool]], word: str) -> bool:
    """Whether ``word`` matches the whole ``pattern`` (:func:`unquoted` characters)."""
    try:
        return re.fullmatch(_regex(pattern), word, re.DOTALL) is not None
    except re.error:  # a range whose ends are out of order (``[z-a]``) matches nothing
        return False


def _regex(pattern: list[tuple[str, bool]]) -> str:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char, quoted = pattern[i]
        if not quoted and char == "*":
            out.append(".*")
        elif not quoted and char == "?":
            out.append(".")
        elif not quoted and char == "[" and (bracket := _bracket(pattern, i + 1)) is not None:
            regex, i = bracket
            out.append(regex)
            continue
        else:  # an unmatched "[" is an ordinary character (2.14.1)
            out.append(re.escape(char))
        i += 1
    return "".join(out)


def _bracket(pattern: list[tuple[str, bool]], start: int) -> tuple[str, int] | None:
    """The bracket expression opened just before ``start``: its regex and the index after its ``]``; None when
    no ``]`` closes it. ``!`` (and ``^``, as busybox and bash accept) first negates; ``]`` first is a member."""
    i = start
    negate = i < len(pattern) and not pattern[i][1] and pattern[i][0] in "!^"
    if negate:
        i += 1
    members: list[str] = []
    first = True
    while i < len(pattern):
        char, quoted = pattern[i]
        if char == "]" and not quoted and not first:
            return ("[^" if negate else "[") + "".join(members) + "]", i + 1
        first = False
        if char == "[" and not quoted and i + 1 < len(pattern) and pattern[i + 1] == (":", False):
            name = "".join(c for c, _ in pattern[i + 2:])
            end = name.find(":]")
            if end > 0 and name[:end] in _CLASSES:
                members.append(_CLASSES[name[:end]])
                i += 2 + end + 2
                continue
        if (i + 2 < len(pattern) and pattern[i + 1] == ("-", False) and pattern[i + 2] != ("]", False)):
            members.append(f"{re.escape(char)}-{re.escape(pattern[i + 2][0])}")
            i += 3
            continue
        members.append(re.escape(char))
        i += 1
    return None
