"""How builds execute, against closed forms: BuildKit's stage graph and parallelism against the legacy
builder's order, context transfer over the network, RUN steps sharing the host's CPUs, run times and
layer sizes, base images fetched through the pull pipeline, the result tagged and pushed.

Hosts preload the base image unless a test is about pulling it; each API call holds a daemon worker for
the default 2 ms, so a build span that starts with the job lasts 0.002 s plus the build itself.
"""

from __future__ import annotations

import math

import pytest

from dsim.domain.hosts import APPLY_PER_FILE, APPLY_RATE
from dsim.domain.hosts import COMPRESS_RATE as GZIP
from dsim.domain.hosts import SHA256_AVX2 as HASH
from dsim.domain.images import DEFAULT_UNCOMPRESSED_RATIO
from dsim.scenarios.catalog import lookup
from tests.components.test_build_cache import BASE, build, completed, counts, edit, job, run

API = 0.002  # api_service_time of the build call
#: BuildKit's export, under the containerd store, of a RUN that wrote nothing (the default 0 B): the well-known
#: empty layer, 1,024 bytes of tar gzipped at 100 MiB/s beside the tar's and the 32-byte blob's sha256 (hash_rate),
#: then the blob's fsync at 400 MiB/s, then its unpack into the snapshotter: the inflate at 200 MiB/s beside the
#: apply, the tar's digest, its bytes at apply_rate and its 1,024 / 20 KB entries (builder.py ``_compress_layers``;
#: docs/build.md; docs/distribution.md, What a pull's bytes cost), which ends last
INFLATE_EMPTY = 1024 / (200 * 2**20)
APPLY_EMPTY = 1024 / HASH + 1024 / APPLY_RATE["containerd"] + 1024 / 20e3 * APPLY_PER_FILE["containerd"]
EMPTY_EXPORT = 1024 / GZIP + (1024 + 32) / HASH + 32 / (400 * 2**20) + max(INFLATE_EMPTY, APPLY_EMPTY)
#: the same on two cores, which the inflate and the apply fill: the pipe between them on one core half the shorter's
#: time (``storage.pipe_colocation``'s default there, 0.5)
EMPTY_EXPORT_TWO_CORES = EMPTY_EXPORT + 0.5 * min(INFLATE_EMPTY, APPLY_EMPTY)
#: the same on one core, where the unpack's inflate and apply share it: their sum
EMPTY_EXPORT_ONE_CORE = EMPTY_EXPORT - max(INFLATE_EMPTY, APPLY_EMPTY) + INFLATE_EMPTY + APPLY_EMPTY


def build_time(result, job_id: int = 1) -> float:  # type: ignore[no-untyped-def]
    [span] = [s for s in result.spans_of("build") if s.job == job_id]
    return float(span.duration)


FOUR_STAGES = f"""
    FROM {BASE} AS a
    RUN work-a
    FROM {BASE} AS b
    RUN work-b
    FROM {BASE} AS unused
    RUN work-c
    FROM {BASE}
    COPY --from=a /a /a
    COPY --from=b /b /b
    """
TEN_SECONDS = {"run_times": {"work-": "10s"}, "context": None}


@pytest.mark.parametrize(("builder", "parallelism", "expected", "steps"), [
    ("buildkit", None, 10.0, 4),   # a and b at once; `unused` skipped; the COPYs copy 0 bytes
    ("buildkit", 1, 20.0, 4),      # one step at a time: a, then b
    # every stage up to the target, in order: a, b, unused; each of the 3 RUNs is a container created
    # (runtime.create 60 ms) and committed (classic_commit 140 ms), each of the 2 COPYs a bare layer mounted
    # (runtime.mount 20 ms) and committed, their layers empty (so their syncs wait for nothing)
    ("classic", None, 30.0 + 3 * (0.06 + 0.14) + 2 * (0.02 + 0.14), 5),
])
def test_stage_graph_parallelism_and_the_classic_order(builder: str, parallelism: int | None, expected: float,
                                                       steps: int) -> None:
    # the legacy builder's commits as moby's graphdriver store makes them (the containerd store's walk both trees:
    # test_containerd_commit.py)
    hosts = {"dev": {"cpus": 4, "preloaded": [BASE], "daemon": {"image_store": "graphdriver"}}}
    result = run({"dev": job(build(FOUR_STAGES, builder=builder, max_parallelism=parallelism, **TEN_SECONDS))},
                 contexts={}, hosts=hosts if builder == "classic" else None)
    completed(result)
    assert build_time(result) == pytest.approx(API + expected, abs=1e-9)
    assert counts(result) == (0, steps)
    stages = {s.attrs["stage"] for s in result.spans_of("build_step")}
    assert ("unused" in stages) == (builder == "classic")


