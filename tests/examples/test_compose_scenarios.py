"""The compose scenarios' stories (scenarios/compose-*.yaml; their comment blocks work the figures out)."""

from __future__ import annotations

import shutil
import textwrap

import pytest

from dsim.api import load_scenario, simulate
from tests.helpers import ROOT


def test_three_tier_cold_against_warm() -> None:
    result = simulate(load_scenario(ROOT / "scenarios" / "compose-three-tier.yaml"))
    jobs = {job.workload: job for job in result.jobs}
    assert {w: j.status for w, j in jobs.items()} == {"cold-up": "completed", "warm-up": "completed"}
    pulls = {(s.host, s.subject) for s in result.spans_of("pull")}
    # cold pulls the three images at once; warm has them all
    assert pulls == {("cold", "nginx:1.25"), ("cold", "node:22-slim"), ("cold", "postgres:16")}
    for host in ("cold", "warm"):
        [wait] = [s for s in result.spans_of("compose_wait") if s.host == host]
        # db's start_period 10 s: probes every start_interval 5 s; its startup work (2.5 CPU-s on an idle
        # 4-core host) is done at 2.5 s, so the first probe (5 s) succeeds when it ends: exec 100 ms (37 ms CPU,
        # 63 ms waiting) + pg_isready's 5 ms of CPU = 5.105 s; compose's 11th tick (5.5 s) sees it, its
        # inspect call takes the API's 2 ms
        assert wait.subject == "app" and wait.attrs["polls"] == 11
        assert wait.end - wait.start == pytest.approx(5.502)
        starts = sorted((s for s in result.spans_of("start") if s.host == host), key=lambda s: s.start)
        assert [s.subject for s in starts] == ["shop-db-1", "shop-app-1", "shop-proxy-1"]
    # cold's first create (db's) syncs every file the pulls unpacked, still in the page cache (each layer
    # once, at the default 400 MiB/s); warm's images were written long ago
    [sync] = result.spans_of("syncfs")
    unpacked = sum(s.attrs["bytes"] for s in result.spans_of("unpack"))
    assert (sync.host, sync.subject, sync.attrs["bytes"]) == ("cold", "shop-db-1", pytest.approx(unpacked))
    assert sync.duration == pytest.approx(unpacked / (400 * 2**20))
    # the same work after the pulls: cold is later by about its pull phase and that sync, no more
    cold_pull = max(s.end for s in result.spans_of("pull")) - min(s.start for s in result.spans_of("pull"))
    difference = jobs["cold-up"].duration_s - jobs["warm-up"].duration_s
    assert cold_pull + sync.duration - 0.05 < difference <= cold_pull + sync.duration + 0.05
    # warm: the health wait is most of the up (5.5 s of about 7.4 s)
    assert jobs["warm-up"].duration_s < 8.0


def test_fleet_rollout_is_bounded_by_the_registry() -> None:
    result = simulate(load_scenario(ROOT / "scenarios" / "compose-fleet.yaml"))
    summary = result.summary()
    assert summary["jobs"]["completed"] == 20
    # every host pulls its three images once: 20 x (40 + 100 + 120) MB through the registry
    assert summary["registries"]["corp"]["bytes_sent"] == 20 * 260e6
    for job in result.jobs:
        # no host's up can end before the registry's 1 Gbit/s has sent 5.2 GB: 41.6 s
        assert job.duration_s > 20 * 260e6 / 125e6
    waits = list(result.spans_of("compose_wait"))
    # db: interval 1 s, ready at 2.5 s (startup_cpu on an idle 8-core host); each probe 100 ms of exec +
    # 5 ms of pg_isready, the next 1 s after one ends: probes at 1, 2.105, 3.21 s; the 3rd finds it ready and
    # ends at 3.315 s: seen at compose's 7th tick (3.5 s) on every host
    assert len(waits) == 20 and {w.attrs["polls"] for w in waits} == {7}
    assert len(list(result.spans_of("create"))) == 20 * 4  # db, two app replicas, proxy


