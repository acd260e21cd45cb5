"""Registry failures, Docker's retries, pull limits and connection limits, against hand-worked timelines.

Unless a test says otherwise: the default topology (one switch, zero link latency, so every request costs
the registry's own ``latency`` L), API calls free, unpacking free, one download slot. A pull of a
one-layer image then costs HEAD + manifest GET + config GET (3 L) before its blob GET (L) and bytes.
"""

from __future__ import annotations

import pytest

from tests.helpers import run_text

BASE = """
name: t
seed: {seed}
registries:
  reg: {{bandwidth: 100MB/s, latency: 10ms{extra}}}
images:
  app:1: {{registry: reg, layers: [100MB]}}
hosts:
  h:
    count: {hosts}
    nic: inf
    daemon: {{api_service_time: 0s, max_concurrent_downloads: 1}}
    storage: {{write_rate: inf, decompress_rate: {{gzip: inf}}, hash_rate: inf,
               receive_rate: inf, apply_rate: inf, apply_per_file: 0s}}
workloads:
  w:
    arrival: {{burst: {hosts}}}
    steps: [{{pull: "app:1"}}]
"""


def scenario(extra: str = "", *, hosts: int = 1, seed: int = 1) -> str:
    return BASE.format(extra=extra, hosts=hosts, seed=seed)


def test_download_retries_with_dockers_backoff_through_an_outage() -> None:
    """Outage from 25 ms to 12.025 s. Resolve: 0-30 ms (the config GET starts at 20 ms, before it). Blob GET
    attempt 1 at 30 ms is refused at once (zero round trip); wait 1 x 5 s; attempt 2 at 5.03 s refused;
    wait 2 x 5 s; attempt 3 at 15.03 s: request until 15.04 s, 100 MB at 100 MB/s until 16.04 s."""
    result = run_text(scenario(", outages: [{at: 25ms, for: 12s}]"))
    [job] = result.jobs
    assert job.status == "completed", job.error
    assert result.phase_samples("pull") == [pytest.approx(16.04)]
    [download] = result.spans_of("download")
    assert download.attrs["attempts"] == 3
    [layer] = result.spans_of("pull_layer")
    words = [word for _, word in layer.attrs["progress"]]
    assert words == ["Pulling fs layer", "Downloading", "Retrying in 5 seconds", "Retrying in 10 seconds",
                     "Verifying Checksum", "Download complete", "Extracting", "Pull complete"]
    refused = [s for s in result.spans_of("request") if s.attrs["status"] == 0]
    assert [round(s.start, 6) for s in refused] == [0.03, 5.03]


def test_a_download_gives_up_after_five_attempts_with_dockers_message() -> None:
    """Attempts at 0.03, 5.03, 15.03, 30.03 and 50.03 s (waits 5, 10, 15, 20 s) all refused: the pull fails
    at 50.03 s and the CLI prints the error from the progress stream as it is."""
    result = run_text(scenario(", outages: [{at: 25ms, for: 1h}]"))
    [job] = result.jobs
    assert job.status == "failed"
    assert job.error == "dial tcp reg:443: connect: connection refused"
    assert job.end_s == pytest.approx(50.03)


def test_a_resolve_failure_is_not_retried() -> None:
    """The registry is down from the start: the HEAD is refused and the daemon answers with the error."""
    result = run_text(scenario(", outages: [{at: 0s, for: 1h}]"))
    [job] = result.jobs
    assert job.error == "Error response from daemon: dial tcp reg:443: connect: connection refused"
    assert job.end_s == pytest.approx(0.0)


def test_error_rate_matches_the_probability_of_getting_through() -> None:
    """error_rate 0.5 on every request. A job completes when its three resolve requests succeed (1/8, not
    retried) and its blob gets through within five attempts (1 - 0.5^5 = 31/32): p = 31/256 = 0.1211.
    Over 2,000 independent hosts the count is binomial: mean 242.2, sd 14.6; tolerance 3.5 sd."""
    result = run_text(scenario(", error_rate: 0.5", hosts=2000))
    completed = sum(1 for job in result.jobs if job.status == "completed")
    assert abs(completed - 2000 * 31 / 256) < 3.5 * (2000 * 31 / 256 * 225 / 256) ** 0.5
    messages = {job.error for job in result.jobs if job.status == "failed"}
    assert messages == {"Error response from daemon: received unexpected HTTP status: 503 Service Unavailable",
                        "received unexpected HTTP status: 503 Service Unavailable"}


def test_max_connections_queues_blob_streams() -> None:
    """One connection, two hosts: the first blob streams alone 40 ms..1.04 s; the second waits for the
    connection, then pays its request: 1.05..2.05 s. Without the limit both share the link until 2.04 s."""
    limited = run_text(scenario(", max_connections: 1", hosts=2))
    assert sorted(limited.phase_samples("pull")) == [pytest.approx(1.04), pytest.approx(2.05)]
    shared = run_text(scenario(hosts=2))
    assert shared.phase_samples("pull") == [pytest.approx(2.04)] * 2


LIMIT = """
name: t
registries:
  reg: {bandwidth: 100MB/s, latency: 10ms, rate_limit: {pulls: 2, per: 6h}}
images:
  a:1: {registry: reg, layers: [10MB]}
  b:1: {registry: reg, layers: [10MB]}
  c:1: {registry: reg, layers: [10MB]}
hosts:
  h: {nic: inf, daemon: {api_service_time: 0s}, storage: {write_rate: inf}}
workloads:
  w:
    arrival: {burst: 1}
    steps: [STEPS]
"""


def test_the_third_manifest_get_over_a_limit_of_two_gets_429() -> None:
    result = run_text(LIMIT.replace("STEPS", '{pull: "a:1"}, {pull: "b:1"}, {pull: "c:1"}'))
    [job] = result.jobs
    assert job.error == ("Error response from daemon: toomanyrequests: You have reached your pull rate limit. "
                         "You may increase the limit by authenticating and upgrading: "
                         "https://www.docker.com/increase-rate-limit")
    assert result.summary()["registries"]["reg"]["rejected_429"] == 1


def test_re_pulls_of_a_local_image_cost_a_head_and_do_not_count() -> None:
    """Three pulls of one image: one manifest GET, then HEADs only; the limit of two is never reached."""
    result = run_text(LIMIT.replace("STEPS", '{pull: "a:1"}, {pull: "a:1"}, {pull: "a:1"}, {pull: "b:1"}'))
    assert result.jobs[0].status == "completed", result.jobs[0].error
    gets = [s for s in result.spans_of("request") if s.subject.startswith("GET /v2/a/manifests")]
    heads = [s for s in result.spans_of("request") if s.subject.startswith("HEAD /v2/a/manifests")]
    assert (len(gets), len(heads)) == (1, 3)
