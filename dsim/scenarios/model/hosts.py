"""Hosts: dockerd's knobs, layer unpacking, runtime costs, VM flavours, image GC, a host group."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, WithJsonSchema, field_validator, model_validator

from dsim.distributions import constant
from dsim.domain.health import PROBE_EXEC
from dsim.domain.hosts import (
    APPLY_PER_FILE,
    APPLY_RATE,
    BLOB_READ_RATE,
    BUILDKIT_VERTEX_S,
    COMPRESS_RATE,
    RECEIVE_RATE,
    REMOVE_PER_FILE,
    REMOVE_RATE,
    REMOVE_WAIT_PER_FILE,
    SEND_RATE,
    SHA256_AVX2,
    SMT_GAIN,
)
from dsim.domain.profiles import PROFILES, profile_fields
from dsim.scenarios.fields import FiniteDuration, FiniteDurationDist, Rate, Size
from dsim.scenarios.model.base import Count, PositiveInt, Strict
from dsim.scenarios.model.objects import NAME, NetworkDef, Networking
from dsim.scenarios.model.overlay_mount import OverlayMount
from dsim.scenarios.model.runtimes import Runtimes, builtin_runtimes
from dsim.scenarios.model.start_path import StartCpu


class Daemon(Strict):
    """dockerd's knobs."""

    workers: PositiveInt = Field(
        8,
        description="API calls processed at once. dockerd has no fixed pool (one goroutine per request); this "
        "models its effective parallelism (CPU, locks): a model knob, not a Docker setting",
    )
    api_service_time: FiniteDurationDist = Field(
        constant(0.002), description="time each API call holds a worker (a distribution; default 2ms)"
    )
    max_concurrent_downloads: Count = Field(
        3, description="daemon-wide download slots (moby daemon/config/config.go default 3); 0: no limit, the "
        "containerd store's behaviour before moby#53081 (merged 2026-07-15; Docker 28.5.2 pulled every layer of an "
        "image at once: tools/real_docker.py layers), which that change keeps for a daemon configured with 0"
    )
    max_concurrent_uploads: Count = Field(
        5, description="daemon-wide upload slots (moby default 5); 0: no limit (as max_concurrent_downloads)"
    )
    max_download_attempts: PositiveInt = Field(
        5, description="tries per layer; waits attempt x 5s between tries (moby xfer/download.go)"
    )
    registry_mirrors: list[str] = Field(
        default_factory=list, description="pull-through caches tried in order before Docker Hub for its images; "
        "dockerd applies registry-mirrors to docker.io only and never pushes to them "
        "(docs/real-docker.md: Registries)",
    )
    build_cache_limit: Size | None = Field(
        None, description="BuildKit build-cache size above which GC prunes least recently used records after a "
        "build; default 10% of the host's disk (dockerd's default GC policy keeps about 10% of disk, "
        "docs/real-docker.md: Build)",
    )
    classic_commit: FiniteDurationDist = Field(
        constant(0.14), description="the legacy builder (DOCKER_BUILDKIT=0) commits every instruction that misses the "
        "cache, ENV, LABEL, ARG and the other metadata ones too, as a container: created (runtime.create), committed "
        "as an image, removed. This is the commit and removal (140ms): moby#30436 measured 10 metadata-only "
        "instructions with --no-cache at about 2s on aufs, 0.2s each, less the 60ms create. With image_store "
        "graphdriver a RUN, COPY or ADD also writes its layer's bytes again (the diff applied as a new layer); with "
        "containerd (the default) every commit walks both trees, and a RUN's diff is gzipped into a blob and applied "
        "again; a COPY or ADD commits a bare layer, not a container (classic_copy). BuildKit commits no container "
        "(docs/build.md)",
    )
    classic_copy: Literal["layer", "container"] = Field(
        "layer", description="how the legacy builder runs a COPY or ADD that misses its cache. layer (Docker 17.07 "
        "and later, moby#33454): no container; a read-write layer on the image is mounted (runtime.mount), the "
        "files copied into it, the layer committed (daemon.classic_commit, the diff written again), then unmounted, "
        "which syncs the filesystem once, after the commit (moby builder/dockerfile/internals.go performCopy: "
        "NewRWLayer, exportImage, the deferred Release); with the containerd image store it is unmounted first, "
        "then diffed into a gzip blob (daemon/containerd/image_builder.go rwlayer.Commit). container (Docker "
        "before 17.07, e.g. 1.3 to 1.9: "
        "builder/internals.go runContextCommand): a step container created (runtime.create, its init layer "
        "mounted and unmounted: a sync), the files copied into its mounted rootfs, committed, then unmounted (a "
        "second sync, after the commit). docs/build.md",
    )
    image_store: Literal["containerd", "graphdriver"] = Field(
        "containerd", description="where pulled images go. containerd (a fresh install of Docker 29 and later, "
        "https://docs.docker.com/engine/storage/containerd/): containerd's content store, which fsyncs each blob "
        "as it commits it (containerd content/local/writer.go Commit), inside its download slot. graphdriver "
        "(Docker before 29, and later ones upgraded in place): moby's own pull writes each blob to a temporary "
        "file it never syncs and deletes once the layer is registered (moby distribution/pull_v2.go), so the "
        "download ends with its last byte and the blob's bytes never reach the disk (docs/distribution.md); it keeps "
        "no compressed blobs (the disk holds the unpacked layers only) and gzips every layer it uploads at push "
        "(compress_rate), pulled ones too (moby distribution/push_v2.go)",
    )
    metadata_commit: FiniteDurationDist = Field(
        constant(0.002), description="one write transaction of containerd's metadata store (bbolt: one writer at "
        "a time, each commit fdatasyncs), held under the host's metadata lock: concurrent creates and starts "
        "queue here (default 2ms: cloud SSDs flush in single-digit milliseconds; docs/containers.md: Serialization)",
    )
    create_commits: Count = Field(
        1, description="metadata transactions of a create: the writable layer's snapshot (moby daemon/create.go)",
    )
    start_commits: Count = Field(
        1, description="metadata transactions of a start: containerd's container record (moby daemon/start.go)",
    )
    layer_store_lock: Literal["per-container", "global"] = Field(
        "per-container", description="global: one layer-store lock held for the whole of each create's writable "
        "layer, as dockerd before 19.03 (moby#39135: 1,000 creates 40s before, 20s after); per-container: "
        "today's dockerd",
    )
    buildkit_vertex: FiniteDurationDist = Field(
        constant(BUILDKIT_VERTEX_S), description="CPU-seconds BuildKit's solver spends on each build step (vertex) "
        "of a build, cached or not, on one of the host's cores: loading the vertex, computing its cache key (the "
        "op's digest with its inputs' keys) and looking it up (moby/buildkit solver/jobs.go, solver/edge.go). "
        "Default 0.53ms: measured on Docker 20.10.24's BuildKit, the slope of fully cached rebuilds of 1 to 121 "
        "RUN steps, 0.575ms wall and 0.530ms of dockerd's CPU per step (tools/real_docker.py buildkit; "
        "docs/build.md: Solver overheads)",
    )


