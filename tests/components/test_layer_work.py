"""Layer work as CPU and disk work, against closed forms worked out by hand (docs/build.md: Commit and hashing;
docs/distribution.md: Push).

- A legacy-builder commit of a layer of S bytes, as moby's graphdriver store makes it (the containerd store's:
  test_containerd_commit.py): its tar digested at hash_rate h on one core while written at
  write_rate w, so on an idle host max(S/h, S/w), plus daemon.classic_commit (140 ms) after runtime.create
  (60 ms). Two commits at once: the second's RUN waits, at its rootfs unmount, for the first's writes
  (syncfs), then the digests share the cores.
- With naive overlay diff, each commit first walks both trees: (2 U + S) / file_size files at walk_per_file
  CPU-seconds each, U the parent image's unpacked bytes; nothing with native diff.
- BuildKit's export into the graphdriver store checksums each new layer once at hash_rate (S/h), in place (no
  write); a later export of the same layer pays nothing.
- A push of a locally built layer of U unpacked bytes: its gzip is U / compress_rate CPU-seconds on one core;
  two layers compressed at once on one core take twice as long; compress_cores c lets one layer use c cores.
  To an https registry the C bytes it sends are also encrypted, C / tls_rate CPU-seconds on one core of their
  own (the HTTP client's writer): on two cores the upload takes the longer of the two, on one core their sum.
  These builds use the graphdriver store, whose export leaves the layers uncompressed (under the containerd
  store the export compresses them and the push does not: test_build_export_compress.py).

Every build here is FROM scratch or a preloaded image, with api_service_time 0 s, no solver work and RUNs of
0 s, so that the spans hold only the work under test.
"""

from __future__ import annotations

import pytest

from dsim.domain.images import DEFAULT_UNCOMPRESSED_RATIO
from dsim.result import SimResult
from tests.helpers import run_text

CONTAINER = 0.06 + 0.14  # runtime.create + daemon.classic_commit


def simulate(*, storage: str, cpus: int = 1, dockerfile: str, builder: str = "classic", jobs: int = 1,
             push: bool = False, layers: str = "[100MB]", repeat: bool = False,
             image_store: str = "containerd", tls: bool = True) -> SimResult:
    push_step = '\n          - push: "reg/app:1"' if push else ""
    build_step = (f'build: {{dockerfile_text: "{dockerfile}", builder: {builder}, tag: "reg/app:1", '
                  'default_run_time: 0s, layer_sizes: {"make": 400MB, "one": 100MB, "two": 100MB}}')
    again = f"\n          - {build_step}" if repeat else ""
    result = run_text(f"""
    name: layer-work
    registries:
      reg: {{bandwidth: 100Gbps, latency: 0s, tls: {str(tls).lower()}}}
    images:
      base:1: {{registry: reg, layers: {layers}}}
    hosts:
      dev: {{cpus: {cpus}, preloaded: ["base:1"], storage: {storage},
            daemon: {{api_service_time: 0s, buildkit_vertex: 0s, image_store: {image_store}}}}}
    workloads:
      build:
        arrival: {{burst: {jobs}}}
        steps:
          - {build_step}{again}{push_step}
    """)
    for job in result.jobs:
        assert job.status == "completed", job.error
    return result


def builds(result: SimResult) -> list[float]:
    return [float(span.duration) for span in result.spans_of("build")]


def test_a_commit_is_bound_by_the_slower_of_its_digest_and_its_write() -> None:
    # 400 MB: digest at 50 MB/s = 8 s, write at 100 MB/s = 4 s: the commit takes 8 s; plus one container
    [seconds] = builds(simulate(storage="{write_rate: 100MB/s, dirty_ratio: 0, hash_rate: 50MB/s}",
                                dockerfile="FROM scratch\\nRUN make\\n", image_store="graphdriver"))
    assert seconds == pytest.approx(CONTAINER + 8.0)
    # the write bound: digest at 400 MB/s = 1 s, write 4 s
    [seconds] = builds(simulate(storage="{write_rate: 100MB/s, dirty_ratio: 0, hash_rate: 400MB/s}",
                                dockerfile="FROM scratch\\nRUN make\\n", image_store="graphdriver"))
    assert seconds == pytest.approx(CONTAINER + 4.0)


