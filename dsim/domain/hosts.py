"""Hosts as the world builds them: dockerd's knobs, storage speeds, runtime costs, VM flavours, image GC.

Field names and meanings are the scenario format's (dsim/scenarios/model/hosts.py, where every default says
where its number comes from); these are the checked values, with every default filled in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from dsim.distributions import Distribution, constant
from dsim.domain.cpu_limits import CpuWeights
from dsim.domain.health import PROBE_EXEC
from dsim.domain.networking import DEFAULT_NETWORKING, NetworkDecl, NetworkingSpec
from dsim.domain.overlay_mount import DEFAULT_OVERLAY_MOUNT, OverlayMountSpec
from dsim.domain.start_path import DEFAULT_CPU_SHARES, DEFAULT_DAEMON_LOCKS, DaemonLocksSpec, StartCpuShares

#: BuildKit's solver work per vertex: the CPU slope of fully cached rebuilds of 1 to 121 RUN steps on Docker
#: 20.10.24 (tools/real_docker.py buildkit, docs/build.md: Solver overheads)
BUILDKIT_VERTEX_S = 0.00053

#: the extra work a core does with both hardware threads busy over one thread alone: 30%, IBM's measurement of
#: Hyper-Threading on Linux 2.4.19 (multithreaded benchmarks, https://www.ibm.com/developerworks/library/l-htl/:
#: "could improve multithreaded applications by 30%")
SMT_GAIN = 0.3

@dataclass(frozen=True, slots=True)
class DaemonSpec:
    workers: int
    api_service_time: Distribution
    max_concurrent_downloads: int
    max_concurrent_uploads: int
    max_download_attempts: int
    registry_mirrors: tuple[str, ...]
    #: bytes; None: a share of the host's disk (components/builder.py DEFAULT_BUILD_CACHE_SHARE)
    build_cache_limit: float | None
    #: the legacy builder's commit and removal of one step's container (build_classic.py)
    classic_commit: Distribution = constant(0.14)
    #: the legacy builder's COPY/ADD: ``layer``, a bare read-write layer on the image (Docker 17.07 and later,
    #: build_steps.py ``classic_copy``), or ``container``, a step container (Docker before 17.07)
    classic_copy: Literal["layer", "container"] = "layer"
    #: where pulled images go: ``containerd`` (its content store fsyncs each blob at commit) or ``graphdriver``
    #: (moby's pull into a temporary file, never synced, deleted once the layer is registered: components/pull.py)
    image_store: Literal["containerd", "graphdriver"] = "containerd"
    #: serialization points of the create/start path (domain/start_path.py)
    locks: DaemonLocksSpec = DEFAULT_DAEMON_LOCKS
    #: BuildKit solver CPU-seconds per build step (vertex), cached or not (components/build_solver.py)
    buildkit_vertex: Distribution = constant(BUILDKIT_VERTEX_S)


@dataclass(frozen=True, slots=True)
class DirtyLimits:
    """The kernel's dirty-page limits (Documentation/admin-guide/sysctl/vm.rst; mm/page-writeback.c), as
    shares of the dirtyable memory: ``vm.dirty_ratio``, ``vm.dirty_background_ratio`` and
    ``vm.dirty_expire_centisecs`` (seconds here). Linux's defaults: 20%, 10%, 30 s. components/disk.py."""

    ratio: float = 0.20
    background_ratio: float = 0.10
    expire: float = 30.0

    def thresholds(self, dirtyable: float) -> tuple[float, float]:
        """(thresh, bg_thresh) in bytes: a background ratio not below the ratio is halved
        (``domain_dirty_limits``)."""
        thresh = self.ratio * dirtyable
        background = self.background_ratio * dirtyable
        if background >= thresh:
            background = thresh / 2
        return thresh, background

    def wall(self, dirtyable: float) -> float:
        """Dirty bytes at which a writer waits for writeback: ``balance_dirty_pages``' setpoint, halfway from
        the freerun ceiling (halfway from bg_thresh to thresh) to thresh."""
        thresh, background = self.thresholds(dirtyable)
        return ((thresh + background) / 2 + thresh) / 2

    def background(self, dirtyable: float) -> float:
        """Dirty bytes above which writeback runs in the background."""
        return self.thresholds(dirtyable)[1]


