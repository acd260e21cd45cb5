"""``POST /build`` with the legacy builder: the context tar read in memory, the Dockerfile planned, the
daemon's Builder run, and its progress written the way the classic builder writes it.

Safety: the tar is never extracted. Members are read from memory, only regular files count, their paths
are cleaned (no ``..``, no absolute paths), and sizes are bounded by the request limit the HTTP layer
enforces before this runs. File contents serve only to compute content digests (the cache keys of COPY).
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dsim.components.builder import WorkingCopy
from dsim.components.daemon import Daemon
from dsim.components.errors import ApiError
from dsim.dockerfile.expand import ExpansionError, expand_word
from dsim.dockerfile.parse import Instruction, parse_dockerfile
from dsim.domain.build_context import clean, included
from dsim.domain.builds import BuildContext
from dsim.domain.images import ImageInfo
from dsim.domain.refs import canonical
from dsim.errors import ScenarioError
from dsim.records import SpanKind
from dsim.scenarios.model import BuildContextSpec, BuildStep
from dsim.scenarios.to_domain import build_context
from dsim.serve import images as refs
from dsim.serve.context_sums import ContextSums
from dsim.serve.progress import PullWatch

#: Members a context tar may hold (beyond this it is refused: a bounded amount of work per request).
MAX_CONTEXT_FILES = 100_000


@dataclass
class Context:
    """A build context as the daemon received it."""

    dockerfile: str
    dockerfile_name: str
    files: dict[str, int]  # path -> bytes (every regular file of the tar)
    digests: dict[str, str]  # path -> sha256 of its content
    dockerignore: list[str]
    tar_bytes: int
    sums: ContextSums = field(default_factory=ContextSums)  # what COPY/ADD history lines name


def read_context(data: bytes, dockerfile: str = "Dockerfile") -> Context:
    """Read a context tar (optionally gzip/bzip2/xz compressed, as the API allows) without extracting it."""
    try:
        archive = tarfile.open(fileobj=io.BytesIO(data), mode="r:*")  # noqa: SIM115 - closed by the with below
    except (tarfile.TarError, EOFError, OSError) as err:
        raise ApiError(400, f"failed to read build context: {err}") from None
    files: dict[str, int] = {}
    digests: dict[str, str] = {}
    texts: dict[str, bytes] = {}
    wanted = clean(dockerfile)
    sums = ContextSums()
    with archive:
        try:
            for count, member in enumerate(archive):
                if count >= MAX_CONTEXT_FILES:
                    raise ApiError(400, f"build context has more than {MAX_CONTEXT_FILES} files")
                if not member.isfile():
                    sums.add(member)
                    continue
                path = clean(member.name)
                handle = archive.extractfile(member)
                content = handle.read() if handle is not None else b""
                sums.add(member, content)
                files[path] = len(content)
                digests[path] = "sha256:" + hashlib.sha256(content).hexdigest()
                if path in (wanted, ".dockerignore"):
                    texts[path] = content
        except (tarfile.TarError, EOFError, OSError) as err:
            raise ApiError(400, f"failed to read build context: {err}") from None
    if wanted not in texts:
        raise ApiError(500, f"Cannot locate specified Dockerfile: {dockerfile}")
    ignore = texts.get(".dockerignore", b"").decode("utf-8", "replace").splitlines()
    if ".dockerignore" in files:  # the daemon removes these two if .dockerignore names them (moby
        kept = included(files, ignore)  # daemon/builder/remotecontext/detect.go removeDockerfile)
        for name in {".dockerignore", wanted} - set(kept):
            sums.sums.pop(name, None)
    return Context(texts[wanted].decode("utf-8", "replace"), dockerfile, files, digests, ignore, len(data), sums)


def working_copy(context: Context, job: int) -> WorkingCopy:
    """The context as the Builder's working copy: sizes from the tar, digests of the real contents. The
    daemon drops what ``.dockerignore`` names (moby's remotecontext does, after the CLI already has)."""
    spec: BuildContext = build_context(
        BuildContextSpec.model_validate({"files": context.files, "dockerignore": context.dockerignore}))
    copy = WorkingCopy("serve", spec, job)
    copy.digests.update(context.digests)
    return copy


def build_options(query: dict[str, list[str]], text: str) -> BuildStep:
    """The query of ``POST /build`` as a scenario build step (legacy builder)."""
    import json

    def one(name: str) -> str | None:
        values = query.get(name)
        return values[-1] if values else None

    args: dict[str, str] = {}
    raw = one("buildargs")
    if raw:
        try:
            parsed = json.loads(raw)
        except ValueError:
            raise ApiError(400, "invalid buildargs: not a JSON object") from None
        if not isinstance(parsed, dict):
            raise ApiError(400, "invalid buildargs: not a JSON object")
        args = {str(k): "" if v is None else str(v) for k, v in parsed.items()}
    tags = query.get("t") or []
    return BuildStep.model_validate({
        "dockerfile_text": text, "builder": "classic", "tag": tags[0] if tags else None,
        "build_args": args, "target": one("target") or None,
        "no_cache": (one("nocache") or "").lower() in ("1", "true"),
    })


def run_container_id(job: int, line: int) -> str:
    """The ID of the intermediate container the classic builder runs a step of build ``job`` in."""
    return hashlib.sha256(f"dsim-serve build {job} {line}".encode()).hexdigest()[:12]


@dataclass
class BuildWatch:
    """The classic builder's output for one build, written as the Builder's steps end (simulation thread)."""

    instructions: list[Instruction]
    quiet: bool = False
    job: int = -1
    daemon: Daemon | None = None
    cursor: int = 0
    headed: int = -1
    span_index: int = 0
    done: dict[int, Any] = field(default_factory=dict)  # line -> build_step span
    pull: PullWatch | None = None
    bases: dict[str, ImageInfo] = field(default_factory=dict)  # FROM reference -> image
    stage_names: set[str] = field(default_factory=set)
    clock: Callable[[], float] = lambda: 0.0
    #: The instruction the build fails at (build_flow.first_failure), and once it has: (message, exit code).
    fail_at: int | None = None
    failure: tuple[str, int] | None = None
    failure_shown: bool = False
    #: The classic builder's cache of metadata steps (ENV, CMD, LABEL...): a step hits when the same
    #: instruction follows the same parent (every step before it in the stage a hit), as its cache probe does.
    no_cache: bool = False
    known_keys: set[str] = field(default_factory=set)
    metadata_keys: set[str] = field(default_factory=set)
    chain: str = ""
    #: what a RUN instruction prints when it runs (build_flow.run_output), given its intermediate container's ID
    run_output: Callable[[Instruction, str], list[str]] = lambda ins, cid: []
    #: the global ARGs' values (before the first FROM, a --build-arg over a default): what a FROM expands
    meta_args: dict[str, str] = field(default_factory=dict)
    #: the progress of each base image not here when the build began, followed from then (``follow_bases``)
    base_pulls: dict[str, PullWatch] = field(default_factory=dict)

    def follow_bases(self) -> None:
        """Once the bases are resolved, at the build's start: follow the fetch of each one not here, so its
        FROM shows the pull as it went (a first poll may come after it ended)."""
        assert self.daemon is not None
        for ref, image in self.bases.items():
            if not self.daemon.store.complete(image):
                watch = self.base_pulls[ref] = PullWatch()
                watch.begin(self.daemon, image, self.clock)

    def with_build_args(self, build_args: dict[str, str]) -> None:
        """The global ARGs' values for this build (moby builder.go: the meta args, build args over defaults)."""
        for ins in self.instructions[:self._first_from()]:
            for word in ins.value if ins.cmd == "ARG" else ():
                key, sep, value = word.partition("=")
                if key in build_args or sep:
                    self.meta_args[key] = build_args.get(key, value)

    def _first_from(self) -> int:
        return next((i for i, ins in enumerate(self.instructions) if ins.cmd == "FROM"), len(self.instructions))

    @classmethod
    def of(cls, text: str, quiet: bool) -> BuildWatch:
        try:
            instructions = parse_dockerfile(text)
        except ScenarioError as err:
            raise ApiError(400, f"dockerfile parse error on line {err.line or 1}: {err.message}") from None
        names = set()
        for ins in instructions:
            if ins.cmd == "FROM" and len(ins.value) == 3 and ins.value[1].lower() == "as":
                names.add(ins.value[2].lower())
        return cls(instructions, quiet=quiet, stage_names=names)

    def begin(self, daemon: Daemon, job: int, clock: Callable[[], float]) -> None:
        self.daemon = daemon
        self.clock = clock
        self.job = job
        self.span_index = daemon.recorder.follow(self)

    def _collect(self) -> None:
        assert self.daemon is not None
        spans = self.daemon.recorder.read(self.span_index)
        self.span_index += len(spans)
        for span in spans:
            if span.kind == SpanKind.BUILD_STEP and span.job == self.job:
                self.done[int(span.attrs.get("line", 0))] = span

    def _stream(self, text: str) -> dict[str, Any]:
        return {"stream": text}

    def base_of(self, ins: Instruction) -> str | None:
        """The image a FROM names (None for scratch or a stage)."""
        if not ins.value:
            return None
        ref = ins.value[0]
        if "$" in ref:
            try:
                ref = expand_word(ref, self.meta_args, keep_unset=lambda _name: False).text
            except ExpansionError:
                return None
        if not ref or ref.lower() == "scratch" or ref.lower() in self.stage_names:
            return None
        return canonical(ref)  # ``repo@digest`` keeps its digest (the legacy builder pulls and uses that)

    def poll(self, *, final: bool = False, image: ImageInfo | None = None) -> list[dict[str, Any]]:
        """Lines since the last poll; ``final`` after the build ended (``image`` when it succeeded)."""
        if self.daemon is None:
            return []
        self._collect()
        out: list[dict[str, Any]] = []
        total = len(self.instructions)
        while self.cursor < total:
            i = self.cursor
            ins = self.instructions[i]
            if self.headed < i:
                self.headed = i
                out.append(self._stream(f"Step {i + 1}/{total} : {ins.original}\n"))
                self._begin_base_pull(ins)
            if i == self.fail_at:
                out += self._failed(ins)
                break
            last = i == total - 1
            if last and image is None and not final:
                break  # the last step shows the image's ID: only once the build has exported it
            shown, done = self._step(ins, final=final, image=image, last=last)
            out += shown
            if not done:
                break
            if last and image is not None:
                out.append(self._stream(f" ---> {refs.short_id(image)}\n"))
            self.cursor += 1
        if final:  # the build is over: a base no FROM showed stops being followed
            for watch in self.base_pulls.values():
                watch.close()
            self.base_pulls.clear()
        return [line for line in out if "error" in line] if self.quiet else out

    def _begin_base_pull(self, ins: Instruction) -> None:
        """A FROM whose image is not complete here: its pull's progress is shown under the step."""
        assert self.daemon is not None
        if ins.cmd != "FROM":
            return
        base = self.base_of(ins)
        known = self.bases.get(base) if base is not None else None
        if base is not None and base in self.base_pulls:
            self.pull = self.base_pulls.pop(base)
        elif known is not None and not self.daemon.store.complete(known):
            self.pull = PullWatch()
            self.pull.begin(self.daemon, known, self.clock)

    def _failed(self, ins: Instruction) -> list[dict[str, Any]]:
        """The failing instruction: RUN starts its container; once the build has stopped, dockerd's error."""
        out: list[dict[str, Any]] = []
        if ins.cmd == "RUN" and not self.failure_shown:
            self.failure_shown = True
            cid = run_container_id(self.job, ins.start_line)
            out.append(self._stream(f" ---> Running in {cid}\n"))
            out += [self._stream(text) for text in self.run_output(ins, cid)]
        if self.failure is not None:
            message, code = self.failure
            out.append({"errorDetail": {"code": code, "message": message}, "error": message})
            self.cursor = len(self.instructions)
        return out

    def _link(self, *parts: object) -> str:
        self.chain = hashlib.sha256("\x00".join(map(str, (self.chain, *parts))).encode()).hexdigest()
        return self.chain

    def _step(self, ins: Instruction, *, final: bool, image: ImageInfo | None,
              last: bool) -> tuple[list[dict[str, Any]], bool]:
        """One instruction's lines, and whether it is done (else the poll waits for it)."""
        assert self.daemon is not None
        store = self.daemon.store
        out: list[dict[str, Any]] = []
        if self.cursor < self._first_from():  # a global ARG: its step line alone (moby builder.go)
            return out, True
        if ins.cmd == "FROM":
            base = self.base_of(ins)
            known = self.bases.get(base) if base is not None else None
            complete = known is None or (store.complete(known) and store.has_image(known.ref))
            if self.pull is not None:
                if complete or final:
                    if image is not None or complete:
                        out += self.pull.ending(refs.familiar(known.ref if known else ""))
                    self.pull.close()
                    self.pull = None
                else:
                    return (self.pull.poll() if self.pull.activity() else []), False
            if not (complete or final) or (final and image is None and not complete):
                return out, False
            self.chain = ""
            self._link("FROM", refs.image_id(known) if known is not None else ins.original)
            if known is not None and not (last and image is not None):
                out.append(self._stream(f" ---> {refs.short_id(known)}\n"))
        elif ins.cmd in ("RUN", "COPY", "ADD") or (ins.cmd == "WORKDIR" and ins.value and ins.value[0] != "/"):
            span = self.done.get(ins.start_line)
            if span is None and not (final and image is not None):
                return out, False
            # the step's cache key names its result, whether it ran now or before (its record in the cache)
            self._link(span.attrs.get("key", "") if span is not None else f"ran {self.job} {ins.start_line}")
            if span is not None and span.attrs.get("cached"):
                out.append(self._stream(" ---> Using cache\n"))
            else:
                if ins.cmd != "COPY" and ins.cmd != "ADD":
                    cid = run_container_id(self.job, ins.start_line)
                    out.append(self._stream(f" ---> Running in {cid}\n"))
                    if ins.cmd == "RUN":
                        out += [self._stream(text) for text in self.run_output(ins, cid)]
                    out.append(self._stream(f" ---> Removed intermediate container {cid}\n"))
            if not (last and image is not None):
                key = span.attrs.get("key", "") if span is not None else ""
                out.append(self._stream(f" ---> {key or run_container_id(self.job, -ins.start_line)}\n"))
        else:  # metadata: the classic builder probes its cache, else commits a container for it
            key = self._link(ins.original)
            self.metadata_keys.add(key)
            if not self.no_cache and key in self.known_keys:
                out.append(self._stream(" ---> Using cache\n"))
            else:
                cid = run_container_id(self.job, ins.start_line)
                out.append(self._stream(f" ---> Running in {cid}\n"))
                out.append(self._stream(f" ---> Removed intermediate container {cid}\n"))
            if not (last and image is not None):
                out.append(self._stream(f" ---> {key[:12]}\n"))
        return out, True

    def ending(self, image: ImageInfo, tags: list[str]) -> list[dict[str, Any]]:
        image_id = refs.image_id(image)
        out = self.poll(final=True, image=image)
        self.known_keys.update(self.metadata_keys)  # committed: later builds find them in the cache
        if self.quiet:
            return [{"aux": {"ID": image_id}}, self._stream(f"{image_id}\n")]
        out.append({"aux": {"ID": image_id}})
        out.append(self._stream(f"Successfully built {refs.short_id(image)}\n"))
        for tag in tags:
            out.append(self._stream(f"Successfully tagged {refs.familiar(tag)}\n"))
        return out
