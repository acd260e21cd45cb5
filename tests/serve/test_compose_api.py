"""The Engine API pieces docker-compose 1.29 leans on, unit by unit, expectations worked out by hand: ``docker
diff`` from the writable-layer model, ``ps`` filters ``network=`` and ``volume=``, healthchecks (the probe
schedule, ``State.Health``, ``health_status`` events), networks' and volumes' labels, options and list
filters, endpoint aliases.

The in-process server's host preloads alpine:3.24 and writes at an infinite rate (a run's writes land at its
start). Made in this order: network ``net1`` (label team=a), volumes ``vol1`` (label keep=yes) and ``vol2``;
``app`` on net1 mounting vol1 at /data, writing 1 MB of new files and copying up 2 MB (started); ``box`` on
the default bridge with a bind mount /srv:/srv (started); ``cold`` on net1, created only. Lists are newest
first.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from dsim.serve import health
from dsim.serve.changes import layer_changes
from dsim.serve.commands import Context
from dsim.serve.server import Server, serve_scenario
from tests.helpers import run_text
from tests.serve import spec

SCENARIO = """\
name: compose-api
hosts:
  docker:
    daemon: {api_service_time: 0s}
    storage: {write_rate: inf}
    preloaded: ['alpine:3.24']
"""
SLEEP = ["sleep", "1000"]


# ---------------------------------------------------------------------------------------------- pure rules


def test_layer_changes_one_entry_per_kind_sorted_by_path() -> None:
    assert layer_changes(0.0, 0.0) == []
    assert layer_changes(1e6, 0.0) == [{"Path": "/dsim-written", "Kind": 1}]
    assert layer_changes(0.0, 5.0) == [{"Path": "/dsim-copied-up", "Kind": 0}]
    # "/dsim-c..." sorts before "/dsim-w...": the modified entry first
    assert layer_changes(1e6, 2e6) == [{"Path": "/dsim-copied-up", "Kind": 0}, {"Path": "/dsim-written", "Kind": 1}]


S = int(1e9)  # a second in the API's nanoseconds


def _decided(check: dict[str, Any]) -> tuple[float, str]:
    """When the runtime's health mechanism (components/health.py) first decides a check that ``step_options``
    made of ``check``, on a host whose starts and probes cost nothing: (time after the start, status)."""
    options = health.step_options(check, Context())
    runtime = "{create: 0s, mount: 0s, netns: 0s, start: 0s, exec: 0s, probe_exec: 0s}"
    result = run_text(f"""
        name: t
        hosts: {{h: {{daemon: {{api_service_time: 0s}}, preloaded: [alpine:3.24], runtime: {runtime}}}}}
        workloads:
          w:
            arrival: {{times: [0s]}}
            steps: [{{run: {{image: alpine:3.24, detach: true, healthcheck: {json.dumps(options)}}}}}]
    """)
    [span] = result.spans_of("health")
    status = span.attrs["status"]
    return (span.attrs["unhealthy_at"] if status == "unhealthy" else span.end) - span.start, status


def test_a_failing_check_in_a_start_period_counts_only_after_it() -> None:
    """Interval 10 s, start period 15 s, start interval 2 s, retries 3, ``exit 1``, probes costing nothing:
    inside the start period probes come every 2 s (2, 4, ..., 14, then 14 < 15 so 16); from 16 on every 10 s.
    Failures at 2..14 are inside the period and do not count; 16, 26, 36 count: unhealthy at 36 s."""
    check = {"Test": ["CMD-SHELL", "exit 1"], "Interval": 10 * S, "StartPeriod": 15 * S, "StartInterval": 2 * S,
             "Retries": 3}
    assert _decided(check) == (pytest.approx(36.0), "unhealthy")


def test_a_passing_check_is_healthy_at_its_first_probe() -> None:
    """Defaults (interval 30 s, no start period): the first probe at 30 s passes. With a start period the
    first probe comes one start interval (2 s) after the start."""
    assert _decided({"Test": ["CMD", "true"]}) == (pytest.approx(30.0), "healthy")
    assert _decided({"Test": ["CMD", "true"], "StartPeriod": 60 * S, "StartInterval": 2 * S}) == (
        pytest.approx(2.0), "healthy")


def test_probe_commands_are_read_as_container_commands() -> None:
    context = Context()
    assert health.probe_passes({"Test": ["CMD", "redis-cli", "ping"]}, context) == (True, "")
    assert health.probe_passes({"Test": ["CMD-SHELL", "echo ok"]}, context) == (True, "ok\n")
    assert health.probe_passes({"Test": ["CMD-SHELL", "exit 2"]}, context)[0] is False
    # sleep 5 against a 1 s timeout: moby kills the probe, a failure
    assert health.probe_passes({"Test": ["CMD", "sleep", "5"], "Timeout": 1 * S}, context)[0] is False
    assert health.step_options({"Test": ["NONE"]}, context) is None
    assert health.step_options({"Test": ["CMD", "true"], "Interval": 5 * S, "Retries": 2}, context) == {
        "interval": "5.0s", "timeout": "30.0s", "start_period": "0.0s", "start_interval": "5.0s", "retries": 2,
        "time_to_healthy": "0s"}


# ---------------------------------------------------------------------------------------------- over HTTP


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    path: Path = tmp_path_factory.mktemp("compose-api") / "scenario.yaml"
    path.write_text(SCENARIO)
    server = Server(serve_scenario(path), port=0, speed=100.0)
    server.start()
    base = server.address.replace("tcp://", "http://") + "/v1.50"
    try:
        assert spec.get(base, "/networks/create", "POST", {"Name": "net1", "Labels": {"team": "a"},
                                                            "Options": {"mtu": "1400"}})[0] == 201
        assert spec.get(base, "/volumes/create", "POST", {"Name": "vol1", "Labels": {"keep": "yes"}})[0] == 201
        assert spec.get(base, "/volumes/create", "POST", {"Name": "vol2"})[0] == 201
        _create(base, "app", {"Image": "alpine:3.24", "Cmd": SLEEP,
                            "Labels": {"dsim.writes": "1MB", "dsim.copy_up": "2MB"},
                            "HostConfig": {"NetworkMode": "net1", "Binds": ["vol1:/data"]}}, start=True)
        _create(base, "box", {"Image": "alpine:3.24", "Cmd": SLEEP, "HostConfig": {"Binds": ["/srv:/srv"]}},
                start=True)
        _create(base, "cold", {"Image": "alpine:3.24", "Cmd": SLEEP, "HostConfig": {"NetworkMode": "net1"}})
        yield base
    finally:
        server.stop()


@pytest.fixture
def create(url: str) -> Iterator[Callable[..., None]]:
    """``_create`` on the module's server for one test, its containers removed after it: the lists other tests
    read (ps filters by network or health) hold the module's own containers only, in any order."""
    names: list[str] = []

    def make(name: str, body: dict[str, Any], *, start: bool = False) -> None:
        _create(url, name, body, start=start)
        names.append(name)

    yield make
    for name in names:
        spec.get(url, f"/containers/{name}?force=1", "DELETE")


