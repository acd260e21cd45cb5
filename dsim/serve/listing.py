"""``GET /containers/json`` and ``GET /images/json`` with their parameters, as dockerd 28 answers them.

Containers follow moby's ``daemon/list.go``: the list is newest first; ``id``/``name`` pick candidates
(a unique ID prefix; a regular expression found in the name, with or without its ``/``); ``before`` and
``since`` cut the list at a container given by full ID or name; stopped containers show only with
``all``, a ``status`` filter or a ``limit``; then ``label``, ``limit``, ``exited``, ``status``, ``health``,
``volume`` (a mount's volume name, bind source or destination), ``ancestor`` (the image and every image
built on it), ``network`` (a network's name, or a prefix of its ID, the container is configured on),
``publish``/``expose`` and ``is-task``. ``isolation`` is accepted and, as on every Linux daemon, matches everything.

Images follow the containerd image store (``daemon/containerd/image_list.go``): each tag is matched on its
own (``reference`` is Go's ``path.Match`` on the familiar ``name:tag`` or name, ``dangling``, ``label``,
``label!``, ``before``/``since`` compare creation times); an image lists the tags that matched; newest
first. ``until`` is a filter dockerd knows that dsim does not simulate (it compares the time each tag was
created in the store, which the model does not keep): it is refused with a 501 rather than ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dsim.components.container import RESTARTING, RUNNING
from dsim.components.errors import ApiError
from dsim.domain.images import ImageInfo
from dsim.serve import filters as flt
from dsim.serve import images as refs
from dsim.serve import objects

if TYPE_CHECKING:
    from dsim.serve.engine import Engine, Served

#: moby's ``acceptedPsFilterTags``
CONTAINER_FILTERS = frozenset({"ancestor", "before", "exited", "id", "isolation", "label", "name", "status", "health",
                               "since", "volume", "network", "is-task", "publish", "expose"})
#: moby's ``acceptedImageFilterTags`` (containerd image store)
IMAGE_FILTERS = frozenset({"dangling", "label", "label!", "before", "since", "reference", "until"})
#: ``container.ValidateContainerState``, in moby's order
STATES = ("created", "running", "paused", "restarting", "removing", "exited", "dead")
#: ``container.IsValidHealthString``
HEALTH = ("starting", "healthy", "unhealthy", "none")


@dataclass(frozen=True)
class ContainerQuery:
    """The parameters of ``GET /containers/json``, checked before the model is asked."""

    all: bool
    limit: int
    size: bool
    filters: flt.Filters
    exited: frozenset[int]
    publish: frozenset[tuple[int, str]]
    expose: frozenset[tuple[int, str]]


def _filters(query: dict[str, list[str]]) -> flt.Filters:
    """The last ``filters`` parameter, parsed (an absent one is no filter)."""
    return flt.parse((query.get("filters") or [""])[-1])


def _limit(query: dict[str, list[str]]) -> int:
    """``limit`` as dockerd's router reads it (``strconv.Atoi``); absent is no limit."""
    raw = (query.get("limit") or [""])[-1]
    if not raw:
        return -1
    value = flt.go_atoi(raw)
    if value is None:
        raise ApiError(400, f'strconv.Atoi: parsing "{raw}": invalid syntax')
    return value


def _exit_codes(filters: flt.Filters) -> frozenset[int]:
    """``exited`` values as integers (``strconv.Atoi``); one that is not is dockerd's 400."""
    codes: set[int] = set()
    for value in filters.get("exited", []):
        code = flt.go_atoi(value)
        if code is None:
            raise ApiError(400, f"invalid filter 'exited={value}': strconv.Atoi: parsing \"{value}\": invalid syntax")
        codes.add(code)
    return frozenset(codes)


def _ports(filters: flt.Filters, key: str) -> frozenset[tuple[int, str]]:
    """``publish``/``expose`` values: ``port[/proto]`` or ``start-end[/proto]`` (tcp by default), no ``:``."""
    ports: set[tuple[int, str]] = set()
    for value in filters.get(key, []):
        if ":" in value:
            raise ApiError(400, f"filter for '{key}' should not contain ':': {value}")
        port, _, proto = value.partition("/")
        start, _, end = port.partition("-")
        for text in (start, end or start):
            if not re.fullmatch(r"[0-9]+", text) or int(text) > 65535:
                raise ApiError(400, f"error while looking up for {key} {value}: invalid port: {text or port}")
        ports.update((number, proto or "tcp") for number in range(int(start), int(end or start) + 1))
    return frozenset(ports)


def _check_values(filters: flt.Filters) -> None:
    """Values dockerd refuses before listing: an unknown state, health or ``is-task``."""
    for value in filters.get("status", []):
        if value not in STATES:
            raise ApiError(400, f"invalid filter 'status={value}': invalid value for state ({value}): must be one "
                                f"of {', '.join(STATES)}")
    for value in filters.get("health", []):
        if value not in HEALTH:
            raise ApiError(400, f"Unrecognised filter value for health: {value}")
    task = filters.get("is-task")
    if task is not None and task not in (["true"], ["false"]):
        raise flt.invalid("is-task", flt.go_list(task))


