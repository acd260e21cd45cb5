"""What a daemon's pull pipeline tells observers: a layer moved to another of Docker's progress stages.

Observers watch the model from outside, as ``dsim/probes.py`` watches the network: ``dsim serve`` streams
``docker pull``'s progress lines from these events (``serve/progress.py``) instead of reading the image
store's tables. Nothing is built or published while nobody subscribes, so a scenario run pays one
truth test per stage change.

The stages are Docker's (``dsim/progress_words.py``): a download ``WAITING`` for a slot (or for another
pull's download of the blob), ``DOWNLOADING`` once it has one, ``DOWNLOADED`` when the blob is in
("Verifying Checksum", "Download complete"), ``EXTRACTING`` while the layer is applied, ``COMPLETE`` once its
chain is unpacked ("Pull complete"). A retry of a download is published at its stage with the line dockerd
prints ("Retrying in 5 seconds").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dsim.domain.images import ImageInfo, LayerInfo
from dsim.progress_words import LayerStage


@dataclass(frozen=True, slots=True)
class LayerEvent:
    """``layer`` reached ``stage`` at simulated time ``at``. ``duration``: the unpack's modelled length
    (``EXTRACTING``); ``note``: a retry line (the stage does not change)."""

    layer: LayerInfo
    stage: LayerStage
    at: float
    duration: float = 0.0
    note: str = ""


@dataclass(frozen=True, slots=True)
class LayerProgress:
    """Where a layer stands now, for an observer that arrives while it moves: its stage, when its download
    took a slot and when its unpack began (with its modelled length), and the retry lines so far."""

    stage: LayerStage
    download_began: float | None = None
    unpack_began: float | None = None
    unpack_duration: float = 0.0
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PullBegan:
    """Job ``job``'s pull of ``image`` has resolved its reference (the layers' events follow): whether the
    image was already complete here, and the chain IDs present ("Already exists")."""

    job: int
    image: ImageInfo
    up_to_date: bool
    present: frozenset[str]


Observer = Callable[[LayerEvent | PullBegan], None]


class LayerEvents:
    """Subscribers to one daemon's layer events."""

    def __init__(self) -> None:
        #: read by the publishers (pull.py) before they build an event: empty, nothing is published
        self.observers: list[Observer] = []

    def subscribe(self, observer: Observer) -> Callable[[], None]:
        """Add an observer; returns the function that removes it."""
        self.observers.append(observer)
        return lambda: self.observers.remove(observer) if observer in self.observers else None

    def publish(self, event: LayerEvent | PullBegan) -> None:
        for observer in list(self.observers):
            observer(event)
