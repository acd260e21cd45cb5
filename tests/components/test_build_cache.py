"""BuildKit's cache semantics in dsim's builder, with step counts worked out by hand from the rules
(docs/real-docker.md: Build):

* the cache key of a step digests its operation with its parent's result; RUN matches on its command
  text and environment (every ARG in scope), COPY/ADD on the content digests of the context files they
  copy after .dockerignore;
* after the first miss every later step of the chain reruns (a RUN's output is new content each time);
* --no-cache reruns everything, --no-cache-filter the steps of the named stages;
* identical steps of concurrent builds on one daemon run once;
* the cache is pruned, least recently used first, when it outgrows its limit.

Only layer-making instructions (RUN, COPY, ADD, WORKDIR other than /) are build steps.
"""

from __future__ import annotations

import textwrap
from typing import Any

import yaml

from dsim.result import SimResult
from tests.helpers import run_text

BASE = "alpine:3.24"

APP_FILES = {"requirements.txt": "1KB", "src/app.py": "20KB", "src/util.py": "30KB", "README.md": "4KB",
             ".git/pack": "50MB"}


def scenario(workloads: dict[str, Any], *, contexts: dict[str, Any] | None = None,
             hosts: dict[str, Any] | None = None, registries: dict[str, Any] | None = None) -> str:
    """A scenario as YAML text: hosts preload the base image, so builds start without a pull. BuildKit's
    per-vertex solver work is off unless a host sets it: these tests derive the cache and execution rules by
    hand, test_build_solver.py the solver's."""
    data: dict[str, Any] = {
        "name": "build-test",
        "hosts": without_solver_work(hosts or {"dev": {"cpus": 4, "preloaded": [BASE]}}),
        "contexts": contexts if contexts is not None else {"app": {"files": APP_FILES, "dockerignore": [".git"]}},
        "workloads": workloads,
    }
    if registries:
        data["registries"] = registries
    return yaml.safe_dump(data, sort_keys=False)


def without_solver_work(hosts: dict[str, Any]) -> dict[str, Any]:
    """The hosts with ``daemon.buildkit_vertex: 0s`` where they do not set it."""
    return {name: {**host, "daemon": {"buildkit_vertex": "0s", **host.get("daemon", {})}}
            for name, host in hosts.items()}


def job(*steps: dict[str, Any], placement: str = "dev", at: str = "0s", count: int = 1) -> dict[str, Any]:
    arrival: dict[str, Any] = {"burst": count, "at": at}
    return {"arrival": arrival, "placement": placement, "steps": list(steps)}


def build(dockerfile: str, **options: Any) -> dict[str, Any]:
    step: dict[str, Any] = {"dockerfile_text": textwrap.dedent(dockerfile).lstrip(), "tag": "app:1"}
    if "context" not in options:
        step["context"] = "app"
    step.update({k: v for k, v in options.items() if v is not None})
    return {"build": step}


def edit(*files: str, context: str = "app") -> dict[str, Any]:
    return {"edit": {"context": context, "files": list(files)}}


def run(workloads: dict[str, Any], **kwargs: Any) -> SimResult:
    return run_text(scenario(workloads, **kwargs))


def steps_of(result: SimResult, job_id: int | None = None) -> list[tuple[str, bool, str]]:
    """(instruction text, cached, how) of every build step span, in the order they ended."""
    spans = [s for s in result.spans_of("build_step") if job_id is None or s.job == job_id]
    return [(s.subject, s.attrs["cached"], s.attrs["cache"]) for s in sorted(spans, key=lambda s: (s.end, s.start))]


def counts(result: SimResult) -> tuple[int, int]:
    cache = result.summary()["cache"]
    return cache["build_steps_cached"], cache["build_steps_run"]


def completed(result: SimResult) -> None:
    failed = [(j.job, j.error) for j in result.jobs if j.status != "completed"]
    assert not failed, failed


REQUIREMENTS_FIRST = f"""
    FROM {BASE}
    WORKDIR /app
    ENV PIP_NO_CACHE_DIR=1
    COPY requirements.txt .
    RUN pip install -r requirements.txt
    COPY . .
    CMD ["python", "src/app.py"]
    """

COPY_ALL_FIRST = f"""
    FROM {BASE}
    WORKDIR /app
    COPY . .
    RUN pip install -r requirements.txt
    CMD ["python", "src/app.py"]
    """


