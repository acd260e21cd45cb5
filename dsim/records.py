"""The model's records: spans and job outcomes, and the one list of span kinds every reader refers to.

Components call ``Recorder.span()`` when an activity ends and ``Recorder.job_end()`` when a job ends; every
figure in the outputs (phases, bytes, hit ratios, utilisation) is derived from these records by
``dsim.result`` and ``dsim.reports``. A span's ``kind`` is a :class:`SpanKind`; its attributes are those its
kind's ``TypedDict`` in :data:`ATTRIBUTES` lists (checked over every scenario by tests/test_records.py, not at
run time: a run records hundreds of thousands of spans).
"""

# No ``from __future__ import annotations``: the TypedDicts below must see NotRequired at run time
# (``__required_keys__``, read by tests/test_records.py).
import enum
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple, NotRequired, TypedDict

from dsim.span_store import CHUNK, SpanStore


class SpanKind(enum.StrEnum):
    """What a span records. A member is its value as a str (``SpanKind.DOWNLOAD == "download"``): it
    prints, sorts, hashes and encodes (csv, JSON) exactly as the plain string, so the outputs' text is the
    value and a dict keyed by one finds the other (``__hash__`` below, on purpose).

    Each member's comment says what the span covers (``subject`` in brackets) and its attributes; the
    attributes' types are the ``...Attrs`` classes below.

    A kind read from the class is slow on Python 3.11: ``EnumType`` defines ``__getattr__``, so every attribute
    read of an enum class (``SpanKind.API``) goes through a Python-level hook the interpreter cannot specialise,
    some 800 instructions. Code on every job's path reads the kinds it records as module constants
    (``_API = SpanKind.API``): 2% of a streamed CI job's instructions (docs/performance.md, Session 50).
    """

    __hash__ = str.__hash__  # a member and its value are the same dict key (Enum's own hash is the name's)

    # -- a job and the client's phases (components/client.py; serve/engine.py for served API calls)
    #: a whole job, arrival to end [workload]; status (completed | failed)
    JOB = "job"
    #: ``docker pull`` from its API call to the image tagged [ref]
    PULL = "pull"
    #: ``docker push`` [ref]
    PUSH = "push"
    #: ``docker build`` [image ref]
    BUILD = "build"
    #: ``docker create`` [container name; the image when the create found no image]
    CREATE = "create"
    #: ``docker start``: the API call and the runtime's start [container]
    START = "start"
    #: ``docker run``'s wait for the container's process to exit (attached runs) [container]
    RUN = "run"
    #: ``docker stop`` [container]
    STOP = "stop"
    #: ``docker commit`` [container]; image (its reference, "" when dangling), bytes (its new layer's, 0: none)
    COMMIT = "commit"
    #: ``docker exec``: its API calls, the exec path and, unless detached, the command's life [container];
    #: detach, exit_code (not detached)
    DOCKER_EXEC = "docker_exec"
    #: ``docker rmi`` [the image as named]; untagged (references), layers (unpacked layers deleted), bytes (freed)
    RMI = "rmi"
    #: ``docker pause`` [container]
    PAUSE = "pause"
    #: ``docker unpause`` [container]
    UNPAUSE = "unpause"
    #: ``docker rm`` [container]
    RM = "rm"
    #: ``docker ps`` [host]; listed, states, containers
    PS = "ps"
    #: files of a job's build context edited, instant [context]; files
    EDIT = "edit"
    #: a line the docker CLI prints itself, instant [the line]
    CLI = "cli"
    #: a job waiting for a free job slot (hosts.<group>.job_slots), arrival to dispatch [workload]
    SLOT = "slot"
    #: a container of a compose service out of service: from the stop of the one a recreate replaces (or of a
    #: dependent compose stops for it, or a compose restart) to the start of the one that serves again [container]
    DOWNTIME = "downtime"

    # -- the daemon and the host (components/daemon.py, host.py)
    #: one Engine API call: its wait for a daemon worker and its service [call]; queue (the wait, s)
    API = "api"
    #: an interval of constant CPU demand on a host [host]; busy (cores), runnable (tasks)
    CPU = "cpu"

    # -- registries (components/registry.py)
    #: one HTTP request without a body worth counting [what]; registry, status (0: refused)
    REQUEST = "request"
    #: a pull-through cache fetching a blob from its upstream [digest]; registry, cache, bytes, stored
    CACHE_FILL = "cache_fill"
    #: a mirror failed, the pull falls back to the next endpoint, instant [endpoint]; registry, error
    FALLBACK = "fallback"

    # -- pulls (components/pull.py)
    #: one image pulled into the store (after the API call) [ref]; status, bytes, lazy
    PULL_IMAGE = "pull_image"
    #: one layer of one pull, listed to ready [digest]; image, status, progress (docker's words), shared, ...
    PULL_LAYER = "pull_layer"
    #: one blob download on a download slot (or a lazy range fetch) [digest]; registry, bytes, slot_wait, ...
    DOWNLOAD = "download"
    #: one layer applied onto its parent's snapshot [digest]; bytes (uncompressed)
    UNPACK = "unpack"
    #: a lazy pull's background fetch of the rest of every layer [ref]; status, bytes
    LAZY_FETCH = "lazy_fetch"

    # -- pushes (components/push.py)
    #: one image pushed (layers and manifest) [ref]; registry, layers, pushed, existing, mounted
    PUSH_IMAGE = "push_image"
    #: one layer of one push, asked to done [digest]; registry, repository, status, progress, slot_wait
    PUSH_LAYER = "push_layer"
    #: one blob upload [digest]; registry, bytes, compressed_here
    UPLOAD = "upload"

    # -- garbage collection (components/image_store.py, build_cache.py)
    #: image GC making room, instant [host]; removed, freed, needed
    GC = "gc"
    #: build cache GC [host]; records, bytes, remaining
    BUILD_GC = "build_gc"

    # -- containers (components/runtime.py, vm.py)
    #: the container's writable layer mounted [container]
    MOUNT = "mount"
    #: network namespace set up under the kernel's lock [container]; wait (for the lock, s)
    NETNS = "netns"
    #: ports published, instant [container]; ports
    PUBLISH = "publish"
    #: ``runc create`` [container]
    RUNC = "runc"
    #: the process exec'd [container]
    EXEC = "exec"
    #: a guest VM booted (isolation other than container) [container]; isolation, memory
    BOOT = "boot"
    #: one run of a container's process, start to exit (or the run's end) [container]; image, run, status, ...
    PROCESS = "process"
    #: the restart policy's wait before a restart [container]; delay, restart, cancelled
    RESTARTING = "restarting"
    #: files copied up into the writable layer at start [container]; bytes
    COPY_UP = "copy_up"
    #: a run's health checks until they decide [container]; status, unhealthy_at
    HEALTH = "health"
    #: a container's published ports programmed (iptables and docker-proxy processes), one container at a time
    #: [container]; rules, table, wait
    IPTABLES = "iptables"
    #: a bridge endpoint's flush of the host's conntrack table walking its tracked connections, at start or exit
    #: (dockerd's CPU) [container]; entries, at (start | exit)
    CONNTRACK = "conntrack"
    #: a run's writes into its writable layer or a volume on the host's disk [container]; target, bytes, added,
    #: changed (docker diff: bytes of new files, bytes of image files copied up and changed)
    WRITE = "write"
    #: an overlay unmount waiting for syncfs to write back every dirty byte of Docker's filesystem (a create's
    #: init layer, an exit's rootfs; components/disk.py) [container]; at (create | exit), bytes
    SYNCFS = "syncfs"
    #: a process's exit until dockerd reports it: the shim, containerd's task deletion, runc delete (``runtime.exit``;
    #: recorded when it costs anything: components/runtime.py) [container]
    EXIT = "exit"
    #: a run's startup work before its healthcheck can pass, CPU then disk writes on the host
    #: (components/health.py) [container]; cpu_seconds, io_bytes
    STARTUP = "startup"
    #: one health probe: the exec's start and the check command [container]; exit_code (-1: killed at the
    #: timeout), exec_end (when the command began)
    HEALTH_PROBE = "health_probe"

    # -- builds (components/builder.py)
    #: the build context sent from the client [what]; bytes, files, client, builder
    BUILD_CONTEXT = "build_context"
    #: ``--cache-from`` registry cache looked up [ref]; registry, found, records
    CACHE_IMPORT = "cache_import"
    #: one Dockerfile step, cached or run [the step's text]; stage, instruction, cached, cache, ...
    BUILD_STEP = "build_step"
    #: the built image exported and tagged [ref]; layers, builder, bytes
    BUILD_EXPORT = "build_export"
    #: ``--cache-to`` registry cache exported [ref]; registry, mode, records, bytes
    CACHE_EXPORT = "cache_export"

    # -- the network (probes.py)
    #: bytes a directed link carried over a sample interval [``src->dst``]; bytes, capacity
    LINK = "link"

    # -- docker compose (components/compose.py)
    #: one ``docker compose up -d`` / ``down`` [project]; action, services, containers, status
    COMPOSE = "compose"
    #: a project network or volume inspected and created, or removed [engine name]; object, action
    COMPOSE_OBJECT = "compose_object"
    #: a service waiting for its dependencies' conditions (polling) [service]; containers, conditions, polls
    COMPOSE_WAIT = "compose_wait"
    # -- traffic between containers (components/service_calls.py)
    #: one request of a service call, sent to answered [the call's target]; caller, callee, route, bytes, status
    SERVICE_CALL = "service_call"


