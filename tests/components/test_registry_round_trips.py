"""Registry round trips against hand counts: every request pays one round trip R (the registry's ``rtt``
on the default topology), every new connection ``handshake_rtts`` more (h = 2: TCP + TLS 1.3), and a
pull's connections are kept alive within its resolver and within its fetcher (containerd builds an HTTP
client for each), at most 2 idle per server host (Go's DefaultMaxIdleConnsPerHost).

Latency 0, api_service_time 0, tiny layers on an infinite NIC and infinite unpack rates: a pull lasts
exactly its round trips. R = 100 ms.
"""

from __future__ import annotations

import pytest

from tests.helpers import run_text

R = 0.1

HUB_LIKE = "auth: token, blob_redirect: true, multi_platform: true"

PULL = """
name: rtt
seed: 1
registries:
  reg: {{bandwidth: inf, latency: 0s, rtt: 100ms, handshake_rtts: {handshake}, {flags}}}
images:
  app:1: {{registry: reg, layers: {layers}}}
hosts:
  h:
    nic: inf
    preloaded: {preloaded}
    daemon: {{api_service_time: 0s}}
    storage: {{write_rate: inf, decompress_rate: {{gzip: inf}}, hash_rate: inf,
               receive_rate: inf, apply_rate: inf, apply_per_file: 0s, tls_rate: inf}}
workloads:
  w:
    arrival: {{burst: 1}}
    steps: [{{pull: "app:1"}}]
"""


def pull_time(*, flags: str = HUB_LIKE, layers: int = 1, handshake: int = 2, preloaded: str = "[]") -> float:
    text = PULL.format(flags=flags, layers="[" + ", ".join(["1KB"] * layers) + "]", handshake=handshake,
                       preloaded=preloaded)
    [pull] = run_text(text).phase_samples("pull")
    return pull


def test_a_one_layer_pull_from_a_hub_like_registry_is_17_round_trips() -> None:
    # resolver: HEAD (new connection: 2 + 1) -> 401; token from the token server (new: 3); HEAD again (reused: 1)
    #   = 7 R
    # fetcher: GET index (new: 3); GET platform manifest (reused: 1); config GET -> 307 (reused: 1); config from
    #   the CDN (new connection to the CDN: 3) = 8 R
    # the layer: GET -> 307 (reused: 1), CDN GET (reused: 1) = 2 R           total 17 R
    assert pull_time() == pytest.approx(17 * R)


def test_three_layers_need_new_connections_for_the_concurrent_blobs() -> None:
    # after the config one registry and one CDN connection are idle. The 3 blobs start at once: blob 1 reuses
    # the registry connection (307 at 1 R), blobs 2 and 3 open new ones (307 at 3 R). Blob 1 takes the idle CDN
    # connection (done at 2 R, its connection idle again); at 3 R blob 2 takes it (done at 4 R) and blob 3 opens
    # a new CDN connection (3 + 1: done at 6 R). Total 7 R + 8 R + 6 R = 21 R: 4 R more than one layer
    assert pull_time(layers=3) == pytest.approx(21 * R)


def test_an_up_to_date_image_costs_the_resolver_only() -> None:
    # HEAD (3) -> 401, token (3), HEAD (1): 7 R; nothing else is fetched
    assert pull_time(preloaded="['app:1']") == pytest.approx(7 * R)


def test_a_plain_registry_without_auth_redirect_or_index() -> None:
    # resolver: HEAD (new: 3); fetcher: GET manifest (new: 3), config GET (reused: 1); the layer (reused: 1): 8 R
    assert pull_time(flags="auth: none") == pytest.approx(8 * R)


def test_a_token_from_the_registrys_own_host_reuses_the_resolvers_connection() -> None:
    # token_host: registry (ghcr.io's realm https://ghcr.io/token): the token GET goes over the resolver's idle
    # connection to the registry (1 R) instead of a new one to a token server (3 R): 17 R - 2 R
    assert pull_time(flags=HUB_LIKE + ", token_host: registry") == pytest.approx(15 * R)


def test_a_cdn_near_the_host_costs_its_own_round_trips() -> None:
    # cdn_rtt C = 10 ms: the CDN's requests and handshakes cost C, the registry's R. 17 R less the CDN's part
    # (config: new connection 3 R; the layer: reused 1 R) plus the same at C: 13 R + 4 C
    assert pull_time(flags=HUB_LIKE + ", cdn_rtt: 10ms") == pytest.approx(13 * R + 4 * 0.010)


def test_tls_1_2_adds_a_round_trip_per_new_connection() -> None:
    # the 17 R pull opens 4 connections (the resolver's to the registry and to the token server, the fetcher's
    # to the registry and to the CDN; the layer reuses the fetcher's): each 1 R more with handshake_rtts 3: 21 R
    assert pull_time(handshake=3) == pytest.approx(21 * R)


def test_plain_http_opens_a_connection_in_one_round_trip() -> None:
    # tls: false and no handshake_rtts: TCP's round trip alone, so each of the 4 new connections costs 1 R less
    # than over TLS 1.3: 17 R - 4 R; the same as handshake_rtts 1 given
    plain = PULL.format(flags=HUB_LIKE + ", tls: false", layers="[1KB]", handshake=2, preloaded="[]").replace(
        "handshake_rtts: 2, ", "")
    [pull] = run_text(plain).phase_samples("pull")
    assert pull == pytest.approx(13 * R)
    assert pull_time(handshake=1) == pytest.approx(13 * R)


def test_the_same_pull_on_the_lan_costs_only_the_registry_latency() -> None:
    # rtt 0: handshakes and round trips vanish; with latency 0 the pull is instant, as before round trips existed
    text = PULL.format(flags=HUB_LIKE, layers="[1KB]", handshake=2, preloaded="[]").replace("rtt: 100ms", "rtt: 0s")
    [pull] = run_text(text).phase_samples("pull")
    assert pull == pytest.approx(0.0, abs=1e-12)


def test_a_push_keeps_its_connection_alive() -> None:
    # a built layer pushed with auth none: POST 401 is skipped; the layer: POST (new connection: 3 R), PATCH
    # on the same connection (no round trip of its own in the model: its bytes, 1 KB at inf), PUT (reused: 1 R);
    # the manifest PUT (reused: 1 R): 5 R. No HEAD: the daemon has never seen the blob in that registry
    result = run_text("""
    name: push-rtt
    registries:
      local: {bandwidth: inf, latency: 0s, rtt: 100ms}
    hosts:
      h: {nic: inf, daemon: {api_service_time: 0s}, storage: {compress_rate: inf, write_rate: inf, send_rate: inf}}
    workloads:
      w:
        arrival: {burst: 1}
        steps:
          - build: {dockerfile_text: "FROM scratch\\nRUN make\\n", tag: "local/app:1", default_run_time: 0s,
                    layer_sizes: {make: 1KB}}
          - push: local/app:1
    """)
    [push] = result.spans_of("push_image")
    assert push.duration == pytest.approx(5 * R)