#: gzip: Go's stdlib inflates at 170-250 MiB/s of output (containerd#13560). zstd: containerd inflates with Go's
#: decoder (klauspost/compress), not C's, so not lzbench's 940 MB/s; zstd is 940 / 360 = 2.61x gzip on lzbench
#: (facebook/zstd README), so 2.61 x 200 = 522 MiB/s (Go's two decoders measured 2.4-2.5x apart on the same
#: layers, espressif/esp-idf#18940: tests/validation/test_esp_idf_18940.py).
DEFAULT_DECOMPRESS: dict[Literal["gzip", "zstd"], float] = {"gzip": 200 * 2**20, "zstd": 522 * 2**20}


class Storage(Strict):
    """How fast a host unpacks layers: decompression output rate per compression and file write rate."""

    decompress_rate: dict[Literal["gzip", "zstd"], Rate] = Field(
        default_factory=lambda: dict(DEFAULT_DECOMPRESS),
        description="uncompressed bytes per second on one core: gzip 200MiB/s (Go stdlib 170-250MiB/s, "
        "containerd#13560), zstd 522MiB/s (Go's decoder, as containerd's: gzip's rate x 2.61, lzbench's zstd / zlib, "
        "940 / 360MB/s, facebook/zstd README). Inflating is "
        "CPU work on the host's cores (uncompressed / rate CPU-seconds), shared with containers and builds",
    )
    write_rate: Rate = Field(
        400 * 2**20, description="the disk's write rate for Docker's filesystem: writeback of the page cache's "
        "dirty bytes (unpacked layers, downloaded blobs, containers' and builds' files); inf disables the cost",
    )
    compress_rate: Rate = Field(
        COMPRESS_RATE, description="Go's gzip of a locally made layer, uncompressed bytes per second on one core "
        "(100MiB/s: Docker 28.5.2 on an AMD EPYC deflated layers of shared libraries at 90-102MiB/s at BuildKit's "
        "export and at a graphdriver push, the same blob either way, tools/real_docker.py export; moby#28732's "
        "shell gzip of 2016: about 32MiB/s): at push under the graphdriver store, at BuildKit's export and at "
        "every commit (containerd's walking differ) under the containerd store; inf disables the cost",
    )

    decompress_cores: float = Field(
        1.0, gt=0, allow_inf_nan=False,
        description="cores one layer's decompression can use: 1, as Go's compress/gzip and the zstd decoder "
        "inflate one stream on one goroutine (containerd and moby unpack each layer as one stream); pigz or "
        "igzip where configured: raise decompress_rate.gzip, the inflate itself stays on one core",
    )

    hash_rate: Rate = Field(
        SHA256_AVX2, description="tar + sha256 of a layer's diff or a build context, bytes per second on one core "
        "(Go's crypto/sha256 on its AVX2 path: 448.62MB/s on EC2 C5's Xeon Platinum 8124M, minio/sha256-simd v1.0.1; "
        "any Docker on a CPU without the SHA extensions, Docker 24 and earlier on any. Docker 25 and later use the "
        "SHA extensions where the CPU has them (every AMD Zen, Intel from Ice Lake): 1975MB/s on an AMD Ryzen). "
        "CPU work on the host's cores: the digest of every blob as it downloads and of every unpacked layer's "
        "tar stream (its DiffID), "
        "the legacy builder's commit and context, BuildKit's COPY content hash "
        "(docs/build.md: Commit and hashing)",
    )
    tls_rate: Rate = Field(
        4e9, description="TLS decryption (AES-128-GCM) of what a pull downloads over https, bytes per second on one "
        "core, in the goroutine that reads the blob and digests it (hash_rate); at push, the encryption of what an "
        "upload sends, in the HTTP client's writer. Go's crypto/aes with AES-NI: Open1K 3.7GB/s, Seal8K 4.7GB/s "
        "(golang/go#22808), Seal8K 4.0GB/s on a Skylake laptop (golang/go#21501). inf disables the cost; a registry "
        "with tls: false has none",
    )
    receive_rate: Rate | None = Field(
        None, description="a downloaded blob's bytes read from the socket and written into its file (the kernel's "
        "TCP receive copy, the page cache's write), bytes per second on one core, in the goroutine that reads and "
        "digests it. Default by daemon.image_store: containerd "
        f"{RECEIVE_RATE['containerd'] / 1e6:.0f}MB/s, graphdriver {RECEIVE_RATE['graphdriver'] / 1e6:.0f}MB/s: "
        "Docker 28.5.2 on an AMD EPYC pulling from a registry on the same VM (tools/real_docker.py pull; "
        "docs/distribution.md). inf disables the cost",
    )
    apply_rate: Rate | None = Field(
        None, description="the unpack's applier handling a layer's tar stream beyond its digest: the inflated "
        "stream read from unpigz's pipe and written into the files (graphdriver also checksums each file's payload "
        "for its tar-split metadata), bytes per second on one core. Default by daemon.image_store: containerd "
        f"{APPLY_RATE['containerd'] / 1e6:.0f}MB/s (containerd's applier), graphdriver "
        f"{APPLY_RATE['graphdriver'] / 1e6:.0f}MB/s (dockerd's): measured as receive_rate. inf disables the cost",
    )
    apply_per_file: FiniteDuration | None = Field(
        None, description="the unpack's applier CPU for each entry of a layer's tar (its create, writes, chown, "
        "chmod, utimes and the Go runtime's hand-offs between the pipe's reader and the writer). Default by "
        f"daemon.image_store: containerd {APPLY_PER_FILE['containerd'] * 1e6:.0f}us, graphdriver "
        f"{APPLY_PER_FILE['graphdriver'] * 1e6:.0f}us: the slope over layers of 200MB in 200 to 20,000 files, "
        "measured as receive_rate (GNU tar made the same files at 29us each there). A layer's entries are its "
        "files, else uncompressed / file_size",
    )
    send_rate: Rate = Field(
        SEND_RATE, description="docker push: dockerd's HTTP client reading an upload's body and writing it into the "
        "socket, bytes per second on one core, beside the transfer (with tls_rate's encryption to an https "
        "registry). 820MB/s: Docker 28.5.2 on an AMD EPYC VM pushing 400MB of new blobs to a registry there spent "
        "0.46-0.52s of dockerd's CPU (tools/real_docker.py push; docs/distribution.md). inf disables the cost",
    )
    blob_read_rate: Rate = Field(
        BLOB_READ_RATE, description="docker push under the containerd store: containerd serving a blob's bytes to "
        "dockerd's pusher through its content API, bytes per second on one core of containerd's (1.44GB/s: the same "
        "pushes, 0.25-0.29s of containerd's CPU). inf disables the cost",
    )
    remove_per_file: FiniteDuration = Field(
        REMOVE_PER_FILE, description="docker rmi: the CPU of the daemon that removes an image's layers (containerd's "
        "under its store, dockerd's under graphdriver) for each tar entry of the layers that leave the disk. 31us: "
        "Docker 28.5.2 on an AMD EPYC VM removed 200MB in 20,000 files in 1.47-1.76s against 0.08-0.10s in 200, "
        "0.65s of the daemon's CPU, under either store (tools/real_docker.py rmi; docs/distribution.md)",
    )
    remove_wait_per_file: FiniteDuration = Field(
        REMOVE_WAIT_PER_FILE, description="docker rmi: the rest of each removed tar entry's time, a wait (42us: the "
        "same measurement's wall time less its CPU)",
    )
    remove_rate: Rate = Field(
        REMOVE_RATE, description="docker rmi: the filesystem freeing the unpacked bytes of the layers that leave the "
        "disk, bytes per second, a wait after the entries (2.86GB/s: the same image in 200 files took 0.080-0.103s "
        "against the entries' 0.020s, tools/real_docker.py rmi). inf disables the cost",
    )
    gzip_decoder: Literal["external", "go"] = Field(
        "external", description="what inflates a gzip layer. external (the default): igzip or unpigz, which "
        "containerd and moby run as a process of their own when it is on PATH (containerd "
        "pkg/archive/compression/compression.go; the docker-ce package recommends pigz), so the inflate runs "
        "beside the goroutine that digests the tar stream (hash_rate, on another core when there is one); go: "
        "Go's compress/gzip inside that goroutine (neither tool installed, or CONTAINERD_DISABLE_PIGZ), so "
        "a layer costs its inflate and its digest in turn on one core (docs/distribution.md: Unpack as CPU work)",
    )
    pipe_colocation: float | None = Field(
        None, ge=0, le=1, allow_inf_nan=False,
        description="a piped unpack (gzip_decoder: external) runs its inflate and its applier as two processes "
        "joined by a 64KiB pipe; the kernel wakes a pipe's reader on an idle core if there is one, else on its "
        "writer's core, so on a host the two fill they often run in turn on one core: the share of the shorter "
        "stage's time that adds to the longer's (0: side by side, 1: in turn). Default 0.5 where the inflate's "
        "cores and the applier's fill the host's cpus, else 0: unpigz | tar of 400MB on an AMD EPYC VM with 2 vCPUs "
        "ran 0.45-0.62 of the way from two cores apart to one (0.93 for 100MB), and Docker 28.5.2's applies of 50 "
        "and 100MB layers there imply about 0.5 (tools/real_docker.py pipe; docs/distribution.md)",
    )
    overlay_diff: Literal["native", "naive"] = Field(
        "native", description="how overlay2 finds a committed container's changes: native reads the upper dir "
        "only; naive (dockerd's \"Not using native diff for overlay2\", kernels with "
        "CONFIG_OVERLAY_FS_REDIRECT_DIR) walks the container's and its parent's whole trees at every commit "
        "(moby#30436, apache/airflow#12931), and closing a diff against a parent waits for the next whole second "
        "after the diff began (moby daemon/graphdriver/fsdiff.go, moby#27209; simulated time 0 is a whole second); "
        "with daemon.image_store graphdriver, a pull applies each layer on a parent through its mounted overlay, "
        "whose unmount syncs the filesystem (NaiveDiffDriver.ApplyDiff, docs/distribution.md). Graphdriver's "
        "setting: under the containerd image store, commits go through containerd's walking differ, which walks "
        "both trees either way, with no wait (docs/build.md)",
    )
    file_size: Size = Field(
        20 * 10**3, gt=0, description="mean bytes per file of an image, to count the files a naive diff walks "
        "and a layer's tar entries where it does not declare its files "
        "(moby#30436: sysdig saw about 700K file operations in 10 commits, a two-tree walk of the 684MB "
        "python:3.5, about 35,000 files: 20KB each)",
    )
    walk_per_file: FiniteDuration = Field(
        24e-6, description="CPU time to visit one file in a naive diff walk (lstat, capability xattr, compare), "
        "and in containerd's walking differ, which commits under the containerd image store walk whatever the "
        "overlay diff. "
        "Calibrated on moby#30436's overlay row: 16-20s for 10 commits, less 2s on aufs, over 700K files: 24us",
    )

    compress_cores: float = Field(
        1.0, gt=0, allow_inf_nan=False,
        description="cores one layer's gzip during push can use: 1, as moby compresses each layer with Go's "
        "compress/gzip on one goroutine (moby#26959, moby#30852); a daemon built with a parallel gzip "
        "(klauspost/pgzip) uses them all: set the host's cpus",
    )

    dirty_ratio: float = Field(
        0.20, ge=0, le=1,
        description="vm.dirty_ratio: share of the dirtyable memory (the host's memory less what processes hold) "
        "that may be dirty before writers are held to the disk's pace (Linux default 20%; they wait at the "
        "kernel's setpoint, 17.5% with the defaults). 0: every write goes to the disk as it is made "
        "(docs/networks-storage.md: The page cache)",
    )
    dirty_background_ratio: float = Field(
        0.10, ge=0, le=1,
        description="vm.dirty_background_ratio: dirty share above which writeback runs in the background (Linux "
        "default 10%; halved ratio when not below dirty_ratio, as the kernel does)",
    )
    dirty_expire: FiniteDuration = Field(
        30.0, description="vm.dirty_expire_centisecs: age after which dirty bytes are written back (Linux default "
        "30s)",
    )

    @model_validator(mode="after")
    def _both_compressions(self) -> Storage:
        if set(self.decompress_rate) != set(DEFAULT_DECOMPRESS):
            object.__setattr__(self, "decompress_rate", {**DEFAULT_DECOMPRESS, **self.decompress_rate})
        return self


