"""A client session: runs one job's steps as Engine API calls, the way the docker CLI sequences them.

Each step first waits at the daemon's API front (``queue``), then the operation runs; the client marks
the phase of each operation (pull, create, start, run) as a span so the outputs can attribute time.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Generator, Sequence
from typing import Any

import simpy

from dsim.components.compose import ComposeFailed, ComposeRun
from dsim.components.container import Container
from dsim.components.daemon import Daemon
from dsim.components.errors import ApiError, StreamError
from dsim.components.working_copy import WorkingCopy
from dsim.domain.builds import BuildSpec
from dsim.domain.compose import ComposeStep
from dsim.domain.containers import ContainerSpec
from dsim.domain.steps import (
    BuildStep,
    CommitStep,
    CreateStep,
    EditStep,
    ExecStep,
    KillStep,
    PauseStep,
    PsStep,
    PullStep,
    PushStep,
    RestartStep,
    RmiStep,
    RmStep,
    RunStep,
    SleepStep,
    StartStep,
    Step,
    StopStep,
    TagStep,
    UnpauseStep,
)
from dsim.records import JobEnd, Recorder, SpanKind

#: steps that run no docker command (the job's own think time, its edits of a build context)
_NO_COMMAND = (SleepStep, EditStep)
#: the span kinds recorded on every job's path, read once (records.py: a kind read from its class is slow)
_JOB, _RUN = SpanKind.JOB, SpanKind.RUN


class JobFailed(Exception):
    """A step failed; the message is what the docker CLI would print."""


class Client:
    """One job's docker CLI on one host."""

    def __init__(self, env: simpy.Environment, daemon: Daemon, recorder: Recorder,
                 make_rng: Callable[[], random.Random], job: int, workload: str) -> None:
        """``make_rng``: this job's random stream, made on first use (most jobs never sample one)."""
        self.env = env
        self.daemon = daemon
        self.recorder = recorder
        self._make_rng = make_rng
        self.job = job
        self.workload = workload
        self.containers: dict[str, Container] = {}
        self.last: Container | None = None
        #: this job's copies of build contexts (working_copy.py), made on first use
        self.copies: dict[str, WorkingCopy] = {}

    @functools.cached_property
    def rng(self) -> random.Random:
        return self._make_rng()

    def run(self, steps: Sequence[Step], arrival: float, on_end: Callable[[], None]) -> Generator[Any, Any, None]:
        """Run every step in order; the first failure ends the job with what the docker CLI prints."""
        status, error = "completed", ""
        cli = self.daemon.spec.cli_cpu
        try:
            for step in steps:
                if cli > 0.0 and not isinstance(step, _NO_COMMAND):  # the docker binary's own work (0: no event)
                    yield self.daemon.kernel.session.run(cli, 1.0).done
                yield from self._operation(step)
        except StreamError as err:  # reported inside a pull's or push's progress stream: printed as is
            status, error = "failed", str(err)
        except ApiError as err:
            status, error = "failed", f"Error response from daemon: {err}"
        except (JobFailed, ComposeFailed) as failure:
            status, error = "failed", str(failure)
        host = self.daemon.host
        self.recorder.span(_JOB, self.workload, arrival, self.env.now, host=host, job=self.job, status=status)
        self.recorder.job_end(JobEnd(self.job, self.workload, host, arrival, self.env.now, status, error))
        on_end()

    def _phase(self, kind: SpanKind, subject: str, start: float) -> None:
        self.recorder.span(kind, subject, start, self.env.now, host=self.daemon.host, job=self.job)

    def _operation(self, step: Step) -> Generator[Any, Any, Any]:
        """The generator that carries out ``step``: returned for ``run`` to delegate to, rather than
        delegated to here, which would add a level that every event of the step passes through."""
        return _OPERATIONS[type(step)](self, step)

    def _stop(self, container: Container, timeout: float) -> Generator[Any, Any, bool]:
        return self.daemon.stop(container, timeout, job=self.job, phase=container.name)

    def _restart(self, container: Container, timeout: float) -> Generator[Any, Any, None]:
        return self.daemon.restart(container, timeout, job=self.job, phase=container.name)

    def _kill(self, container: Container, signal: str) -> Generator[Any, Any, None]:
        return self.daemon.kill(container, signal, job=self.job)

    def _commit(self, container: Container, ref: str | None, pause: bool) -> Generator[Any, Any, Any]:
        return self.daemon.commit(container, ref, job=self.job, phase=container.name, pause=pause)

    def _exec(self, container: Container, step: ExecStep) -> Generator[Any, Any, None]:
        """``docker exec``: a command that exits non-zero fails the job, as the CLI exits with its code."""
        code = yield from self.daemon.exec(container, step, job=self.job, phase=container.name)
        if code:
            raise JobFailed(f"docker exec in {container.name} exited with code {code}")

    def _rmi(self, step: RmiStep) -> Generator[Any, Any, None]:
        """``docker rmi``: its ``rmi`` span tells what went and the disk it freed."""
        store = self.daemon.store
        began, used = self.env.now, store.disk_used
        deletion = yield from self.daemon.rmi(step.image, force=step.force, job=self.job)
        self.recorder.span(SpanKind.RMI, step.image, began, self.env.now, host=self.daemon.host, job=self.job,
                           untagged=len(deletion.untagged), layers=len(deletion.layers), bytes=used - store.disk_used)

    def _pause(self, container: Container) -> Generator[Any, Any, None]:
        return self.daemon.pause(container, job=self.job, phase=container.name)

    def _unpause(self, container: Container) -> Generator[Any, Any, None]:
        return self.daemon.unpause(container, job=self.job, phase=container.name)

    def _tag(self, source: str, target: str) -> Generator[Any, Any, Any]:
        return self.daemon.tag(source, target, job=self.job)

    def _rm(self, container: Container, volumes: bool = False) -> Generator[Any, Any, None]:
        return self.daemon.rm(container, job=self.job, phase=container.name, volumes=volumes)

    def _ps(self, all: bool) -> Generator[Any, Any, list[Container]]:
        return self.daemon.containers(all=all, job=self.job, phase=self.daemon.host)

    def _sleep(self, seconds: float) -> Generator[Any, Any, None]:
        yield self.env.timeout(seconds)

    def _pull(self, ref: str) -> Generator[Any, Any, None]:
        return self.daemon.pull(ref, job=self.job, phase=ref)

    def _push(self, ref: str) -> Generator[Any, Any, None]:
        return self.daemon.push(ref, job=self.job, phase=ref)

    def _copy(self, context: str) -> WorkingCopy:
        copy = self.copies.get(context)
        if copy is None:
            copy = self.copies[context] = WorkingCopy(context, self.daemon.builder.contexts[context], self.job)
        return copy

    def _build(self, spec: BuildSpec) -> Generator[Any, Any, Any]:
        """``docker build``: one API call (the session), then the build on the daemon; phase ``build``."""
        context = spec.options.context
        copy = self._copy(context) if context is not None else None
        return self.daemon.build(spec, copy, job=self.job, client=spec.options.context_from or self.daemon.host,
                                 phase="")

    def _edit(self, step: EditStep) -> Generator[Any, Any, None]:
        """Files of the job's context copy get new content (no API call, no time)."""
        self._copy(step.context).edit(step.files)
        self.recorder.span(SpanKind.EDIT, step.context, self.env.now, self.env.now, host=self.daemon.host, job=self.job,
                           files=list(step.files))
        yield from ()

    def _create(self, spec: ContainerSpec) -> Generator[Any, Any, Container]:
        """POST create; on 404 the CLI prints 'Unable to find image ... locally', pulls, creates again."""
        daemon = self.daemon
        try:
            container = yield from daemon.create(spec, job=self.job, phase="")
        except ApiError as err:
            if err.status != 404:
                raise
            self.recorder.span(SpanKind.CLI, f"Unable to find image '{spec.image}' locally", self.env.now, self.env.now,
                               host=daemon.host, job=self.job)
            yield from daemon.pull(spec.image, job=self.job, phase=spec.image)
            container = yield from daemon.create(spec, job=self.job, phase="")
        daemon.store.touch(spec.image)  # image GC's least-recently-used order (image_store.py)
        self.containers[container.name] = container
        self.last = container
        return container

    def _start(self, container: Container) -> Generator[Any, Any, bool]:
        return self.daemon.start(container, job=self.job, phase=container.name)

    def _run(self, step: RunStep) -> Generator[Any, Any, None]:
        container = yield from self._create(step.container)
        yield from self._start(container)
        if step.detach:
            if step.wait:  # like `docker compose up --wait`: until the health check decides
                status = yield from self.daemon.runtime.wait_health(container)
                if status != "healthy":
                    raise JobFailed(f"container {container.name} is {status}")
            return
        started = self.env.now
        exit_code = yield from self.daemon.runtime.wait(container)
        self._phase(_RUN, container.name, started)
        if container.spec.auto_remove:  # --rm: the daemon removes it once it has exited; the CLI waits for that
            yield from self.daemon.runtime.removal(container)
        if exit_code != 0:
            oom = " (OOMKilled)" if container.oom_killed else ""
            services = self.daemon.runtime.services  # a failed service call: the line its client printed
            said = f": {services.said(container)}" if services is not None and services.said(container) else ""
            raise JobFailed(f"container {container.name} exited with code {exit_code}{oom}{said}")

    def _compose(self, step: ComposeStep) -> Generator[Any, Any, None]:
        """``docker compose up -d`` / ``down`` (components/compose.py)."""
        run = ComposeRun(self.env, self.daemon, self.recorder, self.job, copies=self.copies)
        if step.action == "down":
            return run.down(step.project, volumes=step.volumes)
        if step.action in ("stop", "start", "restart"):
            return run.lifecycle(step.project, step.action)
        return run.up(step.project, build=step.build, recreate=step.recreate, wait=step.wait,
                      wait_timeout=step.wait_timeout)

    def _container(self, name: str | None) -> Container:
        if name is None:
            if self.last is None:
                raise JobFailed("no container: this job has not created one")
            return self.last
        container = self.containers.get(name) or self.daemon.runtime.container(name)
        if container is None:
            raise JobFailed(f"Error response from daemon: No such container: {name}")
        return container


