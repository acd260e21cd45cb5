"""The CPU options of a create (and update) body as dsim serve maps them to a run step's CPU cap, and
dockerd's refusals of them in its words (moby v28.5.2 daemon/daemon_unix.go ``verifyPlatformContainerResources``
and ``getCPUResources``, pkg/sysinfo/sysinfo_linux.go ``parseUintList``). The host has 4 cores."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dsim.components.errors import ApiError
from dsim.run import build_world
from dsim.serve import cpu_options
from dsim.serve.create_checks import check_create
from dsim.serve.engine import Engine
from dsim.serve.images import catalog_image
from dsim.serve.server import pick_host, serve_scenario
from tests.serve.test_docker_cli import SCENARIO

CORES = 4


def refusal(host: dict[str, Any], cores: int = CORES) -> tuple[int, str]:
    with pytest.raises(ApiError) as caught:
        check_create({"Image": "alpine", "HostConfig": host}, cores)
    return caught.value.status, str(caught.value)


# ---------------------------------------------------------------------------------------------- the cap


@pytest.mark.parametrize(("host", "cap"), [
    ({}, None),
    ({"NanoCpus": 1_500_000_000}, 1.5),  # --cpus 1.5: quota 150000 over the 100000 us period
    ({"CpuQuota": 50_000}, 0.5),  # the period defaults to 100 ms (the kernel's, runc's)
    ({"CpuQuota": 200_000, "CpuPeriod": 100_000}, 2.0),  # Docker's own example: 2 CPUs
    ({"CpuQuota": 25_000, "CpuPeriod": 50_000}, 0.5),
    ({"CpuPeriod": 50_000}, None),  # a period without a quota limits nothing
    ({"CpuQuota": -1}, None),  # -1: no limit (cgroup v2's "max")
    ({"CpuQuota": -1, "NanoCpus": 2_000_000_000}, None),  # getCPUResources: the quota overrides NanoCPUs' quota
    ({"CpusetCpus": "0"}, 1.0),  # one CPU can give no more than one core
    ({"CpusetCpus": "0-2"}, 3.0),
    ({"CpusetCpus": "1,3", "NanoCpus": 500_000_000}, 0.5),  # the smaller of the two
    ({"CpusetCpus": "0", "CpuQuota": 300_000}, 1.0),
])
def test_the_cap_is_the_quota_over_the_period_and_at_most_the_cpuset(host: dict[str, Any], cap: float | None) -> None:
    assert cpu_options.cap(host) == cap


def test_a_cpuset_cap_leaves_the_workloads_threads_as_they_were() -> None:
    """Pinning to 4 CPUs does not give a 1-thread process 4 cores: threads default to 1 (or ceil of the quota's
    cap), as without the cpuset (dsim/domain/containers.py ``cap``)."""
    assert cpu_options.step_options({"CpusetCpus": "0-3"}) == {"cpus": 4.0, "threads": 1}
    assert cpu_options.step_options({"CpusetCpus": "0", "NanoCpus": 2_000_000_000}) == {"cpus": 1.0, "threads": 2}
    assert cpu_options.step_options({"CpuQuota": 150_000}) == {"cpus": 1.5}
    assert cpu_options.step_options({"CpuShares": 1024}) == {}


def _engine(tmp_path: Path) -> Engine:
    path = tmp_path / "scenario.yaml"
    path.write_text(SCENARIO)
    resolved = serve_scenario(path)
    return Engine(build_world(resolved), pick_host(resolved, None))


def test_container_step_caps_the_run_by_the_quota_and_the_cpuset(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    image = catalog_image("alpine:latest")
    assert image is not None
    body = {"Image": "alpine", "Cmd": ["true"], "Labels": {"dsim.cpu_time": "10s"}}
    plain = engine.container_step(body, "plain", image)
    quota = engine.container_step({**body, "HostConfig": {"CpuQuota": 50_000}}, "quota", image)
    pinned = engine.container_step({**body, "HostConfig": {"CpusetCpus": "0"}, "Labels": {
        "dsim.cpu_time": "10s", "dsim.threads": "4"}}, "pinned", image)
    assert (plain.cpus, quota.cpus, pinned.cpus, pinned.threads) == (None, 0.5, 1.0, 4)


# ---------------------------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(("host", "said"), [
    ({"NanoCpus": 10**9, "CpuPeriod": 100_000}, "Conflicting options: Nano CPUs and CPU Period cannot both be set"),
    ({"NanoCpus": 10**9, "CpuQuota": 50_000}, "Conflicting options: Nano CPUs and CPU Quota cannot both be set"),
    ({"NanoCpus": 5_000_000_000}, "range of CPUs is from 0.01 to 4.00, as there are only 4 CPUs available"),
    ({"NanoCpus": -1}, "range of CPUs is from 0.01 to 4.00, as there are only 4 CPUs available"),
    ({"CpuPeriod": 999}, "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"),
    ({"CpuPeriod": 1_000_001}, "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"),
    ({"CpuPeriod": -5}, "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"),
    ({"CpuQuota": 999}, "CPU cfs quota can not be less than 1ms (i.e. 1000)"),
    ({"CpusetCpus": "0-a"}, "Invalid value 0-a for cpuset cpus: invalid format: 0-a"),
    ({"CpusetCpus": "3-1"}, "Invalid value 3-1 for cpuset cpus: invalid format: 3-1"),
    ({"CpusetCpus": "1,,2"}, "Invalid value 1,,2 for cpuset cpus: invalid format: 1,,2"),
    ({"CpusetCpus": "9000"}, "Invalid value 9000 for cpuset cpus: value of out range, maximum is 8192"),
    ({"CpusetCpus": "4"}, "Requested CPUs are not available - requested 4, available: 0-3"),
    ({"CpusetMems": "x"}, "Invalid value x for cpuset mems: invalid format: x"),
    ({"CpusetMems": "0-1"}, "Requested memory nodes are not available - requested 0-1, available: 0"),
])
def test_dockerds_refusals_in_its_words(host: dict[str, Any], said: str) -> None:
    assert refusal(host) == (400, said)


def test_cpuset_forms_dockerd_accepts() -> None:
    for cpuset in ("0", "0-3", "0,3", "3,2,1", "0-0,0,1-3", "03", "+1"):  # strconv.Atoi takes a sign and zeros
        check_create({"HostConfig": {"CpusetCpus": cpuset, "CpusetMems": "0"}}, CORES)
    assert cpu_options.cap({"CpusetCpus": "0-0,0,1-2"}) == 3.0


@pytest.mark.parametrize(("shares", "weight"), [(0, None), (1024, None), (512, 512), (2, 2), (1, 2), (262144, 262144),
                                               (10**6, 262144)])
def test_cpu_weights_become_the_steps_cpu_shares(shares: int, weight: int | None) -> None:
    """0 and 1024 are the default (nothing in the step); dockerd clamps the rest to 2..262144
    (daemon_unix.go adaptContainerSettings)."""
    check_create({"HostConfig": {"CpuShares": shares}}, CORES)
    assert cpu_options.step_options({"CpuShares": shares}) == ({} if weight is None else {"cpu_shares": weight})


def test_a_weight_and_a_cap_together() -> None:
    assert cpu_options.step_options({"CpuShares": 512, "NanoCpus": 500_000_000}) == {"cpu_shares": 512, "cpus": 0.5}


def test_a_negative_weight_is_dockerds_400() -> None:
    assert refusal({"CpuShares": -5}) == (400, "shares: invalid argument")


def test_dockerds_quota_check_comes_first() -> None:
    assert refusal({"CpuShares": -5, "CpuQuota": 10}) == (400, "CPU cfs quota can not be less than 1ms (i.e. 1000)")


def test_quota_zero_or_below_is_no_limit_and_no_error() -> None:
    for quota in (0, -1, -1000):
        check_create({"HostConfig": {"CpuQuota": quota}}, CORES)
