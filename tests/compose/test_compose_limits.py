"""A service's ``cpuset``, ``cpu_count``, ``cpu_percent``, ``mem_reservation``, ``memswap_limit``, ``pids_limit``
and their ``deploy.resources`` counterparts (dsim/scenarios/compose_resources.py): what dockerd on Linux does
with them (moby v28.5.2 daemon/daemon_unix.go ``verifyPlatformContainerResources``), expectations by hand.

The host of tests/compose/helpers.py has 8 CPUs (0-7). A cpuset of k CPUs caps the container at k cores and
leaves its workload the threads it would have without it (1, or the quota's cap rounded up); the others are
checked as dockerd checks them and change nothing in the model (no swap, no reclaim, no fork).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dsim.api import load_scenario, simulate
from dsim.errors import ScenarioError
from tests.compose.helpers import spans, write
from tests.compose.test_compose_resources import _container, _process

MiB, GiB = 2**20, 2**30


@pytest.mark.parametrize(("keys", "cpus", "threads"), [
    ("cpuset: '0'", 1.0, 1),
    ("cpuset: '0-3'", 4.0, 1),  # pinned to 4 CPUs, a 1-thread workload still runs on one at a time
    ("cpuset: '1,3', cpus: 0.5", 0.5, 1),  # the smaller cap; threads as --cpus 0.5 gives them (ceil)
    ("cpuset: '0,2', cpu_quota: 300000", 2.0, 3),  # 3 cores' quota, 2 CPUs; the quota's 3 threads
    ("cpuset: '0-0,0,7'", 2.0, 1),  # parseUintList: duplicates count once
    ("cpus: 2", 2.0, None),  # no cpuset: threads are the default (ceil of the cap)
])
def test_a_cpuset_caps_at_its_cpu_count(tmp_path: Path, keys: str, cpus: float, threads: int | None) -> None:
    container = _container(tmp_path, keys)
    assert (container.cpus, container.threads) == (cpus, threads)


@pytest.mark.parametrize(("keys", "seconds"), [
    ("cpu_quota: 200000", 1.0),  # 2 cores' quota, 2 threads by default: 2 CPU-s in 1 s
    ("cpu_quota: 200000, cpuset: '0'", 2.0),  # pinned to one CPU: one core
    ("cpuset: '0-7'", 2.0),  # every CPU: the 1-thread workload still uses one core
])
def test_a_pinned_service_runs_its_cpu_work_at_its_cpus(tmp_path: Path, keys: str, seconds: float) -> None:
    elapsed, oom, code = _process(tmp_path, keys, "cpu_time: 2s")
    assert (elapsed, oom, code) == (pytest.approx(seconds), "", 0)


@pytest.mark.parametrize("keys", [
    "cpu_count: 2",  # Windows's: dockerd on Linux does not look at it
    "cpu_percent: 50",  # Windows's: discarded with dockerd's warning on Linux
    "mem_reservation: 64m",
    "mem_limit: 1g, mem_reservation: 1g",  # a reservation up to the limit
    "deploy: {resources: {reservations: {memory: 512m}}}",
    "mem_reservation: 512m, deploy: {resources: {reservations: {memory: 512m}}}",
    "mem_limit: 1g, memswap_limit: 2g",
    "mem_limit: 1g, memswap_limit: 1g",  # swap = memory: no swap at all
    "mem_limit: 1g, memswap_limit: -1",  # unlimited swap
    "pids_limit: 100",
    "pids_limit: -1",  # unlimited
    "pids_limit: 0",
    "deploy: {resources: {limits: {pids: 10}}}",
    "pids_limit: 10, deploy: {resources: {limits: {pids: 10}}}",
])
def test_limits_dsim_does_not_act_on_are_accepted_and_change_nothing(tmp_path: Path, keys: str) -> None:
    container = _container(tmp_path, keys)
    memory = GiB if "mem_limit" in keys else None
    assert (container.cpus, container.cpu_shares, container.memory, container.threads) == (None, 1024, memory, None)


def test_a_reservation_and_swap_change_no_oom_kill(tmp_path: Path) -> None:
    """100 MiB used under a 128 MiB limit: runs its 10 s whatever the reservation and swap say; over a 64 MiB
    limit it is the cgroup's OOM kill at once, swap or not (dsim models no swap)."""
    under = _process(tmp_path, "mem_limit: 128m, mem_reservation: 120m, memswap_limit: 128m",
                     "memory_usage: 100MiB, duration: 10s")
    assert under == (pytest.approx(10.0), "", 0)
    over = _process(tmp_path, "mem_limit: 64m, memswap_limit: 1g", "memory_usage: 100MiB, duration: 10s")
    assert over == (0.0, "cgroup", 137)


@pytest.mark.parametrize(("keys", "column", "field", "message"), [
    ("cpuset: '8'", 36, "cpuset", "Requested CPUs are not available - requested 8, available: 0-7"),
    ("cpuset: '0-x'", 36, "cpuset", "Invalid value 0-x for cpuset cpus: invalid format: 0-x"),
    ("cpuset: '9000'", 36, "cpuset", "Invalid value 9000 for cpuset cpus: value of out range, maximum is 8192"),
    ("mem_reservation: 1m", 45, "mem_reservation", "Minimum memory reservation allowed is 6MB"),
    ("mem_limit: 64m, mem_reservation: 128m", 61, "mem_reservation",
     "Minimum memory limit can not be less than memory reservation limit, see usage"),
    ("deploy: {resources: {limits: {memory: 64m}, reservations: {memory: 128m}}}", 95,
     "deploy.resources.reservations.memory",
     "Minimum memory limit can not be less than memory reservation limit, see usage"),
    ("mem_limit: 128m, memswap_limit: 64m", 60, "memswap_limit",
     "Minimum memoryswap limit should be larger than memory limit, see usage"),
    ("memswap_limit: 1g", 43, "memswap_limit",
     "You should always set the Memory limit when using Memoryswap limit, see usage"),
    ("pids_limit: 10, deploy: {resources: {limits: {pids: 20}}}", 40, "pids_limit",
     "services.web: can't set distinct values on 'pids_limit' and 'deploy.resources.limits.pids': invalid compose "
     "project"),
    ("mem_reservation: 1g, deploy: {resources: {reservations: {memory: 2g}}}", 45, "mem_reservation",
     "services.web: can't set distinct values on 'mem_reservation' and 'deploy.resources.reservations.memory': "
     "invalid compose project"),
])
def test_dockerds_refusals_where_they_are_written(tmp_path: Path, keys: str, column: int, field: str,
                                                   message: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        _container(tmp_path, keys)
    err = caught.value
    assert (err.line, err.column, err.field) == (2, column, f"services.web.{field}")
    assert err.message == message


def test_a_cpuset_is_checked_against_the_smallest_host_the_workload_may_use(tmp_path: Path) -> None:
    """Placed on a 2-CPU host, CPUs 2-3 are not there (dockerd's words, its host's CPUs); 0-1 are."""
    path = write(tmp_path, "services:\n  web: {image: nginx:1.25, cpuset: '2-3'}\n")
    path.write_text(path.read_text().replace("cpus: 8", "cpus: 2"))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert caught.value.message == "Requested CPUs are not available - requested 2-3, available: 0-1"
    (tmp_path / "app" / "compose.yaml").write_text("services:\n  web: {image: nginx:1.25, cpuset: '0-1'}\n")
    assert spans(simulate(load_scenario(path)), "process")
