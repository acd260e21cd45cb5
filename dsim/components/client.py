"""A client session: runs one job's steps as Engine API calls, the way the docker CLI sequences them.

Each step first waits at the daemon's API front (``queue``), then the operation runs; the client marks
the phase of each operation (pull, create, start, run) as a span so the outputs can attribute time.
"""

from __future__ import annotations

import functools
import random
from collections import Counter
from collections.abc import Callable, Generator
from typing import Any

import simpy

from dsim.components.builder import Builder, WorkingCopy
from dsim.components.container import Container, ContainerSpec
from dsim.components.daemon import Daemon
from dsim.components.errors import ApiError, StreamError
from dsim.records import JobEnd, Recorder, SpanKind
from dsim.scenarios.model import CreateStep, EditStep, RunStep, Step
from dsim.scenarios.resolve import normalise


class JobFailed(Exception):
    """A step failed; the message is what the docker CLI would print."""


class Client:
    """One job's docker CLI on one host."""

    def __init__(self, env: simpy.Environment, daemon: Daemon, recorder: Recorder,
                 make_rng: Callable[[], random.Random], job: int, workload: str, *,
                 specs: dict[int, ContainerSpec] | None = None) -> None:
        """``make_rng``: this job's random stream, made on first use (most jobs never sample one).
        ``specs``: container specs already made from the scenario's run/create steps, by ``id(step)``
        (steps live as long as the scenario; ``dsim serve`` makes its steps per call and passes none)."""
        self.env = env
        self.daemon = daemon
        self.recorder = recorder
        self._make_rng = make_rng
        self._specs = specs
        self.job = job
        self.workload = workload
        self.containers: dict[str, Container] = {}
        self.last: Container | None = None
        self.step_index = 0
        #: this job's copies of build contexts (builder.py WorkingCopy), made on first use
        self.copies: dict[str, WorkingCopy] = {}

    @functools.cached_property
    def rng(self) -> random.Random:
        return self._make_rng()

    def run(self, steps: list[Step], arrival: float, on_end: Callable[[], None]) -> Generator[Any, Any, None]:
        """Run every step in order; the first failure ends the job with what the docker CLI prints."""
        status, error = "completed", ""
        try:
            for index, step in enumerate(steps):
                self.step_index = index
                yield from self._operation(step)
        except StreamError as err:  # reported inside a pull's or push's progress stream: printed as is
            status, error = "failed", str(err)
        except ApiError as err:
            status, error = "failed", f"Error response from daemon: {err}"
        except JobFailed as failure:
            status, error = "failed", str(failure)
        host = self.daemon.host
        self.recorder.span(SpanKind.JOB, self.workload, arrival, self.env.now, host=host, job=self.job, status=status)
        self.recorder.job_end(JobEnd(self.job, self.workload, host, arrival, self.env.now, status, error))
        on_end()

    def _phase(self, kind: SpanKind, subject: str, start: float) -> None:
        self.recorder.span(kind, subject, start, self.env.now, host=self.daemon.host, job=self.job)

    def _operation(self, step: Step) -> Generator[Any, Any, Any]:
        """The generator that carries out ``step``: returned for ``run`` to delegate to, rather than
        delegated to here, which would add a level that every event of the step passes through."""
        if step.pull is not None:
            return self._pull(normalise(step.pull))
        if step.push is not None:
            return self._push(normalise(step.push))
        if step.run is not None:
            return self._run(step.run)
        if step.create is not None:
            return self._create(self._spec(step.create))
        if step.start is not None:
            return self._start(self._container(step.start.container))
        if step.stop is not None:
            return self._stop(self._container(step.stop.container), step.stop.timeout)
        if step.rm is not None:
            return self._rm(self._container(step.rm.container))
        if step.ps is not None:
            return self._ps(step.ps.all)
        if step.sleep is not None:
            return self._sleep(step.sleep.sample(self.rng))
        if step.build is not None:
            return self._build()
        assert step.edit is not None  # the model allows exactly one operation per step
        return self._edit(step.edit)

    def _stop(self, container: Container, timeout: float) -> Generator[Any, Any, None]:
        began = yield from self.daemon.api("stop", job=self.job)
        yield from self.daemon.runtime.stop(container, timeout, job=self.job)
        self._phase(SpanKind.STOP, container.name, began)

    def _rm(self, container: Container) -> Generator[Any, Any, None]:
        began = yield from self.daemon.api("rm", job=self.job)
        self.daemon.runtime.remove(container, job=self.job)
        self._phase(SpanKind.RM, container.name, began)

    def _ps(self, all: bool) -> Generator[Any, Any, None]:
        began = yield from self.daemon.api("ps", job=self.job)
        listed = self.daemon.runtime.ps(all=all)
        states = dict(sorted(Counter(c.state for c in listed).items()))
        self.recorder.span(SpanKind.PS, self.daemon.host, began, self.env.now, host=self.daemon.host, job=self.job,
                           listed=len(listed), states=states,
                           containers=[f"{c.name} {c.status}" for c in listed[:20]])

    def _sleep(self, seconds: float) -> Generator[Any, Any, None]:
        yield self.env.timeout(seconds)

    def _pull(self, ref: str) -> Generator[Any, Any, None]:
        began = yield from self.daemon.api("pull", job=self.job)
        yield from self.daemon.puller.pull(ref, job=self.job)
        self._phase(SpanKind.PULL, ref, began)

    def _push(self, ref: str) -> Generator[Any, Any, None]:
        began = yield from self.daemon.api("push", job=self.job)
        yield from self.daemon.pusher.push(ref, job=self.job)
        self._phase(SpanKind.PUSH, ref, began)

    def _builder(self) -> Builder:
        if self.daemon.builder is None:
            raise JobFailed("this daemon has no builder")
        return self.daemon.builder

    def _copy(self, context: str) -> WorkingCopy:
        copy = self.copies.get(context)
        if copy is None:
            copy = self.copies[context] = WorkingCopy(context, self._builder().contexts[context], self.job)
        return copy

    def _build(self) -> Generator[Any, Any, None]:
        """``docker build``: one API call (the session), then the build on the daemon; phase ``build``."""
        builder = self._builder()
        spec = builder.specs[(self.workload, self.step_index)]
        began = yield from self.daemon.api("build", job=self.job)
        context = spec.options.context
        copy = self._copy(context) if context is not None else None
        image = yield from builder.build(spec, copy, job=self.job, client=spec.options.context_from or self.daemon.host)
        self._phase(SpanKind.BUILD, image.ref, began)

    def _edit(self, step: EditStep) -> Generator[Any, Any, None]:
        """Files of the job's context copy get new content (no API call, no time)."""
        self._copy(step.context).edit(step.files)
        self.recorder.span(SpanKind.EDIT, step.context, self.env.now, self.env.now, host=self.daemon.host, job=self.job,
                           files=list(step.files))
        yield from ()

    def _spec(self, step: RunStep | CreateStep) -> ContainerSpec:
        """The container's config; its workload's distributions are sampled by the runtime at each run."""
        if self._specs is None:
            return container_spec(step)
        spec = self._specs.get(id(step))
        if spec is None:
            spec = self._specs[id(step)] = container_spec(step)
        return spec

    def _create(self, spec: ContainerSpec) -> Generator[Any, Any, Container]:
        """POST create; on 404 the CLI prints 'Unable to find image ... locally', pulls, creates again."""
        began = yield from self.daemon.api("create", job=self.job)
        try:
            container = yield from self.daemon.runtime.create(spec, job=self.job)
        except ApiError as err:
            if err.status != 404:
                raise
            self._phase(SpanKind.CREATE, spec.image, began)
            self.recorder.span(SpanKind.CLI, f"Unable to find image '{spec.image}' locally", self.env.now, self.env.now,
                               host=self.daemon.host, job=self.job)
            yield from self._pull(spec.image)
            began = yield from self.daemon.api("create", job=self.job)
            container = yield from self.daemon.runtime.create(spec, job=self.job)
        self._phase(SpanKind.CREATE, container.name, began)
        self.daemon.store.touch(spec.image)  # image GC's least-recently-used order (image_store.py)
        self.containers[container.name] = container
        self.last = container
        return container

    def _start(self, container: Container) -> Generator[Any, Any, None]:
        began = yield from self.daemon.api("start", job=self.job)
        yield from self.daemon.runtime.start(container, job=self.job)
        self._phase(SpanKind.START, container.name, began)

    def _run(self, step: RunStep) -> Generator[Any, Any, None]:
        container = yield from self._create(self._spec(step))
        yield from self._start(container)
        if step.detach:
            if step.wait:  # like `docker compose up --wait`: until the health check decides
                status = yield from self.daemon.runtime.wait_health(container)
                if status != "healthy":
                    raise JobFailed(f"container {container.name} is {status}")
            return
        started = self.env.now
        exit_code = yield from self.daemon.runtime.wait(container)
        self._phase(SpanKind.RUN, container.name, started)
        if exit_code != 0:
            oom = " (OOMKilled)" if container.oom_killed else ""
            raise JobFailed(f"container {container.name} exited with code {exit_code}{oom}")

    def _container(self, name: str | None) -> Container:
        if name is None:
            if self.last is None:
                raise JobFailed("no container: this job has not created one")
            return self.last
        container = self.containers.get(name) or self.daemon.runtime.containers.get(name)
        if container is None:
            raise JobFailed(f"Error response from daemon: No such container: {name}")
        return container


def container_spec(step: RunStep | CreateStep) -> ContainerSpec:
    """What a run/create step asks of ``docker create``."""
    return ContainerSpec(
        normalise(step.image), step.name, step.cpus, step.memory, tuple(step.ports), step.duration,
        step.stop_time, cpu_time=step.cpu_time, threads=step.threads, memory_usage=step.memory_usage,
        expose=tuple(step.expose), publish_all=step.publish_all, exit_code=step.exit_code,
        fail_probability=step.fail_probability, restart=step.restart, healthcheck=step.healthcheck,
        writes=step.writes, copy_up=step.copy_up, isolation=step.isolation,
        # `docker run -d` of a server (no duration, no cpu_time) runs until stopped
        until_stopped=isinstance(step, RunStep) and step.runs_until_stopped,
    )
