"""``docker update`` of a container's limits (dsim/serve/update.py) in simulated time, and dockerd's checks of it in
its words (moby v28.5.2 daemon/update.go, container/container_unix.go ``UpdateContainer``, daemon/daemon_unix.go
``verifyPlatformContainerResources``); a create's warnings and kept HostConfig; the docker SDK's calls.

The simulated host has 4 cores and starts containers at no cost, so a CPU-bound run of W CPU-seconds at c cores
takes W / c; each test drives the engine in simulated time (no wall clock): create, start, then the update
``at`` seconds after the start. Expectations by hand beside each test.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from dsim.components.errors import ApiError
from dsim.run import build_world
from dsim.serve import update
from dsim.serve.create_checks import kept
from dsim.serve.engine import Engine, Served
from dsim.serve.server import Server, pick_host, serve_scenario

if TYPE_CHECKING:
    import docker
else:
    docker = pytest.importorskip("docker", reason="the Python docker SDK is a test dependency")

SCENARIO = """\
name: serve-update
hosts:
  docker:
    cpus: CORES
    daemon: {api_service_time: 0s}
    storage: {write_rate: inf}
    runtime: {create: 0s, mount: 0s, netns: 0s, start: 0s, exec: 0s, cpu: {create: 0, mount: 0, netns: 0, start: 0}}
    preloaded: ['alpine:3.24']