# ---------------------------------------------------------------------------------------- named groupings

#: A job's phases as the job timeline draws them (one bar each), in the order a job meets them.
PHASE_KINDS: tuple[SpanKind, ...] = (SpanKind.SLOT, SpanKind.PULL, SpanKind.BUILD, SpanKind.PUSH, SpanKind.CREATE,
                                     SpanKind.START, SpanKind.RUN, SpanKind.STOP, SpanKind.COMMIT,
                                     SpanKind.DOCKER_EXEC)
#: Kinds that detail a phase or the daemon's work: drawn in their own charts, not as job phases.
DETAIL_KINDS: tuple[SpanKind, ...] = (SpanKind.API, SpanKind.REQUEST, SpanKind.DOWNLOAD, SpanKind.UNPACK,
                                      SpanKind.PULL_LAYER, SpanKind.PULL_IMAGE, SpanKind.CLI, SpanKind.JOB,
                                      SpanKind.LINK)
#: The phases summary.json and jobs.csv report per job (after ``queue``, each API call's wait), in column order.
SUMMARY_PHASE_KINDS: tuple[SpanKind, ...] = (SpanKind.PULL, SpanKind.BUILD, SpanKind.PUSH, SpanKind.CREATE,
                                             SpanKind.START, SpanKind.RUN, SpanKind.HEALTH)