@pytest.mark.parametrize(("cpus", "run_cpus", "jobs", "expected"), [
    (2, 2.0, 1, 10.0),   # alone: 2 cores for 10 s
    (2, 2.0, 2, 20.0),   # two heavy builds on 2 cores: each gets 1 core, 20 core-seconds each
    (2, 1.0, 2, 10.0),   # two single-threaded RUNs fit on 2 cores
    (1, 1.0, 2, 20.0),   # ... but not on 1
])
def test_run_steps_share_the_hosts_cpus(cpus: int, run_cpus: float, jobs: int, expected: float) -> None:
    """Processor sharing: a RUN timed d seconds on an idle host does d x run_cpus CPU-seconds at up to
    run_cpus cores; concurrent RUNs split the host's cores. Different commands, so nothing is shared."""
    workloads = {
        f"w{i}": job(build(f"FROM {BASE}\nRUN compile part {i}\n", run_times={"compile": "10s"}, run_cpus=run_cpus,
                           context=None))
        for i in range(jobs)
    }
    result = run(workloads, contexts={}, hosts={"dev": {"cpus": cpus, "preloaded": [BASE]}})
    completed(result)
    export = {1: EMPTY_EXPORT_ONE_CORE, 2: EMPTY_EXPORT_TWO_CORES}.get(cpus, EMPTY_EXPORT)
    for i in range(1, jobs + 1):
        assert build_time(result, i) == pytest.approx(API + expected + export, rel=1e-9)


REMOTE = {
    "laptop": {"cpus": 4, "nic": "100Mbps"},  # 12.5 MB/s
    "builder": {"cpus": 8, "nic": "1Gbps", "preloaded": [BASE]},
}
CONTEXT = {"app": {"files": {"src/a.bin": "10MB", "assets/b.bin": "40MB", ".git/pack": "100MB"},
                   "dockerignore": [".git"]}}
COPY_SRC = f"FROM {BASE}\nCOPY src/ /src/\n"


def _context_spans(result, name: str) -> list[tuple[float, float]]:  # type: ignore[no-untyped-def]
    return [(s.attrs["bytes"], s.duration) for s in result.spans_of("build_context") if s.subject == name]


def test_buildkit_sends_only_what_copy_steps_name_and_only_once() -> None:
    """Over the laptop's 100 Mbps link: BuildKit's "load build context" sends src/ (10 MB, 0.8 s); the
    next build of the same working copy sends nothing (diff copy); after an edit of src/a.bin, 10 MB again.
    .git (ignored) and assets/ (no COPY names it) never travel."""
    steps = [build(COPY_SRC, context_from="laptop"), build(COPY_SRC, context_from="laptop"), edit("src/a.bin"),
             build(COPY_SRC, context_from="laptop")]
    result = run({"dev": job(*steps, placement="builder")}, contexts=CONTEXT, hosts=REMOTE)
    completed(result)
    sent = _context_spans(result, "load build context")
    assert [nbytes for nbytes, _ in sent] == [10e6, 0, 10e6]
    assert sent[0][1] == pytest.approx(10e6 / 12.5e6, rel=1e-9)
    # COPY writes the 10 MB into the snapshot: into the page cache at once (the default host's 2.8 GiB setpoint);
    # unmounting the snapshot syncs the filesystem: the context's 10 MB and the copy's, at 400 MiB/s
    copy = [s for s in result.spans_of("build_step") if not s.attrs["cached"]][0]
    assert copy.end - copy.attrs["began"] == pytest.approx(20e6 / (400 * 2**20), rel=1e-9)
    assert counts(result) == (1, 2)


