"""``docker compose up``'s builds (docs/compose.md: Building services): after the pulls, each service with
``build:`` whose image is missing, or every one with ``up --build``, is built through the daemon's builder
(``POST /build``, the path a ``build`` workload step takes), all at once, before any container is created.

As docker compose v2 decides it (docker/compose ``pkg/compose/build.go``: ``ensureImagesExists`` pulls what
``pullRequiredImages`` needs, then ``getBuildOptions`` builds a service with ``build`` unless its image
(``GetImageNameOrDefault``: ``image:``, else ``<project>-<service>``) is present locally and its
pull_policy is not ``build``; ``up --build`` builds every one): the image is looked up
(``GET /images/{name}/json``), a 404 builds it. The builds go to BuildKit together (compose hands them to
buildx/bake as the targets of one build, which runs them concurrently); one image shared by several
services is built once.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from dsim.components.errors import ApiError
from dsim.components.working_copy import WorkingCopy
from dsim.domain.compose import ComposeProject, ServiceBuild

if TYPE_CHECKING:
    from dsim.components.compose import ComposeRun


def compose_builds(run: ComposeRun, project: ComposeProject, *, force: bool) -> Generator[Any, Any, list[str]]:
    """Build what ``up`` needs; returns the images built (none when every one was present)."""
    wanted: dict[str, ServiceBuild] = {}
    for service in project.services:
        ref = service.container.image
        if service.build is None or ref in wanted:
            continue
        if not force:
            try:
                yield from run.daemon.inspect_image(ref, job=run.job)
                continue  # present: compose does not rebuild it
            except ApiError as err:
                if err.status != 404:
                    raise
        wanted[ref] = service.build
    outcomes = yield from run.gather([_build(run, build) for build in wanted.values()])
    for outcome in outcomes:
        if outcome is not None:
            raise outcome
    return list(wanted)


def _build(run: ComposeRun, build: ServiceBuild) -> Generator[Any, Any, Any]:
    """One service's ``docker build`` from the job's working copy of its context (made on first use)."""
    copy = run.copies.get(build.context_name)
    if copy is None:
        copy = run.copies[build.context_name] = WorkingCopy(build.context_name, build.context, run.job)
    return (yield from run.daemon.build(build.spec, copy, job=run.job, client=run.daemon.host, phase=""))
