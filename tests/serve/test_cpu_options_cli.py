"""The CPU options of ``docker run`` / ``create`` / ``update`` against ``dsim serve``, with the real docker CLI:
``--cpu-quota``/``--cpu-period`` and ``--cpuset-cpus`` cap the container's CPU, ``--cpu-shares`` weights it
under contention, and what dockerd refuses is refused in its words (moby v28.5.2 daemon/daemon_unix.go
``verifyPlatformContainerResources``). The CLI sends each option as given (docker/cli
cli/command/container/opts.go checks none of them): the daemon's checks are the ones the user sees.

CPU-bound work is ``-l dsim.cpu_time=...`` (CPU-seconds on the host's processor-sharing scheduler), its
runnable threads ``-l dsim.threads=N`` (default: 1, or the quota's cap rounded up, as for ``--cpus``). The host has
4 cores and runs one container at a time here, so a run takes cpu_time / min(cap, threads, 4) simulated
seconds, read back from ``docker inspect``'s StartedAt and FinishedAt (a simulated duration shows there
divided by ``--speed``). Each test removes its containers, so every test runs alone and in any order.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest

from tests.serve.test_docker_cli import SCENARIO, ServeProcess, docker, needs_cli

SPEED = 50.0

pytestmark = needs_cli


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    proc = ServeProcess(tmp_path_factory.mktemp("serve-cpu"), speed=SPEED, scenario=SCENARIO)
    assert docker(proc, "pull", "alpine").returncode == 0
    yield proc
    proc.stop()


@pytest.fixture
def made(server: ServeProcess) -> Iterator[list[str]]:
    """The names of the containers a test makes: removed when it ends, passed or failed."""
    names: list[str] = []
    yield names
    if names:
        docker(server, "rm", "-f", *names)


def _stamp(text: str) -> float:
    whole, _, fraction = text.rstrip("Z").partition(".")
    return datetime.fromisoformat(whole + "+00:00").timestamp() + float(f"0.{fraction or 0}")


def run_time(server: ServeProcess, made: list[str], name: str, *options: str) -> float:
    """Simulated seconds the foreground ``docker run`` of ``true`` with ``options`` ran, from inspect."""
    made.append(name)
    result = docker(server, "run", "--name", name, *options, "alpine", "true")
    assert result.returncode == 0, result.stderr
    started, finished = docker(server, "inspect", "-f", "{{.State.StartedAt}} {{.State.FinishedAt}}",
                               name).stdout.split()
    return (_stamp(finished) - _stamp(started)) * SPEED


def test_the_host_has_four_cores(server: ServeProcess) -> None:
    assert docker(server, "info", "--format", "{{.NCPU}}").stdout.strip() == "4"


def test_cpu_quota_caps_cpu_bound_work(server: ServeProcess, made: list[str]) -> None:
    """10 CPU-seconds: 10 s on one core uncapped; --cpu-quota 50000 over the default 100 ms period is half
    a core (20 s), as --cpus 0.5 is; 25000 over 50000 too; 200000 over 100000 is 2 cores, as --cpus 2: its
    workload has 2 threads by default (5 s), and a 1-thread one cannot use the second core (10 s)."""
    work = ("-l", "dsim.cpu_time=10s")
    assert run_time(server, made, "q-none", *work) == pytest.approx(10.0, abs=1e-3)
    assert run_time(server, made, "q-half", "--cpu-quota", "50000", *work) == pytest.approx(20.0, abs=1e-3)
    assert run_time(server, made, "q-cpus", "--cpus", "0.5", *work) == pytest.approx(20.0, abs=1e-3)
    assert run_time(server, made, "q-period", "--cpu-quota", "25000", "--cpu-period", "50000",
                    *work) == pytest.approx(20.0, abs=1e-3)
    assert run_time(server, made, "q-two", "--cpu-quota", "200000", "--cpu-period", "100000",
                    *work) == pytest.approx(5.0, abs=1e-3)
    assert run_time(server, made, "q-two-1t", "--cpu-quota", "200000", "--cpu-period", "100000", *work,
                    "-l", "dsim.threads=1") == pytest.approx(10.0, abs=1e-3)


def test_no_quota_limits_nothing(server: ServeProcess, made: list[str]) -> None:
    """--cpu-quota -1 is no limit (cgroup v2's ``max``), a period alone neither."""
    work = ("-l", "dsim.cpu_time=8s", "-l", "dsim.threads=4")
    assert run_time(server, made, "nq-minus", "--cpu-quota", "-1", *work) == pytest.approx(2.0, abs=1e-3)
    assert run_time(server, made, "nq-period", "--cpu-period", "50000", *work) == pytest.approx(2.0, abs=1e-3)


def test_cpuset_cpus_caps_at_its_cpu_count(server: ServeProcess, made: list[str]) -> None:
    """A 4-thread process of 8 CPU-seconds on 4 cores: 2 s; pinned to CPU 0, one core (8 s); to 0-1, two
    (4 s); with --cpus 0.5 as well, the smaller cap (16 s)."""
    work = ("-l", "dsim.cpu_time=8s", "-l", "dsim.threads=4")
    assert run_time(server, made, "cs-none", *work) == pytest.approx(2.0, abs=1e-3)
    assert run_time(server, made, "cs-0", "--cpuset-cpus", "0", *work) == pytest.approx(8.0, abs=1e-3)
    assert run_time(server, made, "cs-01", "--cpuset-cpus", "0-1", *work) == pytest.approx(4.0, abs=1e-3)
    assert run_time(server, made, "cs-cpus", "--cpuset-cpus", "0-1", "--cpus", "0.5",
                    *work) == pytest.approx(16.0, abs=1e-3)


def test_cpuset_of_every_cpu_does_not_add_threads(server: ServeProcess, made: list[str]) -> None:
    """A 1-thread process pinned to 4 CPUs still runs on one core at a time (8 s)."""
    assert run_time(server, made, "cs-all", "--cpuset-cpus", "0-3", "-l",
                    "dsim.cpu_time=8s") == pytest.approx(8.0, abs=1e-3)


def test_inspect_shows_the_cpu_options_as_set(server: ServeProcess, made: list[str]) -> None:
    made.append("cpu-shown")
    created = docker(server, "create", "--name", "cpu-shown", "--cpu-quota", "50000", "--cpu-period", "200000",
                     "--cpuset-cpus", "1,3", "--cpuset-mems", "0", "--cpu-shares", "1024", "alpine", "true")
    assert created.returncode == 0, created.stderr
    shown = docker(server, "inspect", "-f", "{{.HostConfig.CpuQuota}} {{.HostConfig.CpuPeriod}} "
                   "{{.HostConfig.CpusetCpus}} {{.HostConfig.CpusetMems}} {{.HostConfig.CpuShares}} "
                   "{{.HostConfig.NanoCpus}}", "cpu-shown")
    assert shown.stdout.split() == ["50000", "200000", "1,3", "0", "1024", "0"]


@pytest.mark.parametrize(("options", "said"), [
    (["--cpus", "1", "--cpu-quota", "50000"], "Conflicting options: Nano CPUs and CPU Quota cannot both be set"),
    (["--cpus", "1", "--cpu-period", "50000"], "Conflicting options: Nano CPUs and CPU Period cannot both be set"),
    (["--cpu-period", "500"], "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"),
    (["--cpu-period", "2000000"],
     "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"),
    (["--cpu-quota", "999"], "CPU cfs quota can not be less than 1ms (i.e. 1000)"),
    (["--cpus", "5"], "range of CPUs is from 0.01 to 4.00, as there are only 4 CPUs available"),
    (["--cpuset-cpus", "0-x"], "Invalid value 0-x for cpuset cpus: invalid format: 0-x"),
    (["--cpuset-cpus", "4"], "Requested CPUs are not available - requested 4, available: 0-3"),
    (["--cpuset-mems", "1"], "Requested memory nodes are not available - requested 1, available: 0"),
])
def test_dockerds_refusals_exit_125_with_its_words(server: ServeProcess, made: list[str], options: list[str],
                                                    said: str) -> None:
    made.append("cpu-refused")
    result = docker(server, "run", "--name", "cpu-refused", *options, "alpine", "true")
    assert (result.returncode, result.stdout) == (125, "")
    assert result.stderr == (f"docker: Error response from daemon: {said}\n\n"
                             "Run 'docker run --help' for more information\n")
    assert "cpu-refused" not in docker(server, "ps", "-a", "--format", "{{.Names}}").stdout.split()


#: one core, a start path that costs nothing (runtime steps, API calls): two containers' CPU work is all it runs
ONE_CORE = SCENARIO.replace("    daemon: {api_service_time: 0s}\n", "    cpus: 1\n    daemon: {api_service_time: 0s}\n"
                            "    runtime: {create: 0s, mount: 0s, netns: 0s, start: 0s, exec: 0s}\n")
WEIGHT_SPEED = 10.0


@pytest.fixture
def one_core(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    """A fresh server of one core (this test's two containers alone on it)."""
    proc = ServeProcess(tmp_path_factory.mktemp("serve-shares"), speed=WEIGHT_SPEED, scenario=ONE_CORE)
    assert docker(proc, "pull", "alpine").returncode == 0
    yield proc
    proc.stop()


def _span(server: ServeProcess, name: str) -> tuple[float, float]:
    """(StartedAt, FinishedAt) of ``name`` in simulated seconds."""
    started, finished = docker(server, "inspect", "-f", "{{.State.StartedAt}} {{.State.FinishedAt}}",
                               name).stdout.split()
    return _stamp(started) * WEIGHT_SPEED, _stamp(finished) * WEIGHT_SPEED


def test_cpu_shares_weight_contention(one_core: ServeProcess) -> None:
    """--cpu-shares 1024 and 512, 5 CPU-s each on one core, started a moment d apart (the heavier first): the
    heavier runs alone for d, then gets 100/159 of the core (cgroup v2 weights by runc 1.3.2+: 1024 -> 100, 512 ->
    59; docs/containers.md), so it ends at s_light + 1.59 (5 - d); the lighter ends
    at s_heavy + 10, the core never idle in between (weights share the CPU out, they add none)."""
    work = ("-l", "dsim.cpu_time=5s", "--network", "none", "alpine", "true")
    for name, shares in (("heavy", "1024"), ("light", "512")):
        assert docker(one_core, "create", "--name", name, "--cpu-shares", shares, *work).returncode == 0
    assert docker(one_core, "start", "heavy", "light").returncode == 0
    assert docker(one_core, "wait", "heavy", "light").stdout.split() == ["0", "0"]
    (s_heavy, e_heavy), (s_light, e_light) = _span(one_core, "heavy"), _span(one_core, "light")
    d = s_light - s_heavy
    assert 0 <= d < 1.0
    assert e_heavy == pytest.approx(s_light + 1.59 * (5.0 - d), abs=0.02)
    assert e_light == pytest.approx(s_heavy + 10.0, abs=0.02)
    assert e_heavy < e_light - 1.0
    shown = docker(one_core, "inspect", "-f", "{{.HostConfig.CpuShares}}", "light").stdout.strip()
    assert shown == "512"


def test_negative_cpu_shares_are_dockerds_400(server: ServeProcess, made: list[str]) -> None:
    made.append("shares-neg")
    result = docker(server, "run", "--name", "shares-neg", "--cpu-shares", "-5", "alpine", "true")
    assert result.returncode == 125
    assert result.stderr.startswith("docker: Error response from daemon: shares: invalid argument")


def test_update_checks_as_dockerd_then_changes_the_limits(server: ServeProcess, made: list[str]) -> None:
    """``docker update``: dockerd's checks of the values sent first (its 400 in its words, nothing changed), its
    409 for a quota where NanoCpus is kept (moby container/container_unix.go UpdateContainer), then the change,
    which inspect shows; the CLI prints the container's name, then dockerd's warnings."""
    made.append("cpu-upd")
    assert docker(server, "run", "-d", "--name", "cpu-upd", "alpine", "sleep", "100").returncode == 0
    bad = docker(server, "update", "--cpu-quota", "500", "cpu-upd")
    assert bad.returncode == 1
    assert "Error response from daemon: CPU cfs quota can not be less than 1ms (i.e. 1000)" in bad.stderr
    both = docker(server, "update", "--cpus", "1", "--cpu-period", "50000", "cpu-upd")
    assert "Conflicting options: Nano CPUs and CPU Period cannot both be set" in both.stderr
    change = docker(server, "update", "--cpu-quota", "50000", "--cpuset-cpus", "0", "--cpu-shares", "512", "cpu-upd")
    assert (change.returncode, change.stdout, change.stderr) == (0, "cpu-upd\n", "")
    shown = docker(server, "inspect", "-f", "{{.HostConfig.CpuQuota}} {{.HostConfig.CpusetCpus}} "
                   "{{.HostConfig.CpuShares}}", "cpu-upd")
    assert shown.stdout.split() == ["50000", "0", "512"]
    ident = docker(server, "inspect", "-f", "{{.Id}}", "cpu-upd").stdout.strip()
    nano = docker(server, "update", "--cpus", "1", "cpu-upd")
    assert nano.returncode == 1
    assert nano.stderr.strip() == (f"Error response from daemon: Cannot update container {ident}: Conflicting "
                                   "options: Nano CPUs cannot be updated as CPU Quota has already been set")


def test_update_of_a_running_container_changes_its_cap_at_once(server: ServeProcess, made: list[str]) -> None:
    """A 4-thread process of 100 CPU-seconds under --cpus 1, updated to --cpus 2 after t simulated seconds
    (t: whatever the wall clock makes it, under 2 s of wall time): 1 core until t, then 2, so the run takes
    t + (100 - t) / 2 = 50 + t / 2: more than 50 s (it ran capped at 1 for a while), less than 100 s (the new cap
    applied to the running process). The exact times are tests/serve/test_update.py's, in simulated time."""
    made.append("cpu-live")
    assert docker(server, "run", "-d", "--name", "cpu-live", "--cpus", "1", "-l", "dsim.cpu_time=100s", "-l",
                  "dsim.threads=4", "alpine", "true").returncode == 0
    assert docker(server, "update", "--cpus", "2", "cpu-live").returncode == 0
    assert docker(server, "wait", "cpu-live").stdout.strip() == "0"
    started, finished = docker(server, "inspect", "-f", "{{.State.StartedAt}} {{.State.FinishedAt}}",
                               "cpu-live").stdout.split()
    took = (_stamp(finished) - _stamp(started)) * SPEED
    assert 50.0 < took < 99.0


def test_update_of_memory_and_pids_as_dockerd(server: ServeProcess, made: list[str]) -> None:
    """--memory 64m keeps a 128m memory+swap (twice); --memory 256m alone is UpdateContainer's 409 in its words;
    with --memory-swap it is taken, and --pids-limit with it, as inspect shows."""
    made.append("mem-upd")
    ident = docker(server, "run", "-d", "--name", "mem-upd", "--memory", "64m", "alpine", "sleep", "100").stdout
    alone = docker(server, "update", "--memory", "256m", "mem-upd")
    assert (alone.returncode, alone.stderr) == (1, f"Error response from daemon: Cannot update container "
                                                   f"{ident.strip()}: Memory limit should be smaller than already "
                                                   "set memoryswap limit, update the memoryswap at the same time\n")
    both = docker(server, "update", "--memory", "256m", "--memory-swap", "512m", "--pids-limit", "50", "mem-upd")
    assert (both.returncode, both.stdout) == (0, "mem-upd\n")
    shown = docker(server, "inspect", "-f", "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} "
                   "{{.HostConfig.PidsLimit}}", "mem-upd").stdout.split()
    assert shown == [str(256 * 2**20), str(512 * 2**20), "50"]


def test_cpu_percent_is_the_clis_own_refusal_on_linux(server: ServeProcess) -> None:
    """The CLI hides and refuses Windows's flags when the daemon's Ostype is linux (docker/cli
    cmd/docker/docker.go), so --cpu-percent never reaches dsim serve, as it never reaches dockerd on Linux."""
    result = docker(server, "run", "--cpu-percent", "50", "alpine", "true")
    assert (result.returncode, result.stderr) == (1, '"--cpu-percent" is only supported on a Docker daemon running '
                                                     "on windows, but the Docker daemon is running on linux\n")
