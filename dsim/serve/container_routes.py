"""The container endpoints that answer at once: exec create and inspect, top, changes, pause/unpause, rename.

A mixin of ``handler.EngineHandler`` (HTTP thread); the work is the Engine's (``execs.py``), asked of the
simulation thread. Mutating calls are jobs in the outputs, as every other operation.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

from dsim.components.errors import ApiError
from dsim.serve import bodies
from dsim.serve.changes import changes_json

if TYPE_CHECKING:
    from dsim.serve.server import ServeState


class ContainerRoutes:
    """exec, top, pause, unpause, rename."""

    state: ServeState

    def call(self, task: Callable[[], Any]) -> Any:
        raise NotImplementedError

    def read_json(self) -> dict[str, Any]:
        raise NotImplementedError

    def send_json(self, status: int, value: Any) -> None:
        raise NotImplementedError

    def send_empty(self, status: int) -> None:
        raise NotImplementedError

    def read_body(self, limit: int) -> bytes:
        raise NotImplementedError

    def _container_op(self, kind: str, ident: str,
                      act: Callable[[Any, int, str | None], Generator[Any, Any, Any]]) -> Any:
        raise NotImplementedError

    def api_exec_create(self, query: dict[str, list[str]], id: str) -> None:  # noqa: A002
        engine = self.state.engine
        config = bodies.parse(bodies.ExecCreate, self.read_json(), "ExecConfig")
        made = self.call(lambda: engine.exec_create(engine.find(id), config))
        self.send_json(201, {"Id": made.id})

    def api_exec_inspect(self, query: dict[str, list[str]], id: str) -> None:  # noqa: A002
        engine = self.state.engine
        self.send_json(200, self.call(lambda: engine.exec_inspect(engine.find_exec(id))))

    def api_top(self, query: dict[str, list[str]], id: str) -> None:  # noqa: A002
        engine = self.state.engine
        ps_args = (query.get("ps_args") or [""])[-1]
        self.send_json(200, self.call(lambda: engine.top(engine.find(id), engine.command, ps_args)))

    def api_changes(self, query: dict[str, list[str]], id: str) -> None:  # noqa: A002
        """``docker diff``: the writable layer's modelled contents (changes.py)."""
        engine = self.state.engine

        def changes() -> list[dict[str, object]]:
            container = engine.find(id).container
            return changes_json(engine.daemon.runtime.storage.changes(container.id))

        self.send_json(200, self.call(changes))

    def api_pause(self, query: dict[str, list[str]], id: str) -> None:  # noqa: A002
        self.read_body(self.state.max_body)
        engine = self.state.engine
        self._container_op("pause", id, lambda served, job, phase: engine.pause(served, job))
        self.send_empty(204)

    def api_unpause(self, query: dict[str, list[str]], id: str) -> None:  # noqa: A002
        self.read_body(self.state.max_body)
        engine = self.state.engine
        self._container_op("unpause", id, lambda served, job, phase: engine.unpause(served, job))
        self.send_empty(204)

    def api_rename(self, query: dict[str, list[str]], id: str) -> None:  # noqa: A002
        self.read_body(self.state.max_body)
        name = (query.get("name") or [""])[-1]
        if not name:
            raise ApiError(400, "Neither old nor new names may be empty")
        engine = self.state.engine
        self._container_op("rename", id, lambda served, job, phase: engine.rename(served, name, job))
        self.send_empty(204)
