"""``dsim serve``'s networks and volumes (dsim/serve/objects.py) driven by the real docker CLI and the SDK.

The scenario: one host with every runtime cost at its default, API calls free, the disk infinitely fast;
``nginx:1.25`` is preloaded so no test pulls. Expectations follow dockerd's rules (docs/networks-storage.md):
user networks take 172.18.0.0/16 then 172.19.0.0/16, addresses go lowest first from .2, a /30 holds one
container, a network with a running container or a volume a container uses cannot be removed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.serve.test_docker_cli import ServeProcess, docker, needs_cli

if TYPE_CHECKING:
    import docker as sdk
else:
    sdk = pytest.importorskip("docker", reason="the Python docker SDK is a test dependency")

SCENARIO = """\
name: serve-objects
hosts:
  docker:
    daemon: {api_service_time: 0s}
    storage: {write_rate: inf}
    preloaded: ["nginx:1.25", "redis:7.4"]
    volumes: [seeded]
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    proc = ServeProcess(tmp_path_factory.mktemp("serve-objects"), speed=20.0, scenario=SCENARIO)
    yield proc
    proc.stop()


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[ServeProcess]:
    """A server of this test's own: for a test that lists every network or volume, whatever others made."""
    proc = ServeProcess(tmp_path, speed=20.0, scenario=SCENARIO)
    yield proc
    proc.stop()


@needs_cli
def test_network_ls_lists_the_predefined_networks(fresh: ServeProcess) -> None:
    server = fresh
    result = docker(server, "network", "ls", "--format", "{{.Name}} {{.Driver}} {{.Scope}}")
    assert result.returncode == 0, result.stderr
    assert sorted(result.stdout.splitlines()) == ["bridge bridge local", "host host local", "none null local"]


@needs_cli
def test_network_create_inspect_run_and_rm(server: ServeProcess) -> None:
    created = docker(server, "network", "create", "app")
    assert created.returncode == 0, created.stderr
    assert len(created.stdout.strip()) == 64
    subnet = docker(server, "network", "inspect", "app", "--format", "{{(index .IPAM.Config 0).Subnet}}")
    assert subnet.stdout.strip() == "172.18.0.0/16"  # the first free default pool after the bridge's
    again = docker(server, "network", "create", "app")
    assert again.returncode == 1
    assert "Error response from daemon: network with name app already exists" in again.stderr
    run = docker(server, "run", "-d", "--name", "web", "--network", "app", "nginx:1.25")
    assert run.returncode == 0, run.stderr
    members = json.loads(docker(server, "network", "inspect", "app", "--format", "{{json .Containers}}").stdout)
    assert [(m["Name"], m["IPv4Address"]) for m in members.values()] == [("web", "172.18.0.2/16")]
    busy = docker(server, "network", "rm", "app")
    assert busy.returncode == 1
    short = run.stdout.strip()[:12]
    assert (f'Error response from daemon: error while removing network: network app has active endpoints '
            f'(name:"web" id:"{short}")') in busy.stderr
    assert docker(server, "rm", "-f", "web").returncode == 0
    assert docker(server, "network", "rm", "app").returncode == 0
    gone = docker(server, "network", "inspect", "app")
    assert "network app not found" in gone.stderr


@needs_cli
def test_a_slash_30_network_holds_one_container(server: ServeProcess) -> None:
    assert docker(server, "network", "create", "--subnet", "10.7.0.0/30", "tiny").returncode == 0
    first = docker(server, "run", "-d", "--name", "t1", "--network", "tiny", "nginx:1.25")
    assert first.returncode == 0, first.stderr
    second = docker(server, "run", "-d", "--name", "t2", "--network", "tiny", "nginx:1.25")
    assert second.returncode != 0
    assert "no available IPv4 addresses on this network's address pools: tiny" in second.stderr


@needs_cli
def test_predefined_networks_cannot_be_removed(server: ServeProcess) -> None:
    result = docker(server, "network", "rm", "bridge")
    assert "bridge is a pre-defined network and cannot be removed" in result.stderr


