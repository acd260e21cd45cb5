"""The processes of the API's containers: each run's output, interactive input, and signals.

Mixed into ``serve.engine.Engine`` (simulation thread only). A run's Program (``commands.py``) decided its
duration and exit code when the container was created (they are the runtime's process model: the
container spec's ``duration``/``exit_code``); here each run the runtime starts gets its log
(``logs.RunLog``), an interactive shell gets its session, and what the client types ends the run when the
shell exits (the runtime's ``kill`` event with the exit code).
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Generator, Iterable, Mapping
from dataclasses import replace
from functools import partial
from typing import Any

import simpy

from dsim.components import freezer
from dsim.components.container import RESTARTING, RUNNING, SIGKILL_EXIT, Container
from dsim.components.daemon import Daemon
from dsim.components.errors import ApiError
from dsim.components.storage import Node, Volume
from dsim.domain.images import ImageInfo
from dsim.serve import health, netview, objects
from dsim.serve import images as refs
from dsim.serve.archive import DOCKERD_FILES
from dsim.serve.commands import Context, Write, config_context, interpret
from dsim.serve.events import EventLog
from dsim.serve.image_config import ImageConfigs
from dsim.serve.logs import LogLine, RunLog, through_terminal
from dsim.serve.netview import Member, NetView
from dsim.serve.object_meta import ObjectMeta
from dsim.serve.shell_session import ShellSession
from dsim.serve.shell_state import Repeat
from dsim.serve.views import Served

#: how often the observer of a restarting container looks for its new run (simulated seconds)
RESTART_LOOK_S = 0.001


class Processes:
    """Runs, output and input of the API's containers (mixed into Engine)."""

    env: simpy.Environment
    containers: dict[str, Served]
    events: EventLog
    clock: Callable[[], float]
    #: the Unix time of a simulated instant (views.py)
    epoch: Callable[[float], float]
    #: the endpoints' aliases by container (object_meta.py)
    object_meta: ObjectMeta
    daemon: Daemon
    image_configs: ImageConfigs
    #: a container's execs dropped when its process exits (execs.py)
    forget_execs: Callable[[Served], None]

    # ------------------------------------------------------------------ the command

    def argv(self, config: dict[str, Any], image: ImageInfo) -> list[str]:
        """Entrypoint + Cmd as dockerd runs them: a given Entrypoint drops the image's Cmd. The image's are
        its config's (a catalog image's, or what a build's CMD/ENTRYPOINT set)."""
        image_config = refs.config_for(self.image_configs, image)
        entrypoint, cmd = list(image_config.entrypoint or ()), list(image_config.cmd or ())
        given_entry = config.get("Entrypoint")
        given_cmd = config.get("Cmd")
        # --entrypoint "": [""], which dockerd resets to none (moby daemon/create.go mergeAndVerifyConfig), the
        # image's not taken either: the command runs alone
        entry = [] if given_entry == [""] else list(given_entry) if given_entry else list(entrypoint)
        if given_cmd:
            return entry + list(given_cmd)
        return entry + ([] if given_entry else list(cmd))

    def context(self, served: Served) -> Context:
        """The container's Context: its Hostname, else its ID's first 12 characters, as Docker names it; the
        networks as they are when a command looks; the process's start on the API's clock."""
        hostname = served.config.get("Hostname") or served.id[:12]
        context = config_context(served.config, hostname)
        files = dict(served.files)
        for target, volume in self.volume_mounts(served):  # what any container wrote into them, seen now
            files.update((posixpath.join(target, path), data) for path, data in volume.files.items())
        container = served.container
        start = container.started_at if container.started_at is not None else self.env.now
        net = partial(self.net_view, container.spec.network, container, hostname, served.host_config)
        dirs = [path for path, node in served.nodes.items() if node.link is None]
        dirs += [posixpath.normpath(posixpath.join(target, inside)) for target, volume in self.volume_mounts(served)
                 for inside, node in volume.nodes.items() if node.link is None]
        return replace(context, files=tuple(files.items()), links=tuple(self.links(served).items()),
                       dirs=tuple(dirs), net=net,
                       unix_time=lambda offset: self.epoch(start + offset))

    def request_context(self, body: dict[str, Any]) -> Context:
        """What a create request's commands (its process, its health probes) see before the container exists:
        its environment, working directory and user, and the networks its mode joins (net_view)."""
        hostname = body.get("Hostname") or ""
        net = partial(self.net_view, objects.container_options(body)["network"], None, hostname,
                      body.get("HostConfig") or {})
        return replace(config_context(body, hostname), net=net)

    def net_view(self, mode: str, container: Container | None, hostname: str,
                 host_config: dict[str, Any]) -> NetView:
        """What a container of network ``mode`` sees of the daemon's networks now (netview.py); ``container``:
        None before it is created."""
        members = [Member(other.id, other.container, self.object_meta.aliases.get(other.id, {}))
                   for other in self.containers.values() if not other.removed]
        return netview.net_view(self.daemon.runtime.networks, mode, container, hostname, members,
                                host_config.get("ExtraHosts") or ())

    def volume_mounts(self, served: Served) -> list[tuple[str, Volume]]:
        """The container's volumes by their mount points, in mount order."""
        volumes = iter(self.daemon.runtime.storage.mounted(served.container))
        return [(mount.target, next(volumes)) for mount in served.container.spec.mounts if mount.type == "volume"]

    def keep_files(self, served: Served, files: tuple[tuple[str, bytes], ...]) -> None:
        """Files a command wrote, where they land (``place_files``), written now: the writable layer's grow the
        disk's work (ContainerStorage.write_files). A container's later commands read them back."""
        if not files or served.removed:
            return
        now = self.epoch(self.env.now)
        layer = self.place_files(served, [(path, data, now, None) for path, data in files])
        if layer:
            storage = self.daemon.runtime.storage
            self.env.process(storage.write_files(served.container, layer, served.image_files))

    def place_files(self, served: Served, files: Iterable[tuple[str, bytes, float, int | None]]) -> dict[str, float]:
        """Files (path, contents, mtime as a Unix time, permission bits) where they land: under a volume's mount,
        in the volume (every container that mounts it reads them); under a bind mount or a tmpfs, or one of the
        files dockerd bind-mounts (/etc/hosts, /etc/hostname, /etc/resolv.conf: moby container_unix.go
        NetworkMounts), outside the layer (this container reads them); elsewhere in its writable layer, which
        is returned (path -> size) for ``docker diff``, ``docker commit`` and the disk. Bits None: the file's
        before, else 0644 (a new file under umask 022)."""
        volumes = dict(self.volume_mounts(served))
        mounts = sorted((m.target for m in served.container.spec.mounts), key=len, reverse=True)
        layer: dict[str, float] = {}
        for path, data, mtime, mode in files:
            target = next((t for t in mounts if path == t or path.startswith(t.rstrip("/") + "/")), None)
            if target is not None and target in volumes:
                volume, inside = volumes[target], posixpath.relpath(path, target)
                volume.files[inside] = data
                volume.meta[inside] = (mtime, mode if mode is not None else volume.meta.get(inside, (0, 0o644))[1])
                continue
            served.files[path] = data
            served.file_meta[path] = (mtime, mode if mode is not None else served.file_meta.get(path, (0, 0o644))[1])
            self._touch_dirs(served, path, mtime)
            if target is None and path not in DOCKERD_FILES:
                layer[path] = len(data)
        return layer

    @staticmethod
    def _touch_dirs(served: Served, path: str, mtime: float) -> None:
        """A new entry makes its kept directories' times its own when newer (as archive.FileTree's implied
        directories are)."""
        parent = posixpath.dirname(path)
        while parent != "/":
            node = served.nodes.get(parent)
            if node is not None and node.link is None and node.mtime < mtime:
                served.nodes[parent] = replace(node, mtime=mtime)
            parent = posixpath.dirname(parent)

    def _where(self, served: Served, path: str) -> tuple[str | None, Volume | None, str]:
        """The mount a path is under (None: the rootfs), its volume if a volume's, the path inside it."""
        mounts = sorted((m.target for m in served.container.spec.mounts), key=len, reverse=True)
        target = next((t for t in mounts if path == t or path.startswith(t.rstrip("/") + "/")), None)
        volume = dict(self.volume_mounts(served)).get(target) if target is not None else None
        return target, volume, posixpath.relpath(path, target) if volume is not None and target else path

    def place_nodes(self, served: Served, nodes: Mapping[str, Node]) -> dict[str, float]:
        """Directories and symbolic links docker cp made, where they land as files do (``place_files``); those
        of the writable layer are returned (path -> 0 bytes: a directory or a short link takes no data)."""
        layer: dict[str, float] = {}
        for path, node in nodes.items():
            target, volume, inside = self._where(served, path)
            if volume is not None:
                volume.nodes[inside] = node
                continue
            served.nodes[path] = node
            if target is None:
                layer[path] = 0.0
        return layer

    def remove_paths(self, served: Served, paths: Iterable[str]) -> None:
        """Files and links an upload replaced by an entry of another type (go-archive Unpack's RemoveAll)."""
        for path in paths:
            _, volume, inside = self._where(served, path)
            if volume is not None:
                for table in (volume.files, volume.meta, volume.nodes):
                    table.pop(inside, None)
                continue
            for held in (served.files, served.file_meta, served.nodes):
                held.pop(path, None)

    def links(self, served: Served) -> dict[str, str]:
        """The container's symbolic links (absolute path -> target): its own and its volumes'."""
        found = {path: node.link for path, node in served.nodes.items() if node.link is not None}
        for target, volume in self.volume_mounts(served):
            found.update((posixpath.join(target, inside), node.link) for inside, node in volume.nodes.items()
                         if node.link is not None)
        return found

    # ------------------------------------------------------------------ runs

    def track_runs(self, served: Served) -> RunLog | None:
        """Give each run the runtime started since the last look its log (and its session); returns the
        current run's log. Runs that started and ended between two looks (a restart loop nobody watched)
        are seen at the next look only if they are the latest."""
        container = served.container
        if served.program is None or container.runs == served.seen_runs or container.started_at is None:
            return served.log.runs[-1] if served.log.runs else None
        served.seen_runs = container.runs
        program = served.program
        writes: list[Write] = []
        repeat: Repeat | None = None
        served.session = None
        if program.reads_stdin:
            served.session = ShellSession(served.argv, self.context(served), tty=bool(served.config.get("Tty")))
            writes = served.session.begin()
        else:
            ran = interpret(served.argv, self.context(served))
            writes, repeat = list(ran.output), ran.repeat
            if served.config.get("Tty"):
                writes, repeat = through_terminal(writes, repeat)
            self.keep_files(served, ran.files)
        run = served.log.begin(container.started_at, writes, repeat)
        exited = container.exited
        if container.state not in (RUNNING, RESTARTING) or exited is None or exited.callbacks is None:
            # the run ended before anyone looked (a restart that failed at once)
            self._run_ended(served, run, container.exit_code or 0, container.finished_at)
        else:
            exited.callbacks.append(lambda event: self._run_ended(served, run, event.value))
        if served.session is not None and served.pending_input:
            pending, served.pending_input = served.pending_input, []
            for data in pending:
                self.feed(served, data)
        return run

    def _run_ended(self, served: Served, run: RunLog, code: int, at: float | None = None) -> None:
        run.end = self.env.now if at is None else at
        freezer.release(served.container)  # a stopped or killed container is thawed (moby unpauses it)
        killed_at, served.kill_at = served.kill_at, None
        if killed_at is not None and run.end >= killed_at and code == SIGKILL_EXIT:
            # the stop's timeout passed with the process still running: moby daemon/stop.go falls back to Kill,
            # whose SIGKILL logs kill (signal 9) before the exit's die (daemon/kill.go)
            self.container_event(served, "kill", at=run.end, signal="9")
        self.container_event(served, "die", at=run.end, exitCode=str(code))
        self.forget_execs(served)
        self.network_event(served, "disconnect", at=run.end)
        if served.container.state == RESTARTING:
            self.env.process(self._next_run(served))

    def _next_run(self, served: Served) -> Generator[Any, Any, None]:
        """The restart policy starts the process again after its backoff and the start path: look for the
        new run then (an observer of the runtime's state, every simulated millisecond once the backoff is
        over, until the run began or the restart was given up), so each run gets its log and events."""
        container = served.container
        runs = container.runs
        yield self.env.timeout(container.restart_manager.delay)
        while container.state == RESTARTING and container.runs == runs and not served.removed:
            yield self.env.timeout(RESTART_LOOK_S)
        if container.runs != runs and not served.removed:
            self.network_event(served, "connect", at=container.started_at)
            self.container_event(served, "start", at=container.started_at)
            self.track_runs(served)
            health.watch(self, served)  # type: ignore[arg-type]  # mixed into Engine

    # ------------------------------------------------------------------ events

    def container_event(self, served: Served, action: str, at: float | None = None, **extra: str) -> None:
        """A container event (at ``at``, default now): its image, name and labels as attributes (dockerd's
        LogContainerEvent)."""
        attributes = {**(served.config.get("Labels") or {}), "image": str(served.config.get("Image", "")),
                      "name": served.name, **extra}
        self.events.add(self.env.now if at is None else at, "container", action, served.id, attributes)

    def network_event(self, served: Served, action: str, at: float | None = None) -> None:
        """``connect``/``disconnect`` of each network the container is on (actor: the network's ID)."""
        networks = objects.container_networks(self.daemon, served.container)
        for name, endpoint in networks.items():
            network = self.daemon.runtime.networks.networks.get(name)
            self.events.add(self.env.now if at is None else at, "network", action, endpoint["NetworkID"],
                            {"container": served.id, "name": name,
                             "type": network.driver if network is not None else "bridge"})

    def attach_target(self, served: Served) -> int:
        """Which run an attach follows: the current one if running, else the next one."""
        self.track_runs(served)
        running = served.container.state == RUNNING
        return len(served.log.runs) - 1 if running and served.log.runs else len(served.log.runs)

    def run_output(self, served: Served, index: int) -> tuple[list[LogLine], bool]:
        """The lines run ``index`` has written by now, and whether it is over (or will never come)."""
        self.track_runs(served)
        runs = served.log.runs
        if index < len(runs):
            run = runs[index]
            return run.lines(self.clock()), run.end is not None and run.end <= self.clock()
        return [], served.removed or served.program is None

    def log_lines(self, served: Served) -> tuple[list[LogLine], bool]:
        """Every run's lines by now, and whether more may come (the container is running or restarting,
        or its last run has not reached its end yet)."""
        self.track_runs(served)
        now = self.clock()
        runs = served.log.runs
        pending = bool(runs) and (runs[-1].end is None or runs[-1].end > now)
        live = served.container.state in (RUNNING, RESTARTING) and not served.removed
        return served.log.lines(now), live or pending

    # ------------------------------------------------------------------ standard input

    def feed(self, served: Served, data: bytes | None) -> None:
        """Input from an attached client (None: it closed its input): the session answers, and a shell
        that exits ends the run with its code."""
        self.track_runs(served)
        session = served.session
        if session is None or session.ended:
            if served.program is not None and served.program.reads_stdin and served.container.state != RUNNING:
                served.pending_input.append(data)
            return
        writes = session.feed(data) if data is not None else session.close()
        self.keep_files(served, session.take_files())
        run = served.log.runs[-1]
        offset = self.env.now - run.start
        run.writes += [Write(offset + w.at, w.stream, w.data) for w in writes]
        if session.ended:
            delay = max([w.at for w in writes] + [session.exit_at])
            self.env.process(self._exit_after(served, delay, session.status))

    def _exit_after(self, served: Served, delay: float, code: int) -> Generator[Any, Any, None]:
        if delay > 0:
            yield self.env.timeout(delay)
        kill = served.container.kill
        if served.container.state == RUNNING and kill is not None and not kill.triggered:
            kill.succeed(code)

    # ------------------------------------------------------------------ signals

    def signal_reaction(self, served: Served, signal: str, named: str = "") -> str:
        """What the process does on ``signal``: "exit", "keep" or "ignore" (commands.Program.reaction);
        a scenario's container (no Program) exits on any signal, as the runtime models it. Not running: 409
        naming the container as the request did (``named``), as dockerd's kill route wraps the error."""
        if served.container.state not in (RUNNING, RESTARTING):
            raise ApiError(409, f"cannot kill container: {named or served.id}: container {served.id} is not running")
        return "exit" if served.program is None else served.program.reaction(signal)
