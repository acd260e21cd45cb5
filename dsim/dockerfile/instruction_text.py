"""How a planned instruction reads: the one-line text of a step as ``dsim dockerfile plan`` and the build's
spans show it, with values after substitution and heredoc markers recognised.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from dsim.dockerfile.parse import Instruction, arguments_text

__all__ = ["heredoc_name", "join_instruction", "show_value", "trigger_text"]


def heredoc_name(word: str) -> str | None:
    """The name of a heredoc marker (``<<EOF``, ``<<-EOF``, ``<<"EOF"``), or None for an ordinary word."""
    match = re.match(r"^<<-?(['\"]?)([^'\"]+)\1$", word)
    return match.group(2) if match else None


def show_value(value: str) -> str:
    """A value as it reads in an instruction: quoted when it is empty or holds whitespace or quotes."""
    if value == "" or re.search(r"[\s\"']", value):
        return json.dumps(value, ensure_ascii=False)
    return value


def join_instruction(cmd: str, flags: Sequence[str], words: Sequence[str], json_form: bool) -> str:
    """``CMD --flags words``: JSON (exec) form kept as a JSON array, empty words of the shell form dropped."""
    parts = [cmd, *flags]
    if json_form:
        parts.append(json.dumps(list(words), ensure_ascii=False))
    else:
        parts += [w for w in words if w != ""]
    return " ".join(parts)


def trigger_text(sub: Instruction) -> str:
    """An ONBUILD trigger as written (triggers are substituted only when a child stage runs them)."""
    return join_instruction(sub.cmd, sub.flags, (arguments_text(sub),), False)
