"""Every file in scenarios/ validates and runs; the spine's stories hold their key figures.

Expectations are worked out from each scenario's own numbers (see the comment block of each file).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dsim.api import load_scenario, simulate
from dsim.cli import app
from tests.helpers import ROOT

SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.name for p in SCENARIOS])
def test_every_scenario_runs(path: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["jobs"]["total"] > 0
    assert (tmp_path / "jobs.csv").exists() and (tmp_path / "spans.csv").exists()


def test_ci_burst_outputs_and_figures(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["run", str(ROOT / "scenarios" / "ci-burst.yaml"), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["jobs"] == {"total": 200, "completed": 200, "failed": 0, "unfinished": 0}
    # Each of the 20 runners downloads the 10 layers of the CI image once: 20 x 981 MB.
    image_bytes = sum([48, 24, 64, 211, 6, 20, 3, 310, 45, 250]) * 10**6
    assert summary["registries"]["registry"]["bytes_sent"] == 20 * image_bytes
    # The 1 Gbps registry link is the bottleneck: no pull can end before 20 x 981 MB / 125 MB/s = 157 s.
    assert summary["phases"]["pull"]["mean_s"] >= 20 * image_bytes / 125e6
    assert len((tmp_path / "jobs.csv").read_text().splitlines()) == 201
    charts = sorted(p.name for p in (tmp_path / "charts").glob("*.png"))
    assert {"timeline.png", "latency_cdf.png", "registry_egress.png"} <= set(charts)


def test_warm_cache_pulls_only_the_ci_layers() -> None:
    cold = simulate(load_scenario(ROOT / "scenarios" / "ci-burst.yaml")).summary()
    warm = simulate(load_scenario(ROOT / "scenarios" / "warm-cache.yaml")).summary()
    assert warm["registries"]["registry"]["bytes_sent"] == 20 * (310 + 45 + 250) * 10**6
    # 7 base layers already exist for each of the 200 pulls
    assert warm["cache"]["layer_hits"] == 200 * 7
    assert warm["phases"]["pull"]["mean_s"] < cold["phases"]["pull"]["mean_s"]


def test_hello_nginx_story() -> None:
    result = simulate(load_scenario(ROOT / "scenarios" / "hello-nginx.yaml"))
    [job] = result.jobs
    assert job.status == "completed", job.error
    messages = [span.subject for span in result.spans_of("cli")]
    assert messages == ["Unable to find image 'nginx:latest' locally"]
    # nginx:latest's seven real layers come from Docker Hub: 63,110,572 bytes (the catalog, docs/docker-facts.md)
    assert result.summary()["registries"]["hub"]["bytes_sent"] == 63_110_572
    # Over the laptop's 100 Mbps NIC the blobs alone take 63.1 MB / 12.5 MB/s = 5.05 s
    assert result.phase_samples("pull")[0] > 63_110_572 / 12.5e6
