"""Docker's progress words for one layer of a pull, derived in one place for every reader.

``docker pull`` prints, per layer, the stages moby's transfer manager reports (moby
daemon/internal/distribution/xfer/download.go, pull_v2.go; https://github.com/moby/moby): "Pulling fs layer",
"Waiting" (for a download slot, or for another pull's download of the blob), "Downloading", "Verifying
Checksum", "Download complete", "Extracting", "Pull complete"; a layer whose chain is present says
"Already exists". Three readers need them: the pull pipeline records each layer's lines on its ``pull_layer``
span (``components/pull.py``, from the layer's times), ``dsim serve`` streams them while the model runs
(``serve/progress.py``, from the daemon's state at each poll) and ``dsim explain`` narrates a job
(``reports/explain.py``, from the spans). :func:`layer_lines` and :func:`stage_of` are those derivations.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any

from dsim.span_values import Derived

ALREADY_EXISTS = "Already exists"


class LayerStage(enum.IntEnum):
    """A pulled layer's stages in the order docker shows them (a layer only moves forward)."""

    PULLING = 0
    WAITING = 1
    DOWNLOADING = 2
    VERIFYING = 3
    DOWNLOADED = 4
    EXTRACTING = 5
    COMPLETE = 6

    @property
    def word(self) -> str:
        """What docker prints for the stage."""
        return WORDS[self]


#: The words by stage.
WORDS = ("Pulling fs layer", "Waiting", "Downloading", "Verifying Checksum", "Download complete", "Extracting",
         "Pull complete")


def stage_of(*, unpacked: bool, unpacking: bool, blob_present: bool, downloading: bool,
             download_began: float | None) -> LayerStage:
    """The stage a layer not present when the pull began has reached, from the daemon's state now: its chain
    unpacked, being unpacked, its blob in, its download under way (``download_began`` None: waiting for a
    slot), else only listed."""
    if unpacked:
        return LayerStage.COMPLETE
    if unpacking:
        return LayerStage.EXTRACTING
    if blob_present:
        return LayerStage.DOWNLOADED
    if downloading:
        return LayerStage.WAITING if download_began is None else LayerStage.DOWNLOADING
    return LayerStage.PULLING


#: The words ``layer_lines`` writes, looked up once (an enum member's lookup is slow in a loop of every layer).
_PULLING, _WAITING, _DOWNLOADING, _VERIFYING, _DOWNLOADED, _EXTRACTING, _COMPLETE = WORDS


def layer_lines(listed: float, ready: float, *, fetch_began: float | None = None, fetch_ended: float | None = None,
                notes: Iterable[tuple[float, str]] = (), extract_began: float | None = None) -> list[tuple[float, str]]:
    """The (time, word) lines of one layer of one pull, in the order docker prints them.

    ``listed``: the pull listed the layer (the manifest was in); ``fetch_began``: its blob's download took a
    slot (None: no download this pull saw, the blob was in); the download "Waiting" until then if later than
    ``listed``; ``notes``: the download's retry lines ("Retrying in 5 seconds"), those from ``listed`` on;
    ``fetch_ended``: the blob verified and complete (None: no checksum step, a lazy layer's prefetch);
    ``extract_began``: its unpack began (None: none); ``ready``: "Pull complete".
    """
    lines = [(listed, _PULLING)]
    if fetch_began is not None:
        if fetch_began > listed:
            lines.append((listed, _WAITING))
        lines.append((max(fetch_began, listed), _DOWNLOADING))
        if notes:
            lines.extend((t, note) for t, note in notes if t >= listed)
        if fetch_ended is not None:
            lines += [(fetch_ended, _VERIFYING), (fetch_ended, _DOWNLOADED)]
    if extract_began is not None:
        lines.append((extract_began, _EXTRACTING))
    lines.append((ready, _COMPLETE))
    return lines


def recorded(lines: Iterable[tuple[float, str]]) -> list[list[Any]]:
    """Lines as a ``pull_layer`` span's ``progress`` attribute: [time rounded to 1 us, word]."""
    return [[round(t, 6), word] for t, word in lines]


class LayerLines(Derived):
    """A ``pull_layer`` span's ``progress`` as the times its lines derive from (``layer_lines``' arguments):
    recorded on every pulled layer of a large run, the lines themselves were over a third of its memory;
    readers (the outputs, tests) get ``recorded(layer_lines(...))``, made when read."""

    __slots__ = ("listed", "ready", "fetch_began", "fetch_ended", "notes", "extract_began")
    TAG = "\x00dsim layer lines"

    def __init__(self, listed: float, ready: float, *, fetch_began: float | None = None,
                 fetch_ended: float | None = None, notes: tuple[tuple[float, str], ...] = (),
                 extract_began: float | None = None) -> None:
        self.listed = listed
        self.ready = ready
        self.fetch_began = fetch_began
        self.fetch_ended = fetch_ended
        self.notes = notes  # a copy: the download's notes may grow after this layer is done
        self.extract_began = extract_began

    def derive(self) -> list[list[Any]]:
        return recorded(layer_lines(self.listed, self.ready, fetch_began=self.fetch_began,
                                    fetch_ended=self.fetch_ended, notes=self.notes,
                                    extract_began=self.extract_began))

    def fields(self) -> tuple[Any, ...]:
        return self.listed, self.ready, self.fetch_began, self.fetch_ended, self.notes, self.extract_began

    @classmethod
    def compact(cls, listed: float, ready: float, fetch_began: float | None = None,
                fetch_ended: float | None = None, notes: tuple[tuple[float, str], ...] = (),
                extract_began: float | None = None) -> tuple[Any, ...]:
        """What a ``LayerLines`` of these times is kept as (``Derived.TAG``): the pull pipeline records this, no
        object made and converted for each pulled layer."""
        return cls.TAG, listed, ready, fetch_began, fetch_ended, notes, extract_began

    @classmethod
    def derive_fields(cls, *fields: Any) -> list[list[Any]]:
        """``derive()`` of the kept form's fields, no object made (``from_fields`` is therefore not needed)."""
        listed, ready, fetch_began, fetch_ended, notes, extract_began = fields
        return recorded(layer_lines(listed, ready, fetch_began=fetch_began, fetch_ended=fetch_ended, notes=notes,
                                    extract_began=extract_began))
