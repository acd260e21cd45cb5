"""Docker's progress messages (NDJSON, as ``jsonmessage`` defines them) built from what the model publishes.

A pull's watch subscribes to its daemon's layer events (``dsim/components/layer_events.py``: the pull
began, a layer is waiting, downloading, downloaded, extracting, complete; a retry), keeps each layer's stage,
and the HTTP thread asks the simulation thread for a ``poll()`` a few times a second of wall time, which
turns the changes since the last one into the lines dockerd would have written. Nothing here moves bytes
or takes time in the model: the download byte counts shown between ``Downloading`` lines are the flow's
solved rate from the network model integrated over the poll interval (display only; the layer completes
when the model says).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dsim.components.daemon import Daemon
from dsim.components.image_store import image_key
from dsim.components.layer_events import LayerEvent, PullBegan
from dsim.domain.images import ImageInfo, LayerInfo
from dsim.progress_words import ALREADY_EXISTS, WORDS, LayerStage
from dsim.records import SpanKind
from dsim.serve import images as refs

PULLING, WAITING, DOWNLOADING, EXTRACTING, COMPLETE = (LayerStage.PULLING, LayerStage.WAITING, LayerStage.DOWNLOADING,
                                                       LayerStage.EXTRACTING, LayerStage.COMPLETE)

_UNITS = ("B", "kB", "MB", "GB", "TB", "PB")


def human_size(size: float) -> str:
    """go-units HumanSize: decimal units, 4 significant digits ('31.4MB', '5.243MB')."""
    i = 0
    while size >= 1000 and i < len(_UNITS) - 1:
        size /= 1000
        i += 1
    return f"{size:.4g}{_UNITS[i]}"


def progress_bar(current: float, total: float) -> str:
    """jsonmessage.JSONProgress.String() as dockerd renders it (no window size: the wide form): ``[`` then
    ``percent/2`` '=' (at most 50), '>', spaces up to 50, ``] ``, then ``%8v/%v`` of the sizes."""
    if total <= 0:
        return f"{human_size(current):>8}"
    filled = min(50, int(current / total * 100) // 2)
    return f"[{'=' * filled}>{' ' * (50 - filled)}] {human_size(current):>8}/{human_size(total)}"


def message(status: str, ident: str | None = None, current: float | None = None,
            total: float | None = None) -> dict[str, Any]:
    line: dict[str, Any] = {"status": status}
    if current is not None and total is not None and int(total) > 0:
        line["progressDetail"] = {"current": int(current), "total": int(total)}
        line["progress"] = progress_bar(current, total)
    elif ident is not None:
        line["progressDetail"] = {}
    if ident is not None:
        line["id"] = ident
    return line


def error_message(text: str) -> dict[str, Any]:
    return {"errorDetail": {"message": text}, "error": text}


@dataclass
class _Layer:
    """One layer's progress as the events told it."""

    stage: int = PULLING
    download_began: float | None = None
    unpack_began: float | None = None
    unpack_duration: float = 0.0
    notes: list[str] = field(default_factory=list)