def test_two_commits_share_one_core_and_one_disk() -> None:
    # two builds at once (no page cache: writes at the disk's pace). The first's commit starts writing its
    # 400 MB just as the second's RUN ends, so the second's rootfs unmount syncs them first: 400 / 100 = 4 s
    # alone on the disk. On a 1-CPU host the first digests alone for those 4 s (4 of its 8 CPU-seconds), then
    # both share the core: the first ends 8 s later (12 s), the second's last 4 s alone (16 s); its write took
    # 4 s from 4 s. On 2 CPUs each digest has its core: 8 s for the first, 4 + 8 = 12 s for the second
    one_core = builds(simulate(storage="{write_rate: 100MB/s, dirty_ratio: 0, hash_rate: 50MB/s}", jobs=2,
                               dockerfile="FROM scratch\\nRUN make\\n", image_store="graphdriver"))
    assert one_core == pytest.approx([CONTAINER + 12.0, CONTAINER + 16.0])
    two_cores = builds(simulate(storage="{write_rate: 100MB/s, dirty_ratio: 0, hash_rate: 50MB/s}", jobs=2, cpus=2,
                                dockerfile="FROM scratch\\nRUN make\\n", image_store="graphdriver"))
    assert two_cores == pytest.approx([CONTAINER + 8.0, CONTAINER + 12.0])


def test_a_naive_diff_walks_the_whole_image_at_every_commit() -> None:
    # base: one 100 MB layer, U = 100e6 x 2.7 unpacked; file_size 1 MB: U / 1e6 = 270 files per tree; three
    # ENV commits each walk both trees, 540 files at 2 ms: 1.08 s each on top of the container. A walk of a
    # second or more ends past the next whole second after its diff began, so the naive diff's close waits
    # for nothing (that wait: test_build_commit_sync.py)
    dockerfile = "FROM base:1\\nENV A=1\\nENV B=2\\nENV C=3\\n"
    naive = "{overlay_diff: naive, file_size: 1MB, walk_per_file: 2ms}"
    walk = 2 * 100e6 * DEFAULT_UNCOMPRESSED_RATIO / 1e6 * 2e-3
    assert walk == pytest.approx(1.08)
    [seconds] = builds(simulate(storage=naive, dockerfile=dockerfile, image_store="graphdriver"))
    assert seconds == pytest.approx(3 * (CONTAINER + walk))
    # the walk grows with the image: a 300 MB base (three 100 MB layers) walks 3 x 540 files
    [bigger] = builds(simulate(storage=naive, dockerfile=dockerfile, layers="[100MB, 100MB, 100MB]",
                                image_store="graphdriver"))
    assert bigger == pytest.approx(3 * (CONTAINER + 3 * walk))
    # native diff reads the upper dir only: no walk; BuildKit commits no container at all
    [native] = builds(simulate(storage="{file_size: 1MB, walk_per_file: 2ms}", dockerfile=dockerfile,
                                image_store="graphdriver"))
    assert native == pytest.approx(3 * CONTAINER)
    [kit] = builds(simulate(storage=naive, dockerfile=dockerfile, builder="buildkit"))
    assert kit == pytest.approx(0.0, abs=1e-9)


def test_a_walk_counts_the_new_files_too() -> None:
    # RUN make on base:1 writes 400 MB: the container's tree has 270 + 400 files of 1 MB, the parent's 270:
    # 940 files at 1 ms = 0.94 s, then the 400 MB digested and written (write_rate inf, hash 400 MB/s: 1 s)
    naive = "{overlay_diff: naive, file_size: 1MB, walk_per_file: 1ms, write_rate: inf, hash_rate: 400MB/s}"
    [seconds] = builds(simulate(storage=naive, dockerfile="FROM base:1\\nRUN make\\n",
                                image_store="graphdriver"))
    assert seconds == pytest.approx(CONTAINER + 0.94 + 1.0)


