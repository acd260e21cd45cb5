"""Compose ``build:``: a service's image built through the daemon's builder before its containers are created
(scenarios/compose_build.py, components/compose_build.py), as docker compose v2 does it: the image named
``<project>-<service>`` without ``image:`` (docker/compose pkg/api GetImageNameOrDefault), built when missing
(pkg/compose/build.go getBuildOptions: a present image is not rebuilt), every time with ``up --build``.

The test host (tests/compose/helpers.py) costs nothing at the API front and on the CPU scheduler: a create is
60 ms, a start 504 ms. Its Dockerfile has 3 build steps (the layer-making WORKDIR /app, COPY app.py, RUN):
FROM alpine:3.24 (preloaded: its layers are local), so a build is the RUN's 5 s (run_times) and the rest.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from dsim.api import load_scenario, simulate
from dsim.domain.compose import ComposeStep
from dsim.errors import ScenarioError
from tests.compose.helpers import spans, write

DOCKERFILE = "FROM alpine:3.24\nWORKDIR /app\nCOPY app.py .\nRUN apk add --no-cache python3\n"

COMPOSE = """
    services:
      web:
        build:
          context: ./web
          x-dsim: {run_times: {"apk add": 5s}, layer_sizes: {"apk add": 40MB}}
        depends_on: [db]
      db:
        image: postgres:16
