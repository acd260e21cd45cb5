"""Compose services' readiness as work and their calls (x-dsim.startup_cpu / probe_cpu / calls; docs/compose.md).

Readiness: the startup work runs on the host's processor-sharing scheduler; each probe costs the runtime's exec
(components/health.py). Calls: compose gives each container its service's name as a DNS alias on the
project's networks (docker/compose create.go getAliases), so `to: app` reaches the app service's container.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from dsim.api import load_scenario, simulate
from dsim.errors import ScenarioError
from tests.compose.helpers import run, spans

#: a host whose starts cost nothing, with a bridge of 1 ms one way at 1 MB/s and no TCP stack latency
HOST = """
name: t
seed: 1
hosts:
  h:
    cpus: 8
    daemon: {api_service_time: 0s, workers: 100, metadata_commit: 0s}
    runtime: {create: 0s, mount: 0s, netns: 0s, start: 0s, exec: 0s,
              cpu: {create: 0, mount: 0, netns: 0, start: 0, exec: 0, probe_exec: 0}}
    networking: {bridge_rate: 1MB/s, bridge_latency: 1ms, loopback_latency: 0s}
    preloaded: [nginx:1.25, postgres:16, redis:7.4]
workloads:
  w:
    arrival: {times: [0s]}
    steps: [{compose: {file: app/compose.yaml, action: up}}]
"""

CHAIN = """
name: p
services:
  proxy:
    image: nginx:1.25
    depends_on: [app]
    x-dsim:
      calls:
        - to: app
          request: 1000
          response: 10000
          server_cpu: 5ms
          calls: [{to: db, request: 1000, response: 4000, server_cpu: 2ms}]
  app:
    image: redis:7.4
    depends_on: [db]
  db:
    image: postgres:16
"""


def run_chain(tmp_path: Path, compose: str) -> object:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "compose.yaml").write_text(textwrap.dedent(compose))
    (tmp_path / "s.yaml").write_text(HOST)
    return simulate(load_scenario(tmp_path / "s.yaml"))


def test_proxy_calls_app_calls_db_by_service_name(tmp_path: Path) -> None:
    """One request proxy -> app -> db on one host's bridge (1 ms one way, 1 MB/s, idle CPU):
    db's round trip: 1 ms + 1,000 B / 1 MB/s (1 ms) + 2 ms CPU + 1 ms + 4,000 B (4 ms) = 9 ms;
    app's: 1 ms + 1 ms (its request) + 5 ms CPU + db's 9 ms + 1 ms + 10,000 B (10 ms) = 27 ms."""
    result = run_chain(tmp_path, CHAIN)
    [job] = result.jobs  # type: ignore[attr-defined]
    assert job.status == "completed", job.error
    by_target = {span.subject: span for span in result.spans_of("service_call")}  # type: ignore[attr-defined]
    assert by_target["db"].duration == pytest.approx(0.009)
    assert by_target["app"].duration == pytest.approx(0.027)
    assert (by_target["app"].attrs["caller"], by_target["app"].attrs["callee"]) == ("p-proxy-1", "p-app-1")
    assert (by_target["db"].attrs["caller"], by_target["db"].attrs["callee"]) == ("p-app-1", "p-db-1")


def test_a_service_name_off_the_callers_networks_does_not_resolve(tmp_path: Path) -> None:
    """db only on `back`, proxy only on `front`: compose's DNS alias `db` is not on a network proxy is on, so
    the call fails as curl does (exit 6)."""
    compose = """
    name: p
    services:
      proxy:
        image: nginx:1.25
        networks: [front]
        x-dsim: {duration: 1s, calls: [{to: db}]}
      db: {image: postgres:16, networks: [back]}
    networks: {front: {}, back: {}}
    """
    result = run_chain(tmp_path, compose)
    [call] = result.spans_of("service_call")  # type: ignore[attr-defined]
    assert call.attrs["status"] == "failed" and "Could not resolve host: db" in call.attrs["error"]


def test_startup_cpu_and_probe_cost_from_x_dsim(tmp_path: Path) -> None:
    """db: startup_cpu 1 s alone on an idle host (one thread): ready at 1 s. interval 1 s: probes at 1 s: exec
    100 ms (helper host, all waiting), then pg_isready's 50 ms of CPU (probe_cpu) -> ends 1.15 s, ready: healthy.
    app waits on a 500 ms ticker from db's start: the 3rd tick (1.5 s) sees it."""
    result = run(tmp_path, """
        name: p
        services:
          app: {image: redis:7.4, depends_on: {db: {condition: service_healthy}}}
          db:
            image: postgres:16
            healthcheck: {test: ["CMD-SHELL", "pg_isready"], interval: 1s, timeout: 1s}
            x-dsim: {startup_cpu: 1s, probe_cpu: 50ms}
    """)
    [startup] = spans(result, "startup")
    assert startup.end - startup.start == pytest.approx(1.0)
    [health] = [s for s in spans(result, "health") if s.subject == "p-db-1"]
    assert health.end - health.start == pytest.approx(1.15)
    [wait] = spans(result, "compose_wait")
    assert (wait.attrs["polls"], wait.end - wait.start) == (3, pytest.approx(1.5))


def test_a_probe_over_the_compose_timeout_fails(tmp_path: Path) -> None:
    """probe_cpu 2 s against timeout 500 ms, retries 1: the first probe (1 s, exec to 1.1 s) is killed at 1.6 s
    -> unhealthy; the tick at 2.0 s fails the up with compose's error."""
    result = run(tmp_path, """
        name: p
        services:
          app: {image: redis:7.4, depends_on: {db: {condition: service_healthy}}}
          db:
            image: postgres:16
            healthcheck: {test: ["CMD", "pg_isready"], interval: 1s, timeout: 500ms, retries: 1}
            x-dsim: {probe_cpu: 2s}
    """)
    [job] = result.jobs
    assert job.error == "dependency failed to start: container p-db-1 is unhealthy"
    [health] = [s for s in spans(result, "health") if s.subject == "p-db-1"]
    assert health.attrs["unhealthy_at"] - health.start == pytest.approx(1.6)
    assert job.end_s - health.start == pytest.approx(2.0)


def test_startup_cpu_without_a_healthcheck_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"x-dsim.startup_cpu needs a healthcheck"):
        run(tmp_path, """
            services:
              db: {image: postgres:16, x-dsim: {startup_cpu: 1s}}
        """)


def test_a_healthcheck_needing_too_many_probes_is_an_error(tmp_path: Path) -> None:
    """As a run step's (tests/scenarios/test_input_limits.py): 1,000,000 h at a probe a second."""
    with pytest.raises(ScenarioError, match=r"db: time_to_healthy 3.6e\+09s is 3,600,000,000 probes"):
        run(tmp_path, """
            services:
              db:
                image: postgres:16
                healthcheck: {test: ["CMD", "pg_isready"], interval: 1s}
                x-dsim: {time_to_healthy: 1000000h}
        """)