#: Linux's defaults
DEFAULT_DIRTY = DirtyLimits()


#: sha256 on one core, bytes per second, as Go's crypto/sha256 computes it (dockerd, containerd and BuildKit are Go).
#: Its AVX2 path, dsim's default: 448.62 MB/s on a Xeon Platinum 8124M (EC2 C5's CPU; 514 MB/s on an AMD Ryzen): every
#: Docker on a CPU without the SHA extensions (Intel before Ice Lake, as EC2's M5 and C5), and Docker 24 and earlier
#: on any (their Go is older than 1.21). With the SHA extensions, which Go uses since 1.21 where the CPU has them
#: (sha256block_amd64.go: ``useSHA = useAVX2 && cpu.X86.HasSHA``; Docker 25 and later; every AMD Zen, Intel from Ice
#: Lake): 1,975 MB/s on the Ryzen. Both: minio/sha256-simd v1.0.1's README, BenchmarkHash5M, Go assembly of the same
#: instructions (https://github.com/minio/sha256-simd/tree/v1.0.1#support-for-intel-sha-extensions).
SHA256_AVX2 = 448.62e6
#: Go's gzip of a locally made layer on one core, bytes of input a second: Docker 28.5.2 on an AMD EPYC (2 vCPUs)
#: deflated layers of shared libraries at 90-102 MiB/s, at BuildKit's export under the containerd store and at a
#: push under graphdriver, the same blob either way (tools/real_docker.py export); moby#28732's shell gzip of 2016
#: ran at about 32 MiB/s
COMPRESS_RATE = 100 * 2**20
SHA256_SHA_NI = 1975e6
#: What a pull's bytes cost beyond their digests, Docker 28.5.2 on an AMD EPYC (2 vCPUs) pulling one-layer images of
#: 200 MB in 200 to 20,000 files from a registry on the same VM, by image store (containerd's, dockerd's graphdriver)
#: (tools/real_docker.py pull; docs/distribution.md, "What a pull's bytes cost"). ``RECEIVE_RATE``: a blob's bytes
#: read from the socket and written into its file, bytes a second on one core, until the inflate begins (2.0 and
#: 1.25 ns a byte). ``APPLY_RATE``: the applier's handling of the tar stream, the inflated bytes read from unpigz's
#: pipe and written into the files (graphdriver also checksums each file's payload for its tar-split metadata),
#: after the inflate began (1.8 and 2.3 ns a byte). ``APPLY_PER_FILE``: the applier's CPU a tar entry (create,
#: write, chown, chmod, utimes, the Go runtime's hand-offs), the slope over the file counts; GNU tar made the same
#: files at 29 us each there.
RECEIVE_RATE = {"containerd": 500e6, "graphdriver": 800e6}
APPLY_RATE = {"containerd": 555e6, "graphdriver": 435e6}
APPLY_PER_FILE = {"containerd": 113e-6, "graphdriver": 240e-6}
#: ``docker rmi`` of an image whose layers leave the disk, Docker 28.5.2 on the same VM (tools/real_docker.py rmi):
#: 200 MB in 20,000 files took 1.47-1.76 s against 0.08-0.10 s in 200 files under either store, the daemon that
#: removes the files (containerd's, dockerd's) spending 0.65 s of CPU: 31 us of CPU a tar entry, 42 us more of wall
REMOVE_PER_FILE = 31e-6
REMOVE_WAIT_PER_FILE = 42e-6
#: the same runs in 200 files: 0.080-0.085 s (graphdriver) and 0.093-0.103 s (the containerd store, its blob removed
#: too) where the entries give 0.020 s: the filesystem freeing the layers' 200.2 MB, 0.31 and 0.39 ns a byte, 0.35
#: taken for both (2.86 GB a second of the layers' unpacked bytes, a wait)
REMOVE_RATE = 2.86e9
#: What a push's bytes cost beyond a deflate and TLS, Docker 28.5.2 on the same VM pushing new images of four layers
#: of 100 MB of random bytes to a registry there under the containerd store (tools/real_docker.py push): dockerd 0.46-
#: 0.52 s and containerd 0.25-0.29 s of CPU for the 400 MB of blobs. ``SEND_RATE``: dockerd's HTTP client reading an
#: upload's body and writing it into the socket (1.22 ns a byte); ``BLOB_READ_RATE``: containerd serving a blob's
#: bytes to dockerd's pusher through its content API (0.69 ns a byte), the containerd store only.
SEND_RATE = 820e6
BLOB_READ_RATE = 1.44e9
#: A piped unpack's inflate (unpigz, igzip) and applier share one core this part of the shorter stage's time when the
#: host has no core to spare: the kernel wakes a pipe's reader on an idle core if one is there (``select_idle_sibling``)
#: and otherwise on its writer's core (a sync wake-up), so on a host the two fill the pair often runs in turn on one
#: core. ``unpigz -c | tar -x`` of 400 MB of random bytes on an AMD EPYC VM with 2 vCPUs (tools/real_docker.py pipe)
#: ran 0.45-0.62 of the way from two cores apart to one core (0.93 for 100 MB), and Docker 28.5.2's per-layer applies
#: there (containerd's debug log, "diff applied") imply about 0.5 for layers of 50 and 100 MB (docs/distribution.md,
#: "A piped unpack shares a core").
PIPE_COLOCATION = 0.5


