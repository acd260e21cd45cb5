"""The three build stories in scenarios/ hold the step counts and the orderings of times their comment
blocks derive by hand from BuildKit's rules (docs/real-docker.md: Build)."""

from __future__ import annotations

import os
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dsim.api import load_scenario, simulate
from dsim.cli import app
from dsim.records import Span
from dsim.result import SimResult
from dsim.scenarios.catalog import lookup
from tests.components.test_build_cache import BASE, build, scenario
from tests.components.test_build_cache import job as job_of
from tests.helpers import ROOT, run_text

SCENARIOS = ROOT / "scenarios"


@cache
def result_of(name: str, *overrides: str) -> SimResult:
    result = simulate(load_scenario(SCENARIOS / name, overrides=overrides))
    failed = [(job.job, job.error) for job in result.jobs if job.status != "completed"]
    assert not failed, failed
    return result


def builds_of(result: SimResult, job: int) -> list[Span]:
    return sorted((s for s in result.spans_of("build") if s.job == job), key=lambda s: s.start)


def cached_flags(result: SimResult, build: Span) -> list[bool]:
    steps = [s for s in result.spans_of("build_step") if s.job == build.job and build.start <= s.start <= build.end]
    return [s.attrs["cached"] for s in sorted(steps, key=lambda s: (s.attrs["stage"], s.attrs["line"]))]


def cache_counts(result: SimResult) -> tuple[int, int]:
    cache = result.summary()["cache"]
    return cache["build_steps_cached"], cache["build_steps_run"]


def catalog_size(ref: str) -> float:
    image = lookup(ref)
    assert image is not None
    return sum(layer.size for layer in image.layers)


# ---------------------------------------------------------------- dev-loop


def test_dev_loop_counts_and_rebuild_times() -> None:
    """copy-all-first: 3 run, then 1 cached + 2 run (COPY . . and the 60 s pip install after it).
    requirements-first: 4 run, then 3 cached + 1 run (COPY . . only). In all 4 cached, 10 run."""
    result = result_of("dev-loop.yaml")
    assert cache_counts(result) == (4, 10)
    by_workload = {job.workload: job.job for job in result.jobs}
    naive_first, naive_again = builds_of(result, by_workload["copy-all-first"])
    smart_first, smart_again = builds_of(result, by_workload["requirements-first"])
    assert cached_flags(result, naive_again) == [True, False, False]
    assert cached_flags(result, smart_again) == [True, True, True, False]
    # the rebuild: over a minute (pip install reruns) against under a second
    assert naive_again.duration > 60 > 1 > smart_again.duration
    assert min(naive_first.duration, smart_first.duration) > 60
    # context: the 72 kB the COPY steps name, then only the edited src/app.py (20 kB); .git never travels
    for job in by_workload.values():
        sent = [s.attrs["bytes"] for s in result.spans_of("build_context")
                if s.job == job and s.subject == "load build context"]
        assert sent == [72e3, 20e3]


# ---------------------------------------------------------------- multi-stage


def test_multi_stage_buildkit_against_classic() -> None:
    """BuildKit: build (6) + assets (5) + runtime (2) = 13 steps, docs skipped, build and assets at once:
    at least the 60 s chain of go mod download + go build. Classic: all 16 steps in order, at least the
    140 s sum of the run times. BuildKit sends 1.27 MB of context, classic 41.39 MB plus the Dockerfile."""
    result = result_of("multi-stage.yaml")
    assert cache_counts(result) == (0, 29)
    jobs = {job.workload: job.job for job in result.jobs}
    stages = {name: {s.attrs["stage"] for s in result.spans_of("build_step") if s.job == job}
              for name, job in jobs.items()}
    assert stages == {"buildkit": {"build", "assets", "runtime"}, "classic": {"build", "assets", "docs", "runtime"}}
    steps = {name: sum(1 for s in result.spans_of("build_step") if s.job == job) for name, job in jobs.items()}
    assert steps == {"buildkit": 13, "classic": 16}
    [kit] = builds_of(result, jobs["buildkit"])
    [classic] = builds_of(result, jobs["classic"])
    assert 60 < kit.duration < 140 < classic.duration
    # build and assets overlap under BuildKit: npm ci starts before go build ends
    by_text = {s.subject.split()[1] + " " + s.subject.split()[2]: s for s in result.spans_of("build_step")
               if s.job == jobs["buildkit"] and s.attrs["instruction"] == "RUN"}
    assert by_text["npm ci"].attrs["began"] < by_text["go build"].end
    sent = {s.attrs["builder"]: s.attrs["bytes"] for s in result.spans_of("build_context")
            if s.subject != "load build definition"}
    dockerfile = len((SCENARIOS / "dockerfiles" / "multi-stage.Dockerfile").read_bytes())
    assert sent == {"buildkit": 1.27e6, "classic": 41.39e6 + dockerfile}


