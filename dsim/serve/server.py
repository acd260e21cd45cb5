"""``dsim serve``: a scenario's world run in real time, one of its hosts answering the Engine API.

Threads: the HTTP layer's (dsim.serve.http: one I/O thread for all connections, a bounded pool of workers
for the requests being handled), the simulation thread (``SimLoop``: the only one that touches the model)
and the main thread, which waits for Ctrl-C or SIGTERM, then stops the server (``Server.stop``: stop
accepting, end the requests in flight well-formed, stop the clock at that instant, record the operations
still under way as unfinished) and derives the SimResult the way ``dsim run`` does, so ``--out`` gets the
same files.
"""

from __future__ import annotations

import contextlib
import ipaddress
import math
import os
import platform
import stat
import sys
import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dsim
from dsim.errors import UsageError
from dsim.result import SimResult
from dsim.run import build_world
from dsim.scenarios.loader import load_scenario, load_scenario_text
from dsim.scenarios.resolve import Resolved
from dsim.serve.adapter import run_request, serving_class
from dsim.serve.clock import SimLoop
from dsim.serve.engine import Engine
from dsim.serve.exchange import Exchange
from dsim.serve.handler import API_VERSION, ENGINE_VERSION, MIN_API_VERSION, EngineHandler
from dsim.serve.http import Connection, HttpServer, Limits, socket_answers, tcp_listener, unix_listener
from dsim.serve.records import WindowRecorder
from dsim.serve.streams import OpenAttaches
from dsim.world import World

#: Largest JSON request body (container configs are a few KB).
MAX_BODY = 1 * 2**20
#: Largest build context, uncompressed (the tar is held in memory while it is read; a compressed one is
#: measured as it inflates, so a small gzip that inflates past this is refused early).
MAX_CONTEXT = 256 * 2**20
#: Wall seconds the requests in flight get to end by themselves when the server stops (a /wait or an attach
#: sees the stop within a poll), before they are ended for them.
STOP_GRACE_S = 0.5
#: What a request still in flight at the stop is told (a stream's last line, else a 503).
STOPPED = "dsim serve stopped before this request finished"
#: The error of an operation still under way at the stop (its row in jobs.csv, status ``unfinished``).
UNFINISHED = "dsim serve stopped before this operation finished"

#: Without a scenario: one host with dsim's defaults, Docker Hub (with its documented pull limit) and the
#: built-in catalog of images (the loader adds Hub when serving).
DEFAULT_SCENARIO = """\
name: serve
description: dsim serve's default world, one Docker host and Docker Hub with dsim's built-in image catalog.
hosts:
  docker: {}
"""


def serve_scenario(path: Path | None, overrides: list[str] | None = None) -> Resolved:
    """Load the scenario to serve (dsim.scenarios.loader, ``serving=True``: workloads optional, Docker Hub
    present for the catalog unless the scenario defines its own network without it)."""
    if path is None:
        return load_scenario_text(DEFAULT_SCENARIO, filename="<dsim serve default>", overrides=overrides or (),
                                  serving=True)
    return load_scenario(path, overrides=overrides or (), serving=True)


def pick_host(resolved: Resolved, name: str | None) -> str:
    names = [host.name for host in resolved.hosts]
    if name is None:
        return names[0]
    if name in names:
        return name
    group = resolved.groups.get(name)
    if group:
        return group[0]
    raise UsageError(f"--host-name: no host '{name}' in the scenario (hosts: {', '.join(names)})")


def is_loopback(address: str) -> bool:
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


class ServerStopped(BrokenPipeError):
    """What a request thread gets from the simulation once the server stopped: its connection has been
    ended (Server.stop), so it unwinds as from a closed connection, quietly."""


class ServingLoop(SimLoop):
    """The simulation loop of a server: tasks submitted after the stop fail with ServerStopped."""

    def submit(self, task: Any) -> Future[Any]:
        future: Future[Any] = super().submit(task)
        if future.done() and isinstance(future.exception(), RuntimeError):
            stopped: Future[Any] = Future()
            stopped.set_exception(ServerStopped("dsim serve stopped"))
            return stopped
        return future