#: each kind of step -> the generator that carries it out (Client._operation)
_OPERATIONS: dict[type[Any], Callable[[Client, Any], Generator[Any, Any, Any]]] = {
    PullStep: lambda client, step: client._pull(step.ref),
    PushStep: lambda client, step: client._push(step.ref),
    RunStep: lambda client, step: client._run(step),
    CreateStep: lambda client, step: client._create(step.container),
    StartStep: lambda client, step: client._start(client._container(step.container)),
    StopStep: lambda client, step: client._stop(client._container(step.container), step.timeout),
    RestartStep: lambda client, step: client._restart(client._container(step.container), step.timeout),
    KillStep: lambda client, step: client._kill(client._container(step.container), step.signal),
    CommitStep: lambda client, step: client._commit(client._container(step.container), step.ref, step.pause),
    ExecStep: lambda client, step: client._exec(client._container(step.container), step),
    PauseStep: lambda client, step: client._pause(client._container(step.container)),
    UnpauseStep: lambda client, step: client._unpause(client._container(step.container)),
    TagStep: lambda client, step: client._tag(step.source, step.target),
    RmiStep: lambda client, step: client._rmi(step),
    RmStep: lambda client, step: client._rm(client._container(step.container), step.volumes),
    PsStep: lambda client, step: client._ps(step.all),
    SleepStep: lambda client, step: client._sleep(step.duration.sample(client.rng)),
    BuildStep: lambda client, step: client._build(step.spec),
    EditStep: lambda client, step: client._edit(step),
    ComposeStep: lambda client, step: client._compose(step),
}
