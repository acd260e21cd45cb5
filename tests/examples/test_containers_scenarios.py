"""The container scenarios tell their stories: key figures worked out by hand from each file's comment block.

Default runtime costs (docs/containers.md "Lifecycle"): API call 2 ms; create 60 ms; start = mount 20 + netns 10 +
runc create 454 + exec 20 = 504 ms; a warm `docker run -d` therefore ends 568 ms after it was typed.
"""

from __future__ import annotations

import math
from functools import cache

import pytest

from dsim.api import load_scenario, simulate
from dsim.result import SimResult
from tests.helpers import ROOT

MIB = 2**20


@cache
def run(name: str, seed: int | None = None) -> SimResult:
    return simulate(load_scenario(ROOT / "scenarios" / f"{name}.yaml"), seed=seed)


def test_port_conflict() -> None:
    result = run("port-conflict")
    jobs = {job.workload: job for job in result.jobs}
    assert jobs["bob"].error == (
        "Error response from daemon: failed to set up container networking: driver failed programming external "
        "connectivity on endpoint web-b (devbox-000002): Bind for 0.0.0.0:8080 failed: port is already allocated")
    assert all(job.status == "completed" for name, job in jobs.items() if name != "bob")
    published = {span.subject: span.attrs["ports"] for span in result.spans_of("publish")}
    assert published["web-c"] == ["0.0.0.0:49153->80/tcp"]
    [ps] = result.spans_of("ps")
    assert sorted(ps.attrs["containers"]) == ["web-a Exited (0)", "web-b Up", "web-c Up"]


def test_start_storm_queues_on_the_netns_lock() -> None:
    """Starts reach the netns lock every 2 ms (the creates' metadata commits, one at a time), faster than it
    serves them (one per 10 ms of pure wait); behind it libnetwork's store holds each start for 6 commits of
    2 ms (the endpoint 1 and its bridge record 1, the sandbox 1, the join 2 and the bridge's connectivity 1),
    12 ms, slower still, so the store is busy without a gap from the first start's arrival, 10 ms after the
    first netns request: the netns spans (their wait includes the store's queueing) end 10 + 199 x 12 ms =
    2.398 s after the first began. The creates end one by one on the metadata lock: the last after at least
    200 x 2 ms. No start ends before its own wait; even the first run is slower than an idle one (its
    create's CPU part shares the cores with 199 others)."""
    result = run("start-storm")
    netns = result.spans_of("netns")
    assert len(netns) == 200
    assert max(s.end for s in netns) - min(s.start for s in netns) == pytest.approx(0.010 + 199 * 6 * 0.002)
    assert max(result.phase_samples("create")) >= 200 * 0.002
    assert max(result.phase_samples("start")) >= 2.0
    assert min(job.duration_s for job in result.jobs) > 0.568
    assert result.summary()["hosts"]["node"]["peak_containers"] == 200


def test_noisy_neighbours() -> None:
    result = run("noisy-neighbours")
    run_phase: dict[str, list[float]] = {}
    for job in result.jobs:
        run_phase.setdefault(job.workload, []).append(job.phases["run"])
    # among 16 uncapped batch containers a request gets 8/17 core: 1 CPU-s takes 17/8 s
    assert run_phase["api-shared"] == pytest.approx([17 / 8] * 60)
    # quotas hold the batch to 16 x 0.25 = 4 cores: the request gets its core, 1 s; the batch 600/0.25 s
    assert run_phase["api-capped"] == pytest.approx([1.0] * 60)
    assert run_phase["batch-capped"] == pytest.approx([2400.0] * 16)
    # The shared host's CPU does all the work there is: the 16 x 600 + 60 x 1 CPU-s of the processes and
    # the start paths of its 76 containers, 0.37 x (60 + 454) ms = 190.18 ms of CPU each (docs/containers.md:
    # Lifecycle; Docker 28's endpoint rule's 3 ms among them, inside runc create's). It cannot do more than 8
    # core-seconds a second, so the last process
    # ends no earlier than that work / 8; and it is saturated (16 x 4 threads want 64 cores) from the last
    # batch start, before 1 s, until the batch ends, so it ends less than 1 s after that bound (the few ms
    # the last batch container trails the others by, as it started last, do not add up to a second).
    processes = [s for s in result.spans_of("process") if s.host == "shared"]
    work = 9600 + 60 + 76 * 0.37 * (0.060 + 0.454)
    cpu = [s for s in result.spans_of("cpu") if s.host == "shared"]
    assert sum(s.attrs["busy"] * s.duration for s in cpu) == pytest.approx(work)
    assert work / 8 <= max(s.end for s in processes) <= work / 8 + 1.0


def test_oom_cgroup_kills_about_one_run_in_six() -> None:
    """First runs on the limits host: P(lognormal(450 MiB, 0.15) > 512 MiB) = P(Z > 0.935) = 0.175. Over 30
    seeds x 20 services the share has sd sqrt(0.175 x 0.825 / 600) = 0.0155; checked within 3 sd."""
    killed = total = 0
    for seed in range(30):
        firsts = [s for s in run("oom", seed).spans_of("process") if s.host == "limits" and s.attrs["run"] == 0]
        total += len(firsts)
        killed += sum(1 for s in firsts if s.attrs["oom"] == "cgroup")
    z = (math.log(512) - math.log(450) + 0.15**2 / 2) / 0.15
    p = 0.5 * math.erfc(z / math.sqrt(2))
    assert p == pytest.approx(0.175, abs=0.001)
    assert abs(killed / total - p) <= 3 * math.sqrt(p * (1 - p) / total)