# ---------------------------------------------------------------------------------------- attributes by kind
# Spans carry ``host`` and ``job`` as fields, not attributes. NotRequired: only some spans of the kind carry it.

class NoAttrs(TypedDict):
    """Kinds without attributes (the client's phases, the runtime's start steps)."""


class JobAttrs(TypedDict):
    status: str  # completed | failed


class PsAttrs(TypedDict):
    listed: int
    states: dict[str, int]
    containers: list[str]  # "name status", the first 20


class EditAttrs(TypedDict):
    files: list[str]


class CommitAttrs(TypedDict):
    image: str  # the committed image's reference; "" when dangling
    bytes: float  # its new layer's (0: an empty diff, no layer)


class DockerExecAttrs(TypedDict):
    detach: bool  # docker exec -d: the span ends once the command has started
    exit_code: NotRequired[int]  # the command's (137: it died with the container); not when detached


class RmiAttrs(TypedDict):
    untagged: int  # references removed
    layers: int  # unpacked layers deleted with the image (0: only untagged)
    bytes: float  # disk freed: the layers' files and blobs


class ApiAttrs(TypedDict):
    queue: float  # seconds waiting for a daemon worker


class CpuAttrs(TypedDict):
    busy: float  # cores in use
    runnable: int


class RequestAttrs(TypedDict):
    registry: str
    status: int  # HTTP status; 0 when the connection was refused