"""

UP = "compose: {file: app/compose.yaml, action: up}"
DOWN = "compose: {file: app/compose.yaml, action: down}"
UP_BUILD = "compose: {file: app/compose.yaml, action: up, build: true}"


def project_folder(tmp_path: Path, compose: str = COMPOSE, dockerfile: str = DOCKERFILE,
                   steps: list[str] | None = None) -> Path:
    (tmp_path / "app" / "web").mkdir(parents=True, exist_ok=True)
    (tmp_path / "app" / "web" / "Dockerfile").write_text(dockerfile)
    (tmp_path / "app" / "web" / "app.py").write_text("print('hello')\n")  # 15 bytes
    return write(tmp_path, compose, steps, preloaded="alpine:3.24, postgres:16")


def error_of(tmp_path: Path, compose: str, dockerfile: str = DOCKERFILE) -> ScenarioError:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(project_folder(tmp_path, textwrap.dedent(compose), dockerfile))
    return caught.value


def test_the_image_is_named_project_dash_service_and_planned_before_time_0(tmp_path: Path) -> None:
    step = load_scenario(project_folder(tmp_path)).workloads["w"].steps[0]
    assert isinstance(step, ComposeStep)
    web = step.project.service("web")
    assert web.container.image == "app-web:latest"  # project "app" (the folder), "-", "web"
    assert web.build is not None
    assert web.build.spec.options.tag == "app-web:latest"
    assert [s.instruction for stage in web.build.spec.stages for s in stage.steps] == ["WORKDIR", "COPY", "RUN"]
    assert dict(web.build.context.files) == {"Dockerfile": len(DOCKERFILE), "app.py": 15.0}


def test_image_and_build_tags_the_built_image_with_image(tmp_path: Path) -> None:
    compose = COMPOSE.replace("      web:\n", "      web:\n        image: shop/web:2\n")
    step = load_scenario(project_folder(tmp_path, compose)).workloads["w"].steps[0]
    assert isinstance(step, ComposeStep)
    web = step.project.service("web")
    assert web.container.image == "shop/web:2"
    assert web.build is not None and web.build.spec.options.tag == "shop/web:2"


def test_up_builds_before_creating_a_second_up_does_not_and_up_build_hits_the_cache(tmp_path: Path) -> None:
    """up 1: app-web missing, built: its 3 steps run, the RUN 5 s; creates come after the build ends (db's
    container too: compose builds every image before converging). up 2 (after down): app-web present, no
    build. up 3, --build: built again, every step a local cache hit. Steps cached 3, run 3."""
    result = simulate(load_scenario(project_folder(tmp_path, steps=[UP, DOWN, UP, DOWN, UP_BUILD])))
    assert result.summary()["cache"]["build_steps_run"] == 3
    assert result.summary()["cache"]["build_steps_cached"] == 3
    ups = [s for s in spans(result, "compose") if s.attrs["action"] == "up"]
    assert [s.attrs["built"] for s in ups] == [["app-web:latest"], [],
                                               ["app-web:latest"]]
    builds = spans(result, "build")
    assert len(builds) == 2
    steps = spans(result, "build_step")
    assert [s.attrs["cache"] for s in steps] == ["miss"] * 3 + ["local"] * 3
    [run] = [s for s in steps if s.attrs["instruction"] == "RUN" and not s.attrs["cached"]]
    # run_times on an idle 8-core host, one core, after BuildKit's solver work on the vertex (0.53 ms by default)
    assert run.duration == pytest.approx(5.0 + 0.00053)
    creates = spans(result, "create")
    first_up = [c for c in creates if ups[0].start <= c.start <= ups[0].end]
    assert len(first_up) == 2 and min(c.start for c in first_up) >= builds[0].end
    third_up = [c for c in creates if ups[2].start <= c.start <= ups[2].end]
    assert min(c.start for c in third_up) >= builds[1].end
    assert all(job.status == "completed" for job in result.jobs)


def test_a_dockerfile_error_names_the_dockerfile_and_its_line(tmp_path: Path) -> None:
    err = error_of(tmp_path, COMPOSE, "FROM alpine:3.24\nFORM x\n")
    assert err.file is not None and err.file.endswith("app/web/Dockerfile")
    assert (err.line, err.field) == (2, "services.web.build")


@pytest.mark.parametrize(("compose", "message", "where"), [
    ("services:\n  web: {build: {context: ./web, no_cache: true}}\n",
     "dsim does not model the Compose key 'no_cache'", (2, 33)),
    ("services:\n  web:\n    build: ./nowhere\n", "is not a directory", (3, 12)),
    ("services:\n  web:\n    build: {context: ./web, dockerfile: Other.Dockerfile}\n",
     "cannot read Dockerfile", (3, 41)),
    ("services:\n  web:\n    build: {context: ../..}\n", "outside the scenario's folder", (3, 22)),
    ("services:\n  web:\n    build: {context: ./web, target: nope}\n", "target stage", (3, 37)),
    ("services:\n  web: {expose: [80]}\n",
     'service "web" has neither an image nor a build context specified: invalid compose project', (2, 8)),
])
def test_build_errors_point_into_the_compose_file(tmp_path: Path, compose: str, message: str,
                                                 where: tuple[int, int]) -> None:
    err = error_of(tmp_path, compose)
    assert message in err.message
    assert err.file is not None and err.file.endswith("compose.yaml")
    assert (err.line, err.column) == where


def test_a_copy_source_missing_from_the_context_is_buildkits_error(tmp_path: Path) -> None:
    err = error_of(tmp_path, COMPOSE, DOCKERFILE.replace("COPY app.py", "COPY lib/ ./lib/"))
    assert "failed to compute cache key" in err.message and '"/lib": not found' in err.message


def test_build_goes_with_up(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(project_folder(tmp_path, steps=["compose: {file: app/compose.yaml, action: down, build: true}"]))
    assert "build (up --build) goes with action: up" in caught.value.message


def test_the_compose_timeline_draws_the_build_as_a_lane(tmp_path: Path) -> None:
    """The first up's panel: a lane ``build app-web:latest`` from the build's start to its end (the RUN's
    5 s and the rest), before the containers' lanes."""
    from dsim.reports.charts.compose import lanes

    result = simulate(load_scenario(project_folder(tmp_path)))
    [up] = spans(result, "compose")
    [build] = spans(result, "build")
    drawn = lanes(result, up.job, up.host, up.start, up.end)
    assert drawn["build app-web:latest"]["build"] == [(build.start, build.end)]
    assert build.end - build.start >= 5.0


def test_cache_keys_do_not_depend_on_where_the_scenario_is(tmp_path: Path) -> None:
    # a COPY's cache key hashes its files' digests, which hash the context's name: the context named by its path
    # inside the scenario's folder, the same project in two places builds with the same keys
    def keys(folder: Path) -> list[str]:
        result = simulate(load_scenario(project_folder(folder)))
        return [s.attrs["key"] for s in sorted(spans(result, "build_step"), key=lambda s: (s.start, s.attrs["line"]))]

    here, there = keys(tmp_path / "here"), keys(tmp_path / "somewhere" / "else")
    assert here and here == there
