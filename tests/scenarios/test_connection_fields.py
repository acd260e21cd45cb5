"""The registry's and the link's connection fields refuse bad values as one located ScenarioError (file:line:
column and the field), like every other field of the format."""

from __future__ import annotations

import textwrap

import pytest

from dsim.api import load_scenario_text
from dsim.errors import ScenarioError


def scenario(registry: str, link: str = "") -> str:
    network = f"network:\n  links:\n    - {{a: h, b: reg, {link}}}\n" if link else ""
    return textwrap.dedent(f"""\
        name: fields
        registries:
          reg: {{{registry}}}
        hosts:
          h: {{cpus: 1}}
        """) + network + textwrap.dedent("""\
        workloads:
          w: {arrival: {burst: 1}, steps: [{sleep: 1s}]}
        """)


@pytest.mark.parametrize(("registry", "field"), [
    ("stream_rate: 0MB/s", "registries.reg.stream_rate"),
    ("stream_rate: fast", "registries.reg.stream_rate"),
    ("rtt: -5ms", "registries.reg.rtt"),
    ("rtt: inf", "registries.reg.rtt"),
    ("handshake_rtts: 11", "registries.reg.handshake_rtts"),
    ("handshake_rtts: true", "registries.reg.handshake_rtts"),
    ("blob_redirect: maybe", "registries.reg.blob_redirect"),
    ("blob_redirect: true, cdn_rtt: -1ms", "registries.reg.cdn_rtt"),
    ("auth: token, token_host: elsewhere", "registries.reg.token_host"),
])
def test_bad_registry_connection_fields_are_located(registry: str, field: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario_text(scenario(registry))
    assert caught.value.field == field
    assert caught.value.line == 3


@pytest.mark.parametrize(("registry", "message"), [
    ("cdn_rtt: 2ms", "cdn_rtt applies to a registry that redirects blobs to its CDN (set blob_redirect)"),
    ("token_host: registry", "token_host applies to a registry with auth: token"),
])
def test_fields_that_would_be_ignored_are_refused(registry: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=r"registries\.reg") as caught:
        load_scenario_text(scenario(registry))
    assert message in str(caught.value)
    assert caught.value.line == 3


def test_a_bad_link_stream_rate_is_located() -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario_text(scenario("latency: 0s", "stream_rate: -1MB/s"))
    assert caught.value.field == "network.links[0].stream_rate"


def test_the_defaults_are_a_lan_registry() -> None:
    spec = load_scenario_text(scenario("latency: 0s"))
    reg = spec.registries["reg"]
    assert (reg.stream_rate, reg.rtt, reg.handshake_rtts, reg.blob_redirect, reg.multi_platform, reg.cdn_rtt,
            reg.token_host) == (float("inf"), 0.0, 2, False, False, None, "own")
