"""From a validated Scenario to what the world is built from (a domain SimSpec): hosts expanded, image
references normalised, layers given digests and chain IDs, every cross-reference checked before time 0.
The conversion of each model to its domain value is dsim/scenarios/to_domain.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from os import PathLike
from pathlib import Path

from dsim.domain.hosts import HostInfo
from dsim.domain.images import ImageInfo, LayerInfo
from dsim.domain.problems import FieldPath, ReferenceProblem
from dsim.domain.refs import HUB, chain_ids, normalise, sha256, split_ref
from dsim.domain.spec import SimSpec
from dsim.domain.workloads import PLACEMENT_POLICIES, job_count
from dsim.scenarios import to_domain
from dsim.scenarios.builds import resolve_builds
from dsim.scenarios.catalog import catalog, lookup
from dsim.scenarios.model import (
    Image,
    RateLimit,
    Registry,
    Scenario,
    Step,
    layer_uncompressed,
)
from dsim.scenarios.problems import unknown

#: Beyond these a scenario would not fit this machine's memory or time; refused before the run.
MAX_HOSTS = 100_000
MAX_JOBS = 2_000_000
MAX_FLOW_LAYERS = 10_000

#: Docker Hub as dsim's default registry: token auth (Bearer realm), anonymous pull limit of 100 manifest
#: GETs per 6 h per client address (docs/docker-facts.md: Registries), blobs from a CDN (egress rarely binds).
DOCKER_HUB = Registry(bandwidth=1.25e9 * 4, latency=0.05, auth="token", rate_limit=RateLimit(pulls=100, per=6 * 3600))


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
    declared = {normalise(ref): (ref, image) for ref, image in scenario.images.items()}
    for ref, image in declared.values():
        if image.registry is not None and image.registry not in registries:
            raise ReferenceProblem(("images", ref, "registry"), unknown("registry", image.registry, registries))
    resolved: dict[str, ImageInfo] = {}

    def resolve(norm: str, path: FieldPath, trail: tuple[str, ...]) -> ImageInfo:
        if norm in resolved:
            return resolved[norm]
        if norm in trail:
            cycle = " -> ".join((*trail[trail.index(norm):], norm))
            raise ReferenceProblem(path, f"'from' cycle: {cycle}")
        if norm in declared:
            written, image = declared[norm]
            info = _declared_image(norm, written, image, registries, resolve, trail)
        else:
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
            info = ImageInfo(norm, HUB, repo, tag, layers, "gzip", built_in.manifest_digest)
        resolved[norm] = info
        return info

    for norm, (written, _) in declared.items():
        resolve(norm, ("images", written), ())
    for norm, path in used.items():
        resolve(norm, path, ())
    return resolved


def _declared_image(norm, written, image, registries, resolve, trail) -> ImageInfo:  # type: ignore[no-untyped-def]
    base_layers: tuple[LayerInfo, ...] = ()
    if image.from_ is not None:
        base_layers = resolve(normalise(image.from_), ("images", written, "from"), (*trail, norm)).layers
    own = [sha256(f"{norm}\x00{i}\x00{layer.size}") for i, layer in enumerate(image.layers)]
    digests = [layer.digest for layer in base_layers] + own
    chains = chain_ids(digests)
    layers = list(base_layers)
    for i, layer in enumerate(image.layers):
        index = len(base_layers) + i
        uncompressed = layer_uncompressed(layer, image.compression)
        layers.append(LayerInfo(index, own[i], chains[index], layer.size, uncompressed))
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


def _check_links(scenario: Scenario, registries: dict[str, Registry], groups: dict[str, tuple[str, ...]]) -> None:
    if scenario.network is None:
        return
    for i, link in enumerate(scenario.network.links):
        if link.a == link.b:
            raise ReferenceProblem(("network", "links", i), f"a link joins '{link.a}' to itself")


def _check_distribution(scenario: Scenario, registries: dict[str, Registry]) -> set[str]:
    """Pull-through caches, registry mirrors and push targets; returns the registries they need."""
    needed: set[str] = set()
    for name, registry in scenario.registries.items():
        if registry.upstream is None:
            continue
        if registry.upstream not in registries:
            raise ReferenceProblem(("registries", name, "upstream"),
                                   unknown("registry", registry.upstream, registries))
        seen = [name]
        upstream: str | None = registry.upstream
        while upstream is not None:
            if upstream in seen:
                raise ReferenceProblem(("registries", name, "upstream"),
                                       f"upstream cycle: {' -> '.join((*seen, upstream))}")
            seen.append(upstream)
            upstream = registries[upstream].upstream
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
    """Preloaded images (blobs plus unpacked layers, shared layers once) must fit on the host's disk."""
    for group, spec in scenario.hosts.items():
        blobs: dict[str, float] = {}
        chains: dict[str, float] = {}
        for ref in spec.preloaded:
            for layer in images[normalise(ref)].layers:
                blobs[layer.digest] = layer.size
                chains[layer.chain_id] = layer.uncompressed
        used = sum(blobs.values()) + sum(chains.values())
        if used > spec.disk:
            raise ReferenceProblem(("hosts", group, "preloaded"),
                                   f"preloaded images do not fit on the disk: {used:,.0f} B > {spec.disk:,.0f} B")


def resolve(scenario: Scenario, *, base_dir: str | PathLike[str] | None = None) -> Resolved:
    """Check every reference and expand the scenario; raises ReferenceProblem naming the field path.

    ``base_dir`` is where a build step's ``dockerfile`` path is relative to (the scenario file's folder)."""
    registries = _registries(scenario)
    hosts, groups = _expand_hosts(scenario)
    counts = _check_workloads(scenario, hosts, groups)
    _check_links(scenario, registries, groups)
    needed = _check_distribution(scenario, registries)
    builds = resolve_builds(scenario, None if base_dir is None else Path(base_dir), [h.name for h in hosts])
    needed |= builds.registries
    images = _resolve_images(scenario, registries, builds.used_images(_used_images(scenario), scenario))
    if HUB not in scenario.registries and HUB not in needed and all(image.registry != HUB for image in images.values()):
        del registries[HUB]  # the default Docker Hub only appears when something comes from it
    _check_preloaded_fit(scenario, images)
    return Resolved(
        name=scenario.name, seed=scenario.seed, until=scenario.until,
        registries={name: to_domain.registry_spec(registry) for name, registry in registries.items()},
        images=images, hosts=hosts, groups=groups, job_counts=counts,
        workloads={name: to_domain.workload(name, workload, builds.specs)
                   for name, workload in scenario.workloads.items()},
        builds=builds.specs,
        contexts={name: to_domain.build_context(context) for name, context in scenario.contexts.items()},
        links=to_domain.links(scenario.network), scenario=scenario,
    )