def uploads(result: SimResult) -> list[float]:
    return sorted(float(s.duration) for s in result.spans_of("upload") if s.attrs["compressed_here"])


def test_push_gzip_is_cpu_work_shared_by_the_layers_on_one_core() -> None:
    # two built layers of 100 MB unpacked, gzip at 10 MB/s: 10 CPU-s each. 2 cores: both at once in 10 s;
    # 1 core: half a core each, 20 s. The network (100 Gbps) never binds
    dockerfile = "FROM scratch\\nRUN one\\nRUN two\\n"
    storage = "{compress_rate: 10MB/s, tls_rate: inf, send_rate: inf}"
    two = uploads(simulate(storage=storage, cpus=2, dockerfile=dockerfile, builder="buildkit", push=True,
                           image_store="graphdriver"))
    assert two == pytest.approx([10.0, 10.0], rel=1e-6)
    one = uploads(simulate(storage=storage, cpus=1, dockerfile=dockerfile, builder="buildkit", push=True,
                           image_store="graphdriver"))
    assert one == pytest.approx([20.0, 20.0], rel=1e-6)


def test_a_parallel_gzip_uses_the_cores_it_is_given() -> None:
    # compress_cores 2 (pgzip) on 2 CPUs: one 100 MB layer's 10 CPU-s on 2 cores take 5 s
    result = simulate(storage="{compress_rate: 10MB/s, compress_cores: 2, tls_rate: inf, send_rate: inf}", cpus=2,
                      builder="buildkit",
                      dockerfile="FROM scratch\\nRUN one\\n", push=True, image_store="graphdriver")
    assert uploads(result) == pytest.approx([5.0], rel=1e-6)


def test_a_push_to_an_https_registry_encrypts_what_it_sends() -> None:
    # one built layer of U = 100 MB, gzipped at 10 MB/s (10 CPU-s) into C = U / 2.7 bytes, encrypted at 2 MB/s
    # (C / 2 MB/s = 18.52 CPU-s): two cores, the longer of the two; one core, both in turn (processor sharing
    # ends the last at their sum); plain http, the gzip alone
    encrypt = 100e6 / DEFAULT_UNCOMPRESSED_RATIO / 2e6
    storage = "{compress_rate: 10MB/s, tls_rate: 2MB/s, send_rate: inf}"
    dockerfile = "FROM scratch\\nRUN one\\n"
    for cpus, seconds in ((2, max(10.0, encrypt)), (1, 10.0 + encrypt)):
        result = simulate(storage=storage, cpus=cpus, dockerfile=dockerfile, builder="buildkit", push=True,
                          image_store="graphdriver")
        assert uploads(result) == pytest.approx([seconds], rel=1e-6)
    plain = simulate(storage=storage, cpus=1, dockerfile=dockerfile, builder="buildkit", push=True,
                     image_store="graphdriver", tls=False)
    assert uploads(plain) == pytest.approx([10.0], rel=1e-6)


def test_buildkit_checksums_a_new_layer_once_at_export() -> None:
    # RUN make (0 s) writes 400 MB; the export checksums it at 100 MB/s: 4 s, no second write (write_rate
    # 1 MB/s would add 400 s if it did). A second build of the same Dockerfile hits the cache and the layer is
    # registered already: 0 s
    storage = "{hash_rate: 100MB/s, write_rate: 1MB/s, dirty_ratio: 0}"
    first, second = builds(simulate(storage=storage, builder="buildkit", dockerfile="FROM scratch\\nRUN make\\n",
                                    jobs=1, push=False, repeat=True, image_store="graphdriver"))
    assert first == pytest.approx(4.0)
    assert second == pytest.approx(0.0, abs=1e-9)
