"""BuildKit cache mounts (``RUN --mount=type=cache``) against hand-derived timings.

The rules (moby/buildkit frontend/dockerfile/docs/reference.md, "RUN --mount=type=cache";
solver/llbsolver/mounts/mount.go):

* a cache directory is found by its ``id`` (default: the mount's target) on the builder of one daemon and
  outlives the build; it is not part of the image and does not change the step's cache key;
* ``run_times`` may give ``{cold: C, warm: W}``: a RUN takes W when every cache directory it mounts holds
  what an earlier RUN left there (a RUN that mounted it finished on this daemon), else C;
* ``sharing=shared`` (the default): concurrent RUNs mount the same directory as it is;
  ``private``: a second concurrent RUN gets a new, empty directory;
  ``locked``: a second RUN waits until the first releases the directory;
* a step whose cache key hits does not run, so it mounts nothing.

Hosts have 4 CPUs and the base image preloaded; RUN steps use 1 core, so up to 4 run at once without
slowing each other, and a RUN's span lasts its run time from ``began`` (after its inputs and a parallelism
slot) to its end, plus ``mount_wait`` for a locked mount another build holds. A build whose job arrives at t
starts executing its first step at t + 0.002 (the API call).
"""

from __future__ import annotations

from typing import Any

import pytest

from dsim.api import load_scenario, simulate
from dsim.dockerfile.plan import make_plan
from dsim.domain.hosts import APPLY_PER_FILE, APPLY_RATE
from dsim.domain.hosts import COMPRESS_RATE as GZIP
from dsim.domain.hosts import SHA256_AVX2 as HASH
from dsim.domain.images import DEFAULT_UNCOMPRESSED_RATIO
from dsim.errors import ScenarioError
from dsim.records import Span
from dsim.result import SimResult
from tests.components.test_build_cache import BASE, build, completed, counts, edit, job, run
from tests.helpers import ROOT

API = 0.002
COLD, WARM = 90.0, 12.0
PIP_TIMES = {"run_times": {"pip install": {"cold": "90s", "warm": "12s"}}}

PIP = f"""
    FROM {BASE}
    WORKDIR /app
    COPY requirements.txt .
    RUN --mount=type=cache,target=/root/.cache/pip pip install -r requirements.txt
    """


#: a RUN's rootfs unmount syncs what the steps before it wrote (a COPY of a few KB: microseconds at the default
#: 400 MiB/s, components/disk.py), so run times are compared to a tenth of a millisecond
SYNCED = 1e-4


def runs(result: SimResult, job_id: int | None = None) -> list[Span]:
    """The RUN steps that executed (cache misses), in the order they began."""
    spans = [s for s in result.spans_of("build_step")
             if s.attrs["instruction"] == "RUN" and not s.attrs["cached"] and (job_id is None or s.job == job_id)]
    return sorted(spans, key=lambda s: (s.attrs["began"], s.job))


def ran_for(span: Span) -> float:
    """How long the RUN itself took: from ``began`` to its end, less any wait for a locked mount."""
    return float(span.end - span.attrs["began"] - span.attrs.get("mount_wait", 0.0))


# ---------------------------------------------------------------- warm after a run on the same daemon


def test_first_run_is_cold_and_a_rerun_after_a_dependency_change_is_warm() -> None:
    """Build 1: the cache directory /root/.cache/pip is new: 90 s. The edit of requirements.txt misses at
    its COPY, so the RUN reruns (build 2) and finds build 1's files: 12 s. 4 run + (1 cached WORKDIR, 2 run)."""
    result = run({"dev": job(build(PIP, **PIP_TIMES), edit("requirements.txt"), build(PIP, **PIP_TIMES))})
    completed(result)
    assert counts(result) == (1, 5)
    first, second = runs(result)
    assert ran_for(first) == pytest.approx(COLD, abs=SYNCED)
    assert ran_for(second) == pytest.approx(WARM, abs=SYNCED)
    assert first.attrs["mounts"] == {"/root/.cache/pip": "cold"}
    assert second.attrs["mounts"] == {"/root/.cache/pip": "warm"}
    assert first.attrs["mount_wait"] == second.attrs["mount_wait"] == 0.0


