"""What a container's commands see of the daemon's networks, driven by the real docker CLI: Docker's
tutorial (https://docs.docker.com/engine/network/tutorials/standalone/) pings containers by name on a
user-defined network, fails by name on the default bridge, and reaches no container of another network.

The scenario: one host, API calls free, alpine preloaded. Expectations: busybox ping's output (dsim/serve/ping.py)
with the network model's round trip on one host, 2 x (7.9 + 1.14) us = 18 us (0.018 ms); Docker's /etc/hosts
(moby etchosts.go's lines, then --add-host, then the container's own address and hostname); user networks from
172.18.0.0/16, addresses lowest first from .2. Each test makes its own network and containers.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

from tests.serve.test_docker_cli import ServeProcess, docker, needs_cli

SCENARIO = """\
name: serve-container-network
hosts:
  docker:
    daemon: {api_service_time: 0s}
    storage: {write_rate: inf}
    preloaded: ["alpine:3.24"]
"""
PING_HEADER = "PING {host} ({address}): 56 data bytes\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    proc = ServeProcess(tmp_path_factory.mktemp("serve-net"), speed=100.0, scenario=SCENARIO)
    yield proc
    proc.stop()


def _address(server: ServeProcess, container: str, network: str) -> str:
    found = docker(server, "inspect", "--format", f"{{{{.NetworkSettings.Networks.{network}.IPAddress}}}}", container)
    assert found.returncode == 0, found.stderr
    return found.stdout.strip()


@needs_cli
def test_ping_by_name_on_a_user_network_and_not_on_the_default_bridge(server: ServeProcess) -> None:
    assert docker(server, "network", "create", "tut").returncode == 0
    assert docker(server, "run", "-d", "--name", "alpine1", "--network", "tut", "alpine:3.24", "sleep", "1h"
                  ).returncode == 0
    address = _address(server, "alpine1", "tut")
    named = docker(server, "run", "--rm", "--network", "tut", "alpine:3.24", "ping", "-c", "2", "alpine1")
    assert named.returncode == 0, named.stderr
    assert named.stdout == (
        PING_HEADER.format(host="alpine1", address=address)
        + f"64 bytes from {address}: seq=0 ttl=64 time=0.018 ms\n"
        + f"64 bytes from {address}: seq=1 ttl=64 time=0.018 ms\n"
        + "\n--- alpine1 ping statistics ---\n2 packets transmitted, 2 packets received, 0% packet loss\n"
        + "round-trip min/avg/max = 0.018/0.018/0.018 ms\n")
    bridge = docker(server, "run", "--rm", "alpine:3.24", "ping", "-c", "2", "alpine1")
    assert bridge.returncode == 1
    assert bridge.stderr == "ping: bad address 'alpine1'\n"
    by_address = docker(server, "run", "--rm", "alpine:3.24", "ping", "-c", "1", "-W", "1", address)
    assert by_address.returncode == 1  # another network: isolated, nothing answers
    assert "1 packets transmitted, 0 packets received, 100% packet loss" in by_address.stdout
    docker(server, "rm", "-f", "alpine1")


@needs_cli
def test_etc_hosts_and_hostname_i_are_dockers(server: ServeProcess) -> None:
    started = docker(server, "run", "-d", "--name", "hosty", "--hostname", "box", "--add-host", "db.local:10.0.0.5",
                     "alpine:3.24", "sleep", "1h")
    assert started.returncode == 0, started.stderr
    address = _address(server, "hosty", "bridge")
    hosts = docker(server, "exec", "hosty", "cat", "/etc/hosts")
    assert hosts.stdout == ("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::\tip6-localnet\n"
                            "ff00::\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n"
                            f"10.0.0.5\tdb.local\n{address}\tbox\n")
    assert docker(server, "exec", "hosty", "hostname", "-i").stdout == f"{address}\n"
    assert docker(server, "exec", "hosty", "cat", "/etc/hostname").stdout == "box\n"
    unreachable = docker(server, "exec", "hosty", "ping", "-c", "1", "-W", "1", "db.local")
    assert unreachable.stdout.startswith("PING db.local (10.0.0.5): 56 data bytes\n")  # resolved, no Internet
    assert unreachable.returncode == 1
    docker(server, "rm", "-f", "hosty")


@needs_cli
def test_an_endless_ping_logs_each_second_and_ends_on_sigint_not_sigterm(server: ServeProcess) -> None:
    assert docker(server, "network", "create", "pingnet").returncode == 0
    assert docker(server, "run", "-d", "--name", "target", "--network", "pingnet", "alpine:3.24", "sleep", "1h"
                  ).returncode == 0
    assert docker(server, "run", "-d", "--name", "pinger", "--network", "pingnet", "alpine:3.24", "ping", "target"
                  ).returncode == 0
    time.sleep(0.2)  # 20 simulated seconds at --speed 100
    lines = docker(server, "logs", "pinger").stdout.splitlines()
    assert len(lines) >= 10
    assert lines[0] == PING_HEADER.format(host="target", address=_address(server, "target", "pingnet")).strip()
    assert [re.findall(r"seq=(\d+)", line) for line in lines[1:]] == [[str(n)] for n in range(len(lines) - 1)]
    assert docker(server, "kill", "-s", "INT", "pinger").returncode == 0  # busybox ping handles SIGINT: exit 0
    status = ""
    for _ in range(50):
        status = docker(server, "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", "pinger").stdout
        if status.startswith("exited"):
            break
        time.sleep(0.05)
    assert status.split() == ["exited", "0"]
    assert docker(server, "run", "-d", "--name", "pinger2", "alpine:3.24", "ping", "localhost").returncode == 0
    stopped = docker(server, "stop", "-t", "1", "pinger2")  # PID 1 without a SIGTERM handler: killed at the timeout
    assert stopped.returncode == 0
    assert docker(server, "inspect", "--format", "{{.State.ExitCode}}", "pinger2").stdout.strip() == "137"
    docker(server, "rm", "-f", "target", "pinger", "pinger2")


@needs_cli
def test_date_is_the_apis_clock(server: ServeProcess) -> None:
    before = time.time()
    shown = docker(server, "run", "--rm", "alpine:3.24", "date", "+%s")
    after = time.time()
    assert shown.returncode == 0, shown.stderr
    assert before - 2 <= int(shown.stdout) <= after + 1
    plain = docker(server, "run", "--rm", "alpine:3.24", "date")
    assert re.fullmatch(r"[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d UTC \d{4}\n", plain.stdout)


@needs_cli
def test_a_health_check_that_pings_a_peer(server: ServeProcess) -> None:
    """A probe's command sees the container's networks too: ping of a container on the same user network
    answers (healthy); of a name nothing resolves, busybox's error (unhealthy after its retries)."""
    assert docker(server, "network", "create", "hnet").returncode == 0
    assert docker(server, "run", "-d", "--name", "peer", "--network", "hnet", "alpine:3.24", "sleep", "1h"
                  ).returncode == 0
    for name, target in (("pinged", "peer"), ("lost", "nowhere")):
        started = docker(server, "run", "-d", "--name", name, "--network", "hnet", "--health-cmd",
                         f"ping -c 1 -W 1 {target}", "--health-interval", "1s", "--health-retries", "2",
                         "alpine:3.24", "sleep", "1h")
        assert started.returncode == 0, started.stderr
    status: dict[str, str] = {}
    for _ in range(100):
        status = {name: docker(server, "inspect", "--format", "{{.State.Health.Status}}", name).stdout.strip()
                  for name in ("pinged", "lost")}
        if "starting" not in status.values():
            break
        time.sleep(0.05)
    assert status == {"pinged": "healthy", "lost": "unhealthy"}
    said = docker(server, "inspect", "--format", "{{(index .State.Health.Log 0).Output}}", "lost").stdout
    assert "ping: bad address 'nowhere'" in said
    docker(server, "rm", "-f", "peer", "pinged", "lost")