def test_only_layer_making_instructions_are_steps_and_a_rebuild_reuses_them_all() -> None:
    """WORKDIR, COPY, RUN, COPY make layers; ENV and CMD do not: 4 steps run, then the same 4 cached."""
    result = run({"dev": job(build(REQUIREMENTS_FIRST), build(REQUIREMENTS_FIRST))})
    completed(result)
    assert counts(result) == (4, 4)
    instructions = [s.attrs["instruction"] for s in result.spans_of("build_step")]
    assert sorted(set(instructions)) == ["COPY", "RUN", "WORKDIR"]
    second = [how for _, _, how in steps_of(result)[4:]]
    assert second == ["local"] * 4


def test_an_edit_misses_at_the_first_copy_that_reads_it_and_cascades() -> None:
    """requirements-first: the edit of src/app.py changes only COPY . .'s checksum: WORKDIR, COPY
    requirements.txt and RUN pip hit (3), COPY . . runs (1). copy-all-first: COPY . . is the second step,
    so only WORKDIR hits and COPY . . and the pip install after it run (1 cached, 2 run)."""
    first = run({"dev": job(build(REQUIREMENTS_FIRST), edit("src/app.py"), build(REQUIREMENTS_FIRST))})
    assert [(text, cached) for text, cached, _ in steps_of(first)[4:]] == [
        ("WORKDIR /app", True), ("COPY requirements.txt .", True),
        ("RUN pip install -r requirements.txt", True), ("COPY . .", False)]
    assert counts(first) == (3, 5)
    naive = run({"dev": job(build(COPY_ALL_FIRST), edit("src/app.py"), build(COPY_ALL_FIRST))})
    assert [(text, cached) for text, cached, _ in steps_of(naive)[3:]] == [
        ("WORKDIR /app", True), ("COPY . .", False), ("RUN pip install -r requirements.txt", False)]
    assert counts(naive) == (1, 5)


def test_files_a_step_does_not_copy_or_dockerignore_excludes_never_invalidate() -> None:
    """COPY src/ reads only src/*: editing README.md changes nothing it copies; COPY . . skips .git
    (in .dockerignore): editing .git/pack changes nothing either. Both rebuilds hit every step."""
    dockerfile = f"""
        FROM {BASE}
        COPY src/ /app/src/
        COPY . /ctx/
        RUN python -m compileall /app/src
        """
    result = run({"dev": job(build(dockerfile), edit("README.md"), edit(".git/pack"), build(dockerfile),
                             edit("src/util.py"), build(dockerfile))})
    completed(result)
    # build 1: 3 run. build 2 (README.md and .git/pack edited): COPY . /ctx/ reads README.md, so it misses
    # and the RUN after it reruns; COPY src/ hits. build 3 (src/util.py): every step misses.
    assert [cached for _, cached, _ in steps_of(result)] == [False] * 3 + [True, False, False] + [False] * 3
    only_ignored = run({"dev": job(build(dockerfile), edit(".git/pack"), build(dockerfile))})
    assert counts(only_ignored) == (3, 3)


def test_arg_misses_at_the_first_run_after_it_not_at_its_definition() -> None:
    """ARG VERSION changes from 1 to 2 between two builds: COPY (after the ARG, not using it) still hits;
    the first RUN after the ARG misses (the ARG is in its environment), and the RUN after it cascades.
    A RUN before the ARG hits."""
    dockerfile = f"""
        FROM {BASE}
        RUN apk add --no-cache make
        ARG VERSION=0
        COPY requirements.txt /app/
        RUN echo building $VERSION
        RUN make -C /app
        """
    result = run({"dev": job(build(dockerfile, build_args={"VERSION": "1"}),
                             build(dockerfile, build_args={"VERSION": "2"}),
                             build(dockerfile, build_args={"VERSION": "2"}))})
    completed(result)
    rebuild = [(text.split()[0] + " " + text.split()[1], cached) for text, cached, _ in steps_of(result)[4:8]]
    assert rebuild == [("RUN apk", True), ("COPY requirements.txt", True), ("RUN echo", False), ("RUN make", False)]
    assert counts(result) == (2 + 4, 4 + 2)  # third build: all 4 cached


