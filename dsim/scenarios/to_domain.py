"""From the format's checked models to the domain's value types: the one place that converts.

Image references are normalised here, once, so nothing normalises them while jobs run.
"""

from __future__ import annotations

from collections.abc import Mapping

from dsim.distributions import Distribution
from dsim.domain import steps as op
from dsim.domain.builds import BuildContext, BuildOptions, BuildSpec, CacheExport, ColdWarm, RunTime
from dsim.domain.compose import ComposeProject, ComposeStep
from dsim.domain.containers import ContainerSpec, HealthCheck
from dsim.domain.hosts import (
    APPLY_PER_FILE,
    APPLY_RATE,
    RECEIVE_RATE,
    DaemonSpec,
    DirtyLimits,
    HostSpec,
    ImageGcSpec,
    RuntimeSpec,
    StorageSpec,
    VmFlavour,
    pipe_colocation,
)
from dsim.domain.networking import MountSpec, NetworkDecl, NetworkingSpec
from dsim.domain.overlay_mount import OverlayMountSpec
from dsim.domain.refs import normalise
from dsim.domain.registries import OutageSpec, RateLimitSpec, RegistrySpec
from dsim.domain.service_calls import CallSpec
from dsim.domain.spec import LinkSpec
from dsim.domain.start_path import DaemonLocksSpec, StartCpuShares
from dsim.domain.workloads import Arrival, Burst, Every, Poisson, Times, Workload
from dsim.scenarios import model as fmt
from dsim.scenarios.layer_paths import layer_files, total


def registry_spec(registry: fmt.Registry) -> RegistrySpec:
    limit = registry.rate_limit
    return RegistrySpec(
        bandwidth=registry.bandwidth, latency=registry.latency, auth=registry.auth,
        rate_limit=RateLimitSpec(limit.pulls, limit.per) if limit is not None else None,
        error_rate=registry.error_rate, outages=tuple(OutageSpec(o.at, o.for_) for o in registry.outages),
        max_connections=registry.max_connections, upstream=registry.upstream, storage=registry.storage,
        merge_misses=registry.merge_misses, p2p=registry.p2p, p2p_sources=registry.p2p_sources,
        p2p_uploads=registry.p2p_uploads,
        stream_rate=registry.stream_rate, rtt=registry.rtt, tls=registry.tls,
        handshake_rtts=registry.handshake_rtts if registry.handshake_rtts is not None else 1 + registry.tls,
        blob_redirect=registry.blob_redirect, multi_platform=registry.multi_platform, cdn_rtt=registry.cdn_rtt,
        token_host=registry.token_host,
    )


def _vm(flavour: fmt.VmFlavour) -> VmFlavour:
    return VmFlavour(flavour.boot, flavour.overhead, flavour.memory)


def _runtime(profile: fmt.RuntimeProfile) -> VmFlavour:
    memory = profile.memory if profile.memory is not None else 0.0
    return VmFlavour(profile.boot, profile.overhead, memory, profile.kernel, profile.boot_cpu, profile.vcpus,
                     profile.start_saving)


def _by_store(written: float | None, defaults: Mapping[str, float], store: str) -> float:
    """A cost the host's storage sets, else the default of its daemon's image store (containerd's or dockerd's)."""
    return defaults[store] if written is None else written


def _pipe_colocation(group: fmt.HostGroup) -> float:
    """The host's storage's share, else the default for its cores (``dsim.domain.hosts.pipe_colocation``)."""
    written = group.storage.pipe_colocation
    return pipe_colocation(group.cpus, group.storage.decompress_cores) if written is None else written


