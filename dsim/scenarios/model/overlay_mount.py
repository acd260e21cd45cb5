"""The overlay mount's cost by the image's depth (``hosts.X.runtime.overlay``; components/mounts.py)."""

from __future__ import annotations

from pydantic import Field

from dsim.domain.overlay_mount import COVERED_LAYERS, HELPER, PAGE_LAYERS, PER_LAYER
from dsim.scenarios.fields import FiniteDuration
from dsim.scenarios.model.base import Strict


class OverlayMount(Strict):
    """How the start's overlay mount grows with the image's layers: ``runtime.mount`` is its cost up to
    ``covered_layers``; each layer deeper adds ``per_layer``; a mount whose options do not fit one page (an
    image deeper than ``page_layers``) adds ``helper`` (docs/containers.md: layer depth)."""

    per_layer: FiniteDuration = Field(
        PER_LAYER, ge=0, description="seconds per image layer beyond covered_layers: the kernel resolves and "
        "checks every lowerdir and clones each layer's mount (3.86us: overlay2's mount over 1 / 20 / 50 layers "
        "took 231 / 308 / 420us, https://github.com/moby/moby/pull/25824)",
    )
    helper: FiniteDuration = Field(
        HELPER, ge=0, description="a helper process per mount whose options do not fit one page (0: Docker's "
        "overlay2 and containerd mount them from a thread; 7.51ms for overlay2's re-exec of dockerd, "
        "docker-mountfrom, before moby#25824 for every mount and after it past a page: 7,744 vs 231us, "
        "https://github.com/moby/moby/pull/25824)",
    )
    page_layers: int = Field(
        PAGE_LAYERS, ge=0, description="the deepest image whose overlay options fit mount(2)'s one page of 4,096 "
        "bytes (70 under /var/lib/docker/overlay2: 54 bytes per lower, the image's layers and the init layer, "
        "plus 225; docs/containers.md: layer depth); 0: every mount uses the helper",
    )
    covered_layers: int = Field(
        COVERED_LAYERS, ge=1, description="the image depth up to which runtime.mount is the step's whole cost (7: "
        "Khan's 568ms is a mean over images of 5-155MB with a 2.5% spread, checked on nginx:latest's 7 layers)",
    )