def test_a_cache_hit_runs_nothing_and_mounts_nothing() -> None:
    """Without an edit the second build's RUN hits its cache key: it does not run, whatever the mounts."""
    result = run({"dev": job(build(PIP, **PIP_TIMES), build(PIP, **PIP_TIMES))})
    completed(result)
    assert counts(result) == (3, 3)
    [ran] = runs(result)
    assert ran_for(ran) == pytest.approx(COLD, abs=SYNCED)
    hit = [s for s in result.spans_of("build_step") if s.attrs["instruction"] == "RUN" and s.attrs["cached"]]
    assert len(hit) == 1 and "mounts" not in hit[0].attrs


def test_no_cache_reruns_the_step_but_keeps_the_cache_mount() -> None:
    """--no-cache ignores cache records, not cache mounts: a second job on the same daemon (its own
    checkout, arriving after the first ended) reruns every step and its pip install is warm."""
    result = run({"first": job(build(PIP, **PIP_TIMES)),
                  "second": job(build(PIP, no_cache=True, **PIP_TIMES), at="200s")})
    completed(result)
    assert [ran_for(s) for s in runs(result)] == pytest.approx([COLD, WARM], abs=SYNCED)


def test_two_daemons_do_not_share_a_cache_mount() -> None:
    """Each daemon's builder has its own cache directories: the same build on a second host, after the
    first ended, is cold there too."""
    hosts = {"a": {"cpus": 4, "preloaded": [BASE]}, "b": {"cpus": 4, "preloaded": [BASE]}}
    result = run({"on-a": job(build(PIP, **PIP_TIMES), placement="a"),
                  "on-b": job(build(PIP, **PIP_TIMES), placement="b", at="200s")}, hosts=hosts)
    completed(result)
    spans = runs(result)
    assert [s.host for s in spans] == ["a", "b"]
    assert [ran_for(s) for s in spans] == pytest.approx([COLD, COLD], abs=SYNCED)
    assert [s.attrs["mounts"]["/root/.cache/pip"] for s in spans] == ["cold", "cold"]


def test_identity_is_the_id_defaulting_to_the_target_and_every_mount_must_be_warm() -> None:
    """One build, four RUNs (5 s cold, 1 s warm), one after the other:
    1. target /cache (id /cache): new, cold;
    2. target /cache, id=other: another directory, cold;
    3. target /cache again: run 1 finished with it, warm;
    4. ids /cache (warm) and npm (new): one cold mount makes the RUN cold."""
    dockerfile = f"""
        FROM {BASE}
        RUN --mount=type=cache,target=/cache step-1
        RUN --mount=type=cache,target=/cache,id=other step-2
        RUN --mount=type=cache,target=/cache step-3
        RUN --mount=type=cache,target=/cache --mount=type=cache,target=/root/.npm,id=npm step-4
        """
    result = run({"dev": job(build(dockerfile, run_times={"step-": {"cold": "5s", "warm": "1s"}}, context=None))},
                 contexts={})
    completed(result)
    spans = runs(result)
    assert [ran_for(s) for s in spans] == pytest.approx([5.0, 5.0, 1.0, 5.0], abs=SYNCED)
    assert [s.attrs["mounts"] for s in spans] == [
        {"/cache": "cold"}, {"other": "cold"}, {"/cache": "warm"}, {"/cache": "warm", "npm": "cold"}]


def test_plain_run_times_ignore_the_mounts_and_cold_warm_without_mounts_is_always_cold() -> None:
    """A plain duration is the same warm or cold (the mounts are still recorded); {cold, warm} on a RUN
    without cache mounts is cold every time (here: two --no-cache builds, 7 s each)."""
    plain = run({"dev": job(build(PIP, run_times={"pip install": "30s"}), edit("requirements.txt"),
                            build(PIP, run_times={"pip install": "30s"}))})
    assert [(ran_for(s), s.attrs["mounts"]["/root/.cache/pip"]) for s in runs(plain)] == [
        (pytest.approx(30.0, abs=SYNCED), "cold"), (pytest.approx(30.0, abs=SYNCED), "warm")]
    bare = f"""
        FROM {BASE}
        RUN make
        """
    times: dict[str, Any] = {"run_times": {"make": {"cold": "7s", "warm": "1s"}}, "context": None, "no_cache": True}
    result = run({"dev": job(build(bare, **times), build(bare, **times))}, contexts={})
    spans = runs(result)
    assert [ran_for(s) for s in spans] == pytest.approx([7.0, 7.0], abs=SYNCED)
    assert all("mounts" not in s.attrs for s in spans)


