"""Environment profiles (``profile:`` on a host group): the provider's documented values land in the resolved
spec, fields written in the scenario win one by one, an unknown name is one line listing the known ones."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dsim.api import load_scenario_text
from dsim.cli import app
from dsim.domain.hosts import SHA256_AVX2 as HASH
from dsim.domain.profiles import PROFILES
from tests.helpers import PULL_COSTS_LEFT_OUT, run_text

MIB = 2**20
GIB = 2**30


def hosts(group: str) -> str:
    return textwrap.dedent(f"""
    name: profiles
    hosts:
      h: {group}
    workloads:
      w: {{arrival: {{burst: 1}}, steps: [{{sleep: 1s}}]}}
    """)


def test_a_profile_sets_the_documented_hardware() -> None:
    # aws-m5.large: 2 vCPU, 8 GiB, up to 10 Gbps (aws.amazon.com/ec2/instance-types/m5), gp3 at 125 MiB/s
    [host] = load_scenario_text(hosts("{profile: aws-m5.large}")).hosts
    assert (host.spec.cpus, host.spec.memory, host.spec.nic) == (2, 8 * GIB, 10e9 / 8)
    assert host.spec.storage.write_rate == 125 * MIB


def test_written_fields_win_one_by_one() -> None:
    text = hosts("{profile: aws-m5.large, memory: 4GiB, storage: {decompress_rate: {gzip: 100MiB/s}}}")
    [host] = load_scenario_text(text).hosts
    assert host.spec.memory == 4 * GIB  # written
    assert host.spec.cpus == 2  # the profile's
    assert host.spec.storage.write_rate == 125 * MIB  # the profile's storage field kept beside the written one
    assert host.spec.storage.decompress_rate["gzip"] == 100 * MIB


def test_sha256_follows_the_cpu() -> None:
    """Go's sha256 takes its AVX2 path on EC2 M5's Xeons (no SHA extensions: dsim's default) and the SHA extensions
    on Azure Dv5's Ice Lake Xeons (dsim.domain.hosts: 448.62 against 1,975 MB/s); a written hash_rate wins."""
    [m5] = load_scenario_text(hosts("{profile: aws-m5.large}")).hosts
    [dv5] = load_scenario_text(hosts("{profile: azure-d2s-v5}")).hosts
    [written] = load_scenario_text(hosts("{profile: azure-d2s-v5, storage: {hash_rate: 1GB/s}}")).hosts
    assert (m5.spec.storage.hash_rate, dv5.spec.storage.hash_rate) == (448.62e6, 1975e6)
    assert written.spec.storage.hash_rate == 1e9


def test_github_runners_public_and_private() -> None:
    [public] = load_scenario_text(hosts("{profile: github-ubuntu-latest}")).hosts
    [private] = load_scenario_text(hosts("{profile: github-ubuntu-latest-private}")).hosts
    assert (public.spec.cpus, public.spec.memory) == (4, 16e9)
    assert (private.spec.cpus, private.spec.memory) == (2, 7e9)


def test_every_profile_names_its_sources() -> None:
    for name, profile in PROFILES.items():
        assert profile.sources and all(source.startswith("https://") for source in profile.sources), name


def test_unknown_profile_is_one_line_listing_the_known_ones(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(hosts("{profile: aws-m5.lrge}"))
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    message = result.stderr.strip()
    assert "\n" not in message
    assert "x.yaml:4:" in message and "hosts.h.profile" in message
    assert message.endswith(f"unknown profile 'aws-m5.lrge' (known: {', '.join(PROFILES)})")


def test_a_two_vcpu_runner_unpacks_four_layer_streams_at_half_the_rate_of_a_four_vcpu_one() -> None:
    # four images of one 400 MiB layer pulled at once; gzip at r = 200 MiB/s per core beside the digest of the tar
    # stream at h = 448.62 MB/s (two tasks an unpack, each on up to a core); writes at the profile's rate do not bind
    # (dsim's default 400 MiB/s for these profiles); the apply's bytes and entries left out (test_pull_costs.py).
    # 4 vCPU: 8 tasks on 4 cores, half a core each until the digests end (2 S / h), then a core each:
    # S / r + S / h = 2.93 s; 2 vCPU: the cores stay busy until all end together, 4 S (1 / r + 1 / h) / 2 = 5.87 s:
    # twice as long.
    def unpacks(profile: str) -> list[float]:
        images = "\n".join(f"  app{i}:1: {{registry: reg, layers: [{{size: 1MB, uncompressed: 400MiB}}]}}"
                           for i in range(4))
        workloads = "\n".join(f"  w{i}: {{arrival: {{burst: 1}}, steps: [{{pull: 'app{i}:1'}}]}}" for i in range(4))
        result = run_text(f"""
name: runners
registries:
  reg: {{bandwidth: 1000GB/s, latency: 0ms}}
images:
{images}
hosts:
  h: {{profile: {profile}, nic: inf, daemon: {{api_service_time: 0s, max_concurrent_downloads: 16}},
      storage: {{{PULL_COSTS_LEFT_OUT}}}}}
workloads:
{workloads}
""")
        return [span.duration for span in result.spans_of("unpack")]

    per_unpack = 400 * MIB / (200 * MIB) + 400 * MIB / HASH
    assert unpacks("github-ubuntu-latest") == pytest.approx([per_unpack] * 4)
    assert unpacks("github-ubuntu-latest-private") == pytest.approx([4 * per_unpack / 2] * 4)
