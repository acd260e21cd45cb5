"""Variables in a Compose file (docs/compose.md, "Variables"): ``${VAR}`` and its forms, substituted before the
file is checked, from a compose step's ``env`` and the project's ``.env`` file, as Compose interpolates
(https://docs.docker.com/reference/compose-file/interpolation/; compose-go's ``template``, ``interpolation`` and
``dotenv`` packages).

- ``$VAR`` and ``${VAR}``: the value; ``${VAR:-word}`` word when VAR is unset or empty, ``${VAR-word}`` when
  unset; ``${VAR:+word}`` word when VAR is set and not empty (else nothing), ``${VAR+word}`` when set;
  ``${VAR:?message}`` an error when unset or empty, ``${VAR?message}`` when unset. ``word`` and ``message`` are
  substituted too (``${A:-${B}}``); ``$$`` is a ``$``; a ``$`` before anything else stays.
- Values are substituted, never keys; a value at a path Compose casts (``deploy.replicas``, ``healthcheck.retries``,
  ``ports[].target``, booleans such as ``external``) becomes the number or boolean it spells.
- Where the values come from: the step's ``env`` (the shell's environment, for ``docker compose``), then the
  ``.env`` file beside the compose file (its project directory). dsim reads no environment of its own: a scenario
  runs the same anywhere.
- A variable that is not set and has no default is an error here, where Compose warns and substitutes a blank
  string: a blank that changes an image's tag or a port silently is not something dsim lets pass.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from dsim.domain.problems import FieldPath
from dsim.errors import ScenarioError
from dsim.scenarios.yaml_positions import Positions, located_error

Lookup = Callable[[str], str | None]

_NAME = re.compile(r"[_a-zA-Z][_a-zA-Z0-9]*")
#: the operators of ``${VAR<op>word}``; the one written first in the braces applies (compose-go's template)
_OPERATORS = (":?", "?", ":-", "-", ":+", "+")
#: .env keys (compose-go dotenv: letters, digits and ``_ . - [ ]``)
_ENV_KEY = re.compile(r"[\w.\[\]-]+")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "$": "$$", "a": "\a", "b": "\b", "f": "\f",
            "v": "\v"}


class InterpolationError(ValueError):
    """A value Compose would refuse to substitute (the message is Compose's words)."""


def substitute(template: str, lookup: Lookup) -> str:
    """``template`` with its variables substituted."""
    out: list[str] = []
    i = 0
    while i < len(template):
        dollar = template.find("$", i)
        if dollar < 0:
            out.append(template[i:])
            break
        out.append(template[i:dollar])
        following = template[dollar + 1:dollar + 2]
        if following == "$":
            out.append("$")
            i = dollar + 2
        elif following == "{":
            end = _closing_brace(template, dollar + 1)
            if end < 0:
                raise _invalid(template)
            out.append(_braced(template[dollar + 2:end], lookup, template))
            i = end + 1
        elif (name := _NAME.match(template, dollar + 1)) is not None:
            out.append(_value(name.group(), lookup))
            i = name.end()
        else:  # a $ before anything else is kept (Compose's pattern does not match it)
            out.append("$")
            i = dollar + 1
    return "".join(out)


def _closing_brace(text: str, opening: int) -> int:
    depth = 0
    for i in range(opening, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
    return -1


def _braced(body: str, lookup: Lookup, template: str) -> str:
    found = [(body.find(op), op) for op in _OPERATORS if op in body]
    if not found:
        if not _NAME.fullmatch(body):
            raise _invalid(template)
        return _value(body, lookup)
    _, op = min(found)
    name, _, word = body.partition(op)
    if not _NAME.fullmatch(name):
        raise _invalid(template)
    value = lookup(name)
    given = value is not None and (value != "" or not op.startswith(":"))
    if op.endswith("-"):
        return value if given and value is not None else substitute(word, lookup)
    if op.endswith("+"):
        return substitute(word, lookup) if given else (value or "")
    if not given or value is None:
        reason = substitute(word, lookup)
        raise InterpolationError(f"required variable {name} is missing a value" + (f": {reason}" if reason else ""))
    return value


def _value(name: str, lookup: Lookup) -> str:
    value = lookup(name)
    if value is None:
        raise InterpolationError(
            f"variable {name} is not set (Compose would substitute a blank string and warn): give it in the "
            f"compose step's env or the project's .env file, or a default, ${{{name}:-value}}")
    return value


def _invalid(template: str) -> InterpolationError:
    return InterpolationError(f"invalid interpolation format {template!r}: you may need to escape any $ with "
                              "another $")


# ------------------------------------------------------------------------------------------- casts

def _integer(text: str) -> int:
    if not re.fullmatch(r"[+-]?\d+", text.strip()):
        raise ValueError(f"{text!r} is not an integer")
    return int(text)


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None


def _boolean(text: str) -> bool:
    """YAML's booleans (compose-go's toBoolean: true/false, and y/yes/on, n/no/off)."""
    lowered = text.lower()
    if lowered in ("true", "y", "yes", "on"):
        return True
    if lowered in ("false", "n", "no", "off"):
        return False
    raise ValueError(f"invalid boolean: {text}")


#: the paths whose string values Compose casts after substituting (compose-go loader/interpolate.go,
#: ``interpolateTypeCastMapping``); ``*`` is any key or list index
_CASTS: tuple[tuple[tuple[str, ...], Callable[[str], Any]], ...] = tuple(
    (tuple(pattern.split(".")), cast) for pattern, cast in (
        *((f"services.*.{key}", _integer) for key in (
            "cpu_count", "cpu_period", "cpu_quota", "cpu_rt_period", "cpu_rt_runtime", "cpu_shares", "deploy.replicas",
            "deploy.update_config.parallelism", "deploy.rollback_config.parallelism",
            "deploy.restart_policy.max_attempts", "deploy.placement.max_replicas_per_node", "healthcheck.retries",
            "oom_score_adj", "pids_limit", "ports.*.target", "scale", "ulimits.*", "ulimits.*.hard",
            "ulimits.*.soft")),
        *((f"services.*.{key}", _number) for key in (
            "cpu_percent", "cpus", "deploy.update_config.max_failure_ratio",
            "deploy.rollback_config.max_failure_ratio")),
        *((f"services.*.{key}", _boolean) for key in (
            "init", "depends_on.*.required", "depends_on.*.restart", "healthcheck.disable", "oom_kill_disable",
            "privileged", "read_only", "stdin_open", "tty", "volumes.*.read_only", "volumes.*.volume.nocopy")),
        *((f"{kind}.*.{key}", _boolean) for kind, key in (
            ("networks", "external"), ("networks", "internal"), ("networks", "attachable"),
            ("networks", "enable_ipv4"), ("networks", "enable_ipv6"), ("volumes", "external"),
            ("secrets", "external"), ("configs", "external"))),
    ))


def _cast_for(path: FieldPath) -> Callable[[str], Any] | None:
    for pattern, cast in _CASTS:
        if len(pattern) == len(path) and all(p == "*" or p == str(part) for p, part in zip(pattern, path, strict=True)):
            return cast
    return None


# ------------------------------------------------------------------------------------------- the file

def interpolate(data: Any, lookup: Lookup, positions: Positions, filename: str, path: FieldPath = ()) -> Any:
    """``data`` (a loaded compose file) with every string value substituted and cast; a problem is an error at the
    value, in Compose's words."""
    if isinstance(data, dict):
        return {key: interpolate(value, lookup, positions, filename, (*path, key)) for key, value in data.items()}
    if isinstance(data, list):
        return [interpolate(value, lookup, positions, filename, (*path, i)) for i, value in enumerate(data)]
    if not isinstance(data, str):
        return data
    try:
        value = substitute(data, lookup) if "$" in data else data
        cast = _cast_for(path)
        return cast(value) if cast is not None else value
    except InterpolationError as err:
        raise located_error(str(err), filename, positions, path) from None
    except ValueError as err:
        raise located_error(f"failed to cast to expected type: {err}", filename, positions, path) from None


def variables(env: Mapping[str, str], dotenv: Path, shown: str) -> Lookup:
    """Where a compose file's variables come from: the step's ``env``, then the ``.env`` file (when there is one)."""
    values = read_dotenv(dotenv, shown, env.get) if dotenv.is_file() else {}
    return lambda name: env[name] if name in env else values.get(name)


def read_dotenv(path: Path, shown: str, environment: Lookup) -> dict[str, str]:
    """A ``.env`` file as Compose reads it (compose-go dotenv): ``KEY=VALUE`` (or ``KEY: VALUE``, ``export KEY=``),
    ``#`` comment lines, an unquoted value up to `` #`` with trailing blanks dropped, a single-quoted value as
    written, a double-quoted one with its escapes (``\\n``, ``\\t``, ``\\"``, ...); unquoted and double-quoted
    values substitute variables (the step's ``env`` first, then the keys above). A key alone takes the step's
    value of it, if any. Quoted values are one line here."""
    values: dict[str, str] = {}

    def lookup(name: str) -> str | None:
        found = environment(name)
        return found if found is not None else values.get(name)

    for number, raw in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = re.sub(r"^export\s+", "", line)
        key, separator, rest = _split_key(line)
        if not _ENV_KEY.fullmatch(key):
            bad = next((c for c in key if not (c.isalnum() or c in "_.-[]")), " ")
            raise ScenarioError(f"unexpected character {bad!r} in variable name {line!r}", file=shown, line=number,
                                column=1)
        if not separator:
            inherited = environment(key)
            if inherited is not None:
                values[key] = inherited
            continue
        try:
            values[key] = _dotenv_value(rest.strip(), lookup)
        except InterpolationError as err:
            raise ScenarioError(str(err), file=shown, line=number, column=len(raw) - len(raw.lstrip()) + 1) from None
    return values


def _split_key(line: str) -> tuple[str, str, str]:
    cut = min((i for i in (line.find("="), line.find(":")) if i >= 0), default=-1)
    if cut < 0:
        return line, "", ""
    return line[:cut].strip(), line[cut], line[cut + 1:]


def _dotenv_value(text: str, lookup: Lookup) -> str:
    if text[:1] == "'":
        end = text.find("'", 1)
        if end < 0:
            raise InterpolationError(f"unterminated quoted value {text}")
        return text[1:end]
    if text[:1] == '"':
        chars: list[str] = []
        i = 1
        while i < len(text) and text[i] != '"':
            if text[i] == "\\" and i + 1 < len(text):
                chars.append(_ESCAPES.get(text[i + 1], "\\" + text[i + 1]))
                i += 2
                continue
            chars.append(text[i])
            i += 1
        if i >= len(text):
            raise InterpolationError(f"unterminated quoted value {text}")
        return substitute("".join(chars), lookup)
    value = text.split(" #", 1)[0].rstrip()
    return substitute(value, lookup)
