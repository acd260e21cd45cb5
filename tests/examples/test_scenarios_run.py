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
    # The 1 Gbps registry link is the bottleneck: no runner's pull can end before 20 x 981 MB / 125 MB/s
    # = 157 s (the jobs that waited for a slot find the image there: the p95 is a real pull).
    assert summary["phases"]["pull"]["p95_s"] >= 20 * image_bytes / 125e6
    # 20 runners x 4 job slots: 80 jobs run at once, the other 120 wait for a slot.
    assert summary["phases"]["slot"]["count"] == 120
    # A job burns lognormal(mean 8 min) CPU-seconds on 2 cores, and 4 slots x 2 cores fill the 8 CPUs, so a
    # run takes its CPU time / 2: mean 240 s. 200 samples of sigma 0.5: sd of the mean 240 x 0.533 / sqrt(200)
    # = 9 s; 3.4 sd is 31 s.
    assert abs(summary["phases"]["run"]["mean_s"] - 240) < 31
    assert len((tmp_path / "jobs.csv").read_text().splitlines()) == 201
    charts = sorted(p.name for p in (tmp_path / "charts").glob("*.png"))
    assert {"timeline.png", "latency_cdf.png", "registry_egress.png"} <= set(charts)


def test_warm_cache_pulls_only_the_ci_layers() -> None:
    cold = simulate(load_scenario(ROOT / "scenarios" / "ci-burst.yaml")).summary()
    warm = simulate(load_scenario(ROOT / "scenarios" / "warm-cache.yaml")).summary()
    assert warm["registries"]["registry"]["bytes_sent"] == 20 * (310 + 45 + 250) * 10**6
    # 7 base layers already exist for each of the 80 pulls of the first wave (20 runners x 4 job slots);
    # the 120 jobs that waited for a slot find the whole image there ("Image is up to date")
    assert warm["cache"]["layer_hits"] == 80 * 7
    # a runner's pull: 20 x 605 MB / 125 MB/s = 97 s of downloads, against ci-burst's 157 s
    assert 20 * 605e6 / 125e6 <= warm["phases"]["pull"]["p95_s"] < cold["phases"]["pull"]["p95_s"]


def test_hello_nginx_story() -> None:
    result = simulate(load_scenario(ROOT / "scenarios" / "hello-nginx.yaml"))
    [job] = result.jobs
    assert job.status == "completed", job.error
    messages = [span.subject for span in result.spans_of("cli")]
    assert messages == ["Unable to find image 'nginx:latest' locally"]
    # nginx:latest's seven real layers come from Docker Hub: 63,110,572 bytes (the catalog, docs/real-docker.md)
    assert result.summary()["registries"]["hub"]["bytes_sent"] == 63_110_572
    # Over the laptop's 100 Mbps NIC the blobs alone take 63.1 MB / 12.5 MB/s = 5.05 s
    assert result.phase_samples("pull")[0] > 63_110_572 / 12.5e6


def test_shared_base_downloads_only_the_layers_the_host_lacks() -> None:
    """scenarios/shared-base.yaml: golang:1.25 shares its first three layers (142,744,029 bytes) with
    python:3.11 (the catalog's digests), so the laptop holding python:3.11 downloads 305,264,123 -
    142,744,029 = 162,520,094 bytes, the fresh one all 305,264,123; at 12.5 MB/s at least 13.0 s vs 24.4 s."""
    result = simulate(load_scenario(ROOT / "scenarios" / "shared-base.yaml"))
    downloaded: dict[str, float] = {}
    for span in result.spans_of("download"):
        downloaded[span.host] = downloaded.get(span.host, 0.0) + span.attrs["bytes"]
    assert downloaded == {"python-dev": 162_520_094, "fresh": 305_264_123}
    hits = [s.subject for s in result.spans_of("pull_layer") if s.attrs["status"] == "Already exists"]
    assert len(hits) == 3 and all(s.host == "python-dev" for s in result.spans_of("pull_layer")
                                  if s.attrs["status"] == "Already exists")
    workloads = result.summary()["workloads"]
    warm, cold = (workloads[w]["phases"]["pull"]["p50_s"] for w in ("with-python", "from-scratch"))
    assert 162_520_094 / 12.5e6 <= warm < cold and cold >= 305_264_123 / 12.5e6
