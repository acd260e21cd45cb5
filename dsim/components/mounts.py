"""The overlay mount of a container's root filesystem and the image's depth (issue 13: layer depth).

At start dockerd mounts an overlay whose lower directories are the image's layers (and the container's
init layer), with the writable layer on top (moby ``daemon/graphdriver/overlay2`` ``Get``; containerd's
``mount.All`` for the containerd image store). The kernel resolves and checks every lowerdir and takes a
private clone of each layer's mount, so the mount costs a little more per layer: ``per_layer`` (3.86 us,
from moby#25824's benchmark at 1 and 50 layers). When the options no longer fit one page (deeper than
``page_layers``), the mount is made from the storage root with relative paths; Docker's overlay2 before
moby#25824 re-executed dockerd for every mount, and from it until Docker 23.0 (moby#44285) past a page, at
``helper`` (7.51 ms) a mount; today's Docker and containerd use a thread (no helper, 0 by default).

``runtime.mount`` is the step's cost for an image of up to ``covered_layers`` layers (7: Khan's 568 ms is
a mean over images of 5 to 155 MB whose spread is 2.5%, and dsim checks it on nginx:latest's 7 layers; six
layers more are 23 us, far inside that spread), so idle runs of such images are unchanged; each layer deeper
adds ``per_layer``. The helper's process and the kernel's per-layer work are part of the step, so its CPU
share (``runtime.cpu.mount``) applies to them as to the rest. Not modelled: containerd's id-mapped bind
mount of every layer with user namespaces (containerd#12048; no time per mount is published).
"""

from __future__ import annotations

import random

from dsim.domain.hosts import RuntimeSpec
from dsim.domain.images import ImageInfo
from dsim.domain.overlay_mount import OverlayMountSpec


def overlay_mount_cost(base: float, layers: int, overlay: OverlayMountSpec) -> float:
    """The mount step's seconds for an image of ``layers`` layers, ``base`` (a sample of ``runtime.mount``)
    being its cost up to ``overlay.covered_layers``: such an image costs ``base`` exactly."""
    cost = base
    if layers > overlay.covered_layers:
        cost += overlay.per_layer * (layers - overlay.covered_layers)
    if layers > overlay.page_layers and overlay.helper > 0:
        cost += overlay.helper
    return cost


def mount_seconds(runtime: RuntimeSpec, image: ImageInfo, rng: random.Random) -> float:
    """The start's mount step for a container of ``image``: a sample of ``runtime.mount`` (drawn as before,
    so a run's random stream is as before) grown by the image's depth."""
    return overlay_mount_cost(runtime.mount.sample(rng), len(image.layers), runtime.overlay)
