"""Healthchecks of the API's containers: a create request's ``Healthcheck`` as the runtime's health model,
and what the API shows of it (``State.Health``, the ``health_status`` events).

The runtime probes by moby's rules (components/container.py ``health_timeline``, after daemon/health.go):
the first probe one interval after the start (``StartInterval`` while starting inside ``StartPeriod``), the
first success makes the container ``healthy``, ``Retries`` failures in a row outside the start period make
it ``unhealthy``. Whether a probe succeeds is the test command's, read as the container's own commands are
(commands.py): ``CMD redis-cli ping`` is a program dsim does not know and exits 0 (healthy at the first
probe), ``CMD-SHELL exit 1`` fails every probe, and so does a command that runs past ``Timeout`` (moby
kills it: "Health check exceeded timeout"). Probes themselves take no time in the model. ``["NONE"]``
disables the image's check; an empty ``Test`` inherits the image's (the catalog's images declare none).
Defaults are moby's (daemon/health.go, api/types/container): interval and timeout 30 s, start interval 5 s,
start period 0, retries 3; the inspect log keeps the last 5 probes (``maxLogEntries``).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dsim.components.container import RUNNING
from dsim.components.errors import ApiError
from dsim.serve.commands import Context, interpret

if TYPE_CHECKING:
    from dsim.serve.engine import Engine
    from dsim.serve.views import Served

NS = 1e9
DEFAULT_INTERVAL_S = 30.0
DEFAULT_TIMEOUT_S = 30.0
DEFAULT_START_INTERVAL_S = 5.0
DEFAULT_RETRIES = 3
MAX_LOG_ENTRIES = 5
_DURATIONS = ("Interval", "Timeout", "StartPeriod", "StartInterval")


def probe_argv(test: list[str]) -> list[str] | None:
    """The probe's command line: ``CMD`` args as given, ``CMD-SHELL`` through ``/bin/sh -c``; None for
    ``NONE`` or nothing to run."""
    if not test or test[0] == "NONE":
        return None
    if test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(test[1:])] if len(test) > 1 else None
    if test[0] == "CMD":
        return test[1:] or None
    return None


def validate(check: dict[str, Any]) -> None:
    """moby's ``validateHealthCheck``: each duration 0 or at least 1 ms, retries not negative (400s)."""
    for key in _DURATIONS:
        value = check.get(key) or 0
        if not isinstance(value, int) or isinstance(value, bool):
            raise ApiError(400, f"json: cannot unmarshal {type(value).__name__} into Go struct field "
                                f"HealthConfig.Healthcheck.{key} of type time.Duration")
        if value != 0 and value < 1_000_000:
            raise ApiError(400, f"{key} in Healthcheck cannot be less than 1ms")
    retries = check.get("Retries") or 0
    if not isinstance(retries, int) or retries < 0:
        raise ApiError(400, "Retries in Healthcheck cannot be negative")
    test = check.get("Test") or []
    if not isinstance(test, list) or not all(isinstance(word, str) for word in test):
        raise ApiError(400, "json: cannot unmarshal into Go struct field HealthConfig.Healthcheck.Test of type "
                            "[]string")


def _seconds(check: dict[str, Any], key: str, default: float) -> float:
    return float(check.get(key) or 0) / NS or default


def probe_passes(check: dict[str, Any], context: Context) -> tuple[bool, str]:
    """Whether each probe of this check succeeds, and what it prints: its command exits 0 within Timeout."""
    argv = probe_argv(list(check.get("Test") or []))
    assert argv is not None
    program = interpret(argv, context)
    output = b"".join(write.data for write in program.output).decode(errors="replace")
    if program.duration > _seconds(check, "Timeout", DEFAULT_TIMEOUT_S):
        return False, f"Health check exceeded timeout ({_seconds(check, 'Timeout', DEFAULT_TIMEOUT_S):g}s)"
    return program.exit_code == 0, output