class CacheFillAttrs(TypedDict):
    registry: str  # the upstream
    cache: str  # the pull-through cache
    bytes: float
    stored: bool


class FallbackAttrs(TypedDict):
    registry: str
    error: str


class PullImageAttrs(TypedDict):
    status: str  # "Downloaded newer image" | "Image is up to date"
    bytes: float
    lazy: NotRequired[bool]


class PullLayerAttrs(TypedDict):
    image: str
    status: str  # "Pull complete" | "Already exists"
    progress: list[list[Any]]  # [time rounded to 1 us, word]: progress_words.layer_lines
    shared: NotRequired[bool]  # another pull on the daemon was fetching the blob
    lazy: NotRequired[bool]
    build: NotRequired[bool]  # fetched for a build step


class DownloadAttrs(TypedDict):
    registry: str
    bytes: float
    slot_wait: float
    attempts: int
    cache: str | None  # hit | miss at a pull-through cache
    peer_bytes: float
    lazy: NotRequired[str]  # prefetch | background


class UnpackAttrs(TypedDict):
    bytes: float  # uncompressed


class LazyFetchAttrs(TypedDict):
    status: str
    bytes: float


class PushImageAttrs(TypedDict):
    registry: str
    layers: int
    pushed: int
    existing: int
    mounted: int


class PushLayerAttrs(TypedDict):
    registry: str
    repository: str
    status: str  # "Pushed" | "Layer already exists" | "Mounted from ..."
    progress: list[list[Any]]
    slot_wait: float


class UploadAttrs(TypedDict):
    registry: str
    bytes: float
    compressed_here: bool


class GcAttrs(TypedDict):
    removed: list[str]
    freed: int
    needed: int


class BuildGcAttrs(TypedDict):
    records: int
    bytes: float
    remaining: float


class NetnsAttrs(TypedDict):
    wait: float


class PublishAttrs(TypedDict):
    ports: list[Any]


class IptablesAttrs(TypedDict):
    rules: int
    table: int
    wait: float


class ConntrackAttrs(TypedDict):
    entries: int
    at: str


class WriteAttrs(TypedDict):
    target: str
    bytes: float
    added: float
    changed: float
    files_added: NotRequired[int]  # the run declared its files (writes: [{path, size}])
    files_changed: NotRequired[int]  # copy_up: [{path, size}]
    changes: NotRequired[list[str]]  # docker diff's lines of the layer ("C /var/log", "A /var/log/x")


class BootAttrs(TypedDict):
    isolation: str
    memory: float


class ProcessAttrs(TypedDict):
    image: str
    run: int  # 0 for the first run, then one per restart
    isolation: str
    exit_code: int | None  # None while running at the end
    oom: str
    status: str  # exited | running
    memory: float
    cpu_seconds: NotRequired[float]


class RestartingAttrs(TypedDict):
    delay: float
    restart: int
    cancelled: bool


class CopyUpAttrs(TypedDict):
    bytes: float


class HealthAttrs(TypedDict):
    status: str
    unhealthy_at: float | None


class StartupAttrs(TypedDict):
    cpu_seconds: float
    io_bytes: float


class HealthProbeAttrs(TypedDict):
    exit_code: int
    exec_end: float


class BuildContextAttrs(TypedDict):
    bytes: float
    files: int
    client: str
    builder: str


class CacheImportAttrs(TypedDict):
    registry: str
    found: bool
    records: int


