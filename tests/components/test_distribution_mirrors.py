"""Registry mirrors and pull-through caches against hand-worked timelines and byte counts.

Topology: one switch, zero link latency. Docker Hub (``hub``: 100 MB/s, 50 ms per request) and a mirror
(``mirror``: 1 GB/s, 1 ms, ``upstream: hub``) that the hosts list in ``registry_mirrors``. API calls and
unpacking are free; NICs unlimited.
"""

from __future__ import annotations

import pytest

from dsim.errors import ScenarioError
from dsim.scenarios.loader import load_scenario_text
from tests.helpers import run_text

BASE = """
name: t
registries:
  hub: {{bandwidth: 100MB/s, latency: 50ms{hub}}}
  mirror: {{bandwidth: 1GB/s, latency: 1ms, upstream: hub{mirror}}}
images:
  app:1: {{layers: [100MB]}}
  b:1: {{layers: [100MB]}}
hosts:
  h:
    count: {hosts}
    nic: inf
    daemon: {{api_service_time: 0s, registry_mirrors: [mirror]}}
    storage: {{write_rate: inf, decompress_rate: {{gzip: inf}}, hash_rate: inf,
               receive_rate: inf, apply_rate: inf, apply_per_file: 0s}}
workloads:
  w:
    arrival: {arrival}
    steps: [{steps}]
"""


def scenario(*, hub: str = "", mirror: str = "", hosts: int = 2, arrival: str = "{times: [0s, 10s]}",
             steps: str = '{pull: "app:1"}') -> str:
    return BASE.format(hub=hub, mirror=mirror, hosts=hosts, arrival=arrival, steps=steps)


def test_a_miss_streams_from_upstream_and_the_next_pull_hits() -> None:
    """First pull (a miss): HEAD at the mirror (1 ms) + its HEAD upstream (50 ms) = 51 ms; the mirror fetches
    manifest and config upstream (100 ms) and serves them (2 ms): 153 ms; blob GET at the mirror (1 ms), at
    the hub (50 ms): 204 ms; then hub->mirror (100 MB at 100 MB/s) and mirror->host (at 1 GB/s) stream
    together: the pull ends at 1.204 s. Second pull (a hit, at 10 s): 51 ms + 2 ms + 1 ms + 0.1 s = 0.154 s."""
    result = run_text(scenario())
    first, second = sorted(result.spans_of("pull"), key=lambda s: s.start)
    assert first.duration == pytest.approx(1.204)
    assert second.duration == pytest.approx(0.154)
    summary = result.summary()["registries"]
    assert summary["hub"]["bytes_sent"] == 100_000_000
    assert summary["mirror"]["bytes_received"] == 100_000_000
    assert summary["mirror"]["bytes_sent"] == 200_000_000
    assert (summary["mirror"]["hits"], summary["mirror"]["misses"]) == (1, 1)
    # hub: two tag HEADs, one manifest GET, one config GET, one blob GET; all from the mirror
    assert summary["hub"]["requests"] == 5
    assert {s.host for s in result.spans_of("request") if s.attrs["registry"] == "hub"} == {"mirror"}


def test_a_failing_mirror_falls_back_to_docker_hub() -> None:
    """The mirror refuses connections: resolve falls back to the hub (3 x 50 ms); the blob attempt tries the
    mirror (refused at once), then the hub: 50 ms + 1 s. The pull ends at 1.2 s."""
    result = run_text(scenario(mirror=", outages: [{at: 0s, for: 1h}]", hosts=1, arrival="{burst: 1}"))
    assert result.phase_samples("pull") == [pytest.approx(1.2)]
    assert [s.subject for s in result.spans_of("fallback")] == ["mirror"]
    [download] = result.spans_of("download")
    assert download.attrs["registry"] == "hub"
    assert result.summary()["registries"]["hub"]["bytes_sent"] == 100_000_000


