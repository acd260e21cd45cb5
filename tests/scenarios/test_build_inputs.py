"""Build steps are checked before time 0: Dockerfiles are read relative to the scenario file and planned,
so their errors name the Dockerfile and line; contexts, hosts, stages and COPY sources are cross-checked;
`dsim dockerfile plan` prints a plan. Every error is a ScenarioError (exit code 2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dsim.api import load_scenario, load_scenario_text
from dsim.cli import app
from dsim.errors import ScenarioError
from tests.helpers import ROOT


def scenario_text(build: str, *, extra_steps: str = "", contexts: str | None = None) -> str:
    contexts = contexts if contexts is not None else """
        contexts:
          app:
            files: {requirements.txt: 1KB, src/app.py: 20KB, .git/pack: 5MB}
            dockerignore: [.git]
        """
    return textwrap.dedent("""\
        name: inputs
        hosts:
          dev: {cpus: 2}
        """) + textwrap.dedent(contexts) + textwrap.dedent(f"""\
        workloads:
          dev:
            arrival: {{burst: 1}}
            placement: dev
            steps:
              - build: {build}
        """) + extra_steps


def error_of(text: str, filename: str = "s.yaml") -> ScenarioError:
    with pytest.raises(ScenarioError) as caught:
        load_scenario_text(text, filename=filename)
    return caught.value


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def test_dockerfile_paths_are_relative_to_the_scenario_file(tmp_path: Path) -> None:
    write(tmp_path, "docker/app.Dockerfile", "FROM alpine:3.24\nCOPY src/ /src/\n")
    path = write(tmp_path, "s.yaml", scenario_text("{dockerfile: docker/app.Dockerfile, context: app}"))
    resolved = load_scenario(path)
    [spec] = resolved.builds.values()
    assert spec.dockerfile == str(tmp_path / "docker" / "app.Dockerfile")
    assert "alpine:3.24" in resolved.images  # the base image resolves before time 0


def test_a_missing_dockerfile_names_the_field(tmp_path: Path) -> None:
    path = write(tmp_path, "s.yaml", scenario_text("{dockerfile: nope.Dockerfile, context: app}"))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    err = caught.value
    assert err.field == "workloads.dev.steps[0].build.dockerfile"
    assert err.file == str(path) and err.line == 14
    assert "cannot read Dockerfile" in err.message and "nope.Dockerfile" in err.message


def test_a_dockerfile_parse_error_names_the_dockerfile_and_its_line(tmp_path: Path) -> None:
    dockerfile = write(tmp_path, "bad.Dockerfile", "FROM alpine:3.24\nRUN true\nFORM x\n")
    path = write(tmp_path, "s.yaml", scenario_text("{dockerfile: bad.Dockerfile, context: app}"))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    err = caught.value
    assert (err.file, err.line) == (str(dockerfile), 3)
    assert err.field == "workloads.dev.steps[0].build.dockerfile"
    assert str(err).startswith(f"{dockerfile}:3: workloads.dev.steps[0].build.dockerfile: unknown instruction")


def test_an_inline_dockerfile_error_names_the_scenarios_field_and_the_dockerfiles_line() -> None:
    """The scenario file's line and column (not a line of an '<inline Dockerfile>' no file holds), and the line of
    the text that is wrong."""
    text = scenario_text('{dockerfile_text: "FROM alpine:3.24\\nCOPY --frm=x a b\\n", context: app}')
    err = error_of(text)
    [line] = [n for n, row in enumerate(text.splitlines(), 1) if "dockerfile_text" in row]
    assert (err.line, err.field) == (line, "workloads.dev.steps[0].build.dockerfile_text")
    assert err.message.startswith("line 2 of the Dockerfile: ") and "unknown flag: frm" in err.message


@pytest.mark.parametrize(("build", "field", "fragment"), [
    ('{dockerfile_text: "FROM alpine:3.24\\n", context: ap}', "build.context", "unknown context 'ap' (did you mean"),
    ('{dockerfile_text: "FROM alpine:3.24\\n", context_from: laptop}', "build.context_from", "unknown host 'laptop'"),
    ('{dockerfile_text: "FROM alpine:3.24 AS a\\nFROM alpine:3.24\\n", target: b}', "build.target",
     "target stage 'b' could not be found"),
    ('{dockerfile_text: "FROM alpine:3.24 AS a\\nRUN x\\n", no_cache_filter: [ab]}', "build.no_cache_filter[0]",
     "unknown stage 'ab'"),
    ('{dockerfile_text: "FROM alpine:3.24\\nCOPY .git/pack /x\\n", context: app}', "build",
     '"/.git/pack": not found'),
    ('{dockerfile_text: "FROM alpine:3.24\\nCOPY lib/ /x\\n", context: app}', "build", '"/lib": not found'),
    ('{dockerfile_text: "FROM alpine:3.24\\n", builder: classic, cache_to: {ref: x/y:z}}', "build",
     "cache_to: not supported by the classic builder"),
    # Docker >= 20.10.6 (moby/moby#42197): the legacy builder stops at a RUN with --mount
    ('{dockerfile_text: "FROM alpine:3.24\\nRUN --mount=type=cache,target=/c make\\n", builder: classic}',
     "build.builder", "<inline Dockerfile>:2: RUN: the --mount option requires "
     "BuildKit. Refer to https://docs.docker.com/go/buildkit/ to learn how to build images with BuildKit enabled"),
    ('{dockerfile_text: "FROM alpine:3.24\\n", dockerfile: Dockerfile}', "build",
     "exactly one of dockerfile, dockerfile_text"),
    ('{dockerfile_text: "FROM alpine:3.24\\n", run_times: {"pip (": 1s}}', "build", "invalid regular expression"),
    ('{dockerfile_text: "FROM nosuchimage:1\\n"}', "build", "unknown image 'nosuchimage:1'"),
])
def test_bad_build_steps_are_scenario_errors(build: str, field: str, fragment: str) -> None:
    err = error_of(scenario_text(build))
    assert err.field is not None and err.field.startswith(f"workloads.dev.steps[0].{field}"), err
    assert fragment in err.message, err
    assert err.line is not None


def test_edits_name_a_context_and_its_files() -> None:
    build = '{dockerfile_text: "FROM alpine:3.24\\n", context: app}'
    err = error_of(scenario_text(build, extra_steps="      - edit: {context: app, files: [src/main.py]}\n"))
    assert err.field == "workloads.dev.steps[1].edit.files[0]"
    assert "has no file 'src/main.py'" in err.message
    err = error_of(scenario_text(build, extra_steps="      - edit: {context: web, files: [a]}\n"))
    assert err.field == "workloads.dev.steps[1].edit.context"


def test_images_a_scenario_builds_are_not_looked_up_in_the_catalog() -> None:
    """`run: app:1` after `build: {tag: app:1}` refers to the built image, which exists only once built."""
    build = '{dockerfile_text: "FROM alpine:3.24\\n", tag: app:1}'
    resolved = load_scenario_text(scenario_text(build, extra_steps="      - run: {image: app:1}\n"))
    assert "app:1" not in resolved.images


def test_dsim_dockerfile_plan_prints_stages_and_steps() -> None:
    path = ROOT / "scenarios" / "dockerfiles" / "multi-stage.Dockerfile"
    text = CliRunner().invoke(app, ["dockerfile", "plan", str(path)])
    assert text.exit_code == 0, text.output
    assert "BuildKit builds 3 of 4 stages" in text.stdout
    assert "13 in the stages built, 16 in the whole file" in text.stdout
    as_json = CliRunner().invoke(app, ["dockerfile", "plan", str(path), "--json", "--target", "build"])
    assert as_json.exit_code == 0, as_json.output
    plan = json.loads(as_json.stdout)
    assert plan["needed_stages"] == [0] and plan["build_steps"] == 6


def test_dsim_dockerfile_plan_reports_errors_with_file_and_line(tmp_path: Path) -> None:
    bad = write(tmp_path, "Dockerfile", "FROM alpine:3.24\nFORM x\n")
    result = CliRunner().invoke(app, ["dockerfile", "plan", str(bad)])
    assert result.exit_code == 2
    assert f"{bad}:2: unknown instruction: FORM" in result.output
    missing = CliRunner().invoke(app, ["dockerfile", "plan", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "cannot read Dockerfile" in missing.output
    arg = CliRunner().invoke(app, ["dockerfile", "plan", str(bad), "--build-arg", "NOVALUE"])
    assert arg.exit_code == 2 and "expected NAME=VALUE" in arg.output


def test_a_build_scenario_runs_from_any_working_directory(tmp_path: Path) -> None:
    """The CLI as a subprocess, started elsewhere: the Dockerfile is found next to the scenario."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "dsim", "validate", str(ROOT / "scenarios" / "dev-loop.yaml")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "ok" in proc.stdout


