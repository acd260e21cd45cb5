"""The start path as work (docs/containers.md: Lifecycle, Serialization): each lifecycle cost is CPU work on the
host's processor-sharing scheduler plus a wait, and the daemon's locks serialize creates and starts. Every
expectation is worked out by hand from the scenario's own numbers."""

from __future__ import annotations

import pytest

from dsim.errors import ScenarioError
from tests.helpers import run_text

ZERO = "{create: 0s, mount: 0s, netns: 0s, start: 0s, exec: 0s"
NO_CPU = "cpu: {create: 0, mount: 0, netns: 0, start: 0, exec: 0, setkey_hook: 0}"


def scenario(runtime: str, *, cpus: float = 4, burst: int = 1, daemon: str = "", steps: str = "") -> str:
    steps = steps or "[{run: {image: nginx, detach: true}}]"
    return f"""
name: t
hosts:
  h: {{cpus: {cpus}, daemon: {{api_service_time: 0s{daemon}}}, preloaded: [nginx], runtime: {runtime}}}
workloads:
  w: {{arrival: {{burst: {burst}}}, steps: {steps}}}
"""


def busy_core_seconds(result) -> float:  # type: ignore[no-untyped-def]
    return sum(span.attrs["busy"] * span.duration for span in result.spans_of("cpu"))


@pytest.mark.parametrize(("networking", "hook"), [("{}", 0.0), ("{setkey_hook: 105ms}", 0.105)])
def test_an_idle_run_spends_its_cpu_share_and_still_takes_568_ms(networking: str, hook: float) -> None:
    """Default costs: create 60, mount 20, netns 10, runc create 454, runc start 20 ms; CPU shares 0.37 for create
    and runc create, 0 for the short steps: CPU work 0.37 x (60 + 454) = 190.18 ms (Docker 28+: no setkey hook).
    With Docker 20.10's hook of 105 ms inside runc create, all CPU: 0.37 x (60 + 349) + 105 = 256.33 ms. Alone on
    4 cores each CPU part runs at one core, so the run takes its 2 x 2 ms API + 564 ms = 568 ms either way."""
    text = f"""
    name: t
    hosts: {{h: {{preloaded: [nginx], networking: {networking}}}}}
    workloads: {{w: {{arrival: {{burst: 1}}, steps: [{{run: {{image: nginx, detach: true}}}}]}}}}
    """
    result = run_text(text)
    [job] = result.jobs
    assert job.duration_s == pytest.approx(0.568)
    assert busy_core_seconds(result) == pytest.approx(0.37 * (0.060 + 0.454 - hook) + hook)


def test_the_setkey_hook_of_older_dockers_is_what_a_host_network_run_saves() -> None:
    """Docker 20.10's hook (105 ms) is part of runc create for a container with a namespace of its own; one on the
    host's network skips it and the netns step (10 ms): 568 - 115 ms. At the default (no hook) it saves the netns
    step only: 558 ms."""
    def run_on_host(networking: str) -> float:
        [job] = run_text(f"""
        name: t
        hosts: {{h: {{preloaded: [nginx], networking: {networking}}}}}
        workloads: {{w: {{arrival: {{burst: 1}}, steps: [{{run: {{image: nginx, detach: true, network: host}}}}]}}}}
        """).jobs
        return job.duration_s

    # Docker before 28 (a hook, no endpoint rule): the hook and the netns step shorter
    assert run_on_host("{setkey_hook: 105ms, endpoint_rules: 0}") == pytest.approx(0.568 - 0.105 - 0.010)
    # the defaults (Docker 28: no hook, a bridge endpoint's rule, 3 ms of CPU, counted in runc create): the netns
    # step and the rule shorter
    assert run_on_host("{}") == pytest.approx(0.568 - 0.010 - 0.003)


@pytest.mark.parametrize("n", [1, 5, 12])
def test_a_storm_through_the_metadata_lock(n: int) -> None:
    """runc create costs 1 s, none of it CPU; its one metadata commit holds the lock for 100 ms of that second.
    n starts at once: the k-th (k = 0..n-1) commit ends at (k+1) x 0.1 s, then waits the other 0.9 s, so the
    k-th start takes k x 0.1 + 1.0 s: the lock's k x t plus the unlocked part."""
    runtime = f"{ZERO[:-len('start: 0s, exec: 0s')]}start: 1s, exec: 0s, {NO_CPU}}}"
    daemon = ", metadata_commit: 100ms, create_commits: 0, start_commits: 1"
    result = run_text(scenario(runtime, burst=n, daemon=daemon))
    assert sorted(result.phase_samples("start")) == pytest.approx([0.1 * k + 1.0 for k in range(n)])


@pytest.mark.parametrize(("n", "cores"), [(8, 2), (3, 4), (4, 4), (6, 4)])
def test_cpu_bound_start_work_is_processor_shared(n: int, cores: int) -> None:
    """runc create is 0.5 s of pure CPU work (share 1), every other cost 0. n starts on c cores: each gets
    min(1, c/n) core, so all end together at max(0.5, n x 0.5 / c): 8 on 2 cores at 2 s, 6 on 4 at 0.75 s."""
    runtime = f"{ZERO[:-len('start: 0s, exec: 0s')]}start: 500ms, exec: 0s, cpu: {{start: 1}}}}"
    daemon = ", create_commits: 0, start_commits: 0"
    result = run_text(scenario(runtime, cpus=cores, burst=n, daemon=daemon))
    assert result.phase_samples("start") == pytest.approx([max(0.5, n * 0.5 / cores)] * n)