class PullWatch:
    """The progress of one pull, built from the daemon's layer events (in the simulation thread)."""

    def __init__(self) -> None:
        self.image: ImageInfo | None = None
        self.daemon: Daemon | None = None
        self.job: int | None = None
        self.present: set[str] = set()  # chain IDs already unpacked when the pull began ("Already exists")
        self.up_to_date = False
        self.state: dict[str, int] = {}
        self.layers: dict[str, _Layer] = {}  # by short digest, what the events said
        self.received: dict[str, float] = {}
        self.notes: dict[str, int] = {}
        self.last_poll = 0.0
        self.headed = False
        self.announced: set[str] = set()
        self.clock: Callable[[], float] = lambda: 0.0
        self._unsubscribe: Callable[[], None] | None = None

    def observe(self, daemon: Daemon, job: int, clock: Callable[[], float] | None = None) -> Callable[[], None]:
        """Follow job ``job``'s pull on ``daemon`` from its start (its ``PullBegan`` event). ``clock`` is the
        real-time simulated clock: between two events ``env.now`` stands still while flows move on. Returns
        the function that stops observing."""
        self.daemon = daemon
        self.job = job
        self.clock = clock or (lambda: daemon.env.now)
        self._unsubscribe = daemon.puller.events.subscribe(self._on_event)
        return self.close

    def begin(self, daemon: Daemon, image: ImageInfo, clock: Callable[[], float] | None = None) -> None:
        """Follow ``image``'s layers from now (a build fetching a base: no pull of its own begins)."""
        self.daemon = daemon
        self.clock = clock or (lambda: daemon.env.now)
        store = daemon.store
        self._begin(image, store.complete(image),
                    {layer.chain_id for layer in image.layers if store.has_layer(layer.chain_id)})
        self._unsubscribe = daemon.puller.events.subscribe(self._on_event)

    def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def _begin(self, image: ImageInfo, up_to_date: bool, present: set[str] | frozenset[str]) -> None:
        """At the pull's start (same instant): what is here already, and where the missing layers stand (another
        pull may be fetching them)."""
        assert self.daemon is not None
        self.image = image
        # moby pull_v2.go pullTag: up to date only when the reference named this image already; a new tag or
        # digest reference of a local image is a "Downloaded newer image" (its layers "Already exists")
        named = self.daemon.store.image(image.ref)
        self.up_to_date = up_to_date and named is not None and image_key(named) == image_key(image)
        self.present = set(present)
        self.last_poll = self.clock()
        for layer in image.layers:
            short = layer.digest[7:19]
            if layer.chain_id in self.present or short in self.layers:
                continue
            now = self.daemon.puller.progress(layer, image.compression)
            self.layers[short] = _Layer(now.stage, now.download_began, now.unpack_began, now.unpack_duration,
                                        list(now.notes))

    def _on_event(self, event: LayerEvent | PullBegan) -> None:
        if isinstance(event, PullBegan):
            if event.job == self.job and self.image is None:
                self._begin(event.image, event.up_to_date, event.present)
            return
        if self.image is None:
            return
        layer = self.layers.get(event.layer.digest[7:19])
        if layer is None or (event.stage >= EXTRACTING and event.layer.chain_id not in self._chains()):
            return
        if event.note:
            layer.notes.append(event.note)
        if event.stage == DOWNLOADING and layer.download_began is None:
            layer.download_began = event.at
        if event.stage == EXTRACTING:
            layer.unpack_began, layer.unpack_duration = event.at, event.duration
        layer.stage = max(layer.stage, int(event.stage))

    def _chains(self) -> set[str]:
        assert self.image is not None
        return {layer.chain_id for layer in self.image.layers}

    @property
    def begun(self) -> bool:
        return self.image is not None

    def activity(self) -> bool:
        """The pull got past resolving the tag: some layer of it is moving (or it ended)."""
        return any(layer.stage >= WAITING for layer in self.layers.values())

    def _rate(self) -> float:
        """Per-flow rate of a download into this host from the image's endpoints (bytes/s)."""
        assert self.daemon is not None and self.image is not None
        try:
            endpoints = self.daemon.puller.endpoints(self.image)
            rates = self.daemon.puller.registries[self.image.registry].network.current_rates()
        except Exception:  # display only: no rate, no bytes shown
            return 0.0
        for endpoint in endpoints:
            for (src, dst, _cap), rate in rates.items():
                if src == endpoint.name and dst == self.daemon.host:
                    return rate
        return 0.0

    def poll(self, *, final: bool = False) -> list[dict[str, Any]]:
        """The lines since the last poll; with ``final`` every layer is brought to its last state."""
        daemon, image = self.daemon, self.image
        if daemon is None or image is None:
            return []
        out: list[dict[str, Any]] = []
        if not self.headed:
            self.headed = True
            out.append({"status": f"Pulling from {refs.remote_path(image)}", "id": refs.progress_id(image)})
        now = max(self.clock(), daemon.env.now)
        elapsed = now - self.last_poll
        self.last_poll = now
        rate: float | None = None
        layers: dict[str, LayerInfo] = {}
        for layer in image.layers:
            layers.setdefault(layer.digest[7:19], layer)
        targets: dict[str, int] = {}
        for short, layer in layers.items():
            if layer.chain_id in self.present:
                if short not in self.announced:
                    self.announced.add(short)
                    out.append(message(ALREADY_EXISTS, short))
                continue
            seen = self.layers.get(short) or _Layer()
            targets[short] = COMPLETE if final else seen.stage
            for note in seen.notes[self.notes.get(short, 0):]:  # retries, as dockerd reports them
                out.append(message(note, short))
            self.notes[short] = len(seen.notes)
            if targets[short] == DOWNLOADING:
                if rate is None:
                    rate = self._rate()
                began = seen.download_began
                first = self.state.get(short, -1) < DOWNLOADING and began is not None
                span = now - began if first and began is not None else elapsed
                got = min(layer.size * 0.999, self.received.get(short, 0.0) + rate * max(0.0, span))
                self.received[short] = got
        # level by level, so that every layer is announced before any downloads (as dockerd's lines come)
        for level in range(PULLING, COMPLETE + 1):
            for short, state in targets.items():
                layer = layers[short]
                last = self.state.get(short, -1)
                if level == WAITING and state != WAITING:
                    continue
                if last < level <= state:
                    if level == DOWNLOADING:
                        current = self.received.get(short, 0.0) if state == DOWNLOADING else layer.size
                        out.append(message(WORDS[level], short, current, layer.size))
                    elif level == EXTRACTING:
                        out.append(message(WORDS[level], short, self._extracted(layer, state), layer.size))
                    else:
                        out.append(message(WORDS[level], short))
                elif level == state == last == DOWNLOADING:
                    out.append(message(WORDS[level], short, self.received[short], layer.size))
                elif level == state == last == EXTRACTING:
                    out.append(message(WORDS[level], short, self._extracted(layer, state), layer.size))
        for short, state in targets.items():
            self.state[short] = max(self.state.get(short, -1), state)
        return out

    def _extracted(self, layer: LayerInfo, state: int) -> float:
        """Compressed bytes consumed by the unpack so far (its modelled duration elapsed, pro rata)."""
        assert self.daemon is not None
        seen = self.layers.get(layer.digest[7:19])
        if state != EXTRACTING or seen is None or seen.unpack_began is None:
            return layer.size
        total = seen.unpack_duration
        if total <= 0 or math.isinf(total):
            return 0.0
        return min(layer.size, layer.size * (max(self.clock(), self.daemon.env.now) - seen.unpack_began) / total)

    def ending(self, name: str) -> list[dict[str, Any]]:
        """``Digest:`` and ``Status:`` after the last layer."""
        assert self.image is not None
        self.close()
        lines = self.poll(final=True)
        if self.image.manifest_digest:
            lines.append({"status": f"Digest: {refs.pull_digest(self.image)}"})
        word = "Image is up to date for" if self.up_to_date else "Downloaded newer image for"
        lines.append({"status": f"Status: {word} {name}"})
        return lines


