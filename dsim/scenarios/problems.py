"""How the format names a problem's place: dotted field paths and "did you mean" hints."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from dsim.domain.problems import FieldPath


def dotted(path: FieldPath) -> str:
    """``('workloads', 'ci', 'steps', 0, 'pull')`` -> ``workloads.ci.steps[0].pull``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def unknown(kind: str, name: str, known: Iterable[str]) -> str:
    """``unknown registry 'mirorr' (did you mean 'mirror'?)``, or the known names when none is close."""
    names = list(known)
    close = difflib.get_close_matches(name, names, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else f" (known: {', '.join(names) or 'none'})"
    return f"unknown {kind} '{name}'{hint}"