@needs_cli
def test_inspect_shows_the_endpoint_ipam_config_an_ip_asked_for(server: ServeProcess) -> None:
    """dockerd keeps an endpoint's IPAMConfig as created and shows it, created or running: moby's
    EndpointIPAMConfig marshals only the fields given (``omitempty``: no IPv6Address, no LinkLocalIPs for
    ``--ip`` alone); an endpoint created without ``--ip`` has none (null), a disconnect drops it, and
    ``network connect`` keeps the one it sends."""
    assert docker(server, "network", "create", "--subnet", "10.11.0.0/24", "ipamnet").returncode == 0
    made = docker(server, "create", "--name", "ipamc", "--network", "ipamnet", "--ip", "10.11.0.9", "alpine",
                  "sleep", "60")
    assert made.returncode == 0, made.stderr
    assert docker(server, "run", "-d", "--name", "ipamplain", "--network", "ipamnet", "alpine",
                  "sleep", "60").returncode == 0
    shown = "{{json .NetworkSettings.Networks.ipamnet.IPAMConfig}}"
    assert docker(server, "inspect", "--format", shown, "ipamc").stdout == '{"IPv4Address":"10.11.0.9"}\n'
    assert docker(server, "start", "ipamc").returncode == 0
    assert docker(server, "inspect", "--format", shown, "ipamc").stdout == '{"IPv4Address":"10.11.0.9"}\n'
    assert _address(server, "ipamc", "ipamnet") == "10.11.0.9"
    assert docker(server, "inspect", "--format", shown, "ipamplain").stdout == "null\n"
    assert docker(server, "network", "disconnect", "ipamnet", "ipamc").returncode == 0
    # `network connect` always sends an IPAMConfig, empty without --ip (docker/cli cli/command/network/connect.go)
    assert docker(server, "network", "connect", "ipamnet", "ipamc").returncode == 0
    assert docker(server, "inspect", "--format", shown, "ipamc").stdout == "{}\n"
    assert docker(server, "network", "disconnect", "ipamnet", "ipamc").returncode == 0
    # with --ip the endpoint gets that address, running or at the next start
    assert docker(server, "network", "connect", "--ip", "10.11.0.33", "ipamnet", "ipamc").returncode == 0
    assert docker(server, "inspect", "--format", shown, "ipamc").stdout == '{"IPv4Address":"10.11.0.33"}\n'
    assert _address(server, "ipamc", "ipamnet") == "10.11.0.33"
    assert docker(server, "create", "--name", "ipamlater", "alpine", "sleep", "60").returncode == 0
    assert docker(server, "network", "connect", "--ip", "10.11.0.34", "ipamnet", "ipamlater").returncode == 0
    assert docker(server, "start", "ipamlater").returncode == 0
    assert _address(server, "ipamlater", "ipamnet") == "10.11.0.34"
    # refused as dockerd's updateNetworkConfig refuses it (validateEndpointSettings, no "invalid config" prefix)
    taken = docker(server, "network", "connect", "--ip", "10.12.0.4", "ipamnet", "ipamplain")
    assert taken.stderr.strip() == ("Error response from daemon: invalid endpoint settings:\n"
                                    "no configured subnet or ip-range contain the IP address 10.12.0.4")
    docker(server, "rm", "-f", "ipamc", "ipamplain", "ipamlater")
    docker(server, "network", "rm", "ipamnet")


