"""From the checked Compose model (compose_model.py) to the frozen ComposeProject the client runs: engine
names (``<project>_<network>``, ``<project>_<volume>``), each service's container, the dependency order.

Compose's own rules, checked before time 0 (compose-go's loader): a service needs an image or a build (a
built one is named ``<project>-<service>`` without ``image:``; compose_build.py plans it), depends_on names
defined services without a cycle, a service's networks and named volumes are defined at the top level.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping

from dsim.domain.compose import (
    DEFAULT_STOP_GRACE,
    STARTED,
    ComposeNetwork,
    ComposeProject,
    ComposeService,
    ComposeVolume,
    Dependency,
)
from dsim.domain.containers import ContainerSpec, HealthCheck
from dsim.domain.networking import MountSpec, NetworkDecl
from dsim.domain.problems import FieldPath, ReferenceProblem
from dsim.domain.refs import normalise
from dsim.scenarios.compose_model import Deploy, Healthcheck, PortLong, Project, Service, VolumeLong
from dsim.scenarios.compose_resources import ComposeProblem, service_resources
from dsim.scenarios.model.containers import RESTART_POLICY
from dsim.scenarios.to_domain import call_spec

_PORT = re.compile(r"^(\d+:)?\d+(/tcp|/udp)?$")


def _healthcheck(check: Healthcheck | None, service: Service, path: FieldPath) -> HealthCheck | None:
    """None without a check, with ``disable: true`` or ``test: [NONE]`` (moby: no health status at all)."""
    extra = service.x_dsim
    test = [] if check is None else [check.test] if isinstance(check.test, str) else list(check.test or [])
    if check is None or check.disable in (True, "true") or test[:1] == ["NONE"]:
        for key in ("startup_cpu", "startup_io", "probe_cpu"):
            if key in extra.model_fields_set:
                raise ComposeProblem((*path, "x-dsim", key), f"x-dsim.{key} needs a healthcheck: readiness is what "
                                                             "the check sees")
        return None
    if not test:
        raise ComposeProblem((*path, "healthcheck"), "a healthcheck without test would use the image's "
                                                     "HEALTHCHECK, and dsim's images have none: give it a test")
    return HealthCheck(check.interval, check.start_period, check.start_interval, check.retries,
                       extra.time_to_healthy, timeout=check.timeout, startup_cpu=extra.startup_cpu,
                       startup_io=extra.startup_io, probe_cpu=extra.probe_cpu)


def _ports(service: Service, path: FieldPath) -> tuple[str, ...]:
    """``[HOST:]CONTAINER[/PROTO]`` as ``docker run -p`` takes it; a host IP or a range is not modelled."""
    out: list[str] = []
    for i, port in enumerate(service.ports):
        if isinstance(port, PortLong):
            text = f"{port.published}:{port.target}" if port.published is not None else str(port.target)
            text += f"/{port.protocol}"
        else:
            text = str(port)
        if not _PORT.match(text) or not all(1 <= int(n) <= 65535 for n in re.findall(r"\d+", text)):
            raise ComposeProblem((*path, "ports", i), f"dsim models ports as [HOST:]CONTAINER[/PROTOCOL] with ports "
                                                      f"1-65535 (no host IP, no range); got {text!r}")
        out.append(text)
    return tuple(out)


def _mounts(service: Service, project: str, volumes: dict[str, ComposeVolume],
            path: FieldPath) -> tuple[MountSpec, ...]:
    """Short (``SOURCE:TARGET[:MODE]``) and long volume entries: a named volume of the project, a bind mount
    (a path source), an anonymous volume (a target alone) or a tmpfs."""
    mounts: list[MountSpec] = []
    for i, entry in enumerate(service.volumes):
        where = (*path, "volumes", i)
        if isinstance(entry, VolumeLong):
            kind, source, target = entry.type, entry.source, entry.target
        else:
            parts = entry.split(":")
            if len(parts) > 3 or (len(parts) == 3 and parts[2] not in ("ro", "rw", "z", "Z")):
                raise ComposeProblem(where, f"dsim models volumes as [SOURCE:]TARGET[:ro|rw]; got {entry!r}")
            source, target = (None, parts[0]) if len(parts) == 1 else (parts[0], parts[1])
            kind = "bind" if source is not None and source.startswith((".", "/", "~")) else "volume"
        if kind == "volume" and source is not None:
            if source not in volumes:
                raise ComposeProblem(where, f'service "{service_name(path)}" refers to undefined volume {source}: '
                                            "invalid compose project")
            source = volumes[source].name
        if not target.startswith("/"):
            raise ComposeProblem(where, f"invalid mount target {target!r}: an absolute path")
        mounts.append(MountSpec(kind, target, source))
    return tuple(mounts)


def default_image(project: str, service: str) -> str:
    """A built service's image without ``image:``: ``<project>-<service>`` (docker/compose pkg/api
    ``GetImageNameOrDefault``: ``projectName + Separator + service.Name``, Separator "-")."""
    return f"{project}-{service}"


def service_name(path: FieldPath) -> str:
    return str(path[1])


def _networks(service: Service, path: FieldPath, networks: dict[str, ComposeNetwork]) -> tuple[str, ...]:
    keys = list(service.networks) or (["default"] if service.network_mode is None else [])
    if service.network_mode is not None and service.networks:
        raise ComposeProblem((*path, "network_mode"), "network_mode and networks cannot be combined")
    out: list[str] = []
    for key in keys:
        if key not in networks:
            raise ComposeProblem((*path, "networks"), f'service "{service_name(path)}" refers to undefined network '
                                                      f"{key}: invalid compose project")
        out.append(networks[key].decl.name)
    return tuple(out)


def _depends(service: Service, path: FieldPath, names: list[str]) -> tuple[Dependency, ...]:
    written = service.depends_on
    deps = [Dependency(name) for name in written] if isinstance(written, list) else [
        Dependency(name, dep.condition, dep.required, dep.restart) for name, dep in written.items()]
    for dep in deps:
        if dep.service not in names:
            raise ComposeProblem((*path, "depends_on"), f'service "{service_name(path)}" depends on undefined '
                                                        f'service "{dep.service}": invalid compose project')
    return tuple(deps)


def _container(service: Service, path: FieldPath, networks: tuple[str, ...], mode: str | None,
               mounts: tuple[MountSpec, ...], cores: int | None) -> ContainerSpec:
    if service.image is None:
        raise ComposeProblem(path, f'service "{service_name(path)}" has neither an image nor a build context '
                                   "specified: invalid compose project")
    if not RESTART_POLICY.match(service.restart):
        raise ComposeProblem((*path, "restart"), f"invalid restart policy {service.restart!r} (no, always, "
                                                 "unless-stopped, on-failure[:N])")
    extra = service.x_dsim
    until_stopped = extra.cpu_time is None and extra.duration.is_constant and math.isinf(extra.duration.mean)
    limits = service_resources(service, path, cores)
    return ContainerSpec(
        normalise(service.image), None, limits.cpus, limits.memory, _ports(service, path), extra.duration,
        extra.stop_time, cpu_time=extra.cpu_time, threads=limits.threads, memory_usage=extra.memory_usage,
        cpu_shares=limits.cpu_shares,
        expose=tuple(str(port) for port in service.expose), exit_code=extra.exit_code, restart=service.restart,
        healthcheck=_healthcheck(service.healthcheck, service, path), until_stopped=until_stopped,
        network=networks[0] if networks else (mode or "bridge"), mounts=mounts,
        calls=tuple(call_spec(call) for call in extra.calls),
        # compose gives each container its service's name as an alias on every project network (docker/compose
        # pkg/compose/create.go getAliases), so the other services reach it by that name
        aliases=(service_name(path),) if networks else (), settings=_settings(service))


#: a service's keys that configure its container without changing what the model does with it
SETTINGS = ("environment", "command", "entrypoint", "labels", "working_dir", "user", "hostname")


def _settings(service: Service) -> tuple[tuple[str, str], ...]:
    """The SETTINGS the service gives, canonical (a list of ``KEY=VALUE`` and a mapping alike, as compose-go
    normalises them), for comparing two configurations of it."""
    out: list[tuple[str, str]] = []
    for key in SETTINGS:
        value = getattr(service, key)
        if key in ("environment", "labels") and isinstance(value, list):
            value = {name: (rest[0] if rest else None) for name, *rest in (item.split("=", 1) for item in value)}
        if isinstance(value, dict):  # values as strings: {A: 1} is A=1
            value = {name: item if item is None or isinstance(item, str) else json.dumps(item)
                     for name, item in value.items()}
        if value not in (None, {}, []):
            out.append((key, json.dumps(value, sort_keys=True)))
    return tuple(out)


def _order(services: list[ComposeService]) -> tuple[ComposeService, ...]:
    """A dependency order: each service after those it depends on, ties in the file's order; a cycle is
    compose-go's error."""
    done: list[ComposeService] = []
    placed: set[str] = set()
    waiting = list(services)
    while waiting:
        ready = next((s for s in waiting if all(d.service in placed for d in s.depends_on)), None)
        if ready is None:
            cycle = " -> ".join([s.name for s in waiting] + [waiting[0].name])
            raise ComposeProblem(("services", waiting[0].name, "depends_on"), f"dependency cycle detected: {cycle}")
        done.append(ready)
        placed.add(ready.name)
        waiting.remove(ready)
    return tuple(done)


