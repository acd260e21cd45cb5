"""The cores this process may use: how many sweep runs and how many file writers run at once."""

from __future__ import annotations

import os


def available_cores() -> int:
    """Cores this process may use (the affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)
