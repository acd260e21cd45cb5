"""Service calls between containers (components/service_calls.py) against closed forms worked out by hand.

Every start cost is zero here (runtime, API, daemon locks), so the servers are up at t = 0 and the client's
container starts at its arrival; a call's time is then only its round trips, its bytes and the servers' CPU.
"""

from __future__ import annotations

import textwrap

import pytest

from dsim.errors import ScenarioError
from dsim.result import SimResult
from dsim.scenarios.loader import load_scenario_text
from tests.helpers import run_text

RUNTIME = ("{create: 0s, mount: 0s, netns: 0s, start: 0s, exec: 0s, "
           "cpu: {create: 0, mount: 0, netns: 0, start: 0, exec: 0}}")


def host(cpus: int = 4, bridge: str = "{bridge_rate: 1MB/s, bridge_latency: 1ms, loopback_latency: 0s}") -> str:
    """A host whose starts cost nothing (Docker 28's endpoint rule left out), with a user network `app` and the
    given bridge (its TCP stack's own latency 0 unless a test is about it)."""
    return (f"{{cpus: {cpus}, daemon: {{api_service_time: 0s, workers: 100, metadata_commit: 0s}}, "
            f'preloaded: ["nginx:1.25"], runtime: {RUNTIME}, networks: {{app: {{}}}}, '
            f'networking: {{{bridge.strip()[1:-1]}, endpoint_rules: 0}}}}')


def scenario(server: str, client: str, *, hosts: str | None = None, network: str = "",
             server_at: str = "", client_at: str = "") -> str:
    """A server workload at t = 0 and a client workload at t = 1 s, one run step each."""
    return f"""
    name: t
    hosts:
      {hosts or "h: " + host()}
    {network}
    workloads:
      server: {{arrival: {{times: [0s]}}, {server_at} steps: [{{run: {server}}}]}}
      client: {{arrival: {{times: [1s]}}, {client_at} steps: [{{run: {client}}}]}}
    """


def calls(result: SimResult) -> list:  # type: ignore[type-arg]
    return sorted(result.spans_of("service_call"), key=lambda span: (span.start, span.end))


DB = '{image: "nginx:1.25", name: db, detach: true, network: app}'


def test_one_call_on_an_idle_bridge_is_two_latencies_plus_bytes_over_the_rate_plus_the_server_cpu() -> None:
    """Bridge 1 ms one way at 1 MB/s; 1,000 bytes out, 100,000 back, 10 ms of server CPU:
    2 x 1 ms + 101,000 B / 1 MB/s + 10 ms = 2 + 101 + 10 = 113 ms; the client's run is exactly that."""
    client = '{image: "nginx:1.25", network: app, calls: [{to: db, request: 1000, response: 100000, server_cpu: 10ms}]}'
    result = run_text(scenario(DB, client))
    [call] = calls(result)
    assert call.start == pytest.approx(1.0)
    assert call.duration == pytest.approx(0.113)
    assert call.attrs == {"caller": "h-c2", "callee": "db", "route": "bridge", "bytes": 101000.0, "status": "ok"}
    [run] = [span for span in result.spans_of("run")]
    assert run.duration == pytest.approx(0.113)
    assert result.summary()["workloads"]["client"]["calls"]["db"]["p50_s"] == pytest.approx(0.113)


def test_a_process_with_calls_ends_when_they_and_its_duration_are_done() -> None:
    """Calls of 3 ms (one request: 2 x 1 ms + 1,000 B at 1 MB/s) beside a duration of 10 ms: the run takes
    10 ms; with a duration of 1 ms, 3 ms. A created container (duration inf) keeps running after its calls."""
    for duration, run in (("10ms", 0.010), ("1ms", 0.003)):
        client = f'{{image: "nginx:1.25", network: app, duration: {duration}, calls: [{{to: db, response: 1000}}]}}'
        [span] = run_text(scenario(DB, client)).spans_of("run")
        assert span.duration == pytest.approx(run)
    text = f"""
    name: t
    hosts:
      h: {host()}
    workloads:
      server: {{arrival: {{times: [0s]}}, steps: [{{run: {DB}}}]}}
      client: {{arrival: {{times: [1s]}}, steps: [{{create: {{image: "nginx:1.25", name: c, network: app,
                calls: [{{to: db, response: 1000}}]}}}}, {{start: {{container: c}}}}]}}
    """
    result = run_text(text)
    [call] = calls(result)
    assert call.duration == pytest.approx(0.003)
    [process] = [span for span in result.spans_of("process") if span.subject == "c"]
    assert process.attrs["status"] == "running"  # still running at the end of the simulation


