"""The compose workload step: ``docker compose -f FILE up -d`` / ``down`` of a real Compose file
(docs/compose.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, NonNegativeInt, model_validator

from dsim.scenarios.fields import FiniteDuration
from dsim.scenarios.model.base import Strict


class ComposeStepSpec(Strict):
    """``docker compose -f FILE [-p PROJECT] up -d`` or ``down [-v]``: the file is read before time 0 (its
    path relative to the scenario file) and checked against the Compose Specification's JSON schema."""

    file: str = Field(min_length=1, description="the Compose file, relative to the scenario file")
    action: Literal["up", "down", "stop", "start", "restart"] = Field(
        "up", description="up: docker compose up -d (networks, volumes, pulls, containers in dependency order); "
        "down: stop and remove the project's containers and networks; stop, start, restart: the project's "
        "existing containers (docs/compose.md)")
    project: str | None = Field(
        None, description="-p: the project name; default the file's name:, else its folder's name (Compose v2)")
    volumes: bool = Field(False, description="down -v: remove the project's named volumes too")
    build: bool = Field(
        False, description="up --build: build the services with build: even when their image is present (without "
        "it, as compose does, a service's image is built only when missing)")
    wait: bool = Field(
        False, description="up --wait: return once every service is running, or healthy when it has a healthcheck "
        "(completed, when another service waits for it to complete)")
    wait_timeout: FiniteDuration | None = Field(
        None, description="up --wait-timeout: fail with compose's 'application not healthy after ...' past it")
    recreate: Literal["diverged", "always", "never"] = Field(
        "diverged", description="up's containers that exist: diverged (compose's default) recreates those made from "
        "another configuration or image; always: --force-recreate; never: --no-recreate")
    scale: dict[str, NonNegativeInt] = Field(
        default_factory=dict, description="up --scale SERVICE=N: that many containers of the service instead of its "
        "deploy.replicas (more are created, the extra ones stopped and removed, highest number first)")
    profiles: list[str] = Field(
        default_factory=list, description="--profile (COMPOSE_PROFILES): the profiles whose services are enabled "
        "besides those without profiles; * enables every one")
    env: dict[str, str] = Field(
        default_factory=dict, description="the variables the compose file's ${VAR} read, as docker compose reads "
        "them from the shell; the .env file beside the compose file fills in the others (dsim reads no "
        "environment of its own)")

    @model_validator(mode="after")
    def _volumes_with_down(self) -> ComposeStepSpec:
        if self.volumes and self.action != "down":
            raise ValueError("volumes (down -v) goes with action: down")
        if self.build and self.action != "up":
            raise ValueError("build (up --build) goes with action: up")
        if self.recreate != "diverged" and self.action != "up":
            raise ValueError("recreate (up --force-recreate / --no-recreate) goes with action: up")
        if (self.wait or self.wait_timeout is not None) and self.action != "up":
            raise ValueError("wait (up --wait) goes with action: up")
        if self.scale and self.action != "up":
            raise ValueError("scale (up --scale) goes with action: up")
        if self.wait_timeout is not None and not self.wait:
            raise ValueError("wait_timeout (--wait-timeout) goes with wait: true")
        return self
