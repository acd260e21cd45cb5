"""A service's CPU and memory keys (``cpus``, ``cpu_shares``, ``cpu_quota``, ``cpu_period``, ``mem_limit``,
``deploy.resources``) as the container step's cap, weight and memory limit (dsim/scenarios/compose_resources.py).

Expectations by hand: the cap is quota / period as dockerd gives the runtime (NanoCpus: a quota over 100 ms),
the weight is dockerd's clamp of CpuShares to 2..262144 (0: 1024), sizes are docker/go-units' RAMInBytes
(binary units, 1k = 1024) as compose-go's UnitBytes parses them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dsim.api import load_scenario, simulate
from dsim.domain.compose import ComposeStep
from dsim.domain.containers import ContainerSpec
from dsim.errors import ScenarioError
from tests.compose.helpers import run, spans, write

MiB, GiB = 2**20, 2**30


def _container(tmp_path: Path, keys: str) -> ContainerSpec:
    """The container of ``web: {image: nginx:1.25, <keys>}``."""
    step = load_scenario(write(tmp_path, f"services:\n  web: {{image: nginx:1.25, {keys}}}\n")).workloads["w"].steps[0]
    assert isinstance(step, ComposeStep)
    return step.project.service("web").container


@pytest.mark.parametrize(("keys", "cpus", "shares", "memory"), [
    ("cpus: 0.5", 0.5, 1024, None),
    ("cpus: '1.5'", 1.5, 1024, None),
    ("cpus: 0", None, 1024, None),  # 0: no limit (NanoCpus 0)
    ("deploy: {resources: {limits: {cpus: '0.25', memory: 512m}}}", 0.25, 1024, 512 * MiB),
    ("deploy: {resources: {limits: {cpus: 2}}}", 2.0, 1024, None),
    ("cpus: 1, deploy: {resources: {limits: {cpus: '1.0'}}}", 1.0, 1024, None),  # the same value: allowed
    ("cpu_quota: 50000", 0.5, 1024, None),  # over the default 100 ms period
    ("cpu_quota: 150000, cpu_period: 50000", 3.0, 1024, None),
    ("cpu_period: 50000", None, 1024, None),  # a period without a quota limits nothing
    ("cpu_quota: -1", None, 1024, None),  # -1: no limit (runc writes max)
    ("cpu_quota: '20000', cpu_period: '40000'", 0.5, 1024, None),
    ("cpu_shares: 512", None, 512, None),
    ("cpu_shares: 0", None, 1024, None),
    ("cpu_shares: 1", None, 2, None),  # dockerd clamps to the kernel's bounds
    ("cpu_shares: 300000", None, 262144, None),
    ("cpu_shares: '2048'", None, 2048, None),
    ("mem_limit: 1g", None, 1024, GiB),
    ("mem_limit: 1.5GiB", None, 1024, 1.5 * GiB),
    ("mem_limit: 64 mb", None, 1024, 64 * MiB),
    ("mem_limit: 1073741824", None, 1024, GiB),
    ("mem_limit: '100000000'", None, 1024, 100_000_000),
    ("mem_limit: 10000k", None, 1024, 10_240_000),
    ("mem_limit: 0", None, 1024, None),
    ("mem_limit: 1g, deploy: {resources: {limits: {memory: 1024m}}}", None, 1024, GiB),
    # a CPU reservation is a swarm option compose does not pass to a container (create.go setReservations)
    ("deploy: {resources: {reservations: {cpus: '2'}}}", None, 1024, None),
])
def test_each_key_gives_the_containers_cap_weight_and_memory(tmp_path: Path, keys: str, cpus: float | None,
                                                              shares: int, memory: float | None) -> None:
    container = _container(tmp_path, keys)
    assert (container.cpus, container.cpu_shares, container.memory) == (cpus, shares, memory)


def _process(tmp_path: Path, keys: str, extra: str) -> tuple[float, str, int]:
    """(run time, oom, exit code) of web's process, ``extra`` its x-dsim."""
    result = run(tmp_path, f"services:\n  web: {{image: nginx:1.25, {keys}, x-dsim: {{{extra}}}}}\n")
    [process] = spans(result, "process")
    return process.end - process.start, process.attrs["oom"], process.attrs["exit_code"]


@pytest.mark.parametrize(("keys", "seconds"), [
    ("restart: 'no'", 2.0),  # uncapped: one thread on an idle 8-core host, 2 CPU-s in 2 s
    ("cpus: 0.5", 4.0),  # 2 CPU-s at 0.5 core
    ("deploy: {resources: {limits: {cpus: '0.25'}}}", 8.0),
    ("cpu_quota: 40000, cpu_period: 100000", 5.0),  # 0.4 core
    ("cpu_shares: 64", 2.0),  # a weight changes nothing without contention
])
def test_a_capped_service_runs_its_cpu_work_at_the_cap(tmp_path: Path, keys: str, seconds: float) -> None:
    elapsed, oom, code = _process(tmp_path, keys, "cpu_time: 2s")
    assert (elapsed, oom, code) == (pytest.approx(seconds), "", 0)


