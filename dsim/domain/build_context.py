"""Build contexts as the docker CLI and BuildKit see them: ``.dockerignore`` patterns and COPY sources.

Pure functions on a context's file list (path -> size), shared by the loader (which checks every COPY
source before time 0) and the builder (which transfers and checksums the files at run time).

``.dockerignore`` follows moby/patternmatcher: patterns are cleaned paths without a leading ``/``;
``*`` matches within one path segment, ``?`` one character but ``/``, ``**`` any number of segments
(zero too); ``!`` re-includes; the last pattern that matches a file *or one of its parent directories*
decides. COPY sources follow BuildKit's copy: a source names a file, a directory (everything under it),
or a wildcard matched per segment as Go's ``filepath.Match`` does; ``.`` is the whole context.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache


def clean(path: str) -> str:
    """Go's ``filepath.Clean`` relative to the context root: ``./a//b/`` -> ``a/b``, ``/`` -> ``.``."""
    cleaned = posixpath.normpath("/" + path.strip()).lstrip("/")
    return cleaned or "."


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """moby/patternmatcher's translation of one cleaned pattern to an anchored regular expression."""
    out = "^"
    i = 0
    n = len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "*":
            if i + 1 < n and pattern[i + 1] == "*":
                i += 2
                if i < n and pattern[i] == "/":
                    i += 1
                out += ".*" if i >= n else "(.*/)?"
                continue
            out += "[^/]*"
        elif ch == "?":
            out += "[^/]"
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                out += re.escape(ch)
            else:
                body = pattern[i + 1:end]
                if body.startswith("^") or body.startswith("!"):
                    body = "^" + body[1:]
                out += "[" + body.replace("\\", "\\\\") + "]"
                i = end
        elif ch == "\\" and i + 1 < n:
            i += 1
            out += re.escape(pattern[i])
        else:
            out += re.escape(ch)
        i += 1
    return re.compile(out + "$")


@dataclass(frozen=True)
class IgnorePattern:
    text: str
    exclusion: bool
    regex: re.Pattern[str]


@lru_cache(maxsize=256)
def compile_dockerignore(patterns: tuple[str, ...]) -> tuple[IgnorePattern, ...]:
    """Parse ``.dockerignore`` lines: comments and blanks dropped, ``!`` marks a re-include."""
    compiled: list[IgnorePattern] = []
    for raw in patterns:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exclusion = line.startswith("!")
        if exclusion:
            line = line[1:].strip()
        cleaned = clean(line)
        compiled.append(IgnorePattern(cleaned, exclusion, _pattern_regex(cleaned)))
    return tuple(compiled)


def _parents(path: str) -> list[str]:
    """``a/b/c`` -> ``[a/b/c, a/b, a]``: the file, then each parent directory."""
    parts = path.split("/")
    return ["/".join(parts[:k]) for k in range(len(parts), 0, -1)]


def ignored(path: str, patterns: tuple[IgnorePattern, ...]) -> bool:
    """patternmatcher's MatchesOrParentMatches: the last pattern matching the path or a parent decides."""
    result = False
    candidates = _parents(path)
    for pattern in patterns:
        if any(pattern.regex.match(candidate) for candidate in candidates):
            result = not pattern.exclusion
    return result


def included(files: Mapping[str, float], dockerignore: Iterable[str]) -> dict[str, float]:
    """The files of a context that the client sends: everything ``.dockerignore`` does not exclude."""
    patterns = compile_dockerignore(tuple(dockerignore))
    if not patterns:
        return dict(files)
    return {path: size for path, size in files.items() if not ignored(path, patterns)}


def _segment_regex(segment: str) -> re.Pattern[str]:
    return _pattern_regex(segment)  # no ** inside one segment: * and ? stay within it


def has_wildcard(source: str) -> bool:
    return any(ch in source for ch in "*?[")


def match_source(source: str, files: Iterable[str]) -> list[str]:
    """The context files one COPY/ADD source selects: the file, everything under a directory, or the
    files (and directories' contents) its wildcards match segment by segment; ``.`` is everything."""
    src = clean(source)
    names = list(files)
    if src == ".":
        return sorted(names)
    if not has_wildcard(src):
        prefix = src + "/"
        return sorted(name for name in names if name == src or name.startswith(prefix))
    segments = [_segment_regex(part) for part in src.split("/")]
    chosen: list[str] = []
    for name in names:
        parts = name.split("/")
        if len(parts) < len(segments):
            continue
        if all(seg.match(part) for seg, part in zip(segments, parts, strict=False)):
            chosen.append(name)  # the match is the file itself or a directory it lies under
    return sorted(chosen)


def not_found_message(source: str) -> str:
    """BuildKit's error when a COPY source matches nothing (moby/buildkit, contenthash checksum)."""
    return (f'failed to compute cache key: failed to calculate checksum of ref: "/{clean(source)}": not found '
            "(the context has no such file, or .dockerignore excludes it)")
