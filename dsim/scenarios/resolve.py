"""From a validated Scenario to what the world is built from (a domain SimSpec): hosts expanded, image
references normalised, layers given digests and chain IDs, every cross-reference checked before time 0.
The conversion of each model to its domain value is dsim/scenarios/to_domain.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

from dsim.domain import cpu_limits
from dsim.domain.hosts import HostInfo
from dsim.domain.images import ImageInfo, LayerInfo
from dsim.domain.problems import FieldPath, ReferenceProblem
from dsim.domain.refs import HUB, chain_ids, normalise, sha256, split_ref
from dsim.domain.spec import SimSpec
from dsim.domain.topology import check_network
from dsim.domain.workloads import PLACEMENT_POLICIES, job_count
from dsim.scenarios import to_domain
from dsim.scenarios.builds import resolve_builds
from dsim.scenarios.catalog import catalog, lookup
from dsim.scenarios.compose_steps import compose_images, resolve_composes
from dsim.scenarios.model import (
    Image,
    RateLimit,
    Registry,
    Scenario,
    ServiceCall,
    Step,
    layer_uncompressed,
)
from dsim.scenarios.objects_check import check_networks
from dsim.scenarios.problems import unknown

#: Beyond these a scenario would not fit this machine's memory or time; refused before the run.
MAX_HOSTS = 100_000
MAX_JOBS = 2_000_000
MAX_FLOW_LAYERS = 10_000  # layers of one image, its ``from`` chain's included
MAX_FROM_DEPTH = 1_000  # images in one ``from`` chain
MAX_TOTAL_LAYERS = 1_000_000  # layers of all images together, each counting its ``from`` chain's
MAX_LINKS = 1_000_000  # host-to-node links network.links expands to (a group x group link is |a| x |b|)
#: service-call requests of every job's containers together (a request is a round trip and the server's work,
#: several events, so this is about as many events as MAX_JOBS jobs make)
MAX_REQUESTS = 10_000_000

#: Docker Hub as dsim's default registry: token auth (Bearer realm), anonymous pull limit of 100 manifest
#: GETs per 6 h per client address (docs/real-docker.md: Registries), blobs from a CDN (egress rarely binds).
#: One blob stream is capped at 193 MB/s (containerd#13559: 2.7 GiB from Hub to EC2 in about 15 s over one
#: connection); blob GETs redirect to the CDN, tags are multi-platform indexes (docs/distribution.md).
DOCKER_HUB = Registry(bandwidth=1.25e9 * 4, latency=0.05, auth="token", rate_limit=RateLimit(pulls=100, per=6 * 3600),
                      stream_rate=2.7 * 2**30 / 15, blob_redirect=True, multi_platform=True)


@dataclass(frozen=True, kw_only=True)
class Resolved(SimSpec):
    """What the world is built from (a SimSpec), with the scenario as written beside it for the faces
    (reports tell its story, ``dsim check`` names it); the world and its components never read it."""

    scenario: Scenario


def _registries(scenario: Scenario) -> dict[str, Registry]:
    registries = dict(scenario.registries)
    registries.setdefault(HUB, DOCKER_HUB)
    return registries


def _image_registry(ref: str, image: Image | None, registries: dict[str, Registry]) -> str:
    if image is not None and image.registry is not None:
        return image.registry
    first = ref.split("/", 1)[0]
    return first if "/" in ref and first in registries else HUB


def _resolve_images(scenario: Scenario, registries: dict[str, Registry],
                    used: dict[str, FieldPath]) -> dict[str, ImageInfo]:
    """Every declared or used image with its layers, bases first. ``from`` chains are followed iteratively
    (no recursion limit) and each image extends its base's layers and chain IDs without recomputing them,
    so the work is linear in the layers resolved; chains deeper than MAX_FROM_DEPTH, images over
    MAX_FLOW_LAYERS layers, or more than MAX_TOTAL_LAYERS layers in all are refused naming the image."""
    declared = {normalise(ref): (ref, image) for ref, image in scenario.images.items()}
    for ref, image in declared.values():
        if image.registry is not None and image.registry not in registries:
            raise ReferenceProblem(("images", ref, "registry"), unknown("registry", image.registry, registries))
    resolved: dict[str, ImageInfo] = {}
    total = 0

    def resolve(start: str, start_path: FieldPath) -> None:
        nonlocal total
        trail: list[tuple[str, FieldPath]] = []  # images waiting for their base, outermost first
        on_trail: set[str] = set()
        norm, path = start, start_path
        while True:
            if norm not in resolved:
                if norm in on_trail:
                    names = [name for name, _ in trail]
                    cycle = " -> ".join((*names[names.index(norm):], norm))
                    raise ReferenceProblem(path, f"'from' cycle: {cycle}")
                image = declared[norm][1] if norm in declared else None
                if image is not None and image.from_ is not None:
                    if len(trail) >= MAX_FROM_DEPTH:  # named at this image's own 'from'
                        raise ReferenceProblem(("images", declared[norm][0], "from"),
                                               f"'from' chain deeper than dsim's limit of {MAX_FROM_DEPTH:,} images")
                    trail.append((norm, path))
                    on_trail.add(norm)
                    norm, path = normalise(image.from_), ("images", declared[norm][0], "from")
                    continue
                if image is not None:
                    resolved[norm] = _declared_image(norm, declared[norm][0], image, registries, ())
                else:
                    resolved[norm] = _leaf_image(norm, path, declared)
                total += _counted(resolved[norm], path, total)
            if not trail:
                return
            derived, derived_path = trail.pop()
            on_trail.discard(derived)
            written, image = declared[derived]
            resolved[derived] = _declared_image(derived, written, image, registries, resolved[norm].layers)
            total += _counted(resolved[derived], ("images", written), total)
            norm, path = derived, derived_path

    for norm, (written, _) in declared.items():
        resolve(norm, ("images", written))
    for norm, path in used.items():
        resolve(norm, path)
    return resolved


def _counted(info: ImageInfo, path: FieldPath, total: int) -> int:
    """The layers of ``info`` (its base's included), refused above the limits; ``total`` so far."""
    count = len(info.layers)
    if count > MAX_FLOW_LAYERS:
        raise ReferenceProblem(path, f"{count:,} layers (with its 'from' chain's) is over dsim's limit of "
                                     f"{MAX_FLOW_LAYERS:,} per image")
    if total + count > MAX_TOTAL_LAYERS:
        raise ReferenceProblem(path, f"the images up to this one have {total + count:,} layers (each counting its "
                                     f"'from' chain's), over dsim's limit of {MAX_TOTAL_LAYERS:,}")
    return count


def _leaf_image(norm: str, path: FieldPath, declared: dict[str, tuple[str, Image]]) -> ImageInfo:
    """An image from the built-in catalog."""
    built_in = lookup(norm)
    if built_in is None:
        known = sorted({*(r for r, _ in declared.values()), *catalog()})
        raise ReferenceProblem(path, f"unknown image '{norm}' (define it under images:, or use one of: "
                                     f"{', '.join(known)})")
    repo, tag = split_ref(norm)
    digests = [layer.digest for layer in built_in.layers]
    layers = tuple(
        LayerInfo(i, layer.digest, chain, layer.size, layer.uncompressed)
        for i, (layer, chain) in enumerate(zip(built_in.layers, chain_ids(digests), strict=True))
    )
    return ImageInfo(norm, HUB, repo, tag, layers, "gzip", built_in.manifest_digest)


def _declared_image(norm: str, written: str, image: Image, registries: dict[str, Registry],
                    base_layers: tuple[LayerInfo, ...]) -> ImageInfo:
    """A declared image: its base's layers (same digests and chain IDs), then its own."""
    own = [sha256(f"{norm}\x00{i}\x00{layer.size}") for i, layer in enumerate(image.layers)]
    chains = [layer.chain_id for layer in base_layers]
    for digest in own:  # chain_ids continued from the base's last (dsim.domain.refs.chain_ids)
        chains.append(digest if not chains else sha256(f"{chains[-1]} {digest}"))
    layers = list(base_layers)
    for i, layer in enumerate(image.layers):
        index = len(base_layers) + i
        uncompressed = layer_uncompressed(layer, image.compression)
        files = None if layer.files is None else float(layer.files)
        layers.append(LayerInfo(index, own[i], chains[index], layer.size, uncompressed, files=files))
    repo, tag = split_ref(norm)
    registry = _image_registry(written, image, registries)
    return ImageInfo(norm, registry, repo, tag, tuple(layers), image.compression, sha256(f"manifest {norm} {chains}"),
                     lazy=image.lazy, prefetch=image.prefetch)


def _expand_hosts(scenario: Scenario) -> tuple[tuple[HostInfo, ...], dict[str, tuple[str, ...]]]:
    total = sum(group.count for group in scenario.hosts.values())
    if total > MAX_HOSTS:
        raise ReferenceProblem(("hosts",), f"{total} hosts is over dsim's limit of {MAX_HOSTS:,} per scenario")
    hosts: list[HostInfo] = []
    groups: dict[str, tuple[str, ...]] = {}
    for group, spec in scenario.hosts.items():
        names = (group,) if spec.count == 1 else tuple(f"{group}-{i}" for i in range(1, spec.count + 1))
        groups[group] = names
        converted = to_domain.host_spec(spec)
        hosts.extend(HostInfo(name, group, converted) for name in names)
    seen: set[str] = set()
    for host in hosts:
        if host.name in seen or host.name in scenario.registries:
            raise ReferenceProblem(("hosts", host.group), f"host name '{host.name}' is used twice")
        seen.add(host.name)
    return tuple(hosts), groups


def step_image(step: Step) -> str | None:
    """The image a step names, if any."""
    if step.pull is not None:
        return step.pull
    if step.run is not None:
        return step.run.image
    if step.create is not None:
        return step.create.image
    return None


def _used_images(scenario: Scenario) -> dict[str, FieldPath]:
    """Every image a host preloads or a step names, with where it was written."""
    used: dict[str, FieldPath] = {}
    for group, spec in scenario.hosts.items():
        for i, ref in enumerate(spec.preloaded):
            used.setdefault(normalise(ref), ("hosts", group, "preloaded", i))
    # an image a step pushes may be pulled by another job once pushed: it comes from that registry then
    declared = {normalise(ref) for ref in scenario.images}
    pushed = {normalise(step.push) for workload in scenario.workloads.values() for step in workload.steps
              if step.push is not None}
    for name, workload in scenario.workloads.items():
        for i, step in enumerate(workload.steps):
            image = step_image(step)
            if image is not None:
                norm = normalise(image)
                if norm in pushed and norm not in declared and lookup(norm) is None:
                    continue
                used.setdefault(norm, ("workloads", name, "steps", i, step.kind))
    return used


def _check_workloads(
    scenario: Scenario, hosts: tuple[HostInfo, ...], groups: dict[str, tuple[str, ...]]
) -> dict[str, int]:
    names = {host.name for host in hosts}
    counts: dict[str, int] = {}
    for name, workload in scenario.workloads.items():
        placement = workload.placement
        if placement not in PLACEMENT_POLICIES and placement not in groups and placement not in names:
            choices = (*PLACEMENT_POLICIES, *groups, *(h.name for h in hosts if h.name not in groups))
            raise ReferenceProblem(("workloads", name, "placement"), unknown("placement", placement, choices))
        counts[name] = job_count(to_domain.arrival(workload.arrival))
    total = sum(counts.values())
    if total > MAX_JOBS:
        raise ReferenceProblem(("workloads",), f"{total:,} jobs is over dsim's limit of {MAX_JOBS:,} per scenario")
    return counts


def _requests(calls: Iterable[ServiceCall]) -> int:
    """Requests ``calls`` make: each call's, and for each request it makes, the server's own calls."""
    return sum(call.requests * (1 + _requests(call.calls)) for call in calls)


def _check_requests(scenario: Scenario, counts: dict[str, int]) -> None:
    """At most MAX_REQUESTS service-call requests by the containers the workloads' steps run, in all."""
    total = 0
    for name, workload in scenario.workloads.items():
        for index, step in enumerate(workload.steps):
            for key, spec in (("run", step.run), ("create", step.create)):
                if spec is not None and spec.calls:
                    total += _requests(spec.calls) * counts[name]
                    if total > MAX_REQUESTS:
                        raise ReferenceProblem(("workloads", name, "steps", index, key, "calls"),
                                               f"{total:,} service-call requests is over dsim's limit of "
                                               f"{MAX_REQUESTS:,} per scenario (requests x nested calls x jobs)")


def _check_links(scenario: Scenario, registries: dict[str, Registry], groups: dict[str, tuple[str, ...]]) -> None:
    """No self-links, and at most MAX_LINKS node-to-node links in all, counted before any is built."""
    if scenario.network is None:
        return
    total = 0
    for i, link in enumerate(scenario.network.links):
        if link.a == link.b:
            raise ReferenceProblem(("network", "links", i), f"a link joins '{link.a}' to itself")
        total += len(groups.get(link.a, (link.a,))) * len(groups.get(link.b, (link.b,)))
        if total > MAX_LINKS:
            raise ReferenceProblem(("network", "links", i), f"the links up to this one expand to {total:,} "
                                                            f"host links, over dsim's limit of {MAX_LINKS:,}")


def _check_distribution(scenario: Scenario, registries: dict[str, Registry]) -> set[str]:
    """Pull-through caches, registry mirrors and push targets; returns the registries they need."""
    needed: set[str] = set()
    ends: set[str] = set()  # registries whose upstream chain is known to end: each chain is walked once
    for name, registry in scenario.registries.items():
        if registry.upstream is None:
            continue
        if registry.upstream not in registries:
            raise ReferenceProblem(("registries", name, "upstream"),
                                   unknown("registry", registry.upstream, registries))
        seen = {name: None}
        upstream: str | None = registry.upstream
        while upstream is not None and upstream not in ends:
            if upstream in seen:
                raise ReferenceProblem(("registries", name, "upstream"),
                                       f"upstream cycle: {' -> '.join((*seen, upstream))}")
            seen[upstream] = None
            upstream = registries[upstream].upstream
        ends.update(seen)
        needed.add(registry.upstream)
    for group, spec in scenario.hosts.items():
        for i, mirror in enumerate(spec.daemon.registry_mirrors):
            path = ("hosts", group, "daemon", "registry_mirrors", i)
            if mirror not in registries:
                raise ReferenceProblem(path, unknown("registry", mirror, registries))
            upstream = registries[mirror].upstream
            if upstream is None:
                raise ReferenceProblem(path, f"registry mirror '{mirror}' is not a pull-through cache (give it "
                                             f"upstream: {HUB})")
            if upstream != HUB:
                raise ReferenceProblem(path, f"registry mirror '{mirror}' caches '{upstream}', but dockerd applies "
                                             f"registry-mirrors to Docker Hub ('{HUB}') only")
            needed.add(HUB)
    declared = {normalise(ref) for ref in scenario.images}
    for workload in scenario.workloads.values():
        for step in workload.steps:
            if step.push is not None:
                first = step.push.split("/", 1)[0]
                if not ("/" in step.push and first in registries) and normalise(step.push) not in declared:
                    needed.add(HUB)
    return needed


def _check_preloaded_fit(scenario: Scenario, images: dict[str, ImageInfo]) -> None:
    """Preloaded images (unpacked layers, and their blobs where the store keeps them: not moby's graphdriver
    store, dsim/components/image_store.py; shared layers once) must fit on the host's disk."""
    for group, spec in scenario.hosts.items():
        blobs: dict[str, float] = {}
        chains: dict[str, float] = {}
        for ref in spec.preloaded:
            for layer in images[normalise(ref)].layers:
                blobs[layer.digest] = layer.size
                chains[layer.chain_id] = layer.uncompressed
        used = sum(chains.values()) + (sum(blobs.values()) if spec.daemon.image_store == "containerd" else 0.0)
        if used > spec.disk:
            raise ReferenceProblem(("hosts", group, "preloaded"),
                                   f"preloaded images do not fit on the disk: {used:,.0f} B > {spec.disk:,.0f} B")


def _placement_cores(scenario: Scenario, hosts: tuple[HostInfo, ...],
                     groups: dict[str, tuple[str, ...]]) -> dict[str, int]:
    """Each workload -> the CPUs dockerd counts on the smallest host its placement may pick (a group's hosts, a
    host, or any host for a policy): a compose service's cpuset must be among them there."""
    out: dict[str, int] = {}
    for name, workload in scenario.workloads.items():
        placement = workload.placement
        picked = groups.get(placement) or tuple(h.name for h in hosts if h.name == placement)
        candidates = [h for h in hosts if not picked or h.name in picked]
        if candidates:
            out[name] = min(cpu_limits.host_cores(h.spec.cpus) for h in candidates)
    return out


def resolve(scenario: Scenario, *, base_dir: str | PathLike[str] | None = None) -> Resolved:
    """Check every reference and expand the scenario; raises ReferenceProblem naming the field path.

    ``base_dir`` is where a build step's ``dockerfile`` path is relative to (the scenario file's folder)."""
    registries = _registries(scenario)
    hosts, groups = _expand_hosts(scenario)
    counts = _check_workloads(scenario, hosts, groups)
    _check_requests(scenario, counts)
    check_networks(scenario, hosts)  # objects_check.py: networks named by run/create steps
    _check_links(scenario, registries, groups)
    needed = _check_distribution(scenario, registries)
    builds = resolve_builds(scenario, None if base_dir is None else Path(base_dir), [h.name for h in hosts])
    needed |= builds.registries
    composes = resolve_composes(scenario, None if base_dir is None else Path(base_dir),  # compose_steps.py
                                _placement_cores(scenario, hosts, groups))
    used = {**compose_images(composes), **builds.used_images(_used_images(scenario), scenario)}
    images = _resolve_images(scenario, registries, used)
    if HUB not in scenario.registries and HUB not in needed and all(image.registry != HUB for image in images.values()):
        del registries[HUB]  # the default Docker Hub only appears when something comes from it
    _check_preloaded_fit(scenario, images)
    resolved = Resolved(
        name=scenario.name, seed=scenario.seed, until=scenario.until,
        registries={name: to_domain.registry_spec(registry) for name, registry in registries.items()},
        images=images, hosts=hosts, groups=groups, job_counts=counts,
        workloads={name: to_domain.workload(name, workload, builds.specs, composes)
                   for name, workload in scenario.workloads.items()},
        builds=builds.specs,
        contexts={name: to_domain.build_context(context) for name, context in scenario.contexts.items()},
        links=to_domain.links(scenario.network), scenario=scenario,
    )
    check_network(resolved)  # a host that cannot reach its registry: refused by validate as by run
    return resolved
