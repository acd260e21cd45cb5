"""events.py: the daemon's event log (dockerd keeps the last 256 for replay) and moby's events filter."""

from __future__ import annotations

import pytest

from dsim.components.errors import ApiError
from dsim.serve.events import EVENTS_KEPT, EventLog, image_events, matches, message, parse_filters
from dsim.serve.streams import OpenAttaches


def test_the_log_keeps_the_last_256_for_replay_and_readers_never_miss_new_ones() -> None:
    log = EventLog()
    for i in range(600):
        log.add(float(i), "container", "start", f"id{i}", {"name": f"c{i}"})
    assert log.count == 600
    replay = log.since(0)  # since: the past that is kept, the last EVENTS_KEPT (moby's eventsLimit)
    assert len(replay) == EVENTS_KEPT == 256 and replay[-1].actor == "id599" and replay[0].actor == "id344"
    position = log.count
    log.add(600.0, "container", "die", "id600", {"name": "c600", "exitCode": "3"})
    assert [event.actor for event in log.since(position)] == ["id600"]


def test_moby_filter_semantics() -> None:
    log = EventLog()
    log.add(1.0, "container", "die", "abcdef123", {"name": "web", "image": "nginx", "exitCode": "0"})
    log.add(2.0, "network", "connect", "netid", {"name": "bridge", "container": "abcdef123", "type": "bridge"})
    log.add(3.0, "image", "pull", "nginx:latest", {"name": "nginx"})
    die, connect, pull = log.events
    # container=: the actor's ID (or a prefix) or its name, whatever the event's type
    assert matches(die, parse_filters('{"container": {"web": true}}'))
    assert matches(die, parse_filters('{"container": ["abc"]}'))
    assert not matches(connect, parse_filters('{"container": ["web"]}'))
    # image=: a container event's image or an image event's actor
    assert matches(die, parse_filters('{"image": ["nginx"]}')) and matches(pull, parse_filters('{"image": ["nginx"]}'))
    # values of one key are alternatives; different keys must all hold
    assert matches(die, parse_filters('{"event": ["start", "die"], "type": ["container"]}'))
    assert not matches(die, parse_filters('{"event": ["die"], "type": ["image"]}'))
    with pytest.raises(ApiError) as raised:
        parse_filters('{"colour": ["red"]}')
    assert str(raised.value) == "invalid filter 'colour'"


def test_message_shape() -> None:
    log = EventLog()
    log.add(2.0, "container", "die", "abc", {"name": "web", "image": "nginx", "exitCode": "0"})
    shown = message(log.events[0], lambda at: 1_700_000_000 + at)
    assert shown["time"] == 1_700_000_002 and shown["timeNano"] == 1_700_000_002_000_000_000
    assert (shown["Type"], shown["Action"], shown["status"], shown["from"]) == ("container", "die", "die", "nginx")
    assert shown["Actor"] == {"ID": "abc", "Attributes": {"exitCode": "0", "image": "nginx", "name": "web"}}


def test_a_container_drains_while_any_of_its_attach_streams_is_open() -> None:
    """dockerd logs ``die`` after the attached streams drain: the events stream holds it while one is open."""
    attaches = OpenAttaches()
    assert not attaches.draining("abc")
    with attaches.streaming("abc"):
        with attaches.streaming("abc"):
            assert attaches.draining("abc") and not attaches.draining("def")
        assert attaches.draining("abc")  # one of two still open
    assert not attaches.draining("abc")


def test_image_events_name_the_image_by_its_id_for_tag_and_untag() -> None:
    """moby's LogImageEvent(image digest, familiar name) for tag and untag (daemon/containerd/image_tag.go,
    image_delete.go): `docker events --filter image=ID` finds them. The actor was the reference before."""
    from dsim.components.daemon_api import ImageDeletion
    from dsim.domain.images import ImageInfo
    from dsim.serve.events import image_events

    image = ImageInfo("alpine:latest", "hub", "alpine", "latest", (), "gzip", "sha256:" + "d" * 64)
    log = EventLog()
    image_events(log, 1.0, "tag", "docker.io/library/myalp:1", image)
    image_events(log, 2.0, "rmi", "myalp:1", ImageDeletion(("myalp:1",), None, (), image.manifest_digest))
    image_events(log, 3.0, "rmi", "alpine", ImageDeletion(("alpine:latest",), image.manifest_digest, ("sha256:c",),
                                                          image.manifest_digest))
    shown = [(e.action, e.actor, dict(e.attributes)["name"]) for e in log.since(0)]
    assert shown == [("tag", image.manifest_digest, "myalp:1"), ("untag", image.manifest_digest, "myalp:1"),
                     ("untag", image.manifest_digest, "alpine:latest"),
                     ("delete", image.manifest_digest, image.manifest_digest)]


def test_a_push_event_names_the_repository() -> None:
    """moby daemon/internal/distribution/push.go: the actor is the familiar reference, ``name`` the familiar
    repository (``FamiliarName``), not the reference again."""
    log = EventLog()
    image_events(log, 1.0, "push", "alice/app:1", None)
    image_events(log, 2.0, "push", "localhost:5000/demo:latest", None)
    assert [(event.actor, dict(event.attributes)["name"]) for event in log.events] == [
        ("alice/app:1", "alice/app"), ("localhost:5000/demo:latest", "localhost:5000/demo")]
