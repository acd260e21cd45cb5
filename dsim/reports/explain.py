"""``dsim explain``: one job told in docker's own words, with simulated timestamps, from its spans.

The lines docker prints (``Unable to find image 'nginx:latest' locally``, ``latest: Pulling from
library/nginx``, ``a2abf6c4d29d: Already exists``, ``Downloading``, ``Pull complete``, ``Digest: ...``,
``Status: Downloaded newer image for nginx:latest``) are reconstructed from the pull's spans at the times
they would appear; dsim's own notes (API calls, registry requests, container states, any other activity
the job recorded) are marked as notes. With ``-o`` the same story becomes a sequence diagram between the
client, the daemon, the registry and the kernel.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib.patches import FancyArrowPatch

from dsim.domain.steps import RunStep, StartStep, Step
from dsim.progress_words import ALREADY_EXISTS, LayerStage, layer_lines
from dsim.records import Span, SpanKind
from dsim.reports.context import ScenarioInfo
from dsim.reports.derive import KNOWN_KINDS, LayerProgress, PullDetail, SpanIndex, attrs_text, short_id
from dsim.reports.failures import failure_messages
from dsim.reports.style import figure, save
from dsim.result import SimResult
from dsim.units import format_duration, format_size

#: The Engine API request behind each API call the client makes (Docker Engine API v1.50,
#: https://docs.docker.com/reference/api/engine/version/v1.50/; docs/serve.md lists those dsim serve answers).
ENDPOINTS = {
    "pull": "POST /images/create", "create": "POST /containers/create", "start": "POST /containers/{id}/start",
    "stop": "POST /containers/{id}/stop", "rm": "DELETE /containers/{id}", "ps": "GET /containers/json",
    "build": "POST /build", "push": "POST /images/{name}/push", "wait": "POST /containers/{id}/wait",
    "inspect": "GET /containers/{id}/json", "restart": "POST /containers/{id}/restart",
    "rename": "POST /containers/{id}/rename", "kill": "POST /containers/{id}/kill",
    "update": "POST /containers/{id}/update", "commit": "POST /commit",
    "exec create": "POST /containers/{id}/exec", "exec start": "POST /exec/{id}/start",
    "exec inspect": "GET /exec/{id}/json",
    "pause": "POST /containers/{id}/pause", "unpause": "POST /containers/{id}/unpause",
    "images": "GET /images/json", "image inspect": "GET /images/{name}/json", "rmi": "DELETE /images/{name}",
    "tag": "POST /images/{name}/tag",
    "network create": "POST /networks/create", "network ls": "GET /networks", "network inspect": "GET /networks/{id}",
    "network rm": "DELETE /networks/{id}", "network prune": "POST /networks/prune",
    "network connect": "POST /networks/{id}/connect", "network disconnect": "POST /networks/{id}/disconnect",
    "volume create": "POST /volumes/create", "volume ls": "GET /volumes", "volume inspect": "GET /volumes/{name}",
    "volume rm": "DELETE /volumes/{name}", "volume prune": "POST /volumes/prune",
}
MAX_DIAGRAM_MESSAGES = 90
#: Kinds the pull's docker lines (or the job's own lines) tell: no note of their own.
_TOLD_BY_PULL_LINES = frozenset({SpanKind.PULL, SpanKind.PULL_IMAGE, SpanKind.PULL_LAYER, SpanKind.DOWNLOAD,
                                 SpanKind.UNPACK, SpanKind.JOB})


@dataclass(frozen=True, order=True)
class Line:
    """One line of the narration: ``docker`` (what docker prints), ``note`` (dsim's), ``error``."""

    at: float
    rank: int  # ties at one instant: 0 completions, 1 docker's lines, 2 new calls and activities, 3 the end
    order: int
    text: str
    style: str = "docker"


def repository_path(ref: str, info: ScenarioInfo | None) -> tuple[str, str]:
    """(tag, path) as docker prints them in ``<tag>: Pulling from <path>``: Docker Hub's official images
    live under ``library/``."""
    repo, tag = ref.rsplit(":", 1) if ":" in ref.split("/")[-1] else (ref, "latest")
    registry = ""
    if info is not None and info.resolved is not None and ref in info.resolved.images:
        image = info.resolved.images[ref]
        repo, tag, registry = image.repository, image.tag, image.registry
    if registry in ("", "hub") and "/" not in repo:
        repo = f"library/{repo}"
    return tag, repo


_OFFICIAL = re.compile(r"/v2/([^/]+)/(manifests|blobs)/")


def hub_path(request: str, registry: str) -> str:
    """A request as it goes over the wire: Docker Hub's official images are ``library/<name>``
    (``GET /v2/library/nginx/manifests/latest``), as in ``Pulling from library/nginx``."""
    return _OFFICIAL.sub(r"/v2/library/\1/\2/", request) if registry == "hub" else request


@functools.cache
def _index_digests() -> dict[str, str]:
    """Catalog images' index digests: for a multi-platform image the tag resolves to its index, and that
    is the digest ``docker pull`` prints (the platform manifest is fetched after it)."""
    path = Path(__file__).resolve().parents[1] / "scenarios" / "catalog" / "real-images.json"
    try:
        images = json.loads(path.read_text())["images"]
    except (OSError, ValueError, KeyError):
        return {}
    return {ref: entry["index_digest"] for ref, entry in images.items() if entry.get("index_digest")}


def digest_printed(ref: str, info: ScenarioInfo | None) -> str:
    """The ``Digest:`` docker prints after pulling ``ref``: what the tag resolves to."""
    if info is None or info.resolved is None or ref not in info.resolved.images:
        return ""
    image = info.resolved.images[ref]
    if image.registry == "hub" and ref in _index_digests():
        return _index_digests()[ref]
    return image.manifest_digest


def _resolve_end(spans: list[Span], pull: PullDetail) -> float:
    start = pull.image_span.start if pull.image_span is not None else pull.span.start
    firsts = [layer.download.start for layer in pull.layers if layer.download is not None
              and layer.download.start >= start - 1e-9]
    limit = min(firsts, default=pull.span.end)
    ends = [s.end for s in spans if s.kind == SpanKind.REQUEST and s.start >= start - 1e-9 and s.end <= limit + 1e-9
            and not s.subject.startswith("GET blob")]
    return max(ends, default=start)


def _own_download(layer: LayerProgress, resolved: float) -> bool:
    """The layer's blob was downloaded for this pull (not joined: under way for another when it resolved)."""
    return layer.download is not None and not layer.shared and layer.download.start >= resolved - 1e-9


def _layer_words(layer: LayerProgress, resolved: float) -> list[tuple[float, str]]:
    """The layer's lines (``progress_words.layer_lines``) from its spans, listed when the pull resolved.
    A download another pull had under way is told as "Waiting" for it (when the pull found it so), then
    "Download complete" (with whose pull fetched it), not as this pull's download."""
    dl, unpack = layer.download, layer.unpack
    extract = max(unpack.start, resolved) if unpack is not None else None
    if dl is not None and _own_download(layer, resolved):
        return layer_lines(resolved, layer.ready, fetch_began=dl.start, fetch_ended=dl.end, extract_began=extract)
    lines = layer_lines(resolved, layer.ready, extract_began=extract)
    if dl is not None:
        waiting = [(resolved, LayerStage.WAITING.word)] if layer.shared else []
        lines[1:1] = [*waiting, (max(dl.end, resolved), LayerStage.DOWNLOADED.word)]
    return lines


def _layer_note(layer: LayerProgress, word: str, resolved: float) -> str | None:
    """dsim's note under a layer's line: the download's size, time and rate (or whose pull fetched it); the
    unpack's size and time."""
    dl, unpack = layer.download, layer.unpack
    if word == LayerStage.DOWNLOADED.word and dl is not None:
        if not _own_download(layer, resolved):
            return f"fetched by job {dl.job}'s pull of the same blob on this daemon"
        rate = layer.bytes * 8 / dl.duration / 1e6 if dl.duration > 0 else 0.0
        return (f"{format_size(layer.bytes)} in {format_duration(dl.duration)} (slot wait "
                f"{format_duration(dl.attrs.get('slot_wait', 0.0))}, average {rate:.1f} Mbit/s)")
    if word == LayerStage.EXTRACTING.word and unpack is not None:
        return f"{format_size(unpack.attrs.get('bytes', 0))} unpacked in {format_duration(unpack.duration)}"
    return None


def _pull_lines(pull: PullDetail, spans: list[Span], info: ScenarioInfo | None, add: Any) -> None:
    image = pull.image_span
    start = image.start if image is not None else pull.span.start
    tag, path = repository_path(pull.image, info)
    add(start, f"{tag}: Pulling from {path}")
    resolved = _resolve_end(spans, pull)
    for layer in pull.layers:
        ident = short_id(layer.digest)
        add(resolved, f"{ident}: {ALREADY_EXISTS if layer.status == ALREADY_EXISTS else LayerStage.PULLING.word}")
    for layer in pull.layers:
        if layer.status != ALREADY_EXISTS:
            for at, word in _layer_words(layer, resolved)[1:]:  # "Pulling fs layer" above, every layer's first
                add(at, f"{short_id(layer.digest)}: {word}", note=_layer_note(layer, word, resolved))
    if image is not None:
        digest = digest_printed(pull.image, info)
        if digest:
            add(image.end, f"Digest: {digest}")
        status = str(image.attrs.get("status", ""))
        if status.startswith("Image is up to date"):
            add(image.end, f"Status: Image is up to date for {pull.image}")
        else:
            add(image.end, f"Status: Downloaded newer image for {pull.image}")


def narrate(result: SimResult, job: int, info: ScenarioInfo | None = None,
            index: SpanIndex | None = None) -> list[Line]:
    """The job's story, in time order (stable: docker lines keep the order docker prints them in)."""
    index = index or SpanIndex(result)
    spans = sorted(index.by_job.get(job, []), key=lambda s: (s.start, s.end))
    end = next((e for e in result.job_ends if e.job == job), None)
    lines: list[Line] = []
    counter = iter(range(10**9))

    def add(at: float, text: str, style: str = "docker", note: str | None = None, rank: int | None = None) -> None:
        rank = rank if rank is not None else (1 if style == "docker" else 2)
        lines.append(Line(at, rank, next(counter), text, style))
        if note:
            lines.append(Line(at, rank, next(counter), note, "note"))

    if end is not None:
        add(end.arrival, f"job {job} ({end.workload}) arrives at host {end.host}", "note", rank=0)
    elif spans:
        add(spans[0].start, f"job {job} on host {spans[0].host} (did not end before the horizon)", "note", rank=0)
    pulls = index.pulls(job)
    pull_windows = [(p.span.start, p.span.end) for p in pulls]
    cli_times = {round(s.start, 9) for s in spans if s.kind == SpanKind.CLI}
    starts = [s for s in spans if s.kind == SpanKind.START]
    detached = {span.subject for span, step in zip(starts, _starting_steps(info, end.workload if end else ""),
                                                   strict=False) if isinstance(step, RunStep) and step.detach}
    for span in spans:
        kind = span.kind
        if kind == SpanKind.API:
            wait = span.attrs.get("queue", 0.0)
            endpoint = ENDPOINTS.get(span.subject, span.subject)
            add(span.start, f"client -> daemon: {endpoint}" + (f" (waited {format_duration(wait)} for a daemon "
                                                                 "worker)" if wait > 0 else ""), "note")
        elif kind == SpanKind.CLI:
            add(span.start, span.subject)
        elif kind == SpanKind.REQUEST:
            status = span.attrs.get("status", "")
            registry = span.attrs.get("registry", "registry")
            add(span.end, f"daemon -> {registry}: {hub_path(span.subject, registry)} -> {status}", "note", rank=0)
        elif kind == SpanKind.CREATE:
            if round(span.end, 9) in cli_times:
                add(span.end, f"create answered 404: No such image: {span.subject}", "note", rank=0)
            else:
                add(span.end, f"container {span.subject} created in {format_duration(span.duration)} "
                              "(writable layer mounted)", "note", rank=0)
        elif kind == SpanKind.START:
            add(span.end, f"container {span.subject} started in {format_duration(span.duration)} "
                          "(network namespace, port bindings, runc)", "note", rank=0)
            if span.subject in detached:  # `docker run -d` prints the new container's ID
                add(span.end, container_id(span.host, span.subject), rank=0)
        elif kind == SpanKind.PS:
            for text in ps_table(span, spans):
                add(span.end, text)
        elif kind == SpanKind.RUN:
            add(span.end, f"container {span.subject} exited after running {format_duration(span.duration)}", "note",
                rank=0)
        elif kind == SpanKind.STOP:
            add(span.end, f"container {span.subject} stopped in {format_duration(span.duration)}", "note", rank=0)
        elif kind == SpanKind.EXIT:
            add(span.start, f"{span.subject}'s process ended; the shim, containerd's task deletion and runc delete "
                            f"take {format_duration(span.duration)} before dockerd reports the exit", "note")
        elif kind == SpanKind.SYNCFS:
            what = {"create": "the init layer's", "apply": f"layer {span.subject[:19]}'s"}.get(
                str(span.attrs.get("at")), "the rootfs's")
            add(span.start, f"{what} unmount syncs the filesystem: {format_size(span.attrs.get('bytes', 0.0))} of "
                            f"dirty pages written back in {format_duration(span.duration)}", "note")
        elif kind in _TOLD_BY_PULL_LINES:
            continue
        else:
            detail = attrs_text(span.attrs)
            took = f" for {format_duration(span.duration)}" if span.duration > 0 else ""
            add(span.start, f"{kind}: {span.subject}{took}" + (f" [{detail}]" if detail else ""), "note")
    for pull in pulls:
        _pull_lines(pull, spans, info, add)
    for start, finish in pull_windows:
        if not any(p.image_span is not None and start <= p.image_span.start <= finish for p in pulls):
            add(start, "pull started (no pull record: it failed)", "note")
    if end is not None:
        if end.status == "completed":
            add(end.end, f"job {job} completed in {format_duration(end.end - end.arrival)}", "note", rank=3)
        else:
            message = end.error or end.status
            add(end.end, message if message.startswith("docker:") else f"docker: {message}", "error", rank=3)
    return sorted(lines)


def _starting_steps(info: ScenarioInfo | None, workload: str) -> list[Step]:
    """The workload's steps that start a container (run, start), in order: one START span each."""
    if info is None or info.resolved is None or workload not in info.resolved.workloads:
        return []
    return [step for step in info.resolved.workloads[workload].steps if isinstance(step, RunStep | StartStep)]


def container_id(host: str, name: str) -> str:
    """A container's 64-hex ID, stable for the same host and name (dockerd draws it at random)."""
    return hashlib.sha256(f"{host}/{name}".encode()).hexdigest()


def ps_table(span: Span, spans: Sequence[Span]) -> list[str]:
    """``docker ps`` as a table (ID, image, status, ports, names; ``docker ps --format 'table ...'``): the
    listed containers with their image and ports from this job's spans."""
    images = {s.subject: str(s.attrs.get("image", "")) for s in spans if s.kind == SpanKind.PROCESS}
    ports = {s.subject: ", ".join(map(str, s.attrs.get("ports", []))) for s in spans if s.kind == SpanKind.PUBLISH}
    rows = [("CONTAINER ID", "IMAGE", "STATUS", "PORTS", "NAMES")]
    for entry in span.attrs.get("containers", []):
        name, _, status = str(entry).partition(" ")
        rows.append((container_id(span.host, name)[:12], images.get(name, ""), status,
                     ports.get(name, "") if status.startswith("Up") else "", name))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    return ["   ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]


def render_text(lines: list[Line]) -> list[tuple[str, str]]:
    """(text, style) per line with its ``[   12.345s]`` simulated timestamp."""
    width = max((len(f"{line.at:.3f}") for line in lines), default=5)
    out = []
    for line in lines:
        prefix = f"[{line.at:>{width}.3f}s] "
        text = f"# {line.text}" if line.style == "note" else line.text
        out.append((prefix + text, line.style))
    return out


def steps_text(info: ScenarioInfo | None, workload: str) -> list[str]:
    """The workload's steps as docker commands (for the header of the narration)."""
    if info is None or info.resolved is None or workload not in info.resolved.scenario.workloads:
        return []
    commands = []
    for step in info.resolved.scenario.workloads[workload].steps:
        data = step.model_dump(exclude_none=True, by_alias=True)
        for verb, value in data.items():
            commands.append(_command(verb, value))
    return commands


def _command(verb: str, value: Any) -> str:
    if verb == "sleep":
        return f"sleep {value}"
    if isinstance(value, str):
        return f"docker {verb} {value}"
    if isinstance(value, dict):
        flags = []
        if value.get("detach"):
            flags.append("-d")
        if verb == "ps" and value.get("all"):
            flags.append("-a")
        if verb == "rmi" and value.get("force"):
            flags.append("-f")
        if verb == "kill" and value.get("signal", "KILL") != "KILL":
            flags.append(f"--signal {value['signal']}")
        if value.get("name"):
            flags.append(f"--name {value['name']}")
        flags.extend(_container_flags(value))
        if verb == "tag":  # docker tag SOURCE TARGET
            return f"docker tag {value['source']} {value['target']}"
        target = value.get("image") or value.get("container") or value.get("tag") or ""
        if not target and verb in _NEEDS_CONTAINER:  # the job's own container, which the step does not name
            target = "CONTAINER"
        if verb == "exec":  # docker exec [-d] CONTAINER COMMAND: the scenario gives the command's work, not its argv
            return " ".join(["docker", verb, *flags, str(target), "COMMAND"])
        if verb == "commit":  # docker commit [--pause=false] CONTAINER [REPOSITORY[:TAG]]
            pause = [] if value.get("pause", True) else ["--pause=false"]
            return " ".join(["docker", verb, *pause, str(target), *([value["ref"]] if value.get("ref") else [])])
        return " ".join(["docker", verb, *flags, str(target)]).rstrip()
    return f"docker {verb}"


#: steps whose command names a container; without one in the scenario, the job's latest
_NEEDS_CONTAINER = frozenset({"rm", "start", "stop", "restart", "kill", "commit", "pause", "unpause", "exec"})
#: a run step's isolations that are ``docker run --runtime NAME`` (docs/containers.md: Runtimes)
_RUNTIMES = frozenset({"crun", "runsc", "kata-qemu", "kata-clh", "kata-fc"})


def _container_flags(value: dict[str, Any]) -> list[str]:
    """The docker run / create options a step sets, as the CLI spells them (``--memory 4g``: docker's
    binary units, github.com/docker/go-units RAMInBytes)."""
    flags = []
    if value.get("cpus") is not None:
        flags.append(f"--cpus {value['cpus']:g}")
    if value.get("memory") is not None:
        flags.append(f"--memory {_docker_bytes(value['memory'])}")
    flags.extend(f"-p {port}" for port in value.get("ports", []) or [])
    if value.get("publish_all"):
        flags.append("-P")
    if value.get("network", "bridge") != "bridge":
        flags.append(f"--network {value['network']}")
    flags.extend(f"--network-alias {alias}" for alias in value.get("aliases", []) or [])
    if value.get("restart", "no") != "no":
        flags.append(f"--restart {value['restart']}")
    if value.get("isolation") in _RUNTIMES:
        flags.append(f"--runtime {value['isolation']}")
    if value.get("volumes"):  # rm -v
        flags.append("-v")
    if value.get("timeout", 10.0) != 10.0:  # stop's grace period, docker's default 10 s
        flags.append(f"--time {value['timeout']:g}")
    return flags


def _docker_bytes(nbytes: float) -> str:
    """Bytes in the largest binary unit that writes them exactly (4 GiB: ``4g``), else the number of bytes."""
    whole = int(nbytes)
    for suffix, factor in (("g", 2**30), ("m", 2**20), ("k", 2**10)):
        if whole == nbytes and whole % factor == 0:
            return f"{whole // factor}{suffix}"
    return str(whole)


# ----------------------------------------------------------------------------------------- sequence diagram

LIFELINES = ("client", "daemon", "registry", "kernel")


def _messages(result: SimResult, job: int, info: ScenarioInfo | None, index: SpanIndex
              ) -> list[tuple[float, str, str, str, str]]:
    """(time, from, to, label, style) for the diagram; style: call | reply | data | note."""
    spans = sorted(index.by_job.get(job, []), key=lambda s: (s.start, s.end))
    msgs: list[tuple[float, int, str, str, str, str]] = []
    n = iter(range(10**9))
    cli_times = {round(s.start, 9) for s in spans if s.kind == SpanKind.CLI}

    def add(at: float, a: str, b: str, label: str, style: str = "call") -> None:
        msgs.append((at, next(n), a, b, label, style))

    for span in spans:
        kind = span.kind
        if kind == SpanKind.API:
            add(span.start, "client", "daemon", ENDPOINTS.get(span.subject, span.subject))
        elif kind == SpanKind.CLI:
            add(span.start, "client", "client", span.subject, "note")
        elif kind == SpanKind.REQUEST:
            add(span.start, "daemon", "registry", span.subject)
            add(span.end, "registry", "daemon", str(span.attrs.get("status", "")), "reply")
        elif kind == SpanKind.CREATE:
            if round(span.end, 9) in cli_times:
                add(span.end, "daemon", "client", "404 No such image", "reply")
            else:
                add(span.start, "daemon", "kernel", "create: mount writable layer")
        elif kind == SpanKind.START:
            add(span.start, "daemon", "kernel", "netns + ports + runc start")
            add(span.end, "kernel", "daemon", f"{span.subject} running", "reply")
        elif kind == SpanKind.RUN:
            add(span.end, "kernel", "daemon", f"{span.subject} exited", "reply")
            add(span.end, "daemon", "client", "wait returns", "reply")
        elif kind == SpanKind.STOP:
            add(span.start, "daemon", "kernel", "SIGTERM")
            add(span.end, "kernel", "daemon", "stopped", "reply")
        elif kind == SpanKind.EXIT:  # the shim reaps the process, containerd deletes the task
            add(span.start, "kernel", "daemon", f"{span.subject}'s process ended: runc delete")
        elif kind == SpanKind.SYNCFS:  # an overlay unmount writing back the page cache's dirty bytes
            add(span.start, "daemon", "kernel", f"unmount: syncfs {format_size(span.attrs.get('bytes', 0.0))}")
            add(span.end, "kernel", "daemon", f"written back ({format_duration(span.duration)})", "reply")
        elif kind == SpanKind.PULL_IMAGE:
            add(span.end, "daemon", "client", f"Status: {span.attrs.get('status', '')}", "reply")
        elif kind not in KNOWN_KINDS and span.duration > 0:
            add(span.start, "daemon", "daemon", f"{kind} {span.subject}", "note")
    for pull in index.pulls(job):
        for layer in pull.layers:
            if layer.download is not None and not layer.shared:
                took = format_duration(layer.download.duration)
                add(layer.download.end, "registry", "daemon",
                    f"blob {short_id(layer.digest)} {format_size(layer.bytes)} ({took})", "data")
            elif layer.download is not None:
                add(layer.download.end, "daemon", "daemon", f"blob {short_id(layer.digest)} (another pull's)", "note")
            if layer.unpack is not None:
                add(layer.unpack.start, "daemon", "kernel", f"extract {short_id(layer.digest)}")
    end = next((e for e in result.job_ends if e.job == job), None)
    if end is not None and end.status == "failed":  # the refusal, the error response, docker's own line
        for a, b, label, style in failure_messages(end.error or end.status):
            add(end.end, a, b, label, style)
    msgs.sort()
    return [(at, a, b, label, style) for at, _, a, b, label, style in msgs]


def sequence_diagram(result: SimResult, job: int, path: Path, info: ScenarioInfo | None = None,
                     index: SpanIndex | None = None) -> Path:
    """The job as a sequence diagram PNG: client, daemon, registry, kernel; simulated times on the left."""
    index = index or SpanIndex(result)
    msgs = _messages(result, job, info, index)
    skipped = 0
    if len(msgs) > MAX_DIAGRAM_MESSAGES:
        half = MAX_DIAGRAM_MESSAGES // 2
        skipped = len(msgs) - 2 * half
        msgs = msgs[:half] + [(msgs[half][0], "daemon", "daemon", f"... {skipped} more messages ...", "note")] \
            + msgs[-half:]
    x = {name: i * 3.0 + 1.5 for i, name in enumerate(LIFELINES)}
    rows = len(msgs) + 2
    with figure(10, max(4.0, 0.27 * rows + 1.5)) as (fig, ax):
        for name, xpos in x.items():
            ax.plot([xpos, xpos], [0.4, rows], color="#999999", linewidth=0.8, linestyle="--", zorder=0)
            ax.text(xpos, 0, name, ha="center", va="center", fontsize=9, fontweight="bold",
                    bbox={"boxstyle": "round,pad=0.4", "facecolor": "#E8F1F8", "edgecolor": "#0072B2"})
        colours = {"call": "#0072B2", "reply": "#555555", "data": "#D55E00", "note": "#009E73", "error": "#B00000"}
        for i, (at, a, b, label, style) in enumerate(msgs, start=1):
            y = i + 0.5
            wrapped = i > 1 and style == "error" and a == b and msgs[i - 2][4] == "error" and msgs[i - 2][1:3] == (a, b)
            ax.text(-0.1, y, "" if wrapped else f"{at:.3f}s", ha="right", va="center", fontsize=7,
                    family="monospace", color="#555555")
            if a == b:
                ax.text(x[a] + 0.12, y, label, ha="left", va="center", fontsize=7, color=colours[style],
                        style="normal" if style == "error" else "italic")
                continue
            arrow = FancyArrowPatch((x[a], y), (x[b], y), arrowstyle="-|>", mutation_scale=9,
                                    color=colours[style], linewidth=2.0 if style == "data" else 0.9,
                                    linestyle="--" if style == "reply" else "-")
            ax.add_artist(arrow)  # not add_patch: the limits are set below, no arrow's data limits needed
            ax.text((x[a] + x[b]) / 2, y - 0.12, label, ha="center", va="bottom", fontsize=6.5, color=colours[style])
        ax.set_xlim(-1.6, x[LIFELINES[-1]] + 1.8)
        ax.set_ylim(rows, -0.8)
        ax.axis("off")
        end = next((e for e in result.job_ends if e.job == job), None)
        where = f" on {end.host}" if end else ""
        ax.set_title(f"{result.scenario}: job {job}{where}, as messages (time runs down; simulated seconds)"
                     + (f"; {skipped} middle messages left out" if skipped else ""))
        save(fig, path)
    return path
