"""docker push against hand-worked timelines: existence checks, cross-repository mounts, upload slots, the
compression cost of locally built layers, and bytes received at the registry.

A locally built image is put into the host's store before the run, as a build leaves it when nothing compressed
it (the graphdriver store's BuildKit export, the legacy builder): tagged, its layers unpacked and marked ``local``,
with no blob (under the containerd store BuildKit's export writes one: test_build_export_compress.py).
Topology: one switch, zero link latency; the registry ``reg`` takes 10 ms per request and 100 MB/s; API calls free.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable

import pytest

from dsim.domain.images import ImageInfo, LayerInfo
from dsim.domain.refs import chain_ids, sha256
from dsim.result import SimResult
from dsim.scenarios.loader import load_scenario_text
from dsim.scenarios.resolve import Resolved
from dsim.world import World

MiB = 2**20

BASE = """
name: t
registries:
  reg: {{bandwidth: 100MB/s, latency: 10ms}}
images:
  base:1: {{registry: reg, layers: [50MB]}}
hosts:
  h:
    count: 2
    nic: inf
    daemon: {{api_service_time: 0s{daemon}}}
    storage: {{write_rate: inf, decompress_rate: {{gzip: inf}}, hash_rate: inf,
               receive_rate: inf, apply_rate: inf, apply_per_file: 0s{storage}}}
    preloaded: {preloaded}
workloads:
  w:
    arrival: {{burst: 1}}
    placement: h-1
    steps: [{steps}]
{more}
"""


def built(ref: str, sizes: list[tuple[float, float]], base: ImageInfo | None = None) -> ImageInfo:
    """An image as a build leaves it: the base's layers, then local layers of (compressed, uncompressed)."""
    own = [sha256(f"{ref} built {i}") for i in range(len(sizes))]
    digests = [layer.digest for layer in (base.layers if base else ())] + own
    chains = chain_ids(digests)
    layers = list(base.layers if base else ())
    for i, (size, uncompressed) in enumerate(sizes):
        index = len(layers)
        layers.append(LayerInfo(index, own[i], chains[index], size, uncompressed, local=True))
    repository, tag = ref.rsplit(":", 1)
    return ImageInfo(ref, "reg", repository, tag, tuple(layers), "gzip", sha256(f"manifest {ref}"))


def run(steps: str, images: list[ImageInfo] | Callable[[Resolved], list[ImageInfo]], *, storage: str = "",
        preloaded: str = "[]", more: str = "", daemon: str = "") -> SimResult:
    resolved = load_scenario_text(textwrap.dedent(BASE.format(steps=steps, storage=storage, preloaded=preloaded,
                                                              more=more, daemon=daemon)))
    world = World(resolved)
    for image in images(resolved) if callable(images) else images:
        stock(world, "h-1", image)
    return world.run()


def stock(world: World, host: str, image: ImageInfo, *, local_blobs: bool = False) -> None:
    """``image`` in ``host``'s store, unpacked and tagged: its pulled layers with their blobs, its built ones with
    theirs only where ``local_blobs`` (BuildKit's export under the containerd store wrote them; a build under the
    graphdriver store leaves none)."""
    store = world.daemons[host].store
    for layer in image.layers:
        if local_blobs or not layer.local:
            store.add_blob(layer)
        store.add_chain(layer)
    store.tag(image)


def test_a_local_layer_uploads_at_the_gzip_rate() -> None:
    """16 MiB compressed from 64 MiB: gzip at 32 MiB/s of input (set here: a core of 2016) emits 8 MiB/s, under
    the 100 MB/s link, so the upload takes 2 s. POST (10 ms), PATCH 2 s, PUT (10 ms), manifest PUT (10 ms): 2.03 s."""
    result = run('{push: "reg/app:1"}', [built("reg/app:1", [(16 * MiB, 64 * MiB)])],
                 storage=", compress_rate: 32MiB/s")
    [job] = result.jobs
    assert job.status == "completed", job.error
    assert result.phase_samples("push") == [pytest.approx(2.03)]
    assert result.summary()["registries"]["reg"]["bytes_received"] == 16 * MiB
    [layer] = result.spans_of("push_layer")
    assert [word for _, word in layer.attrs["progress"]] == ["Preparing", "Pushing", "Pushed"]