@dataclass
class ServeState:
    """What every request handler shares."""

    world: World
    engine: Engine
    loop: SimLoop
    address: str
    max_body: int = MAX_BODY
    max_context: int = MAX_CONTEXT
    verbose: bool = False
    stopping: threading.Event = field(default_factory=threading.Event)
    attaches: OpenAttaches = field(default_factory=OpenAttaches)

    def wait_result(self, future: Future[Any]) -> Any:
        """Wait for an operation that may take a long while (a container's life); None if the server stops."""
        while not self.stopping.is_set():
            try:
                return future.result(timeout=0.2)
            except FutureTimeout:
                continue
        return None

    def version(self) -> dict[str, Any]:
        kernel = f"{platform.release()} (dsim)"
        built = time.strftime("%Y-%m-%dT%H:%M:%S.000000000+00:00", time.gmtime(0))
        details = {"ApiVersion": API_VERSION, "Arch": "amd64", "BuildTime": built, "Experimental": "false",
                   "GitCommit": f"dsim-{dsim.__version__}", "GoVersion": f"python{platform.python_version()}",
                   "KernelVersion": kernel, "MinAPIVersion": MIN_API_VERSION, "Os": "linux"}
        return {
            "Platform": {"Name": f"dsim serve {dsim.__version__}: a simulated Docker Engine"},
            "Components": [{"Name": "Engine", "Version": ENGINE_VERSION, "Details": details}],
            "Version": ENGINE_VERSION,
            "ApiVersion": API_VERSION,
            "MinAPIVersion": MIN_API_VERSION,
            "GitCommit": details["GitCommit"],
            "GoVersion": details["GoVersion"],
            "Os": "linux",
            "Arch": "amd64",
            "KernelVersion": kernel,
            "BuildTime": built,
        }

    def info(self) -> dict[str, Any]:
        """SystemInfo (simulation thread): the simulated host's figures."""
        engine = self.engine
        spec = engine.daemon.spec
        warnings = []
        if not self.address.startswith("unix://") and not is_loopback(self.address.split("//")[1].rsplit(":", 1)[0]
                                                                     .strip("[]")):
            warnings.append(f"WARNING: API is accessible on http://{self.address.split('//')[1]} without encryption.")
        return {
            "ID": f"dsim-{engine.host}",
            **engine.counts(),
            "Driver": "overlayfs",
            "DriverStatus": [["driver-type", "io.containerd.snapshotter.v1"]],
            "Plugins": {"Volume": ["local"], "Network": ["bridge", "host", "none"], "Log": ["json-file"]},
            "MemoryLimit": True, "SwapLimit": True, "CpuCfsPeriod": True, "CpuCfsQuota": True,
            "CPUShares": True, "CPUSet": True, "PidsLimit": True, "IPv4Forwarding": True,
            "Debug": False, "NFd": 0, "OomKillDisable": False, "NGoroutines": 0,
            "SystemTime": engine.iso(engine.env.now),
            "LoggingDriver": "json-file", "CgroupDriver": "systemd", "CgroupVersion": "2",
            "NEventsListener": 0,
            "KernelVersion": f"{platform.release()} (dsim)",
            "OperatingSystem": f"dsim serve {dsim.__version__} (simulated host '{engine.host}')",
            "OSVersion": "", "OSType": "linux", "Architecture": "x86_64",
            "IndexServerAddress": "https://index.docker.io/v1/",
            "RegistryConfig": {
                "InsecureRegistryCIDRs": ["::1/128", "127.0.0.0/8"],
                "IndexConfigs": {"docker.io": {"Name": "docker.io", "Mirrors": [], "Secure": True, "Official": True}},
                "Mirrors": list(spec.daemon.registry_mirrors),
            },
            "NCPU": max(1, math.ceil(spec.cpus)),
            "MemTotal": int(spec.memory),
            "DockerRootDir": "/var/lib/docker",
            "Name": engine.host,
            "Labels": [f"dsim.speed={self.loop.speed:g}", f"dsim.time={engine.env.now:.3f}s"],
            "ExperimentalBuild": False,
            "ServerVersion": ENGINE_VERSION,
            "Runtimes": {"runc": {"path": "runc"}},
            "DefaultRuntime": "runc",
            "Swarm": {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive", "ControlAvailable": False,
                      "Error": "", "RemoteManagers": None},
            "LiveRestoreEnabled": False,
            "Isolation": "",
            "InitBinary": "docker-init",
            "SecurityOptions": ["name=seccomp,profile=builtin", "name=cgroupns"],
            "Warnings": warnings,
        }