"""
GB = 10**9
MiB = 2**20

Step = Callable[[Engine, Served], Generator[Any, Any, None]]


def _engine(tmp_path: Path, cores: int = 4) -> Engine:
    path = tmp_path / "scenario.yaml"
    path.write_text(SCENARIO.replace("CORES", str(cores)))
    resolved = serve_scenario(path)
    return Engine(build_world(resolved), pick_host(resolved, None))


def _body(labels: dict[str, str], host: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"Image": "alpine:3.24", "Cmd": ["true"], "Labels": labels, "HostConfig": {"NetworkMode": "none",
                                                                                      **(host or {})}}


def _run(engine: Engine, bodies: dict[str, dict[str, Any]], steps: list[tuple[float, Step]],
         start: bool = True) -> dict[str, Served]:
    """Create (and start) each of ``bodies``; then each step at its time after the first start; run to the end."""
    env, made = engine.env, {}

    def go() -> Generator[Any, Any, None]:
        for name, body in bodies.items():
            made[name] = yield from engine.create(body, f"c-{name}", engine.world.next_job(), None)
        first = next(iter(made.values()))
        if start:
            for served in made.values():
                yield from engine.start(served, engine.world.next_job(), None)
        began = first.container.started_at if start else env.now
        assert began is not None
        for at, step in steps:
            yield env.timeout(began + at - env.now)
            yield from step(engine, first)

    env.process(go())
    env.run(until=1000)
    return made


def _update(body: dict[str, Any]) -> Step:
    return lambda engine, served: update.update(engine, served, body, engine.world.next_job())


def _ran(served: Served) -> float:
    container = served.container
    assert container.started_at is not None and container.finished_at is not None
    return container.finished_at - container.started_at


CPU = {"dsim.cpu_time": "10s", "dsim.threads": "4"}


def test_a_new_cpus_applies_to_the_running_process_at_once(tmp_path: Path) -> None:
    """10 CPU-s on 4 threads at --cpus 1, updated to --cpus 2 after 4 s: 4 CPU-s done, 6 left at 2 cores: 7 s."""
    made = _run(_engine(tmp_path), {"w": _body(CPU, {"NanoCpus": GB})}, [(4.0, _update({"NanoCpus": 2 * GB}))])
    assert _ran(made["w"]) == pytest.approx(7.0)
    assert made["w"].host_config["NanoCpus"] == 2 * GB


def test_the_workloads_threads_stay_what_they_were(tmp_path: Path) -> None:
    """--cpus 1 without dsim.threads: a 1-thread workload (the default, ceil of its cap); --cpus 2 after 4 s lets it
    use no more than its one thread: 10 s, as without the update."""
    body = _body({"dsim.cpu_time": "10s"}, {"NanoCpus": GB})
    made = _run(_engine(tmp_path), {"w": body}, [(4.0, _update({"NanoCpus": 2 * GB}))])
    assert _ran(made["w"]) == pytest.approx(10.0)


def test_a_cpuset_and_a_period_cap_as_at_create(tmp_path: Path) -> None:
    """8 CPU-s on 4 threads, uncapped (4 cores): pinned to CPU 0 after 1 s: 4 done, 4 left on one core: 5 s.
    --cpu-quota 50000 (0.5 core) on 1 thread for 10 CPU-s, --cpu-period 200000 after 2 s: 1 done, 9 left at
    50000 / 200000 = 0.25 core: 2 + 36 = 38 s."""
    work = {"dsim.cpu_time": "8s", "dsim.threads": "4"}
    pinned = _run(_engine(tmp_path), {"w": _body(work)}, [(1.0, _update({"CpusetCpus": "0"}))])
    assert _ran(pinned["w"]) == pytest.approx(5.0)
    quota = _run(_engine(tmp_path), {"w": _body({"dsim.cpu_time": "10s"}, {"CpuQuota": 50_000})},
                 [(2.0, _update({"CpuPeriod": 200_000}))])
    assert _ran(quota["w"]) == pytest.approx(38.0)


def test_a_paced_process_keeps_its_pace(tmp_path: Path) -> None:
    """5 CPU-s over 10 s (half a core when free) under --cpus 0.25: 1 CPU-s by 4 s; --cpus 2 then lets it run at
    its pace, 0.5, not at a whole core: 4 left take 8 s, 12 s in all."""
    body = _body({"dsim.cpu_time": "5s", "dsim.duration": "10s"}, {"NanoCpus": GB // 4})
    made = _run(_engine(tmp_path), {"w": body}, [(4.0, _update({"NanoCpus": 2 * GB}))])
    assert _ran(made["w"]) == pytest.approx(12.0)


def test_a_new_weight_shares_a_busy_core(tmp_path: Path) -> None:
    """One core, two 1-thread processes of 5 CPU-s started together, equal weights: 1 CPU-s each by 2 s; then
    --cpu-shares 3072 for the first: cgroup v2's weight 240 (runc 1.3.2+: ceil(10^((l^2 + 125 l)/612 - 7/34)),
    l = log2 3072) against the default 100, so 240/340 of the core: its 4 left take 4 x 340/240 s; the other then
    has the core, and ends at 10 (the core never idle)."""
    work = {"dsim.cpu_time": "5s"}
    made = _run(_engine(tmp_path, cores=1), {"a": _body(work), "b": _body(work)}, [(2.0, _update({"CpuShares": 3072}))])
    a, b = made["a"].container, made["b"].container
    assert a.started_at == b.started_at
    assert _ran(made["a"]) == pytest.approx(2 + 4 * 340 / 240)
    assert _ran(made["b"]) == pytest.approx(10.0)


def test_an_update_before_the_start_applies_at_the_start(tmp_path: Path) -> None:
    """Created with --cpus 1, updated to --cpus 2 before it starts (dockerd keeps the HostConfig for the start):
    10 CPU-s on 4 threads at 2 cores: 5 s."""
    engine = _engine(tmp_path)
    made = _run(engine, {"w": _body(CPU, {"NanoCpus": GB})}, [(0.0, _update({"NanoCpus": 2 * GB}))], start=False)
    served = made["w"]

    def start() -> Generator[Any, Any, None]:
        yield from engine.start(served, engine.world.next_job(), None)

    engine.env.process(start())
    engine.env.run(until=2000)
    assert _ran(served) == pytest.approx(5.0)


def test_an_update_while_paused_applies_at_the_unpause(tmp_path: Path) -> None:
    """10 CPU-s on 4 threads at --cpus 1: 2 done by the pause at 2 s; --cpus 2 at 3 s; unpaused at 4 s, the 8 left
    take 4 s at 2 cores: 8 s."""
    def pause(engine: Engine, served: Served) -> Generator[Any, Any, None]:
        yield from engine.pause(served, engine.world.next_job())

    def unpause(engine: Engine, served: Served) -> Generator[Any, Any, None]:
        yield from engine.unpause(served, engine.world.next_job())

    made = _run(_engine(tmp_path), {"w": _body(CPU, {"NanoCpus": GB})},
                [(2.0, pause), (3.0, _update({"NanoCpus": 2 * GB})), (4.0, unpause)])
    assert _ran(made["w"]) == pytest.approx(8.0)


def test_a_memory_limit_under_the_usage_is_the_cgroups_oom_kill(tmp_path: Path) -> None:
    """100 MiB held under --memory 200m for a 10 s run; --memory 64m after 3 s: cgroup v2's memory.max written
    below the usage, nothing to reclaim (no swap in dsim): the OOM killer ends it at 3 s, 137, OOMKilled."""
    body = _body({"dsim.memory_usage": "100MiB", "dsim.duration": "10s"}, {"Memory": 200 * MiB})
    made = _run(_engine(tmp_path), {"w": body}, [(3.0, _update({"Memory": 64 * MiB}))])
    container = made["w"].container
    assert (_ran(made["w"]), container.exit_code, container.oom_killed) == (pytest.approx(3.0), 137, True)


def test_a_memory_limit_above_the_usage_changes_nothing(tmp_path: Path) -> None:
    body = _body({"dsim.memory_usage": "100MiB", "dsim.duration": "10s"}, {"Memory": 200 * MiB})
    made = _run(_engine(tmp_path), {"w": body}, [(3.0, _update({"Memory": 150 * MiB}))])
    container = made["w"].container
    assert (_ran(made["w"]), container.exit_code, container.oom_killed) == (pytest.approx(10.0), 0, False)
    assert made["w"].container.spec.memory == 150 * MiB


# ---------------------------------------------------------------------------------------------- dockerd's words


def _conflict(kept_config: dict[str, Any], body: dict[str, Any]) -> tuple[int, str]:
    with pytest.raises(ApiError) as caught:
        update.merged("abc", kept_config, body)
    return caught.value.status, str(caught.value)


@pytest.mark.parametrize(("had", "sent", "words"), [
    ({"CpuPeriod": 50_000}, {"NanoCpus": GB}, "Nano CPUs cannot be updated as CPU Period has already been set"),
    ({"CpuQuota": 50_000}, {"NanoCpus": GB}, "Nano CPUs cannot be updated as CPU Quota has already been set"),
    ({"NanoCpus": GB}, {"CpuPeriod": 50_000}, "CPU Period cannot be updated as NanoCPUs has already been set"),
    ({"NanoCpus": GB}, {"CpuQuota": 50_000}, "CPU Quota cannot be updated as NanoCPUs has already been set"),
])
def test_update_conflicts_with_what_is_kept_are_409s(had: dict[str, Any], sent: dict[str, Any], words: str) -> None:
    assert _conflict(had, sent) == (409, f"Cannot update container abc: Conflicting options: {words}")


def test_a_memory_limit_above_the_kept_swap_needs_a_new_swap() -> None:
    """Created with --memory 200m: dockerd keeps MemorySwap 400m (twice); --memory 500m alone is its 409, with
    --memory-swap 1g it is taken. A container made without a memory limit keeps swap 0: any --memory alone is
    refused the same way (dockerd's literal check)."""
    created = kept({"Memory": 200 * MiB})
    assert created["MemorySwap"] == 400 * MiB
    words = ("Cannot update container abc: Memory limit should be smaller than already set memoryswap limit, update "
             "the memoryswap at the same time")
    assert _conflict(created, {"Memory": 500 * MiB}) == (409, words)
    assert update.merged("abc", created, {"Memory": 300 * MiB})["Memory"] == 300 * MiB
    assert update.merged("abc", created, {"Memory": 500 * MiB, "MemorySwap": GB})["MemorySwap"] == GB
    assert _conflict({}, {"Memory": 100 * MiB}) == (409, words)


def test_a_restart_policy_of_an_autoremove_container_is_a_409() -> None:
    assert _conflict({"AutoRemove": True}, {"RestartPolicy": {"Name": "always"}}) == (
        409, "Cannot update container abc: Restart policy cannot be updated because AutoRemove is enabled for the "
             "container")


@pytest.mark.parametrize(("body", "words"), [
    ({"Memory": MiB}, "Minimum memory limit allowed is 6MB"),
    ({"Memory": 64 * MiB, "MemorySwap": 32 * MiB}, "Minimum memoryswap limit should be larger than memory limit, "
                                                    "see usage"),
    ({"MemoryReservation": MiB}, "Minimum memory reservation allowed is 6MB"),
    ({"Memory": 64 * MiB, "MemoryReservation": 128 * MiB},
     "Minimum memory limit can not be less than memory reservation limit, see usage"),
    ({"NanoCpus": 5 * GB}, "range of CPUs is from 0.01 to 4.00, as there are only 4 CPUs available"),
    ({"CpusetCpus": "4"}, "Requested CPUs are not available - requested 4, available: 0-3"),
])
def test_update_values_dockerd_refuses_are_400s(body: dict[str, Any], words: str) -> None:
    with pytest.raises(ApiError) as caught:
        update.check(body, 4)
    assert (caught.value.status, str(caught.value)) == (400, words)


def test_update_takes_a_swap_alone_and_warns_of_a_cpu_percent() -> None:
    """At create a swap limit needs a memory limit; at update the kept one stands (verifyPlatformContainerResources
    with update set). A CPU percent is Linux's warning, not an error."""
    assert update.check({"MemorySwap": GB}, 4) == []
    assert update.check({"CpuPercent": 50}, 4) == ["linux does not support CPU percent. Percent discarded."]


def test_pids_limit_zero_or_below_is_unlimited() -> None:
    assert kept({"PidsLimit": -1})["PidsLimit"] is None
    assert kept({"PidsLimit": 100})["PidsLimit"] == 100
    assert update.merged("abc", {"PidsLimit": 100}, {"PidsLimit": -1})["PidsLimit"] == 0


# ---------------------------------------------------------------------------------------------- the docker SDK


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[docker.DockerClient]:
    path = tmp_path_factory.mktemp("serve-update") / "scenario.yaml"
    path.write_text(SCENARIO.replace("CORES", "4"))
    server = Server(serve_scenario(path), port=0, speed=100.0)
    server.start()
    sdk = docker.DockerClient(base_url=server.address, version="auto", timeout=60)
    try:
        yield sdk
    finally:
        sdk.close()
        server.stop()


def test_sdk_create_with_a_cpu_percent_gets_dockerds_warning(client: docker.DockerClient) -> None:
    api = client.api
    made = api.create_container("alpine:3.24", ["sleep", "100"], name="pct", host_config=api.create_host_config(
        cpu_percent=50, cpu_count=2, pids_limit=-1, mem_limit="64m", mem_reservation="32m"))
    assert made["Warnings"] == ["linux does not support CPU percent. Percent discarded."]
    host = api.inspect_container("pct")["HostConfig"]
    shown = (host["CpuPercent"], host["CpuCount"], host["PidsLimit"], host["MemoryReservation"], host["MemorySwap"])
    assert shown == (0, 2, None, 32 * MiB, 128 * MiB)
    api.remove_container("pct", force=True)


def test_sdk_update_changes_the_limits_inspect_shows(client: docker.DockerClient) -> None:
    container = client.containers.run("alpine:3.24", ["sleep", "100"], name="upd-sdk", detach=True,
                                      mem_limit="64m")
    answer = client.api.update_container("upd-sdk", cpu_shares=512, cpuset_cpus="0-1", mem_limit="128m",
                                         memswap_limit="256m", mem_reservation="100m")
    assert answer == {"Warnings": []}
    host = client.api.inspect_container("upd-sdk")["HostConfig"]
    shown = (host["CpuShares"], host["CpusetCpus"], host["Memory"], host["MemorySwap"], host["MemoryReservation"])
    assert shown == (512, "0-1", 128 * MiB, 256 * MiB, 100 * MiB)
    with pytest.raises(docker.errors.APIError) as caught:
        client.api.update_container("upd-sdk", cpuset_cpus="7")
    assert caught.value.response.status_code == 400
    assert caught.value.explanation == "Requested CPUs are not available - requested 7, available: 0-3"
    container.remove(force=True)