@needs_cli
def test_volumes_create_ls_in_use_and_rm(fresh: ServeProcess) -> None:
    server = fresh
    assert docker(server, "volume", "create", "data").stdout.strip() == "data"
    listed = docker(server, "volume", "ls", "--format", "{{.Driver}} {{.Name}}")
    assert sorted(listed.stdout.splitlines()) == ["local data", "local seeded"]
    run = docker(server, "run", "-d", "--name", "db", "-v", "data:/var/lib/data", "nginx:1.25")
    assert run.returncode == 0, run.stderr
    busy = docker(server, "volume", "rm", "data")
    assert f"Error response from daemon: remove data: volume is in use - [{run.stdout.strip()}]" in busy.stderr
    assert docker(server, "rm", "-f", "-v", "db").returncode == 0
    assert "data" in docker(server, "volume", "ls", "-q").stdout.split()  # a named volume survives rm -v
    assert docker(server, "volume", "rm", "data").returncode == 0
    missing = docker(server, "volume", "inspect", "data")
    assert "get data: no such volume" in missing.stderr


@needs_cli
def test_run_on_the_host_network_publishes_nothing(server: ServeProcess) -> None:
    """dockerd discards published ports in host mode (the process binds the host's ports itself)."""
    run = docker(server, "run", "-d", "--name", "hostnet", "--network", "host", "-p", "8080:80", "nginx:1.25")
    assert run.returncode == 0, run.stderr
    ports = docker(server, "ps", "--filter", "name=hostnet", "--format", "{{.Names}}:{{.Ports}}")
    assert ports.stdout.startswith("hostnet:") and "8080" not in ports.stdout
    assert docker(server, "rm", "-f", "hostnet").returncode == 0


def test_sdk_networks_and_volumes(server: ServeProcess) -> None:
    client = sdk.DockerClient(base_url=server.address, version="auto", timeout=60)
    try:
        network = client.networks.create("sdknet")
        assert network.attrs["IPAM"]["Config"][0]["Subnet"].endswith(".0.0/16")
        container = client.containers.run("nginx:1.25", detach=True, name="sdk1", network="sdknet")
        network.reload()
        assert [c["Name"] for c in network.attrs["Containers"].values()] == ["sdk1"]
        with pytest.raises(sdk.errors.APIError) as err:
            network.remove()
        assert err.value.status_code == 403
        container.remove(force=True)
        network.remove()
        volume = client.volumes.create("sdkvol")
        assert volume.attrs["Mountpoint"] == "/var/lib/docker/volumes/sdkvol/_data"
        assert "sdkvol" in [v.name for v in client.volumes.list()]
        volume.remove()
        with pytest.raises(sdk.errors.NotFound):
            client.volumes.get("sdkvol")
        with pytest.raises(sdk.errors.NotFound):
            client.networks.get("nope")
    finally:
        client.close()


@needs_cli
def test_inspect_shows_the_containers_network_address_and_mounts(server: ServeProcess) -> None:
    assert docker(server, "network", "create", "--subnet", "10.8.0.0/24", "insp").returncode == 0
    run = docker(server, "run", "-d", "--name", "inspected", "--network", "insp", "-v", "seeded:/seed",
                 "nginx:1.25")
    assert run.returncode == 0, run.stderr
    address = docker(server, "inspect", "inspected", "--format", "{{.NetworkSettings.Networks.insp.IPAddress}}")
    assert address.stdout.strip() == "10.8.0.2"  # the first address after the gateway .1
    mounts = json.loads(docker(server, "inspect", "inspected", "--format", "{{json .Mounts}}").stdout)
    assert [(m["Type"], m["Name"], m["Destination"]) for m in mounts] == [("volume", "seeded", "/seed")]
    assert docker(server, "rm", "-f", "inspected").returncode == 0


@needs_cli
def test_run_rm_takes_its_anonymous_volume_with_it(server: ServeProcess) -> None:
    """`-v /scratch` makes an anonymous volume; `--rm` removes the container and its anonymous volumes."""
    before = set(docker(server, "volume", "ls", "-q").stdout.split())
    run = docker(server, "run", "--rm", "-l", "dsim.duration=1s", "-v", "/scratch", "nginx:1.25")
    assert run.returncode == 0, run.stderr
    after = set(docker(server, "volume", "ls", "-q").stdout.split())
    assert after == before
    kept = docker(server, "run", "-d", "--name", "keeps", "-v", "/scratch", "nginx:1.25")
    assert kept.returncode == 0, kept.stderr
    [anonymous] = set(docker(server, "volume", "ls", "-q").stdout.split()) - before
    assert len(anonymous) == 64  # an anonymous volume is named by 64 hex digits
    assert docker(server, "rm", "-f", "-v", "keeps").returncode == 0
    assert set(docker(server, "volume", "ls", "-q").stdout.split()) == before


