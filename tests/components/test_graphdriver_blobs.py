"""moby's graphdriver image store keeps no compressed blobs (dsim/components/image_store.py ``keeps_blobs``), worked
out by hand against containerd's store, which keeps them.

A graphdriver pull writes each blob to a temporary file and deletes it once the layer is registered (moby
``distribution/pull_v2.go``), so after a pull the disk holds the unpacked layers only; containerd's content store
keeps every blob beside its unpacked layer. ``app:1`` is two layers, 10 + 20 MB compressed, 25 + 40 MB unpacked:
after its pull the disk holds 65 MB under graphdriver and 95 MB under containerd (preloaded alike).

A push then has no blob to send under graphdriver: moby's push tars the layer again and gzips it while it uploads
(``distribution/push_v2.go``, ``uploadUsingSession``), pulled layers too; containerd's store sends the blob it
keeps. Pushed to another registry (no mount possible, one HEAD that finds nothing), app's two layers upload at once
(5 upload slots). Under graphdriver each is bound by its deflate on an idle core of the four: 25 MB and 40 MB at
100 MiB/s (``compress_rate``), its 10 or 20 MB far below the link's 10 GB/s. Under containerd the link alone: the
two share it (5 GB/s each) until the 10 MB one ends at 2 ms, then the 20 MB one's last 10 MB take 1 ms alone.
"""

from __future__ import annotations

from collections import Counter

import pytest

from dsim.domain.hosts import COMPRESS_RATE as GZIP
from dsim.domain.images import EMPTY_LAYER_DIGEST
from dsim.scenarios.loader import load_scenario_text
from dsim.world import World
from tests.components.test_daemon_api import run
from tests.helpers import run_text

MB = 1e6
SCENARIO = """
name: graphdriver-blobs
registries:
  reg: {{bandwidth: 10GB/s, latency: 0s}}
  other: {{bandwidth: 10GB/s, latency: 0s}}
images:
  base:1: {{registry: reg, layers: [{{size: 10MB, uncompressed: 25MB}}]}}
  app:1: {{registry: reg, from: "base:1", layers: [{{size: 20MB, uncompressed: 40MB}}]}}
hosts:
  h: {{cpus: 4, disk: 1GB, nic: inf, preloaded: {preloaded}, daemon: {{api_service_time: 0s, image_store: {store}}},
      storage: {{write_rate: inf, hash_rate: inf,
                 receive_rate: inf, apply_rate: inf, apply_per_file: 0s, tls_rate: inf,
                 send_rate: inf, blob_read_rate: inf, decompress_rate: {{gzip: inf}}}}}}
"""


def world(store: str, preloaded: str = "[]") -> World:
    return World(load_scenario_text(SCENARIO.format(store=store, preloaded=preloaded), serving=True))


@pytest.mark.parametrize(("store", "on_disk"), [("graphdriver", 65 * MB), ("containerd", 95 * MB)])
def test_a_pull_leaves_the_blobs_on_disk_only_under_containerd(store: str, on_disk: float) -> None:
    built = world(store)
    daemon = built.daemons["h"]
    run(built, daemon.pull("app:1", job=1))
    image = daemon.store.image("app:1")
    assert image is not None
    assert daemon.store.disk_used == pytest.approx(on_disk)
    assert [daemon.store.has_blob(layer.digest) for layer in image.layers] == [store == "containerd"] * 2
    preloaded = world(store, '["app:1"]').daemons["h"].store
    assert preloaded.disk_used == pytest.approx(on_disk)


@pytest.mark.parametrize(("store", "seconds"), [("graphdriver", [25 * MB / GZIP, 40 * MB / GZIP]),
                                                ("containerd", [10 * MB / 5e9, 10 * MB / 5e9 + 10 * MB / 10e9])])
def test_a_push_of_pulled_layers_gzips_them_again_only_under_graphdriver(store: str, seconds: list[float]) -> None:
    built = world(store)
    daemon = built.daemons["h"]
    run(built, daemon.pull("app:1", job=1))
    run(built, daemon.tag("app:1", "other/app:1", job=2))
    run(built, daemon.push("other/app:1", job=3))
    uploads = sorted(built.recorder.spans.of_kind("upload"), key=lambda span: span.attrs["bytes"])
    assert [span.attrs["compressed_here"] for span in uploads] == [store == "graphdriver"] * 2
    assert [span.end - span.start for span in uploads] == pytest.approx(seconds, rel=1e-6)


SHARED_EMPTY = """
name: shared-blob
hosts:
  h: {{nic: 1Gbps, daemon: {{image_store: {store}}}}}
workloads:
  redis: {{arrival: {{times: [0s]}}, steps: [{{pull: "redis:7.4"}}]}}
  httpd: {{arrival: {{times: [0s]}}, steps: [{{pull: "httpd:latest"}}]}}
  redis-again: {{arrival: {{times: [0s]}}, steps: [{{pull: "redis:7.4"}}]}}
"""


@pytest.mark.parametrize(("store", "downloads"), [("graphdriver", 2), ("containerd", 1)])
def test_concurrent_pulls_share_a_blob_on_different_chains_only_in_containerds_store(store: str,
                                                                                    downloads: int) -> None:
    """redis:7.4 (its sixth layer) and httpd (its third) both hold the 32-byte empty layer 4f4fb700, on different
    layer chains; two pulls of redis share its chain. containerd's content-ingest lock is keyed by the blob's
    digest: one download for all three pulls. moby's graphdriver download manager keys a transfer by the layers
    up to it (identical prefixes only): the second redis pull joins the first's, httpd downloads it again."""
    result = run_text(SHARED_EMPTY.format(store=store))
    assert [job.status for job in result.jobs] == ["completed"] * 3
    assert sum(span.subject == EMPTY_LAYER_DIGEST for span in result.spans_of("download")) == downloads
    others = Counter(span.subject for span in result.spans_of("download") if span.subject != EMPTY_LAYER_DIGEST)
    assert set(others.values()) == {1}  # every other blob once: the second redis pull joined the first's