def container_query(query: dict[str, list[str]]) -> ContainerQuery:
    """Parse and check ``all``, ``limit``, ``size`` and ``filters``; errors are dockerd's 400s."""
    filters = _filters(query)
    flt.validate(filters, CONTAINER_FILTERS)
    exited = _exit_codes(filters)
    _check_values(filters)
    return ContainerQuery(all=flt.query_flag(query, "all") or "status" in filters, limit=_limit(query),
                          size=flt.query_flag(query, "size"), filters=filters, exited=exited,
                          publish=_ports(filters, "publish"), expose=_ports(filters, "expose"))


# ---------------------------------------------------------------------------------------------- containers


def _by_id_or_name(engine: Engine, value: str) -> Served:
    """``before``/``since``: a full container ID or a name (dockerd takes no ID prefix here)."""
    if value in engine.containers:
        return engine.containers[value]
    name = value.removeprefix("/")
    for served in engine.containers.values():
        if served.name == name:
            return served
    raise ApiError(404, f"No such container: {value}")


def _id_or_name_match(engine: Engine, served: Served, filters: flt.Filters) -> bool:
    """``id``: the container a value is the unique prefix of; ``name``: a value found in the name."""
    ids = filters.get("id", [])
    if ids:
        unique = [[cid for cid in engine.containers if cid.startswith(value)] for value in ids]
        if not any(found == [served.id] for found in unique):
            return False
    return flt.match(filters, "name", f"/{served.name}") or flt.match(filters, "name", served.name)


def _ancestors(engine: Engine, filters: flt.Filters) -> set[str] | None:
    """Image IDs the ``ancestor`` values stand for: each image and every local image built on it (its layers
    continue the ancestor's). None without the filter; an unknown image adds nothing (dockerd logs it)."""
    values = filters.get("ancestor")
    if values is None:
        return None
    chosen: set[str] = set()
    local = list(engine.local_images().values())
    for value in values:
        image = engine.find_image(value)
        if image is None:
            continue
        chosen.add(refs.image_id(image))
        chains = [layer.chain_id for layer in image.layers]
        chosen.update(refs.image_id(other) for other in local
                      if len(other.layers) > len(chains) and [x.chain_id for x in other.layers[:len(chains)]] == chains)
    return chosen


def _running(served: Served) -> bool:
    """Running as ``docker ps`` counts it: a restarting container is still running (moby's State.Running)."""
    return served.container.state in (RUNNING, RESTARTING)


def _exited_ok(served: Served, codes: frozenset[int]) -> bool:
    """``exited=N``: stopped after having run, with exit code N."""
    container = served.container
    return (not codes or (not _running(served) and container.started_at is not None
                          and (container.exit_code or 0) in codes))


def _ports_ok(engine: Engine, served: Served, q: ContainerQuery) -> bool:
    """``publish`` matches a published host port, ``expose`` a container port (either passes)."""
    if not q.publish and not q.expose:
        return True
    for port in engine.ports(served):
        if (port.get("PublicPort"), port["Type"]) in q.publish or (port["PrivatePort"], port["Type"]) in q.expose:
            return True
    return False


def _volume_ok(engine: Engine, served: Served, values: list[str] | None) -> bool:
    """``volume``: a value names one of the container's mounts by its volume name (a bind: its source) or by
    its destination (moby ``daemon/list.go``: ``volumesByName``, ``volumesByDestination``)."""
    if not values:
        return True
    mounts = objects.container_mounts(engine.daemon, served.container)
    keys = {m.get("Name") or m["Source"] for m in mounts} | {m["Destination"] for m in mounts}
    return any(value in keys for value in values)


def _network_ok(engine: Engine, served: Served, values: list[str] | None) -> bool:
    """``network``: a value is the name of a network the container is configured on (running or not), or a
    prefix of its ID (moby ``daemon/list.go``)."""
    if not values:
        return True
    networks = objects.container_networks(engine.daemon, served.container)
    return any(value in networks or any(n["NetworkID"].startswith(value) for n in networks.values())
               for value in values)


def _attributes_ok(engine: Engine, served: Served, q: ContainerQuery, ancestors: set[str] | None) -> bool:
    """The filters that look at the container itself, after the list was cut and limited."""
    f = q.filters
    return (_exited_ok(served, q.exited)
            and flt.match(f, "status", engine.state_of(served))
            and (not f.get("health") or (served.container.health_status or "none") in f["health"])
            and _volume_ok(engine, served, f.get("volume"))
            and (ancestors is None or refs.image_id(served.image) in ancestors)
            and _network_ok(engine, served, f.get("network"))
            and _ports_ok(engine, served, q)
            and f.get("is-task") != ["true"])  # no container is a swarm task