def _create(url: str, name: str, body: dict[str, Any], *, start: bool = False) -> None:
    status, created = spec.get(url, f"/containers/create?name={name}", "POST", body)
    assert status == 201, created
    if start:
        assert spec.get(url, f"/containers/{name}/start", "POST")[0] == 204


def _until(probe: Callable[[], Any], seconds: float = 20.0) -> Any:
    """Poll until ``probe`` answers something true (simulated time passes meanwhile)."""
    deadline = time.monotonic() + seconds
    while True:
        value = probe()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.02)


def _names(url: str, path: str, filters: dict[str, list[str]], key: str = "Name") -> list[str]:
    status, body = spec.get(url, f"{path}?filters={quote(json.dumps(filters))}&all=1")
    assert status == 200, body
    items = body["Volumes"] if isinstance(body, dict) else body
    return [item["Names"][0].lstrip("/") if key == "Names" else item[key] for item in items]


@pytest.mark.parametrize(("filters", "names"), [
    ({"network": ["net1"]}, ["cold", "app"]),          # configured on it, started or not
    ({"network": ["bridge"]}, ["box"]),
    ({"network": ["nosuch"]}, []),
    ({"volume": ["vol1"]}, ["app"]),                # by volume name
    ({"volume": ["/data"]}, ["app"]),               # by destination
    ({"volume": ["/srv"]}, ["box"]),                # a bind: its source (and here its destination)
    ({"volume": ["vol2"]}, []),
    ({"network": ["net1"], "volume": ["vol1"]}, ["app"]),
])
def test_ps_filters_network_and_volume(url: str, filters: dict[str, list[str]], names: list[str]) -> None:
    assert _names(url, "/containers/json", filters, "Names") == names


def test_ps_filter_network_takes_an_id_prefix(url: str) -> None:
    ident = spec.get(url, "/networks/net1")[1]["Id"]
    assert _names(url, "/containers/json", {"network": [ident[:6]]}, "Names") == ["cold", "app"]


def test_changes_list_the_writable_layer(url: str) -> None:
    # app wrote 1 MB of new files and copied up 2 MB: one entry of each kind; box wrote nothing
    changes = _until(lambda: spec.get(url, "/containers/app/changes")[1])
    assert changes == [{"Path": "/dsim-copied-up", "Kind": 0}, {"Path": "/dsim-written", "Kind": 1}]
    assert spec.get(url, "/containers/box/changes") == (200, [])
    assert spec.get(url, "/containers/nosuch/changes") == (404, {"message": "No such container: nosuch"})


