"""The client's copy of a build context: each file's size and content digest, as the CLI sees it."""

from __future__ import annotations

from collections.abc import Iterable

from dsim.domain.build_context import included, match_source
from dsim.domain.builds import BuildContext, op_digest_text
from dsim.domain.refs import sha256


class WorkingCopy:
    """A job's copy of a build context on the client: each file's size and content digest. Every job
    checks out the scenario's context afresh (same digests everywhere, as a CI checkout of one commit);
    ``edit`` gives files new content, seen only by this job."""

    def __init__(self, name: str, spec: BuildContext, job: int) -> None:
        self.name = name
        self.spec = spec
        self.job = job
        self.sizes: dict[str, float] = dict(spec.files)
        self.digests = {path: sha256(f"context\x00{name}\x00{path}\x00{size}") for path, size in self.sizes.items()}
        self.edits = 0
        self._included = included(self.sizes, spec.dockerignore)
        #: daemon host -> the files (path -> digest) BuildKit holds from an earlier sync of this copy
        self.synced: dict[str, dict[str, str]] = {}

    def edit(self, paths: Iterable[str]) -> None:
        for path in paths:
            self.edits += 1
            self.digests[path] = sha256(f"context\x00{self.name}\x00{path}\x00job {self.job}\x00edit {self.edits}")

    @property
    def included(self) -> dict[str, float]:
        """What the CLI sends: every file ``.dockerignore`` does not exclude."""
        return self._included

    def select(self, sources: Iterable[str]) -> list[str]:
        chosen: set[str] = set()
        for source in sources:
            chosen.update(match_source(source, self._included))
        return sorted(chosen)

    def checksum(self, paths: Iterable[str]) -> str:
        """BuildKit's content checksum of the files a step reads (content, not mtime)."""
        return sha256(op_digest_text([[path, self.digests[path]] for path in sorted(paths)]))


EMPTY_CONTEXT = BuildContext({})
