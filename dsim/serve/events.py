"""The daemon's event stream (``docker events``, ``GET /events``): what the simulated dockerd did, in order.

dockerd logs an event for each change of an object (https://docs.docker.com/reference/cli/docker/system/
events/): containers ``create``, ``start``, ``kill`` (with the signal), ``die`` (with the exit code),
``stop``, ``restart``, ``rename``, ``pause``, ``unpause``, ``attach``, ``exec_create``/``exec_start``/
``exec_die``, ``destroy``; images ``pull``, ``tag``, ``untag``, ``delete``, ``push``; networks ``connect``
and ``disconnect`` (the default bridge, as a container starts and stops). Each is an EventMessage of the
Engine API (``Type``, ``Action``, ``Actor`` with ``ID`` and ``Attributes``, ``scope``, ``time``,
``timeNano``) stamped with the simulated time it happened at. ``since``/``until`` (Unix seconds) and
``filters`` select them as dockerd's events filter does (``type``, ``event``, ``container``, ``image``,
``label``, ``network``, ``volume``, ``scope``, ``daemon``; values of one key are alternatives).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dsim.components.daemon_api import ImageDeletion
from dsim.components.errors import ApiError
from dsim.domain.images import ImageInfo
from dsim.domain.refs import split_ref
from dsim.serve import filters as flt
from dsim.serve.images import familiar, image_id

if TYPE_CHECKING:
    from dsim.components.pull import Puller

#: moby daemon/events/filter.go's keys (swarm's node, service, secret and config match nothing here)
EVENT_FILTERS = frozenset({"config", "container", "daemon", "event", "image", "label", "network", "node", "plugin",
                           "scope", "secret", "service", "type", "volume"})
#: the bridge network's ID (a fixed 64-hex, as dockerd makes one at its first start)
BRIDGE_ID = "2b0f5e5f1a7f4ce0b1e0c6f7f0b3d9f1e6a4c2d8b7a9e0f1c2d3e4f5a6b7c8d9"


@dataclass(frozen=True)
class Event:
    at: float  # simulated time
    type: str
    action: str
    actor: str
    attributes: tuple[tuple[str, str], ...]


#: moby daemon/events/events.go ``eventsLimit``: the events a daemon keeps for ``since`` to replay
EVENTS_KEPT = 256


class EventLog:
    """Events as they happen (simulation thread appends; a reader keeps its position as a count of all
    events so far). The last EVENTS_KEPT are kept, as dockerd keeps them."""

    def __init__(self, kept: int = EVENTS_KEPT) -> None:
        self.events: list[Event] = []
        self.kept = kept
        self.dropped = 0  # events before events[0]

    def add(self, at: float, kind: str, action: str, actor: str, attributes: dict[str, str]) -> None:
        self.events.append(Event(at, kind, action, actor, tuple(sorted(attributes.items()))))
        if len(self.events) > 2 * self.kept:
            cut = len(self.events) - self.kept
            del self.events[:cut]
            self.dropped += cut

    @property
    def count(self) -> int:
        """Events logged so far (a reader's position)."""
        return self.dropped + len(self.events)

    def since(self, position: int) -> list[Event]:
        """The events after ``position`` that are still kept (at most the last EVENTS_KEPT of the past)."""
        start = max(position - self.dropped, 0, len(self.events) - self.kept if position == 0 else 0)
        return self.events[start:]


def message(event: Event, epoch: Callable[[float], float]) -> dict[str, Any]:
    """An EventMessage (with the legacy ``status``/``id``/``from`` of container and image events)."""
    stamp = epoch(event.at)
    attributes = dict(event.attributes)
    out: dict[str, Any] = {"Type": event.type, "Action": event.action,
                           "Actor": {"ID": event.actor, "Attributes": attributes}, "scope": "local",
                           "time": int(stamp), "timeNano": int(round(stamp * 1e9))}
    if event.type in ("container", "image"):
        out = {"status": event.action, "id": event.actor, **({"from": attributes["image"]} if "image" in attributes
                                                             and event.type == "container" else {}), **out}
    return out


def parse_filters(raw: str) -> flt.Filters:
    filters = flt.parse(raw)
    for key in filters:
        if key not in EVENT_FILTERS:
            raise ApiError(400, f"invalid filter '{key}'")
    return filters


def matches(event: Event, filters: flt.Filters) -> bool:
    """moby daemon/events/filter.go ``Include``: every key given must match; its values are alternatives.
    ``container``, ``network``, ``volume`` match an event of any type by its actor's ID (or a prefix of
    it) or its ``name`` attribute, as moby's fuzzyMatchName does; ``image`` matches an image event's
    actor or a container event's image."""
    attributes = dict(event.attributes)

    def fuzzy(key: str, *sources: str) -> bool:
        wanted = filters.get(key)
        return not wanted or any(source and (source == value or source.startswith(value))
                                 for value in wanted for source in sources)

    def exact(key: str, source: str) -> bool:
        wanted = filters.get(key)
        return not wanted or source in wanted

    name = attributes.get("name", "")
    labels = [f"{k}={v}" for k, v in event.attributes] + [k for k, _ in event.attributes]
    image = attributes.get("image", "") if event.type == "container" else event.actor
    return (exact("type", event.type)
            and (not filters.get("event") or event.action in filters["event"]
                 or event.action.split(":", 1)[0] in filters["event"])
            and exact("scope", "local")
            and fuzzy("container", event.actor, name) and fuzzy("network", event.actor, name)
            and fuzzy("volume", event.actor, name) and fuzzy("image", image, name if event.type == "image" else "")
            and (not filters.get("label") or any(label in filters["label"] for label in labels))
            and not any(key in filters for key in ("config", "node", "plugin", "secret", "service", "daemon")))


def follow_pulls(log: EventLog, puller: Puller, now: Callable[[], float],
                 labels: Callable[[ImageInfo], dict[str, str]]) -> None:
    """Log an ``image pull`` event as each of the daemon's pulls ends, a ``docker pull``'s or a legacy build's
    base's alike: moby daemon/internal/distribution/pull.go logs it in ``Pull``, the actor the familiar
    reference, ``name`` the familiar repository, with the image's labels (daemon/images/image_events.go)."""
    def pulled(job: int, image: ImageInfo) -> None:
        log.add(now(), "image", "pull", familiar(image.ref), {**labels(image), "name": split_ref(image.ref)[0]})

    puller.pulled.append(pulled)


def image_events(log: EventLog, now: float, operation: str, subject: str, result: Any) -> None:
    """Image events of a finished operation (push, tag; rmi's untag and delete; a pull's are the daemon's,
    ``follow_pulls``). A push's actor is the reference and its ``name`` the repository (moby
    daemon/internal/distribution/push.go); a tag's and an untag's actor is the image's ID, named by the
    reference (moby daemon/containerd/image_tag.go, image_delete.go)."""
    if operation == "push":
        log.add(now, "image", operation, familiar(subject), {"name": split_ref(familiar(subject))[0]})
    elif operation == "tag":
        actor = image_id(result) if isinstance(result, ImageInfo) else subject
        log.add(now, "image", "tag", actor, {"name": familiar(subject)})
    elif operation == "rmi" and isinstance(result, ImageDeletion):
        for item in result.response():
            if "Untagged" in item:
                log.add(now, "image", "untag", result.image, {"name": item["Untagged"]})
        if result.deleted is not None:
            log.add(now, "image", "delete", result.deleted, {"name": result.deleted})
