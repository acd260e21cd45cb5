"""One independent random stream per component, derived from (seed, name) stably across processes."""

from __future__ import annotations

import hashlib
import random


def stream(seed: int, name: str) -> random.Random:
    """A ``random.Random`` for component ``name``: sha256 of seed and name, never ``hash()``."""
    digest = hashlib.sha256(f"{seed}\x00{name}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))
