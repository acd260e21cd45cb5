"""Container lifecycle against expectations worked out by hand from Docker's rules and dsim's documented costs.

Most scenarios here zero every cost but the one under test, so each expected time is a sum of a few
numbers from the scenario itself.
"""

from __future__ import annotations

import pytest

from dsim.errors import ScenarioError
from tests.helpers import run_text

ZERO = "{create: 0s, mount: 0s, netns: 0s, start: 0s, exec: 0s}"
#: Docker 28's endpoint rule left out, so that a start costs its runtime's steps alone
NO_RULE = "{endpoint_rules: 0}"


def host(runtime: str = ZERO, extra: str = "", networking: str = NO_RULE) -> str:
    return (f"h: {{cpus: 4, daemon: {{api_service_time: 0s}}, preloaded: [nginx], runtime: {runtime}, "
            f"networking: {networking}{extra}}}")


def scenario(steps: str, *, runtime: str = ZERO, burst: int = 1, extra: str = "", networking: str = NO_RULE) -> str:
    return f"""
name: t
hosts:
  {host(runtime, extra, networking)}
workloads:
  w:
    arrival: {{burst: {burst}}}
    steps: {steps}
"""


def spans(result, kind):  # type: ignore[no-untyped-def]
    return sorted(result.spans_of(kind), key=lambda s: (s.start, s.end))


def test_warm_docker_run_matches_the_ssd_calibration() -> None:
    """Default costs: 2 API calls x 2 ms + create 60 + mount 20 + netns 10 + runc create 454 + exec 20 ms
    = 568 ms, Khan's warm `docker run` on SSD (arXiv:2602.15214); runc create's 454 ms count Docker 28's
    endpoint rule (two iptables processes, 3 ms of CPU, inside it)."""
    text = """
    name: t
    hosts: {h: {preloaded: [nginx]}}
    workloads: {w: {arrival: {burst: 1}, steps: [{run: {image: nginx, detach: true}}]}}
    """
    [job] = run_text(text).jobs
    assert job.duration_s == pytest.approx(0.568)
    assert job.phases["create"] + job.phases["start"] == pytest.approx(0.568)


def test_start_runs_in_dockers_order() -> None:
    """mount 1s, netns 2s, the port's work (its 2 rules checked and appended and its 3 checks, 7 iptables
    processes of 1.5 ms, plus 10 us per rule already in dockerd's table of 20, then 21, and its 2 docker-proxy
    processes of 2.25 ms: t = 15.41 ms of dockerd's CPU; networks.py), publish (instant),
    runc create 4s (Docker 28's endpoint rule, two iptables processes, inside it), exec 8s: each span starts where
    the last ended."""
    runtime = "{create: 0s, mount: 1s, netns: 2s, start: 4s, exec: 8s}"
    result = run_text(scenario('[{run: {image: nginx, detach: true, ports: ["8080:80"]}}]', runtime=runtime,
                               networking="{}"))
    order = [(kind, spans(result, kind)[0]) for kind in ("mount", "netns", "iptables", "publish", "runc", "exec")]
    t = 7 * 0.0015 + 10e-6 * (20 + 21) + 2 * 0.00225
    assert [kind for kind, _ in order] == ["mount", "netns", "iptables", "publish", "runc", "exec"]
    assert spans(result, "iptables")[0].attrs["rules"] == 2  # the port's; the endpoint's rule is runc create's
    bounds = [bound for _, span in order for bound in (span.start, span.end)]
    assert bounds == pytest.approx([0, 1, 1, 3, 3, 3 + t, 3 + t, 3 + t, 3 + t, 7 + t, 7 + t, 15 + t])
    assert spans(result, "publish")[0].attrs["ports"] == ["0.0.0.0:8080->80/tcp"]
    [start] = result.phase_samples("start")
    assert start == pytest.approx(15 + t)