def test_requests_one_after_another_each_take_the_closed_form() -> None:
    """Three requests on one connection: 3 x (2 x 1 ms + 1,000 B / 1 MB/s) = 3 x 3 ms = 9 ms, back to back."""
    client = '{image: "nginx:1.25", network: app, calls: [{to: db, requests: 3, response: 1000}]}'
    result = run_text(scenario(DB, client))
    assert [round(span.end - 1.0, 9) for span in calls(result)] == [0.003, 0.006, 0.009]


def test_a_host_across_the_topology_adds_its_links_latency_and_both_bridges() -> None:
    """The db on host b publishes 5432; the client on host a calls b:5432. Path: a's bridge (1 ms), a-lan
    (2 ms), lan-b (3 ms), b's bridge (1 ms): 7 ms one way, 14 ms round trip. Bytes: 100,000 B at the
    slowest link, lan-b at 0.5 MB/s: 200 ms. CPU 10 ms. Total 14 + 200 + 10 = 224 ms."""
    hosts = (f"a: {host(bridge='{bridge_rate: 1MB/s, bridge_latency: 1ms, loopback_latency: 0s}')}\n"
             f"      b: {host(bridge='{bridge_rate: 1MB/s, bridge_latency: 1ms, loopback_latency: 0s}')}")
    network = """network:
      links:
        - {a: hub, b: lan}
        - {a: lan, b: a, bandwidth: 1MB/s, latency: 2ms}
        - {a: lan, b: b, bandwidth: 0.5MB/s, latency: 3ms}"""
    server = '{image: "nginx:1.25", name: db, detach: true, ports: ["5432:5432"]}'
    client = '{image: "nginx:1.25", network: app, calls: [{to: "b:5432", response: 100000, server_cpu: 10ms}]}'
    result = run_text(scenario(server, client, hosts=hosts, network=network, server_at="placement: b,",
                               client_at="placement: a,"))
    [call] = calls(result)
    assert call.attrs["route"] == "topology"
    assert call.attrs["callee"] == "db"
    assert call.duration == pytest.approx(0.224)


@pytest.mark.parametrize(("cores", "concurrency", "expected"), [
    (2, 4, 0.040),  # min(C, K) = 2: 8 requests x 10 ms / 2 = 40 ms
    (2, 1, 0.080),  # one at a time: 8 x 10 ms = 80 ms
    (4, 2, 0.040),  # min(C, K) = 2 again: the connections, not the cores, bound it
    (4, 8, 0.020),  # all 8 at once on 4 cores, each at half a core: 20 ms
])
def test_concurrency_c_on_a_server_with_k_cores_serves_min_c_k_over_cpu(cores: int, concurrency: int,
                                                                         expected: float) -> None:
    """No bytes and no latency (an infinitely fast bridge): only the server's CPU, 10 ms a request, one core
    at most each, processor sharing on K cores. C connections keep C requests in flight: throughput
    min(C, K) / 10 ms, so 8 requests take 8 x 10 ms / min(C, K)."""
    hosts = f"h: {host(cpus=cores, bridge='{bridge_rate: inf, bridge_latency: 0s, loopback_latency: 0s}')}"
    client = ('{image: "nginx:1.25", network: app, '
              f'calls: [{{to: db, requests: 8, concurrency: {concurrency}, server_cpu: 10ms}}]}}')
    result = run_text(scenario(DB, client, hosts=hosts))
    spans = calls(result)
    assert len(spans) == 8
    assert max(span.end for span in spans) - 1.0 == pytest.approx(expected)


