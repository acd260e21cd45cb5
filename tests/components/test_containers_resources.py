"""Ports, memory (cgroup limits, the host's OOM killer, the page cache) and VMs against hand-worked rules."""

from __future__ import annotations

import pytest

from tests.helpers import run_text

ZERO = "{create: 0s, mount: 0s, netns: 0s, start: 0s, exec: 0s}"


def scenario(workloads: str, *, host: str = "", memory: str = "1GiB", runtime: str = ZERO) -> str:
    return f"""
name: t
hosts:
  h: {{cpus: 4, memory: {memory}, daemon: {{api_service_time: 0s, workers: 1000}}, preloaded: [nginx],
       runtime: {runtime}, networking: {{endpoint_rules: 0}}{host}}}
workloads:
{workloads}
"""


def one(steps: str) -> str:
    return f"  w:\n    arrival: {{burst: 1}}\n    steps: {steps}"


# ---------------------------------------------------------------- ports

def test_a_second_binding_fails_start_with_dockers_message_and_stays_created() -> None:
    steps = """
      - run: {image: nginx, detach: true, name: web, ports: ["8080:80"]}
      - create: {image: nginx, name: web2, ports: ["8080:80"]}
      - start: {container: web2}
    """
    result = run_text(scenario(one(steps) + "\n  look: {arrival: {times: [1s]}, steps: [{ps: {all: true}}]}"))
    failed = next(job for job in result.jobs if job.workload == "w")
    assert failed.error == (
        "Error response from daemon: failed to set up container networking: driver failed programming external "
        "connectivity on endpoint web2 (h-000002): Bind for 0.0.0.0:8080 failed: port is already allocated")
    [ps] = result.spans_of("ps")
    assert ps.attrs["states"] == {"created": 1, "running": 1}
    assert result.summary()["containers"]["port_conflicts"] == 1


def test_ports_are_released_when_the_container_stops() -> None:
    steps = """
      - run: {image: nginx, detach: true, name: a, ports: ["8080:80"]}
      - stop: {}
      - run: {image: nginx, detach: true, name: b, ports: ["8080:80"]}
    """
    [job] = run_text(scenario(one(steps))).jobs
    assert job.status == "completed", job.error


def test_publish_all_takes_ephemeral_ports_in_order_and_wraps() -> None:
    """-P with two exposed ports, then -p 9000 (container port only): libnetwork hands out the first free
    port after the last one: 49153, 49154, 49155 (tcp); with a range of 3 ports, the fourth is refused."""
    steps = """
      - run: {image: nginx, detach: true, publish_all: true, expose: [80, 443]}
      - run: {image: nginx, detach: true, ports: [9000]}
    """
    result = run_text(scenario(one(steps)))
    published = [p for span in sorted(result.spans_of("publish"), key=lambda s: s.start) for p in span.attrs["ports"]]
    assert published == ["0.0.0.0:49153->80/tcp", "0.0.0.0:49154->443/tcp", "0.0.0.0:49155->9000/tcp"]
    small = scenario(one(steps.rstrip() + "\n      - run: {image: nginx, detach: true, ports: [7000]}"),
                     host=", ephemeral_ports: 49153-49155")
    [job] = run_text(small).jobs
    assert job.error.endswith("all ports are allocated")


def test_publish_all_leaves_a_port_that_p_maps_alone() -> None:
    """-P with -p 9000:80: 80 keeps its one binding, 443 alone takes an ephemeral port (moby daemon/network.go:
    a random port only for an exposed port without bindings; before, 80 was published twice)."""
    steps = "[{run: {image: nginx, detach: true, publish_all: true, expose: [80, 443], ports: ['9000:80']}}]"
    [span] = run_text(scenario(one(steps))).spans_of("publish")
    assert span.attrs["ports"] == ["0.0.0.0:9000->80/tcp", "0.0.0.0:49153->443/tcp"]


# ---------------------------------------------------------------- memory

def test_usage_over_the_limit_is_an_oom_kill_with_exit_137() -> None:
    steps = "[{run: {image: nginx, name: hog, memory: 64MiB, memory_usage: 128MiB, duration: 5s}}]"
    result = run_text(scenario(one(steps)))
    [job] = result.jobs
    assert job.error == "container hog exited with code 137 (OOMKilled)"
    [process] = result.spans_of("process")
    assert (process.attrs["exit_code"], process.attrs["oom"], process.duration) == (137, "cgroup", 0.0)
    assert result.summary()["containers"]["oom_killed"] == 1