@needs_cli
def test_an_images_volumes_get_anonymous_volumes_at_create(server: ServeProcess) -> None:
    """moby daemon/commit.go ``merge``: the image's Config.Volumes (redis:7.4's VOLUME /data; a built image's
    VOLUME) join the container's, and inspect's Config.Volumes shows them; daemon/create_unix.go
    createContainerOSSpecificSettings makes an anonymous volume for each destination no mount covers (its Mode
    empty: container.go AddMountPointWithVolume), which ``volume ls`` lists and ``rm -v`` removes. ``-v own:/data``
    covers /data: no anonymous volume, ``own`` mounted there and kept by ``rm -v`` (it is named)."""
    def volumes() -> set[str]:
        return set(docker(server, "volume", "ls", "-q").stdout.split())

    def mounts(name: str) -> list[tuple[str, str, str, str]]:
        shown = json.loads(docker(server, "inspect", "--format", "{{json .Mounts}}", name).stdout)
        return [(m["Type"], m["Name"], m["Destination"], m["Mode"]) for m in shown]

    before = volumes()
    assert docker(server, "create", "--name", "img-vol", "redis:7.4").returncode == 0
    [anonymous] = volumes() - before
    assert re.fullmatch(r"[0-9a-f]{64}", anonymous)
    assert mounts("img-vol") == [("volume", anonymous, "/data", "")]
    shown = docker(server, "inspect", "--format", "{{json .Config.Volumes}}", "img-vol").stdout
    assert json.loads(shown) == {"/data": {}}
    assert docker(server, "create", "--name", "img-vol-covered", "-v", "own:/data", "redis:7.4").returncode == 0
    assert volumes() - before == {anonymous, "own"}
    assert mounts("img-vol-covered") == [("volume", "own", "/data", "z")]
    context = server.tmp / "volume-image"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM nginx:1.25\nVOLUME /cache /logs\n")
    built = docker(server, "build", "-q", "-t", "with-volumes", str(context), env={"DOCKER_BUILDKIT": "0"})
    assert built.returncode == 0, built.stderr
    assert docker(server, "create", "--name", "built-vol", "-v", "/logs", "with-volumes").returncode == 0
    assert sorted(m[2] for m in mounts("built-vol")) == ["/cache", "/logs"]
    assert len(volumes() - before) == 4  # two more anonymous ones: /logs once, though both name it
    assert docker(server, "rm", "-v", "img-vol", "img-vol-covered", "built-vol").returncode == 0
    assert volumes() - before == {"own"}
    assert docker(server, "volume", "rm", "own").returncode == 0


@needs_cli
def test_system_df_lists_volumes_with_their_users(server: ServeProcess) -> None:
    """`docker system df -v`: the volumes section lists each volume, and a volume a container mounts has it
    as a user (RefCount)."""
    assert docker(server, "volume", "create", "df-data").returncode == 0
    run = docker(server, "run", "-d", "--name", "df-user", "-v", "df-data:/data", "nginx:1.25")
    assert run.returncode == 0, run.stderr
    result = docker(server, "system", "df", "-v", "--format", "{{json .Volumes}}")
    assert result.returncode == 0, result.stderr
    volumes = {v["Name"]: v for v in json.loads(result.stdout)}
    assert {"seeded", "df-data"} <= set(volumes)
    assert volumes["df-data"]["Links"] == "1" and volumes["seeded"]["Links"] == "0"  # the CLI prints strings
    docker(server, "rm", "-f", "df-user")


@needs_cli
def test_no_plugins_and_inspect_of_an_unknown_name(server: ServeProcess) -> None:
    """The daemon has no managed plugins: ``docker plugin ls`` shows none, a plugin's inspect is dockerd's 404, and
    ``docker inspect NAME`` of nothing, having asked each kind of object in turn (the plugin last), prints ``[]``
    and dockerd's "No such object" (exit 1), as a real daemon does. Filters are checked as dockerd checks them."""
    listed = docker(server, "plugin", "ls", "--format", "{{.Name}}")
    assert (listed.returncode, listed.stdout) == (0, "")
    missing = docker(server, "plugin", "inspect", "vieux/sshfs")
    assert missing.returncode == 1 and 'plugin "vieux/sshfs" not found' in missing.stderr
    nothing = docker(server, "inspect", "nosuch")
    assert (nothing.returncode, nothing.stdout.strip()) == (1, "[]")
    assert "No such object: nosuch" in nothing.stderr
    assert "invalid filter 'enabled=[maybe]'" in docker(server, "plugin", "ls", "--filter", "enabled=maybe").stderr
    assert "invalid filter 'colour'" in docker(server, "plugin", "ls", "--filter", "colour=red").stderr
    assert docker(server, "plugin", "ls", "--filter", "enabled=true").returncode == 0