@needs_cli
@pytest.mark.parametrize(("args", "network", "error"), [
    # dockerd names the default network's endpoint "bridge" before it validates it (container_routes.go)
    ([], "bridge", "user specified IP address is supported on user defined networks only"),
    (["--network", "ipchecks"], "ipchecks", "no configured subnet or ip-range contain the IP address 10.12.9.9"),
    (["--network", "ipnosubnet"], "ipnosubnet",
     "user specified IP address is supported only when connecting to networks with user configured subnets"),
])
def test_create_refuses_an_ip_as_dockerd_validates_the_endpoint(server: ServeProcess, args: list[str],
                                                                network: str, error: str) -> None:
    """moby's validateNetworkingConfig at create (daemon/create.go): ``invalid config for network NAME: invalid
    endpoint settings:`` then validateEndpointSettings' error; outside an existing network's subnet is refused
    there already (EndpointIPAMConfig.IsInRange), not at start."""
    docker(server, "network", "create", "--subnet", "10.12.0.0/24", "ipchecks")
    docker(server, "network", "create", "ipnosubnet")
    assert docker(server, "pull", "-q", "alpine").returncode == 0  # else create's 404 makes the CLI pull first
    refused = docker(server, "create", *args, "--ip", "10.12.9.9" if args else "172.17.0.9", "alpine", "true")
    assert refused.returncode != 0
    assert refused.stderr.strip() == (f"Error response from daemon: invalid config for network {network}: "
                                      f"invalid endpoint settings:\n{error}")
    docker(server, "network", "rm", "ipchecks", "ipnosubnet")
