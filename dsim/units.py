"""Parse the units scenarios are written in: sizes, rates, durations, and ``inf``.

Sizes are bytes (SI kB/MB/GB and binary KiB/MiB/GiB), rates are bytes per second (written in bits,
``1Gbps``, or bytes, ``125MB/s``), durations are seconds (``250ms``, ``4m``, ``1h30m``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

_SIZE_UNITS = {
    "b": 1,
    "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12, "pb": 10**15,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40, "pib": 2**50,
}
_SIZE_UNITS_OR_BARE = {"": 1, **_SIZE_UNITS}  # a size without a unit is bytes (a rate must name its unit)
# bits per second -> bytes per second divides by 8
_RATE_UNITS = {
    "bps": 1 / 8, "kbps": 10**3 / 8, "mbps": 10**6 / 8, "gbps": 10**9 / 8, "tbps": 10**12 / 8,
    "b/s": 1, "kb/s": 10**3, "mb/s": 10**6, "gb/s": 10**9,
    "kib/s": 2**10, "mib/s": 2**20, "gib/s": 2**30,
}
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}

_NUMBER = r"[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?|\.[0-9]+"
_QUANTITY = re.compile(rf"^\s*({_NUMBER})\s*([A-Za-zµ/]*)\s*$")
_DURATION_PART = re.compile(rf"({_NUMBER})\s*(ns|us|µs|ms|s|m|h|d)")

SIZE_EXAMPLE = "e.g. 80MB, 1.2GiB"
RATE_EXAMPLE = "e.g. 1Gbps, 125MB/s"
DURATION_EXAMPLE = "e.g. 250ms, 4m, 1h30m"


def _is_inf(text: str) -> bool:
    return text.strip().lower() in ("inf", "infinity", "unlimited")


def _check_number(value: object, kind: str, example: str) -> float | None:
    """Plain numbers are accepted in the base unit; bools and negatives are not."""
    if isinstance(value, bool):
        raise ValueError(f"invalid {kind} {value!r} (expected {example})")
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:  # an int too large for a float
            raise ValueError(f"invalid {kind}: too large (write inf for no limit)") from None
        if math.isnan(number) or number < 0:
            raise ValueError(f"invalid {kind} {value!r}: must not be negative (expected {example})")
        return number
    if not isinstance(value, str):
        raise ValueError(f"invalid {kind} {value!r} (expected {example})")
    return None


def _parse_quantity(value: object, kind: str, example: str, units: Mapping[str, float]) -> float:
    """A number times one of ``units`` (matched case-insensitively), a plain number, or ``inf``."""
    number = _check_number(value, kind, example)
    if number is not None:
        return number
    text = str(value)
    if _is_inf(text):
        return math.inf
    match = _QUANTITY.match(text)
    if not match or match.group(2).lower() not in units:
        raise ValueError(f"invalid {kind} {text!r} (expected {example})")
    return _finite(float(match.group(1)) * units[match.group(2).lower()], kind, text)


def _finite(number: float, kind: str, text: str) -> float:
    """A quantity written as a number must stay finite: ``1e400MB`` is refused, not read as ``inf``
    (write ``inf`` where infinity is meant)."""
    if math.isinf(number):
        raise ValueError(f"invalid {kind} {text!r}: too large (write inf for no limit)")
    return number


def parse_size(value: object) -> float:
    """Bytes from ``80MB``, ``1.2GiB``, ``512`` (bytes) or ``inf``."""
    return _parse_quantity(value, "size", SIZE_EXAMPLE, _SIZE_UNITS_OR_BARE)


def parse_rate(value: object) -> float:
    """Bytes per second from ``1Gbps`` (bits) or ``125MB/s`` (bytes), or ``inf``."""
    return _parse_quantity(value, "rate", RATE_EXAMPLE, _RATE_UNITS)


def parse_duration(value: object) -> float:
    """Seconds from ``250ms``, ``4m``, ``1h30m``, a bare number of seconds, or ``inf``."""
    number = _check_number(value, "duration", DURATION_EXAMPLE)
    if number is not None:
        return number
    text = str(value).strip()
    if _is_inf(text):
        return math.inf
    compact = text.replace(" ", "")
    if re.fullmatch(_NUMBER, compact):
        return _finite(float(compact), "duration", text)
    parts = _DURATION_PART.findall(compact)
    if not parts or "".join(n + u for n, u in parts) != compact:
        raise ValueError(f"invalid duration {text!r} (expected {DURATION_EXAMPLE})")
    return _finite(sum(float(n) * _DURATION_UNITS[u] for n, u in parts), "duration", text)


def format_size(nbytes: float) -> str:
    """Human size for tables: 1.23 GB (SI, as ``docker images`` prints)."""
    if math.isinf(nbytes):
        return "inf"
    for unit, factor in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(nbytes) >= factor:
            return f"{nbytes / factor:.3g}{unit}"
    return f"{nbytes:.0f}B"


def format_duration(seconds: float) -> str:
    """Human duration: 812ms, 4.2s, 13m 2s, 1h 2m."""
    if math.isinf(seconds):
        return "inf"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.3g}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m {seconds % 60:.0f}s"
    return f"{int(seconds // 3600)}h {int(seconds % 3600 // 60)}m"
