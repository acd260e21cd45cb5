"""The start's overlay mount by the image's depth (components/mounts.py, hosts.X.runtime.overlay).

Rules (docs/containers.md: layer depth): the mount step costs ``runtime.mount`` for an image of up to
``covered_layers`` (7) layers; each layer deeper adds ``per_layer`` (3.86 us, moby#25824); an image deeper than
``page_layers`` (70) adds ``helper`` (0 by default; 7.51 ms for overlay2's re-exec of dockerd). Expectations
below are worked out from these rules by hand.
"""

from __future__ import annotations

import pytest

from dsim.components.mounts import overlay_mount_cost
from dsim.domain.overlay_mount import DEFAULT_OVERLAY_MOUNT, OverlayMountSpec
from tests.helpers import run_text


def mount_span(layers: int, overlay: str = "") -> float:
    """The mount span of one `docker run` of a preloaded image of ``layers`` layers of 1 MB."""
    runtime = f", runtime: {{overlay: {{{overlay}}}}}" if overlay else ""
    result = run_text(f"""
    name: depth
    registries: {{reg: {{bandwidth: 1Gbps, latency: 5ms}}}}
    images:
      deep:1: {{registry: reg, layers: [{', '.join(['1MB'] * layers)}]}}
    hosts:
      box: {{cpus: 4, memory: 8GiB, preloaded: ['deep:1']{runtime}}}
    workloads:
      w: {{arrival: {{burst: 1}}, steps: [{{run: {{image: 'deep:1', detach: true}}}}]}}
    """)
    [span] = result.spans_of("mount")
    return span.end - span.start


def test_images_up_to_the_covered_depth_keep_the_calibrated_20_ms() -> None:
    # 1 and 7 layers are within covered_layers (7): the step is runtime.mount, 20 ms, exactly as before.
    assert mount_span(1) == pytest.approx(0.020, rel=1e-12)
    assert mount_span(7) == pytest.approx(0.020, rel=1e-12)


def test_each_layer_deeper_adds_the_per_layer_cost() -> None:
    # 128 layers (overlay2's maximum): 20 ms + (128 - 7) x 3.86 us = 20 ms + 0.46706 ms = 20.46706 ms;
    # 71 layers (past a page) with no helper by default: 20 ms + 64 x 3.86 us = 20.24704 ms.
    assert mount_span(128) == pytest.approx(0.020 + 121 * 3.86e-6, rel=1e-12)
    assert mount_span(71) == pytest.approx(0.020 + 64 * 3.86e-6, rel=1e-12)


def test_a_helper_process_past_one_page_of_options() -> None:
    # helper 7.51 ms: 70 layers fit one page (20 ms + 63 x 3.86 us = 20.24318 ms); 71 do not and pay the
    # helper too (20 ms + 64 x 3.86 us + 7.51 ms = 27.75704 ms), a jump of 3.86 us + 7.51 ms.
    fits = mount_span(70, "helper: 7.51ms")
    spills = mount_span(71, "helper: 7.51ms")
    assert fits == pytest.approx(0.020 + 63 * 3.86e-6, rel=1e-12)
    assert spills == pytest.approx(0.020 + 64 * 3.86e-6 + 0.00751, rel=1e-12)


def test_page_layers_zero_makes_every_mount_use_the_helper() -> None:
    # Docker before moby#25824 re-executed dockerd for every overlay2 mount: page_layers 0, so even one
    # layer pays it: 20 ms + 7.51 ms = 27.51 ms.
    assert mount_span(1, "helper: 7.51ms, page_layers: 0") == pytest.approx(0.02751, rel=1e-12)


def test_the_cost_rule_alone() -> None:
    spec = OverlayMountSpec(per_layer=1e-3, helper=0.5, page_layers=10, covered_layers=2)
    # base 1 s: 2 layers -> 1 s; 3 -> 1.001 s; 10 -> 1.008 s; 11 -> 1.009 + 0.5 = 1.509 s
    assert overlay_mount_cost(1.0, 2, spec) == 1.0
    assert overlay_mount_cost(1.0, 3, spec) == pytest.approx(1.001)
    assert overlay_mount_cost(1.0, 10, spec) == pytest.approx(1.008)
    assert overlay_mount_cost(1.0, 11, spec) == pytest.approx(1.509)
    assert overlay_mount_cost(0.02, 7, DEFAULT_OVERLAY_MOUNT) == 0.02