def test_classic_builder_sends_the_whole_context_first() -> None:
    """"Sending build context to Docker daemon": every file .dockerignore keeps (50 MB) plus the
    Dockerfile, before any step: 50 MB / 12.5 MB/s = 4 s, every build."""
    dockerfile_bytes = len(COPY_SRC.encode())
    result = run({"dev": job(build(COPY_SRC, context_from="laptop", builder="classic"),
                             build(COPY_SRC, context_from="laptop", builder="classic"), placement="builder")},
                 contexts=CONTEXT, hosts=REMOTE)
    completed(result)
    sent = _context_spans(result, "Sending build context to Docker daemon")
    assert [nbytes for nbytes, _ in sent] == [50e6 + dockerfile_bytes] * 2
    assert sent[0][1] == pytest.approx((50e6 + dockerfile_bytes) / 12.5e6, rel=1e-9)
    first_step = min(s.start for s in result.spans_of("build_step"))
    assert first_step >= API + sent[0][1] - 1e-9


def test_a_local_context_costs_no_network_time() -> None:
    # no network on one host; the daemon still lands the 10 MB: written into the local source's snapshot (into
    # the page cache at once) while hashed at hash_rate on an idle core, so the hash sets the time: 10e6 / hash_rate
    result = run({"dev": job(build(COPY_SRC), placement="builder")}, contexts=CONTEXT, hosts=REMOTE)
    [(nbytes, seconds)] = _context_spans(result, "load build context")
    assert nbytes == 10e6
    assert seconds == pytest.approx(10e6 / HASH, rel=1e-9)


def test_run_times_layer_sizes_the_image_and_its_push() -> None:
    """RUN pip install: 60 s and 150 MB (patterns); RUN echo: the defaults, 1 s and 0 B, an empty diff that
    BuildKit exports as the empty layer (1,024 bytes of tar, 32 gzipped). The build takes 61 s, then its export
    checksums the 150 MB layer (hash_rate on a core: 150e6 / hash_rate s; the empty one's beside it); the image is
    alpine's layer plus the two built ones, tagged local/app:1; `docker run` uses it
    without a pull; `docker push` sends alpine's blob and the built layers gzipped (150 MB / 2.7, and 32 bytes),
    the 150 MB going through gzip at 100 MiB/s. The graphdriver store, whose export checksums and whose push compresses
    (the containerd store's export compresses instead: test_build_export_compress.py)."""
    dockerfile = f"FROM {BASE}\nRUN pip install flask\nRUN echo done\n"
    registries = {"local": {"bandwidth": "10Gbps", "latency": "0s"}}
    hosts = {"dev": {"cpus": 4, "preloaded": [BASE], "daemon": {"image_store": "graphdriver"}}}
    result = run({"dev": job(build(dockerfile, tag="local/app:1", context=None,
                                   run_times={"pip install": "60s"}, layer_sizes={"pip install": "150MB"}),
                             {"run": {"image": "local/app:1", "duration": "1s"}},
                             {"push": "local/app:1"})},
                 contexts={}, registries=registries, hosts=hosts)
    completed(result)
    assert build_time(result) == pytest.approx(API + 61.0 + 150e6 / HASH, rel=1e-9)
    [exported] = result.spans_of("build_export")
    alpine = lookup(BASE)
    assert alpine is not None
    assert exported.attrs["layers"] == len(alpine.layers) + 2
    assert exported.attrs["bytes"] == pytest.approx(sum(layer.uncompressed for layer in alpine.layers) + 150e6 + 1024)
    assert not result.spans_of("pull_image")
    received = result.summary()["registries"]["local"]["bytes_received"]
    assert received == round(sum(layer.size for layer in alpine.layers) + 150e6 / DEFAULT_UNCOMPRESSED_RATIO + 32)
    [push] = result.spans_of("push")
    assert push.duration >= 150e6 / GZIP