def pipe_colocation(cpus: float, decompress_cores: float) -> float:
    """The default share for a host of ``cpus``: ``PIPE_COLOCATION`` where the inflate's cores and the applier's one
    fill its cores, none where a core is left idle for the woken stage (measured on 2 vCPUs only)."""
    return PIPE_COLOCATION if cpus <= decompress_cores + 1 else 0.0


@dataclass(frozen=True, slots=True)
class StorageSpec:
    """Bytes per second: decompression output by compression (``gzip``, ``zstd``), file writes, push gzip."""

    decompress_rate: Mapping[str, float]
    write_rate: float
    compress_rate: float
    #: cores one layer's decompression stream can use (decompress_rate is per core)
    decompress_cores: float = 1.0
    #: tar + sha256 of a layer or context, bytes per second on one core (components/layer_work.py)
    hash_rate: float = SHA256_AVX2
    #: TLS decryption and encryption (AES-128-GCM) of a registry's bytes, per second on one core
    tls_rate: float = 4e9
    #: a downloaded blob's bytes from the socket into its file, per second on one core; the applier's handling of a
    #: layer's tar stream beyond its digest, per second on one core, and its CPU a tar entry: the host's image
    #: store's (``RECEIVE_RATE``, ``APPLY_RATE``, ``APPLY_PER_FILE``)
    receive_rate: float = RECEIVE_RATE["containerd"]
    apply_rate: float = APPLY_RATE["containerd"]
    apply_per_file: float = APPLY_PER_FILE["containerd"]
    #: removing a layer's files at ``docker rmi``: CPU a tar entry of the store's daemon, and a wait a tar entry
    remove_per_file: float = REMOVE_PER_FILE
    remove_wait_per_file: float = REMOVE_WAIT_PER_FILE
    #: the removed layers' unpacked bytes freed a second at ``docker rmi``, a wait (``REMOVE_RATE``)
    remove_rate: float = REMOVE_RATE
    #: a push's body into the socket (dockerd's CPU) and a blob read from containerd's content store (containerd's),
    #: bytes per second on one core (``SEND_RATE``, ``BLOB_READ_RATE``)
    send_rate: float = SEND_RATE
    blob_read_rate: float = BLOB_READ_RATE
    #: what inflates gzip: ``external`` (igzip or unpigz, beside the digest of the tar stream) or ``go`` (in turn)
    gzip_decoder: str = "external"
    #: the share of a piped unpack's shorter stage spent on the other stage's core: ``PIPE_COLOCATION``, a 2-core
    #: host's (a scenario's host takes ``pipe_colocation(cpus, decompress_cores)`` unless its storage sets it)
    pipe_colocation: float = PIPE_COLOCATION
    #: overlay2's diff of a committed container: ``native`` (upper dir only) or ``naive`` (walks both trees)
    overlay_diff: str = "native"
    #: mean bytes per file of an image, to count the files a naive diff walks
    file_size: float = 20e3
    #: seconds of CPU to visit one file in a naive diff walk (lstat, xattr, compare)
    walk_per_file: float = 24e-6
    #: cores one layer's gzip during push can use (compress_rate is per core)
    compress_cores: float = 1.0
    #: the kernel's page cache in front of the disk (components/disk.py)
    dirty: DirtyLimits = DEFAULT_DIRTY


