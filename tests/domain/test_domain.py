"""The loader produces domain values: references normalised once at load time, one frozen type per step,
arrivals and host specs with the format's defaults filled in; the client has an operation for every step."""

from __future__ import annotations

import dataclasses
import textwrap
import typing

import pytest

from dsim.components.client import _OPERATIONS
from dsim.domain import steps
from dsim.domain.builds import ColdWarm
from dsim.domain.workloads import Burst, Every, Poisson, Times
from dsim.scenarios.loader import load_scenario_text
from dsim.scenarios.resolve import Resolved

TEXT = textwrap.dedent("""\
    name: domain
    registries:
      local: {}
    images:
      local/app:1: {registry: local, layers: [1MB]}
    hosts:
      runner: {count: 2, preloaded: [docker.io/library/alpine:3.24]}
    contexts:
      src: {files: {app.py: 1kB}}
    workloads:
      every-kind:
        arrival: {burst: 1}
        steps:
          - pull: docker.io/library/nginx
          - run: {image: library/redis:7.4, detach: true}
          - create: {image: local/app:1, name: c}
          - start: {container: c}
          - stop: {container: c, timeout: 3s}
          - rm: {container: c}
          - ps: {all: true}
          - sleep: 2s
          - edit: {context: src, files: [app.py]}
          - build:
              dockerfile_text: "FROM alpine:3.24\\nRUN make\\n"
              context: src
              tag: local/built:1
              run_times: {make: {cold: 10s, warm: 2s}}
          - push: local/built:1
      poisson: {arrival: {rate: 2/s, count: 3, at: 1s}, steps: [{pull: nginx}]}
      every: {arrival: {every: 1m, count: 2}, steps: [{pull: nginx}]}
      times: {arrival: {times: [5s, 1s]}, steps: [{pull: nginx}]}
    """)


@pytest.fixture(scope="module")
def resolved() -> Resolved:
    return load_scenario_text(TEXT)


def test_steps_are_typed_and_their_references_normalised_at_load(resolved: Resolved) -> None:
    pull, run, create, start, stop, rm, ps, sleep, edit, build, push = resolved.workloads["every-kind"].steps
    assert pull == steps.PullStep("nginx:latest")  # docker.io/library/ and the default tag, as the CLI does
    assert isinstance(run, steps.RunStep) and run.container.image == "redis:7.4" and run.detach
    assert run.container.until_stopped  # detached, no duration and no cpu_time: a server
    assert isinstance(create, steps.CreateStep) and create.container.name == "c"
    assert (start, rm, ps) == (steps.StartStep("c"), steps.RmStep("c"), steps.PsStep(True))
    assert stop == steps.StopStep("c", 3.0)
    assert isinstance(sleep, steps.SleepStep) and sleep.duration.mean == 2.0
    assert edit == steps.EditStep("src", ("app.py",))
    assert isinstance(build, steps.BuildStep) and build.spec is resolved.builds[("every-kind", 9)]
    make = build.spec.options.run_times["make"]
    assert isinstance(make, ColdWarm) and (make.cold.mean, make.warm.mean) == (10.0, 2.0)
    assert build.spec.stages[0].base_image == "alpine:3.24"
    assert push == steps.PushStep("local/built:1")


def test_arrivals_hosts_and_registries_are_domain_values(resolved: Resolved) -> None:
    workloads = resolved.workloads
    assert workloads["every-kind"].arrival == Burst(1, 0.0)
    assert workloads["poisson"].arrival == Poisson(2.0, 3, 1.0)
    assert workloads["every"].arrival == Every(60.0, 2, 0.0)
    assert workloads["times"].arrival == Times((5.0, 1.0))  # as written; the world sorts them
    assert resolved.job_counts == {"every-kind": 1, "poisson": 3, "every": 2, "times": 2}
    assert [host.name for host in resolved.hosts] == ["runner-1", "runner-2"]
    assert resolved.hosts[0].spec is resolved.hosts[1].spec  # one spec per group
    assert resolved.hosts[0].spec.preloaded == ("alpine:3.24",)
    assert resolved.hosts[0].spec.daemon.max_concurrent_downloads == 3  # moby's default
    assert resolved.registries["local"].upstream is None and resolved.links is None
    assert dict(resolved.contexts["src"].files) == {"app.py": 1000.0}
    with pytest.raises(dataclasses.FrozenInstanceError):
        resolved.hosts[0].spec.cpus = 8  # type: ignore[misc]


def test_the_client_has_an_operation_for_every_kind_of_step() -> None:
    assert set(_OPERATIONS) == set(typing.get_args(steps.Step))
    # pull, push, run, create, start, stop, restart, kill, commit, exec, pause, unpause, tag, rmi, rm, ps, sleep,
    # build, edit, compose: each a kind of its own
    assert len({kind.kind for kind in typing.get_args(steps.Step)}) == 20