def test_concurrent_misses_are_not_merged_unless_asked() -> None:
    """Two hosts miss the same blob at once: distribution streams it from the hub twice and caches only the
    first; a third pull at 10 s hits. With merge_misses the second miss waits on the first fetch."""
    arrival = "{times: [0s, 0s, 10s]}"
    plain = run_text(scenario(hosts=3, arrival=arrival)).summary()["registries"]
    assert plain["hub"]["bytes_sent"] == 200_000_000
    assert (plain["mirror"]["hits"], plain["mirror"]["misses"]) == (1, 2)
    merged = run_text(scenario(hosts=3, arrival=arrival, mirror=", merge_misses: true")).summary()["registries"]
    assert merged["hub"]["bytes_sent"] == 100_000_000
    assert (merged["mirror"]["hits"], merged["mirror"]["misses"]) == (1, 2)


def test_the_cache_evicts_least_recently_used_blobs() -> None:
    """Pulls of app, b, app on three hosts. 150 MB of storage holds one 100 MB blob: b evicts app, so the
    third pull misses again. 250 MB holds both: the third pull hits."""
    steps = "{pull: IMAGE}"
    text = BASE.replace('steps: [{steps}]', 'steps: [{steps}]\n  w2:\n    arrival: {{times: [5s]}}\n'
                        '    placement: h-2\n    steps: [{{pull: "b:1"}}]')
    small = run_text(text.format(hub="", mirror=", storage: 150MB", hosts=3, arrival="{times: [0s, 10s]}",
                                 steps=steps.replace("IMAGE", '"app:1"')))
    small_summary = small.summary()["registries"]["mirror"]
    assert (small_summary["hits"], small_summary["misses"]) == (0, 3)
    large = run_text(text.format(hub="", mirror=", storage: 250MB", hosts=3, arrival="{times: [0s, 10s]}",
                                 steps=steps.replace("IMAGE", '"app:1"')))
    large_summary = large.summary()["registries"]["mirror"]
    assert (large_summary["hits"], large_summary["misses"]) == (1, 2)


def test_a_mirror_pays_docker_hubs_limit_for_everyone_and_the_daemon_falls_back() -> None:
    """The hub allows one manifest GET per address. Through the mirror, app's GET is the mirror's one; b's
    GET by the mirror gets 429, so the mirror fails the request and the daemon asks the hub itself (its
    own first GET): both pulls succeed, and the hub counts one rejection."""
    result = run_text(scenario(hub=", rate_limit: {pulls: 1, per: 6h}", hosts=1, arrival="{burst: 1}",
                               steps='{pull: "app:1"}, {pull: "b:1"}'))
    [job] = result.jobs
    assert job.status == "completed", job.error
    assert result.summary()["registries"]["hub"]["rejected_429"] == 1
    assert [s.subject for s in result.spans_of("fallback")] == ["mirror"]


@pytest.mark.parametrize(("mirror", "message"), [
    ("{bandwidth: 1GB/s}", "is not a pull-through cache"),
    ("{bandwidth: 1GB/s, upstream: other}", "applies registry-mirrors to Docker Hub ('hub') only"),
    ("{bandwidth: 1GB/s, upstream: nowhere}", "unknown registry 'nowhere'"),
])
def test_mirror_references_are_checked(mirror: str, message: str) -> None:
    text = f"""
    name: t
    registries:
      other: {{bandwidth: 1GB/s}}
      mirror: {mirror}
    hosts: {{h: {{daemon: {{registry_mirrors: [mirror]}}}}}}
    workloads: {{w: {{arrival: {{burst: 1}}, steps: [{{pull: "nginx:latest"}}]}}}}
    """
    import textwrap

    with pytest.raises(ScenarioError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_scenario_text(textwrap.dedent(text))


def test_an_upstream_cycle_is_refused() -> None:
    import textwrap

    text = """
    name: t
    registries:
      a: {upstream: b}
      b: {upstream: a}
    hosts: {h: {}}
    workloads: {w: {arrival: {burst: 1}, steps: [{pull: "nginx:latest"}]}}
    """
    with pytest.raises(ScenarioError, match="upstream cycle: a -> b -> a"):
        load_scenario_text(textwrap.dedent(text))
