"""Load YAML keeping where every value was written: `load_yaml` / `load_yaml_file` return plain Python data
(dicts, lists, str, int, float, bool, None) together with a `Positions` table.

Loading rules (every failure is a one-line `ScenarioError`, never a traceback):

* Safe loading only. Nothing is ever constructed from a tag: the document is *composed* into nodes by
  PyYAML's pure-Python SafeLoader machinery and converted by `dsim.scenarios.yaml_compose`. Only the standard
  tags are accepted (``!!str !!int !!float !!bool !!null !!timestamp !!seq !!map`` and the ``<<`` merge key);
  any other tag, ``!!python/...``, ``!!binary``, ``!!set``, ``!!omap``, ``!!pairs`` or a local ``!foo``, is an
  error.
* Scalars follow YAML 1.1 as PyYAML's SafeLoader resolves them (``yes``/``on`` are booleans, ``017`` is
  octal, ``1:30`` is the sexagesimal int 90, ``1e3`` and ``1.0e3`` are strings but ``1.0e+3`` is a float),
  except that timestamps stay strings (no ``datetime``). Unit quantities such as ``1h30m``, ``80MB`` and
  ``30s`` are strings.
* Mapping keys must be scalars and are always strings: a key is the text written (``8080:`` is ``"8080"``,
  ``on:`` is ``"on"``, ``null:`` is ``"null"``, ``"a"`` and ``a`` are the same key). A key written twice in a
  mapping is an error (PyYAML would silently keep the last one). Merge keys (``<<: *defaults`` or
  ``<<: [*a, *b]``) are supported: keys written in the mapping win over merged ones, earlier merged mappings
  win over later ones.
* Aliases are expanded into independent copies. The position of an aliased value is where the alias
  (``*name``) is written; the positions inside it are those of the anchored original.
* Guards: files over 10 MiB, documents expanding to more than 1,000,000 values (alias bombs) and nesting
  deeper than 100 levels are refused.
"""

from __future__ import annotations

import os
import pathlib
import re
import stat
from typing import Any

import yaml

from dsim.errors import ScenarioError
from dsim.scenarios.yaml_compose import NULL_TAG, DataBuilder, LoadFailure, PositionedLoader, alias_target
from dsim.scenarios.yaml_positions import Position, Positions, mark_position, one_line, scenario_error

__all__ = ["MAX_FILE_BYTES", "load_yaml", "load_yaml_file"]

MAX_FILE_BYTES = 10 * 1024 * 1024
"""Larger files (or texts, measured as UTF-8) are refused."""

_EMPTY_MESSAGE = "the scenario is empty"
_NOT_MAPPING_MESSAGE = (
    "the top level must be a mapping of sections (name, registries, images, hosts, workloads, ...)"
)
_BINARY_MESSAGE = "not a text file (binary content)"


_BREAK = re.compile("\r\n|[\n\r\x85\u2028\u2029]")


def _position_of_index(text: str, index: int) -> Position:
    """(line, column) of a character index, counting line breaks as PyYAML does."""
    line, start = 1, 0
    for match in _BREAK.finditer(text, 0, index):
        line, start = line + 1, match.end()
    return line, index - start + 1


def _yaml_error(err: yaml.YAMLError, text: str, filename: str) -> ScenarioError:
    if isinstance(err, yaml.reader.ReaderError):
        char = chr(err.character) if isinstance(err.character, int) else str(err.character)
        where = _position_of_index(text, err.position) if isinstance(err.position, int) else None
        code = f"U+{ord(char[:1] or ' '):04X}"
        return scenario_error(f"character {char!r} ({code}) is not allowed in YAML", filename, where)
    if isinstance(err, yaml.MarkedYAMLError):
        problem = one_line(err.problem or "")
        context = one_line(err.context or "")
        mark = err.problem_mark or err.context_mark
        if problem == "second occurrence" and context.endswith("; first occurrence") and err.context_mark:
            first = mark_position(err.context_mark)
            message = context.removeprefix("found ").removesuffix("; first occurrence")
            message += f" (first at line {first[0]})"
        elif problem == "but found another document":
            message = "found a second document ('---'); a scenario is a single YAML document"
        elif problem and context and err.context_mark is not None and err.problem_mark is not None:
            line, column = mark_position(err.context_mark)
            if (line, column) == mark_position(err.problem_mark):
                message = f"{problem} ({context})"
            else:
                message = f"{problem} ({context} at line {line}, column {column})"
        else:
            message = problem or context or "invalid YAML"
        if "'\\t'" in message:
            message += "; YAML does not allow tabs for indentation"
        return scenario_error(f"invalid YAML: {message}", filename, mark_position(mark) if mark else None)
    return scenario_error(f"invalid YAML: {one_line(str(err))}", filename)