class PushWatch:
    """The progress of one push: the pusher's per-layer records as they appear (``push_layer`` spans are
    written when a layer ends, so a layer shows ``Preparing`` until then)."""

    def __init__(self, job_of: list[int]) -> None:
        self.job_of = job_of  # filled with the job number when the operation starts
        self.image: ImageInfo | None = None
        self.daemon: Daemon | None = None
        self.shown: dict[str, int] = {}
        self.span_index = 0
        self.headed = False

    def begin(self, daemon: Daemon, image: ImageInfo) -> None:
        self.daemon = daemon
        self.image = image
        self.span_index = daemon.recorder.follow(self)

    def poll(self, repository: str) -> list[dict[str, Any]]:
        daemon, image = self.daemon, self.image
        if daemon is None or image is None:
            return []
        out: list[dict[str, Any]] = []
        if not self.headed:
            self.headed = True
            out.append({"status": f"The push refers to repository [{repository}]"})
            for layer in reversed(image.layers):
                short = layer.digest[7:19]
                if short not in self.shown:
                    self.shown[short] = 0
                    out.append(message("Preparing", short))
        spans = daemon.recorder.read(self.span_index)
        self.span_index += len(spans)
        job = self.job_of[0] if self.job_of else None
        for span in spans:
            if span.kind != SpanKind.PUSH_LAYER or span.job != job:
                continue
            short = span.subject[7:19]
            if self.shown.get(short, 0) >= 2:
                continue
            for _, word in span.attrs.get("progress", []):
                if word in ("Preparing",):
                    continue
                if word == "Pushing":
                    found = next((la for la in image.layers if la.digest == span.subject), None)
                    size = found.size if found is not None else 0.0
                    out.append(message("Pushing", short, size, size))
                else:
                    out.append(message(word, short))
            self.shown[short] = 2
        return out