class Runtime(Strict):
    """Container runtime costs (distributions), calibrated so a warm ``docker run`` (two API calls of 2ms plus
    create, mount, netns, start, exec) totals 568ms, Khan's SSD figure (arXiv:2602.15214: SSD 568ms, HDD
    1157ms, namespace setup 8-10ms); the split between the steps is dsim's (see docs/containers.md: Lifecycle)."""

    create: FiniteDurationDist = Field(
        constant(0.06), description="POST create: the writable layer's snapshot and the config on disk (60ms)"
    )
    mount: FiniteDurationDist = Field(constant(0.02), description="start: mount the writable (overlay) layer (20ms; "
                                      "each image layer beyond overlay.covered_layers adds overlay.per_layer)")
    netns: FiniteDurationDist = Field(
        constant(0.01), description="network sandbox (netns + veth) under the host's kernel lock (10ms; Khan: 8-10ms)"
    )
    start: FiniteDurationDist = Field(
        constant(0.454), description="runc create: containerd shim, cgroups, namespaces, rootfs (454ms)"
    )
    exec: FiniteDurationDist = Field(constant(0.02), description="runc start: the container's process begins (20ms)")
    exit: FiniteDurationDist = Field(
        constant(0.0), description="a process's exit until dockerd reports it: the shim reaps it, containerd deletes "
        "the task (runc delete, the shim's own delete) and dockerd handles the exit, before the network's teardown "
        "(default 0: Khan's 568ms is a whole warm docker run, which the start's steps split; Docker 28.5.2 on 2 vCPUs "
        "took 28ms from the process's end to its die event, with 43ms of CPU: runtime.cpu.exit; docs/containers.md: "
        "The exit)",
    )
    page_cache_fraction: float = Field(
        0.064, ge=0, le=1,
        description="share of an image's files a container reads, kept once in the host's page cache and shared "
        "by every container of the image (Harter et al., Slacker, FAST'16: 6.4% of pulled data is read)",
    )
    cpu: StartCpu = Field(
        default_factory=StartCpu, description="share of each cost above that is CPU work (the rest is waiting): "
        "a busy or small host stretches that part by processor sharing (docs/containers.md: Lifecycle)",
    )
    probe_exec: FiniteDurationDist = Field(
        PROBE_EXEC, description="a health probe's exec until its command runs: dockerd, containerd, the shim, runc "
        "exec (100ms: docker exec's 110ms minimum on an idle host, sonic-net/sonic-buildimage#21920, less the CLI's "
        "10ms); 0.37 of it CPU on the host's scheduler (docs/containers.md: Health checks as work)",
    )
    overlay: OverlayMount = Field(
        default_factory=OverlayMount, description="how the mount step grows with the image's layer count "
        "(docs/containers.md: layer depth)",
    )
    cpu_weights: Literal["quadratic", "linear", "shares"] = Field(
        "quadratic", description="how a container's cpu_shares (--cpu-shares) becomes its cgroup's CPU weight against "
        "dockerd's own cgroup (docker.service: the default weight). quadratic: cgroup v2 with runc 1.3.2 or later "
        "(Docker 28.5's runc 1.3.3), 1024 shares -> cpu.weight 100 (the default), 512 -> 59, 2048 -> 174; linear: "
        "cgroup v2 with an older runc, 1 + (shares - 2) x 9999 / 262142, so 1024 -> 39: a default container weighs "
        "0.39 of dockerd; shares: cgroup v1, the shares as given (opencontainers/runc#4896, #4772; "
        "docs/containers.md: Sharing the kernel)",
    )


