"""The Engine API routes of the image commands beyond pull/push/build (mixed into the HTTP handler):
``docker history``, ``docker login``, ``docker system df``, ``docker system prune`` (and ``image``,
``container``, ``builder prune``), ``docker save`` and ``docker load``. The work is in image_ops.py.

Login is Docker Hub's token auth as far as the daemon sees it: ``POST /auth`` takes the registry's token round
trip (its latency) and answers ``Login Succeeded``; no account database is simulated, so any non-empty
credentials are valid. The CLI keeps them and sends them with each push (``X-Registry-Auth``); a push to
Docker Hub without them, or into a namespace that is not the user's, is denied as Hub denies it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Generator
from typing import TYPE_CHECKING, Any, cast

from dsim.components.errors import ApiError
from dsim.domain.refs import HUB
from dsim.serve import image_ops
from dsim.serve.filters import query_flag

if TYPE_CHECKING:
    from dsim.serve.handler import EngineHandler

#: (method, path pattern, handler method suffix); appended after the handler's own routes, so a route another
#: module registers first (``POST /networks/prune`` by the networks module) wins over the fallback here.
IMAGE_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    (method, re.compile(f"^{pattern}$"), name)
    for method, pattern, name in [
        ("GET", r"/images/(?P<name>.+)/history", "image_history"),
        ("GET", r"/images/get", "image_save"),
        ("GET", r"/images/(?P<name>.+)/get", "image_save"),
        ("POST", r"/images/load", "image_load"),
        ("POST", r"/images/prune", "image_prune"),
        ("POST", r"/build/prune", "build_prune"),
        ("POST", r"/containers/prune", "container_prune"),
        ("POST", r"/networks/prune", "network_prune"),
        ("POST", r"/auth", "auth"),
        ("GET", r"/system/df", "system_df"),
    ]
]


def _filters(query: dict[str, list[str]]) -> dict[str, Any]:
    raw = (query.get("filters") or [""])[-1]
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        raise ApiError(400, f"invalid filter '{raw}'") from None
    return value if isinstance(value, dict) else {}


def _dangling_only(query: dict[str, list[str]]) -> bool:
    """``dangling`` of a prune's filters (the CLI sends ``{"dangling":{"false":true}}`` for ``-a``; the SDK
    ``{"dangling":["false"]}``); true when absent."""
    value = _filters(query).get("dangling")
    values = list(value.keys()) if isinstance(value, dict) else list(value or [])
    return not any(str(v).lower() in ("false", "0") for v in values)


def _refuse_unapplied_filters(query: dict[str, list[str]], command: str) -> None:
    """A prune applies ``dangling`` only: any other filter (``until``, ``label``) is a 501 rather than a prune
    of what the filter was given to keep."""
    other = sorted(key for key in _filters(query) if key != "dangling")
    if other:
        raise ApiError(501, f"dsim serve does not simulate the '{other[0]}' filter of docker {command} prune "
                            "(nothing was removed)")


class ImageRoutes:
    """The methods the routes above name; ``self`` is the EngineHandler."""

    def _h(self) -> EngineHandler:
        return cast("EngineHandler", self)

    def api_image_history(self, query: dict[str, list[str]], name: str) -> None:
        h = self._h()
        engine = h.state.engine

        def rows(_: Any) -> Any:
            image = engine.find_image(name)
            if image is None:
                raise ApiError(404, f"No such image: {name}")
            return image_ops.history(engine, image)

        h.send_json(200, h.read(lambda: engine.daemon.inspect_image(name, job=-1), rows))

    def api_system_df(self, query: dict[str, list[str]]) -> None:
        h = self._h()
        engine = h.state.engine
        h.send_json(200, h.read(lambda: engine.daemon.images(job=-1), lambda _: image_ops.system_df(engine)))

    def api_image_prune(self, query: dict[str, list[str]]) -> None:
        h = self._h()
        engine = h.state.engine
        _refuse_unapplied_filters(query, "image")
        dangling = _dangling_only(query)

        def body(job: int, phase: str | None) -> Generator[Any, Any, Any]:
            yield from engine.daemon.api("image prune", job=job)
            return image_ops.prune_images(engine, dangling_only=dangling)

        h.send_json(200, h.wait(h.operation("image prune", "images", body)))

    def api_build_prune(self, query: dict[str, list[str]]) -> None:
        h = self._h()
        engine = h.state.engine

        def body(job: int, phase: str | None) -> Generator[Any, Any, Any]:
            yield from engine.daemon.api("builder prune", job=job)
            return image_ops.prune_build_cache(engine)

        h.send_json(200, h.wait(h.operation("builder prune", "build cache", body)))

    def api_container_prune(self, query: dict[str, list[str]]) -> None:
        h = self._h()
        engine = h.state.engine
        _refuse_unapplied_filters(query, "container")

        def body(job: int, phase: str | None) -> Generator[Any, Any, Any]:
            yield from engine.daemon.api("container prune", job=job)
            removed: list[str] = []
            before = engine.daemon.store.disk_used
            for served in image_ops.stopped_containers(engine):
                yield from engine.remove(served, False, job)
                removed.append(served.id)
            return {"ContainersDeleted": removed or None,
                    "SpaceReclaimed": int(round(before - engine.daemon.store.disk_used))}

        h.send_json(200, h.wait(h.operation("container prune", "containers", body)))

    def api_network_prune(self, query: dict[str, list[str]]) -> None:
        """Only ``bridge`` exists here (no user networks): nothing to prune (``docker system prune`` asks)."""
        self._h().send_json(200, {"NetworksDeleted": None})

    def api_auth(self, query: dict[str, list[str]]) -> None:
        h = self._h()
        body = h.read_json()
        user, password = str(body.get("username") or ""), str(body.get("password") or "")
        server = str(body.get("serveraddress") or "https://index.docker.io/v1/")
        if not user or not password:
            raise ApiError(400, "Error: Username and password are required")
        engine = h.state.engine
        host = re.sub(r"^https?://", "", server).split("/", 1)[0]
        hub = host in ("index.docker.io", "registry-1.docker.io", "docker.io", "")
        name = HUB if hub else host
        registry = engine.world.registries.get(name)
        if registry is None:
            raise ApiError(500, f'Get "https://{host}/v2/": dial tcp: lookup {host}: no such host')

        def login(job: int, phase: str | None) -> Generator[Any, Any, Any]:
            yield from registry.request(engine.host, "GET token", job=job)
            return {"Status": "Login Succeeded", "IdentityToken": ""}

        h.send_json(200, h.wait(h.operation("login", name, login)))

    def api_image_save(self, query: dict[str, list[str]], name: str | None = None) -> None:
        h = self._h()
        names = [name] if name is not None else [n for n in query.get("names") or [] if n]
        if not names:
            raise ApiError(400, "no image names given")
        engine = h.state.engine
        data: bytes = h.call(lambda: image_ops.save(engine, names))
        h.send_response(200)
        h.send_header("Content-Type", "application/x-tar")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def api_image_load(self, query: dict[str, list[str]]) -> None:
        h = self._h()
        data = h.read_body(h.state.max_context)
        engine = h.state.engine

        def body(job: int, phase: str | None) -> Generator[Any, Any, Any]:
            yield from engine.daemon.api("load", job=job)
            return image_ops.load(engine, data)

        lines: list[str] = h.wait(h.operation("load", "archive", body))
        if query_flag(query, "quiet"):
            h.send_json(200, {"stream": "".join(f"{line}\n" for line in lines)})
            return
        h.begin_stream()
        h.lines([{"stream": f"{line}\n"} for line in lines])
        h.end_stream()

    def push_denied(self, ref: str) -> bool:
        """Whether Docker Hub refuses this push with the credentials the request carries."""
        h = self._h()
        auth = image_ops.decode_auth(h.headers.get("X-Registry-Auth"))
        engine = h.state.engine
        return bool(h.call(lambda: image_ops.hub_push_denied(engine, ref, auth)))