class BuildStepAttrs(TypedDict):
    stage: str
    instruction: str
    cached: bool
    cache: str  # hit | shared | remote | miss | no-cache
    builder: str
    key: str
    line: int
    bytes: float
    began: float
    mounts: NotRequired[dict[str, str]]  # RUN --mount=type=cache: key -> warm | cold
    mount_wait: NotRequired[float]


class BuildExportAttrs(TypedDict):
    layers: int
    builder: str
    bytes: float


class CacheExportAttrs(TypedDict):
    registry: str
    mode: str
    records: int
    bytes: float


class LinkAttrs(TypedDict):
    bytes: float
    capacity: float


class ComposeAttrs(TypedDict):
    action: str  # up | down
    services: int
    containers: int
    status: str  # completed | failed
    built: NotRequired[list[str]]  # images its services build: (built by this up: missing, or up --build)


class ComposeObjectAttrs(TypedDict):
    object: str  # network | volume | container
    action: str  # create | exists | remove (networks, volumes) | recreate (a container)


class ComposeWaitAttrs(TypedDict):
    containers: list[str]  # the waiting service's containers
    conditions: list[str]  # "service:condition" waited for
    polls: int  # ticks of compose's 500 ms ticker until every condition held
class ServiceCallAttrs(TypedDict):
    caller: str  # the calling container
    callee: str  # the container that served it ("" when the target did not resolve or refused)
    route: str  # bridge | topology | loopback ("" when it never left the caller)
    bytes: float  # request and response bytes moved
    status: str  # ok | failed
    error: NotRequired[str]  # what the client saw


class SyncfsAttrs(TypedDict):
    at: str  # create | exit | apply (a layer applied through its mounted overlay: graphdriver, naive diff)
    bytes: float  # dirty bytes written back before the unmount returned


#: Each kind's attributes (its TypedDict); a span of the kind carries the required keys and no others.
ATTRIBUTES: dict[SpanKind, type] = {
    SpanKind.JOB: JobAttrs, SpanKind.PULL: NoAttrs, SpanKind.PUSH: NoAttrs, SpanKind.BUILD: NoAttrs,
    SpanKind.CREATE: NoAttrs, SpanKind.START: NoAttrs, SpanKind.RUN: NoAttrs, SpanKind.STOP: NoAttrs,
    SpanKind.COMMIT: CommitAttrs, SpanKind.DOCKER_EXEC: DockerExecAttrs, SpanKind.PAUSE: NoAttrs,
    SpanKind.UNPAUSE: NoAttrs, SpanKind.RMI: RmiAttrs,
    SpanKind.RM: NoAttrs, SpanKind.PS: PsAttrs, SpanKind.EDIT: EditAttrs, SpanKind.CLI: NoAttrs,
    SpanKind.API: ApiAttrs, SpanKind.CPU: CpuAttrs, SpanKind.SLOT: NoAttrs, SpanKind.DOWNTIME: NoAttrs,
    SpanKind.REQUEST: RequestAttrs, SpanKind.CACHE_FILL: CacheFillAttrs, SpanKind.FALLBACK: FallbackAttrs,
    SpanKind.PULL_IMAGE: PullImageAttrs, SpanKind.PULL_LAYER: PullLayerAttrs, SpanKind.DOWNLOAD: DownloadAttrs,
    SpanKind.UNPACK: UnpackAttrs, SpanKind.LAZY_FETCH: LazyFetchAttrs,
    SpanKind.PUSH_IMAGE: PushImageAttrs, SpanKind.PUSH_LAYER: PushLayerAttrs, SpanKind.UPLOAD: UploadAttrs,
    SpanKind.GC: GcAttrs, SpanKind.BUILD_GC: BuildGcAttrs,
    SpanKind.MOUNT: NoAttrs, SpanKind.NETNS: NetnsAttrs, SpanKind.PUBLISH: PublishAttrs, SpanKind.RUNC: NoAttrs,
    SpanKind.EXEC: NoAttrs, SpanKind.BOOT: BootAttrs, SpanKind.PROCESS: ProcessAttrs,
    SpanKind.RESTARTING: RestartingAttrs, SpanKind.COPY_UP: CopyUpAttrs, SpanKind.HEALTH: HealthAttrs,
    SpanKind.IPTABLES: IptablesAttrs, SpanKind.CONNTRACK: ConntrackAttrs, SpanKind.WRITE: WriteAttrs,
    SpanKind.SYNCFS: SyncfsAttrs, SpanKind.EXIT: NoAttrs,
    SpanKind.BUILD_CONTEXT: BuildContextAttrs, SpanKind.CACHE_IMPORT: CacheImportAttrs,
    SpanKind.BUILD_STEP: BuildStepAttrs, SpanKind.BUILD_EXPORT: BuildExportAttrs,
    SpanKind.CACHE_EXPORT: CacheExportAttrs, SpanKind.LINK: LinkAttrs,
    SpanKind.COMPOSE: ComposeAttrs, SpanKind.COMPOSE_OBJECT: ComposeObjectAttrs,
    SpanKind.COMPOSE_WAIT: ComposeWaitAttrs,
    SpanKind.SERVICE_CALL: ServiceCallAttrs,
    SpanKind.STARTUP: StartupAttrs, SpanKind.HEALTH_PROBE: HealthProbeAttrs,
}