class VmFlavour(Strict):
    """A virtual machine per instance (``isolation: vm | microvm`` on a run step): a guest kernel boots, the
    guest's memory plus the VMM's overhead is reserved on the host, and the guest's page cache is its own."""

    boot: FiniteDurationDist = Field(description="guest kernel boot until user space runs the workload")
    overhead: Size = Field(description="host memory of the VMM process itself, per instance")
    memory: Size = Field(description="guest memory when the run step gives no `memory`")


#: A general-purpose VM (QEMU/KVM with a distribution kernel): boots in "seconds to a minute"
#: (docs/real-docker.md: Containers); QEMU's own memory overhead about 131 MB per VM (Agache et al., NSDI'20).
DEFAULT_VM = VmFlavour(boot="uniform(5s, 60s)", overhead=131 * 2**20, memory=2**30)
#: A Firecracker microVM: <= 125 ms from InstanceStart to the guest's /sbin/init, VMM overhead <= 5 MiB for a
#: 1 vCPU / 128 MiB guest (firecracker SPECIFICATION.md).
DEFAULT_MICROVM = VmFlavour(boot="125ms", overhead=5 * 2**20, memory=128 * 2**20)


def _port_range(value: object) -> object:
    if isinstance(value, str) and "-" in value:
        low, _, high = value.partition("-")
        return (low.strip(), high.strip())
    return value


