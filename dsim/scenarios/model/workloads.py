"""Workloads: how jobs arrive, where they are placed, and the steps (client commands) each runs."""

from __future__ import annotations

import math
import re
from typing import Annotated

from pydantic import BeforeValidator, Field, WithJsonSchema, model_validator

from dsim.scenarios.fields import FiniteDuration, FiniteDurationDist
from dsim.scenarios.model.base import Count, Strict
from dsim.scenarios.model.builds import BuildStep, EditStep
from dsim.scenarios.model.compose import ComposeStepSpec
from dsim.scenarios.model.containers import (
    CommitStep,
    ContainerRef,
    CreateStep,
    ExecStep,
    KillStep,
    PsStep,
    RestartStep,
    RunStep,
    StopStep,
)
from dsim.scenarios.model.objects import RmOptions

_RATE = re.compile(r"^\s*([0-9.]+)\s*/\s*(s|m|h|ms)\s*$")


def _arrival_rate(value: object) -> float:
    """Jobs per second from ``2/s``, ``30/m``, ``100/h``."""
    match = _RATE.match(str(value))
    if isinstance(value, int | float) and not isinstance(value, bool):
        rate = float(value) if abs(value) < 1e308 else math.inf  # an int no float holds overflows float()
    elif match:
        rate = float(match.group(1)) / {"ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}[match.group(2)]
    else:
        rate = 0.0
    if not 0 < rate < math.inf:  # 0 jobs/s never arrive; an overflowing rate is no rate
        raise ValueError(f"invalid arrival rate {value!r} (expected e.g. 2/s, 30/m, 100/h)")
    return rate


ArrivalRate = Annotated[float, BeforeValidator(_arrival_rate), WithJsonSchema(
    {"anyOf": [{"type": "number"}, {"type": "string"}], "description": "an arrival rate: 2/s, 30/m, 100/h"})]


class Burst(Strict):
    burst: Count = Field(description="jobs arriving together")
    at: FiniteDuration = 0.0


class Poisson(Strict):
    rate: ArrivalRate = Field(description="mean arrivals per unit time, e.g. 2/s")
    count: Count
    at: FiniteDuration = Field(0.0, description="first possible arrival")


class Every(Strict):
    every: FiniteDuration
    count: Count
    at: FiniteDuration = 0.0


class Times(Strict):
    times: list[FiniteDuration]


Arrival = Burst | Poisson | Every | Times


class RmiStep(Strict):
    """``docker rmi IMAGE``: untag the image; when no other tag names it and no container uses it, delete it and
    the layers no other image, pull, push or build cache holds (their blobs and unpacked files leave the disk)."""

    image: str = Field(description="a local image: its reference, ID or ID prefix")
    force: bool = Field(False, description="-f: untag the image even when a container uses it (it stays, "
                                           "dangling, for the container)")


class TagStep(Strict):
    """``docker tag SOURCE TARGET``: one API call; TARGET names SOURCE's image too (a later push step sends it to
    the registry TARGET's first component names)."""

    source: str = Field(description="a local image (pulled, built or committed before): its reference or name")
    target: str = Field(description="the new reference, e.g. internal/mirror/python:3.12")


class Step(Strict):
    """One client command; exactly one key."""

    pull: str | None = None
    push: str | None = Field(
        None, description="docker push REF: to the registry its first component names (local/app:1), else its own"
    )
    run: RunStep | None = None
    create: CreateStep | None = None
    start: ContainerRef | None = None
    stop: StopStep | None = None
    commit: CommitStep | None = Field(None, description="docker commit: the container's changes become a layer on "
                                                        "its image (an empty diff adds none)")
    restart: RestartStep | None = Field(None, description="docker restart: stop, then start again")
    kill: KillStep | None = Field(None, description="docker kill: a signal to the container's process")
    exec: ExecStep | None = Field(None, description="docker exec: a command in a running container")
    pause: ContainerRef | None = Field(None, description="docker pause: the cgroup freezer takes a running "
                                                         "container (its processes get no CPU)")
    unpause: ContainerRef | None = Field(None, description="docker unpause: the freezer lets a paused container go")
    rm: RmOptions | None = None
    ps: PsStep | None = Field(None, description="docker ps: one cheap API call")
    tag: TagStep | None = Field(None, description="docker tag: another name for a local image")
    rmi: RmiStep | None = Field(None, description="docker rmi: an image untagged, and deleted with the layers "
                                                  "nothing else holds")
    sleep: FiniteDurationDist | None = Field(None, description="client think time (no API call)")
    build: BuildStep | None = Field(None, description="docker build")
    edit: EditStep | None = Field(None, description="change build-context files (no API call)")
    compose: ComposeStepSpec | None = Field(None, description="docker compose up -d / down of a Compose file")

    @model_validator(mode="after")
    def _exactly_one(self) -> Step:
        given = [name for name in type(self).model_fields if getattr(self, name) is not None]
        if len(given) != 1:
            kinds = ", ".join(type(self).model_fields)
            raise ValueError(f"a step has exactly one of {kinds}; got {', '.join(given) or 'none'}")
        return self

    @property
    def kind(self) -> str:
        return next(name for name in type(self).model_fields if getattr(self, name) is not None)


class Workload(Strict):
    arrival: Arrival
    placement: str = Field(
        "round-robin", description="round-robin | least-loaded | random | a host group name | a host name"
    )
    steps: list[Step] = Field(min_length=1)