def _size(engine: Engine, served: Served) -> dict[str, int]:
    """``size=1``: the writable layer's bytes (what the run wrote and copied up) and the whole root fs."""
    spec = served.container.spec
    written = int(spec.writes + spec.copy_up) if served.container.layer_written else 0
    image = int(sum(layer.uncompressed for layer in served.image.layers))
    return {"SizeRw": written, "SizeRootFs": image + written}


def list_containers(engine: Engine, q: ContainerQuery) -> list[dict[str, Any]]:
    """The ContainerSummary list dockerd's ``reduceContainers`` returns for ``q``."""
    engine.sync()
    f = q.filters
    before = [_by_id_or_name(engine, v) for v in f.get("before", [])][-1:]
    since = [_by_id_or_name(engine, v) for v in f.get("since", [])][-1:]
    ancestors = _ancestors(engine, f)
    candidates = [s for s in reversed(engine.containers.values()) if _id_or_name_match(engine, s, f)]
    listed: list[dict[str, Any]] = []
    for served in candidates:
        if before:
            if served is before[0]:
                before.clear()
            continue
        if since and served is since[0]:
            break
        if not _running(served) and not q.all and q.limit <= 0:
            continue
        if not flt.match_kv_list(f, "label", served.config.get("Labels") or {}):
            continue
        if 0 < q.limit == len(listed):
            break
        if _attributes_ok(engine, served, q, ancestors):
            listed.append(engine.summary(served) | (_size(engine, served) if q.size else {}))
    return listed


# ---------------------------------------------------------------------------------------------- images


def image_filters(query: dict[str, list[str]]) -> flt.Filters:
    """Parse and check ``filters`` of ``GET /images/json`` (``dangling`` must be a boolean)."""
    filters = _filters(query)
    flt.validate(filters, IMAGE_FILTERS)
    if "until" in filters:
        raise ApiError(501, "dsim serve does not simulate the 'until' filter of docker images (the model does not "
                            "keep when each tag was created)")
    flt.bool_or_default(filters, "dangling", False)
    return filters


def _label_holds(labels: dict[str, str], name: str, wanted: str | None, negate: bool) -> bool:
    """One label check of the containerd image store: ``k`` present (``wanted`` None) or ``k`` equal to
    ``wanted``; ``negate`` turns it into "absent" / "absent or different"."""
    if wanted is None:
        return (name in labels) != negate
    return name in labels and (labels[name] == wanted) != negate


def _label_ok(filters: flt.Filters, labels: dict[str, str]) -> bool:
    """``label=k``/``label=k=v`` must hold, ``label!=...`` must not; a key written ``k!`` flips either."""
    for key in ("label", "label!"):
        for value in filters.get(key, []):
            name, has_value, wanted = value.partition("=")
            negate = (key == "label!") != name.endswith("!")
            if not _label_holds(labels, name.removesuffix("!"), wanted if has_value else None, negate):
                return False
    return True


def _created_bounds(engine: Engine, filters: flt.Filters) -> list[tuple[float, int]]:
    """``before``/``since`` as (creation time, sign): an image must be created strictly before/after it."""
    bounds: list[tuple[float, int]] = []
    for key, sign in (("before", -1), ("since", 1)):
        for value in filters.get(key, []):
            image = engine.find_image(value)
            if image is None:
                raise ApiError(404, f"No such image: {value}")
            bounds.append((engine.created(image), sign))
    return bounds


def _tag_ok(engine: Engine, image: ImageInfo, filters: flt.Filters, bounds: list[tuple[float, int]],
            tagged: bool) -> bool:
    """One reference against the filters; labels are the config's. ``dangling`` as the graphdriver store's
    image list has it (moby daemon/images/image_list.go): ``true`` keeps the images without a tag (an untagged
    build's ``<none>``, and an image pulled by digest only), ``false`` those with any reference (a tag or a
    digest), so an image known by its digest alone is listed by both."""
    created = engine.created(image)
    unnamed = image.ref.startswith("<none>")
    dangling = flt.bool_or_default(filters, "dangling", False) if "dangling" in filters else None
    return (all((created - at) * sign > 0 for at, sign in bounds)
            and (dangling is None or (not tagged if dangling else not unnamed))
            and _label_ok(filters, dict(refs.config_for(engine.image_configs, image).labels))
            and (not filters.get("reference")
                 or any(flt.familiar_match(p, refs.familiar(image.ref)) for p in filters["reference"])))


def list_images(engine: Engine, filters: flt.Filters) -> list[dict[str, Any]]:
    """The ImageSummary list: tags that pass, grouped by image ID, newest image first."""
    bounds = _created_bounds(engine, filters)
    by_id: dict[str, list[ImageInfo]] = {}
    local = engine.local_images().values()
    tagged = {refs.image_id(image) for image in local if "@" not in image.ref and not image.ref.startswith("<none>")}
    for image in local:
        if _tag_ok(engine, image, filters, bounds, refs.image_id(image) in tagged):
            by_id.setdefault(refs.image_id(image), []).append(image)
    summaries = [engine.image_summary(image_id, tags) for image_id, tags in by_id.items()]
    return sorted(summaries, key=lambda s: -s["Created"])