@pytest.mark.parametrize("n", [1, 7, 40])
def test_n_starts_queue_on_the_netns_lock(n: int) -> None:
    """N starts at once on one host: the netns lock (capacity 1, 10 ms each) serialises them, so the k-th
    waits (k-1) x 10 ms and the last start ends at N x 10 ms (every other cost 0)."""
    runtime = "{create: 0s, mount: 0s, netns: 10ms, start: 0s, exec: 0s}"
    result = run_text(scenario("[{run: {image: nginx, detach: true}}]", runtime=runtime, burst=n))
    netns = spans(result, "netns")
    assert [s.attrs["wait"] for s in netns] == pytest.approx([0.010 * k for k in range(n)])
    assert max(result.phase_samples("start")) >= n * 0.010 - 1e-12
    assert max(result.phase_samples("start")) == pytest.approx(n * 0.010)


def test_create_then_start_steps_and_ps_states() -> None:
    """create leaves it Created (ps -a lists it, ps does not); start runs it; ps then lists it running."""
    steps = """
      - create: {image: nginx, name: web}
      - ps: {}
      - ps: {all: true}
      - start: {container: web}
      - ps: {}
      - stop: {}
      - ps: {all: true}
    """
    result = run_text(scenario(steps))
    listed = [(s.attrs["listed"], s.attrs["states"]) for s in spans(result, "ps")]
    assert listed == [(0, {}), (1, {"created": 1}), (1, {"running": 1}), (1, {"exited": 1})]
    [job] = result.jobs
    assert job.status == "completed", job.error


def test_stop_sigterm_then_sigkill_at_the_timeout() -> None:
    """Two servers started at 0; docker stop of the first at 5 s: it needs 1 s after SIGTERM, so it exits 0
    at 6 s. Then docker stop -t 2 of the second at 6 s: it would need 30 s, so SIGKILL at 8 s, exit 137."""
    steps = """
      - run: {image: nginx, detach: true, name: quick, stop_time: 1s}
      - run: {image: nginx, detach: true, name: slow, stop_time: 30s}
      - sleep: 5s
      - stop: {container: quick}
      - stop: {container: slow, timeout: 2s}
    """
    result = run_text(scenario(steps))
    ends = {s.subject: (s.end, s.attrs["exit_code"]) for s in result.spans_of("process")}
    assert ends == {"quick": (pytest.approx(6.0), 0), "slow": (pytest.approx(8.0), 137)}


def test_a_process_the_sigterm_kills_exits_with_its_stop_exit_code() -> None:
    """stop_exit_code: a process SIGTERM's default action ends (128 + 15 = 143, ``docker run --init``'s case)
    exits with it when it ends within the timeout; past the timeout SIGKILL's 137 wins."""
    steps = """
      - run: {image: nginx, detach: true, name: term, stop_time: 0s, stop_exit_code: 143}
      - run: {image: nginx, detach: true, name: late, stop_time: 30s, stop_exit_code: 143}
      - stop: {container: term}
      - stop: {container: late, timeout: 1s}
    """
    result = run_text(scenario(steps))
    assert {s.subject: s.attrs["exit_code"] for s in result.spans_of("process")} == {"term": 143, "late": 137}


def test_default_stop_timeout_is_ten_seconds() -> None:
    """docker stop without -t: SIGKILL 10 s after SIGTERM (moby's default stop timeout)."""
    steps = "[{run: {image: nginx, detach: true, stop_time: inf}}, {stop: {}}]"
    result = run_text(scenario(steps))
    [process] = result.spans_of("process")
    assert (process.end, process.attrs["exit_code"]) == (pytest.approx(10.0), 137)


def test_rm_is_refused_while_running_and_frees_the_name() -> None:
    steps = "[{run: {image: nginx, detach: true, name: web}}, {rm: {container: web}}]"
    [job] = run_text(scenario(steps)).jobs
    assert job.status == "failed"
    assert job.error == ('Error response from daemon: cannot remove container "/web": container is running: '
                         "stop the container before removing or force remove")
    steps = """
      - run: {image: nginx, detach: true, name: web}
      - stop: {}
      - rm: {}
      - run: {image: nginx, detach: true, name: web}
    """
    [job] = run_text(scenario(steps)).jobs
    assert job.status == "completed", job.error


@pytest.mark.parametrize("again", ["rm: {}", "stop: {}", "start: {}"])
def test_a_container_removed_already_is_no_such_container(again: str) -> None:
    """A second ``docker rm`` (or a stop or start) of a container removed by the job: Docker's 404, the job fails
    with what the CLI prints (it crashed the run with a KeyError before)."""
    steps = f"[{{run: {{image: nginx, duration: 1s, name: web}}}}, {{rm: {{}}}}, {{{again}}}]"
    [job] = run_text(scenario(steps)).jobs
    assert (job.status, job.error) == ("failed", "Error response from daemon: No such container: web")