def test_network_labels_options_and_list_filters(url: str) -> None:
    one = spec.get(url, "/networks/net1")[1]
    assert (one["Labels"], one["Options"]) == ({"team": "a"}, {"mtu": "1400"})
    assert spec.get(url, "/networks/create", "POST", {"Name": "net2"})[0] == 201
    assert _names(url, "/networks", {"label": ["team=a"]}) == ["net1"]
    assert sorted(_names(url, "/networks", {"type": ["builtin"]})) == ["bridge", "host", "none"]
    assert sorted(_names(url, "/networks", {"type": ["custom"]})) == ["net1", "net2"]
    assert _names(url, "/networks", {"dangling": ["true"]}) == ["net2"]   # net1 has app and cold; builtins never
    assert _names(url, "/networks", {"driver": ["null"]}) == ["none"]
    assert sorted(_names(url, "/networks", {"name": ["net"]})) == ["net1", "net2"]
    assert spec.get(url, "/networks?filters=" + quote('{"type": ["x"]}')) == (
        400, {"message": "invalid filter: 'type'='x'"})
    assert spec.get(url, "/networks?filters=" + quote('{"colour": ["x"]}')) == (
        400, {"message": "invalid filter 'colour'"})
    assert spec.get(url, "/networks/net2", "DELETE")[0] == 204


def test_volume_labels_and_list_filters(url: str) -> None:
    assert spec.get(url, "/volumes/vol1")[1]["Labels"] == {"keep": "yes"}
    assert _names(url, "/volumes", {"label": ["keep"]}) == ["vol1"]
    assert _names(url, "/volumes", {"dangling": ["true"]}) == ["vol2"]
    assert sorted(_names(url, "/volumes", {"name": ["vol"]})) == ["vol1", "vol2"]
    assert spec.get(url, "/volumes/create", "POST", {"Name": "x", "Driver": "nfs"}) == (
        404, {"message": 'error looking up volume plugin nfs: plugin "nfs" not found'})


def test_connect_keeps_aliases_and_dns_names(url: str) -> None:
    assert spec.get(url, "/networks/net1/connect", "POST",
                    {"Container": "box", "EndpointConfig": {"Aliases": ["bee"]}})[0] == 200
    inspected = spec.get(url, "/containers/box/json")[1]
    endpoint = inspected["NetworkSettings"]["Networks"]["net1"]
    assert endpoint["Aliases"] == ["bee"]
    assert endpoint["DNSNames"] == ["box", "bee", inspected["Id"][:12]]   # moby buildEndpointDNSNames
    assert spec.get(url, "/networks/net1/disconnect", "POST", {"Container": "box"})[0] == 200
    assert "net1" not in spec.get(url, "/containers/box/json")[1]["NetworkSettings"]["Networks"]


def test_a_failing_healthcheck_makes_the_container_unhealthy(url: str, create: Callable[..., None]) -> None:
    """``exit 1`` every 1 s, retries 2, no start period: failures at 1 s and 2 s, unhealthy at 2 s."""
    create("sick", {"Image": "alpine:3.24", "Cmd": SLEEP,
                          "Healthcheck": {"Test": ["CMD-SHELL", "exit 1"], "Interval": S, "Retries": 2}}, start=True)
    state = _until(lambda: (s := spec.get(url, "/containers/sick/json")[1]["State"])["Health"]["Status"]
                   == "unhealthy" and s)
    assert state["Health"]["FailingStreak"] >= 2
    assert {entry["ExitCode"] for entry in state["Health"]["Log"]} == {1}
    assert _names(url, "/containers/json", {"health": ["unhealthy"]}, "Names") == ["sick"]
    listed = spec.get(url, "/containers/json?filters=" + quote('{"name": ["sick"]}'))[1]
    assert listed[0]["Status"].endswith("(unhealthy)")
    config = spec.get(url, "/containers/sick/json")[1]["Config"]["Healthcheck"]
    assert config == {"Test": ["CMD-SHELL", "exit 1"], "Interval": S, "Retries": 2}
    events = spec.get(url, "/events?until=" + str(int(time.time()) + 1) + "&filters="
                      + quote('{"container": ["sick"], "event": ["health_status: unhealthy"]}'))
    assert events[0] == 200


def test_a_passing_healthcheck_makes_the_container_healthy(url: str, create: Callable[..., None]) -> None:
    create("fine", {"Image": "alpine:3.24", "Cmd": SLEEP,
                          "Healthcheck": {"Test": ["CMD", "true"], "Interval": S}}, start=True)
    assert _until(lambda: spec.get(url, "/containers/fine/json")[1]["State"]["Health"]["Status"] == "healthy")
    assert _names(url, "/containers/json", {"health": ["healthy"]}, "Names") == ["fine"]