# ---------------------------------------------------------------- ci-build-push


def test_ci_build_push_with_a_max_registry_cache() -> None:
    """Job 1: 8 steps run. Jobs 2-20: 6 steps from the registry cache, COPY . . and compileall run.
    In all 114 cached (all from the registry), 46 run. Job 1's build is at least its critical path
    90 + 20 + 5 s; every later build is far shorter. Jobs 2-20 never fetch the deps stage or its
    python:3.12 base: Docker Hub serves python:3.12 once and python:3.12-slim 20 times; the registry
    serves each later job the slim stage's two cached layers (60 MB + 180 MB, gzipped by 2.7)."""
    result = result_of("ci-build-push.yaml")
    assert cache_counts(result) == (114, 46)
    assert result.summary()["cache"]["build_steps_remote"] == 114
    first, *rest = (builds_of(result, job)[0] for job in range(1, 21))
    assert cached_flags(result, first) == [False] * 8
    assert all(sum(cached_flags(result, build)) == 6 for build in rest)
    assert first.duration > 115
    assert max(build.duration for build in rest) < 30
    registries = result.summary()["registries"]
    assert registries["hub"]["bytes_sent"] == round(catalog_size("python:3.12") + 20 * catalog_size("python:3.12-slim"))
    assert registries["local"]["bytes_sent"] == pytest.approx(19 * (60e6 + 180e6) / 2.7, abs=20)
    assert len(result.spans_of("push")) == 20


def test_ci_build_push_with_mode_min_reruns_the_deps_stage_every_time() -> None:
    """mode=min exports only the final stage's 5 records. Jobs 2-20 rerun deps (3 steps), whose new wheels
    make COPY --from=deps miss: only the final stage's WORKDIR is cached, 7 steps run per job.
    In all 19 cached and 8 + 19 x 7 = 141 run; every build pays the 90 s wheel build."""
    result = result_of("ci-build-push.yaml", "workloads.ci.steps[1].build.cache_to.mode=min")
    assert cache_counts(result) == (19, 141)
    assert min(builds_of(result, job)[0].duration for job in range(1, 21)) > 90


def test_build_outputs_are_byte_identical_in_another_process(tmp_path: Path) -> None:
    """multi-stage.yaml (parallel stages, two builders, network transfers) run here and in a subprocess
    with another hash seed: the same spans.csv and jobs.csv, byte for byte."""
    scenario = str(SCENARIOS / "multi-stage.yaml")
    here = CliRunner().invoke(app, ["run", scenario, "--out", str(tmp_path / "here"), "--quiet", "--no-charts"])
    assert here.exit_code == 0, here.output
    env = {**os.environ, "PYTHONHASHSEED": "4242", "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-m", "dsim", "run", scenario, "--out", str(tmp_path / "there"), "--quiet",
                    "--no-charts"], check=True, env=env, capture_output=True, timeout=300)
    for name in ("spans.csv", "jobs.csv"):
        assert (tmp_path / "here" / name).read_bytes() == (tmp_path / "there" / name).read_bytes(), name


def test_run_time_distributions_draw_from_the_seed() -> None:
    """A RUN timed uniform(50s, 70s) takes the same time for the same seed and another for another seed."""
    text = scenario({"dev": job_of(build(f"FROM {BASE}\nRUN make\n", context=None,
                                      run_times={"make": "uniform(50s, 70s)"}))}, contexts={})
    times = [run_text(text, seed=seed).spans_of("build")[0].duration for seed in (1, 1, 2)]
    assert times[0] == times[1] != times[2]
    assert all(50 < t < 70.01 for t in times)