def test_name_conflict_is_409() -> None:
    steps = "[{create: {image: nginx, name: web}}, {create: {image: nginx, name: web}}]"
    [job] = run_text(scenario(steps)).jobs
    assert job.error.startswith('Error response from daemon: Conflict. The container name "/web" is already in use')


def test_attached_run_waits_for_the_exit_and_fails_on_a_nonzero_code() -> None:
    result = run_text(scenario("[{run: {image: nginx, duration: 3s, exit_code: 2, name: job}}]"))
    [job] = result.jobs
    assert job.end_s == pytest.approx(3.0)
    assert job.phases["run"] == pytest.approx(3.0)
    assert job.error == "container job exited with code 2"


def test_writable_layer_counts_on_disk_and_copy_up_costs_a_write() -> None:
    """writes 100 MB + copy_up 300 MB -> +400 MB on disk; copying up 300 MB at 100 MB/s takes 3 s, writing
    the 100 MB of new files 1 s more (storage.py: writes too take their time at the disk's rate), then the
    process runs its 1 s: 5 s; rm frees the 400 MB again."""
    extra = ", storage: {write_rate: 100MB/s, dirty_ratio: 0}"  # no page cache: writes at the disk's pace
    base = run_text(scenario("[{run: {image: nginx, duration: 1s}}]", extra=extra))
    steps = "[{run: {image: nginx, duration: 1s, writes: 100MB, copy_up: 300MB}}]"
    written = run_text(scenario(steps, extra=extra))
    removed = run_text(scenario(steps.replace("}}]", "}}, {rm: {}}]"), extra=extra))
    disk = {name: r.summary()["hosts"]["h"]["disk_used_bytes"] for name, r in
            (("base", base), ("written", written), ("removed", removed))}
    assert disk["written"] - disk["base"] == 400_000_000
    assert disk["removed"] == disk["base"]
    [copy] = written.spans_of("copy_up")
    assert copy.duration == pytest.approx(3.0)
    [job] = written.jobs
    assert job.end_s == pytest.approx(5.0)


def test_writes_beyond_the_disk_fail_the_process() -> None:
    """A 300 MB disk holds nginx (161.3 MB unpacked plus its 63.1 MB of blobs) but not 100 MB more."""
    extra = ", disk: 300MB"
    result = run_text(scenario("[{run: {image: nginx, duration: 1s, writes: 100MB, name: w}}]", extra=extra))
    [job] = result.jobs
    assert job.error == "container w exited with code 1"


def test_memory_limit_below_six_megabytes_is_refused() -> None:
    with pytest.raises(ScenarioError, match="Minimum memory limit allowed is 6MB"):
        run_text(scenario("[{run: {image: nginx, memory: 4MB}}]"))


@pytest.mark.parametrize("written", ["exit_code: 1", "fail_probability: 0.5"])
def test_an_exit_of_a_detached_server_that_never_exits_is_refused(written: str) -> None:
    """A detached run without duration or cpu_time is a server that runs until stopped; an exit code (or a
    failure chance) for an exit it never makes would be silently ignored, so it is refused (write the run's
    duration: `duration: 0s` for a process that fails at once)."""
    with pytest.raises(ScenarioError, match=r"steps\[0\]\.run: .* needs a run that ends"):
        run_text(scenario(f"[{{run: {{image: nginx, detach: true, {written}}}}}]"))



@pytest.mark.parametrize("step", ["run: {image: nginx, duration: inf, exit_code: 2}",
                                  "create: {image: nginx, exit_code: 2}"])
def test_an_exit_code_of_a_process_that_never_exits_is_refused(step: str) -> None:
    """`duration: inf` (a create's default) without cpu_time never exits by itself: its exit_code would be
    silently ignored (a stop gives stop_exit_code, a kill 137), so it is refused as fail_probability is."""
    with pytest.raises(ScenarioError, match=r"exit_code needs a run that ends: a finite duration or a cpu_time"):
        run_text(scenario(f"[{{{step}}}]"))