class Server:
    """The HTTP server, the simulation loop and the world, started and stopped together."""

    def __init__(self, resolved: Resolved, *, host_name: str | None = None, listen: str = "127.0.0.1",
                 port: int = 2375, unix: Path | None = None, speed: float = 10.0, seed: int | None = None,
                 max_context: int = MAX_CONTEXT, verbose: bool = False, link_samples: float | None = None,
                 limits: Limits | None = None, keep_records: bool = True) -> None:
        """``link_samples``: as for dsim.run.build_world (the bandwidth chart of the session's report).
        ``keep_records``: keep every span and job record for the session's files (``--out``); without, only
        what a progress stream has yet to read (dsim/serve/records.py), so a long session does not grow."""
        if not speed > 0 or math.isinf(speed):
            raise UsageError("--speed must be a positive number")
        self.limits = limits or Limits()
        self.resolved = resolved
        self.host = pick_host(resolved, host_name)
        self.world = build_world(resolved, seed=seed, link_samples=link_samples,
                                 recorder=None if keep_records else WindowRecorder())
        self.loop = ServingLoop(self.world.env, speed)
        self.engine = Engine(self.world, self.host, now=self.loop.now)
        self.unix = unix
        if unix is not None:
            listener = self._bind_unix(unix)
            self.address = f"unix://{unix}"
        else:
            try:
                listener = tcp_listener(listen, port, self.limits.backlog)
            except OSError as err:
                raise UsageError(f"cannot listen on {listen}:{port}: {err.strerror}") from None
            bound = listener.getsockname()[1]
            shown = f"[{listen}]" if ":" in listen else listen
            self.address = f"tcp://{shown}:{bound}"
        self.state = ServeState(self.world, self.engine, self.loop, self.address, max_context=max_context,
                                verbose=verbose)
        handler = serving_class(EngineHandler, self.state)

        def app(exchange: Exchange, conn: Connection) -> None:
            run_request(handler, exchange, conn.peer if isinstance(conn.peer, tuple) else "unix")

        self.http = HttpServer(listener, app, self.limits, verbose=verbose)
        self._started = 0.0

    def _bind_unix(self, unix: Path) -> Any:
        """Listen on ``unix``; a socket file left by a server that is gone is replaced, a live one is not
        (dockerd refuses to start on a socket in use as well)."""
        if unix.exists() or unix.is_symlink():
            if not stat.S_ISSOCK(unix.lstat().st_mode):
                raise UsageError(f"--unix: {unix} exists and is not a socket")
            if socket_answers(str(unix)):
                raise UsageError(f"--unix: {unix} is in use: a server answers on it (stop it first)")
            unix.unlink()
        try:
            return unix_listener(str(unix), self.limits.backlog)
        except OSError as err:
            raise UsageError(f"--unix: cannot listen on {unix}: {err.strerror}") from None

    def start(self) -> None:
        self._started = time.perf_counter()
        self.loop.start()
        self.http.start()

    def stop(self) -> SimResult:
        """Stop accepting requests; let the requests in flight end (a short grace, then each is ended
        well-formed: Exchange.terminate); stop the clock; record the operations still under way as
        unfinished at that instant; derive the result of the session."""
        self.state.stopping.set()
        self.http.stop_accepting()
        if not self.http.wait_idle(STOP_GRACE_S):
            self.http.terminate(STOPPED)
            self.http.wait_idle(1.0)
        if self.unix is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.unix)
        self.loop.stop()
        self.engine.record_unfinished(UNFINISHED)
        result = self.world.result(time.perf_counter() - self._started)
        result.expected_jobs += self.engine.jobs
        return result


def main_loop(server: Server, stop: threading.Event) -> SimResult:
    """Serve until ``stop`` is set (by a signal handler or Ctrl-C)."""
    server.start()
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    print("dsim serve: stopping", file=sys.stderr, flush=True)
    return server.stop()