def pushed_blob(*, store: str, storage: str, tls: bool = False, cpus: int = 4) -> SimResult:
    """A push of a built layer of 250 MB, 100 MB compressed (under the containerd store its blob is in the store:
    BuildKit's export made it), over a 1,000 GB/s link: the network's time is nothing beside the CPU's."""
    link = f"bandwidth: 1000GB/s, latency: 0ms, tls: {str(tls).lower()}"
    text = BASE.format(steps='{push: "reg/app:1"}', storage=storage, preloaded="[]", more="",
                       daemon=f", image_store: {store}").replace("bandwidth: 100MB/s, latency: 10ms", link)
    text = text.replace("    count: 2\n", f"    count: 2\n    cpus: {cpus}\n")
    world = World(load_scenario_text(textwrap.dedent(text)))
    stock(world, "h-1", built("reg/app:1", [(100e6, 250e6)]), local_blobs=store == "containerd")
    return world.run()


@pytest.mark.parametrize("tls", [False, True])
def test_the_upload_writer_and_containerds_blob_reads_cost_their_bytes(tls: bool) -> None:
    # dockerd's writer: 100 MB at 100 MB/s (send_rate) plus, over https, at 400 MB/s (tls_rate): 1 s or 1.25 s;
    # containerd serving the blob: 100 MB at 200 MB/s, 0.5 s, beside it on another core; nothing gzipped (the
    # blob is there): the upload takes the writer's time, the requests none
    result = pushed_blob(store="containerd", tls=tls,
                         storage=", compress_rate: inf, send_rate: 100MB/s, blob_read_rate: 200MB/s, tls_rate: 400MB/s")
    [upload] = result.spans_of("upload")
    assert upload.duration == pytest.approx(1.25 if tls else 1.0, rel=1e-6)
    cpu = sum(span.attrs["busy"] * span.duration for span in result.spans_of("cpu"))
    assert cpu == pytest.approx((1.25 if tls else 1.0) + 0.5, rel=1e-6)


def test_on_one_core_the_writer_and_containerd_take_turns() -> None:
    # one core, dockerd's cgroup against containerd's at equal weights: 0.5 s each until containerd's 0.5 s of
    # reads end at 1 s, then the writer's last 0.5 s alone: 1.5 s
    result = pushed_blob(store="containerd", cpus=1,
                         storage=", compress_rate: inf, send_rate: 100MB/s, blob_read_rate: 200MB/s")
    [upload] = result.spans_of("upload")
    assert upload.duration == pytest.approx(1.5, rel=1e-6)


def test_the_graphdriver_store_reads_no_blob_from_containerd() -> None:
    # graphdriver keeps no blob: the push gzips the layer (250 MB at 500 MB/s, 0.5 s) into the writer's pipe; the
    # writer sends 100 MB at 100 MB/s (1 s); containerd serves nothing
    result = pushed_blob(store="graphdriver",
                         storage=", compress_rate: 500MB/s, send_rate: 100MB/s, blob_read_rate: 1MB/s")
    [upload] = result.spans_of("upload")
    assert upload.duration == pytest.approx(1.0, rel=1e-6)
    assert upload.attrs["compressed_here"]


def test_a_layer_built_of_one_byte_is_pushed() -> None:
    """A RUN that writes one byte: its compressed size, estimated at 1 / 2.7 of it in whole bytes, is 0, so
    nothing crosses the network; the push still pays its gzip on a core (1 B at 32 MiB/s) and its requests:
    POST, PATCH, PUT and the manifest PUT, 10 ms each."""
    result = run('{push: "reg/app:1"}', [built("reg/app:1", [(0.0, 1.0)])])
    [job] = result.jobs
    assert job.status == "completed", job.error
    assert result.phase_samples("push") == [pytest.approx(0.03, abs=1e-6)]
    assert [s.attrs["status"] for s in result.spans_of("push_layer")] == ["Pushed"]


