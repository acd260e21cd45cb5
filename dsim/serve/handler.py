"""The Engine API's routes: routing, version negotiation, Docker-style JSON errors, NDJSON streams and
hijacked attach connections. HTTP itself (parsing, framing, body limits) is the h11 layer's (http.py,
exchange.py, adapter.py), which gives this handler ``http.server``'s request-handler surface.

Each request is handled by one of a bounded pool of worker threads (http.py); everything it needs from the model is
asked of the simulation thread (``SimLoop.call`` for reads, ``SimLoop.start_process`` for operations), so
no two threads ever touch the model. Streams are written while the operation runs: the handler polls the
operation's watch a few times a second of wall time and writes what changed.
"""

from __future__ import annotations

import functools
import json
import math
import re
import sys
import traceback
from collections.abc import Callable, Generator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from dsim.components.errors import ApiError, StreamError
from dsim.domain.refs import canonical, normalise, split_ref
from dsim.serve import bodies, build_flow, cpu_options, image_ops, listing, objects, shapes, update
from dsim.serve import images as refs
from dsim.serve.archive_routes import ARCHIVE_ROUTES, ArchiveRoutes
from dsim.serve.commands import valid_signal
from dsim.serve.container_routes import ContainerRoutes
from dsim.serve.filters import go_atoi, query_flag
from dsim.serve.image_ops import refuse_push
from dsim.serve.image_routes import IMAGE_ROUTES, ImageRoutes
from dsim.serve.progress import PullWatch, PushWatch, error_message
from dsim.serve.streams import ContainerStreams

if TYPE_CHECKING:
    from dsim.serve.engine import Operation
    from dsim.serve.server import ServeState

API_VERSION = "1.50"
MIN_API_VERSION = "1.24"
ENGINE_VERSION = "28.2.2"
#: How often a stream asks the model for progress (wall seconds).
POLL_S = 0.1

_VERSIONED = re.compile(r"^/v(\d+)\.(\d+)(/.*)$")


class HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


Route = tuple[str, re.Pattern[str], str]
ROUTES: list[Route] = [
    (method, re.compile(f"^{pattern}$"), name)
    for method, pattern, name in [
        ("GET", r"/_ping", "ping"),
        ("HEAD", r"/_ping", "ping"),
        ("GET", r"/version", "version"),
        ("GET", r"/info", "info"),
        ("POST", r"/images/create", "pull"),
        ("GET", r"/images/json", "images"),
        ("POST", r"/images/(?P<name>.+)/push", "push"),
        ("POST", r"/images/(?P<name>.+)/tag", "tag"),
        ("GET", r"/images/(?P<name>.+)/json", "image_inspect"),
        ("DELETE", r"/images/(?P<name>.+)", "image_remove"),
        ("POST", r"/build", "build"),
        ("POST", r"/containers/create", "create"),
        ("GET", r"/containers/json", "ps"),
        ("GET", r"/containers/(?P<id>[^/]+)/json", "inspect"),
        ("POST", r"/containers/(?P<id>[^/]+)/start", "start"),
        ("POST", r"/containers/(?P<id>[^/]+)/stop", "stop"),
        ("POST", r"/containers/(?P<id>[^/]+)/restart", "restart"),
        ("POST", r"/containers/(?P<id>[^/]+)/kill", "kill"),
        ("POST", r"/containers/(?P<id>[^/]+)/wait", "wait"),
        ("POST", r"/containers/(?P<id>[^/]+)/attach", "attach"),
        ("GET", r"/containers/(?P<id>[^/]+)/logs", "logs"),
        ("DELETE", r"/containers/(?P<id>[^/]+)", "remove"),
        ("GET", r"/events", "events"),
        ("GET", r"/containers/(?P<id>[^/]+)/top", "top"),
        ("GET", r"/containers/(?P<id>[^/]+)/changes", "changes"),
        ("GET", r"/containers/(?P<id>[^/]+)/stats", "stats"),
        ("POST", r"/containers/(?P<id>[^/]+)/pause", "pause"),
        ("POST", r"/containers/(?P<id>[^/]+)/update", "update"),
        ("POST", r"/commit", "commit"),
        ("POST", r"/containers/(?P<id>[^/]+)/unpause", "unpause"),
        ("POST", r"/containers/(?P<id>[^/]+)/rename", "rename"),
        ("POST", r"/containers/(?P<id>[^/]+)/exec", "exec_create"),
        ("POST", r"/exec/(?P<id>[^/]+)/start", "exec_start"),
        ("GET", r"/exec/(?P<id>[^/]+)/json", "exec_inspect"),
        *objects.ROUTES,  # networks and volumes (serve/objects.py)
    ]
]
ROUTES += ARCHIVE_ROUTES  # docker cp (dsim/serve/archive_routes.py)
ROUTES += IMAGE_ROUTES  # history, save/load, prunes, login, system df (dsim/serve/image_routes.py, i16-images)
#: Endpoints of the real API that dsim serve does not simulate: 501 with a message saying so.
UNSIMULATED = re.compile(r"^/(containers|images|networks|volumes|exec|swarm|nodes|services|tasks|secrets|configs|"
                         r"plugins|system|session|grpc|distribution|events|commit|auth)(/|$)")