def test_the_servers_requests_share_its_cpu_quota() -> None:
    """The requests run in the server container's cgroup: under --cpus 0.5, 4 connections on 4 free cores are
    served at half a core together, not a core each, so 8 requests of 10 ms take 8 x 10 ms / 0.5 = 160 ms (20 ms
    with a core each, the test above)."""
    hosts = f"h: {host(cpus=4, bridge='{bridge_rate: inf, bridge_latency: 0s, loopback_latency: 0s}')}"
    server = '{image: "nginx:1.25", name: db, detach: true, network: app, cpus: 0.5}'
    client = '{image: "nginx:1.25", network: app, calls: [{to: db, requests: 8, concurrency: 4, server_cpu: 10ms}]}'
    spans = calls(run_text(scenario(server, client, hosts=hosts)))
    assert len(spans) == 8
    assert max(span.end for span in spans) - 1.0 == pytest.approx(8 * 0.010 / 0.5)


def test_on_the_default_bridge_a_name_does_not_resolve_and_the_client_fails_with_its_cause() -> None:
    """The default bridge has no embedded DNS: `db` does not resolve, curl exits 6 and docker run says so."""
    server = '{image: "nginx:1.25", name: db, detach: true}'
    client = '{image: "nginx:1.25", calls: [{to: db, requests: 5}]}'
    result = run_text(scenario(server, client))
    [call] = calls(result)
    assert call.attrs["status"] == "failed"
    assert call.attrs["error"] == "curl: (6) Could not resolve host: db"
    [failed] = [end for end in result.job_ends if end.workload == "client"]
    assert failed.status == "failed"
    assert failed.error.endswith("exited with code 6: curl: (6) Could not resolve host: db")
    assert result.summary()["workloads"]["client"]["failures"] == {"name_resolution": 1}


def test_a_port_nobody_publishes_refuses_the_connection() -> None:
    """h:8080 with nothing published there: curl's exit 7, Connection refused."""
    client = '{image: "nginx:1.25", calls: [{to: "h:8080"}]}'
    result = run_text(scenario(DB, client))
    [failed] = [end for end in result.job_ends if end.workload == "client"]
    assert failed.error.endswith("exited with code 7: curl: (7) Failed to connect to h port 8080: Connection refused")


def test_a_network_alias_resolves_on_the_user_network() -> None:
    """--network-alias database: the embedded DNS answers it like the name."""
    server = '{image: "nginx:1.25", name: db, detach: true, network: app, aliases: [database]}'
    client = '{image: "nginx:1.25", network: app, calls: [{to: database}]}'
    result = run_text(scenario(server, client))
    [call] = calls(result)
    assert (call.attrs["callee"], call.attrs["status"]) == ("db", "ok")
    assert call.duration == pytest.approx(0.002)  # 2 x 1 ms, no bytes, no CPU


def test_a_container_sharing_anothers_namespace_resolves_as_that_one_does() -> None:
    """--network container:side, where side is on the user network: the embedded DNS answers `db` for it."""
    servers = ('[{run: {image: "nginx:1.25", name: db, detach: true, network: app}}, '
               '{run: {image: "nginx:1.25", name: side, detach: true, network: app}}]')
    text = f"""
    name: t
    hosts:
      h: {host()}
    workloads:
      server: {{arrival: {{times: [0s]}}, steps: {servers}}}
      client: {{arrival: {{times: [1s]}}, steps: [{{run: {{image: "nginx:1.25", network: "container:side",
                calls: [{{to: db}}]}}}}]}}
    """
    [call] = calls(run_text(text))
    assert (call.attrs["callee"], call.attrs["route"], call.duration) == ("db", "bridge", pytest.approx(0.002))


def test_a_server_that_has_exited_refuses_the_next_request() -> None:
    """The db runs 1.051 s from t = 0; the client from 1 s makes requests of 2 ms (2 x 1 ms, no bytes) one
    after another: those starting at 1.000, 1.002, ..., 1.050 (26) are answered, the next, at 1.052, finds
    no server: Connection refused, exit 7."""
    server = '{image: "nginx:1.25", name: db, detach: true, network: app, duration: 1.051s}'
    client = '{image: "nginx:1.25", network: app, calls: [{to: db, requests: 100}]}'
    result = run_text(scenario(server, client))
    statuses = [span.attrs["status"] for span in calls(result)]
    assert statuses == ["ok"] * 26 + ["failed"]
    [failed] = [end for end in result.job_ends if end.workload == "client"]
    assert failed.error.endswith("exited with code 7: curl: (7) Failed to connect to db: Connection refused")