CONFORMANCE = ROOT.parent / "shared" / "conformance" / "dockerfiles"


@pytest.mark.skipif(not CONFORMANCE.is_dir(), reason="../shared/conformance/dockerfiles is not present")
def test_every_real_dockerfile_freezes_into_a_build_spec() -> None:
    """The 87 official and BuildKit-heavy Dockerfiles (heredocs, RUN --mount, 59 stages...) become build
    specs: every stage a base, every layer-making step an operation, every COPY --from a known stage."""
    from dsim.dockerfile.plan import make_plan
    from dsim.scenarios.builds import spec_from_plan
    from dsim.scenarios.model import BuildStep
    from dsim.scenarios.to_domain import build_options

    files = sorted(p for p in CONFORMANCE.rglob("*") if p.is_file() and p.name != "MANIFEST.txt")
    assert len(files) == 87
    for path in files:
        text = path.read_text()
        plan = make_plan(text, filename=str(path))
        spec = spec_from_plan(plan, build_options(BuildStep(dockerfile_text=text)), str(path), len(text))
        assert sum(len(stage.steps) for stage in spec.stages) == plan.build_step_count(range(len(plan.stages)))
        for stage in spec.stages:
            for step in stage.steps:
                assert all(dep < stage.index or dep in plan.needed for dep in step.from_stages), path