def with_profiles(model: Project, active: list[str]) -> Project:
    """compose-go's WithProfiles: a service with profiles is enabled only when one of them is active (``*``: all);
    an enabled service's required dependency on a disabled one is compose's error, an optional one is dropped."""
    def enabled(service: Service) -> bool:
        return not service.profiles or "*" in active or any(p in service.profiles for p in active)

    kept = {key: service for key, service in model.services.items() if enabled(service)}
    for key, service in kept.items():
        written = service.depends_on
        deps = dict.fromkeys(written) if isinstance(written, list) else written
        for dep, config in deps.items():
            off = model.services.get(dep)
            if off is None or dep in kept:
                continue
            if config is None or config.required:
                raise ComposeProblem(("services", key, "depends_on"), f'service "{dep}" is required by "{key}" but is '
                                     f"disabled. Can be enabled by profiles [{' '.join(off.profiles)}]")
            kept[key] = service = service.model_copy(update={"depends_on": {
                name: value for name, value in deps.items() if name != dep}})
    return model.model_copy(update={"services": kept})


def with_scale(model: Project, scale: Mapping[str, int], step_path: FieldPath) -> Project:
    """``up --scale SERVICE=N``: the service's replicas (compose: ``no such service`` for a name the project
    has not enabled)."""
    services = dict(model.services)
    for name, replicas in scale.items():
        service = services.get(name)
        if service is None:
            raise ReferenceProblem((*step_path, "scale", name), f"no such service: {name}")
        deploy = service.deploy.model_copy(update={"replicas": replicas}) if service.deploy is not None else \
            Deploy(replicas=replicas)
        services[name] = service.model_copy(update={"deploy": deploy})
    return model.model_copy(update={"services": services})