@pytest.mark.parametrize(("check", "message"), [
    ({"Test": ["CMD", "true"], "Interval": 10}, "Interval in Healthcheck cannot be less than 1ms"),
    ({"Test": ["CMD", "true"], "Timeout": 999}, "Timeout in Healthcheck cannot be less than 1ms"),
    ({"Test": ["CMD", "true"], "Retries": -1}, "Retries in Healthcheck cannot be negative"),
])
def test_healthcheck_values_dockerd_refuses(url: str, check: dict[str, Any], message: str) -> None:
    status, body = spec.get(url, "/containers/create", "POST",
                            {"Image": "alpine:3.24", "Cmd": SLEEP, "Healthcheck": check})
    assert (status, body) == (400, {"message": message})


def test_the_new_answers_match_the_spec(url: str, create: Callable[..., None]) -> None:
    spec.spec()  # skips without the spec file
    _until(lambda: spec.get(url, "/containers/app/changes")[1])
    spec.check("GET", "/containers/{id}/changes", 200, spec.get(url, "/containers/app/changes")[1])
    create("checked", {"Image": "alpine:3.24", "Cmd": SLEEP,
                             "Healthcheck": {"Test": ["CMD", "true"], "Interval": S}}, start=True)
    _until(lambda: spec.get(url, "/containers/checked/json")[1]["State"]["Health"]["Log"])
    spec.check("GET", "/containers/{id}/json", 200, spec.get(url, "/containers/checked/json")[1])
    spec.check("GET", "/containers/json", 200, spec.get(url, "/containers/json?all=1")[1])
    spec.check("GET", "/networks", 200, spec.get(url, "/networks")[1])
    spec.check("GET", "/networks/{id}", 200, spec.get(url, "/networks/net1")[1])
    spec.check("GET", "/volumes", 200, spec.get(url, "/volumes")[1])


def test_image_inspect_keeps_the_deprecated_fields_below_api_1_45(url: str) -> None:
    """moby drops ``Container`` and ``ContainerConfig`` from image inspect from API 1.45 on; older clients
    (docker-compose 1.29 pinned to 1.44) still get them: empty for an image BuildKit built."""
    old = spec.get(url.replace("/v1.50", "/v1.44"), "/images/alpine:3.24/json")[1]
    assert old["Container"] == "" and old["ContainerConfig"]["Volumes"] is None
    assert "ContainerConfig" not in spec.get(url, "/images/alpine:3.24/json")[1]


@pytest.mark.parametrize(("path", "body"), [
    ("/containers/create", {"Image": "alpine:3.24", "Healthcheck": 5}),
    ("/containers/create", {"Image": "alpine:3.24", "NetworkingConfig": []}),
    ("/containers/create", {"Image": "alpine:3.24", "NetworkingConfig": {"EndpointsConfig": {"x": {"Aliases": 1}}}}),
    ("/networks/create", {"Name": "bad", "IPAM": []}),
    ("/networks/create", {"Name": "bad", "Labels": {"a": 1}}),
    ("/networks/net1/connect", {"Container": "box", "EndpointConfig": {"Aliases": "bee"}}),
])
def test_wrongly_typed_bodies_are_400s(url: str, path: str, body: dict[str, Any]) -> None:
    status, answer = spec.get(url, path, "POST", body)
    assert status == 400 and answer["message"].startswith("json: cannot unmarshal"), answer


def test_a_deleted_images_config_files_and_build_time_go_with_it(tmp_path: Path) -> None:
    # docker commit records the image's config, its files and when it was made; docker rmi of it (no container
    # uses it) deletes them with the image, as dockerd deletes an image's config: a long-running server that
    # commits and removes images keeps nothing of them. A second commit and an image prune do the same.
    path = tmp_path / "scenario.yaml"
    path.write_text(SCENARIO)
    server = Server(serve_scenario(path), port=0, speed=100.0)
    server.start()
    base = server.address.replace("tcp://", "http://") + "/v1.50"
    engine = server.engine
    try:
        _create(base, "src", {"Image": "alpine:3.24", "Cmd": SLEEP}, start=True)
        known = (set(engine.built), set(engine.image_configs.built), set(engine.image_files))
        for target in ("snap:1", "snap:2"):
            status, made = spec.get(base, f"/commit?container=src&repo={target.split(':')[0]}"
                                          f"&tag={target.split(':')[1]}", "POST")
            assert status == 201, made
            assert made["Id"] in engine.built and made["Id"] in engine.image_configs.built
        assert spec.get(base, "/images/snap:1", "DELETE")[0] == 200
        status, pruned = spec.get(base, "/images/prune?filters=" + quote('{"dangling":["false"]}'), "POST")
        assert status == 200, pruned
        assert (set(engine.built), set(engine.image_configs.built), set(engine.image_files)) == known
    finally:
        server.stop()