# ---------------------------------------------------------------- concurrent builds: sharing modes

# Three jobs on one daemon at 0 s, 10 s and 20 s, each installing a different package (different cache
# keys, so none waits for another's identical step) through one apt cache directory: 30 s cold, 5 s warm.
# Their RUNs begin at 0.002, 10.002 and 20.002 s.
APT_TIMES = {"run_times": {"apt-get": {"cold": "30s", "warm": "5s"}}, "context": None}


def apt(sharing: str, package: str) -> dict[str, Any]:
    dockerfile = f"""
        FROM {BASE}
        RUN --mount=type=cache,target=/var/cache/apt,sharing={sharing} apt-get install -y {package}
        """
    return build(dockerfile, **APT_TIMES)


def three_jobs(sharing: str) -> list[Span]:
    result = run({name: job(apt(sharing, name), at=at)
                  for name, at in (("gcc", "0s"), ("make", "10s"), ("curl", "20s"))}, contexts={})
    completed(result)
    spans = runs(result)
    assert [s.attrs["began"] for s in spans] == pytest.approx([API, 10 + API, 20 + API], abs=SYNCED)
    return spans


def test_locked_waits_for_the_holder_then_finds_the_cache_warm() -> None:
    """gcc holds the directory 0.002-30.002 (cold). make waits the rest of gcc's run, 30.002 - 10.002 = 20 s,
    then runs warm until 35.002; curl waits until then, 15 s, and runs warm until 40.002."""
    gcc, make, curl = three_jobs("locked")
    assert [s.attrs["mount_wait"] for s in (gcc, make, curl)] == pytest.approx([0.0, 20.0, 15.0], abs=SYNCED)
    assert [s.end for s in (gcc, make, curl)] == pytest.approx([30 + API, 35 + API, 40 + API], abs=SYNCED)
    assert [s.attrs["mounts"]["/var/cache/apt"] for s in (gcc, make, curl)] == ["cold", "warm", "warm"]
    assert make.attrs["mount_wait"] == pytest.approx(gcc.end - make.attrs["began"], abs=SYNCED)
    assert [ran_for(s) for s in (gcc, make, curl)] == pytest.approx([30.0, 5.0, 5.0], abs=SYNCED)


def test_private_gives_a_concurrent_user_a_new_empty_directory() -> None:
    """gcc and make overlap: make gets a second, empty directory (30 s, cold); curl at 20 s overlaps both:
    a third, cold. Nobody waits; each takes 30 s."""
    spans = three_jobs("private")
    assert [s.attrs["mount_wait"] for s in spans] == [0.0, 0.0, 0.0]
    assert [ran_for(s) for s in spans] == pytest.approx([30.0, 30.0, 30.0], abs=SYNCED)
    assert [s.attrs["mounts"]["/var/cache/apt"] for s in spans] == ["cold", "cold", "cold"]


def test_shared_users_see_the_directory_as_it_is_when_they_start() -> None:
    """All three mount the one directory at once; no RUN had finished with it when any began: all cold."""
    spans = three_jobs("shared")
    assert [s.attrs["mount_wait"] for s in spans] == [0.0, 0.0, 0.0]
    assert [ran_for(s) for s in spans] == pytest.approx([30.0, 30.0, 30.0], abs=SYNCED)


@pytest.mark.parametrize("sharing", ["shared", "private", "locked"])
def test_a_later_build_finds_a_directory_warm_whatever_the_sharing(sharing: str) -> None:
    """gcc at 0 s (cold, ends 30.002), then make at 100 s: a free directory that gcc filled: 5 s."""
    result = run({"gcc": job(apt(sharing, "gcc")), "make": job(apt(sharing, "make"), at="100s")}, contexts={})
    completed(result)
    assert [ran_for(s) for s in runs(result)] == pytest.approx([30.0, 5.0], abs=SYNCED)


def test_private_directories_are_all_reused_once_free() -> None:
    """Two overlapping private users leave two warm directories; two later overlapping users get one each:
    gcc, make cold (30 s); at 100 s curl and git both warm (5 s)."""
    result = run({name: job(apt("private", name), at=at)
                  for name, at in (("gcc", "0s"), ("make", "1s"), ("curl", "100s"), ("git", "101s"))},
                 contexts={})
    completed(result)
    assert [ran_for(s) for s in runs(result)] == pytest.approx([30.0, 30.0, 5.0, 5.0], abs=SYNCED)