def test_host_network_ends_skip_the_bridge() -> None:
    """Client and server on the host network of one host: loopback, no bridge: only the 10 ms of CPU. A
    bridged client calling the same server through the published-less host port crosses the bridge once:
    2 x 1 ms + 10 ms = 12 ms."""
    server = '{image: "nginx:1.25", name: web, detach: true, network: host, expose: ["80"]}'
    host_client = '{image: "nginx:1.25", network: host, calls: [{to: "h:80", server_cpu: 10ms}]}'
    result = run_text(scenario(server, host_client))
    [call] = calls(result)
    assert (call.attrs["route"], call.duration) == ("loopback", pytest.approx(0.010))
    bridged_client = '{image: "nginx:1.25", calls: [{to: "h:80", server_cpu: 10ms}]}'
    [call] = calls(run_text(scenario(server, bridged_client)))
    assert (call.attrs["route"], call.duration) == ("bridge", pytest.approx(0.012))


def test_every_call_that_stays_on_a_host_pays_its_tcp_stack() -> None:
    """loopback_latency 3 ms one way: host network to host network, 2 x 3 ms = 6 ms; bridged, 2 x (3 + 1) ms."""
    server = '{image: "nginx:1.25", name: web, detach: true, network: host, expose: ["80"]}'
    hosts = f"h: {host(bridge='{bridge_rate: inf, bridge_latency: 1ms, loopback_latency: 3ms}')}"
    durations = {}
    for mode in ("host", "bridge"):
        client = f'{{image: "nginx:1.25", network: {mode}, calls: [{{to: "h:80"}}]}}'
        [call] = calls(run_text(scenario(server, client, hosts=hosts)))
        durations[call.attrs["route"]] = call.duration
    assert durations == {"loopback": pytest.approx(0.006), "bridge": pytest.approx(0.008)}


def test_a_host_network_caller_across_hosts_crosses_one_bridge_fewer() -> None:
    """Across a 5 ms link to a bridged db on b: a bridged caller crosses both bridges, one way
    1 + 5 + 1 = 7 ms (14 ms round trip); a host-network caller only b's, 6 ms (12 ms)."""
    hosts = f"a: {host()}\n      b: {host()}"
    network = """network:
      links:
        - {a: hub, b: a}
        - {a: a, b: b, latency: 5ms}"""
    server = '{image: "nginx:1.25", name: db, detach: true, ports: ["5432:5432"]}'
    durations = {}
    for mode in ("bridge", "host"):
        client = f'{{image: "nginx:1.25", network: {mode}, calls: [{{to: "b:5432"}}]}}'
        [call] = calls(run_text(scenario(server, client, hosts=hosts, network=network, server_at="placement: b,",
                                         client_at="placement: a,")))
        durations[mode] = call.duration
    assert durations == {"bridge": pytest.approx(0.014), "host": pytest.approx(0.012)}


def test_a_chain_of_calls_adds_each_tiers_round_trip_and_cpu() -> None:
    """client -> proxy (1 ms CPU) -> app (5 ms CPU) -> db twice (2 ms CPU each), no bytes, bridge 1 ms one
    way: 4 round trips of 2 ms = 8 ms, CPU 1 + 5 + 2 x 2 = 10 ms: 18 ms. The app's calls are spans too."""
    servers = ('[{run: {image: "nginx:1.25", name: db, detach: true, network: app}}, '
               '{run: {image: "nginx:1.25", name: app, detach: true, network: app}}, '
               '{run: {image: "nginx:1.25", name: proxy, detach: true, network: app}}]')
    client = ('{image: "nginx:1.25", network: app, calls: [{to: proxy, server_cpu: 1ms, calls: [{to: app, '
              'server_cpu: 5ms, calls: [{to: db, requests: 2, server_cpu: 2ms}]}]}]}')
    text = f"""
    name: t
    hosts:
      h: {host()}
    workloads:
      server: {{arrival: {{times: [0s]}}, steps: {servers}}}
      client: {{arrival: {{times: [1s]}}, steps: [{{run: {client}}}]}}
    """
    result = run_text(text)
    by_target = {span.subject: span for span in calls(result)}
    assert by_target["proxy"].duration == pytest.approx(0.018)
    assert by_target["app"].duration == pytest.approx(0.015)  # 3 round trips (6 ms) + 5 + 2 x 2 ms of CPU
    assert [span.attrs["caller"] for span in calls(result) if span.subject == "db"] == ["app", "app"]


