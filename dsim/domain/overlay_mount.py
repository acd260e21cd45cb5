"""The overlay mount of a container's root filesystem, by the image's depth (``hosts.X.runtime.overlay``).

Field names and meanings are the scenario format's (dsim/scenarios/model/overlay_mount.py, where every
default says where its number comes from); the defaults live here so that domain types can be built without
the format (tests, ``dsim serve``). The rule: components/mounts.py.
"""

from __future__ import annotations

from dataclasses import dataclass

#: moby#25824 (https://github.com/moby/moby/pull/25824), overlay2's Mount of a container's writable layer over
#: a chain of 1 / 20 / 50 / 100 image layers (a Go benchmark, 8 threads): 231.444 / 307.961 / 420.499 us
#: without a helper process. Each layer more: (420.499 - 231.444) us / 49 = 3.858 us (the kernel resolves and
#: checks every lowerdir, and overlayfs takes a private clone of each layer's mount).
PER_LAYER = 3.86e-6
#: the same PR: the driver before it re-executed dockerd for every mount (``docker-mountfrom``, to chdir and
#: mount relative paths): 7,744.409 us for the one-layer mount against 231.444 us without, 7.51 ms more.
#: Since Docker 23.0 (moby#44285) overlay2 mounts long option lists from a thread (unshare(CLONE_FS) + chdir),
#: as containerd's mountAt does: no process, so no helper cost by default.
HELPER = 0.0
#: The deepest image whose overlay options fit one page (mount(2) copies at most 4,096 bytes): under
#: /var/lib/docker/overlay2 each lower is "/var/lib/docker/overlay2/l/" + a 26-character link id + ":" = 54
#: bytes, and "index=off," "lowerdir=" ",upperdir=<94>" ",workdir=<94>" take 225 more: 225 + 54 x lowers <=
#: 4,095 allows 71 lowers, the image's layers plus the container's init layer: 70 image layers.
PAGE_LAYERS = 70
#: The depth up to which ``runtime.mount`` is the step's whole cost: Khan's 568 ms warm ``docker run`` (the
#: calibration of ``runtime``) is a mean over images of 5 to 155 MB with a 2.5% spread, and dsim checks it on
#: nginx:latest's 7 layers (tests/components/test_containers_lifecycle.py): up to 7 layers the per-layer
#: work (at most 6 x 3.86 = 23 us) lies far inside that spread and inside the 20 ms, deeper images add to it.
COVERED_LAYERS = 7


@dataclass(frozen=True, slots=True)
class OverlayMountSpec:
    """How the mount step's cost grows with the image's layer count."""

    #: seconds per image layer beyond ``covered_layers``
    per_layer: float = PER_LAYER
    #: seconds of a helper process for a mount whose options do not fit one page
    helper: float = HELPER
    #: the deepest image whose mount options fit one page (no helper)
    page_layers: int = PAGE_LAYERS
    #: the depth up to which ``runtime.mount`` is the step's whole cost
    covered_layers: int = COVERED_LAYERS


DEFAULT_OVERLAY_MOUNT = OverlayMountSpec()