def step_options(check: dict[str, Any] | None, context: Context) -> dict[str, Any] | None:
    """The scenario ``healthcheck`` of a create request's ``Healthcheck`` (None: no check)."""
    if check is None:
        return None
    if not isinstance(check, dict):
        raise ApiError(400, f"json: cannot unmarshal {type(check).__name__} into Go struct field "
                            "Config.Healthcheck of type container.HealthConfig")
    validate(check)
    if probe_argv(list(check.get("Test") or [])) is None:
        return None
    passes, _ = probe_passes(check, context)
    return {
        "interval": f"{_seconds(check, 'Interval', DEFAULT_INTERVAL_S)!r}s",
        "start_period": f"{_seconds(check, 'StartPeriod', 0.0)!r}s",
        "start_interval": f"{_seconds(check, 'StartInterval', DEFAULT_START_INTERVAL_S)!r}s",
        "retries": int(check.get("Retries") or DEFAULT_RETRIES),
        "time_to_healthy": "0s" if passes else "inf",
    }


def config_view(check: dict[str, Any] | None) -> dict[str, Any] | None:
    """``Config.Healthcheck`` as dockerd keeps it: the fields given (Go's omitempty drops zeros)."""
    if not check:
        return None
    return {key: value for key, value in check.items() if value}


@dataclass(frozen=True)
class Probe:
    """One probe: when it ran, whether it passed, the failing streak and the status after it."""

    at: float
    passed: bool
    streak: int
    status: str


def probes(check: dict[str, Any], passes: bool, started: float, now: float) -> list[Probe]:
    """Every probe of a run started at ``started`` up to ``now``, on the runtime's schedule
    (``health_timeline``): the start interval while starting inside the start period, else the interval; a
    failure inside the start period while starting does not count."""
    interval = _seconds(check, "Interval", DEFAULT_INTERVAL_S)
    start_interval = _seconds(check, "StartInterval", DEFAULT_START_INTERVAL_S)
    start_period = _seconds(check, "StartPeriod", 0.0)
    retries = int(check.get("Retries") or DEFAULT_RETRIES)
    done: list[Probe] = []
    t, streak, status = 0.0, 0, "starting"
    while True:
        starting = status == "starting"
        t += start_interval if (starting and t < start_period) else interval
        if started + t > now:
            return done
        if passes:
            streak, status = 0, "healthy"
        elif not (starting and t < start_period):
            streak += 1
            status = "unhealthy" if streak >= retries else status
        done.append(Probe(started + t, passes, streak, status))


def decided_at(check: dict[str, Any], passes: bool) -> tuple[float, str]:
    """After the start, when the status is decided and to what: the first probe when it passes, else the
    ``retries``-th failure that counts (the status never changes again: every probe does the same)."""
    horizon = 0.0
    while True:
        horizon += _seconds(check, "Interval", DEFAULT_INTERVAL_S) * (int(check.get("Retries") or 3) + 1)
        horizon += _seconds(check, "StartPeriod", 0.0)
        for probe in probes(check, passes, 0.0, horizon):
            if probe.status != "starting":
                return probe.at, probe.status


def state_view(engine: Engine, served: Served) -> dict[str, Any] | None:
    """``State.Health`` (None without a check): the runtime's status, the failing streak, the last probes."""
    check = served.config.get("Healthcheck")
    container = served.container
    if not check or probe_argv(list(check.get("Test") or [])) is None:
        return None
    started = container.started_at
    if started is None:
        return {"Status": "starting", "FailingStreak": 0, "Log": []}
    passes, output = probe_passes(check, engine.context(served))
    end = engine.clock() if container.state == RUNNING else (container.finished_at or started)
    done = probes(check, passes, started, end)
    log = [{"Start": engine.iso(p.at), "End": engine.iso(p.at), "ExitCode": 0 if p.passed else 1, "Output": output}
           for p in done[-MAX_LOG_ENTRIES:]]
    return {"Status": container.health_status or "starting", "FailingStreak": done[-1].streak if done else 0,
            "Log": log}


def watch(engine: Engine, served: Served) -> None:
    """The ``health_status: healthy|unhealthy`` event of the current run, when its status is decided."""
    check = served.config.get("Healthcheck")
    if check and probe_argv(list(check.get("Test") or [])) is not None:
        engine.env.process(_event(engine, served, check))


def _event(engine: Engine, served: Served, check: dict[str, Any]) -> Generator[Any, Any, None]:
    container = served.container
    started, exited = container.started_at, container.exited
    if started is None or exited is None or exited.triggered:
        return
    passes, _ = probe_passes(check, engine.context(served))
    offset, status = decided_at(check, passes)
    yield engine.env.any_of([engine.env.timeout(max(0.0, started + offset - engine.env.now)), exited])
    if not exited.triggered:
        engine.container_event(served, f"health_status: {status}")