def test_no_cache_reruns_everything_and_no_cache_filter_only_its_stages() -> None:
    """Stage `tools` (1 RUN) feeds stage `app` (WORKDIR, RUN, COPY --from=tools, RUN): 5 steps.
    --no-cache: 5 run. --no-cache-filter tools: tools' RUN reruns and makes new content, so app's WORKDIR
    and first RUN hit (2) while COPY --from=tools misses and the last RUN cascades (3 run).
    --no-cache-filter app: tools' RUN hits (1), app's 4 steps run."""
    dockerfile = f"""
        FROM {BASE} AS tools
        RUN make tools
        FROM {BASE} AS app
        WORKDIR /srv
        RUN apk add --no-cache ca-certificates
        COPY --from=tools /out /usr/local/bin/
        RUN /usr/local/bin/selftest
        """
    plain = run({"dev": job(build(dockerfile), build(dockerfile, no_cache=True))})
    assert counts(plain) == (0, 10)
    tools = run({"dev": job(build(dockerfile), build(dockerfile, no_cache_filter=["tools"]))})
    rebuild = {text.split()[0] + " " + text.split()[1]: cached for text, cached, _ in steps_of(tools)[5:]}
    assert rebuild == {"RUN make": False, "WORKDIR /srv": True, "RUN apk": True, "COPY --from=tools": False,
                       "RUN /usr/local/bin/selftest": False}
    assert counts(tools) == (2, 5 + 3)
    app = run({"dev": job(build(dockerfile), build(dockerfile, no_cache_filter=["app"]))})
    assert counts(app) == (1, 5 + 4)


def test_identical_steps_of_concurrent_builds_on_one_daemon_run_once() -> None:
    """Two jobs start the same build at once on one host: the RUN (10 s) and the COPY after it run once,
    the second build waits for them (2 steps shared), and both builds end together at about 10 s, not
    one after the other. Two hosts share nothing: each runs its own 2 steps."""
    dockerfile = f"""
        FROM {BASE}
        RUN sleep-like-work
        COPY requirements.txt /app/
        """
    options = {"run_times": {"sleep-like-work": "10s"}}
    same = run({"dev": job(build(dockerfile, **options), count=2)})
    completed(same)
    summary = same.summary()["cache"]
    assert (summary["build_steps_run"], summary["build_steps_shared"], summary["build_steps_cached"]) == (2, 2, 2)
    ends = sorted(span.end for span in same.spans_of("build"))
    assert 10 <= ends[0] <= ends[1] < 10.1
    two_hosts = run({"dev": job(build(dockerfile, **options), placement="round-robin", count=2)},
                    hosts={"dev": {"count": 2, "cpus": 4, "preloaded": [BASE]}})
    assert counts(two_hosts) == (0, 4)


def test_concurrent_builds_rerun_a_shared_step_that_failed_and_each_fails_alone() -> None:
    """Three identical builds at once on one host: the first runs the RUN, the others wait for it. Its 200 MB
    layer does not fit on the 100 MB disk, so it fails, and both waiters run the step themselves (the build
    running it failed), at once; each fails for space in turn, every job with docker's error, the run whole."""
    dockerfile = f"""
        FROM {BASE}
        RUN big-work
        """
    result = run({"dev": job(build(dockerfile, context=None, layer_sizes={"big-work": "200MB"}), count=3)},
                 hosts={"dev": {"cpus": 4, "disk": "100MB", "preloaded": [BASE]}}, contexts={})
    assert [(j.status, "no space left on device" in j.error) for j in result.jobs] == [("failed", True)] * 3


def test_gc_prunes_least_recently_used_records_over_the_limit() -> None:
    """build_cache_limit 100 MB. Build A's RUN writes 80 MB (fits), build B's 80 MB more: 160 MB > 100 MB,
    so GC after B prunes A's record (used least recently), 80 MB. Building A again runs its RUN again
    (3 runs in all) and GC then prunes B. With the default limit (10% of 200 GiB) the third build hits."""
    a = f"FROM {BASE}\nRUN build-a\n"
    b = f"FROM {BASE}\nRUN build-b\n"
    options = {"layer_sizes": {"build-": "80MB"}, "context": None}
    steps = [build(a, **options), build(b, **options), build(a, **options)]
    limited = run({"dev": job(*steps)}, contexts={},
                  hosts={"dev": {"cpus": 4, "preloaded": [BASE], "daemon": {"build_cache_limit": "100MB"}}})
    completed(limited)
    assert counts(limited) == (0, 3)
    # after B, GC prunes A; after A again, the cache holds B and A (160 MB) and GC prunes B
    gcs = limited.spans_of("build_gc")
    assert [(gc.job, gc.attrs["records"], gc.attrs["bytes"], gc.attrs["remaining"]) for gc in gcs] == [
        (1, 1, 80e6, 80e6), (1, 1, 80e6, 80e6)]
    unlimited = run({"dev": job(*steps)}, contexts={})
    assert counts(unlimited) == (1, 2)
    assert not unlimited.spans_of("build_gc")