def test_oom_host_killer_takes_the_largest() -> None:
    result = run("oom")
    spans = [s for s in result.spans_of("process") if s.host == "overcommit"]
    victims = [s for s in spans if s.attrs["oom"] == "host"]
    assert victims
    for victim in victims:
        resident = [s for s in spans if s is not victim and s.start <= victim.end < s.end]
        assert all(s.attrs["memory"] <= victim.attrs["memory"] for s in resident)
    survivors = [s for s in spans if s.attrs["status"] == "running"]
    assert sum(s.attrs["memory"] for s in survivors) <= 8 * 2**30
    assert result.summary()["hosts"]["overcommit"]["peak_memory_bytes"] <= 8 * 2**30


def test_vm_vs_container_density_and_start() -> None:
    result = run("vm-vs-container")
    hosts = result.summary()["hosts"]
    assert hosts["containers"]["peak_containers"] == 32 * 1024 // 64  # 512
    assert hosts["vms"]["peak_containers"] == 32 * 1024 // (512 + 131)  # 50
    assert hosts["microvms"]["peak_containers"] == 32 * 1024 // (256 + 5)  # 125
    failed = {name: sum(1 for job in result.jobs if job.workload == name and job.status == "failed")
              for name in ("as-containers", "as-vms", "as-microvms")}
    assert failed == {"as-containers": 0, "as-vms": 550, "as-microvms": 475}
    assert result.summary()["containers"]["oom_killed"] == 600 - 512
    start = {name: [job.phases["start"] for job in result.jobs if job.workload == name and job.status == "completed"]
             for name in ("as-containers", "as-vms", "as-microvms")}
    assert start["as-containers"] == pytest.approx([0.506] * 600)
    assert start["as-microvms"] == pytest.approx([0.506 + 0.125] * 125)
    # uniform(5 s, 60 s) boots: mean 32.5 s, sd of a mean of 50 = 55 / sqrt(12 x 50) = 2.25 s; 4 sd
    mean_vm = sum(start["as-vms"]) / len(start["as-vms"])
    assert abs(mean_vm - (0.506 + 32.5)) <= 4 * 55 / math.sqrt(12 * 50)
    # containers of one image share its page cache; each VM's is inside its own guest memory
    assert hosts["containers"]["peak_page_cache_bytes"] > 0 and hosts["vms"]["peak_page_cache_bytes"] == 0


def test_restart_loop() -> None:
    result = run("restart-loop")
    crash = sorted((s for s in result.spans_of("restarting") if s.subject == "crashy"), key=lambda s: s.start)
    delays = [0.1 * 2**k for k in range(10)] + [60.0, 60.0, 60.0]
    assert [s.attrs["delay"] for s in crash] == pytest.approx(delays)
    assert [s.attrs["cancelled"] for s in crash] == [False] * 12 + [True]
    runs = sorted((s for s in result.spans_of("process") if s.subject == "crashy"), key=lambda s: s.start)
    assert len(runs) == 13
    # the 13th run ends at 0.568 + 2 + sum of 12 cycles (delay + 0.504 start + 2 s run)
    assert runs[-1].end == pytest.approx(0.568 + 2 + sum(d + 2.504 for d in delays[:12]))
    assert runs[-1].end == pytest.approx(254.916)
    [ps] = result.spans_of("ps")
    assert ps.attrs["containers"] == ["crashy Restarting (1)"]
    worker = [s for s in result.spans_of("restarting") if s.subject == "worker"]
    assert [s.attrs["delay"] for s in worker] == pytest.approx([0.1] * len(worker))
    # worker runs start every 15 + 0.1 + 0.504 s from 0.568 s; docker stop at 300.570 s finds the 20th
    worker_runs = [s for s in result.spans_of("process") if s.subject == "worker"]
    assert len(worker_runs) == math.floor((300.570 - 0.568) / 15.604) + 1 == 20


def test_test_shards_exec_saves_a_start_path_a_shard() -> None:
    """scenarios/test-shards.yaml: a fresh container's shard is create (2 + 60 ms) + start (2 + 504 ms) + 2 s + rm
    (the exit's teardown: 10 ms of commits, the interface's return 17 ms, the endpoint's rule checked and deleted
    3 + 12.4 ms, 19.5 ms of the veth pair's deletion); an exec's is 3 API calls (6 ms) +
    dockerd's exec path (100 ms) + 2 s."""
    result = run("test-shards")
    jobs = {job.workload: job for job in result.jobs}
    assert all(job.status == "completed" for job in result.jobs)
    teardown = 0.010 + 0.017 + 0.003 + 0.0124 + 0.0195
    fresh_shard = 0.062 + 0.506 + 2.0 + teardown
    exec_shard = 3 * 0.002 + 0.100 + 2.0
    assert jobs["fresh-containers"].duration_s == pytest.approx(10 * fresh_shard, rel=1e-9)
    assert jobs["one-container"].duration_s == pytest.approx(0.568 + 10 * exec_shard + 0.002 + teardown, rel=1e-9)
    execs = [span for span in result.spans_of("docker_exec")]
    assert len(execs) == 10 and all(span.end - span.start == pytest.approx(exec_shard) for span in execs)
    assert fresh_shard - exec_shard == pytest.approx(0.5239)