def test_two_weighted_services_share_a_core_by_their_weights(tmp_path: Path) -> None:
    """One core, two CPU-bound processes of 2 CPU-s each, 2048 and 1024 shares: cgroup v2 weights 174 and 100
    (runc 1.3.2+: ceil(10^((121 + 1375)/612 - 7/34)) for 2048; docs/containers.md, CPU weights). The heavy one
    starts at a and runs alone until the light one starts at b; then it gets 174/274 of the core until its work is
    done, the light one the rest and then the whole core: it ends at a + 4 (all the work, the core never idle)."""
    path = write(tmp_path, """
        services:
          heavy: {image: nginx:1.25, cpu_shares: 2048, x-dsim: {cpu_time: 2s}}
          light: {image: nginx:1.25, cpu_shares: 1024, x-dsim: {cpu_time: 2s}}
    """)
    path.write_text(path.read_text().replace("cpus: 8", "cpus: 1"))
    heavy, light = spans(simulate(load_scenario(path)), "process")
    assert (heavy.subject, light.subject) == ("app-heavy-1", "app-light-1")
    a, b = heavy.start, light.start
    assert 0 < b - a < 0.1
    assert heavy.end == pytest.approx(b + (2.0 - (b - a)) / (174 / 274))
    assert light.end == pytest.approx(a + 4.0)


@pytest.mark.parametrize("keys", ["mem_limit: 64m", "deploy: {resources: {limits: {memory: 64M}}}"])
def test_usage_over_mem_limit_is_the_cgroups_oom_kill(tmp_path: Path, keys: str) -> None:
    elapsed, oom, code = _process(tmp_path, keys, "memory_usage: 100MiB, duration: 10s")
    assert (elapsed, oom, code) == (0.0, "cgroup", 137)


def test_usage_under_mem_limit_runs(tmp_path: Path) -> None:
    elapsed, oom, code = _process(tmp_path, "mem_limit: 128m", "memory_usage: 100MiB, duration: 10s")
    assert (elapsed, oom, code) == (pytest.approx(10.0), "", 0)


@pytest.mark.parametrize(("keys", "column", "field", "message"), [
    ("cpus: fast", 34, "cpus", "failed to cast to expected type: 'fast' is not a number"),  # compose's cast
    ("cpus: -1", 34, "cpus", "cpus: 0 (no limit) or at least 0.01, as dockerd takes NanoCpus"),
    ("cpu_shares: -2", 40, "cpu_shares", "shares: invalid argument"),
    ("cpu_shares: 1.5", 40, "cpu_shares", 'strconv.ParseInt: parsing "1.5": invalid syntax'),
    ("cpu_period: 500", 40, "cpu_period", "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s "
                                          "(i.e. 1000000)"),
    ("cpu_quota: 500", 39, "cpu_quota", "CPU cfs quota can not be less than 1ms (i.e. 1000)"),
    ("cpus: 0.5, cpu_quota: 50000", 50, "cpu_quota", "Conflicting options: Nano CPUs and CPU Quota cannot both be "
                                                    "set"),
    ("cpus: 0.5, cpu_period: 50000", 51, "cpu_period", "Conflicting options: Nano CPUs and CPU Period cannot "
                                                      "both be set"),
    ("mem_limit: 1x", 39, "mem_limit", "invalid suffix: 'x'"),
    ("mem_limit: lots", 39, "mem_limit", "invalid size: 'lots'"),
    ("mem_limit: 4m", 39, "mem_limit", "Minimum memory limit allowed is 6MB"),
    ("deploy: {resources: {limits: {memory: 2q}}}", 66, "deploy.resources.limits.memory", "invalid suffix: 'q'"),
    ("cpus: 1, deploy: {resources: {limits: {cpus: 2}}}", 34, "cpus",
     "services.web: can't set distinct values on 'cpus' and 'deploy.resources.limits.cpus': invalid compose project"),
    ("mem_limit: 1g, deploy: {resources: {limits: {memory: 2g}}}", 39, "mem_limit",
     "services.web: can't set distinct values on 'mem_limit' and 'deploy.resources.limits.memory': invalid compose "
     "project"),
])
def test_invalid_values_are_refused_where_they_are_written(tmp_path: Path, keys: str, column: int, field: str,
                                                           message: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        _container(tmp_path, keys)
    err = caught.value
    assert err.file is not None and err.file.endswith("app/compose.yaml")
    assert (err.line, err.column, err.field) == (2, column, f"services.web.{field}")
    assert message in err.message
