"""A job's steps, one frozen type per client command; references are normalised when loaded."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from dsim.distributions import Distribution
from dsim.domain.builds import BuildSpec
from dsim.domain.compose import ComposeStep
from dsim.domain.containers import ContainerSpec


@dataclass(frozen=True, slots=True)
class PullStep:
    """``docker pull REF``."""

    kind: ClassVar[str] = "pull"
    ref: str


@dataclass(frozen=True, slots=True)
class PushStep:
    """``docker push REF``: to the registry its first component names (``local/app:1``), else its own."""

    kind: ClassVar[str] = "push"
    ref: str


@dataclass(frozen=True, slots=True)
class RunStep:
    """``docker run``: create (pull on 'No such image', create again), start, wait for the process to exit (and,
    with ``--rm``, its removal); ``detach`` ends the step once started (``wait``: once healthy)."""

    kind: ClassVar[str] = "run"
    container: ContainerSpec
    detach: bool = False
    wait: bool = False


@dataclass(frozen=True, slots=True)
class CreateStep:
    """``docker create``: the container exists (Created) until a ``start`` step."""

    kind: ClassVar[str] = "create"
    container: ContainerSpec


@dataclass(frozen=True, slots=True)
class StartStep:
    """``docker start``; ``container`` names one of this job's, default its most recent one."""

    kind: ClassVar[str] = "start"
    container: str | None = None


@dataclass(frozen=True, slots=True)
class StopStep:
    """``docker stop``: SIGKILL after ``timeout`` seconds."""

    kind: ClassVar[str] = "stop"
    container: str | None = None
    timeout: float = 10.0


@dataclass(frozen=True, slots=True)
class RestartStep:
    """``docker restart``: stop (SIGKILL after ``timeout`` seconds), then start."""

    kind: ClassVar[str] = "restart"
    container: str | None = None
    timeout: float = 10.0


@dataclass(frozen=True, slots=True)
class KillStep:
    """``docker kill``: ``signal`` to the container's process (KILL: at once)."""

    kind: ClassVar[str] = "kill"
    container: str | None = None
    signal: str = "KILL"


@dataclass(frozen=True, slots=True)
class CommitStep:
    """``docker commit``: the container's changes become a layer on its image; ``ref`` names the image (None:
    dangling)."""

    kind: ClassVar[str] = "commit"
    container: str | None = None
    ref: str | None = None
    #: frozen meanwhile when it runs (dockerd's default; False: ``--pause=false``)
    pause: bool = True


@dataclass(frozen=True, slots=True)
class ExecStep:
    """``docker exec``: a command in the running container (components/execs.py)."""

    kind: ClassVar[str] = "exec"
    container: str | None
    #: wall time the command runs (with ``cpu_time``: paces it)
    duration: Distribution
    #: CPU-seconds it needs (None: it only waits)
    cpu_time: Distribution | None
    #: cores it can use
    threads: int
    exit_code: int
    #: -d: the step ends once the command has started
    detach: bool


@dataclass(frozen=True, slots=True)
class RmiStep:
    """``docker rmi`` (``force``: -f)."""

    kind: ClassVar[str] = "rmi"
    image: str
    force: bool = False


@dataclass(frozen=True, slots=True)
class PauseStep:
    """``docker pause``: the cgroup freezer takes the container."""

    kind: ClassVar[str] = "pause"
    container: str | None = None


@dataclass(frozen=True, slots=True)
class UnpauseStep:
    """``docker unpause``: the freezer lets the container go."""

    kind: ClassVar[str] = "unpause"
    container: str | None = None


@dataclass(frozen=True, slots=True)
class TagStep:
    """``docker tag SOURCE TARGET`` (references normalised)."""

    kind: ClassVar[str] = "tag"
    source: str
    target: str


@dataclass(frozen=True, slots=True)
class RmStep:
    """``docker rm`` (``volumes``: -v, its anonymous volumes go too)."""

    kind: ClassVar[str] = "rm"
    container: str | None = None
    volumes: bool = False


@dataclass(frozen=True, slots=True)
class PsStep:
    """``docker ps`` (``all``: -a)."""

    kind: ClassVar[str] = "ps"
    all: bool = False


@dataclass(frozen=True, slots=True)
class SleepStep:
    """Client think time (no API call)."""

    kind: ClassVar[str] = "sleep"
    duration: Distribution


@dataclass(frozen=True, slots=True)
class BuildStep:
    """``docker build``, planned before time 0."""

    kind: ClassVar[str] = "build"
    spec: BuildSpec


@dataclass(frozen=True, slots=True)
class EditStep:
    """Change files of the job's copy of a build context (no API call, no time)."""

    kind: ClassVar[str] = "edit"
    context: str
    files: tuple[str, ...]


Step = PullStep | PushStep | RunStep | CreateStep | StartStep | StopStep | RestartStep | KillStep | CommitStep \
    | ExecStep | PauseStep | UnpauseStep | TagStep | RmiStep | RmStep | PsStep | SleepStep | BuildStep | EditStep \
    | ComposeStep