# ---------------------------------------------------------------- the Dockerfile's sharing value


def test_sharing_values_are_checked_as_buildkit_does() -> None:
    plan = make_plan(f"FROM {BASE}\nRUN --mount=type=cache,target=/c,sharing=LOCKED make\n")
    assert plan.stages[0].steps[0].mounts[0].options == (("type", "cache"), ("target", "/c"), ("sharing", "LOCKED"))
    with pytest.raises(ScenarioError, match="unsupported sharing value 'lockd'"):
        make_plan(f"FROM {BASE}\nRUN --mount=type=cache,target=/c,sharing=lockd make\n")
    with pytest.raises(ScenarioError, match="invalid cache sharing set for bind mount"):
        make_plan(f"FROM {BASE}\nRUN --mount=type=bind,target=/c,sharing=locked make\n")


# ---------------------------------------------------------------- scenarios/cache-mounts.yaml


def test_cache_mounts_scenario_figures() -> None:
    """The figures its comment block derives: pip install 90 s cold, 12 s warm; each build lasts its pip
    install plus about 2.74 s (API call, two small COPY writes, and the export, under the containerd store, of the
    new 150 MB layer: gzip at 100 MiB/s, the tar's and the blob's sha256 at hash_rate, the blob's fsync at 400 MiB/s,
    the blob 150e6 / 2.7 bytes, then its unpack into the snapshotter, the inflate at 200 MiB/s beside the tar's
    digest; a locked waiter's wait ends with A's RUN, before A's export). A build that follows another on its
    runner begins with a COPY whose unmount syncs what that export unpacked: 150 MB at 400 MiB/s more."""
    blob = round(150e6 / DEFAULT_UNCOMPRESSED_RATIO)
    apply = 150e6 / HASH + 150e6 / APPLY_RATE["containerd"] + 150e6 / 20e3 * APPLY_PER_FILE["containerd"]
    export = 150e6 / GZIP + (150e6 + blob) / HASH + blob / (400 * 2**20) + max(150e6 / (200 * 2**20), apply)
    synced = 150e6 / (400 * 2**20)
    result = simulate(load_scenario(ROOT / "scenarios" / "cache-mounts.yaml"))
    completed(result)
    assert counts(result) == (6, 34)
    durations: dict[str, list[float]] = {}
    for span in sorted(result.spans_of("build"), key=lambda s: (s.start, s.job)):
        workload = next(j.workload for j in result.jobs if j.job == span.job)
        durations.setdefault(workload, []).append(span.duration)
    assert durations["no-mount"] == pytest.approx([90.0 + export] + [90.0 + export + synced] * 2, abs=0.01)
    assert durations["pip-mount"] == pytest.approx([90.0 + export] + [12.0 + export + synced] * 2, abs=0.01)
    # B: 30 s wait + 12 s warm; its RUN's unmount then syncs what A's export had just unpacked
    assert durations["prs-locked"] == pytest.approx([90.0 + export, 42.0 + export + synced], abs=0.01)
    # B: cold, A had not finished
    assert durations["prs-shared"] == pytest.approx([90.0 + export, 90.0 + export], abs=0.01)
    # job B's pip install on each PR runner (ready at 60.002 s): the locked one waited the rest of A's run
    waits = {s.host: s.attrs["mount_wait"] for s in runs(result)
             if s.host in ("runner-3", "runner-4") and s.attrs["began"] > 60}
    assert waits == pytest.approx({"runner-3": 30.0, "runner-4": 0.0}, abs=SYNCED)
    warmth = [s.attrs.get("mounts", {}).get("/root/.cache/pip") for s in runs(result, None)]
    # pip-mount cold, warm, warm; prs-locked cold, warm; prs-shared cold, cold; no-mount: no cache mount
    assert (warmth.count("warm"), warmth.count("cold"), warmth.count(None)) == (3, 4, 3)
    # the summary counts the same RUNs: those with mounts, every one warm or not; no-mount's are not counted
    cache = result.summary()["cache"]
    assert (cache["build_runs_mounts_warm"], cache["build_runs_mounts_cold"]) == (3, 4)
