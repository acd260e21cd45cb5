"""One independent random stream per component, derived from (seed, name) stably across processes.

A stream's seed depends only on the scenario's seed and the stream's name, never on when or in which order
streams are made, so a stream can be made on first use (``lazy_stream``) with byte-identical outputs: a
host's components get four streams, and most of a large fleet's hosts never draw from some of them (a
``random.Random`` holds 2.5 kB of Mersenne Twister state and its sha256 seeding costs microseconds; eagerly
made for 20,000 hosts they were most of the built world).
"""

from __future__ import annotations

import hashlib
import random
from typing import Any, cast


def stream(seed: int, name: str) -> random.Random:
    """A ``random.Random`` for component ``name``: sha256 of seed and name, never ``hash()``."""
    digest = hashlib.sha256(f"{seed}\x00{name}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


class LazyStream:
    """``stream(seed, name)``, made when first drawn from. Each method looked up is the real stream's bound
    method, kept on this object, so later draws cost what the real stream's do."""

    def __init__(self, seed: int, name: str) -> None:
        self._seed = seed
        self._name = name
        self._real: random.Random | None = None

    @property
    def made(self) -> bool:
        """Whether the real stream exists yet (for tests and memory accounting)."""
        return self._real is not None

    def __getattr__(self, attribute: str) -> Any:
        # only called for what this object lacks: the real stream's methods (once each) and state
        if attribute.startswith("__") or attribute in ("_seed", "_name", "_real"):
            raise AttributeError(attribute)
        real = self._real
        if real is None:
            real = self._real = stream(self._seed, self._name)
        found = getattr(real, attribute)
        if callable(found):
            setattr(self, attribute, found)
        return found


def lazy_stream(seed: int, name: str) -> random.Random:
    """The stream ``stream(seed, name)`` gives, made on first use (typed as the ``random.Random`` it stands for:
    components only call its methods)."""
    return cast(random.Random, LazyStream(seed, name))