def host_spec(group: fmt.HostGroup) -> HostSpec:
    daemon, storage, runtime = group.daemon, group.storage, group.runtime
    return HostSpec(
        count=group.count, cpus=group.cpus, memory=group.memory, disk=group.disk, nic=group.nic,
        daemon=DaemonSpec(daemon.workers, daemon.api_service_time, daemon.max_concurrent_downloads,
                          daemon.max_concurrent_uploads, daemon.max_download_attempts,
                          tuple(daemon.registry_mirrors), daemon.build_cache_limit,
                          classic_commit=daemon.classic_commit, classic_copy=daemon.classic_copy,
                          image_store=daemon.image_store,
                          locks=DaemonLocksSpec(daemon.metadata_commit, daemon.create_commits, daemon.start_commits,
                                                daemon.layer_store_lock),
                          buildkit_vertex=daemon.buildkit_vertex),
        storage=StorageSpec({str(kind): rate for kind, rate in storage.decompress_rate.items()}, storage.write_rate,
                            storage.compress_rate, storage.decompress_cores, hash_rate=storage.hash_rate,
                            tls_rate=storage.tls_rate,
                            receive_rate=_by_store(storage.receive_rate, RECEIVE_RATE, daemon.image_store),
                            apply_rate=_by_store(storage.apply_rate, APPLY_RATE, daemon.image_store),
                            apply_per_file=_by_store(storage.apply_per_file, APPLY_PER_FILE, daemon.image_store),
                            send_rate=storage.send_rate, blob_read_rate=storage.blob_read_rate,
                            remove_per_file=storage.remove_per_file, remove_wait_per_file=storage.remove_wait_per_file,
                            remove_rate=storage.remove_rate,
                            gzip_decoder=storage.gzip_decoder,
                            pipe_colocation=_pipe_colocation(group),
                            overlay_diff=storage.overlay_diff, file_size=storage.file_size,
                            walk_per_file=storage.walk_per_file, compress_cores=storage.compress_cores,
                            dirty=DirtyLimits(storage.dirty_ratio, storage.dirty_background_ratio,
                                              storage.dirty_expire)),
        runtime=RuntimeSpec(runtime.create, runtime.mount, runtime.netns, runtime.start, runtime.exec,
                            runtime.page_cache_fraction,
                            cpu=StartCpuShares(**runtime.cpu.model_dump()),
                            probe_exec=runtime.probe_exec,
                            overlay=OverlayMountSpec(**runtime.overlay.model_dump()),
                            cpu_weights=runtime.cpu_weights, exit=runtime.exit),
        preloaded=tuple(normalise(ref) for ref in group.preloaded),
        address=group.address, snapshotter=group.snapshotter,
        gc=ImageGcSpec(group.gc.high, group.gc.low) if group.gc is not None else None,
        ephemeral_ports=group.ephemeral_ports, vm=_vm(group.vm), microvm=_vm(group.microvm),
        runtimes={name: _runtime(profile) for name, profile in group.runtimes.items()},
        job_slots=group.job_slots,
        networks=tuple(NetworkDecl(name, n.subnet, n.internal) for name, n in group.networks.items()),
        volumes=tuple(group.volumes), networking=networking_spec(group.networking),
        threads_per_core=group.threads_per_core, smt_gain=group.smt_gain, cli_cpu=group.cli_cpu,
    )


def networking_spec(costs: fmt.Networking) -> NetworkingSpec:
    return NetworkingSpec(costs.namespace_share, costs.iptables_per_rule, costs.rules_per_port, costs.port_checks,
                          costs.proxies_per_port, costs.proxy_start, costs.port_release,
                          costs.udp_port_flushes, costs.conntrack_bucket_scan, costs.conntrack_buckets,
                          costs.conntrack_entries, costs.conntrack_entry_scan,
                          costs.base_rules, costs.rules_per_network,
                          costs.network_checks, costs.network_rm_checks, costs.endpoint_commits, costs.bridge_commits,
                          costs.store_commit, bridge_rate=costs.bridge_rate,
                          bridge_latency=costs.bridge_latency, loopback_latency=costs.loopback_latency,
                          netns_teardown=costs.netns_teardown, veth_teardown=costs.veth_teardown,
                          veth_rtnl=costs.veth_rtnl,
                          iface_return=costs.iface_return, endpoint_rules=costs.endpoint_rules,
                          bridge_teardown=costs.bridge_teardown,
                          iptables_run=costs.iptables_run, rule_delete_wait=costs.rule_delete_wait,
                          setkey_hook=costs.setkey_hook,
                          sandbox_commits=costs.sandbox_commits,
                          join_commits=costs.join_commits, leave_commits=costs.leave_commits,
                          bridge_join_commits=costs.bridge_join_commits)


def call_spec(call: fmt.ServiceCall) -> CallSpec:
    """A service call and the server's own calls behind it."""
    return CallSpec(call.to, call.requests, call.concurrency, call.request, call.response, call.server_cpu,
                    tuple(call_spec(inner) for inner in call.calls))


def health_check(check: fmt.HealthCheck) -> HealthCheck:
    return HealthCheck(check.interval, check.start_period, check.start_interval, check.retries,
                       check.time_to_healthy, timeout=check.timeout, startup_cpu=check.startup_cpu,
                       startup_io=check.startup_io, probe_cpu=check.probe_cpu)


def container_spec(step: fmt.RunStep | fmt.CreateStep) -> ContainerSpec:
    """What a run/create step asks of ``docker create``."""
    return ContainerSpec(
        normalise(step.image), step.name, step.cpus, step.memory, tuple(step.ports), step.duration,
        step.stop_time, cpu_time=step.cpu_time, threads=step.threads, memory_usage=step.memory_usage,
        expose=tuple(step.expose), publish_all=step.publish_all, exit_code=step.exit_code,
        stop_exit_code=step.stop_exit_code, cpu_shares=step.cpu_shares,
        fail_probability=step.fail_probability, restart=step.restart,
        healthcheck=health_check(step.healthcheck) if step.healthcheck is not None else None,
        writes=total(step.writes), copy_up=total(step.copy_up), isolation=step.isolation, network=step.network,
        mounts=tuple(MountSpec(m.type, m.target, m.source, m.writes, m.size) for m in step.mounts),
        calls=tuple(call_spec(call) for call in step.calls), aliases=tuple(step.aliases),
        # `docker run -d` of a server (no duration, no cpu_time) runs until stopped
        until_stopped=isinstance(step, fmt.RunStep) and step.runs_until_stopped,
        layer_files=layer_files(step.writes, step.copy_up), auto_remove=step.rm,
    )