def test_host_oom_killer_picks_the_largest() -> None:
    """A 1,024 MiB host: c0 400 MiB at 0 s and c1 300 MiB at 1 s fit (700 MiB); c2 500 MiB at 2 s would make
    1,200 MiB, so the kernel kills the largest, the newcomer c2, leaving 700 MiB. c3 200 MiB at 3 s fits
    (900 MiB); c4 250 MiB at 4 s would make 1,150 MiB: now the largest is c0 (400 MiB), leaving 750 MiB."""
    workloads = "\n".join(
        f"  w{i}: {{arrival: {{times: [{i}s]}}, steps: [{{run: {{image: nginx, name: c{i}, memory_usage: {mib}MiB, "
        "duration: 10s}}]}" for i, mib in enumerate([400, 300, 500, 200, 250]))
    result = run_text(scenario(workloads))
    killed = sorted((s.subject, s.end) for s in result.spans_of("process") if s.attrs["oom"] == "host")
    assert killed == [("c0", pytest.approx(4.0)), ("c2", pytest.approx(2.0))]
    # peak in use: 900 MiB at 3 s (the kernel never lets it go over; the OOM kills keep it at 700 and 750)
    assert result.summary()["hosts"]["h"]["peak_memory_bytes"] == 900 * 2**20


def test_containers_of_one_image_share_its_page_cache() -> None:
    """3 nginx containers read 6.4% of the image's 161.33 MB once: the page cache holds 10.33 MB, not 31 MB."""
    result = run_text(scenario("  w: {arrival: {burst: 3}, steps: [{run: {image: nginx, duration: 1s}}]}"))
    assert result.summary()["hosts"]["h"]["peak_page_cache_bytes"] == round(0.064 * 161_330_000)


# ---------------------------------------------------------------- VMs

def test_a_vm_starts_later_than_a_container_by_its_boot() -> None:
    """Default costs (mount 20 + netns 10 + runc 454 + exec 20 ms = 504 ms of start); a VM adds its boot
    (here 20 s), a microVM its 125 ms (Firecracker's bound to user space)."""
    text = """
    name: t
    hosts: {h: {memory: 32GiB, daemon: {api_service_time: 0s}, preloaded: [nginx], vm: {boot: 20s, overhead: 131MiB,
            memory: 1GiB}}}
    workloads:
      c: {arrival: {burst: 1}, steps: [{run: {image: nginx, detach: true}}]}
      v: {arrival: {burst: 1}, steps: [{run: {image: nginx, detach: true, isolation: vm}}]}
      m: {arrival: {burst: 1}, steps: [{run: {image: nginx, detach: true, isolation: microvm}}]}
    """
    result = run_text(text)
    # The three creates run their CPU part side by side (4 cores), then their metadata commits (2 ms each)
    # take the metadata lock one after the other, so the creates end at 60, 62 and 64 ms and the starts
    # reach the netns lock 2 ms apart. It holds each for 10 ms: their waits there are 0, 10 - 2 = 8 and
    # 20 - 4 = 16 ms. Then libnetwork's store holds each for 6 commits of 2 ms (endpoint 1 + bridge 1, sandbox 1,
    # join 2 + bridge 1), 12 ms: they reach it at 10, 20 and 30 ms and it is free at 10, 22 and 34 ms, so they
    # wait 0, 2 and 4 ms more there (the netns span's wait counts both): 0, 10 and 20 ms.
    wait = {span.job: span.attrs["wait"] for span in result.spans_of("netns")}
    assert sorted(wait.values()) == pytest.approx([0.0, 0.010, 0.020])
    start = {job.workload: job.phases["start"] - wait[job.job] for job in result.jobs}
    assert start == {"c": pytest.approx(0.504), "v": pytest.approx(0.504 + 20), "m": pytest.approx(0.504 + 0.125)}


def test_vms_reserve_guest_memory_plus_overhead_and_the_rest_are_refused() -> None:
    """4 GiB host, VMs of 1 GiB guest + 131 MiB VMM: 3 fit (3,465 MiB), the 4th needs 1,155 MiB with 631 MiB
    free and is refused."""
    text = """
    name: t
    hosts: {h: {memory: 4GiB, daemon: {api_service_time: 0s}, preloaded: [nginx],
                vm: {boot: 1s, overhead: 131MiB, memory: 1GiB}}}
    workloads:
      v: {arrival: {burst: 4}, steps: [{run: {image: nginx, detach: true, isolation: vm}}, {sleep: 5s}]}
    """
    result = run_text(text)
    failed = [job.error for job in result.jobs if job.status == "failed"]
    assert failed == ["Error response from daemon: failed to create shim task: cannot set up guest memory for h-c4: "
                      "Cannot allocate memory (needs 1155 MiB, 631 MiB free)"]
    assert result.summary()["hosts"]["h"]["peak_memory_bytes"] == 3 * (2**30 + 131 * 2**20)
    assert result.summary()["hosts"]["h"]["peak_containers"] == 3


def test_a_guest_oom_kills_inside_the_vm() -> None:
    steps = "[{run: {image: nginx, isolation: microvm, memory: 128MiB, memory_usage: 200MiB, name: m}}]"
    [job] = run_text(scenario(one(steps), memory="4GiB")).jobs
    assert job.error == "container m exited with code 137 (OOMKilled)"