def _binary(text: str, index: int, what: str, filename: str) -> ScenarioError:
    """The binary-content error at the first offending character of ``text`` (its line and column, so an
    editor can go there): a NUL byte, or bytes that are not UTF-8."""
    return scenario_error(f"{_BINARY_MESSAGE}: {what}", filename, _position_of_index(text, index))


def _decode(data: bytes, filename: str) -> str:
    nul = data.find(b"\x00")
    try:
        text = data[:nul if nul >= 0 else len(data)].decode("utf-8-sig")
    except UnicodeDecodeError as err:
        before = data[:err.start].decode("utf-8-sig")
        raise _binary(before, len(before), f"byte 0x{data[err.start]:02x} is not UTF-8", filename) from None
    if nul >= 0:
        raise _binary(text, len(text), "a NUL byte", filename)
    return text


def _too_large(size: int, filename: str) -> ScenarioError:
    limit = MAX_FILE_BYTES / 2**20
    return scenario_error(
        f"the file is too large ({size / 2**20:.1f} MiB; the limit is {limit:g} MiB)", filename
    )


def load_yaml(text: str | bytes, *, filename: str) -> tuple[Any, Positions]:
    """Parse one YAML document: (plain data, positions). The top level must be a non-empty mapping.

    ``filename`` is only used to name the file in errors. Raises `ScenarioError` for every problem.
    """
    if isinstance(text, bytes | bytearray | memoryview):
        data = bytes(text)
        if len(data) > MAX_FILE_BYTES:
            raise _too_large(len(data), filename)
        text = _decode(data, filename)
    elif len(text) * 4 > MAX_FILE_BYTES and len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        raise _too_large(len(text.encode("utf-8", "surrogatepass")), filename)
    if "\x00" in text:
        raise _binary(text, text.index("\x00"), "a NUL byte", filename)
    try:
        loader = PositionedLoader(text)
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
        if root is None or (isinstance(root, yaml.ScalarNode) and root.tag == NULL_TAG):
            raise LoadFailure(_EMPTY_MESSAGE)
        if not isinstance(alias_target(root), yaml.MappingNode):
            raise LoadFailure(_NOT_MAPPING_MESSAGE, root.start_mark)
        builder = DataBuilder()
        data_out = builder.build(root, ())
    except LoadFailure as fail:
        raise scenario_error(fail.message, filename, mark_position(fail.mark) if fail.mark else None) from None
    except yaml.YAMLError as err:
        raise _yaml_error(err, text, filename) from None
    return data_out, Positions(values=builder.values, keys=builder.keys)


def load_yaml_file(path: pathlib.Path, *, display_name: str | None = None) -> tuple[Any, Positions]:
    """`load_yaml` on a file's content; errors name ``display_name`` (default: the path as given)."""
    name = display_name if display_name is not None else str(path)
    try:
        info = os.stat(path)
        if stat.S_ISDIR(info.st_mode):
            raise scenario_error("is a directory, not a YAML file", name)
        if not stat.S_ISREG(info.st_mode):
            raise scenario_error("not a regular file", name)
        if info.st_size > MAX_FILE_BYTES:
            raise _too_large(info.st_size, name)
        # non-blocking: a FIFO put in the file's place after the stat above must not block the open
        with os.fdopen(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise scenario_error("not a regular file", name)
            data = handle.read(MAX_FILE_BYTES + 1)
    except (FileNotFoundError, NotADirectoryError):
        raise scenario_error("no such file", name) from None
    except IsADirectoryError:
        raise scenario_error("is a directory, not a YAML file", name) from None
    except PermissionError:
        raise scenario_error("permission denied", name) from None
    except OSError as err:
        raise scenario_error(f"cannot read the file ({err.strerror or err})", name) from None
    if len(data) > MAX_FILE_BYTES:
        raise _too_large(len(data), name)
    return load_yaml(data, filename=name)