def project_from_model(model: Project, name: str, file: str, cores: int | None = None) -> ComposeProject:
    """The frozen project; raises ComposeProblem at the place in the file that breaks a rule. ``cores``: the CPUs
    of the smallest host the project may run on (a cpuset must be among them; None: not checked)."""
    networks: dict[str, ComposeNetwork] = {}
    written_networks = dict(model.networks)
    uses_default = any(not s.networks and s.network_mode is None for s in model.services.values())
    if uses_default and "default" not in written_networks:
        written_networks["default"] = None
    for key, net in written_networks.items():
        engine = net.name if net is not None and net.name else (key if net is not None and net.external
                                                                 else f"{name}_{key}")
        subnet = None
        if net is not None and net.ipam is not None and net.ipam.config:
            subnet = net.ipam.config[0].subnet
        networks[key] = ComposeNetwork(NetworkDecl(engine, subnet, net.internal if net is not None else False),
                                       net.external if net is not None else False)
    volumes: dict[str, ComposeVolume] = {}
    for key, vol in model.volumes.items():
        external = vol is not None and vol.external
        engine = vol.name if vol is not None and vol.name else (key if external else f"{name}_{key}")
        volumes[key] = ComposeVolume(engine, external)
    names = list(model.services)
    services: list[ComposeService] = []
    for service_key, service in model.services.items():
        path: FieldPath = ("services", service_key)
        if service.build is not None and service.image is None:  # compose v2: GetImageNameOrDefault
            service = service.model_copy(update={"image": default_image(name, service_key)})
        nets = _networks(service, path, networks)
        mounts = _mounts(service, name, volumes, path)
        replicas = 1 if service.deploy is None or service.deploy.replicas is None else service.deploy.replicas
        if service.container_name is not None and replicas > 1:
            raise ComposeProblem((*path, "container_name"), f'WARNING: The "{service_key}" service is using the '
                                 f'custom container name "{service.container_name}". Docker requires each container '
                                 "to have a unique name. Remove the custom name to scale the service.")
        grace = service.stop_grace_period if service.stop_grace_period is not None else DEFAULT_STOP_GRACE
        services.append(ComposeService(
            service_key, _container(service, path, nets, service.network_mode, mounts, cores), replicas,
            _depends(service, path, names), nets, service.container_name, grace))
    return ComposeProject(name, file, _order(services), tuple(networks.values()), tuple(volumes.values()))


__all__ = ["STARTED", "ComposeProblem", "project_from_model"]
