"""What a stage sees while it is planned: its variables (ENV and ARG), its working directory, and the draft
of the stage being assembled.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from dsim.dockerfile.expand import Expansion, expand_word
from dsim.dockerfile.parse import Instruction
from dsim.dockerfile.plan_types import Step

__all__ = ["DEFAULT_PATH", "Scope", "StageDraft", "resolve_workdir"]

#: The PATH BuildKit puts into a Linux stage whose image defines none (a ``scratch`` stage).
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass
class Scope:
    """Variables visible inside a stage: ENV values and ARG values, and which ARGs are declared."""

    escape: str
    env: dict[str, str] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    declared: list[str] = field(default_factory=list)
    image_env_unknown: bool = False
    workdir: str = "/"

    def copy(self) -> Scope:
        """A child stage starts from its base stage's final scope; its changes must not leak back."""
        return Scope(self.escape, dict(self.env), dict(self.kinds), list(self.declared), self.image_env_unknown,
                     self.workdir)

    def expand(self, word: str) -> Expansion:
        """Substitute variables in one word; names a base image may define stay literal when unknown."""
        declared = set(self.declared)
        keep = (lambda name: name not in declared) if self.image_env_unknown else None
        return expand_word(word, self.env, escape=self.escape, keep_unset=keep)

    def arg_uses(self, names: Iterable[str]) -> set[str]:
        """The names among ``names`` that refer to an ARG (not to an ENV of the same name)."""
        return {n for n in names if n in self.declared and self.kinds.get(n) != "env"}


@dataclass
class StageDraft:
    """A stage being assembled; turned into a frozen :class:`~dsim.dockerfile.plan_types.Stage` at the end."""

    index: int
    name: str | None
    from_ins: Instruction
    base: str = ""
    base_stage: int | None = None
    platform: str | None = None
    text: str = ""
    from_args_used: tuple[str, ...] = ()
    body: list[Instruction] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    triggers: list[Instruction] = field(default_factory=list)
    scope: Scope | None = None

    @property
    def ref(self) -> str:
        """How other instructions refer to the stage: its name, or its index when it has none."""
        return self.name if self.name is not None else str(self.index)


def resolve_workdir(current: str, path: str) -> str:
    """WORKDIR resolution: relative to the current directory; Windows drive letters and separators normalised."""
    p = path
    if re.match(r"^[A-Za-z]:", p):
        p = p[2:]
    p = p.replace("\\", "/")
    if not p.startswith("/"):
        p = posixpath.join(current or "/", p)
    out = posixpath.normpath(p)
    return "/" if out in ("", ".", "//") else out