def test_base_images_come_through_the_pull_pipeline_only_when_needed() -> None:
    """No image is local. BuildKit fetches alpine (the target's base) through the daemon's download slots
    and never touches golang (a stage nobody needs); the classic builder pulls both, `docker pull` style."""
    dockerfile = "FROM golang:1.25 AS tools\nRUN go install x\nFROM alpine:3.24\nRUN echo hi\n"
    hosts = {"dev": {"cpus": 4}}
    alpine, golang = lookup("alpine:3.24"), lookup("golang:1.25")
    assert alpine is not None and golang is not None
    kit = run({"dev": job(build(dockerfile, context=None))}, contexts={}, hosts=hosts)
    completed(kit)
    alpine_size, golang_size = (sum(layer.size for layer in image.layers) for image in (alpine, golang))
    assert kit.summary()["registries"]["hub"]["bytes_sent"] == round(alpine_size)
    assert {s.attrs["image"] for s in kit.spans_of("pull_layer")} == {"alpine:3.24"}
    classic = run({"dev": job(build(dockerfile, context=None, builder="classic"))}, contexts={}, hosts=hosts)
    completed(classic)
    assert classic.summary()["registries"]["hub"]["bytes_sent"] == round(alpine_size + golang_size)
    assert sorted(s.subject for s in classic.spans_of("pull_image")) == ["alpine:3.24", "golang:1.25"]


def test_copy_from_a_stage_copies_that_stages_own_bytes_by_default() -> None:
    """COPY --from=build with no layer_sizes pattern: the bytes the build stage's own steps wrote (30 MB
    from its RUN), not its base image; with a pattern, the pattern's size."""
    dockerfile = f"FROM {BASE} AS build\nWORKDIR /src\nRUN make\nFROM {BASE}\nCOPY --from=build /out /out\n"
    plain = run({"dev": job(build(dockerfile, context=None, layer_sizes={"make": "30MB"}))}, contexts={})
    [copy] = [s for s in plain.spans_of("build_step") if s.attrs["instruction"] == "COPY"]
    assert copy.attrs["bytes"] == 30e6
    sized = run({"dev": job(build(dockerfile, context=None, layer_sizes={"make": "30MB", "COPY --from": "5MB"}))},
                contexts={})
    [copy] = [s for s in sized.spans_of("build_step") if s.attrs["instruction"] == "COPY"]
    assert copy.attrs["bytes"] == 5e6


def test_a_build_without_a_tag_leaves_a_dangling_image() -> None:
    result = run({"dev": job({"build": {"dockerfile_text": f"FROM {BASE}\nRUN true\n"}})}, contexts={})
    completed(result)
    [exported] = result.spans_of("build_export")
    assert exported.subject.startswith("<none>@")
    assert math.isclose(build_time(result), API + 1.0 + EMPTY_EXPORT)


def test_a_registry_failure_fails_the_build_job_not_the_simulation() -> None:
    """Docker Hub answers every request 503: resolving the base image's metadata fails, the job fails with
    Docker's message, and a build on another host that needs nothing from Hub completes."""
    result = run({"broken": job(build(f"FROM {BASE}\nRUN true\n", context=None), placement="cold"),
                  "fine": job(build(f"FROM {BASE}\nRUN true\n", context=None), placement="warm")},
                 contexts={}, registries={"hub": {"error_rate": 1.0}},
                 hosts={"cold": {"cpus": 2}, "warm": {"cpus": 2, "preloaded": [BASE]}})
    outcome = {j.workload: (j.status, j.error) for j in result.jobs}
    assert outcome["fine"] == ("completed", "")
    status, error = outcome["broken"]
    assert status == "failed" and "503 Service Unavailable" in error and error.startswith("Error response from daemon")
