"""The Engine API's verbs on networks and volumes (docs/networks-storage.md), mixed into ``Daemon``.

Like the other verbs (daemon_api.py) each first passes the API front (a worker, ``api_service_time``), then
asks the host's network stack (networks.py) or container storage (storage.py); ``dsim serve`` calls these,
never the stacks' tables.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from dsim.components.container import Container
from dsim.components.network_objects import Network
from dsim.components.storage import Volume

if TYPE_CHECKING:
    from dsim.components.runtime import ContainerRuntime


class ObjectVerbs:
    """Networks and volumes: create, list, inspect, remove, prune; connect and disconnect."""

    runtime: ContainerRuntime

    def api(self, call: str, *, job: int) -> Generator[Any, Any, float]:
        raise NotImplementedError

    # ------------------------------------------------------------------ networks

    def network_create(self, name: str, *, subnet: str | None = None, internal: bool = False,
                       job: int) -> Generator[Any, Any, Network]:
        """``POST /networks/create``: a user-defined bridge network (its iptables rules programmed)."""
        yield from self.api("network create", job=job)
        network: Network = yield from self.runtime.networks.create(name, subnet=subnet, internal=internal, job=job)
        return network

    def network_list(self, *, job: int) -> Generator[Any, Any, list[Network]]:
        """``GET /networks``."""
        yield from self.api("network ls", job=job)
        return list(self.runtime.networks.networks.values())

    def network_inspect(self, ident: str, *, job: int) -> Generator[Any, Any, Network]:
        """``GET /networks/{id}``: 404 'network X not found'."""
        yield from self.api("network inspect", job=job)
        return self.runtime.networks.find(ident)

    def network_remove(self, ident: str, *, job: int) -> Generator[Any, Any, Network]:
        """``DELETE /networks/{id}``: 403 for the predefined networks and while containers run on it."""
        yield from self.api("network rm", job=job)
        network: Network = yield from self.runtime.networks.remove(ident, job=job)
        return network

    def network_prune(self, *, job: int) -> Generator[Any, Any, list[Network]]:
        """``POST /networks/prune``: user-defined networks without running containers."""
        yield from self.api("network prune", job=job)
        pruned: list[Network] = yield from self.runtime.networks.prune(job=job)
        return pruned

    def network_connect(self, ident: str, container: Container, *, job: int) -> Generator[Any, Any, None]:
        """``POST /networks/{id}/connect``."""
        yield from self.api("network connect", job=job)
        stack = self.runtime.networks
        yield from stack.connect(stack.find(ident), container, job)

    def network_disconnect(self, ident: str, container: Container, *, job: int) -> Generator[Any, Any, None]:
        """``POST /networks/{id}/disconnect``."""
        yield from self.api("network disconnect", job=job)
        stack = self.runtime.networks
        stack.disconnect(stack.find(ident), container)

    # ------------------------------------------------------------------ volumes

    def volume_create(self, name: str | None, *, job: int) -> Generator[Any, Any, Volume]:
        """``POST /volumes/create``: an existing name answers the existing volume, as dockerd does."""
        yield from self.api("volume create", job=job)
        return self.runtime.storage.create(name)

    def volume_list(self, *, job: int) -> Generator[Any, Any, list[Volume]]:
        """``GET /volumes``."""
        yield from self.api("volume ls", job=job)
        return list(self.runtime.storage.volumes.values())

    def volume_inspect(self, name: str, *, job: int) -> Generator[Any, Any, Volume]:
        """``GET /volumes/{name}``: 404 'get X: no such volume'."""
        yield from self.api("volume inspect", job=job)
        return self.runtime.storage.find(name)

    def volume_remove(self, name: str, *, ids: dict[str, str] | None = None,
                      job: int) -> Generator[Any, Any, Volume]:
        """``DELETE /volumes/{name}``: 409 while a container uses it (``ids`` names users as the face does)."""
        yield from self.api("volume rm", job=job)
        return self.runtime.storage.remove(name, ids=ids)

    def volume_prune(self, *, all_volumes: bool = False, job: int) -> Generator[Any, Any, list[Volume]]:
        """``POST /volumes/prune``: unused anonymous volumes; ``all_volumes`` named ones too."""
        yield from self.api("volume prune", job=job)
        return self.runtime.storage.prune(all_volumes=all_volumes)