@pytest.mark.parametrize(("cores", "stretch"), [(1, 2.0), (2, 1.0)])
def test_a_busy_small_host_stretches_the_cpu_part_of_a_run(cores: int, stretch: float) -> None:
    """A CPU-bound container (one thread) runs from the start; 10 s later a `docker run` with the default
    costs arrives. On 1 core the two share it, so each of the run's CPU parts (190.18 ms in all: 0.37 of create
    and of runc create) takes twice as long: 568 + 190.18 ms. On 2 cores each has a core: 568 ms."""
    text = f"""
    name: t
    hosts: {{h: {{cpus: {cores}, preloaded: [nginx]}}}}
    workloads:
      hog: {{arrival: {{burst: 1}}, steps: [{{run: {{image: nginx, detach: true, cpu_time: 1000s}}}}]}}
      web: {{arrival: {{burst: 1, at: 10s}}, steps: [{{run: {{image: nginx, detach: true}}}}]}}
    """
    [web] = [job for job in run_text(text).jobs if job.workload == "web"]
    assert web.duration_s == pytest.approx(0.568 + (stretch - 1) * 0.37 * (0.060 + 0.454))


def test_the_spread_of_a_storm_grows_with_its_size() -> None:
    """Default costs on 64 cores, so n <= 32 starts never oversubscribe the CPU. The creates' API calls take
    8 workers for 2 ms; each create's CPU part (22.2 ms) runs at once, then its metadata commit (2 ms) queues:
    job k's commit ends at 2 + 22.2 + 2(k+1) ms and its create at 62 + 2k ms. Its start call (2 ms) and mount
    (20 ms) bring it to the netns lock at 84 + 2k ms; the lock holds each start for 10 ms, so job k gets it at
    84 + 10k ms after a wait of 8k ms. It then reaches libnetwork's store at 94 + 10k ms, which holds each start
    for 6 commits of 2 ms (the endpoint 1 and its bridge record 1, the sandbox 1, the join 2 and the bridge's
    connectivity 1), 12 ms, so the store is free at 94 + 12k ms: a wait of 2k ms more. Its start takes
    2 + 20 + 8k + 10 + 2k + 454 + 20 = 506 + 10k ms (its own metadata commit in runc create comes 10 ms after
    the one before and does not queue): the spread (slowest minus fastest start) is (n - 1) x 10 ms, growing
    with n."""
    for n in (4, 16, 32):
        text = f"""
        name: t
        hosts: {{h: {{cpus: 64, memory: 64GiB, preloaded: [nginx]}}}}
        workloads: {{w: {{arrival: {{burst: {n}}}, steps: [{{run: {{image: nginx, detach: true}}}}]}}}}
        """
        starts = sorted(run_text(text).phase_samples("start"))
        assert starts == pytest.approx([0.506 + 0.010 * k for k in range(n)])
        assert max(starts) - min(starts) == pytest.approx((n - 1) * 0.010)


@pytest.mark.parametrize(("lock", "expected"), [("global", [1.0, 2.0, 3.0, 4.0]), ("per-container", [1.0] * 4)])
def test_a_global_layer_store_lock_serializes_creates(lock: str, expected: list[float]) -> None:
    """create costs 1 s (no CPU, no commits). With dockerd's pre-19.03 global layer-store lock, 4 creates at
    once end at 1, 2, 3, 4 s; with today's per-container locks all at 1 s."""
    runtime = f"{{create: 1s, mount: 0s, netns: 0s, start: 0s, exec: 0s, {NO_CPU}}}"
    daemon = f", layer_store_lock: {lock}, create_commits: 0, start_commits: 0"
    steps = "[{create: {image: nginx}}]"
    result = run_text(scenario(runtime, burst=4, daemon=daemon, steps=steps))
    assert sorted(result.phase_samples("create")) == pytest.approx(expected)


def test_commits_are_part_of_the_cost_and_never_lengthen_a_step() -> None:
    """Every cost 0 (and Docker 28's endpoint rule left out): the commits (2 ms by default) have no wait to stand
    for, so a run takes 0 s."""
    result = run_text(scenario(f"{ZERO}}}, networking: {{endpoint_rules: 0}}"))
    [job] = result.jobs
    assert job.duration_s == 0


@pytest.mark.parametrize(("field", "problem"), [
    ("runtime: {cpu: {start: 9}}", "runtime.cpu.start"),
    ("runtime: {cpu: {setkey_hook: 1.5}}", "runtime.cpu.setkey_hook"),
    ("daemon: {layer_store_lock: shared}", "daemon.layer_store_lock"),
    ("daemon: {start_commits: -1}", "daemon.start_commits"),
    ("daemon: {metadata_commit: inf}", "daemon.metadata_commit"),
])
def test_bad_start_path_fields_are_one_line_errors(field: str, problem: str) -> None:
    """A share above 1, an unknown lock mode, a negative count or an endless commit: the file's line and the
    field's path, as for every other field."""
    text = f"""
    name: t
    hosts: {{h: {{preloaded: [nginx], {field}}}}}
    workloads: {{w: {{arrival: {{burst: 1}}, steps: [{{run: {{image: nginx, detach: true}}}}]}}}}
    """
    with pytest.raises(ScenarioError, match=rf"<scenario>:\d+:\d+: hosts\.h\.{problem}"):
        run_text(text)