def test_classic_builder_has_its_own_cache() -> None:
    """The legacy builder's cache and BuildKit's are separate: a classic build after a BuildKit build of
    the same Dockerfile runs every step; a second classic build hits them all."""
    result = run({"dev": job(build(REQUIREMENTS_FIRST), build(REQUIREMENTS_FIRST, builder="classic"),
                             build(REQUIREMENTS_FIRST, builder="classic"))})
    completed(result)
    assert counts(result) == (4, 8)


REGISTRY = {"local": {"bandwidth": "10Gbps", "latency": "1ms"}}

TWO_STAGES = f"""
    FROM {BASE} AS deps
    COPY requirements.txt /build/
    RUN pip wheel -r /build/requirements.txt -w /wheels
    FROM {BASE}
    COPY --from=deps /wheels /wheels
    RUN pip install /wheels/*
    COPY src/ /app/src/
    """


def _remote(mode: str, second_from: bool = True) -> SimResult:
    """Host ci-1 builds and exports its cache to local/app:cache; host ci-2 builds 10 min later,
    importing it (or not). Nothing is shared between the hosts otherwise."""
    options = {"cache_to": {"ref": "local/app:cache", "mode": mode},
               "layer_sizes": {"pip wheel": "54MB", "pip install": "27MB", "COPY --from": "54MB"},
               "run_times": {"pip wheel": "60s", "pip install": "20s"}, "tag": "local/app:1"}
    second = dict(options, cache_from=["local/app:cache"] if second_from else None)
    return run({"first": job(build(TWO_STAGES, **options), placement="ci-1"),
                "second": job(build(TWO_STAGES, **second), placement="ci-2", at="10m")},
               hosts={"ci": {"count": 2, "cpus": 4, "preloaded": [BASE]}}, registries=REGISTRY)


def test_cache_from_a_registry_with_mode_max_reuses_every_step() -> None:
    """mode=max exports all 5 steps; the second host hits all 5 from the registry and fetches only the
    layers its image needs: the final stage's 3 (COPY --from 54 MB, pip install 27 MB, src 50 kB, each
    compressed by 2.7), never the deps stage's."""
    result = _remote("max")
    assert counts(result) == (5, 5)
    assert result.summary()["cache"]["build_steps_remote"] == 5
    [export, _] = sorted(result.spans_of("cache_export"), key=lambda s: s.start)
    assert export.attrs["records"] == 5
    fetched = sum(s.attrs["bytes"] for s in result.spans_of("download") if s.job == 2)
    assert abs(fetched - (54e6 + 27e6 + 50e3) / 2.7) < 1
    second_build = [s for s in result.spans_of("build") if s.job == 2][0]
    assert second_build.duration < 5  # no 60 s wheel build, no 20 s install


def test_cache_to_mode_min_exports_only_the_final_image_chain() -> None:
    """mode=min exports the final stage's 3 records only. The second host reruns the deps stage (2 run);
    its wheels are new content, so COPY --from=deps misses and the cascade reruns the final stage: 5 run,
    0 cached. Without --cache-from the second host also runs all 5."""
    assert counts(_remote("min")) == (0, 10)
    assert counts(_remote("max", second_from=False)) == (0, 10)
    [export, _] = sorted(_remote("min").spans_of("cache_export"), key=lambda s: s.start)
    assert export.attrs["records"] == 3


def test_a_missing_cache_ref_is_a_warning_not_an_error() -> None:
    """--cache-from of a reference nobody exported: BuildKit warns and builds everything."""
    result = run({"ci": job(build(TWO_STAGES, cache_from=["local/app:nothing"]))}, registries=REGISTRY)
    completed(result)
    assert counts(result) == (0, 5)
    [imported] = result.spans_of("cache_import")
    assert imported.attrs["found"] is False


def test_a_cache_export_the_registry_refuses_fails_the_build() -> None:
    """--cache-to a registry that refuses connections: the cache manifest's PUT (nothing else to upload: a
    Dockerfile of FROM alone) fails the build with the registry's error, as a push does, not the run."""
    result = run({"ci": job(build(f"FROM {BASE}\n", context=None, tag="local/app:1",
                                  cache_to={"ref": "local/app:cache"}))},
                 registries={"local": {"outages": [{"at": "0s", "for": "1h"}]}}, contexts={})
    [failed] = result.jobs
    assert (failed.status, failed.error) == ("failed", "Error response from daemon: dial tcp local:443: connect: "
                                                       "connection refused")
