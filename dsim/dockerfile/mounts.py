"""``RUN --mount``: BuildKit's CSV grammar of a mount (``type=cache,target=/root/.cache,sharing=locked``), and the
mount as the planned step shows it.

The keys, their aliases and the checks follow BuildKit's ``frontend/dockerfile/instructions/commands_runmount.go``
(github.com/moby/buildkit).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Sequence

from dsim.dockerfile.plan_types import Mount
from dsim.dockerfile.scope import resolve_workdir
from dsim.errors import ScenarioError

__all__ = ["align_mounts", "mount_text", "parse_mount"]

_MOUNT_TYPES = ("bind", "cache", "tmpfs", "secret", "ssh")
_SHARING_MODES = ("shared", "private", "locked")  # a cache mount's sharing=; BuildKit's default is shared
_MOUNT_KEYS = {"type": "type", "from": "from", "source": "source", "src": "source", "target": "target",
               "dst": "target", "destination": "target", "readonly": "readonly", "ro": "readonly",
               "readwrite": "readwrite", "rw": "readwrite", "id": "id", "sharing": "sharing", "mode": "mode",
               "uid": "uid", "gid": "gid", "required": "required", "size": "size", "env": "env"}


def parse_mount(raw: str, *, workdir: str, expand: Callable[[str], str], stage_ref: Callable[[str], str | None],
                error: Callable[[str], ScenarioError]) -> Mount:
    """Parse one ``--mount`` value as BuildKit does.

    ``expand`` substitutes a value (every key but ``from=``, which BuildKit refuses to expand); ``stage_ref`` maps a
    ``from=`` value to the ref of the stage of that name (None: an image); ``error`` builds the error to raise.
    """
    try:
        fields = next(csv.reader([raw]))
    except (csv.Error, StopIteration):
        raise error(f"failed to parse csv mounts: {raw!r}") from None
    mtype = "bind"
    values: dict[str, str] = {}
    options: list[tuple[str, str]] = []
    readonly: bool | None = None
    for item in fields:
        key, eq, value = item.partition("=")
        key = key.lower()
        canonical = _MOUNT_KEYS.get(key)
        if canonical is None:
            raise error(f"unexpected key '{key}' in '{item}'")
        if not eq:
            if canonical == "readonly":
                readonly = True
            elif canonical == "readwrite":
                readonly = False
            elif canonical == "required" and mtype in ("secret", "ssh"):
                pass
            else:
                raise error(f"invalid field '{item}' must be a key=value pair")
            options.append((canonical, "true"))
            continue
        if canonical == "from":
            if re.search(r"\$.", value):
                raise error("'from' doesn't support variable expansion, define alias stage instead")
        else:
            value = expand(value)
        if canonical == "type":
            mtype = value.lower()
            if mtype not in _MOUNT_TYPES:
                raise error(f"unsupported mount type {value!r}")
        elif canonical == "sharing" and value.lower() not in _SHARING_MODES:
            raise error(f"unsupported sharing value {value!r}")
        elif canonical in ("readonly", "readwrite"):
            if value.lower() not in ("true", "false", "1", "0", "t", "f"):
                raise error(f"invalid value for {key}: {value}")
            flag = value.lower() in ("true", "1", "t")
            readonly = flag if canonical == "readonly" else not flag
        values[canonical] = value
        options.append((canonical, value))
    if "sharing" in values and mtype != "cache":
        raise error(f"invalid cache sharing set for {mtype} mount")
    if readonly is None:
        readonly = mtype not in ("cache", "tmpfs")
    target = values.get("target")
    if mtype in ("bind", "cache", "tmpfs"):
        # BuildKit mounts a relative (or missing) target under the working directory; "/" is refused
        target = resolve_workdir(workdir, target or "")
        if target == "/":
            raise error(f"invalid mount target {target!r}")
    from_value = values.get("from") or None
    from_is_stage = False
    if from_value is not None and mtype != "tmpfs":
        ref = stage_ref(from_value)
        if ref is not None:
            from_value, from_is_stage = ref, True
    mount_id = values.get("id") or (target if mtype == "cache" else None)
    return Mount(mtype, target, values.get("source"), from_value, from_is_stage, mount_id, readonly, tuple(options))


def align_mounts(shown: Sequence[str], mounts: Sequence[Mount]) -> list[Mount | None]:
    """Pair each shown flag with its mount (None for other flags), in order."""
    it = iter(mounts)
    return [next(it) if f.startswith("--mount=") else None for f in shown]


def mount_text(mount: Mount | None) -> str:
    """A mount's options after substitution, with boolean keys written bare (``readonly``, not ``readonly=true``)."""
    if mount is None:
        return ""
    return ",".join(k if v == "true" and k in ("readonly", "readwrite", "required") else f"{k}={v}"
                    for k, v in mount.options)