def _percent(value: object) -> object:
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            return float(value.strip()[:-1]) / 100
        except ValueError:
            raise ValueError(f"invalid percentage {value!r} (expected e.g. 85%)") from None
    return value


Fraction = Annotated[float, BeforeValidator(_percent), Field(ge=0, le=1), WithJsonSchema(
    {"anyOf": [{"type": "number"}, {"type": "string"}], "description": "a fraction: 0.85 or 85%"})]


class ImageGc(Strict):
    """Before a pull that would take disk use above ``high``, remove least recently used images that no
    container uses until use is at most ``low`` (kubelet's imageGCHighThresholdPercent 85 and
    imageGCLowThresholdPercent 80)."""

    high: Fraction = Field(0.85, description="share of disk that triggers collection (kubelet: 85%)")
    low: Fraction = Field(0.80, description="share of disk collection frees down to (kubelet: 80%)")

    @model_validator(mode="after")
    def _ordered(self) -> ImageGc:
        if self.low > self.high:
            raise ValueError(f"gc: low ({self.low:.0%}) must not exceed high ({self.high:.0%})")
        return self


def _with_profile(data: object) -> object:
    """A known ``profile`` fills the fields the group does not write (storage field by field)."""
    if not isinstance(data, dict) or not isinstance(data.get("profile"), str) or data["profile"] not in PROFILES:
        return data
    merged: dict[str, object] = {**profile_fields(data["profile"])}
    for key, value in data.items():
        base = merged.get(key)
        merged[key] = {**base, **value} if isinstance(base, dict) and isinstance(value, dict) else value
    return merged


