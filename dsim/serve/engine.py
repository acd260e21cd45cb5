"""The simulated dockerd behind ``dsim serve``: Engine API operations on one host of a World.

Every method here runs in the simulation thread (``clock.SimLoop``). Operations are SimPy generators that
go through the daemon's API front first (a worker and ``api_service_time``: the ``queue`` phase), then
call the components a scenario's client would call (``Puller.pull``, ``Pusher.push``, ``Builder.build``,
``ContainerRuntime.create/start/stop/remove``). Each mutating request is one job in the outputs (its
workload is the operation's name), so ``--out`` reports the session like a scenario run. What is glue
here: Docker's container IDs and names, the request's JSON mapped to a container spec, and the
bookkeeping the API shows (created times, waiters of ``/wait``).
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

import simpy
from pydantic import ValidationError

from dsim.components.builder import WorkingCopy
from dsim.components.container import CREATED, EXITED, REMOVED, RESTARTING, RUNNING, Container
from dsim.components.daemon import Daemon
from dsim.components.errors import ApiError, StreamError
from dsim.components.runtime import parse_port
from dsim.domain.builds import BuildSpec
from dsim.domain.images import ImageInfo
from dsim.domain.refs import HUB, normalise, push_registry, split_ref
from dsim.errors import ScenarioError
from dsim.records import JobEnd, SpanKind
from dsim.rng import stream
from dsim.scenarios.builds import plan_build
from dsim.scenarios.model import BuildStep, CreateStep
from dsim.scenarios.to_domain import container_spec
from dsim.serve import images as refs
from dsim.world import World

#: Phases the outputs know (dsim.result.PHASES): an operation of this name records a phase span.
PHASE_OF = {"pull": SpanKind.PULL, "create": SpanKind.CREATE, "start": SpanKind.START, "build": SpanKind.BUILD,
            "push": SpanKind.PUSH}

#: Labels that set what a container's simulated process does (the real image's program is not run):
#: ``docker run -l dsim.duration=30s alpine``. Values as in a scenario's run step.
LABELS = {
    "dsim.duration": "duration",
    "dsim.cpu_time": "cpu_time",
    "dsim.memory_usage": "memory_usage",
    "dsim.exit_code": "exit_code",
    "dsim.stop_time": "stop_time",
    "dsim.writes": "writes",
}

_ADJECTIVES = ("admiring", "bold", "brave", "clever", "eager", "festive", "gifted", "happy", "jolly", "keen",
               "lucid", "nifty", "quirky", "serene", "sharp", "upbeat", "vibrant", "wizardly", "youthful", "zen")
_SURNAMES = ("babbage", "curie", "dijkstra", "euclid", "fermi", "goldberg", "hopper", "hypatia", "knuth", "lamport",
             "liskov", "lovelace", "noether", "pike", "ritchie", "shannon", "thompson", "turing", "wozniak", "yalow")


def human_duration(seconds: float) -> str:
    """go-units HumanDuration, as ``docker ps`` shows ages: 'Less than a second', '2 seconds', 'About a minute'."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{hours // 24 // 365} years"


@dataclass
class Served:
    """A container as the API shows it: Docker's ID, the request's config, the runtime's container."""

    id: str
    container: Container
    created: float
    config: dict[str, Any]
    host_config: dict[str, Any]
    image: ImageInfo
    waiters: list[simpy.Event] = field(default_factory=list)
    removed: bool = False

    @property
    def name(self) -> str:
        return self.container.name


