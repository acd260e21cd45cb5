"""A build step whose diff is empty (a RUN that changed no file: ``layer_sizes`` 0) in the built image
(dsim/components/builder.py ``image_layers``), and a commit of an untouched container (test_daemon_commit.py).

The legacy builder commits each step's container, and neither image store adds a layer for an empty diff: moby
``image/image.go`` ``NewChildImage`` appends the diff to the config's rootfs only when ``layer.IsEmpty`` is
false (graphdriver), ``daemon/containerd/image_commit.go`` ``createDiff`` returns no layer for an empty archive
(containerd). BuildKit exports every snapshot of the chain as a blob, an empty one as the 32-byte empty gzip layer
``4f4fb700...`` that official images carry (docs/catalog.md). So ``FROM base:1`` (one layer), ``RUN true`` (0
bytes), ``RUN make`` (400 MB) makes an image of 2 layers with the legacy builder and 3 with BuildKit, and its push
sends as many layers. BuildKit's empty layer is the one every tool writes alike (a 1,024-byte tar of end blocks,
32 bytes gzipped): a second image that has one finds it in the registry already.
"""

from __future__ import annotations

import pytest

from dsim.domain.images import EMPTY_LAYER_DIGEST
from dsim.scenarios.loader import load_scenario_text
from dsim.world import World

SCENARIO = """
name: empty-diff
registries:
  reg: {{bandwidth: 100Gbps, latency: 0s}}
images:
  base:1: {{registry: reg, layers: [100MB]}}
hosts:
  dev: {{preloaded: ["base:1"], daemon: {{api_service_time: 0s, image_store: {store}}}}}
workloads:
  build:
    arrival: {{burst: 1}}
    steps:
      - build: {{dockerfile_text: "FROM base:1\\nRUN true\\nRUN make\\n", builder: {builder}, tag: "reg/app:1",
                 default_run_time: 0s, layer_sizes: {{"true": 0B, "make": 400MB}}}}
      - push: "reg/app:1"
"""


@pytest.mark.parametrize("store", ["containerd", "graphdriver"])
@pytest.mark.parametrize(("builder", "layers"), [("classic", [100e6 * 2.7, 400e6]),
                                                  ("buildkit", [100e6 * 2.7, 1024.0, 400e6])])
def test_an_empty_run_adds_a_layer_to_buildkits_image_only(store: str, builder: str, layers: list[float]) -> None:
    world = World(load_scenario_text(SCENARIO.format(store=store, builder=builder)))
    result = world.run()
    assert [job.status for job in result.jobs] == ["completed"]
    image = world.daemons["dev"].store.image("reg/app:1")
    assert image is not None
    assert [layer.uncompressed for layer in image.layers] == pytest.approx(layers)
    [export] = result.spans_of("build_export")
    assert export.attrs["layers"] == len(layers)
    assert len(result.spans_of("push_layer")) == len(layers)  # the pushed manifest lists the image's layers


def test_buildkits_empty_layer_is_the_well_known_blob_a_registry_already_has() -> None:
    text = SCENARIO.format(store="containerd", builder="buildkit") + """
  again:
    arrival: {times: [100s]}
    steps:
      - build: {dockerfile_text: "FROM base:1\\nRUN echo\\n", tag: "reg/other:1", default_run_time: 0s,
                layer_sizes: {"echo": 0B}}
      - push: "reg/other:1"
"""
    world = World(load_scenario_text(text))
    result = world.run()
    assert [job.status for job in result.jobs] == ["completed", "completed"]
    image = world.daemons["dev"].store.image("reg/other:1")
    assert image is not None and (image.layers[1].digest, image.layers[1].size) == (EMPTY_LAYER_DIGEST, 32.0)
    statuses = [span.attrs["status"] for span in result.spans_of("push_layer") if span.job == 2]
    assert statuses == ["Mounted from app"] * 2  # base:1's layer and the empty one: both in reg/app already
    assert not [span for span in result.spans_of("upload") if span.job == 2]