class HostGroup(Strict):
    """A host, or ``count`` identical hosts named ``<group>-1 ... <group>-N``."""

    profile: str | None = Field(
        None, description="a named environment (aws-m5.large, gcp-n2-standard-2, github-ubuntu-latest, "
        "laptop-nvme, ...): its cpus, threads_per_core, memory, disk, nic, storage.write_rate (and storage.hash_rate "
        "where its CPU has the SHA extensions) as the provider "
        "documents them "
        "(docs/containers.md: Environment profiles); fields written here win, one by one",
    )

    count: PositiveInt = 1
    job_slots: PositiveInt | None = Field(
        None, description="jobs each host runs at once, the rest wait in one queue for a free slot, first come first "
        "served (a CI runner's limit: GitLab Runner's concurrent, one job per GitHub Actions runner); default: no "
        "limit, as dockerd itself has none",
    )
    cli_cpu: FiniteDuration = Field(
        0.0, description="CPU-seconds each docker CLI command of a job costs on its host (the docker binary's start "
        "and its calls; a job's sleep and edit steps run none), on the host's scheduler in the users' session, "
        "before the command's first API call. Default 0 (the client is not on the host's CPU); Docker 28.5.2's CLI "
        "took 10-14ms of CPU a command on 2 vCPUs (tools/real_docker.py steps: docker inspect)",
    )
    cpus: float = Field(
        4, gt=0, allow_inf_nan=False, description="logical CPUs, as the kernel counts them (nproc): whole cores, or "
        "hardware threads when threads_per_core is more than 1. A cloud vCPU is a hardware thread (AWS: a thread "
        "of a CPU core; Compute Engine: a single hardware multithread)",
    )
    threads_per_core: PositiveInt = Field(
        1, description="hardware threads (SMT, Intel's Hyper-Threading) on each physical core: cpus / "
        "threads_per_core cores. 1 (default): every cpu a whole core. 2: a cloud VM's vCPUs (AWS's CPU options "
        "default, https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CpuOptionsRequest.html; Compute "
        "Engine, https://cloud.google.com/compute/docs/instances/set-threads-per-core) or a desktop with HT on. "
        "Busy threads beyond the cores do smt_gain's extra work, and a CFS quota is charged per thread "
        "(docs/containers.md: Sharing the kernel)",
    )
    smt_gain: float = Field(
        SMT_GAIN, ge=0, allow_inf_nan=False,
        description="extra work a core does with all its threads busy over one thread alone, 0 to "
        "threads_per_core - 1 (no effect with 1 thread per core). Default 0.3: Hyper-Threading on Linux improved "
        "multithreaded benchmarks by 30% (IBM, https://www.ibm.com/developerworks/library/l-htl/); ALU-bound work "
        "gains less (docker/for-linux#423's PBKDF2: about 0)",
    )
    memory: Size = Field(16 * 2**30, description="bytes (default 16GiB)")
    disk: Size = Field(200 * 2**30, description="bytes (default 200GiB)")
    nic: Rate = Field(1.25e8, description="the host's own link (default 1Gbps)")
    daemon: Daemon = Field(default_factory=Daemon)
    storage: Storage = Field(default_factory=Storage)
    runtime: Runtime = Field(default_factory=Runtime)
    preloaded: list[str] = Field(default_factory=list, description="images present at time 0")
    address: str | None = Field(
        None, description="the public address registries see: hosts behind one NAT gateway give the same one and "
        "share a per-address pull limit such as Docker Hub's (default: each host its own)",
    )
    snapshotter: Literal["overlayfs", "stargz"] = Field(
        "overlayfs", description="overlayfs: containerd's default, pulls whole images; stargz: what-if, every image "
        "is pulled lazily as if eStargz (see images.<ref>.lazy)",
    )
    gc: ImageGc | None = Field(
        None, description="image garbage collection as kubelet does it (e.g. {high: 85%, low: 80%}); dockerd alone "
        "never removes images, so by default a pull that does not fit fails with 'no space left on device'",
    )
    ephemeral_ports: Annotated[tuple[int, int], BeforeValidator(_port_range)] = Field(
        (49153, 65535),
        description="host ports for -p CONTAINER and publish_all, first free after the last one given, wrapping "
        "(libnetwork portallocator's fallback range 49153-65535; Linux's ip_local_port_range is often 32768-60999)",
    )
    vm: VmFlavour = Field(DEFAULT_VM, description="isolation: vm (QEMU-like full VM)")
    microvm: VmFlavour = Field(DEFAULT_MICROVM, description="isolation: microvm (Firecracker-like)")
    runtimes: Runtimes = Field(
        default_factory=builtin_runtimes,
        description="runtime profiles a run step picks with isolation (runc, crun, runsc, kata-qemu, kata-clh, "
        "kata-fc): each written field overrides that runtime's sourced default (docs/containers.md: Runtimes)",
    )

    @model_validator(mode="before")
    @classmethod
    def _profile_defaults(cls, data: object) -> object:
        return _with_profile(data)

    @field_validator("profile")
    @classmethod
    def _known_profile(cls, name: str | None) -> str | None:
        if name is not None and name not in PROFILES:
            raise ValueError(f"unknown profile {name!r} (known: {', '.join(PROFILES)})")
        return name
    networks: dict[str, NetworkDef] = Field(
        default_factory=dict, description="user-defined bridge networks on each host of the group at time 0 "
        "(docker network create NAME); bridge, host and none always exist",
    )
    volumes: list[str] = Field(default_factory=list, description="named volumes on each host at time 0")
    networking: Networking = Field(default_factory=Networking, description="what network modes cost")

    @model_validator(mode="after")
    def _gain_fits_the_threads(self) -> HostGroup:
        if self.threads_per_core > 1 and self.smt_gain > self.threads_per_core - 1:
            raise ValueError(f"smt_gain {self.smt_gain} exceeds threads_per_core - 1 = {self.threads_per_core - 1} "
                             "(a core's threads can at most each do a whole core's work)")
        return self

    @model_validator(mode="after")
    def _ports_in_range(self) -> HostGroup:
        low, high = self.ephemeral_ports
        if not 1 <= low <= high <= 65535:
            raise ValueError(f"ephemeral_ports {low}-{high}: need 1 <= low <= high <= 65535")
        for name in [*self.networks, *self.volumes]:
            if not NAME.match(name) or name in ("bridge", "host", "none"):
                raise ValueError(f"invalid network or volume name {name!r}: [a-zA-Z0-9][a-zA-Z0-9_.-]*, not a "
                                 "predefined network")
        return self
