"""Docker's progress messages (NDJSON, as ``jsonmessage`` defines them) read off the model while it runs.

The HTTP thread asks the simulation thread for a ``poll()`` a few times a second of wall time; a poll only
reads the daemon's state (which blobs are downloading, which chains are unpacking, what is present) and
turns changes into the lines dockerd would have written. Nothing here moves bytes or takes time in the
model: the download byte counts shown between ``Downloading`` lines are the flow's solved rate from the
network model integrated over the poll interval (display only; the layer completes when the model says).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from dsim.components.daemon import Daemon
from dsim.domain.images import ImageInfo, LayerInfo
from dsim.progress_words import ALREADY_EXISTS, WORDS, LayerStage, stage_of
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


class PullWatch:
    """The progress of one pull, built from polls of the daemon's state (run in the simulation thread)."""

    def __init__(self) -> None:
        self.image: ImageInfo | None = None
        self.daemon: Daemon | None = None
        self.present: set[str] = set()  # chain IDs already unpacked when the pull began ("Already exists")
        self.up_to_date = False
        self.state: dict[str, int] = {}
        self.seen_waiting: set[str] = set()
        self.received: dict[str, float] = {}
        self.notes: dict[str, int] = {}
        self.last_poll = 0.0
        self.headed = False
        self.announced: set[str] = set()
        self.clock: Callable[[], float] = lambda: 0.0

    def begin(self, daemon: Daemon, image: ImageInfo, clock: Callable[[], float] | None = None) -> None:
        """At the pull's start (same instant, simulation thread): what is already here. ``clock`` is the
        real-time simulated clock: between two events ``env.now`` stands still while flows move on."""
        self.daemon = daemon
        self.image = image
        self.clock = clock or (lambda: daemon.env.now)
        self.present = {layer.chain_id for layer in image.layers if layer.chain_id in daemon.store.chains}
        self.up_to_date = daemon.store.complete(image)
        self.last_poll = self.clock()

    @property
    def begun(self) -> bool:
        return self.image is not None

    def activity(self) -> bool:
        """The pull got past resolving the tag: some layer of it is moving (or it ended)."""
        daemon, image = self.daemon, self.image
        if daemon is None or image is None:
            return False
        store = daemon.store
        return any(layer.digest in store.downloading or layer.chain_id in store.unpacking
                   or (layer.chain_id in store.chains and layer.chain_id not in self.present)
                   for layer in image.layers)

    def _layer_state(self, layer: LayerInfo) -> int:
        assert self.daemon is not None
        store = self.daemon.store
        record = store.downloading.get(layer.digest)
        return stage_of(unpacked=layer.chain_id in store.chains, unpacking=layer.chain_id in store.unpacking,
                        blob_present=layer.digest in store.blobs, downloading=record is not None,
                        download_began=record.began if record is not None else None)

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
            out.append({"status": f"Pulling from {refs.remote_path(image)}", "id": image.tag})
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
            targets[short] = COMPLETE if final else self._layer_state(layer)
            record = daemon.store.downloading.get(layer.digest)
            if record is not None:  # retries, as dockerd reports them
                for _, note in record.notes[self.notes.get(short, 0):]:
                    out.append(message(note, short))
                self.notes[short] = len(record.notes)
            if targets[short] == DOWNLOADING:
                if rate is None:
                    rate = self._rate()
                first = self.state.get(short, -1) < DOWNLOADING and record is not None and record.began is not None
                span = now - record.began if first and record is not None and record.began is not None else elapsed
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
        assert self.daemon is not None and self.image is not None
        if state != EXTRACTING:
            return layer.size
        record = self.daemon.store.unpacking.get(layer.chain_id)
        if record is None:
            return layer.size
        total = self.daemon.puller.unpack_time(layer, self.image.compression)
        if total <= 0 or math.isinf(total):
            return 0.0
        return min(layer.size, layer.size * (max(self.clock(), self.daemon.env.now) - record.began) / total)

    def ending(self, name: str) -> list[dict[str, Any]]:
        """``Digest:`` and ``Status:`` after the last layer."""
        assert self.image is not None
        lines = self.poll(final=True)
        if self.image.manifest_digest:
            lines.append({"status": f"Digest: {self.image.manifest_digest}"})
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
        self.span_index = len(daemon.recorder.spans)

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
        spans = daemon.recorder.spans
        job = self.job_of[0] if self.job_of else None
        while self.span_index < len(spans):
            span = spans[self.span_index]
            self.span_index += 1
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