def test_redeploy_downtime_is_the_old_process_stop_not_the_pull() -> None:
    result = simulate(load_scenario(ROOT / "scenarios" / "compose-redeploy.yaml"))
    assert {job.workload: job.status for job in result.jobs} == {"graceful": "completed", "pid1": "completed"}
    for host, stop_time in (("graceful", 0.3), ("pid1", 10.0)):  # pid1: SIGKILL at the 10 s stop_grace_period
        [pull] = [s for s in result.spans_of("pull") if s.host == host]
        assert pull.subject == "corp/shop/app:2"  # only the changed service's new image
        [stop] = [s for s in result.spans_of("stop") if s.host == host]
        assert stop.subject == "shop-app-1" and stop.start >= pull.end  # pulled before anything stops
        assert stop.end - stop.start == pytest.approx(0.002 + stop_time)  # the API call's 2 ms, then the exit
        starts = sorted(s.start for s in result.spans_of("start") if s.host == host and s.subject == "shop-app-1")
        new_start = max(s.end for s in result.spans_of("start") if s.host == host and s.subject == "shop-app-1")
        assert len(starts) == 2  # the first up's and the new container's; db and proxy are left alone
        assert [s.subject for s in result.spans_of("start") if s.host == host].count("shop-db-1") == 1
        # down from the stop to the new process's start: the stop, the removal (its API call and the exit's
        # teardown: 10 ms of commits, the interface's return 17 ms, the endpoint's rule checked and deleted 3 +
        # 12.4 ms, 19.5 ms of the veth pair's deletion), the rename's API call, the first look
        # at db's health on compose's 500 ms ticker (and its inspect's 2 ms), the start (as long as the first up's
        # start of app)
        first_start = next(s for s in result.spans_of("start") if s.host == host and s.subject == "shop-app-1")
        teardown = 0.010 + 0.017 + 0.003 + 0.0124 + 0.0195
        expected = (0.002 + stop_time) + teardown + 0.002 + 0.502 + (first_start.end - first_start.start)
        assert new_start - stop.start == pytest.approx(expected, abs=0.003)
        # the downtime span and the per-workload phase say the same
        [down] = [s for s in result.spans_of("downtime") if s.host == host]
        assert down.subject == "shop-app-1"
        assert (down.start, down.end) == (pytest.approx(stop.start), pytest.approx(new_start))
        phases = result.summary()["workloads"][host]["phases"]
        assert phases["downtime"]["max_s"] == pytest.approx(new_start - stop.start, abs=0.001)


def test_a_service_recreated_twice_still_answers_by_its_name(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # compose recreates app twice (v1 -> v2 -> v1): each time the new container is made under a temporary
    # name and renamed to shop-app-1 once the old one is gone. A client on the project's network calling app
    # before the recreations (30 s) and long after the last up (200 s) must reach it: the runtime's table is
    # renamed in place, so every view of it (the embedded DNS, service calls) sees the new name. (Before, a
    # rename made a new table, the views made before it kept the old one, and app stopped resolving.)
    shutil.copytree(ROOT / "scenarios" / "compose", tmp_path / "compose")
    scenario = tmp_path / "twice.yaml"
    scenario.write_text(textwrap.dedent("""
        name: twice
        registries:
          corp: {bandwidth: 1Gbps, latency: 5ms}
        images:
          corp/shop/app:1: {registry: corp, from: node:22-slim, layers: [200MB]}
          corp/shop/app:2: {registry: corp, from: node:22-slim, layers: [200MB]}
        hosts:
          h:
            preloaded: [nginx:1.25, postgres:16, corp/shop/app:1]
            networks: {shop_default: {}}
        workloads:
          deploy:
            arrival: {times: [0s]}
            placement: h
            steps:
              - compose: {file: compose/redeploy/compose.yaml, action: up, env: {APP_TAG: "1"}}
              - sleep: 60s
              - compose: {file: compose/redeploy/compose.yaml, action: up, env: {APP_TAG: "2"}}
              - sleep: 30s
              - compose: {file: compose/redeploy/compose.yaml, action: up, env: {APP_TAG: "1"}}
          client:
            arrival: {times: [30s, 200s]}
            placement: h
            steps: [{run: {image: "nginx:1.25", network: shop_default, calls: [{to: app}]}}]
    """))
    result = simulate(load_scenario(scenario))
    assert sorted((job.workload, job.status) for job in result.jobs) == [
        ("client", "completed"), ("client", "completed"), ("deploy", "completed")]
    assert len([s for s in result.spans_of("create") if "app" in s.subject]) == 3  # up, and two recreations
