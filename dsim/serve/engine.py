"""The simulated dockerd behind ``dsim serve``: Engine API operations on one host of a World.

Every method here runs in the simulation thread (``clock.SimLoop``). Operations call the daemon's verbs
(``dsim/components/daemon_api.py``: the API front, a worker and ``api_service_time``, then the component
doing the work), the same verbs a scenario's simulated CLI calls. Each mutating request is one job in the
outputs (its workload is the operation's name), so ``--out`` reports the session like a scenario run.
What is glue here, the HTTP face's own: Docker's container IDs and names, the request's JSON mapped to a
container spec, Docker's messages for names nothing knows, waiters of ``/wait``; the views the API shows
are in ``views.py``; stop, restart and kill in ``signals.py``.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
import time
from collections.abc import Callable, Generator
from dataclasses import replace
from typing import Any, TypeVar

import simpy
from pydantic import ValidationError

from dsim.components.builder import WorkingCopy
from dsim.components.container import REMOVED, RESTARTING, RUNNING, Container
from dsim.components.daemon import Daemon, ImageInUse
from dsim.components.daemon_api import ImageDeletion
from dsim.components.errors import ApiError, StreamError
from dsim.components.storage import Node
from dsim.domain.builds import BuildSpec
from dsim.domain.images import ImageInfo
from dsim.domain.refs import HUB, canonical, normalise, split_ref
from dsim.errors import ScenarioError
from dsim.records import JobEnd
from dsim.rng import stream
from dsim.scenarios.builds import plan_build
from dsim.scenarios.model import BuildStep, CreateStep
from dsim.scenarios.to_domain import container_spec
from dsim.serve import bodies, cpu_options, health, image_ops, objects
from dsim.serve import images as refs
from dsim.serve.changes import label_files
from dsim.serve.commands import Program, interpret
from dsim.serve.create_checks import check_create, kept
from dsim.serve.events import EventLog, follow_pulls, image_events
from dsim.serve.execs import Exec, ExecsAndStats
from dsim.serve.image_config import (
    HistoryEntry,
    ImageConfigs,
    committed_config,
    content_id,
    with_image_defaults,
)
from dsim.serve.object_meta import ObjectMeta, endpoint_addresses, endpoints_config
from dsim.serve.processes import Processes
from dsim.serve.progress import PullWatch
from dsim.serve.signals import TERM_EXIT, Signals
from dsim.serve.views import ApiViews, Served, human_duration
from dsim.world import World

__all__ = ["Engine", "Served", "human_duration"]

T = TypeVar("T")

#: Operations whose phase the outputs know (dsim.result.PHASES): they record a phase span.
PHASED = frozenset({"pull", "create", "start", "build", "push"})

#: One mutating operation: given the job number and the subject of its phase span (or None).
Operation = Callable[[int, "str | None"], Generator[Any, Any, Any]]

#: Labels that set what a container's simulated process does (the real image's program is not run):
#: ``docker run -l dsim.duration=30s alpine``. Values as in a scenario's run step.
LABELS = {
    "dsim.duration": "duration",
    "dsim.cpu_time": "cpu_time",
    "dsim.threads": "threads",
    "dsim.memory_usage": "memory_usage",
    "dsim.exit_code": "exit_code",
    "dsim.stop_time": "stop_time",
    "dsim.writes": "writes",
    "dsim.copy_up": "copy_up",
}

_ADJECTIVES = ("admiring", "bold", "brave", "clever", "eager", "festive", "gifted", "happy", "jolly", "keen",
               "lucid", "nifty", "quirky", "serene", "sharp", "upbeat", "vibrant", "wizardly", "youthful", "zen")
_SURNAMES = ("babbage", "curie", "dijkstra", "euclid", "fermi", "goldberg", "hopper", "hypatia", "knuth", "lamport",
             "liskov", "lovelace", "noether", "pike", "ritchie", "shannon", "thompson", "turing", "wozniak", "yalow")


class Engine(ApiViews, Processes, ExecsAndStats, Signals):
    """One simulated Docker Engine: the daemon of ``host`` in ``world``."""

    def __init__(self, world: World, host: str, *, now: Callable[[], float] | None = None) -> None:
        self.world = world
        self.env = world.env
        self.host = host
        self.daemon: Daemon = world.daemons[host]
        self.recorder = world.recorder
        self.containers: dict[str, Served] = {}  # Docker ID -> container, in creation order
        self.jobs = 0  # operations recorded as jobs (added to the result's expected jobs)
        self.in_flight: dict[int, tuple[str, float]] = {}  # job -> (kind, arrival) of operations under way
        self._names = stream(world.seed, f"serve/names/{host}")
        self.clock = now or (lambda: self.env.now)
        self.built: dict[str, float] = {}  # image ID -> simulated time it was built
        self.image_configs = ImageConfigs()  # built images' configs (serve/image_config.py, i16-images)
        #: files committed images carry whose contents commands wrote (image ID -> path -> contents)
        self.image_files: dict[str, dict[str, bytes]] = {}
        #: the directories and symbolic links docker cp put in a committed container (image ID -> path -> node)
        self.image_nodes: dict[str, dict[str, Node]] = {}
        # the real-time loop's speed (SimLoop.now's owner), 1 for a plain clock
        self.speed = float(getattr(getattr(now, "__self__", None), "speed", 1.0))
        self.epoch0 = time.time() - self.clock() / self.speed
        self.events = EventLog()
        self.execs: dict[str, Exec] = {}
        self.exec_numbers = itertools.count(1)
        self.object_meta = ObjectMeta()  # networks' and volumes' labels and options, endpoint aliases
        # names neither the scenario nor a push made: dsim's built-in catalog, served by Docker Hub
        self.daemon.puller.catalog.set_fallback(self._catalog_image)
        follow_pulls(self.events, self.daemon.puller, lambda: self.env.now,
                     lambda image: dict(refs.config_for(self.image_configs, image).labels))
        refs.store_pull_digests(self.daemon)
        self.daemon.freezer_watchers.append(self.freezer_event)  # pause and unpause events (execs.py)

    # ------------------------------------------------------------------ jobs

    def operation(self, kind: str, subject: str, body: Operation) -> Generator[Any, Any, Any]:
        """One mutating API call as a job: the daemon's verb (API front, the work, its phase span), its end.
        ``body`` gets the job number and the subject of the phase span (None: this kind records none)."""
        job = self.world.next_job()
        self.jobs += 1
        arrival = self.env.now
        status, error = "completed", ""
        self.in_flight[job] = (kind, arrival)
        try:
            result = yield from body(job, subject if kind in PHASED else None)
            image_events(self.events, self.env.now, kind, subject, result)
            return result
        except ApiError as err:
            status = "failed"
            error = str(err) if isinstance(err, StreamError) else f"Error response from daemon: {err}"
            raise
        except BaseException as err:
            status, error = "failed", f"{type(err).__name__}: {err}"
            raise
        finally:
            if self.in_flight.pop(job, None) is not None:  # not already recorded as unfinished
                self.recorder.job_end(JobEnd(job, kind, self.host, arrival, self.env.now, status, error))

    def record_unfinished(self, error: str) -> None:
        """At the server's stop: every operation still under way is a job ``unfinished`` at this instant."""
        for job, (kind, arrival) in sorted(self.in_flight.items()):
            self.recorder.job_end(JobEnd(job, kind, self.host, arrival, self.env.now, "unfinished", error))
        self.in_flight.clear()

    def read(self, verb: Generator[Any, Any, T], body: Callable[[T], Any]) -> Generator[Any, Any, Any]:
        """A read (ps, images, inspect): the daemon's verb (API front, no job), then the API's view of it."""
        found = yield from verb
        return body(found)

    # ------------------------------------------------------------------ images

    def find_image(self, name: str) -> ImageInfo | None:
        """A local image by reference, ``REPO@DIGEST`` (a stored digest reference), full ID or ID prefix."""
        return self.daemon.find_image(name)

    def _names_registry(self, norm: str) -> str | None:
        """The registry a reference's first component names (``localhost:5000/x``, ``local/x`` when ``local``
        is a scenario registry), else None (Docker Hub)."""
        host = refs.registry_host(norm)
        first = split_ref(norm)[0].split("/", 1)[0]
        if host is not None:
            return host
        return first if "/" in norm and first in self.world.registries else None

    def _catalog_image(self, norm: str) -> ImageInfo | None:
        """The daemon's catalog fallback: a Docker Hub name the built-in catalog lists (when the world has Hub); a
        digest reference, the image of that repository with that digest (image_ops.digest_image)."""
        if "@" in norm:
            return image_ops.digest_image(self, norm)
        if self._names_registry(norm) is not None or HUB not in self.world.registries:
            return None
        return refs.catalog_image(norm)

    def remote(self, ref: str) -> ImageInfo | refs.Missing:
        """What a pull of ``ref`` would fetch (the daemon's image catalog: the scenario's images, those pushed
        during the session, the built-in catalog); else Docker's error for it."""
        norm = canonical(ref)  # a digest reference keeps its digest
        found = self.daemon.puller.catalog.image(norm)
        if found is not None:
            return found
        name = self._names_registry(norm)
        if name is not None:
            if name not in self.world.registries:
                return refs.no_such_host(name)
            return refs.Missing(404, f"manifest for {norm} not found: manifest unknown: manifest unknown")
        if HUB not in self.world.registries:
            return refs.no_such_host("registry-1.docker.io")
        return refs.denied(norm)

    def pull(self, ref: str, job: int, phase: str | None, watch: PullWatch | None = None) -> Generator[Any, Any, None]:
        """``POST /images/create?fromImage=``: the daemon's pull verb; a name nothing knows fails as Docker
        fails for it (after Docker Hub's round trips). ``watch`` observes the pull's progress."""
        norm = canonical(ref)
        close = watch.observe(self.daemon, job, self.clock) if watch is not None else None
        try:
            yield from self.daemon.pull(norm, job=job, phase=phase)
        except ApiError as err:
            if err.status != 404 or (watch is not None and watch.begun):
                raise
            missing = self.remote(norm)
            if not isinstance(missing, refs.Missing):
                raise
            yield from self._refused(norm, missing, job)
            raise ApiError(missing.status, missing.message) from None
        finally:
            if close is not None:
                close()

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

    def rmi(self, name: str, *, force: bool, job: int) -> Generator[Any, Any, ImageDeletion]:
        """``docker rmi``: the daemon's verb (untag; the image and the layers nothing else holds go)."""
        self.sync()
        try:
            deletion = yield from self.daemon.rmi(name, force=force, job=job)
        except ImageInUse as err:
            user = next((s for s in self.containers.values() if s.container is err.container), None)
            ident = user.id[:12] if user is not None else err.container.id
            raise ApiError(409, str(err).replace(f"container {err.container.id}", f"container {ident}")) from None
        if deletion.deleted is not None:
            image_ops.forget_image(self, deletion.deleted)
        return deletion

    def push(self, ref: str, job: int, phase: str | None) -> Generator[Any, Any, ImageInfo]:
        """``POST /images/{name}/push``: the daemon's push verb (a registry host the world lacks: Docker's
        'no such host')."""
        norm = normalise(ref)
        host = refs.registry_host(norm)
        image = self.daemon.store.image(norm)
        if image is not None and host is not None and host not in self.world.registries:
            raise ApiError(500, refs.no_such_host(host).message)
        yield from self.daemon.push(norm, job=job, phase=phase)
        assert image is not None  # the verb answers 404 otherwise
        return image

    # ------------------------------------------------------------------ build

    def plan_build(self, options: BuildStep, name: str, text: str) -> BuildSpec:
        """Plan a Dockerfile as a scenario's build step would be; its errors as dockerd reports them."""
        try:
            return plan_build(options, name, text, ("build",))
        except ScenarioError as err:
            where = f" on line {err.line}" if err.line else ""
            raise ApiError(400, f"dockerfile parse error{where}: {err.message}") from None

    def build(self, spec: BuildSpec, copy: WorkingCopy, tags: list[str], job: int, phase: str | None,
              bases: dict[str, ImageInfo], resolved: Callable[[], None] = lambda: None,
              ) -> Generator[Any, Any, ImageInfo]:
        """``POST /build`` (legacy builder): base images resolved now (catalog on demand; then ``resolved()``),
        then the daemon's build verb; further ``-t`` tags name the same image."""
        if self.daemon.builder is None:
            raise ApiError(501, "this simulated daemon has no builder")
        for ref in spec.base_images(spec.classic_stages):
            local = self.daemon.store.image(ref)
            if local is not None:  # the legacy builder uses a local image as is (build_classic.py)
                bases[ref] = local
                continue
            found = self.remote(ref)
            if isinstance(found, refs.Missing):
                yield from self._refused(ref, found, job)
                raise ApiError(found.status, found.message)
            bases[ref] = found
        resolved()
        image: ImageInfo = yield from self.daemon.build(spec, copy, job=job, phase=phase)
        self.built.setdefault(refs.image_id(image), self.env.now)
        for tag in tags[1:]:
            self.daemon.tag_image(image, tag)
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
            message = message.replace(f": {served.container.id}", f": {served.id}")
            message = message.replace(f"container {served.container.id} ", f"container {served.id} ")
            message = message.replace(f"Container {served.container.id} ", f"Container {served.id} ")
        return message

    def program(self, body: dict[str, Any], image: ImageInfo) -> Program:
        """What the process of this config does (commands.py): the image's own command when none is given.
        Its container's hostname is not known yet (the ID's prefix by default): a script that prints it
        is run again with it when the process starts (processes.py)."""
        files = tuple(self.image_files.get(refs.image_id(image), {}).items())
        return interpret(self.argv(body, image), replace(self.request_context(body), files=files),
                         default=not body.get("Cmd") and not body.get("Entrypoint"),
                         stdin_open=bool(body.get("OpenStdin")))

    def container_step(self, body: dict[str, Any], name: str | None, image: ImageInfo) -> CreateStep:
        """The request's config as a scenario ``create`` step (validated by the scenario model)."""
        host_config = body.get("HostConfig") or {}
        ports: list[str] = []
        for port, bindings in sorted((host_config.get("PortBindings") or {}).items()):
            number, _, proto = port.partition("/")
            for binding in bindings or [{}]:
                host_port = str((binding or {}).get("HostPort") or "")
                host_port = "" if host_port == "0" else host_port  # -p 0:80: an ephemeral host port
                ports.append(f"{host_port}:{number}/{proto or 'tcp'}" if host_port else f"{number}/{proto or 'tcp'}")
        exposed = list((body.get("ExposedPorts") or {}).keys())
        exposed += [p for p in refs.config_for(self.image_configs, image).exposed_ports if p not in exposed]
        restart = host_config.get("RestartPolicy") or {}
        policy = restart.get("Name") or "no"
        if policy == "on-failure" and restart.get("MaximumRetryCount"):
            policy = f"on-failure:{int(restart['MaximumRetryCount'])}"
        program = self.program(body, image)
        forwarded_term = bool(host_config.get("Init")) and not program.handles_term
        options: dict[str, Any] = {
            "image": image.ref, "name": name, "ports": ports, "expose": exposed,
            "publish_all": bool(host_config.get("PublishAllPorts")), "restart": policy,
            "duration": "inf" if math.isinf(program.duration) else f"{program.duration!r}s",
            "exit_code": program.exit_code,
            # PID 1 ignores a SIGTERM it has no handler for: docker stop waits its timeout, then kills; under
            # --init tini is PID 1 and passes SIGTERM on, and its default action ends the process at once (143)
            "stop_time": "0s" if program.handles_term or forwarded_term else "inf",
            "stop_exit_code": TERM_EXIT if forwarded_term else 0,
        }
        options.update(cpu_options.step_options(host_config))  # --cpus, --cpu-quota, --cpuset-cpus: a cap; --cpu-shares
        if host_config.get("Memory"):
            options["memory"] = float(host_config["Memory"])
        options.update(objects.container_options(body))  # network mode and mounts (serve/objects.py)
        check = health.step_options(body.get("Healthcheck"), self.request_context(body))
        if check is not None:
            options["healthcheck"] = check
        for label, key in LABELS.items():
            value = (body.get("Labels") or {}).get(label)
            if key == "threads" and isinstance(value, str) and value.isdigit():  # a strict integer in the step
                value = int(value)
            if value is not None:
                options[key] = label_files(value) if key in ("writes", "copy_up") else value
        try:
            return CreateStep.model_validate(options)
        except ValidationError as err:
            problem = err.errors()[0]
            if not problem["loc"] and problem["type"] == "value_error":  # a check of dockerd's: its own words
                raise ApiError(400, str(problem["ctx"]["error"])) from None
            where = ".".join(str(part) for part in problem["loc"])
            raise ApiError(400, f"invalid container config: {where}: {problem['msg']}") from None

    def create(self, body: dict[str, Any], name: str | None, job: int,
               phase: str | None) -> Generator[Any, Any, Served]:
        """``POST /containers/create``: 404 ``No such image`` when the image is not local (the CLI then pulls)."""
        if name is not None and not re.fullmatch(r"/?[a-zA-Z0-9][a-zA-Z0-9_.-]+", name):
            raise ApiError(400, f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
        bodies.parse(bodies.ContainerCreate, body, "ContainerConfigWrapper")
        check_create(body, self.daemon.spec.cpus)
        body = {**body, **{key: [body[key]] for key in ("Cmd", "Entrypoint") if isinstance(body.get(key), str)}}
        wanted = str(body.get("Image") or "")
        if not wanted:
            raise ApiError(400, "config cannot be empty in order to create a container")
        image = self.find_image(wanted)
        if image is None:
            raise ApiError(404, f"No such image: {normalise(wanted)}")
        body = with_image_defaults(body, refs.config_for(self.image_configs, image))
        aliases = endpoints_config(body)  # NetworkingConfig: each endpoint's aliases (object_meta.py)
        addresses = self.daemon.runtime.networks.check_addresses(endpoint_addresses(body))  # and --ip
        step = self.container_step(body, (name or "").lstrip("/") or self._random_name(), image)
        spec = health.with_command_time(replace(container_spec(step), image=image.ref),  # a REPO@DIGEST's too
                                         body.get("Healthcheck"), self.request_context(body))
        try:
            container = yield from self.daemon.create(spec, job=job, phase=phase)
        except ApiError as err:
            raise ApiError(err.status, self.docker_message(str(err))) from None
        config = {key: body.get(key) for key in ("Cmd", "Entrypoint", "Env", "Labels", "ExposedPorts", "WorkingDir",
                                                 "User", "Healthcheck", "Hostname", "Volumes")}
        config["Image"] = wanted
        config["StopSignal"] = body.get("StopSignal") or refs.config_for(self.image_configs, image).stop_signal or None
        # the streams the client means to attach and stdin's mode, kept as given (moby keeps the request's Config):
        # a client reads them back (compose 1.29's dockerpty attaches only the streams they name)
        config.update({key: bool(body.get(key)) for key in ("AttachStdin", "AttachStdout", "AttachStderr", "Tty",
                                                           "OpenStdin", "StdinOnce")})
        served = Served(self._docker_id(container), container, self.env.now, config,
                        kept(body.get("HostConfig") or {}), image, program=self.program(body, image),
                        argv=self.argv(body, image))
        inherited = self.image_files.get(refs.image_id(image), {})
        nodes = self.image_nodes.get(refs.image_id(image), {})
        served.files, served.nodes = dict(inherited), dict(nodes)
        served.image_files = frozenset(inherited) | frozenset(nodes)
        self.containers[served.id] = served
        self.object_meta.keep_endpoints(served.id, aliases, body)  # and each endpoint's IPAMConfig
        self.daemon.runtime.networks.keep_addresses(container.id, addresses)
        self.container_event(served, "create")
        return served

    def commit(self, served: Served, ref: str | None, *, pause: bool, overrides: dict[str, Any], changes: list[str],
               comment: str, author: str, job: int) -> Generator[Any, Any, str]:
        """``POST /commit``: the image's config first (a change that is not allowed fails before any work), the
        container frozen meanwhile when it runs and ``pause`` (dockerd's default), the daemon's commit
        (Daemon.commit), then the image named by its content (the history line: the container's Cmd and the
        comment); returns its ID."""
        base = refs.config_for(self.image_configs, served.image)
        try:
            config = committed_config(base, served.config, overrides, changes)
        except (ValueError, ScenarioError) as err:
            raise ApiError(400, str(err)) from None
        ident = ""

        def record(image: ImageInfo) -> None:  # before the thaw (moby: pause, commit event, unpause)
            nonlocal ident
            command = served.config.get("Cmd") or ([] if served.config.get("Entrypoint") else list(base.cmd or ()))
            entry = HistoryEntry(" ".join(command), False, self.epoch(self.env.now), comment)  # moby: the Cmd
            image_config = replace(config, history=(*base.history, entry), author=author, comment=comment)
            ident = content_id(image_config, image)
            self.image_configs.remember(ident, image_config)
            if served.files:
                self.image_files[ident] = dict(served.files)
            if served.nodes:  # the directories and links docker cp put there: the layer holds them
                self.image_nodes[ident] = dict(served.nodes)
            self.built.setdefault(ident, self.env.now)
            store = self.daemon.store
            named = replace(image, manifest_digest=ident)
            if ref is None:
                store.untag(image.ref)
                named = replace(named, ref=f"<none>@{ident[7:19]}")
            store.reidentify(named)
            self.container_event(served, "commit", comment=comment, imageID=ident,
                                 imageRef=refs.familiar(named.ref) if ref is not None else "")

        yield from self.daemon.commit(served.container, ref, job=job, pause=pause, recorded=record)
        return ident

    def locked(self, served: Served, act: Generator[Any, Any, T]) -> Generator[Any, Any, T]:
        """A lifecycle operation under the container's lock, as dockerd holds the container's mutex while
        it starts, stops, restarts or removes it: two concurrent starts of one container run one after the
        other (the second finds it running: 304), never both at once."""
        if served.lock is None:
            served.lock = simpy.Resource(self.env, capacity=1)
        with served.lock.request() as turn:
            yield turn
            result: T = yield from act
        return result

    def start(self, served: Served, job: int, phase: str | None) -> Generator[Any, Any, bool]:
        """``POST /containers/{id}/start``; False when it was already running (HTTP 304). A ``--rm`` container
        whose start fails is removed, as moby's start.go cleanup does (the CLI waits for its removal)."""
        if served.paused:
            raise ApiError(409, "cannot start a paused container, try unpause instead")
        try:
            started = yield from self.daemon.start(served.container, job=job, phase=phase)
        except ApiError as err:
            failed = ApiError(err.status, self.docker_message(str(err)))
            if served.host_config.get("AutoRemove") and not (served.removed or served.removing):
                self.daemon.runtime.remove(served.container, job=-1, volumes=True)
                self._removed(served)
            raise failed from None
        if not started:
            return False
        self.network_event(served, "connect")
        self.container_event(served, "start")
        self.track_runs(served)
        health.watch(self, served)
        self._arm_waiters(served)
        if served.host_config.get("AutoRemove"):
            self.env.process(self._auto_remove(served))
        return True

    def _auto_remove(self, served: Served) -> Generator[Any, Any, None]:
        """``--rm``: once the process has exited for good (no restart follows), the container goes."""
        process = served.container.process
        if process is not None and process.is_alive:
            yield process
        if not (served.removed or served.removing) and served.container.state not in (RUNNING, RESTARTING):
            self.daemon.runtime.remove(served.container, job=-1, volumes=True)  # --rm takes anonymous volumes too
            self._removed(served)

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

    def remove(self, served: Served, force: bool, job: int, volumes: bool = False) -> Generator[Any, Any, None]:
        """``DELETE /containers/{id}``: 409 while running unless ``force`` (then SIGKILL first); ``volumes``:
        ``-v``, its anonymous volumes go too."""
        if force and served.container.state in (RUNNING, RESTARTING):
            self.container_event(served, "kill", signal="9")
        served.removing = True
        try:
            yield from self.daemon.rm(served.container, force=force, job=job, volumes=volumes)
        finally:
            served.removing = False
        self._removed(served)

    def _removed(self, served: Served) -> None:
        self.container_event(served, "destroy")
        served.removed = True
        del self.containers[served.id]
        self.object_meta.forget_container(served.id)
        for waiter in served.waiters:
            if not waiter.triggered:
                waiter.succeed(served.container.exit_code or 0)
        served.waiters.clear()