def test_a_failing_tier_behind_a_proxy_is_a_502_to_the_client() -> None:
    """The app calls a name no network answers: its request fails, the proxy's caller sees HTTP 502 and
    curl --fail exits 22."""
    servers = '[{run: {image: "nginx:1.25", name: proxy, detach: true, network: app}}]'
    text = f"""
    name: t
    hosts:
      h: {host()}
    workloads:
      server: {{arrival: {{times: [0s]}}, steps: {servers}}}
      client: {{arrival: {{times: [1s]}}, steps: [{{run: {{image: "nginx:1.25", network: app,
                calls: [{{to: proxy, calls: [{{to: nowhere}}]}}]}}}}]}}
    """
    result = run_text(text)
    [failed] = [end for end in result.job_ends if end.workload == "client"]
    assert "exited with code 22: curl: (22) The requested URL returned error: 502" in failed.error
    assert "Could not resolve host: nowhere" in failed.error


def test_a_calls_bytes_share_a_link_with_a_pull() -> None:
    """A 500,000-byte response from b to a crosses the 1 MB/s link lan-a: alone, 0.5 s. A pull of a
    2,000,000-byte layer on a, started at 0 s, is on that link (toward a) from about 0.1 s to 2.1 s; the
    response at 1 s gets half of it (max-min fair): 1.0 s, and the download, which got 0.5 MB less in that
    second, ends 0.5 s later than without the call."""
    hosts = (f"a: {host(bridge='{bridge_rate: inf, bridge_latency: 0s, loopback_latency: 0s}')}\n"
             f"      b: {host(bridge='{bridge_rate: inf, bridge_latency: 0s, loopback_latency: 0s}')}")
    text = f"""
    name: t
    registries:
      hub: {{bandwidth: inf, rtt: 0s, auth: none}}
    images:
      big: {{layers: [{{size: 2000000}}]}}
    hosts:
      {hosts}
    network:
      links:
        - {{a: hub, b: lan}}
        - {{a: lan, b: a, bandwidth: 1MB/s}}
        - {{a: lan, b: b}}
    workloads:
      puller: {{arrival: {{times: [0s]}}, placement: a, steps: [{{pull: big}}]}}
      server: {{arrival: {{times: [0s]}}, placement: b, steps: [{{run: {{image: "nginx:1.25", name: db,
                detach: true, ports: ["80:80"]}}}}]}}
    """
    client = ('  client: {arrival: {times: [1s]}, placement: a, steps: [{run: {image: "nginx:1.25", '
              'calls: [{to: "b:80", response: 500000}]}}]}\n')
    [alone] = run_text(text).spans_of("download")
    assert alone.start < 1.0 and alone.end > 2.0  # the download covers the call's second
    shared = run_text(text + client)
    [call] = calls(shared)
    assert call.duration == pytest.approx(1.0)
    [download] = shared.spans_of("download")
    assert download.end == pytest.approx(alone.end + 0.5)


def test_a_bad_call_target_is_one_line_at_load_time() -> None:
    text = """
    name: t
    hosts:
      h: {}
    workloads:
      w: {arrival: {burst: 1}, steps: [{run: {image: "nginx:1.25", calls: [{to: "db:99999"}]}}]}
    """
    with pytest.raises(ScenarioError) as err:
        load_scenario_text(textwrap.dedent(text))
    assert "calls[0].to: invalid call target 'db:99999': ports are 1-65535" in str(err.value)
    assert (err.value.line, err.value.column) == (6, 77)  # at the target: 2 spaces of indent + its 75th character


def test_an_alias_off_a_user_defined_network_is_refused_as_docker_refuses_it() -> None:
    text = """
    name: t
    hosts:
      h: {}
    workloads:
      w: {arrival: {burst: 1}, steps: [{run: {image: "nginx:1.25", aliases: [db]}}]}
    """
    with pytest.raises(ScenarioError) as err:
        load_scenario_text(textwrap.dedent(text))
    assert "network-scoped alias is supported only for containers in user defined networks" in str(err.value)
