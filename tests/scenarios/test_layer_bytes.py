"""A layer's size once unpacked, where dsim estimates it from the compression ratio, is a whole number of bytes
(a byte count is an integer; in floats 3 MB x 2.7 is 8,100,000.000000001, which spans.csv printed as such)."""

from __future__ import annotations

import json
from importlib import resources

from dsim.domain.images import DEFAULT_UNCOMPRESSED_RATIO
from dsim.scenarios.catalog import catalog
from tests.components.test_build_cache import build, completed, job, run
from tests.helpers import run_text


def test_a_scenario_layer_unpacks_to_whole_bytes() -> None:
    assert 3e6 * DEFAULT_UNCOMPRESSED_RATIO != 8_100_000  # the float product is not whole: what the test guards
    result = run_text("""
    name: whole-bytes
    registries: {hub: {}}
    images: {app:1: {registry: hub, layers: [3MB, 24MB]}}
    hosts: {box: {}}
    workloads: {one: {arrival: {burst: 1}, steps: [{pull: 'app:1'}]}}
    """)
    unpacked = sorted(span.attrs["bytes"] for span in result.spans_of("unpack"))
    assert unpacked == [8_100_000, 64_800_000]
    assert all(float(nbytes).is_integer() for nbytes in unpacked)


def test_catalog_layers_unpack_to_whole_bytes_that_add_up_to_the_image() -> None:
    raw = json.loads(resources.files("dsim.scenarios").joinpath("catalog/real-images.json").read_text())["images"]
    for ref, image in catalog().items():
        sizes = [layer.uncompressed for layer in image.layers]
        assert all(size.is_integer() for size in sizes), ref
        total = raw[ref].get("uncompressed_total")
        if total:  # each layer rounded by at most half a byte
            assert abs(sum(sizes) - total) <= len(sizes) / 2, ref


def test_a_built_layer_pushes_whole_bytes() -> None:
    """A RUN's 150 MB layer is gzipped (by the export under the containerd store) to an estimated 150e6 / 2.7 =
    55,555,555.6 bytes: 55,555,556. FROM scratch, so it is the only blob pushed."""
    dockerfile = "FROM scratch\nRUN pip install flask\n"
    result = run({"dev": job(build(dockerfile, tag="local/app:1", context=None, layer_sizes={"pip install": "150MB"}),
                             {"push": "local/app:1"})},
                 contexts={}, registries={"local": {"bandwidth": "10Gbps", "latency": "0s"}})
    completed(result)
    [built] = [span.attrs["bytes"] for span in result.spans_of("upload")]
    assert built == 55_555_556