class EngineHandler(ImageRoutes, ArchiveRoutes, objects.ObjectRoutes, BaseHTTPRequestHandler, ContainerStreams,
                    ContainerRoutes):
    """One connection; requests on it are handled one after another (HTTP/1.1 keep-alive)."""

    protocol_version = "HTTP/1.1"
    server_version = f"Docker/{ENGINE_VERSION}"
    sys_version = ""
    state: ServeState  # set on the subclass the server builds

    # ------------------------------------------------------------------ plumbing

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        if self.state.verbose:
            sys.stderr.write(f"dsim serve: {self.command} {self.path} {format % args}\n")

    def address_string(self) -> str:
        return self.client_address[0] if isinstance(self.client_address, tuple) else "unix"

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def _common_headers(self) -> None:
        self.send_header("Api-Version", API_VERSION)
        self.send_header("Docker-Experimental", "false")
        self.send_header("Ostype", "linux")

    def send_json(self, status: int, value: Any) -> None:
        body = (json.dumps(value) + "\n").encode()
        self.send_response(status)
        self._common_headers()
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_empty(self, status: int) -> None:
        self.send_response(status)
        self._common_headers()
        self.send_header("Content-Length", "0")
        self.end_headers()

    def send_error_json(self, status: int, message: str) -> None:
        self.send_json(status, {"message": message})

    def begin_stream(self, content_type: str = "application/json") -> None:
        self.send_response(200)
        self._common_headers()
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()

    def lines(self, items: list[dict[str, Any]]) -> None:
        if items:
            self.chunk(b"".join(json.dumps(item).encode() + b"\r\n" for item in items))

    if TYPE_CHECKING:  # the HTTP layer's (adapter.py RequestAdapter, first in the serving class's bases): h11
        # frames the chunks and measures bodies as they arrive (docs/serve.md: Limits)
        def chunk(self, data: bytes) -> None: ...
        def end_stream(self) -> None: ...
        def read_body(self, limit: int) -> bytes: ...

    def read_json(self) -> dict[str, Any]:
        data = self.read_body(self.state.max_body)
        if not data.strip():
            return {}
        try:
            value = json.loads(data)
        except ValueError as err:
            raise HttpError(400, f"invalid JSON: {err}") from None
        if not isinstance(value, dict):
            raise HttpError(400, "invalid JSON: expected an object")
        return value

    # ------------------------------------------------------------------ dispatch

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        path = unquote(url.path)
        query = parse_qs(url.query, keep_blank_values=True)
        match = _VERSIONED.match(path)
        #: the API version the request asked for (unversioned: the server's own), for dockerd's version gates
        self.client_version = tuple(map(int, API_VERSION.split(".")))
        if match:
            version = (int(match.group(1)), int(match.group(2)))
            self.client_version = version
            path = match.group(3)
            if version > tuple(map(int, API_VERSION.split("."))):
                return self._fail(400, f"client version {version[0]}.{version[1]} is too new. Maximum supported API "
                                       f"version is {API_VERSION}")
            if version < tuple(map(int, MIN_API_VERSION.split("."))):
                return self._fail(400, f"client version {version[0]}.{version[1]} is too old. Minimum supported API "
                                       f"version is {MIN_API_VERSION}, please upgrade your client to a newer version")
        for method, pattern, name in ROUTES:
            found = pattern.match(path)
            if found and method == self.command:
                try:
                    getattr(self, f"api_{name}")(query, **found.groupdict())
                except HttpError as err:
                    self._fail(err.status, str(err))
                except StreamError as err:
                    self._fail(err.status, str(err))
                except ApiError as err:
                    self._fail(err.status, str(err))
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True
                except Exception as err:  # a bug in dsim: a 500 with the cause, the server goes on
                    traceback.print_exc(file=sys.stderr)
                    self._fail(500, f"dsim serve: {type(err).__name__}: {err}")
                return
        if "Content-Length" in self.headers or "Transfer-Encoding" in self.headers:
            self.close_connection = True  # the body was not read
        if UNSIMULATED.match(path):
            return self._fail(501, f"dsim serve does not simulate {self.command} {path}")
        self._fail(404, "page not found")

    def _fail(self, status: int, message: str) -> None:
        try:
            self.send_error_json(status, message)
        except OSError:
            self.close_connection = True

    # ------------------------------------------------------------------ helpers on the model

    def call(self, task: Callable[[], Any]) -> Any:
        return self.state.loop.call(task)

    def operation(self, kind: str, subject: str, body: Operation) -> Future[Any]:
        engine = self.state.engine
        return self.state.loop.start_process(lambda: engine.operation(kind, subject, body))

    def read(self, verb: Callable[[], Generator[Any, Any, Any]], body: Callable[[Any], Any]) -> Any:
        """A read: the daemon's verb (made in the simulation thread), then ``body`` of what it found."""
        engine = self.state.engine
        return self.state.loop.start_process(lambda: engine.read(verb(), body)).result()

    def wait(self, future: Future[Any]) -> Any:
        return future.result()

    def stream(self, future: Future[Any], poll: Callable[[], list[dict[str, Any]]],
               ending: Callable[[Any], list[dict[str, Any]]], ready: Callable[[], bool] | None = None) -> None:
        """Write an operation's progress lines until it ends. Before ``ready`` says the operation got going,
        an error is an HTTP error; after, it is the last line of the stream (as dockerd does)."""
        streaming = False
        while True:
            try:
                result = future.result(timeout=POLL_S)
                done, error = True, None
            except FutureTimeout:
                done, error, result = False, None, None
            except ApiError as err:
                done, error, result = True, err, None
            except Exception as err:  # a bug in dsim: reported in the stream if it has begun
                traceback.print_exc(file=sys.stderr)
                done, error, result = True, ApiError(500, f"dsim serve: {type(err).__name__}: {err}"), None
            if not streaming:
                if error is not None and not isinstance(error, StreamError):
                    raise error
                if done or ready is None or self.call(ready):
                    self.begin_stream()
                    streaming = True
            if streaming:
                if error is not None:
                    lines = self.call(poll)
                    lines.append(error_message(str(error)))
                elif done:
                    lines = self.call(functools.partial(ending, result))
                else:
                    lines = self.call(poll)
                self.lines(lines)
            if done:
                self.end_stream()
                return

    # ------------------------------------------------------------------ system

    def api_ping(self, query: dict[str, list[str]]) -> None:
        body = b"OK"
        self.send_response(200)
        self._common_headers()
        self.send_header("Builder-Version", "1")
        self.send_header("Swarm", "inactive")
        self.send_header("Cache-Control", "no-cache, no-store, must-revalidate")
        self.send_header("Pragma", "no-cache")
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def api_version(self, query: dict[str, list[str]]) -> None:
        self.send_json(200, self.state.version())

    def api_info(self, query: dict[str, list[str]]) -> None:
        self.send_json(200, self.call(self.state.info))

    # ------------------------------------------------------------------ images

    def api_pull(self, query: dict[str, list[str]]) -> None:
        self.read_body(self.state.max_body)
        source = (query.get("fromImage") or [""])[-1]
        if not source:
            if query.get("fromSrc"):
                raise HttpError(501, "dsim serve does not simulate docker import")
            raise HttpError(400, "fromImage or fromSrc is required")
        tag = (query.get("tag") or [""])[-1]
        ref = source
        if tag and not tag.startswith("sha256:"):
            repo, _ = split_ref(source) if "@" not in source else (source, "")
            ref = f"{repo}:{tag}"
        digest = tag if tag.startswith("sha256:") else source.partition("@")[2]
        engine = self.state.engine
        # REPO@DIGEST is pulled, named and reported by that digest reference, with no tag (pull_v2.go pullTag)
        norm = canonical(f"{source.partition('@')[0]}@{digest}") if digest else normalise(ref)
        watch = PullWatch()

        def body(job: int, phase: str | None) -> Generator[Any, Any, Any]:
            if digest:  # the registry's manifest of that repository with that digest
                image_ops.by_digest(engine, source.partition("@")[0], digest)
            yield from engine.pull(norm, job, phase, watch)  # a tag's digest reference: refs.store_pull_digests

        future = self.operation("pull", norm, body)
        self.stream(future, watch.poll, lambda image: watch.ending(refs.familiar(norm)), ready=watch.activity)

    def api_images(self, query: dict[str, list[str]]) -> None:
        filters = listing.image_filters(query)
        engine = self.state.engine
        self.send_json(200, self.read(lambda: engine.daemon.images(job=-1),
                                      lambda _: listing.list_images(engine, filters)))

    def api_image_inspect(self, query: dict[str, list[str]], name: str) -> None:
        engine = self.state.engine
        view = self.read(lambda: engine.daemon.inspect_image(name, job=-1), engine.inspect_image)
        if self.client_version < (1, 45):  # dockerd drops the deprecated fields from API 1.45 on (image_routes.go)
            view |= {"Container": "", "ContainerConfig": shapes.legacy_container_config()}
        self.send_json(200, view)

    def api_update(self, query: dict[str, list[str]], id: str) -> None:  # noqa: A002
        """``docker update``: dockerd's checks of the values sent (its 400s, its warnings in the answer), then
        the container's limits and restart policy changed, a running container's at once (dsim/serve/update.py)."""
        body = self.read_json()
        bodies.parse(bodies.ContainerUpdate, body, "UpdateConfig")
        if self.client_version < (1, 40):  # the route ignores a PIDs limit before API 1.40
            body = {key: value for key, value in body.items() if key != "PidsLimit"}
        warnings = update.check(body, cpu_options.host_cores(self.state.engine.daemon.spec.cpus))
        policy = body.get("RestartPolicy") or {}
        if policy.get("Name") and policy["Name"] != "on-failure" and policy.get("MaximumRetryCount"):
            raise ApiError(400, "invalid restart policy: maximum retry count can only be used with 'on-failure'")
        engine = self.state.engine
        self._container_op("update", id, lambda served, job, phase: update.update(engine, served, body, job))
        self.send_json(200, {"Warnings": warnings})

    def api_commit(self, query: dict[str, list[str]]) -> None:
        """``docker commit``: ``container``, ``repo`` and ``tag``, ``comment``, ``author``, ``pause`` (default
        true), each ``changes``; the body is a container config to put over the container's (``null`` or empty:
        none)."""
        data = self.read_body(self.state.max_body).strip()
        try:
            overrides = json.loads(data) if data and data != b"null" else {}
        except ValueError as err:
            raise HttpError(400, f"invalid JSON: {err}") from None
        if not isinstance(overrides, dict):
            raise HttpError(400, "invalid JSON: expected an object")

        def one(key: str) -> str:
            return (query.get(key) or [""])[-1]

        repo, tag = one("repo"), one("tag")
        ref = f"{repo}:{tag or 'latest'}" if repo else None  # moby's RepoTagReference: no repo, no name
        pause = one("pause").lower() not in ("0", "false")
        changes = [change for change in query.get("changes") or [] if change.strip()]
        engine = self.state.engine

        def body(job: int, phase: str | None) -> Generator[Any, Any, Any]:
            served = engine.find(one("container"))
            ident = yield from engine.commit(served, ref, pause=pause, overrides=overrides, changes=changes,
                                             comment=one("comment"), author=one("author"), job=job)
            return ident

        self.send_json(201, {"Id": self.wait(self.operation("commit", ref or one("container"), body))})

    def api_tag(self, query: dict[str, list[str]], name: str) -> None:
        repo = (query.get("repo") or [""])[-1]
        tag = (query.get("tag") or [""])[-1] or "latest"
        if not repo:
            raise HttpError(400, "repository name must have at least one component")
        engine = self.state.engine

        def body(job: int, phase: str | None) -> Generator[Any, Any, Any]:
            tagged = yield from engine.daemon.tag(name, f"{repo}:{tag}", job=job)
            return tagged

        self.wait(self.operation("tag", f"{repo}:{tag}", body))
        self.send_empty(201)

    def api_image_remove(self, query: dict[str, list[str]], name: str) -> None:
        engine = self.state.engine

        def body(job: int, phase: str | None) -> Generator[Any, Any, Any]:
            deleted = yield from engine.rmi(name, force=query_flag(query, "force"), job=job)
            return deleted

        self.send_json(200, self.wait(self.operation("rmi", name, body)).response())

    def api_push(self, query: dict[str, list[str]], name: str) -> None:
        self.read_body(self.state.max_body)
        tag = (query.get("tag") or [""])[-1] or "latest"
        ref = normalise(f"{name}:{tag}")
        engine = self.state.engine
        job_of: list[int] = []
        watch = PushWatch(job_of)
        repository = refs.qualified(ref)
        denied = self.push_denied(ref)  # Docker Hub without (the right) login (image_routes.py)

        def body(job: int, phase: str | None) -> Generator[Any, Any, Any]:
            job_of.append(job)
            image = engine.daemon.store.image(ref)
            if image is not None:
                watch.begin(engine.daemon, image)
            if denied and image is not None:
                yield from refuse_push(engine, job)
            pushed = yield from engine.push(ref, job, phase)
            engine.daemon.add_digest_reference(ref, pushed.manifest_digest)  # push_v2.go: the manifest pushed
            return pushed

        def ending(image: Any) -> list[dict[str, Any]]:
            lines = watch.poll(repository)
            digest = image.manifest_digest
            size = refs.manifest_size(image)
            lines.append({"status": f"{tag}: digest: {digest} size: {size}"})
            lines.append({"progressDetail": {}, "aux": {"Tag": tag, "Digest": digest, "Size": size}})
            return lines

        future = self.operation("push", ref, body)
        self.stream(future, lambda: watch.poll(repository), ending, ready=lambda: watch.image is not None)

    def api_build(self, query: dict[str, list[str]]) -> None:
        build_flow.api_build(self, query)  # dsim/serve/build_flow.py (i16-images)

    # ------------------------------------------------------------------ containers

    def api_create(self, query: dict[str, list[str]]) -> None:
        body_json = self.read_json()
        name = (query.get("name") or [""])[-1] or None
        engine = self.state.engine

        def body(job: int, phase: str | None) -> Generator[Any, Any, Any]:
            served = yield from engine.create(body_json, name, job, phase)
            return served.id

        container_id = self.wait(self.operation("create", name or str(body_json.get("Image", "")), body))
        given = body_json.get("HostConfig")
        host: dict[str, Any] = given if isinstance(given, dict) else {}
        self.send_json(201, {"Id": container_id, "Warnings": cpu_options.warnings(host)})

    def api_ps(self, query: dict[str, list[str]]) -> None:
        wanted = listing.container_query(query)
        engine = self.state.engine
        self.send_json(200, self.read(lambda: engine.daemon.containers(all=True, job=-1),
                                      lambda _: listing.list_containers(engine, wanted)))

    def api_inspect(self, query: dict[str, list[str]], id: str) -> None:  # noqa: A002
        engine = self.state.engine
        served = self.call(lambda: engine.find(id))
        self.send_json(200, self.read(lambda: engine.daemon.inspect_container(served.name, job=-1),
                                      lambda _: engine.inspect(served)))

    def _container_op(self, kind: str, ident: str,
                      act: Callable[[Any, int, str | None], Generator[Any, Any, Any]]) -> Any:
        """A lifecycle operation on one container, under its lock (Engine.locked); kill takes no lock, as
        dockerd's does not wait for a stop in progress."""
        engine = self.state.engine

        def body(job: int, phase: str | None) -> Generator[Any, Any, Any]:
            served = engine.find(ident)
            if kind == "kill":
                result = yield from act(served, job, phase)
            else:
                result = yield from engine.locked(served, act(served, job, phase))
            return result

        return self.wait(self.operation(kind, ident, body))

    def api_start(self, query: dict[str, list[str]], id: str) -> None:  # noqa: A002
        self.read_body(self.state.max_body)
        engine = self.state.engine
        started = self._container_op("start", id, lambda served, job, phase: engine.start(served, job, phase))
        self.send_empty(204 if started else 304)

    def _timeout(self, query: dict[str, list[str]]) -> float:
        """``t`` as dockerd reads it (strconv.Atoi): seconds before SIGKILL; a negative one waits for the
        process however long it takes (API 1.42+); absent: 10 s."""
        raw = (query.get("t") or [""])[-1]
        if not raw:
            return 10.0
        value = go_atoi(raw)
        if value is None:
            raise HttpError(400, f'strconv.Atoi: parsing "{raw}": invalid syntax')
        return math.inf if value < 0 else float(value)

    def api_stop(self, query: dict[str, list[str]], id: str) -> None:  # noqa: A002
        engine = self.state.engine
        timeout = self._timeout(query)
        stopped = self._container_op("stop", id, lambda served, job, phase: engine.stop(served, timeout, job))
        self.send_empty(204 if stopped else 304)

    def api_restart(self, query: dict[str, list[str]], id: str) -> None:  # noqa: A002
        engine = self.state.engine
        timeout = self._timeout(query)

        self._container_op("restart", id, lambda served, job, phase: engine.restart(served, timeout, job))
        self.send_empty(204)

    def api_kill(self, query: dict[str, list[str]], id: str) -> None:  # noqa: A002
        engine = self.state.engine
        signal = (query.get("signal") or ["KILL"])[-1]
        if not valid_signal(signal):
            raise HttpError(400, f"Invalid signal: {signal}")  # moby's signal.ParseSignal
        self._container_op("kill", id, lambda served, job, phase: engine.kill(served, signal, job, named=id))
        self.send_empty(204)

    def api_remove(self, query: dict[str, list[str]], id: str) -> None:  # noqa: A002
        engine = self.state.engine
        force = query_flag(query, "force")
        volumes = query_flag(query, "v")
        self._container_op("rm", id, lambda served, job, phase: engine.remove(served, force, job, volumes))
        self.send_empty(204)

    def api_wait(self, query: dict[str, list[str]], id: str) -> None:  # noqa: A002
        """Headers at once (the CLI waits for them before it starts the container), the body at the exit."""
        engine = self.state.engine
        condition = (query.get("condition") or ["not-running"])[-1] or "not-running"
        if condition not in ("not-running", "next-exit", "removed"):
            raise HttpError(400, f"invalid condition: {condition}")
        event = self.call(lambda: engine.wait_next_exit(engine.find(id), condition))
        future = self.state.loop.start_process(lambda: self._await(event))
        self.begin_stream()
        code = self.state.wait_result(future)
        if code is None:  # the server is stopping
            self.close_connection = True
            return
        self.chunk(json.dumps({"StatusCode": int(code)}).encode() + b"\n")
        self.end_stream()

    @staticmethod
    def _await(event: Any) -> Generator[Any, Any, Any]:
        code = yield event
        return code
