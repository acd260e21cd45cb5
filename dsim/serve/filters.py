"""The ``filters`` query parameter of the list endpoints, parsed and matched as moby's ``api/types/filters``.

A filter is a key with a set of values. Clients send it as JSON in two shapes, both accepted by dockerd
(``filters.FromJSON``): the docker CLI sends ``{"status": {"exited": true}}`` (map of sets), the Python SDK
and older clients ``{"status": ["exited"]}`` (map of lists). Anything else is a 400 ``invalid filter``.
Values of a key are alternatives (any may match); different keys must all match. The matching rules
below are moby's: ``match`` is an exact or regular-expression match (names, ids), ``match_kv_list`` the
``label=key`` / ``label=key=value`` rule, ``path_match`` Go's ``path.Match`` glob (image references).
``query_flag`` reads the boolean parameters that come with them (and with every other endpoint).
"""

from __future__ import annotations

import json
import re

from dsim.components.errors import ApiError

#: key -> its values, in the order the client gave them
Filters = dict[str, list[str]]


def query_flag(query: dict[str, list[str]], name: str) -> bool:
    """A boolean query parameter as dockerd's router reads it (``1``, ``true``, ``yes``; the last one given)."""
    values = query.get(name) or [""]
    return values[-1].lower() in ("1", "true", "yes")


def invalid(key: str = "", shown: str | None = None) -> ApiError:
    """dockerd's ``invalid filter`` error (400): ``invalid filter``, ``invalid filter 'key'`` or with a value
    ``invalid filter 'key=value'``."""
    if not key:
        return ApiError(400, "invalid filter")
    return ApiError(400, f"invalid filter '{key}'" if shown is None else f"invalid filter '{key}={shown}'")


def go_list(values: list[str]) -> str:
    """How Go's ``%s`` prints a ``[]string`` in dockerd's messages: ``[a b]``."""
    return "[" + " ".join(values) + "]"


def parse(raw: str) -> Filters:
    """The ``filters`` parameter: empty means none; a map of sets or a map of lists, else ``invalid filter``."""
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        raise invalid() from None
    if not isinstance(value, dict):
        raise invalid()
    parsed: Filters = {}
    for key, values in value.items():
        if isinstance(values, dict) and all(isinstance(v, bool) for v in values.values()):
            parsed[str(key)] = [str(v) for v in values]  # moby keeps a key whatever its bool says
        elif isinstance(values, list) and all(isinstance(v, str) for v in values):
            parsed[str(key)] = list(dict.fromkeys(values))
        else:
            raise invalid()
    return parsed


def validate(filters: Filters, accepted: frozenset[str]) -> None:
    """Unknown keys are refused (``Args.Validate``), in the order given, so the first is named."""
    for key in filters:
        if key not in accepted:
            raise invalid(key)


def match(filters: Filters, key: str, source: str) -> bool:
    """``Args.Match``: true without values for ``key``; else a value equals ``source`` or, as a regular
    expression, matches somewhere in it (a value that is not a valid expression matches only exactly)."""
    values = filters.get(key)
    if not values or source in values:
        return True
    for value in values:
        try:
            if re.search(value, source):
                return True
        except re.error:
            continue
    return False


def match_kv_list(filters: Filters, key: str, labels: dict[str, str]) -> bool:
    """``Args.MatchKVList``: every value ``k`` or ``k=v`` must hold in ``labels`` (``k`` present, equal to ``v``)."""
    values = filters.get(key)
    if not values:
        return True
    for value in values:
        name, has_value, wanted = value.partition("=")
        if name not in labels or (has_value and labels[name] != wanted):
            return False
    return True


def bool_or_default(filters: Filters, key: str, default: bool) -> bool:
    """``Args.GetBoolOrDefault``: ``1``/``true`` or ``0``/``false``; none, both or another value is invalid."""
    if key not in filters:
        return default
    values = filters[key]
    if not values:
        raise invalid(key)
    is_false = "0" in values or "false" in values
    is_true = "1" in values or "true" in values
    if is_false == is_true:
        raise invalid(key, go_list(values))
    return is_true


def go_atoi(text: str) -> int | None:
    """Go's ``strconv.Atoi`` on a decimal (an optional sign, digits only), None where it fails."""
    return int(text) if re.fullmatch(r"[+-]?[0-9]+", text) else None


def _glob_char(pattern: str, i: int) -> tuple[str, int]:
    """One character of a ``path.Match`` class at ``i`` (``\\`` escapes; a bare ``-`` or ``]`` is malformed)."""
    if i >= len(pattern) or pattern[i] in "-]":
        raise ValueError("syntax error in pattern")
    if pattern[i] == "\\":
        i += 1
        if i >= len(pattern):
            raise ValueError("syntax error in pattern")
    return pattern[i], i + 1


def _glob_class(pattern: str, i: int) -> tuple[str, int]:
    """A ``[...]`` class of ``path.Match`` from ``i`` (after the ``[``) as a regex class, and where it ends."""
    negate = i < len(pattern) and pattern[i] == "^"
    i += negate
    ranges: list[str] = []
    while not (ranges and i < len(pattern) and pattern[i] == "]"):
        low, i = _glob_char(pattern, i)
        high = low
        if i < len(pattern) and pattern[i] == "-":
            high, i = _glob_char(pattern, i + 1)
        ranges.append(re.escape(low) if high == low else f"{re.escape(low)}-{re.escape(high)}")
    return ("[^" if negate else "[") + "".join(ranges) + "]", i + 1


def glob_regex(pattern: str) -> re.Pattern[str]:
    """Go's ``path.Match`` syntax as a regular expression: ``*`` any run of non-``/`` characters, ``?`` one
    non-``/`` character, ``[...]`` a class (``^`` negates, ``a-z`` ranges), ``\\`` escapes. A malformed pattern
    raises ValueError (Go's ``ErrBadPattern``)."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            piece, i = _glob_class(pattern, i + 1)
            out.append(piece)
            continue
        elif char == "\\":
            i += 1
            if i >= len(pattern):
                raise ValueError("syntax error in pattern")
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(char))
        i += 1
    try:
        return re.compile("".join(out), re.DOTALL)
    except re.error:  # a reversed range (``[z-a]``): Go matches nothing with it
        raise ValueError("syntax error in pattern") from None


def path_match(pattern: str, name: str) -> bool:
    """Go's ``path.Match(pattern, name)``; a malformed pattern raises ValueError."""
    return glob_regex(pattern).fullmatch(name) is not None


def familiar_match(pattern: str, familiar: str) -> bool:
    """``reference.FamiliarMatch``: the pattern against the familiar ``name:tag`` (``nginx:latest``), then
    against the familiar name alone (``nginx``), so ``ngin*`` and ``nginx`` match every nginx tag (and a
    reference by digest, ``nginx@sha256:...``). A malformed pattern matches nothing (the containerd image
    store's rule)."""
    if "@" in familiar:
        name = familiar.partition("@")[0]
    else:
        name = familiar.rsplit(":", 1)[0] if ":" in familiar.rsplit("/", 1)[-1] else familiar
    try:
        return path_match(pattern, familiar) or path_match(pattern, name)
    except ValueError:
        return False