# ---------------------------------------------------------------------------------------- the records

class Span(NamedTuple):
    """One modelled activity: ``kind`` (download, unpack, api, pull, ...) of ``subject`` on ``host``.

    A named tuple rather than a dataclass: a run records hundreds of thousands, and a tuple is the
    cheapest record to build (``Recorder.span`` builds it with ``tuple.__new__`` directly).
    """

    kind: SpanKind
    subject: str
    host: str
    start: float
    end: float
    job: int
    attrs: dict[str, Any]

    @property
    def duration(self) -> float:
        return self.end - self.start


#: the attributes of every span that has none: one shared dict instead of one per span (read-only by contract)
_NO_ATTRS: dict[str, Any] = {}


class JobEnd(NamedTuple):
    """How one job ended (a named tuple for the same reason as ``Span``)."""

    job: int
    workload: str
    host: str
    arrival: float
    end: float
    status: str  # completed | failed
    error: str


def _span_store() -> SpanStore:
    return SpanStore(Span)


@dataclass
class Recorder:
    """Collects spans and job outcomes; every figure of the outputs is derived from them. ``spans`` is a
    sequence of ``Span`` kept compact (dsim/span_store.py): read it, iterate it, never keep what it gives."""

    spans: SpanStore = field(default_factory=_span_store)
    jobs: list[JobEnd] = field(default_factory=list)
    #: every record is kept, so outputs can be derived (False: dsim serve without --out, serve/records.py);
    #: what exists only for the outputs (a host's CPU utilisation marks) is then not kept either
    keeps: ClassVar[bool] = True

    def span(self, kind: SpanKind, subject: str, start: float, end: float, /, *, host: str = "", job: int = -1,
             **attrs: Any) -> None:
        """Record one span; ``attrs`` are those ``ATTRIBUTES[kind]`` lists. The first four are positional only:
        CPython matches each keyword that lands in ``attrs`` against every other parameter's name by string
        comparison (after failing to find it by identity), so fewer named parameters make each attribute
        cheaper (2 comparisons instead of 7: 2% of a container job's instructions)."""
        fresh = self.spans.fresh
        fresh.append((kind, subject, host, start, end, job, attrs or _NO_ATTRS))  # a Span when read
        if len(fresh) >= CHUNK:
            self.spans.compact_fresh()

    def job_end(self, record: JobEnd) -> None:
        self.jobs.append(record)

    def follow(self, reader: Any) -> int:
        """Where ``reader`` (dsim serve's progress of a push or a build) starts reading the spans to come."""
        return len(self.spans)

    def read(self, position: int) -> list[Span]:
        """The spans recorded from ``position`` on."""
        return self.spans[position:]

    def failed_jobs(self) -> int:
        """How many jobs ended failed."""
        return sum(1 for end in self.jobs if end.status == "failed")