@dataclass(frozen=True, slots=True)
class RuntimeSpec:
    """Container runtime costs, sampled per container."""

    create: Distribution
    mount: Distribution
    netns: Distribution
    start: Distribution
    exec: Distribution
    page_cache_fraction: float
    #: the CPU share of each cost above (domain/start_path.py)
    cpu: StartCpuShares = DEFAULT_CPU_SHARES
    #: a health probe's exec until its command runs: dockerd, containerd, the shim, runc exec (components/health.py)
    probe_exec: Distribution = PROBE_EXEC
    #: the overlay mount's cost by the image's depth (components/mounts.py)
    overlay: OverlayMountSpec = DEFAULT_OVERLAY_MOUNT
    #: how a container's --cpu-shares becomes its cgroup's CPU weight (domain/cpu_limits.py ``cfs_weight``)
    cpu_weights: CpuWeights = "quadratic"
    #: a process's exit until dockerd reports it: the shim, containerd's task deletion, runc delete (0: Khan's
    #: 568 ms is a whole warm run, split over the start's steps; docs/containers.md: The exit)
    exit: Distribution = constant(0.0)


@dataclass(frozen=True, slots=True)
class VmFlavour:
    """A virtual machine per instance: guest boot time, the VMM's own memory, default guest memory; also any
    runtime profile (dsim/domain/runtimes.py): ``kernel`` host | sandbox | guest, ``boot_cpu`` CPU-seconds of
    start-up at up to ``vcpus`` cores on the host's scheduler."""

    boot: Distribution
    overhead: float
    memory: float
    kernel: str = "guest"
    boot_cpu: float = 0.0
    vcpus: float = 1.0
    #: seconds less than runc in ``runtime.start`` (crun: a faster OCI runtime)
    start_saving: float = 0.0


@dataclass(frozen=True, slots=True)
class ImageGcSpec:
    """kubelet-style image GC: above ``high`` (a share of disk) remove LRU images down to ``low``."""

    high: float
    low: float


@dataclass(frozen=True, slots=True)
class HostSpec:
    """One host group's hardware and software; ``count`` hosts share it."""

    count: int
    cpus: float
    memory: float
    disk: float
    nic: float
    daemon: DaemonSpec
    storage: StorageSpec
    runtime: RuntimeSpec
    #: normalised references of the images present at time 0
    preloaded: tuple[str, ...]
    address: str | None
    snapshotter: str  # overlayfs | stargz
    gc: ImageGcSpec | None
    ephemeral_ports: tuple[int, int]
    vm: VmFlavour
    microvm: VmFlavour
    #: runtime profiles by name (runc, crun, runsc, kata-*), for ``isolation`` on a run step
    runtimes: Mapping[str, VmFlavour] = field(default_factory=dict)
    #: jobs each host runs at once (a CI runner's limit); None: no limit
    job_slots: int | None = None
    #: user-defined networks and named volumes that exist at time 0; network modes' costs
    networks: tuple[NetworkDecl, ...] = ()
    volumes: tuple[str, ...] = ()
    networking: NetworkingSpec = DEFAULT_NETWORKING
    #: ``cpus`` are hardware threads, this many on each physical core (components/cpu.py SmtCpuScheduler)
    threads_per_core: int = 1
    #: extra work of a core with all its threads busy over one thread (0 .. threads_per_core - 1)
    smt_gain: float = SMT_GAIN
    #: CPU-seconds of each docker CLI command a job runs on the host (components/client.py)
    cli_cpu: float = 0.0


@dataclass(frozen=True, slots=True)
class HostInfo:
    name: str
    group: str
    spec: HostSpec