def _run_time(value: fmt.CacheMountRunTime | Distribution) -> RunTime:
    return ColdWarm(value.cold, value.warm) if isinstance(value, fmt.CacheMountRunTime) else value


def build_options(step: fmt.BuildStep) -> BuildOptions:
    cache_to = step.cache_to
    return BuildOptions(
        builder=step.builder, context=step.context, context_from=step.context_from, tag=step.tag,
        run_times={pattern: _run_time(value) for pattern, value in step.run_times.items()},
        default_run_time=_run_time(step.default_run_time), run_cpus=step.run_cpus,
        layer_sizes=dict(step.layer_sizes), default_layer_size=step.default_layer_size, no_cache=step.no_cache,
        no_cache_filter=tuple(step.no_cache_filter), cache_from=tuple(step.cache_from),
        cache_to=CacheExport(cache_to.ref, cache_to.mode) if cache_to is not None else None,
        max_parallelism=step.max_parallelism,
    )


def build_context(context: fmt.BuildContextSpec) -> BuildContext:
    return BuildContext(dict(context.files), tuple(context.dockerignore))


def step(written: fmt.Step, build: BuildSpec | None, compose: ComposeProject | None = None) -> op.Step:
    """One step as the client runs it; ``build``: the plan of a build step; ``compose``: a compose step's
    project (read before time 0, compose_steps.py)."""
    if written.compose is not None:
        assert compose is not None, "a compose step's file is read before it is converted"
        spec = written.compose
        return ComposeStep(compose, spec.action, volumes=spec.volumes, build=spec.build, wait=spec.wait,
                           wait_timeout=spec.wait_timeout, recreate=spec.recreate)
    if written.pull is not None:
        return op.PullStep(normalise(written.pull))
    if written.push is not None:
        return op.PushStep(normalise(written.push))
    if written.run is not None:
        return op.RunStep(container_spec(written.run), written.run.detach, written.run.wait)
    if written.create is not None:
        return op.CreateStep(container_spec(written.create))
    if written.start is not None:
        return op.StartStep(written.start.container)
    if written.stop is not None:
        return op.StopStep(written.stop.container, written.stop.timeout)
    if written.restart is not None:
        return op.RestartStep(written.restart.container, written.restart.timeout)
    if written.kill is not None:
        return op.KillStep(written.kill.container, written.kill.signal)
    if written.commit is not None:
        ref = written.commit.ref
        return op.CommitStep(written.commit.container, normalise(ref) if ref is not None else None,
                             written.commit.pause)
    if written.exec is not None:
        run = written.exec
        return op.ExecStep(run.container, run.duration, run.cpu_time, run.threads, run.exit_code, run.detach)
    if written.rmi is not None:
        return op.RmiStep(written.rmi.image, written.rmi.force)
    if written.pause is not None:
        return op.PauseStep(written.pause.container)
    if written.unpause is not None:
        return op.UnpauseStep(written.unpause.container)
    if written.tag is not None:
        return op.TagStep(normalise(written.tag.source), normalise(written.tag.target))
    if written.rm is not None:
        return op.RmStep(written.rm.container, written.rm.volumes)
    if written.ps is not None:
        return op.PsStep(written.ps.all)
    if written.sleep is not None:
        return op.SleepStep(written.sleep)
    if written.build is not None:
        assert build is not None, "a build step is planned before it is converted"
        return op.BuildStep(build)
    assert written.edit is not None  # the format allows exactly one operation per step
    return op.EditStep(written.edit.context, tuple(written.edit.files))


def arrival(written: fmt.Arrival) -> Arrival:
    if isinstance(written, fmt.Burst):
        return Burst(written.burst, written.at)
    if isinstance(written, fmt.Poisson):
        return Poisson(written.rate, written.count, written.at)
    if isinstance(written, fmt.Every):
        return Every(written.every, written.count, written.at)
    return Times(tuple(written.times))


def workload(name: str, written: fmt.Workload, builds: Mapping[tuple[str, int], BuildSpec],
             composes: Mapping[tuple[str, int], ComposeProject] | None = None) -> Workload:
    steps = tuple(step(s, builds.get((name, i)), (composes or {}).get((name, i))) for i, s in enumerate(written.steps))
    return Workload(arrival(written.arrival), written.placement, steps)


def links(network: fmt.Network | None) -> tuple[LinkSpec, ...] | None:
    if network is None:
        return None
    return tuple(LinkSpec(link.a, link.b, link.bandwidth, link.latency, link.stream_rate) for link in network.links)