def test_pushing_the_same_image_twice_uploads_nothing_new() -> None:
    """The second push HEADs the blob it pushed (10 ms): "Layer already exists"; then the manifest (10 ms)."""
    result = run('{push: "reg/app:1"}, {push: "reg/app:1"}', [built("reg/app:1", [(16 * MiB, 64 * MiB)])])
    first, second = result.phase_samples("push")
    assert second == pytest.approx(0.02)
    assert result.summary()["registries"]["reg"]["bytes_received"] == 16 * MiB
    assert [s.attrs["status"] for s in result.spans_of("push_layer")] == ["Pushed", "Layer already exists"]


def test_base_layers_are_mounted_from_the_repository_they_came_from() -> None:
    """base:1 was pulled from reg's repository 'base': pushing reg/app:1 (base + one local layer) mounts the
    base layer (POST ?mount=...&from=base, 201) and uploads only the local one."""
    def app(resolved: Resolved) -> list[ImageInfo]:
        return [built("reg/app:1", [(10e6, 10e6)], base=resolved.images["base:1"])]

    result = run('{push: "reg/app:1"}', app, preloaded="[base:1]", storage=", compress_rate: inf")
    statuses = [s.attrs["status"] for s in sorted(result.spans_of("push_layer"), key=lambda s: s.subject)]
    assert sorted(statuses) == ["Mounted from base", "Pushed"]
    assert result.summary()["registries"]["reg"]["bytes_received"] == 10_000_000


def test_six_layers_share_five_upload_slots() -> None:
    """Six 100 MB layers, compression free: five upload at once (POST until 10 ms, 20 MB/s each, PATCH ends
    at 5.01 s, PUT 5.02 s); the sixth waits for a slot (5.02 s), POSTs (5.03 s), uploads alone for 1 s
    (6.03 s), PUTs (6.04 s); the manifest PUT ends the push at 6.05 s."""
    image = built("reg/app:1", [(100e6, 100e6)] * 6)
    result = run('{push: "reg/app:1"}', [image], storage=", compress_rate: inf")
    assert result.phase_samples("push") == [pytest.approx(6.05)]
    layers = sorted(result.spans_of("push_layer"), key=lambda s: s.end)
    assert [round(s.end, 6) for s in layers] == [5.02] * 5 + [6.04]
    assert [word for _, word in layers[-1].attrs["progress"]] == ["Preparing", "Waiting", "Pushing", "Pushed"]
    assert result.summary()["registries"]["reg"]["bytes_received"] == 600_000_000


def test_no_upload_limit_sends_every_layer_at_once() -> None:
    """max_concurrent_uploads: 0 (no limit): the six layers POST at once (10 ms) and share the 100 MB/s link,
    16.7 MB/s each, so all PATCHes end at 6.01 s, the PUTs at 6.02 s, the manifest PUT at 6.03 s."""
    image = built("reg/app:1", [(100e6, 100e6)] * 6)
    result = run('{push: "reg/app:1"}', [image], storage=", compress_rate: inf", daemon=", max_concurrent_uploads: 0")
    assert result.phase_samples("push") == [pytest.approx(6.03)]
    assert [round(s.end, 6) for s in result.spans_of("push_layer")] == [6.02] * 6


def test_pushing_an_image_that_is_not_local_fails_as_docker_does() -> None:
    result = run('{push: "reg/nothing:1"}', [])
    [job] = result.jobs
    assert job.error == "Error response from daemon: An image does not exist locally with the tag: reg/nothing"


def test_another_host_pulls_what_was_pushed() -> None:
    """h-1 pushes reg/app:1 at 0 s; h-2 pulls it at 30 s from reg: 3 requests + blob GET + 16 MiB at 100 MB/s."""
    more = '  later:\n    arrival: {times: [30s]}\n    placement: h-2\n    steps: [{pull: "reg/app:1"}]'
    result = run('{push: "reg/app:1"}', [built("reg/app:1", [(16 * MiB, 64 * MiB)])], more=more)
    assert all(job.status == "completed" for job in result.jobs), [job.error for job in result.jobs]
    assert result.phase_samples("pull") == [pytest.approx(0.04 + 16 * MiB / 100e6)]
