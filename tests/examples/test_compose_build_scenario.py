"""scenarios/compose-build.yaml tells its story (its comment block): the first `up` builds notes-web (4 build
steps run, pip install 40 s) before creating containers, the second finds the image and builds nothing, `up
--build` rebuilds with every step a cache hit."""

from __future__ import annotations

from functools import cache

import pytest

from dsim.api import load_scenario, simulate
from dsim.result import SimResult
from tests.helpers import ROOT

WEB = ROOT / "scenarios" / "compose" / "notes" / "web"


@cache
def run() -> SimResult:
    return simulate(load_scenario(ROOT / "scenarios" / "compose-build.yaml"))


def test_the_first_up_builds_a_second_does_not_and_up_build_hits_the_cache() -> None:
    result = run()
    ups = sorted((s for s in result.spans_of("compose") if s.attrs["action"] == "up"), key=lambda s: s.start)
    assert [s.attrs["built"] for s in ups] == [["notes-web:latest"], [], ["notes-web:latest"]]
    steps = sorted(result.spans_of("build_step"), key=lambda s: (s.start, s.attrs["line"]))
    assert [s.attrs["instruction"] for s in steps] == ["WORKDIR", "COPY", "RUN", "COPY"] * 2
    assert [s.attrs["cache"] for s in steps] == ["miss"] * 4 + ["local"] * 4
    assert result.summary()["cache"]["build_steps_run"] == 4
    assert result.summary()["cache"]["build_steps_cached"] == 4
    [pip] = [s for s in steps if s.attrs["instruction"] == "RUN" and not s.attrs["cached"]]
    # x-dsim run_times, alone on a 4-core host, after BuildKit's solver work on the vertex (0.53 ms by default)
    assert pip.duration == pytest.approx(40.0 + 0.00053)


def test_the_build_comes_before_the_containers_and_sends_only_what_copy_reads() -> None:
    """The context sync sends the files the COPY steps name (requirements.txt and src/app.py: the
    .dockerignore and the Dockerfile are not among them), then nothing on the rebuild (same working copy)."""
    result = run()
    builds = sorted(result.spans_of("build"), key=lambda s: s.start)
    first_create = min(s.start for s in result.spans_of("create"))
    assert first_create >= builds[0].end
    sent = sorted((s for s in result.spans_of("build_context") if s.subject == "load build context"),
                  key=lambda s: s.start)
    copied = (WEB / "requirements.txt").stat().st_size + (WEB / "src" / "app.py").stat().st_size
    assert [s.attrs["bytes"] for s in sent] == [copied, 0]
    assert all(job.status == "completed" for job in result.jobs)