class Engine:
    """One simulated Docker Engine: the daemon of ``host`` in ``world``."""

    def __init__(self, world: World, host: str, *, now: Callable[[], float] | None = None) -> None:
        self.world = world
        self.env = world.env
        self.host = host
        self.daemon: Daemon = world.daemons[host]
        self.recorder = world.recorder
        self.containers: dict[str, Served] = {}  # Docker ID -> container, in creation order
        self.jobs = 0  # operations recorded as jobs (added to the result's expected jobs)
        self._names = stream(world.seed, f"serve/names/{host}")
        self.clock = now or (lambda: self.env.now)
        self.built: dict[str, float] = {}  # image ID -> simulated time it was built

    # ------------------------------------------------------------------ time as the API shows it

    def epoch(self, sim_time: float) -> float:
        """A Unix timestamp for a simulated instant, placed so that the CLI's 'N minutes ago' (which it
        computes from the real clock) is the simulated age."""
        return time.time() - (self.clock() - sim_time)

    def iso(self, sim_time: float | None) -> str:
        if sim_time is None:
            return "0001-01-01T00:00:00Z"
        stamp = self.epoch(sim_time)
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(stamp)) + f".{int(stamp % 1 * 1e9):09d}Z"

    # ------------------------------------------------------------------ jobs

    def operation(self, kind: str, subject: str,
                  body: Callable[[int], Generator[Any, Any, Any]]) -> Generator[Any, Any, Any]:
        """One mutating API call as a job: the API front (queue), the operation, its phase span, its end."""
        job = self.world.next_job()
        self.jobs += 1
        arrival = self.env.now
        status, error = "completed", ""
        try:
            began = yield from self.daemon.api(kind, job=job)
            result = yield from body(job)
            phase = PHASE_OF.get(kind)
            if phase is not None:
                self.recorder.span(phase, subject, began, self.env.now, host=self.host, job=job)
            return result
        except ApiError as err:
            status = "failed"
            error = str(err) if isinstance(err, StreamError) else f"Error response from daemon: {err}"
            raise
        except BaseException as err:
            status, error = "failed", f"{type(err).__name__}: {err}"
            raise
        finally:
            self.recorder.job_end(JobEnd(job, kind, self.host, arrival, self.env.now, status, error))

    def read(self, kind: str, body: Callable[[], Any]) -> Generator[Any, Any, Any]:
        """A read (ps, images, inspect): the API front only, no job."""
        yield from self.daemon.api(kind, job=-1)
        return body()

    # ------------------------------------------------------------------ images

    def local_images(self) -> dict[str, ImageInfo]:
        return self.daemon.store.images

    def find_image(self, name: str) -> ImageInfo | None:
        """A local image by reference, full ID, or ID prefix (with or without ``sha256:``)."""
        store = self.local_images()
        norm = normalise(name)
        if norm in store:
            return store[norm]
        text = name.removeprefix("sha256:")
        if re.fullmatch(r"[0-9a-f]{4,64}", text):
            for image in store.values():
                if refs.image_id(image)[7:].startswith(text):
                    return image
        return None

    def remote(self, ref: str) -> ImageInfo | refs.Missing:
        """What a pull of ``ref`` would fetch: a scenario image, one pushed during the session, or a catalog
        image (added to the world on first use); else Docker's error for it."""
        norm = normalise(ref)
        images = self.daemon.puller.images
        if norm in images:
            return images[norm]
        for registry in self.world.registries.values():
            pushed = registry.manifests.get(norm)
            if pushed is not None:
                return pushed
        host = refs.registry_host(norm)
        first = split_ref(norm)[0].split("/", 1)[0]
        if host is not None or ("/" in norm and first in self.world.registries):
            name = host or first
            if name not in self.world.registries:
                return refs.no_such_host(name)
            return refs.Missing(404, f"manifest for {norm} not found: manifest unknown: manifest unknown")
        if HUB not in self.world.registries:
            return refs.no_such_host("registry-1.docker.io")
        image = refs.catalog_image(norm)
        if image is None:
            return refs.denied(norm)
        images[norm] = image
        if self.world.resolved.images is not images:
            self.world.resolved.images[norm] = image
        self.world.registries[HUB].accept_manifest(image)
        return image

    def pull(self, ref: str, job: int, *,
             on_begin: Callable[[ImageInfo], None] | None = None) -> Generator[Any, Any, ImageInfo]:
        """``POST /images/create?fromImage=``: resolve the reference now, then the daemon's pull pipeline."""
        found = self.remote(ref)
        if isinstance(found, refs.Missing):
            yield from self._refused(ref, found, job)
            raise ApiError(found.status, found.message)
        if on_begin is not None:
            on_begin(found)
        yield from self.daemon.puller.pull(found.ref, job=job)
        return found

    def _refused(self, ref: str, missing: refs.Missing, job: int) -> Generator[Any, Any, None]:
        """The registry round trips that end in 'pull access denied' (Docker Hub: HEAD 401, token, HEAD 401)."""
        hub = self.world.registries.get(HUB)
        if hub is None or missing.status != 404 or "pull access denied" not in missing.message:
            return
        repo, tag = split_ref(normalise(ref))
        path = repo if "/" in repo else f"library/{repo}"
        try:
            yield from hub.request(self.host, f"HEAD /v2/{path}/manifests/{tag}", job=job, status=401)
            yield from hub.request(self.host, "GET token", job=job)
            yield from hub.request(self.host, f"HEAD /v2/{path}/manifests/{tag}", job=job, status=401)
        except Exception:  # the registry is down or failing: the answer is the same for the CLI
            return

    def tag(self, image: ImageInfo, ref: str) -> ImageInfo:
        """``docker tag``: the same content under another reference (and the registry its name selects)."""
        norm = normalise(ref)
        repo, tag = split_ref(norm)
        registry = push_registry(norm, self.world.registries, self.daemon.puller.images)
        tagged = ImageInfo(norm, registry, repo, tag, image.layers, image.compression, image.manifest_digest,
                           lazy=image.lazy, prefetch=image.prefetch)
        self.daemon.store.tag(tagged)
        return tagged

    def untag(self, name: str, *, force: bool) -> list[dict[str, str]]:
        """``docker rmi``: remove a tag (content stays while other tags or containers use it)."""
        image = self.find_image(name)
        if image is None:
            raise ApiError(404, f"No such image: {name}")
        users = [s for s in self.containers.values() if s.image.ref == image.ref]
        if users and not force:
            user = users[0]
            raise ApiError(409, f"conflict: unable to remove repository reference \"{name}\" (must force) - "
                                f"container {user.id[:12]} is using its referenced image {refs.short_id(image)}")
        store = self.daemon.store
        del store.images[image.ref]
        store.last_used.pop(image.ref, None)
        gone = [{"Untagged": image.ref}]
        if not any(refs.image_id(other) == refs.image_id(image) for other in store.images.values()):
            gone.append({"Deleted": refs.image_id(image)})
        return gone

    def push(self, ref: str, job: int) -> Generator[Any, Any, ImageInfo]:
        """``POST /images/{name}/push``: the daemon's push path (dsim.components.push)."""
        norm = normalise(ref)
        image = self.daemon.store.images.get(norm)
        if image is None:
            raise ApiError(404, f"An image does not exist locally with the tag: {split_ref(norm)[0]}")
        host = refs.registry_host(norm)
        if host is not None and host not in self.world.registries:
            raise ApiError(500, refs.no_such_host(host).message)
        yield from self.daemon.pusher.push(norm, job=job)
        return image

    # ------------------------------------------------------------------ build

    def plan_build(self, options: BuildStep, name: str, text: str) -> BuildSpec:
        """Plan a Dockerfile as a scenario's build step would be; its errors as dockerd reports them."""
        try:
            return plan_build(options, name, text, ("build",))
        except ScenarioError as err:
            where = f" on line {err.line}" if err.line else ""
            raise ApiError(400, f"dockerfile parse error{where}: {err.message}") from None

    def build(self, spec: BuildSpec, copy: WorkingCopy, tags: list[str], job: int,
              bases: dict[str, ImageInfo]) -> Generator[Any, Any, ImageInfo]:
        """``POST /build`` (legacy builder): base images resolved now (catalog on demand), then the daemon's
        Builder; further ``-t`` tags name the same image."""
        builder = self.daemon.builder
        if builder is None:
            raise ApiError(501, "this simulated daemon has no builder")
        for ref in spec.base_images(spec.classic_stages):
            found = self.remote(ref)
            if isinstance(found, refs.Missing) and self.find_image(ref) is not None:
                raise ApiError(501, f"dsim serve: FROM {ref}: an image that exists only on this host (built or "
                                    "tagged here) cannot be a base yet: the simulated legacy builder pulls every base")
            if isinstance(found, refs.Missing):
                yield from self._refused(ref, found, job)
                raise ApiError(found.status, found.message)
            bases[ref] = found
        image: ImageInfo = yield from builder.build(spec, copy, job=job)
        self.built.setdefault(refs.image_id(image), self.env.now)
        for tag in tags[1:]:
            self.tag(image, tag)
        return image

    # ------------------------------------------------------------------ containers

    def _docker_id(self, container: Container) -> str:
        return hashlib.sha256(f"dsim-serve {self.host} {container.id}".encode()).hexdigest()

    def _random_name(self) -> str:
        while True:
            name = f"{self._names.choice(_ADJECTIVES)}_{self._names.choice(_SURNAMES)}"
            if name not in self.daemon.runtime.containers:
                return name

    def sync(self) -> None:
        """Containers the scenario's own workloads made on this daemon appear too (same dockerd); those they
        removed go."""
        known = {id(served.container) for served in self.containers.values()}
        for container in self.daemon.runtime.containers.values():
            if id(container) not in known:
                served = Served(self._docker_id(container), container, container.started_at or self.env.now,
                                {"Image": container.image.ref}, {}, container.image)
                self.containers[served.id] = served
        for cid, served in list(self.containers.items()):
            if served.container.state == REMOVED and not served.removed:
                served.removed = True
                del self.containers[cid]

    def find(self, ident: str) -> Served:
        """A container by name (with or without '/'), full ID or unique ID prefix; 404 as Docker says."""
        self.sync()
        name = ident.lstrip("/")
        runtime = self.daemon.runtime.containers
        if name in runtime:
            for served in self.containers.values():
                if served.container is runtime[name]:
                    return served
        if ident in self.containers:
            return self.containers[ident]
        if ident and re.fullmatch(r"[0-9a-f]+", ident):
            matches = [s for cid, s in self.containers.items() if cid.startswith(ident)]
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                raise ApiError(400, f"Multiple IDs found with provided prefix: {ident}")
        raise ApiError(404, f"No such container: {ident}")

    def docker_message(self, message: str) -> str:
        """Runtime messages name containers by the runtime's IDs; the API shows Docker's."""
        for served in self.containers.values():
            message = message.replace(f"({served.container.id})", f"({served.id})")
            message = message.replace(f'"{served.container.id}"', f'"{served.id}"')
        return message

    def container_step(self, body: dict[str, Any], name: str | None, image: ImageInfo) -> CreateStep:
        """The request's config as a scenario ``create`` step (validated by the scenario model)."""
        host_config = body.get("HostConfig") or {}
        ports: list[str] = []
        for port, bindings in sorted((host_config.get("PortBindings") or {}).items()):
            number, _, proto = port.partition("/")
            for binding in bindings or [{}]:
                host_port = str((binding or {}).get("HostPort") or "")
                ports.append(f"{host_port}:{number}/{proto or 'tcp'}" if host_port else f"{number}/{proto or 'tcp'}")
        exposed = list((body.get("ExposedPorts") or {}).keys())
        exposed += [p for p in refs.config_of(image.ref)[2] if p not in exposed]
        restart = host_config.get("RestartPolicy") or {}
        policy = restart.get("Name") or "no"
        if policy == "on-failure" and restart.get("MaximumRetryCount"):
            policy = f"on-failure:{int(restart['MaximumRetryCount'])}"
        options: dict[str, Any] = {
            "image": image.ref, "name": name, "ports": ports, "expose": exposed,
            "publish_all": bool(host_config.get("PublishAllPorts")), "restart": policy,
            "duration": "inf",
        }
        if host_config.get("NanoCpus"):
            options["cpus"] = host_config["NanoCpus"] / 1e9
        if host_config.get("Memory"):
            options["memory"] = float(host_config["Memory"])
        for label, key in LABELS.items():
            value = (body.get("Labels") or {}).get(label)
            if value is not None:
                options[key] = value
        try:
            return CreateStep.model_validate(options)
        except ValidationError as err:
            problem = err.errors()[0]
            where = ".".join(str(part) for part in problem["loc"])
            raise ApiError(400, f"invalid container config: {where}: {problem['msg']}") from None

    def create(self, body: dict[str, Any], name: str | None, job: int) -> Generator[Any, Any, Served]:
        """``POST /containers/create``: 404 ``No such image`` when the image is not local (the CLI then pulls)."""
        if name is not None and not re.fullmatch(r"/?[a-zA-Z0-9][a-zA-Z0-9_.-]+", name):
            raise ApiError(400, f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
        wanted = str(body.get("Image") or "")
        if not wanted:
            raise ApiError(400, "config cannot be empty in order to create a container")
        image = self.find_image(wanted)
        if image is None:
            raise ApiError(404, f"No such image: {normalise(wanted)}")
        step = self.container_step(body, (name or "").lstrip("/") or self._random_name(), image)
        spec = container_spec(step)
        try:
            container = yield from self.daemon.runtime.create(spec, job=job)
        except ApiError as err:
            raise ApiError(err.status, self.docker_message(str(err))) from None
        config = {key: body.get(key) for key in ("Cmd", "Entrypoint", "Env", "Labels", "ExposedPorts", "Tty",
                                                 "WorkingDir", "User")}
        config["Image"] = wanted
        served = Served(self._docker_id(container), container, self.env.now, config,
                        dict(body.get("HostConfig") or {}), image)
        self.containers[served.id] = served
        return served

    def start(self, served: Served, job: int) -> Generator[Any, Any, bool]:
        """``POST /containers/{id}/start``; False when it was already running (HTTP 304)."""
        container = served.container
        if container.state in (RUNNING, RESTARTING):
            return False
        try:
            yield from self.daemon.runtime.start(container, job=job)
        except ApiError as err:
            raise ApiError(err.status, self.docker_message(str(err))) from None
        self._arm_waiters(served)
        if served.host_config.get("AutoRemove"):
            self.env.process(self._auto_remove(served))
        return True

    def _auto_remove(self, served: Served) -> Generator[Any, Any, None]:
        """``--rm``: once the process has exited for good (no restart follows), the container goes."""
        process = served.container.process
        if process is not None and process.is_alive:
            yield process
        if not served.removed and served.container.state not in (RUNNING, RESTARTING):
            self._remove(served, job=-1)

    def wait_next_exit(self, served: Served, condition: str) -> simpy.Event:
        """``POST /containers/{id}/wait``: an event with the exit code (``next-exit``: of the next run;
        ``not-running``: now if it is not running; ``removed``: when it is removed)."""
        event = self.env.event()
        container = served.container
        running = container.state in (RUNNING, RESTARTING)
        if condition == "not-running" and not running:
            event.succeed(container.exit_code or 0)
            return event
        served.waiters.append(event)
        event.condition = condition  # type: ignore[attr-defined]
        if running:
            self._arm_waiters(served)
        return event

    def _arm_waiters(self, served: Served) -> None:
        """Chain each waiter to the current run's exit event (a new run makes a new one)."""
        exited = served.container.exited
        if exited is None:
            return
        for event in list(served.waiters):
            if getattr(event, "condition", "") == "removed" or getattr(event, "armed", None) is exited:
                continue
            event.armed = exited  # type: ignore[attr-defined]

            def fire(ev: simpy.Event, waiter: simpy.Event = event) -> None:
                if not waiter.triggered:
                    waiter.succeed(ev.value)
                if waiter in served.waiters:
                    served.waiters.remove(waiter)

            if exited.triggered:
                fire(exited)
            else:
                exited.callbacks.append(fire)

    def stop(self, served: Served, timeout: float, job: int) -> Generator[Any, Any, bool]:
        """``POST /containers/{id}/stop``: SIGTERM, SIGKILL at the timeout; False if not running (304)."""
        container = served.container
        if container.state not in (RUNNING, RESTARTING):
            return False
        yield from self.daemon.runtime.stop(container, timeout, job=job)
        return True

    def kill(self, served: Served, signal: str, job: int) -> Generator[Any, Any, None]:
        """``POST /containers/{id}/kill``: SIGKILL ends the process at once; another signal asks it to exit,
        which takes its ``stop_time``. Returns without waiting for the exit, as Docker does."""
        container = served.container
        if container.state not in (RUNNING, RESTARTING):
            raise ApiError(409, f"cannot kill container: {served.id}: container {served.id} is not running")
        sig = signal.upper().removeprefix("SIG") or "KILL"
        timeout = 0.0 if sig in ("KILL", "9") else math.inf
        self.env.process(self.daemon.runtime.stop(container, timeout, job=job))
        yield self.env.timeout(0)

    def remove(self, served: Served, force: bool, job: int) -> Generator[Any, Any, None]:
        """``DELETE /containers/{id}``: 409 while running unless ``force`` (then SIGKILL first)."""
        container = served.container
        if container.state in (RUNNING, RESTARTING):
            if not force:
                raise ApiError(409, f"cannot remove container \"/{container.name}\": container is {container.state}: "
                                    "stop the container before removing or force remove")
            yield from self.daemon.runtime.stop(container, 0.0, job=job)
        self._remove(served, job)

    def _remove(self, served: Served, job: int) -> None:
        self.daemon.runtime.remove(served.container, job=job)
        served.removed = True
        del self.containers[served.id]
        for waiter in served.waiters:
            if not waiter.triggered:
                waiter.succeed(served.container.exit_code or 0)
        served.waiters.clear()

    # ------------------------------------------------------------------ what the API shows

    def status(self, served: Served) -> str:
        """``docker ps`` STATUS: 'Up 2 seconds', 'Exited (0) 3 seconds ago', 'Created', 'Restarting (1) ...'."""
        container = served.container
        now = self.clock()
        if container.state == RUNNING:
            health = f" ({container.health_status})" if container.health_status else ""
            return f"Up {human_duration(now - (container.started_at or now))}{health}"
        if container.state in (EXITED, RESTARTING):
            ago = human_duration(now - (container.finished_at or now))
            return f"{container.state.capitalize()} ({container.exit_code}) {ago} ago"
        return "Created"

    def ports(self, served: Served) -> list[dict[str, Any]]:
        """ContainerSummary.Ports: published bindings while running, and exposed ports."""
        out: list[dict[str, Any]] = []
        published: set[tuple[int, str]] = set()
        if served.container.state == RUNNING:
            for text in served.container.published:
                ip, _, rest = text.rpartition(":")
                public, _, private = rest.partition("->")
                number, _, kind = private.partition("/")
                out.append({"IP": ip, "PrivatePort": int(number), "PublicPort": int(public), "Type": kind})
                published.add((int(number), kind))
            for mapping in served.container.spec.expose:
                _, port, proto = parse_port(mapping)
                if (port, proto) not in published:
                    out.append({"PrivatePort": port, "Type": proto})
        return out

    def command(self, served: Served) -> list[str]:
        entrypoint, cmd, _ = refs.config_of(served.image.ref)
        given_entry = served.config.get("Entrypoint")
        given_cmd = served.config.get("Cmd")
        return list(given_entry if given_entry else entrypoint) + list(given_cmd if given_cmd else cmd)

    def summary(self, served: Served) -> dict[str, Any]:
        container = served.container
        return {
            "Id": served.id,
            "Names": [f"/{container.name}"],
            "Image": served.config["Image"],
            "ImageID": refs.image_id(served.image),
            "Command": " ".join(self.command(served)),
            "Created": int(self.epoch(served.created)),
            "Ports": self.ports(served),
            "Labels": served.config.get("Labels") or {},
            "State": container.state,
            "Status": self.status(served),
            "HostConfig": {"NetworkMode": "bridge"},
            "NetworkSettings": {"Networks": {}},
            "Mounts": [],
        }

    def inspect(self, served: Served) -> dict[str, Any]:
        container = served.container
        ports: dict[str, Any] = {}
        for entry in self.ports(served):
            key = f"{entry['PrivatePort']}/{entry['Type']}"
            if "PublicPort" in entry:
                ports.setdefault(key, []).append({"HostIp": entry["IP"], "HostPort": str(entry["PublicPort"])})
            else:
                ports.setdefault(key, None)
        entrypoint, cmd, _ = refs.config_of(served.image.ref)
        return {
            "Id": served.id,
            "Created": self.iso(served.created),
            "Path": (self.command(served) or [""])[0],
            "Args": self.command(served)[1:],
            "State": {
                "Status": container.state,
                "Running": container.state == RUNNING,
                "Paused": False,
                "Restarting": container.state == RESTARTING,
                "OOMKilled": container.oom_killed,
                "Dead": False,
                "Pid": 0,
                "ExitCode": container.exit_code or 0,
                "Error": container.error,
                "StartedAt": self.iso(container.started_at),
                "FinishedAt": self.iso(container.finished_at),
            },
            "Image": refs.image_id(served.image),
            "Name": f"/{container.name}",
            "RestartCount": container.restart_manager.restart_count,
            "Driver": "overlayfs",
            "Platform": "linux",
            "HostConfig": {"NetworkMode": "bridge", "PortBindings": served.host_config.get("PortBindings") or {},
                           "RestartPolicy": served.host_config.get("RestartPolicy") or {"Name": "no"},
                           "AutoRemove": bool(served.host_config.get("AutoRemove"))},
            "Config": {
                "Hostname": served.id[:12],
                "Image": served.config["Image"],
                "Cmd": served.config.get("Cmd") or cmd,
                "Entrypoint": served.config.get("Entrypoint") or entrypoint or None,
                "Env": served.config.get("Env") or [],
                "Labels": served.config.get("Labels") or {},
                "ExposedPorts": {p: {} for p in container.spec.expose} or None,
                "Tty": bool(served.config.get("Tty")),
            },
            "NetworkSettings": {"Ports": ports, "Networks": {}},
            "Mounts": [],
        }

    def image_summary(self, image_id: str, tags: list[ImageInfo]) -> dict[str, Any]:
        image = tags[0]
        repo_digests = sorted({f"{t.repository}@{t.manifest_digest}" for t in tags if t.manifest_digest})
        return {
            "Id": image_id,
            "ParentId": "",
            "RepoTags": [t.ref for t in tags],
            "RepoDigests": repo_digests,
            "Created": int(self.created(image)),
            "Size": int(sum(layer.uncompressed for layer in image.layers)),
            "SharedSize": -1,
            "VirtualSize": int(sum(layer.uncompressed for layer in image.layers)),
            "Labels": {},
            "Containers": sum(1 for s in self.containers.values() if refs.image_id(s.image) == image_id),
        }

    def created(self, image: ImageInfo) -> float:
        """Unix time an image was made: a catalog image's real build date; an image built in this session,
        when it was built; else the start of the simulation."""
        real = refs.catalog_created(image)
        if real is not None:
            return real
        built = self.built.get(refs.image_id(image))
        return self.epoch(built if built is not None else 0.0)

    def inspect_image(self, image: ImageInfo) -> dict[str, Any]:
        image_id = refs.image_id(image)
        tags = [t for t in self.local_images().values() if refs.image_id(t) == image_id]
        entrypoint, cmd, exposed = refs.config_of(image.ref)
        size = int(sum(layer.uncompressed for layer in image.layers))
        return {
            "Id": image_id,
            "RepoTags": [t.ref for t in tags],
            "RepoDigests": sorted({f"{t.repository}@{t.manifest_digest}" for t in tags if t.manifest_digest}),
            "Parent": "",
            "Comment": "",
            "Created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.created(image))),
            "Architecture": "amd64",
            "Os": "linux",
            "Size": size,
            "Config": {"Cmd": cmd or None, "Entrypoint": entrypoint or None,
                       "ExposedPorts": {p: {} for p in exposed} or None, "Env": [], "Labels": None},
            "RootFS": {"Type": "layers", "Layers": [layer.chain_id for layer in image.layers]},
            "GraphDriver": {"Name": "overlayfs", "Data": None},
            "Metadata": {"LastTagTime": self.iso(self.daemon.store.last_used.get(image.ref, 0.0))},
        }

    def counts(self) -> dict[str, int]:
        self.sync()
        states = [s.container.state for s in self.containers.values()]
        return {
            "Containers": len(states),
            "ContainersRunning": sum(1 for s in states if s in (RUNNING, RESTARTING)),
            "ContainersPaused": 0,
            "ContainersStopped": sum(1 for s in states if s in (EXITED, CREATED)),
            "Images": len({refs.image_id(i) for i in self.local_images().values()}),
        }
